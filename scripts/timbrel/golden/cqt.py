"""Write the golden constant-Q files for the core's Catch2 tests (tests/core/test_cqt.cpp).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only cqt

Deterministic: one numpy default_rng(SEED), drawn in a fixed order (the harmonic
tone's noise, then the noise burst). Values come from timbrel.cqt (the contract),
computed in float64 from the float32 signals and stored as float32 (a feature of ~8
keeps ~5e-7, far under the test's 1e-4 tolerance).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from timbrel import cqt
from timbrel.golden import save_npy

SEED = 20261207
DURATION_S = 0.5
SIGNAL_NAMES = ("sine", "harmonic", "noise_burst", "silence")
BACK_PROJECTED = ("harmonic",)

SINE_HZ = 1000.0
SIGNAL_DESCRIPTIONS = {
    "sine": f"sine {SINE_HZ:g} Hz, amplitude 0.3, phase 0 at n = 0",
    "harmonic": ("f0 196 Hz with vibrato 5.5 Hz +-30 cents, harmonics h = 1..8 with amplitude "
                 "1/h, scaled to peak 0.5, plus Gaussian noise std 1e-3"),
    "noise_burst": "Gaussian noise std 0.1 from 0.15 s to 0.35 s, zeros elsewhere",
    "silence": "all zeros",
}


def make_signals(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The four float32 test signals (RNG draws: harmonic's noise, then the burst)."""
    n = int(round(cqt.SAMPLE_RATE * DURATION_S))
    t = np.arange(n, dtype=np.float64) / cqt.SAMPLE_RATE
    sine = 0.3 * np.sin(2.0 * np.pi * SINE_HZ * t)

    f0 = 196.0 * 2.0 ** (0.3 / 12.0 * np.sin(2.0 * np.pi * 5.5 * t))
    phase = 2.0 * np.pi * np.cumsum(f0) / cqt.SAMPLE_RATE
    clean = sum(np.sin(h * phase) / h for h in range(1, 9))
    harmonic = 0.5 * clean / np.max(np.abs(clean)) + 1e-3 * rng.standard_normal(n)

    burst = np.zeros(n)
    start, stop = int(0.15 * cqt.SAMPLE_RATE), int(0.35 * cqt.SAMPLE_RATE)
    burst[start:stop] = 0.1 * rng.standard_normal(stop - start)

    signals = dict(sine=sine, harmonic=harmonic, noise_burst=burst, silence=np.zeros(n))
    return {k: v.astype(np.float32) for k, v in signals.items()}


def pooling_rows() -> tuple[np.ndarray, np.ndarray]:
    """The pooling matrix's nonzeros: rows [N_BINS, 2] (first FFT bin, count), weights."""
    w = cqt.pooling_matrix()
    rows, weights = [], []
    for row in w:
        nz = np.flatnonzero(row > 0)
        assert np.all(np.diff(nz) == 1), "a triangle's support is one run"
        rows.append((nz[0], len(nz)))
        weights.append(row[nz])
    return np.array(rows, dtype=np.int32), np.concatenate(weights)


def generate(out: Path) -> dict:
    """Write the golden files into out; return the manifest's facts (timbrel.golden writes it)."""
    out.mkdir(parents=True, exist_ok=True)
    signals = make_signals(np.random.default_rng(SEED))
    files: dict[str, str] = {}
    frames = None
    for name in SIGNAL_NAMES:
        x = signals[name]
        save_npy(out / f"signal_{name}.npy", x, "f4")
        files[f"signal_{name}.npy"] = (
            f"float32 [{len(x)}] at {cqt.SAMPLE_RATE} Hz: {SIGNAL_DESCRIPTIONS[name]}")
        magnitude = cqt.cqt_magnitude(x.astype(np.float64))
        frames = magnitude.shape[0]
        save_npy(out / f"features_{name}.npy", cqt.to_features(magnitude), "f4")
        files[f"features_{name}.npy"] = (
            f"float32 [{frames}, {cqt.N_BINS}] cqt.features(signal_{name})")
        if name in BACK_PROJECTED:
            save_npy(out / f"back_projection_{name}.npy", cqt.stft_magnitude_from_cqt(magnitude),
                  "f4")
            files[f"back_projection_{name}.npy"] = (
                f"float32 [{frames}, {cqt.FFT_BINS}] cqt.stft_magnitude_from_cqt("
                f"cqt.cqt_magnitude(signal_{name}))")
    rows, weights = pooling_rows()
    save_npy(out / "pooling_rows.npy", rows, "i4")
    files["pooling_rows.npy"] = (
        f"int32 [{cqt.N_BINS}, 2] (first FFT bin, count) of each pooling row's nonzeros")
    save_npy(out / "pooling_weights.npy", weights, "f8")
    files["pooling_weights.npy"] = (
        f"float64 [{len(weights)}] the nonzero weights, row after row")

    manifest = {
        "contract": "scripts/timbrel/cqt.py",
        "conventions": ["core/include/timbrel/dsp/cqt.h"],
        "numpy_version": np.__version__,
        "seed": SEED,
        "sample_rate": cqt.SAMPLE_RATE,
        "window": cqt.WINDOW,
        "hop": cqt.HOP,
        "bins_per_octave": cqt.BINS_PER_OCTAVE,
        "f_min": cqt.F_MIN,
        "f_max": cqt.F_MAX,
        "n_bins": cqt.N_BINS,
        "log_floor": cqt.LOG_FLOOR,
        "duration_s": DURATION_S,
        "samples": int(len(signals["sine"])),
        "frames": int(frames),
        "framing": ("core dsp::stft: frame m covers samples [m hop - (window - hop), m hop + hop), "
                    "zeros outside, ceil(samples / hop) frames"),
        "files": files,
    }
    return manifest
