"""GMVAE on note spectrograms: pitch and timbre latents with mixture priors (Luo, Agres &
Herremans, ISMIR 2019; DIGEST.md §2).

Input: log-mel of a note's first 500 ms, ``frames`` (43) x ``mel`` (256) scaled to [-1, 1]
(``timbrel.mel``), time-major ``[B, frames, mel]`` as every graph here.

Graphs (family ``gmvae``), BatchNorm + ReLU after every layer but the Gaussian and output
layers as in the paper (the exporter folds each BatchNorm into the layer before it):

- ``pitch_encoder``, ``timbre_encoder``: Conv1d over time (``mel`` -> ``channels``, k 3)
  -> Conv1d (``channels`` -> ``channels/2``, k 3, stride 2) -> Flatten -> Linear ``dense``
  -> Linear 2 x latent (mean, log-variance); output ``[B, 1, 2 latent]``.
- ``decoder`` (the encoders mirrored): Linear 2 x latent ([z_pitch, z_timbre]) -> ``dense``
  -> Linear ``frames`` x ``seed`` -> Unflatten -> Conv1d (``seed`` -> ``channels``, k 3)
  -> Conv1d (``channels`` -> ``mel``, k 3) -> tanh; output ``[B, frames, mel]``.

Sizes differ from the paper's (512 filters, dense 512), which flatten 43 x 512 values into
a 512-unit layer: 11 M weights per encoder, 90 MB of float32 for the model. Here
``channels`` 128 and a strided second convolution give 1.5 M weights (6 MB) in all, which
the page downloads in a second and the AudioWorklet decodes in well under a render quantum
(models/gmvae/MODEL_CARD.md). The mixture priors (one component per pitch, sigma e^-2; one
per instrument, sigma e^0) are parameters here and metadata in the exported file.
"""

from __future__ import annotations

import math
from typing import Dict

import torch
from torch import nn

from .layers import Flatten, SequenceGraph, Unflatten

PITCH_LOG_SIGMA = -2.0   # sigma_yp = e^-2 (paper)
TIMBRE_LOG_SIGMA = 0.0   # sigma_yt = e^0


def _conv_frames(frames: int, stride: int) -> int:
    return (frames + 2 - 3) // stride + 1


