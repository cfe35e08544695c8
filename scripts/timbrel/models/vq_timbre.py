"""VQ timbre model (one per instrument): log-magnitude frames -> codes -> filter x gain.

Graphs (names fixed by the loader for family ``vq_timbre``):

- ``encoder``: log-magnitude frame (``bins``, 513 for window 1024) -> Linear
  ``encoder_hidden`` -> LeakyReLU(0.2) -> Linear ``encoder_hidden`` ->
  LeakyReLU(0.2) -> Linear ``latent``
- ``quantizer``: ``vq`` over a ``codes`` x ``latent`` codebook
- ``decoder``: Linear ``latent`` -> ``hidden`` -> LeakyReLU(0.2) -> GRU ``hidden``
- ``filter``: Linear ``hidden`` -> ``bins`` -> Sigmoid (noise filter magnitudes)
- ``gain``: Linear ``hidden`` -> 1 -> Softplus (scalar gain)

Every graph is pointwise in time except the GRU, so the whole model streams
one hop at a time.
"""

from __future__ import annotations

from typing import Dict

import torch
from torch import nn

from .layers import SequenceGraph, VectorQuantizer


class VQTimbre(nn.Module):
    family = "vq_timbre"
    graph_names = ("encoder", "quantizer", "decoder", "filter", "gain")

    def __init__(self, bins: int = 513, encoder_hidden: int = 256, latent: int = 64,
                 codes: int = 512, hidden: int = 384, slope: float = 0.2,
                 ema_decay: float | None = 0.99):
        super().__init__()
        self.bins, self.latent, self.codes, self.hidden = bins, latent, codes, hidden
        self.encoder = SequenceGraph(
            nn.Linear(bins, encoder_hidden), nn.LeakyReLU(slope),
            nn.Linear(encoder_hidden, encoder_hidden), nn.LeakyReLU(slope),
            nn.Linear(encoder_hidden, latent))
        self.quantizer = SequenceGraph(VectorQuantizer(codes, latent, ema_decay=ema_decay))
        self.decoder = SequenceGraph(
            nn.Linear(latent, hidden), nn.LeakyReLU(slope),
            nn.GRU(hidden, hidden, batch_first=True))
        self.filter = SequenceGraph(nn.Linear(hidden, bins), nn.Sigmoid())
        self.gain = SequenceGraph(nn.Linear(hidden, 1), nn.Softplus())

    def graphs(self) -> Dict[str, SequenceGraph]:
        return {name: getattr(self, name) for name in self.graph_names}

    def forward(self, log_magnitude: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``log_magnitude`` [B, T, bins] -> filter [B, T, bins], gain [B, T, 1], ..."""
        z = self.encoder(log_magnitude)
        q = self.quantizer(z)
        h = self.decoder(q)
        vq = self.quantizer[0]
        return {"filter": self.filter(h), "gain": self.gain(h), "z": z, "q": q,
                "indices": vq.indices, "vq_loss": vq.loss}
