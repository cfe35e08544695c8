"""Building blocks shared by the model families, in the form the exporter walks.

Every model is a set of named *sequence graphs* (``SequenceGraph``): an ordered
list of modules applied to a batch-first, time-major sequence ``[B, T, C]``,
exactly as the core's sequential graphs apply ops to ``[T, C]``
(models/README.md). ``SequenceGraph.forward`` is the PyTorch reference of a
graph; ``timbrel.export.graph`` turns the same modules into ``.tmbl`` ops and
``timbrel.export.onnx_export`` into ONNX.

Supported modules (anything else is refused by the exporter): ``nn.Linear``,
``nn.Conv1d`` (groups 1, zero padding; ``Pad1d``/``CausalPad`` before it for
asymmetric padding), ``nn.GRU`` (one layer, unidirectional, batch_first),
``nn.LayerNorm`` (over the last dimension), ``nn.ReLU``, ``nn.LeakyReLU``,
``nn.ELU``, ``nn.Tanh``, ``nn.Sigmoid``, ``nn.Softplus``, and the small modules
below: ``Log1p``, ``VectorQuantizer``, ``Flatten``, ``Unflatten``, ``Pad1d``/``CausalPad``;
``nn.BatchNorm1d`` directly after an ``nn.Linear`` or ``nn.Conv1d`` (folded into it on export).
``nn.Identity`` and ``nn.Dropout`` are no-ops at inference and are skipped.

``Residual`` (``y = x + body(x)``, the body a list of frame-wise modules above: Linear,
LayerNorm, activations, with equal input and output width) is exported as op 'residual',
which the core, the page's reader and ``timbrel.tmbl`` load (models/README.md); the
``grains`` family (docs/grains.md) uses it.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class Log1p(nn.Module):
    """``torch.log1p`` as a module (op ``log1p``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x)


class Pad1d(nn.Module):
    """Zero padding of the time axis of a ``[B, T, C]`` sequence.

    Only allowed directly before an ``nn.Conv1d``: the exporter folds it into
    that convolution's ``padding_left``/``padding_right``.
    """

    def __init__(self, left: int, right: int = 0):
        super().__init__()
        if left < 0 or right < 0:
            raise ValueError("Pad1d paddings must be >= 0")
        self.left = int(left)
        self.right = int(right)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, 0, self.left, self.right))

    def extra_repr(self) -> str:
        return f"left={self.left}, right={self.right}"


class CausalPad(Pad1d):
    """Left-only padding: the following convolution streams (README: causal)."""

    def __init__(self, left: int):
        super().__init__(left, 0)


