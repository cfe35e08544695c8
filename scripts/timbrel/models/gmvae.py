"""GMVAE on note spectrograms: pitch and timbre latents with mixture priors.

Input: log-mel of the first 500 ms, ``frames`` (43) x ``mel`` (256) scaled to
[-1, 1], time-major ``[B, frames, mel]``.

Graphs (family ``gmvae``):

- ``pitch_encoder``, ``timbre_encoder``: Conv1d over time (``mel`` -> ``channels``,
  kernel 3, padding 1) -> ReLU -> Conv1d (``channels`` -> ``channels``, kernel 3,
  padding 1) -> ReLU -> Flatten (frames x channels) -> Linear ``dense`` -> ReLU
  -> Linear 2 x latent (mean, log-variance); output ``[B, 1, 2 latent]``
- ``decoder``: Linear 2 x latent (z_pitch, z_timbre) -> ``dense`` -> ReLU ->
  Linear frames x mel; output ``[B, 1, frames * mel]`` (reshape to frames x mel)

The mixture priors (one component per pitch, sigma e^-2; one per instrument,
sigma e^0) are parameters of this module, not graphs: inference does not need
them.
"""

from __future__ import annotations

from typing import Dict

import torch
from torch import nn

from .layers import Flatten, SequenceGraph


def _encoder(mel: int, frames: int, channels: int, dense: int, latent: int) -> SequenceGraph:
    return SequenceGraph(
        nn.Conv1d(mel, channels, 3, padding=1), nn.ReLU(),
        nn.Conv1d(channels, channels, 3, padding=1), nn.ReLU(),
        Flatten(frames),
        nn.Linear(frames * channels, dense), nn.ReLU(),
        nn.Linear(dense, 2 * latent))


class GMVAE(nn.Module):
    family = "gmvae"
    graph_names = ("pitch_encoder", "timbre_encoder", "decoder")

    def __init__(self, mel: int = 256, frames: int = 43, channels: int = 512, dense: int = 512,
                 latent: int = 16, pitches: int = 88, instruments: int = 14):
        super().__init__()
        self.mel, self.frames, self.latent = mel, frames, latent
        self.pitch_encoder = _encoder(mel, frames, channels, dense, latent)
        self.timbre_encoder = _encoder(mel, frames, channels, dense, latent)
        self.decoder = SequenceGraph(
            nn.Linear(2 * latent, dense), nn.ReLU(), nn.Linear(dense, frames * mel))
        self.pitch_means = nn.Parameter(torch.randn(pitches, latent))
        self.timbre_means = nn.Parameter(torch.randn(instruments, latent))
        self.pitch_log_sigma = -2.0  # sigma = e^-2
        self.timbre_log_sigma = 0.0  # sigma = e^0

    def graphs(self) -> Dict[str, SequenceGraph]:
        return {name: getattr(self, name) for name in self.graph_names}

    def forward(self, mel: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``mel`` [B, frames, mel] -> reconstruction [B, frames, mel] and posteriors."""
        mu_p, logvar_p = self.pitch_encoder(mel).squeeze(1).chunk(2, dim=-1)
        mu_t, logvar_t = self.timbre_encoder(mel).squeeze(1).chunk(2, dim=-1)
        if self.training:
            z_p = mu_p + torch.randn_like(mu_p) * torch.exp(0.5 * logvar_p)
            z_t = mu_t + torch.randn_like(mu_t) * torch.exp(0.5 * logvar_t)
        else:
            z_p, z_t = mu_p, mu_t
        out = self.decoder(torch.cat([z_p, z_t], dim=-1).unsqueeze(1))
        return {"reconstruction": out.reshape(-1, self.frames, self.mel),
                "mu_pitch": mu_p, "logvar_pitch": logvar_p, "mu_timbre": mu_t,
                "logvar_timbre": logvar_t, "z_pitch": z_p, "z_timbre": z_t}
