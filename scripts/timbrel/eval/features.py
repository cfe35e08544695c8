"""Classifier input features, computed in torch (runs under PyTorch 1.13 and 2.x).

Log-mel spectrogram: periodic Hann window of N_FFT = 1024 samples, hop 256,
frames [t hop, t hop + 1024) without padding (the core's framing), the core's
power P[k] = c_k |X[k]|^2 / (N sum w^2) (sum_k P = mean square), 64 triangular mel bands (HTK mel scale, 30 Hz - 11025 Hz,
unit peak), 10 log10(mel + 1e-10).

A classifier frame is FRAME = 4096 samples (as in the VQ paper); frame m
covers samples [m FRAME_HOP, m FRAME_HOP + 4096) and is represented by the
SUBFRAMES = 13 log-mel columns t = 8m .. 8m + 12, which tile exactly those
samples. FRAME_HOP = 2048 for evaluation (training draws any start t).
A frame is *silent* when the rms of its 4096 raw samples is below
SILENCE_DB = -60 dBFS; silent frames are left out of training and scoring.
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 256
N_MELS = 64
F_MIN = 30.0
F_MAX = 11025.0
FRAME = 4096
FRAME_HOP = 2048
SUBFRAMES = 1 + (FRAME - N_FFT) // HOP          # 13
SUBFRAME_STRIDE = FRAME_HOP // HOP              # 8
SILENCE_DB = -60.0
LOG_EPS = 1e-10


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
                   f_min: float = F_MIN, f_max: float = F_MAX) -> np.ndarray:
    """[n_mels, n_fft//2 + 1] triangular filters with unit peaks."""
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    edges = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / (mid - lo)
        down = (hi - freqs) / (hi - mid)
        fb[i] = np.maximum(0.0, np.minimum(up, down))
    return fb


_FB: dict = {}


def _constants(device, dtype):
    key = (str(device), dtype)
    if key not in _FB:
        n = torch.arange(N_FFT, dtype=torch.float64)
        w = 0.5 - 0.5 * torch.cos(2 * np.pi * n / N_FFT)
        c = torch.full((N_FFT // 2 + 1, 1), 2.0, dtype=torch.float64)
        c[0] = c[-1] = 1.0                     # P[k] = c_k |X[k]|^2 / (N sum w^2), as the core
        fb = c * torch.from_numpy(mel_filterbank()).T / (N_FFT * float(torch.sum(w * w)))
        _FB[key] = (w.to(device=device, dtype=dtype), fb.to(device=device, dtype=dtype))
    return _FB[key]


def log_mel(x) -> torch.Tensor:
    """[..., samples] -> [..., T, N_MELS] in dB; T = 1 + (samples - 1024) // 256."""
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.shape[-1] < N_FFT:
        return x.new_zeros(x.shape[:-1] + (0, N_MELS))
    w, fb = _constants(x.device, x.dtype)
    frames = x.unfold(-1, N_FFT, HOP) * w
    spec = torch.fft.rfft(frames, dim=-1)
    power = spec.real ** 2 + spec.imag ** 2
    return 10.0 * torch.log10(power @ fb + LOG_EPS)


def frame_count(samples: int) -> int:
    return 0 if samples < FRAME else 1 + (samples - FRAME) // FRAME_HOP


def frame_rms_db(x: np.ndarray, starts: np.ndarray, length: int = FRAME) -> np.ndarray:
    """rms in dBFS of x[s : s + length] for each start s (via a cumulative sum)."""
    x = np.asarray(x, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.asarray(starts, dtype=np.int64)
    energy = (c[starts + length] - c[starts]) / length
    return 10.0 * np.log10(np.maximum(energy, 0.0) + 1e-12)


def frames(x: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """Evaluation frames of a signal: ([F, 13, 64] log-mel patches, [F] non-silent mask)."""
    x = np.asarray(x, dtype=np.float32)
    n = frame_count(len(x))
    if n == 0:
        return torch.zeros((0, SUBFRAMES, N_MELS)), np.zeros(0, dtype=bool)
    lm = log_mel(torch.from_numpy(x))
    idx = torch.arange(n)[:, None] * SUBFRAME_STRIDE + torch.arange(SUBFRAMES)[None, :]
    patches = lm[idx]
    loud = frame_rms_db(x, np.arange(n) * FRAME_HOP) >= SILENCE_DB
    return patches, loud
