"""Evaluation metrics, one convention each (DESIGN.md §6). numpy only.

Spectra. `power_spectra(x)` is the core's convention (dsp_reference /
core/include/timbrel/dsp/descriptors.h): periodic Hann window, frames
[m hop, m hop + window) with no padding, P[k] = c_k |X[k]|^2 / (N sum w^2)
(c_k = 1 at DC and Nyquist, else 2), so sum_k P[k] is the frame's mean square.
Default window 1024, hop 256 (the project's analysis framing at 22050 Hz).

LSD (log-spectral distance, dB):
    LSD = mean_m sqrt( mean_k ( 10 log10((P[m,k] + eps) / (P^[m,k] + eps)) )^2 )
    eps = 1e-10 (-100 dB per bin). Identical spectra: 0; P = 10 P^: 10 exactly
    (with eps = 0).
ISD (Itakura-Saito divergence, on power spectra, P the reference):
    r = (P[m,k] + eps) / (P^[m,k] + eps),  ISD = mean_m sum_k (r - ln r - 1)
    Identical: 0; r = 2 in every bin: K (1 - ln 2) per frame.
DTW (dtw_distance): local cost |a_i - b_j|, steps (1,0), (0,1), (1,1), path
    from (0,0) to (n-1,m-1) minimising the summed cost; result = that sum
    divided by the path length (number of cells on the path). Ties go to the
    diagonal, then (i-1, j), then (i, j-1), which fixes the path length.
DTW f0: f0 in semitones (69 + 12 log2(f0/440)) on the frames the core marks
    voiced, each curve keeping only its own voiced frames; each curve scaled
    to [0, 1] by its own min and max (a constant curve becomes 0); then
    dtw_distance. NaN if either curve has fewer than 2 voiced frames.
DTW loudness: the core's loudness_db floored at -80 dBFS, each curve scaled
    to [0, 1] by its own min and max, then dtw_distance.
f0 error: median over frames voiced in both (frame-aligned, common length)
    of |1200 log2(f0_est / f0_ref)| cents. NaN if no such frame.
Descriptor tracking: Pearson r and mean absolute error between the target
    curve and the measured one (same length).
Transfer accuracy: share of the (non-silent) frames whose predicted label is
    the target instrument.
"""

from __future__ import annotations

import math

import numpy as np

from timbrel import dsp_reference as ref

EPS_POWER = 1e-10
LOUDNESS_FLOOR_DB = -80.0


# --- spectra ---------------------------------------------------------------------

def power_spectra(x, window: int = 1024, hop: int = 256) -> np.ndarray:
    """P[m, k] of every full frame (the core's framing and scaling), float64."""
    return ref.power_spectrum(ref.stft_frames(x, window, hop), window)


def lsd(power_ref, power_est, eps: float = EPS_POWER) -> float:
    """Log-spectral distance in dB between power spectra [frames, bins] (see module doc)."""
    P = np.atleast_2d(np.asarray(power_ref, dtype=np.float64))
    Q = np.atleast_2d(np.asarray(power_est, dtype=np.float64))
    if P.shape != Q.shape:
        raise ValueError(f"shapes differ: {P.shape} vs {Q.shape}")
    if P.shape[0] == 0:
        return math.nan
    d = 10.0 * np.log10((P + eps) / (Q + eps))
    return float(np.mean(np.sqrt(np.mean(d * d, axis=-1))))


def isd(power_ref, power_est, eps: float = EPS_POWER) -> float:
    """Itakura-Saito divergence of power spectra [frames, bins], mean over frames."""
    P = np.atleast_2d(np.asarray(power_ref, dtype=np.float64))
    Q = np.atleast_2d(np.asarray(power_est, dtype=np.float64))
    if P.shape != Q.shape:
        raise ValueError(f"shapes differ: {P.shape} vs {Q.shape}")
    if P.shape[0] == 0:
        return math.nan
    r = (P + eps) / (Q + eps)
    return float(np.mean(np.sum(r - np.log(r) - 1.0, axis=-1)))


def _common(x, y):
    n = min(len(x), len(y))
    return np.asarray(x)[:n], np.asarray(y)[:n]


def lsd_audio(reference, estimate, window: int = 1024, hop: int = 256,
              eps: float = EPS_POWER) -> float:
    """LSD between two signals' power spectra (truncated to the common length)."""
    a, b = _common(reference, estimate)
    return lsd(power_spectra(a, window, hop), power_spectra(b, window, hop), eps)


def isd_audio(reference, estimate, window: int = 1024, hop: int = 256,
              eps: float = EPS_POWER) -> float:
    a, b = _common(reference, estimate)
    return isd(power_spectra(a, window, hop), power_spectra(b, window, hop), eps)


# --- DTW -----------------------------------------------------------------------------

