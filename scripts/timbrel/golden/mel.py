"""Write the golden log-mel files for the core's Catch2 tests (tests/core/test_mel.cpp).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only mel

The GMVAE's note features, ``timbrel.mel`` (docs/gmvae.md, "Features"), against the core's
``dsp::MelSpectrogram``. Deterministic: one numpy default_rng(SEED), drawn in a fixed order
(the note's noise, then the random patch). Values are computed in float64 from the float32
signal and stored as float32; the core (single-precision FFT) matches the scaled features
within 1e-4 and the magnitudes within 1e-4 relative (the test's tolerances).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from timbrel import mel
from timbrel.golden import save_npy

SEED = 20261214
DB_MIN, DB_MAX = -100.0, 60.0
NOTE_S = 0.4  # shorter than the 43 frames (0.5 s): the zeros after the note's end are tested
NOTE_HZ = 220.0
HARMONIC_F0 = (440.0, 97.99885899543733, 30.0, 1046.5022612023945)  # A4, G2, flat (< 43 Hz), C6
NOTE_DESCRIPTION = (f"f0 {NOTE_HZ:g} Hz, harmonics h = 1..12 with amplitude 0.3 / h, decaying "
                    "e^(-3 t), 5 ms linear attack, plus Gaussian noise std 1e-3")


def make_note(rng: np.random.Generator) -> np.ndarray:
    n = int(round(NOTE_S * mel.SAMPLE_RATE))
    t = np.arange(n, dtype=np.float64) / mel.SAMPLE_RATE
    tone = sum(0.3 / h * np.sin(2.0 * np.pi * h * NOTE_HZ * t) for h in range(1, 13))
    envelope = np.exp(-3.0 * t) * np.minimum(1.0, t / 0.005)
    return (tone * envelope + 1e-3 * rng.standard_normal(n)).astype(np.float32)


def filterbank_runs(bank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The filterbank's nonzeros: runs [MEL_BINS, 2] (first FFT bin, count), weights."""
    runs, weights = [], []
    for row in bank:
        nz = np.flatnonzero(row > 0)
        if nz.size == 0:
            runs.append((0, 0))
            continue
        assert np.all(np.diff(nz) == 1), "a triangle's support is one run"
        runs.append((nz[0], len(nz)))
        weights.append(row[nz])
    return np.array(runs, dtype=np.int32), np.concatenate(weights)


def generate(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    note = make_note(rng)
    bank = mel.filterbank()
    files: dict[str, str] = {}

    save_npy(out / "note.npy", note, "f4")
    files["note.npy"] = f"float32 [{note.size}] at {mel.SAMPLE_RATE} Hz: {NOTE_DESCRIPTION}"
    db = mel.mel_db(note.astype(np.float64), bank=bank)
    save_npy(out / "note_db.npy", db, "f4")
    files["note_db.npy"] = f"float32 [{mel.FRAMES}, {mel.MEL_BINS}] mel.mel_db(note)"
    save_npy(out / "note_scaled.npy", mel.scale(db, DB_MIN, DB_MAX), "f4")
    files["note_scaled.npy"] = (f"float32 [{mel.FRAMES}, {mel.MEL_BINS}] mel.scale(note_db, "
                                f"{DB_MIN:g}, {DB_MAX:g})")

    patch = rng.uniform(-1.0, 1.0, size=(mel.FRAMES, mel.MEL_BINS)).astype(np.float32)
    save_npy(out / "patch.npy", patch, "f4")
    files["patch.npy"] = f"float32 [{mel.FRAMES}, {mel.MEL_BINS}] uniform in [-1, 1]: a scaled patch"
    magnitudes = mel.magnitudes(patch.astype(np.float64), DB_MIN, DB_MAX, bank=bank)
    save_npy(out / "patch_magnitudes.npy", magnitudes, "f4")
    files["patch_magnitudes.npy"] = (f"float32 [{mel.FRAMES}, {mel.BINS}] mel.magnitudes(patch, "
                                     f"{DB_MIN:g}, {DB_MAX:g}): |X_k|, unscaled")

    runs, weights = filterbank_runs(bank)
    save_npy(out / "filterbank_runs.npy", runs, "i4")
    files["filterbank_runs.npy"] = (f"int32 [{mel.MEL_BINS}, 2] (first FFT bin, count) of each "
                                    "triangle's nonzeros ((0, 0): no bin under it)")
    save_npy(out / "filterbank_weights.npy", weights, "f8")
    files["filterbank_weights.npy"] = f"float64 [{len(weights)}] the nonzero weights, band after band"

    gains = np.stack([np.sqrt(mel.harmonic_weights(f)) for f in HARMONIC_F0])
    save_npy(out / "harmonic_gains.npy", gains, "f4")
    files["harmonic_gains.npy"] = (f"float32 [{len(HARMONIC_F0)}, {mel.BINS}] "
                                   f"sqrt(mel.harmonic_weights(f0)) at f0 = {list(HARMONIC_F0)} Hz")

    return {
        "contract": "scripts/timbrel/mel.py (docs/gmvae.md, Features)",
        "conventions": ["core/include/timbrel/dsp/mel.h"],
        "numpy_version": np.__version__,
        "sample_rate": mel.SAMPLE_RATE, "window": mel.WINDOW, "hop": mel.HOP,
        "frames": mel.FRAMES, "mel_bins": mel.MEL_BINS, "fmin": mel.FMIN, "fmax": mel.FMAX,
        "db_min": DB_MIN, "db_max": DB_MAX,
        "tolerances": {"scaled": 1e-4, "magnitudes_relative": 1e-4},
        "files": files,
    }
