"""WAV input/output and checksums (numpy + scipy only: runs on the GPU machine too).

Corpus audio is 22050 Hz mono int16 PCM WAV. Readers return float32 in [-1, 1).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050


def to_int16(x: np.ndarray) -> np.ndarray:
    """float -> int16 with rounding and clipping at full scale."""
    y = np.round(np.asarray(x, dtype=np.float64) * 32768.0)
    return np.clip(y, -32768, 32767).astype(np.int16)


def write_wav(path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Writes mono int16 PCM (float input is converted by to_int16)."""
    from scipy.io import wavfile
    a = np.asarray(audio)
    if a.dtype != np.int16:
        a = to_int16(a)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(str(path), int(sample_rate), a)


def read_wav(path, mono: bool = True) -> tuple[np.ndarray, int]:
    """(float32 samples, sample rate). Stereo is averaged to mono when mono=True."""
    from scipy.io import wavfile
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fluidsynth's float WAV headers make scipy chatty
        sr, a = wavfile.read(str(path))
    if a.dtype == np.int16:
        x = a.astype(np.float32) / 32768.0
    elif a.dtype == np.int32:
        x = (a.astype(np.float64) / 2147483648.0).astype(np.float32)
    elif a.dtype == np.uint8:
        x = (a.astype(np.float32) - 128.0) / 128.0
    else:
        x = a.astype(np.float32)
    if mono and x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float64).astype(np.float32)
    return x, int(sr)


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def rms_db(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(10.0 * np.log10(np.mean(x * x) + 1e-12)) if x.size else -120.0


def trim_silence(x: np.ndarray, threshold_db: float = -60.0, frame: int = 512,
                 pad: int = 0) -> np.ndarray:
    """Removes leading/trailing frames whose rms is below threshold_db (dBFS)."""
    x = np.asarray(x)
    n = len(x) // frame
    if n == 0:
        return x
    f = x[: n * frame].astype(np.float64).reshape(n, frame)
    level = 10.0 * np.log10(np.mean(f * f, axis=1) + 1e-12)
    loud = np.flatnonzero(level >= threshold_db)
    if loud.size == 0:
        return x[:0]
    start = max(0, loud[0] * frame - pad)
    end = min(len(x), (loud[-1] + 1) * frame + pad)
    return x[start:end]
