"""Training material for the VQ timbre models: audio, cached per-hop pitch, random excerpts.

Two sources: the performance corpus (``data/full/performance/<instrument>``, its 85/15
phrase split) or any folder of WAV files (``--audio-dir``: mono-mixed, resampled to
22050 Hz). Per-hop YIN (the reference YIN the contract names; ~1.4 ms per hop in Python,
about a minute per instrument) is computed once and cached under ``data/cache/vq/``,
keyed by the files' checksums (or paths, sizes and times), so a resumed or repeated
training starts at once. The 513-bin features are not cached: one batched rfft per step
costs ~10 ms, less than reading 90 MB of cached features per instrument would.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import numpy as np

from timbrel.models.vq_timbre import HOP, SAMPLE_RATE, WINDOW, hop_count, pitch_track

CACHE_VERSION = 4  # 2: pitch at the frame end, leaps held (dsp::PitchTracker); 3: voicing hysteresis; 4: with 2x, 3x continuations
CONTEXT = WINDOW - HOP  # samples of real past each excerpt carries into its first frame


@dataclass
class Source:
    name: str
    audio: np.ndarray            # float32 [L]
    f0: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))      # [T]
    voiced: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # [T]


def read_audio(path) -> np.ndarray:
    """Any PCM/float WAV -> float32 mono at 22050 Hz (polyphase resampling)."""
    from scipy.signal import resample_poly
    from timbrel.data.audio import read_wav
    x, sr = read_wav(path)
    if sr != SAMPLE_RATE:
        g = gcd(int(sr), SAMPLE_RATE)
        x = resample_poly(x.astype(np.float64), SAMPLE_RATE // g, int(sr) // g)
    return np.asarray(x, dtype=np.float32)


def corpus_files(data_root, instrument: str, split: Optional[str]) -> List[dict]:
    """Performance-corpus rows of one instrument (and split) from every training source
    (timbrel.data.sources.TRAINING_SOURCES: never the held-out font). A corpus whose split
    holds nothing (the one-phrase smoke corpus puts it in test) falls back to every phrase."""
    from timbrel.data.corpus import read_manifest, select
    from timbrel.data.sources import TRAINING_SOURCES
    rows = select(read_manifest(data_root, "performance", sources=TRAINING_SOURCES),
                  instruments={instrument}, sources=set(TRAINING_SOURCES))
    if not rows:
        raise SystemExit(f"no performance phrases for instrument '{instrument}' in {data_root}")
    chosen = select(rows, split=split) if split else rows
    return chosen or rows


def _key(parts: Sequence[str]) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _with_pitch(sources: List[Source], cache_path: Path, log: Callable[[str], None]) -> List[Source]:
    if cache_path.exists():
        z = np.load(cache_path, allow_pickle=False)
        offsets = z["offsets"]
        if len(offsets) == len(sources) + 1:
            for i, s in enumerate(sources):
                s.f0 = z["f0"][offsets[i]:offsets[i + 1]]
                s.voiced = z["voiced"][offsets[i]:offsets[i + 1]].astype(np.float32)
            return sources
    t0 = time.time()
    total = sum(hop_count(len(s.audio)) for s in sources)
    log(f"pitch: reference YIN on {total} hops of {len(sources)} files (cached to {cache_path})")
    for i, s in enumerate(sources):
        p = pitch_track(s.audio)
        s.f0, s.voiced = p[:, 0].astype(np.float32), p[:, 1].astype(np.float32)
        if (i + 1) % 10 == 0:
            log(f"pitch: {i + 1}/{len(sources)} files, {time.time() - t0:.0f} s")
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    offsets = np.cumsum([0] + [len(s.f0) for s in sources])
    tmp = cache_path.with_name(cache_path.name + ".tmp.npz")
    np.savez(tmp, f0=np.concatenate([s.f0 for s in sources]),
             voiced=np.concatenate([s.voiced for s in sources]).astype(np.uint8), offsets=offsets,
             names=np.array([s.name for s in sources]))
    tmp.replace(cache_path)
    log(f"pitch: done in {time.time() - t0:.0f} s")
    return sources


def load_corpus(data_root, instrument: str, split: Optional[str], cache_dir="data/cache",
                log: Callable[[str], None] = print) -> List[Source]:
    """Performance phrases of one instrument with their cached per-hop pitch."""
    from timbrel.data.corpus import load_audio
    rows = corpus_files(data_root, instrument, split)
    sources = [Source(r["file"], load_audio(data_root, r)) for r in rows]
    key = _key([r["file"] + ":" + r.get("sha256", "") for r in rows])
    return _with_pitch(sources, Path(cache_dir) / "vq" / f"perf-{instrument}-{split or 'all'}-{key}.npz", log)


def load_audio_dir(folder, cache_dir="data/cache", log: Callable[[str], None] = print) -> List[Source]:
    """Every *.wav under ``folder`` (recursive, sorted), for training on one's own audio."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not files:
        raise SystemExit(f"no .wav files under {folder}")
    sources = []
    for p in files:
        x = read_audio(p)
        if len(x) >= WINDOW:
            sources.append(Source(str(p.relative_to(folder)), x))
    if not sources:
        raise SystemExit(f"every .wav under {folder} is shorter than {WINDOW} samples")
    st = [p.stat() for p in files]
    key = _key([f"{p}:{s.st_size}:{int(s.st_mtime)}" for p, s in zip(files, st)])
    return _with_pitch(sources, Path(cache_dir) / "vq" / f"dir-{key}.npz", log)