class Flatten(nn.Module):
    """``[B, T, C]`` -> ``[B, 1, T*C]`` (row-major, time outer). Offline only.

    ``frames`` (optional) documents the expected T; it is written to the op so
    the loader need not infer it from the next op.
    """

    def __init__(self, frames: Optional[int] = None):
        super().__init__()
        self.frames = None if frames is None else int(frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frames is not None and not torch.jit.is_tracing() and x.shape[1] != self.frames:
            raise ValueError(f"Flatten expects {self.frames} frames, got {x.shape[1]}")
        return x.reshape(x.shape[0], 1, -1)

    def extra_repr(self) -> str:
        return f"frames={self.frames}"


class Unflatten(nn.Module):
    """``[B, 1, T*C]`` -> ``[B, T, C]`` (row-major, time outer): the inverse of ``Flatten``,
    so a dense layer can feed a convolution over time (the GMVAE's decoder). Offline only."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = int(frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 1 or x.shape[2] % self.frames:
            raise ValueError(f"Unflatten({self.frames}) needs [B, 1, {self.frames} x C], got {list(x.shape)}")
        return x.reshape(x.shape[0], self.frames, -1)

    def extra_repr(self) -> str:
        return f"frames={self.frames}"


def nearest_code(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest code by squared Euclidean distance, ties -> lowest.

    Distances are formed as sum((x - e)^2), the same arithmetic as the core
    (not the expanded |x|^2 - 2 x.e + |e|^2, which turns exact ties into
    rounding noise); torch.argmin returns the first minimum.
    """
    diff = x.unsqueeze(-2) - codebook  # [..., K, D]
    return torch.argmin((diff * diff).sum(-1), dim=-1)


def nearest_code_fast(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """As ``nearest_code`` through |e|^2 - 2 x.e (one matrix product); for training only,
    where a rounding-level tie going either way does not matter."""
    scores = (codebook * codebook).sum(-1) - 2.0 * x @ codebook.t()
    return torch.argmin(scores, dim=-1)


class VectorQuantizer(nn.Module):
    """Nearest-code quantiser (op ``vq``) with optional EMA codebook updates.

    Inference (and the exported op) outputs the nearest code vector. In
    training mode the output is the straight-through estimate
    ``x + (q - x).detach()``; ``self.loss`` holds the commitment loss
    (plus the codebook loss when the codebook is a parameter, ``ema_decay=None``),
    ``self.indices`` the chosen codes. With EMA, codes unused for a while are
    restarted from random inputs of the batch (dead-code restarts): by default
    when their EMA count falls under ``dead_threshold``; with ``restart_after=n``
    also when no input chose them for ``n`` training steps. The count threshold
    alone takes ~700 steps at decay 0.99 to notice a dead code, far too slow for
    a short CPU training, and ``restart_after`` also replaces the random initial
    codebook by encoder outputs on the first step (every code starts "unused"),
    which is what keeps a VQ from collapsing onto a few codes.

    Training steps also set ``self.perplexity`` (exp of the entropy of the
    batch's code histogram) and ``self.usage`` (share of codes chosen by at
    least one input in the batch), both as floats.
    """

    def __init__(self, codes: int, dim: int, ema_decay: Optional[float] = 0.99,
                 commitment: float = 0.25, dead_threshold: float = 1e-3, eps: float = 1e-5,
                 restart_after: Optional[int] = None):
        super().__init__()
        self.codes = int(codes)
        self.dim = int(dim)
        self.ema_decay = ema_decay
        self.commitment = commitment
        self.dead_threshold = dead_threshold
        self.eps = eps
        self.restart_after = None if restart_after is None else int(restart_after)
        init = torch.randn(codes, dim)
        if ema_decay is None:
            self.codebook = nn.Parameter(init)
        else:
            self.register_buffer("codebook", init)
            self.register_buffer("cluster_size", torch.ones(codes))
            self.register_buffer("embed_sum", init.clone())
            if self.restart_after is not None:
                # Steps since each code was last chosen; starts "dead" (data init).
                self.register_buffer("age", torch.full((codes,), float(self.restart_after)))
        self.loss = torch.zeros(())
        self.indices: Optional[torch.Tensor] = None
        self.perplexity = float("nan")
        self.usage = float("nan")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:  # speed over exact ties: the [.., K, D] difference costs 10x more
            indices = nearest_code_fast(x.detach(), self.codebook.detach())
        else:
            indices = nearest_code(x, self.codebook)
        q = F.embedding(indices, self.codebook)
        self.indices = indices
        if not self.training:
            return q
        flat = x.reshape(-1, self.dim)
        with torch.no_grad():
            counts = torch.bincount(indices.reshape(-1), minlength=self.codes).to(flat.dtype)
            p = counts / counts.sum().clamp_min(1)
            self.perplexity = float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))
            self.usage = float((counts > 0).to(flat.dtype).mean())
        if self.ema_decay is None:
            self.loss = F.mse_loss(q, x.detach()) + self.commitment * F.mse_loss(x, q.detach())
        else:
            self._ema_update(flat.detach(), indices.reshape(-1))
            self.loss = self.commitment * F.mse_loss(x, q.detach())
        return x + (q - x).detach()

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        onehot = F.one_hot(indices, self.codes).type(flat.dtype)
        d = self.ema_decay
        counts = onehot.sum(0)
        self.cluster_size.mul_(d).add_(counts, alpha=1 - d)
        self.embed_sum.mul_(d).add_(onehot.t() @ flat, alpha=1 - d)
        n = self.cluster_size.sum()
        size = (self.cluster_size + self.eps) / (n + self.codes * self.eps) * n
        self.codebook.copy_(self.embed_sum / size.unsqueeze(1))
        dead = self.cluster_size < self.dead_threshold
        if self.restart_after is not None:
            fresh = bool((self.age >= self.restart_after).all())  # first step: data init of all
            self.age.add_(1.0).masked_fill_(counts > 0, 0.0)
            dead = dead | (self.age >= self.restart_after)
            if fresh:
                dead = torch.ones_like(dead)
        if dead.any() and flat.shape[0] > 0:
            picks = torch.randint(0, flat.shape[0], (int(dead.sum()),), device=flat.device)
            self.codebook[dead] = flat[picks]
            self.embed_sum[dead] = flat[picks]
            self.cluster_size[dead] = 1.0
            if self.restart_after is not None:
                self.age[dead] = 0.0

    def extra_repr(self) -> str:
        return (f"codes={self.codes}, dim={self.dim}, ema_decay={self.ema_decay}, "
                f"restart_after={self.restart_after}")


