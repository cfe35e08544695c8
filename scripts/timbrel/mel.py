"""The GMVAE's note features: log-mel of a note's first 500 ms (Luo et al. 2019), and
its inverse back to STFT magnitudes. The reference for the core's ``dsp::MelSpectrogram``
(same constants, same arithmetic; golden files in ``tests/golden/mel``).

- Frames: Hann window (periodic) of ``WINDOW`` = 2048 samples (92.9 ms at 22050 Hz), hop
  ``HOP`` = 256 (11.6 ms); frame m is centred on sample m * HOP of the note (zeros before
  the note's first sample and after its last), ``FRAMES`` = 43 frames: 0-488 ms.
- Power spectrum |X_k|^2 of the 1025 bins, no scaling.
- Mel bands: ``MEL_BINS`` = 256 triangles of peak 1 on the HTK mel scale
  (mel = 2595 log10(1 + f / 700)) between ``FMIN`` = 20 Hz and ``FMAX`` = 11025 Hz, band
  b rising from edge b to edge b + 1 and falling to edge b + 2 (258 edges evenly spaced in
  mel), evaluated at the bin frequencies k * 22050 / 2048. Inside [edge 1, edge 256] the
  triangles sum to 1 at every bin (a partition of unity), so the inverse below is a linear
  interpolation of band values.
- Level: dB = 10 log10(max(band power, 1e-10)), scaled to [-1, 1] by the model's
  ``db_min`` / ``db_max`` (training-set range, in the model's metadata) and clamped.

Inverse (decoder output -> audio): band dB from the scaled value, band power P_b, its power
per bin P_b / sum_k W[b, k] (a band sums more bins the higher it lies), bin power
sum_b W[b, k] P_b / sum_k W[b, k] (the triangles interpolate between band centres),
magnitude its square root: the STFT magnitudes that ``dsp::PhaseReconstruction`` (RTPGHI /
Griffin-Lim) turns into audio with the same window and hop. White noise comes back flat.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 22050
WINDOW = 2048
HOP = 256
BINS = WINDOW // 2 + 1
FRAMES = 43
MEL_BINS = 256
FMIN = 20.0
FMAX = 11025.0
POWER_FLOOR = 1e-10


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def filterbank(mel_bins: int = MEL_BINS, fmin: float = FMIN, fmax: float = FMAX,
               window: int = WINDOW, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangles [mel_bins, window/2 + 1] (float64), peak 1, HTK mel edges."""
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), mel_bins + 2))
    # The outer edges exactly: mel_to_hz(hz_to_mel(fmax)) lands an ulp either side of fmax
    # depending on the CPU's vectorised pow, which made the Nyquist bin's weight 0 on one
    # machine and 6e-9 on another (and the golden files' runs differ).
    edges[0], edges[-1] = fmin, fmax
    freqs = np.arange(window // 2 + 1) * sample_rate / window
    w = np.zeros((mel_bins, freqs.size))
    for b in range(mel_bins):
        lo, centre, hi = edges[b], edges[b + 1], edges[b + 2]
        rise = (freqs - lo) / (centre - lo)
        fall = (hi - freqs) / (hi - centre)
        w[b] = np.clip(np.minimum(rise, fall), 0.0, None)
    return w


def hann(window: int = WINDOW) -> np.ndarray:
    n = np.arange(window)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / window)


def power_frames(note: np.ndarray, frames: int = FRAMES) -> np.ndarray:
    """|STFT|^2 [frames, 1025] of a note (float64), frame m centred on sample m * HOP."""
    x = np.asarray(note, dtype=np.float64)
    half = WINDOW // 2
    padded = np.zeros(half + frames * HOP + half)
    take = min(x.size, padded.size - half)
    padded[half:half + take] = x[:take]
    idx = np.arange(frames)[:, None] * HOP + np.arange(WINDOW)[None, :]
    spec = np.fft.rfft(padded[idx] * hann()[None, :], axis=1)
    return spec.real ** 2 + spec.imag ** 2