def dtw(a, b) -> tuple[float, int]:
    """(summed cost of the optimal path, its length in cells); see module doc."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return math.nan, 0
    cost = np.abs(a[:, None] - b[None, :])
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    move = np.zeros((n + 1, m + 1), dtype=np.int8)   # 0 diag, 1 up (i-1), 2 left (j-1)
    for d in range(2, n + m + 1):                    # anti-diagonals i + j = d (1-based)
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        cand = np.stack([D[i - 1, j - 1], D[i - 1, j], D[i, j - 1]])
        k = np.argmin(cand, axis=0)                  # first minimum: diag, up, left
        D[i, j] = cost[i - 1, j - 1] + cand[k, np.arange(len(i))]
        move[i, j] = k
    i, j, length = n, m, 1
    while (i, j) != (1, 1):
        k = move[i, j]
        if k == 0:
            i, j = i - 1, j - 1
        elif k == 1:
            i -= 1
        else:
            j -= 1
        length += 1
    return float(D[n, m]), length


def dtw_distance(a, b) -> float:
    """DTW cost divided by the path length."""
    total, length = dtw(a, b)
    return total / length if length else math.nan


def minmax(x) -> np.ndarray:
    """Scales a curve to [0, 1] by its own min and max (constant -> zeros)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x
    lo, hi = float(np.min(x)), float(np.max(x))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def hz_to_semitones(f0) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.asarray(f0, dtype=np.float64) / 440.0)


def dtw_f0(f0_ref, voiced_ref, f0_est, voiced_est) -> float:
    a = np.asarray(f0_ref, dtype=np.float64)[np.asarray(voiced_ref, dtype=bool)]
    b = np.asarray(f0_est, dtype=np.float64)[np.asarray(voiced_est, dtype=bool)]
    a, b = a[a > 0], b[b > 0]
    if len(a) < 2 or len(b) < 2:
        return math.nan
    return dtw_distance(minmax(hz_to_semitones(a)), minmax(hz_to_semitones(b)))


def dtw_loudness(loudness_ref_db, loudness_est_db, floor_db: float = LOUDNESS_FLOOR_DB) -> float:
    a = np.maximum(np.asarray(loudness_ref_db, dtype=np.float64), floor_db)
    b = np.maximum(np.asarray(loudness_est_db, dtype=np.float64), floor_db)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    return dtw_distance(minmax(a), minmax(b))


def f0_error_cents(f0_ref, voiced_ref, f0_est, voiced_est) -> float:
    """Median |cents| over frames voiced in both (common length)."""
    n = min(len(f0_ref), len(f0_est))
    fr = np.asarray(f0_ref, dtype=np.float64)[:n]
    fe = np.asarray(f0_est, dtype=np.float64)[:n]
    both = (np.asarray(voiced_ref, dtype=bool)[:n] & np.asarray(voiced_est, dtype=bool)[:n]
            & (fr > 0) & (fe > 0))
    if not both.any():
        return math.nan
    return float(np.median(np.abs(1200.0 * np.log2(fe[both] / fr[both]))))


def f0_within_cents(f0_ref, voiced_ref, f0_est, voiced_est, cents: float = 50.0) -> float:
    """Share of the frames voiced in both whose |f0 error| is within `cents`."""
    n = min(len(f0_ref), len(f0_est))
    fr = np.asarray(f0_ref, dtype=np.float64)[:n]
    fe = np.asarray(f0_est, dtype=np.float64)[:n]
    both = (np.asarray(voiced_ref, dtype=bool)[:n] & np.asarray(voiced_est, dtype=bool)[:n]
            & (fr > 0) & (fe > 0))
    if not both.any():
        return math.nan
    return float(np.mean(np.abs(1200.0 * np.log2(fe[both] / fr[both])) <= cents))


def f0_lag_frames(f0_ref, voiced_ref, f0_est, voiced_est, max_lag: int = 8) -> int | None:
    """The shift (frames; positive: the estimate lags) that minimises the median |cents|
    between the two f0 tracks; None when no shift leaves 20 frames voiced in both. On
    a steady tone every shift ties and 0 wins (smallest |shift| first)."""
    fr, fe = np.asarray(f0_ref, dtype=np.float64), np.asarray(f0_est, dtype=np.float64)
    vr, ve = np.asarray(voiced_ref, dtype=bool), np.asarray(voiced_est, dtype=bool)
    best, best_err = None, math.inf
    for lag in sorted(range(-max_lag, max_lag + 1), key=abs):
        if lag >= 0:
            a, b = slice(0, len(fr) - lag), slice(lag, len(fr))
        else:
            a, b = slice(-lag, len(fr)), slice(0, len(fr) + lag)
        r, e, v_r, v_e = fr[a], fe[b], vr[a], ve[b]
        n = min(len(r), len(e))
        both = v_r[:n] & v_e[:n] & (r[:n] > 0) & (e[:n] > 0)
        if both.sum() < 20:
            continue
        err = float(np.median(np.abs(1200.0 * np.log2(e[:n][both] / r[:n][both]))))
        if err < best_err - 1e-9:
            best, best_err = lag, err
    return best


# --- descriptor tracking and transfer -----------------------------------------------

def pearson_r(x, y) -> float:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValueError("curves differ in length")
    if len(x) < 2:
        return math.nan
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(np.sum(xc * xc)) * float(np.sum(yc * yc)))
    return float(np.sum(xc * yc) / den) if den > 0 else math.nan


def mae(x, y) -> float:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValueError("curves differ in length")
    return float(np.mean(np.abs(x - y))) if len(x) else math.nan


def descriptor_tracking(target, measured) -> dict:
    """{'r': Pearson r, 'mae': mean absolute error} of a target curve and a measured one."""
    return {"r": pearson_r(target, measured), "mae": mae(target, measured)}


def transfer_accuracy(labels, target, mask=None) -> float:
    """Share of frames labelled `target` (only frames where mask is true, if given)."""
    labels = np.asarray(labels)
    if mask is not None:
        labels = labels[np.asarray(mask, dtype=bool)]
    if labels.size == 0:
        return math.nan
    return float(np.mean(labels == target))