def _encoder(mel: int, frames: int, channels: int, dense: int, latent: int) -> SequenceGraph:
    half = max(1, channels // 2)
    return SequenceGraph(
        nn.Conv1d(mel, channels, 3, padding=1), nn.BatchNorm1d(channels), nn.ReLU(),
        nn.Conv1d(channels, half, 3, stride=2, padding=1), nn.BatchNorm1d(half), nn.ReLU(),
        Flatten(_conv_frames(frames, 2)),
        nn.Linear(_conv_frames(frames, 2) * half, dense), nn.BatchNorm1d(dense), nn.ReLU(),
        nn.Linear(dense, 2 * latent))


def _decoder(mel: int, frames: int, channels: int, dense: int, latent: int, seed: int) -> SequenceGraph:
    return SequenceGraph(
        nn.Linear(2 * latent, dense), nn.BatchNorm1d(dense), nn.ReLU(),
        nn.Linear(dense, frames * seed), nn.BatchNorm1d(frames * seed), nn.ReLU(),
        Unflatten(frames),
        nn.Conv1d(seed, channels, 3, padding=1), nn.BatchNorm1d(channels), nn.ReLU(),
        nn.Conv1d(channels, mel, 3, padding=1), nn.Tanh())


class GMVAE(nn.Module):
    family = "gmvae"
    graph_names = ("pitch_encoder", "timbre_encoder", "decoder")

    def __init__(self, mel: int = 256, frames: int = 43, channels: int = 128, dense: int = 256,
                 latent: int = 16, pitches: int = 88, instruments: int = 12, seed: int = 32,
                 timbre_prior: str = "mixture"):
        super().__init__()
        if timbre_prior not in ("mixture", "isotropic"):
            raise ValueError(f"timbre_prior must be 'mixture' or 'isotropic', not {timbre_prior!r}")
        self.mel, self.frames, self.latent = mel, frames, latent
        self.timbre_prior = timbre_prior
        self.pitch_encoder = _encoder(mel, frames, channels, dense, latent)
        self.timbre_encoder = _encoder(mel, frames, channels, dense, latent)
        self.decoder = _decoder(mel, frames, channels, dense, latent, seed)
        # Xavier-initialised mixture means (paper L75).
        bound = math.sqrt(6.0 / (pitches + latent))
        self.pitch_means = nn.Parameter(torch.empty(pitches, latent).uniform_(-bound, bound))
        bound = math.sqrt(6.0 / (instruments + latent))
        self.timbre_means = nn.Parameter(torch.empty(instruments, latent).uniform_(-bound, bound))
        # The baseline M_VAE's auxiliary classifier z_t -> y_t (two 128-unit layers, L98).
        self.timbre_classifier = nn.Sequential(
            nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
            nn.Linear(128, instruments)) if timbre_prior == "isotropic" else None
        # Training only: a pitch classifier on z_timbre behind a gradient reversal
        # (timbrel.train.gmvae): without it z_timbre learned the pitch too (linear F 0.74 on
        # our notes; the paper's 0.03) and notes sampled from the priors came out unpitched.
        self.pitch_adversary = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(),
                                             nn.Linear(128, pitches))
        self.pitch_log_sigma = PITCH_LOG_SIGMA
        self.timbre_log_sigma = TIMBRE_LOG_SIGMA

    def graphs(self) -> Dict[str, SequenceGraph]:
        return {name: getattr(self, name) for name in self.graph_names}

    @classmethod
    def from_tmbl(cls, source) -> "GMVAE":
        """Loads an exported .tmbl back into PyTorch (eval mode): sizes from the tensors and
        the decoder's unflatten, weights from the core layout, mixture means from the
        metadata where it has them. The file holds every BatchNorm folded into the layer
        before it, so each BatchNorm here becomes an ``nn.Identity``: the module computes
        what the file does and exports back to the same bytes."""
        import numpy as np

        from timbrel.export.layout import conv1d_weight_to_torch
        from timbrel.tmbl import read_tmbl
        f = read_tmbl(source)
        if f.family != cls.family:
            raise ValueError(f"not a gmvae model (family {f.family!r})")
        t, meta = f.tensors, f.metadata

        def weights(graph: str):
            return [t[op["weight"]].shape for op in f.graphs[graph] if op["op"] in ("linear", "conv1d")]

        (_, channels, mel), _, (dense, _), (two_latent, _) = weights("pitch_encoder")
        _, (frames_seed, _), (_, _, seed), _ = weights("decoder")
        frames = next(op["frames"] for op in f.graphs["decoder"] if op["op"] == "unflatten")
        pitch_means, timbre_means = meta.get("pitch_means"), meta.get("timbre_means")
        model = cls(mel=mel, frames=frames, channels=channels, dense=dense, latent=two_latent // 2,
                    pitches=len(pitch_means or meta.get("pitches") or [None] * 88),
                    instruments=len(timbre_means or meta.get("instruments") or [None] * 12),
                    seed=seed)
        if frames * seed != frames_seed:
            raise ValueError(f"decoder: {frames_seed} values do not unflatten into {frames} frames")
        for graph in model.graphs().values():
            for i, m in enumerate(graph):
                if isinstance(m, nn.BatchNorm1d):
                    graph[i] = nn.Identity()
        state = model.state_dict()
        graph_keys = {k for k in state if k.split(".")[0] in cls.graph_names}
        if graph_keys != set(t):
            raise ValueError(f"tensors {sorted(set(t) ^ graph_keys)} do not fit the model")
        for name, a in t.items():
            a = conv1d_weight_to_torch(a) if a.ndim == 3 else np.array(a)
            if tuple(state[name].shape) != a.shape:
                raise ValueError(f"tensor {name} {a.shape} does not fit the model")
            state[name] = torch.from_numpy(a)
        for key, means in (("pitch_means", pitch_means), ("timbre_means", timbre_means)):
            if means is not None:
                state[key] = torch.tensor(means, dtype=torch.float32).reshape(state[key].shape)
        model.load_state_dict(state)
        model.eval()
        model.tmbl_metadata = meta
        return model

    def encode(self, mel: torch.Tensor):
        mu_p, logvar_p = self.pitch_encoder(mel).squeeze(1).chunk(2, dim=-1)
        mu_t, logvar_t = self.timbre_encoder(mel).squeeze(1).chunk(2, dim=-1)
        return mu_p, logvar_p, mu_t, logvar_t

    def decode(self, z_pitch: torch.Tensor, z_timbre: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.cat([z_pitch, z_timbre], dim=-1).unsqueeze(1))

    def timbre_logits(self, z_t: torch.Tensor) -> torch.Tensor:
        """log p(y_t | z_t) up to a constant: the mixture's component posterior (uniform
        p(y_t)), or the baseline's auxiliary classifier."""
        if self.timbre_classifier is not None:
            return self.timbre_classifier(z_t)
        d2 = ((z_t.unsqueeze(1) - self.timbre_means.unsqueeze(0)) ** 2).sum(-1)
        return -0.5 * d2 / math.exp(2 * self.timbre_log_sigma)

    def forward(self, mel: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``mel`` [B, frames, mel] -> reconstruction [B, frames, mel] and posteriors."""
        mu_p, logvar_p, mu_t, logvar_t = self.encode(mel)
        if self.training:
            z_p = mu_p + torch.randn_like(mu_p) * torch.exp(0.5 * logvar_p)
            z_t = mu_t + torch.randn_like(mu_t) * torch.exp(0.5 * logvar_t)
        else:
            z_p, z_t = mu_p, mu_t
        return {"reconstruction": self.decode(z_p, z_t),
                "mu_pitch": mu_p, "logvar_pitch": logvar_p, "mu_timbre": mu_t,
                "logvar_timbre": logvar_t, "z_pitch": z_p, "z_timbre": z_t}