def mel_db(note: np.ndarray, frames: int = FRAMES, bank: np.ndarray | None = None) -> np.ndarray:
    """Band levels in dB [frames, MEL_BINS] of a note's first ``frames`` frames."""
    bank = filterbank() if bank is None else bank
    return 10.0 * np.log10(np.maximum(power_frames(note, frames) @ bank.T, POWER_FLOOR))


def scale(db: np.ndarray, db_min: float, db_max: float) -> np.ndarray:
    """dB -> [-1, 1] (clamped)."""
    return np.clip(2.0 * (db - db_min) / (db_max - db_min) - 1.0, -1.0, 1.0)


def unscale(x: np.ndarray, db_min: float, db_max: float) -> np.ndarray:
    return db_min + (np.clip(x, -1.0, 1.0) + 1.0) * 0.5 * (db_max - db_min)


def magnitudes(x: np.ndarray, db_min: float, db_max: float, bank: np.ndarray | None = None
               ) -> np.ndarray:
    """Scaled log-mel [frames, MEL_BINS] -> STFT magnitudes [frames, 1025]."""
    bank = filterbank() if bank is None else bank
    power = 10.0 ** (unscale(np.asarray(x, dtype=np.float64), db_min, db_max) / 10.0)
    return np.sqrt((power / bank.sum(1)) @ bank)


# --- Harmonic rendering of a decoded patch ------------------------------------------
# 256 mel bands are 16-160 Hz wide above 1 kHz: they carry a note's spectral envelope and
# level, not where its partials lie, and a decoded patch (a network's average) blurs the
# partials further. So the synthesis lays each frame's power onto the harmonics of the
# note's f0 (known: the pitch component of the latent, or the key): each bin's power is
# weighted by a comb of Gaussian peaks at h f0 (HARMONIC_WIDTH bins, the Hann window's
# main lobe) over a floor HARMONIC_FLOOR, divided by the comb's mean so that the power
# over any stretch of a few harmonics is kept. Below HARMONIC_MIN_SPACING bins per
# harmonic (f0 < 43 Hz) the comb is flat. The floor trades pitch against timbre: on the
# shipped model's component notes (every 6th pitch of each range), floor 0.002 gave 86 %
# within 20 cents but the network heard the intended instrument in only 48 % of the
# renders (too little noise between partials); 0.05 gives 78 % and 87 %; 0.1, 76 % and 93 %
# (`python -m timbrel.eval.harmonic_floor 0.002 0.05 0.1`).
HARMONIC_WIDTH = 1.0
HARMONIC_FLOOR = 0.05
HARMONIC_MIN_SPACING = 4.0


def harmonic_weights(f0_hz: float) -> np.ndarray:
    """Power weights [1025] of the harmonic comb at f0 (all ones when f0 is too low)."""
    spacing = f0_hz * WINDOW / SAMPLE_RATE
    if not np.isfinite(spacing) or spacing < HARMONIC_MIN_SPACING:
        return np.ones(BINS)
    k = np.arange(BINS, dtype=np.float64)
    comb = np.full(BINS, HARMONIC_FLOOR)
    h = 1
    while (h - 1) * spacing < BINS + 4 * HARMONIC_WIDTH:
        comb += np.exp(-0.5 * ((k - h * spacing) / HARMONIC_WIDTH) ** 2)
        h += 1
    return comb / (HARMONIC_FLOOR + np.sqrt(2.0 * np.pi) * HARMONIC_WIDTH / spacing)


def harmonic_magnitudes(x: np.ndarray, db_min: float, db_max: float, f0_hz: float,
                        bank: np.ndarray | None = None) -> np.ndarray:
    """``magnitudes`` with each frame's power laid onto the harmonics of ``f0_hz``."""
    return magnitudes(x, db_min, db_max, bank) * np.sqrt(harmonic_weights(f0_hz))[None, :]
