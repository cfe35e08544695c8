"""The constant-Q front end of the cross-modal VAE: the contract shared with the core.

The core implements the same transform in ``core/include/timbrel/dsp/cqt.h``; a golden
file written from this module (``timbrel.golden.cqt``) and a Catch2 test keep the two
equal. Everything here is float64 numpy, plus a float32 torch path for training on the
fly (mixtures).

Why a constant-Q *filterbank on an STFT* and not a true CQT: the authors' settings
(48 bins per octave from 30 Hz) need a 2.3 s window at the lowest bin for a true
constant-Q resolution, which no real-time path can afford. We take one STFT (window
2048 = 93 ms, hop 256 = 11.6 ms, the core's periodic Hann) and pool its magnitudes onto
409 log-spaced bins 30 Hz * 2^(k/48), k = 0..408 (30-10861 Hz, 48 per octave, under the
11000 Hz ceiling). Above ~520 Hz each bin averages the FFT bins under a triangle as wide
as its constant-Q spacing; below, where the spacing is finer than the FFT's 10.8 Hz, the
triangle is widened to one FFT bin, i.e. linear interpolation of the magnitude spectrum.
The bins stay log-spaced everywhere, so a pitch shift is a shift along the bin axis.

Frames: the core's ``dsp::stft`` alignment: frame m covers input samples
[m hop - (window - hop), m hop + hop), zeros outside; ceil(length / hop) frames.

Magnitudes are scaled by 2 / sum(w), so a full-band sine of amplitude a peaks near a.
Features are ``log1p(cqt_magnitude / LOG_FLOOR)``: 0 for silence, about 8 for a sine of
amplitude 0.3; a decoded feature f maps back with ``LOG_FLOOR * expm1(max(f, 0))``.

Back to audio: ``stft_magnitude_from_cqt`` spreads each CQT bin back over the FFT bins
its row reads (the transpose of the pooling, normalised per FFT bin), and a phase
reconstruction (Griffin-Lim offline, RTPGHI live; in the core) turns that STFT
magnitude into samples.
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 22050
WINDOW = 2048
HOP = 256
BINS_PER_OCTAVE = 48
F_MIN = 30.0
F_MAX = 11000.0
LOG_FLOOR = 1e-4
N_BINS = int(math.floor(BINS_PER_OCTAVE * math.log2(F_MAX / F_MIN))) + 1  # 409
FFT_BINS = WINDOW // 2 + 1


def bin_frequencies() -> np.ndarray:
    """Centre frequency of every constant-Q bin, Hz: F_MIN * 2^(k / 48)."""
    return F_MIN * 2.0 ** (np.arange(N_BINS, dtype=np.float64) / BINS_PER_OCTAVE)


def pooling_matrix() -> np.ndarray:
    """W [N_BINS, FFT_BINS]: cqt = W @ stft_magnitude; every row sums to 1.

    Row k is a triangle centred on f_k with half-width
    h_k = max(f_k (2^(1/48) - 1), sr / window), evaluated at the FFT bin frequencies.
    """
    fk = bin_frequencies()[:, None]
    fj = np.arange(FFT_BINS, dtype=np.float64)[None, :] * SAMPLE_RATE / WINDOW
    half = np.maximum(fk * (2.0 ** (1.0 / BINS_PER_OCTAVE) - 1.0), SAMPLE_RATE / WINDOW)
    w = np.maximum(0.0, 1.0 - np.abs(fj - fk) / half)
    return w / w.sum(axis=1, keepdims=True)


def hann(n: int = WINDOW) -> np.ndarray:
    """The core's periodic Hann window."""
    i = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * i / n)


def frames(signal) -> np.ndarray:
    """Frames [ceil(len / HOP), WINDOW] with the core's stft alignment (zeros outside)."""
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    count = -(-len(x) // HOP)
    lead = WINDOW - HOP
    padded = np.concatenate([np.zeros(lead), x, np.zeros(count * HOP - len(x) + HOP)])
    if count == 0:
        return np.zeros((0, WINDOW))
    view = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::HOP]
    return np.ascontiguousarray(view[:count])


def stft_magnitude(signal) -> np.ndarray:
    """|STFT| * 2 / sum(w): [frames, FFT_BINS]."""
    w = hann()
    return np.abs(np.fft.rfft(frames(signal) * w, axis=-1)) * (2.0 / w.sum())


def cqt_magnitude(signal) -> np.ndarray:
    """Constant-Q magnitudes [frames, N_BINS]."""
    return stft_magnitude(signal) @ pooling_matrix().T


def to_features(magnitude) -> np.ndarray:
    return np.log1p(np.asarray(magnitude) / LOG_FLOOR)


def from_features(features) -> np.ndarray:
    return LOG_FLOOR * np.expm1(np.maximum(np.asarray(features, dtype=np.float64), 0.0))


def features(signal) -> np.ndarray:
    """log1p(cqt / LOG_FLOOR) [frames, N_BINS]: what the models read and write."""
    return to_features(cqt_magnitude(signal))


def stft_magnitude_from_cqt(cqt) -> np.ndarray:
    """CQT magnitudes [..., N_BINS] -> STFT magnitudes [..., FFT_BINS] (2/sum(w) scale).

    m_j = sum_k W_kj c_k / sum_k W_kj; FFT bins no row reads (below ~25 Hz, above
    ~11 kHz) are 0.
    """
    w = pooling_matrix()
    norm = w.sum(axis=0)
    spread = np.asarray(cqt, dtype=np.float64) @ w
    return np.where(norm > 0, spread / np.where(norm > 0, norm, 1.0), 0.0)


def spectral_convergence(target_magnitude, magnitude) -> float:
    """||  |Y| - M ||_F / ||M||_F over a whole spectrogram (lower is better)."""
    t = np.asarray(target_magnitude, dtype=np.float64)
    m = np.asarray(magnitude, dtype=np.float64)
    n = min(len(t), len(m))
    t, m = t[:n], m[:n]
    return float(np.linalg.norm(m - t) / max(np.linalg.norm(t), 1e-12))


def torch_features(audio_frames, device=None):
    """float32 torch path: audio frames [B, WINDOW] -> features [B, N_BINS].

    Same transform as ``features`` (to ~1e-5), used to build random mixtures during
    training.
    """
    import torch

    w = torch.as_tensor(hann(), dtype=torch.float32, device=device)
    pool = torch.as_tensor(pooling_matrix().T, dtype=torch.float32, device=device)
    mag = torch.fft.rfft(audio_frames * w, dim=-1).abs() * (2.0 / float(hann().sum()))
    return torch.log1p((mag @ pool) / LOG_FLOOR)