def minutes(sources: List[Source]) -> float:
    return float(sum(len(s.audio) for s in sources) / SAMPLE_RATE / 60.0)


def f0_range(sources: List[Source], low: float = 5.0, high: float = 95.0) -> List[float]:
    """5th-95th percentile of the voiced f0 (Hz): the instrument's comfortable range."""
    f = np.concatenate([s.f0[s.voiced > 0.5] for s in sources])
    if f.size == 0:
        return [0.0, 0.0]
    return [round(float(np.percentile(f, low)), 2), round(float(np.percentile(f, high)), 2)]


class Excerpts:
    """Random excerpts of ``hops`` hops on the offline hop grid of their file.

    An excerpt starting at hop k holds, for hops t = 0..hops-1 (file hop k + t), the audio
    [k*256 - 768, (k + hops)*256) (zeros outside the file: the analysis frames' real past),
    the cached f0/voiced of those hops, and the target x[k*256 : (k + hops - 1)*256], the
    samples the synthesis completes (contract step 7). Files are drawn in proportion to
    their length; nearly silent excerpts (< -55 dBFS) are redrawn a few times.
    """

    def __init__(self, sources: List[Source], hops: int, seed: int = 0):
        self.sources = [s for s in sources if len(s.f0) >= 1]
        self.hops = int(hops)
        lengths = np.array([len(s.f0) for s in self.sources], dtype=np.float64)
        self.p = lengths / lengths.sum()
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def _one(self):
        H = self.hops
        for _ in range(8):
            s = self.sources[self.rng.choice(len(self.sources), p=self.p)]
            k = int(self.rng.integers(0, max(1, len(s.f0) - H + 1)))
            a, b = k * HOP - CONTEXT, (k + H) * HOP
            seg = np.zeros(b - a, np.float32)
            lo, hi = max(a, 0), min(b, len(s.audio))
            if hi > lo:
                seg[lo - a:hi - a] = s.audio[lo:hi]
            f0 = np.zeros(H, np.float32)
            v = np.zeros(H, np.float32)
            n = min(H, len(s.f0) - k)
            f0[:n], v[:n] = s.f0[k:k + n], s.voiced[k:k + n]
            body = seg[CONTEXT:CONTEXT + (H - 1) * HOP]
            if np.mean(body.astype(np.float64) ** 2) > 10 ** (-55 / 10):
                break
        return seg, f0, v

    def batch(self, size: int):
        """(audio [B, 768 + hops*256], f0 [B, hops], voiced [B, hops]) as float32 arrays."""
        items = [self._one() for _ in range(size)]
        return tuple(np.stack([it[j] for it in items]) for j in range(3))


def describe(sources: List[Source]) -> dict:
    return {"files": len(sources), "minutes": round(minutes(sources), 2),
            "voiced_share": round(float(np.mean(np.concatenate([s.voiced for s in sources]))), 3)}
