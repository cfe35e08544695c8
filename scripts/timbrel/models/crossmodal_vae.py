"""Cross-modal VAE: constant-Q frames <-> symbols (pitch class, octave, dynamics).

Graphs (family ``crossmodal_vae``):

- ``signal_encoder``: ``bins`` -> ``signal_hidden`` -> ``signal_hidden`` -> 2 x latent
  (mean, log-variance)
- ``signal_decoder``: latent -> ``signal_hidden`` -> ``signal_hidden`` -> ``bins``
- ``symbol_encoder``: one-hot (12 pitch classes + octaves + 3 dynamics, one such triplet
  per instrument of a mixture model, concatenated) -> ``symbol_hidden`` ->
  ``symbol_hidden`` -> 2 x latent
- ``symbol_decoder``: latent -> ``symbol_hidden`` -> ``symbol_hidden`` -> logits
  (same layout as the one-hot input: softmax per group)

Shipped models use 9 octaves (0..8, octave = midi // 12 - 1), so a triplet is 24 wide.

The hidden activation is ELU by default (``activation="relu"`` for ReLU).
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import torch
from torch import nn

from .layers import SequenceGraph

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
DYNAMICS = ("pp", "mf", "ff")


def symbol_labels(octaves: Sequence[int]) -> List[str]:
    """Names of the one-hot symbol entries, in input order."""
    return list(PITCH_CLASSES) + [f"octave {o}" for o in octaves] + list(DYNAMICS)


def _mlp(sizes: Sequence[int], activation: str) -> SequenceGraph:
    act = {"elu": nn.ELU, "relu": nn.ReLU}[activation]
    layers: List[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return SequenceGraph(*layers)


class CrossmodalVAE(nn.Module):
    family = "crossmodal_vae"
    graph_names = ("signal_encoder", "signal_decoder", "symbol_encoder", "symbol_decoder")

    def __init__(self, bins: int = 409, octaves: int = 9, latent: int = 32,
                 signal_hidden: int = 2000, symbol_hidden: int = 800, activation: str = "elu",
                 instruments: int = 1):
        super().__init__()
        self.bins, self.latent, self.instruments = bins, latent, instruments
        self.groups = (12, octaves, len(DYNAMICS)) * instruments
        symbols = sum(self.groups)
        self.symbols = symbols
        self.signal_encoder = _mlp([bins, signal_hidden, signal_hidden, 2 * latent], activation)
        self.signal_decoder = _mlp([latent, signal_hidden, signal_hidden, bins], activation)
        self.symbol_encoder = _mlp([symbols, symbol_hidden, symbol_hidden, 2 * latent], activation)
        self.symbol_decoder = _mlp([latent, symbol_hidden, symbol_hidden, symbols], activation)

    def graphs(self) -> Dict[str, SequenceGraph]:
        return {name: getattr(self, name) for name in self.graph_names}

    def split_logits(self, logits: torch.Tensor) -> List[torch.Tensor]:
        return list(torch.split(logits, list(self.groups), dim=-1))

    def forward(self, signal: torch.Tensor, symbols: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``signal`` [B, T, bins], ``symbols`` [B, T, S] one-hot -> reconstructions, posteriors."""
        mu_x, logvar_x = self.signal_encoder(signal).chunk(2, dim=-1)
        mu_y, logvar_y = self.symbol_encoder(symbols).chunk(2, dim=-1)
        z_x = mu_x + torch.randn_like(mu_x) * torch.exp(0.5 * logvar_x) if self.training else mu_x
        z_y = mu_y + torch.randn_like(mu_y) * torch.exp(0.5 * logvar_y) if self.training else mu_y
        return {"signal": self.signal_decoder(z_x), "symbol_logits": self.symbol_decoder(z_y),
                "signal_from_symbol": self.signal_decoder(z_y),
                "symbol_from_signal": self.symbol_decoder(z_x),
                "mu_x": mu_x, "logvar_x": logvar_x, "mu_y": mu_y, "logvar_y": logvar_y}

    @classmethod
    def from_tmbl(cls, source) -> "CrossmodalVAE":
        """Loads an exported .tmbl back into PyTorch (eval mode): sizes from the tensors and
        metadata, weights as stored (the core's linear layout is PyTorch's)."""
        import numpy as np

        from timbrel.tmbl import read_tmbl
        f = read_tmbl(source)
        if f.family != cls.family:
            raise ValueError(f"not a crossmodal_vae model (family {f.family!r})")
        t = f.tensors
        instruments = len(f.metadata.get("instruments", [None]))
        model = cls(bins=t["signal_encoder.0.weight"].shape[1],
                    octaves=len(f.metadata.get("octaves", range(9))),
                    latent=t["signal_decoder.0.weight"].shape[1],
                    signal_hidden=t["signal_encoder.0.weight"].shape[0],
                    symbol_hidden=t["symbol_encoder.0.weight"].shape[0],
                    activation=f.graphs["signal_encoder"][1]["op"], instruments=instruments)
        state = model.state_dict()
        for name, a in t.items():
            if name not in state or tuple(state[name].shape) != a.shape:
                raise ValueError(f"tensor {name} {a.shape} does not fit the model")
            state[name] = torch.from_numpy(np.array(a))
        model.load_state_dict(state)
        model.eval()
        return model