SKIPPED = (nn.Identity, nn.Dropout)

# Modules a Residual body may hold: frame-wise (pointwise in time), no state.
_RESIDUAL_BODY = (nn.Linear, nn.LayerNorm, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid,
                  nn.Softplus, Log1p, nn.Identity, nn.Dropout)


class Residual(nn.Module):
    """``y = x + body(x)`` over ``[B, T, C]``; exported as op 'residual',
    ``{"op": "residual", "ops": [<the body's ops>]}``, which the core runs (``nn::Residual``:
    streams as its body does, without allocating) and its loader checks (models/README.md).

    ``body``: frame-wise modules from the supported list (``nn.Linear``, ``nn.LayerNorm``,
    activations, ``Log1p``; no convolution, GRU, flatten or nested residual) whose first
    ``nn.Linear`` takes as many channels as the last gives, so the sum is defined. A linear
    layer over ``[B, T, C]`` is a 1x1 convolution over time, so a residual block after a
    strided ``nn.Conv1d`` is the usual pointwise residual convolution. Its tensors are
    named ``<graph>.<index>.body.<j>.<param>``.
    """

    def __init__(self, *body: nn.Module):
        super().__init__()
        if not body:
            raise ValueError("Residual needs at least one module")
        widths = []
        for m in body:
            if not isinstance(m, _RESIDUAL_BODY):
                raise TypeError(f"Residual body: {type(m).__name__} is not allowed (frame-wise "
                                "ops only: Linear, LayerNorm, activations)")
            if isinstance(m, nn.Linear):
                widths.append((m.in_features, m.out_features))
        if widths and widths[0][0] != widths[-1][1]:
            raise ValueError(f"Residual body maps {widths[0][0]} to {widths[-1][1]} channels; "
                             "they must be equal")
        self.body = nn.ModuleList(body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for m in self.body:
            if isinstance(m, SKIPPED):
                continue
            y, _ = apply_module(m, y)
        return x + y


def apply_module(module: nn.Module, x: torch.Tensor, state: Optional[torch.Tensor] = None):
    """Applies one graph module to ``[B, T, C]``; returns (y, new_state or None)."""
    if isinstance(module, (nn.Conv1d, nn.BatchNorm1d)):  # both want [B, C, T]
        return module(x.transpose(1, 2)).transpose(1, 2), None
    if isinstance(module, nn.GRU):
        y, h = module(x, state)
        return y, h
    if isinstance(module, nn.Sequential):
        raise TypeError("nested nn.Sequential: flatten it into the SequenceGraph")
    return module(x), None


class SequenceGraph(nn.Sequential):
    """An ``nn.Sequential`` over ``[B, T, C]`` sequences (time-major, batch first).

    ``forward(x)`` runs from a zero GRU state. ``forward(x, state)`` with a
    ``[1, B, H]`` state (graphs with exactly one GRU) returns ``(y, state_out)``.
    """

    def forward(self, x: torch.Tensor, state: Optional[torch.Tensor] = None):  # type: ignore[override]
        want_state = state is not None
        new_state = None
        for module in self:
            if isinstance(module, SKIPPED):
                continue
            x, h = apply_module(module, x, state if isinstance(module, nn.GRU) else None)
            if h is not None:
                new_state = h
        return (x, new_state) if want_state else x

    def gru(self) -> Optional[nn.GRU]:
        grus = [m for m in self if isinstance(m, nn.GRU)]
        return grus[0] if len(grus) == 1 else None
