"""Write the golden DSP files for the C++ Catch2 tests.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only dsp

Deterministic: one numpy default_rng(SEED), drawn in a fixed order (the noise
signal first, then the harmonic signal's noise). Values come from
timbrel.dsp_reference, computed in float64 from the float32 signals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from timbrel import dsp_reference as ref
from timbrel.golden import save_npy

SEED = 20261122
SAMPLE_RATE = 22050
DURATION_S = 1.0
WINDOW = 1024
HOP = 256
YIN_PARAMS = dict(frame_size=WINDOW, f0_min_hz=50.0, f0_max_hz=2000.0, threshold=0.15)
SIGNAL_NAMES = ("noise", "chirp", "harmonic", "silence")

SIGNAL_DESCRIPTIONS = {
    "noise": "Gaussian white noise, std 0.1",
    "chirp": "exponential sine sweep 100 -> 5000 Hz over 1 s (T = 1.0 s, t = n/sr, phase 0 at n = 0), amplitude 0.5",
    "harmonic": "f0 233.08 Hz, harmonics h = 1..5 with amplitude 1/h (sine phase 0), scaled to peak 0.5, plus Gaussian noise std 1e-3",
    "silence": "all zeros",
}


def make_signals(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The four float32 test signals (RNG draws: noise, then harmonic's noise)."""
    n = int(round(SAMPLE_RATE * DURATION_S))
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE

    noise = 0.1 * rng.standard_normal(n)

    f_start, f_end, T = 100.0, 5000.0, DURATION_S
    rate = np.log(f_end / f_start)
    chirp = 0.5 * np.sin(2.0 * np.pi * f_start * T / rate * (np.exp(t * rate / T) - 1.0))

    f0 = 233.08
    clean = sum(np.sin(2.0 * np.pi * h * f0 * t) / h for h in range(1, 6))
    harmonic = 0.5 * clean / np.max(np.abs(clean)) + 1e-3 * rng.standard_normal(n)

    silence = np.zeros(n)
    signals = dict(noise=noise, chirp=chirp, harmonic=harmonic, silence=silence)
    return {k: v.astype(np.float32) for k, v in signals.items()}


def generate(out: Path) -> dict:
    """Write the golden files into out; return the manifest's facts (timbrel.golden writes it)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    signals = make_signals(rng)
    files: dict[str, str] = {}
    frames = None

    for name in SIGNAL_NAMES:
        sig32 = signals[name]
        save_npy(out / f"signal_{name}.npy", sig32, "f4")
        files[f"signal_{name}.npy"] = (
            f"float32 [{len(sig32)}] at {SAMPLE_RATE} Hz: {SIGNAL_DESCRIPTIONS[name]}")

        x = sig32.astype(np.float64)
        desc = ref.signal_descriptors(x, SAMPLE_RATE, WINDOW, HOP)
        frames = desc.shape[0]
        save_npy(out / f"descriptors_{name}.npy", desc, "f8")
        files[f"descriptors_{name}.npy"] = (
            f"float64 [{frames}, 6] ({', '.join(ref.DESCRIPTOR_NAMES)}) of signal_{name}")

        pitch = ref.signal_yin(x, SAMPLE_RATE, YIN_PARAMS["frame_size"], HOP,
                               YIN_PARAMS["f0_min_hz"], YIN_PARAMS["f0_max_hz"],
                               YIN_PARAMS["threshold"])
        save_npy(out / f"yin_{name}.npy", pitch, "f8")
        files[f"yin_{name}.npy"] = (
            f"float64 [{frames}, 3] (f0_hz, confidence, voiced 1/0) YIN of signal_{name}")

        if name == "noise":
            X = ref.stft_frames(x, WINDOW, HOP)
            save_npy(out / "stft_noise.npy", np.stack([X.real, X.imag], axis=-1), "f4")
            files["stft_noise.npy"] = (
                f"float32 [{X.shape[0]}, {X.shape[1]}, 2] (re, im) Hann-windowed rfft "
                "of signal_noise frames (computed in float64)")

    tau_min, tau_max = ref.yin_lags(SAMPLE_RATE, YIN_PARAMS["f0_min_hz"], YIN_PARAMS["f0_max_hz"])
    manifest = {
        "reference": "scripts/timbrel/dsp_reference.py",
        "conventions": ["core/include/timbrel/dsp/descriptors.h",
                        "core/include/timbrel/dsp/yin.h"],
        "numpy_version": np.__version__,
        "seed": SEED,
        "sample_rate": SAMPLE_RATE,
        "duration_s": DURATION_S,
        "samples": int(len(signals["noise"])),
        "window": WINDOW,
        "hop": HOP,
        "frames": int(frames),
        "framing": "frame m = signal[m*hop : m*hop+window], full frames only, no padding",
        "descriptor_columns": list(ref.DESCRIPTOR_NAMES),
        "yin": dict(YIN_PARAMS, sample_rate=SAMPLE_RATE, tau_min=tau_min, tau_max=tau_max),
        "files": files,
    }
    return manifest
