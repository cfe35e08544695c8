"""f0, loudness and spectral descriptors from the C++ core's command-line tool.

The evaluation measures audio with the same code as the page: `timbrel
analyse` (core/cli), found through the environment variable TIMBREL_CLI or at
build/core/timbrel under the repository root (build it with
`cmake --build build`). Frame m covers samples [m hop, m hop + window) at
22050 Hz (the tool resamples other rates); columns are those of
core/include/timbrel/dsp/descriptors.h and yin.h.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
COLUMNS = ("time_s", "rms_db", "loudness_db", "centroid_hz", "bandwidth_hz", "rolloff_hz",
           "flatness", "f0_hz", "f0_confidence", "voiced")
WINDOW = 1024
HOP = 256


def cli_path() -> Path:
    env = os.environ.get("TIMBREL_CLI")
    path = Path(env) if env else REPO / "build" / "core" / "timbrel"
    if not path.exists():
        raise FileNotFoundError(f"the core's CLI is missing at {path}: run `cmake --build build` "
                                "(or set TIMBREL_CLI)")
    return path


def parse_csv(text: str) -> dict[str, np.ndarray]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    if tuple(header) != COLUMNS:
        raise ValueError(f"unexpected columns from timbrel analyse: {header}")
    rows = np.array([[float(v) for v in r] for r in reader if r], dtype=np.float64)
    rows = rows.reshape(-1, len(COLUMNS))
    out = {c: rows[:, i] for i, c in enumerate(COLUMNS)}
    out["voiced"] = out["voiced"] > 0.5
    return out


def analyse_file(path, window: int = WINDOW, hop: int = HOP) -> dict[str, np.ndarray]:
    """Per-frame descriptors of a WAV file, keyed by COLUMNS (voiced is bool)."""
    proc = subprocess.run([str(cli_path()), "analyse", str(path), "--window", str(window),
                           "--hop", str(hop)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"timbrel analyse {path} failed: {proc.stderr.strip()}")
    return parse_csv(proc.stdout)


_CACHE: dict[tuple, dict] = {}
_CACHE_MAX = 256


def analyse(audio: np.ndarray, sample_rate: int = 22050, window: int = WINDOW,
            hop: int = HOP) -> dict[str, np.ndarray]:
    """Per-frame descriptors of float audio (written as float32 WAV; cached by content)."""
    x = np.ascontiguousarray(np.asarray(audio, dtype=np.float32))
    key = (hashlib.sha1(x.tobytes()).hexdigest(), int(sample_rate), window, hop)
    if key in _CACHE:
        return _CACHE[key]
    from scipy.io import wavfile
    with tempfile.TemporaryDirectory(prefix="timbrel-an-") as tmp:
        path = Path(tmp) / "a.wav"
        wavfile.write(str(path), int(sample_rate), x)
        result = analyse_file(path, window, hop)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = result
    return result
