"""The ONE place that converts PyTorch weight layouts to the core's (models/README.md).

| op         | PyTorch                         | core                       |
|------------|---------------------------------|----------------------------|
| linear     | weight [out, in], bias [out]    | same                       |
| conv1d     | weight [out, in, kernel]        | weight [kernel, out, in]   |
| gru        | weight_ih_l0 [3H, I], weight_hh_l0 [3H, H], biases [3H], gates r, z, n | same, same gate order |
| layer_norm | weight [C], bias [C]            | same                       |
| vq         | codebook [K, D]                 | same                       |

``nn.BatchNorm1d`` has no op: ``fold_batch_norm`` folds its eval-mode (running)
statistics into the linear or conv1d before it, in PyTorch's layout.

Everything leaves here as a C-contiguous little-endian float32 array.
"""

from __future__ import annotations

import numpy as np

F32 = np.dtype("<f4")


def to_array(t) -> np.ndarray:
    """Tensor or array -> C-contiguous little-endian float32 numpy array (a copy)."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.array(t, dtype=F32, order="C", copy=True)


def linear_weight(w) -> np.ndarray:
    """nn.Linear weight [out, in] -> core [out, in] (unchanged)."""
    a = to_array(w)
    if a.ndim != 2:
        raise ValueError(f"linear weight must be 2-D, got shape {a.shape}")
    return a


def conv1d_weight(w) -> np.ndarray:
    """nn.Conv1d weight [out, in, kernel] -> core [kernel, out, in]."""
    a = to_array(w)
    if a.ndim != 3:
        raise ValueError(f"conv1d weight must be 3-D [out, in, kernel], got shape {a.shape}")
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def conv1d_weight_to_torch(w: np.ndarray) -> np.ndarray:
    """Inverse of conv1d_weight: core [kernel, out, in] -> PyTorch [out, in, kernel]."""
    return np.ascontiguousarray(np.asarray(w, dtype=F32).transpose(1, 2, 0))


def gru_weight(w) -> np.ndarray:
    """nn.GRU weight_ih_l0 [3H, I] / weight_hh_l0 [3H, H], gates r, z, n -> unchanged."""
    a = to_array(w)
    if a.ndim != 2 or a.shape[0] % 3:
        raise ValueError(f"gru weight must be [3H, N], got shape {a.shape}")
    return a


def vector(v) -> np.ndarray:
    """Biases, LayerNorm weight/bias: [N] unchanged."""
    a = to_array(v)
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D tensor, got shape {a.shape}")
    return a


def codebook(c) -> np.ndarray:
    """VQ codebook [K, D] unchanged."""
    a = to_array(c)
    if a.ndim != 2:
        raise ValueError(f"codebook must be [K, D], got shape {a.shape}")
    return a


def fold_batch_norm(weight, bias, running_mean, running_var, gamma, beta, eps: float):
    """An ``nn.Linear`` / ``nn.Conv1d`` followed by an eval-mode ``nn.BatchNorm1d`` -> one
    layer: ``W' = W s``, ``b' = (b - mean) s + beta`` with ``s = gamma / sqrt(var + eps)``
    per output channel (PyTorch layout in and out: the output channel is axis 0).

    ``bias``, ``gamma``, ``beta`` may be None (no bias; BatchNorm without affine). Computed
    in float64 and rounded once to float32.
    """
    w = np.asarray(to_array(weight), dtype=np.float64)
    out = w.shape[0]

    def per_channel(v, fallback: float) -> np.ndarray:
        if v is None:
            return np.full(out, fallback)
        a = np.asarray(to_array(v), dtype=np.float64)
        if a.shape != (out,):
            raise ValueError(f"batch norm over {a.shape} channels after a layer of {out} outputs")
        return a

    if running_mean is None or running_var is None:
        raise ValueError("batch norm without running statistics cannot be folded")
    scale = per_channel(gamma, 1.0) / np.sqrt(per_channel(running_var, 0.0) + float(eps))
    folded_bias = (per_channel(bias, 0.0) - per_channel(running_mean, 0.0)) * scale + per_channel(beta, 0.0)
    folded_weight = w * scale.reshape((out,) + (1,) * (w.ndim - 1))
    return (np.ascontiguousarray(folded_weight, dtype=F32),
            np.ascontiguousarray(folded_bias, dtype=F32))
