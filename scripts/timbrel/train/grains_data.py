"""The drum one-shots for the neural granular model (``timbrel.models.grains``).

The corpus contract (written by the drum corpus builder in ``timbrel.data``):
``<data>/drums/manifest.json`` = {"format": 1, "sample_rate": 22050, "samples": 34816,
"classes": [names], "rows": [{"path": WAV path relative to the drums folder, "source",
"family", "kit", "class", "split": "train" | "test" | "heldout", ...}]}; each WAV is int16
mono at 22050 Hz of exactly 34816 samples (65 grains at hop 512), the onset at ~sample 0.
``<data>`` may be the data root (``$TIMBREL_DATA/full``) or the drums folder itself.

The pitched one-shots (``corpus="notes"``, the thesis's "SOL ordinario" counterpart) come
from the note corpus (``<data>/notes/manifest.csv``, ``timbrel.data``: 2.5 s notes of 12
instruments from every installed sample set, the onset at sample 0): each note's first 34816
samples, the last NOTE_FADE_S faded out by a half cosine (the notes still sound there, and
a one-shot should end), the class its instrument (in the manifest's order) and a MIDI
``pitch`` per row; the note corpus's splits (its held-out fonts are ``heldout``).

Loaded splits are kept as int16 ``[N, 34816]`` plus class indices (the manifest's class
order), and cached under ``<data>/../cache/grains/<data name>-<split>-<key>.npz`` (key: the rows'
paths, sizes and modification times). ``write_synthetic_corpus`` writes a small corpus in
the same layout (decaying noise bursts and tones per fake class) for tests and smoke runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from timbrel.data.audio import read_wav, write_wav
from timbrel.models.grains import SAMPLE_RATE, SAMPLES

FORMAT = 1
SPLITS = ("train", "test", "heldout")
CORPORA = ("drums", "notes")
NOTE_FADE_S = 0.15


class CorpusError(FileNotFoundError):
    """The drum corpus is missing or does not keep its contract."""


@dataclass
class DrumSet:
    split: str
    audio: np.ndarray            # int16 [N, 34816]
    label: np.ndarray            # int64 [N], index into classes
    classes: List[str]
    rows: List[Dict] = field(default_factory=list)
    pitch: Optional[np.ndarray] = None  # float64 [N] MIDI pitches (the notes corpus), else None

    def __len__(self) -> int:
        return len(self.label)

    def batch(self, idx) -> np.ndarray:
        """float32 [len(idx), 34816] in [-1, 1)."""
        return self.audio[idx].astype(np.float32) / 32768.0

    def conditioning(self, idx, model):
        """What ``model`` is conditioned on for one-shots ``idx``: class indices (torch int64
        [B]) or, for a pitched model, ``model.condition`` (torch float32 [B, conditions])."""
        import torch
        if getattr(model, "pitched", False):
            if self.pitch is None:
                raise ValueError("a pitched model needs a corpus with pitches (--corpus notes)")
            return torch.from_numpy(model.condition(self.label[idx], self.pitch[idx]))
        return torch.from_numpy(self.label[idx])

    def counts(self) -> Dict[str, int]:
        return {c: int((self.label == i).sum()) for i, c in enumerate(self.classes)}


def drums_dir(data_root) -> Path:
    """``<data>/drums``, or ``<data>`` itself when it is a drums folder with a manifest."""
    root = Path(data_root)
    if not (root / "drums" / "manifest.json").exists() and root.name == "drums" \
            and (root / "manifest.json").exists():
        return root
    return root / "drums"


def read_notes_manifest(data_root) -> Dict:
    """The note corpus's manifest.csv as a drum-style manifest: {"classes": instruments in
    first-seen order, "rows": [{"path", "class", "split", "pitch", "source", ...}]}."""
    import csv
    root = Path(data_root)
    folder = root if (root / "manifest.csv").exists() and root.name == "notes" else root / "notes"
    path = folder / "manifest.csv"
    if not path.exists():
        raise CorpusError(f"no note corpus at {folder} (expected {path}; `python -m timbrel.data` "
                          "writes it)")
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    classes: List[str] = []
    rows = []
    for i, r in enumerate(table):
        try:
            pitch = float(r["midi_pitch"])
            rel = r["file"]
            split = r["split"]
            inst = r["instrument"]
        except (KeyError, ValueError) as e:
            raise CorpusError(f"{path}: row {i} lacks or mangles {e}") from None
        if split not in SPLITS or not 0 <= pitch <= 127:
            raise CorpusError(f"{path}: row {i}: split {split!r}, pitch {pitch}")
        if inst not in classes:
            classes.append(inst)
        # paths in manifest.csv start with "notes/": relative to the data root
        rel = rel[len("notes/"):] if rel.startswith("notes/") else rel
        rows.append({"path": rel, "class": inst, "split": split, "pitch": pitch,
                     "source": r.get("source", ""), "dynamics": r.get("dynamics", ""),
                     "sha256": r.get("sha256", "")})
    if not classes:
        raise CorpusError(f"{path}: no notes")
    return {"format": FORMAT, "sample_rate": SAMPLE_RATE, "samples": SAMPLES, "classes": classes,
            "rows": rows, "_folder": str(folder), "corpus": "notes"}


def read_manifest(data_root, corpus: str = "drums") -> Dict:
    """The manifest, checked against the contract; CorpusError (a FileNotFoundError) says
    what is wrong. ``corpus`` "notes": ``read_notes_manifest``."""
    if corpus == "notes":
        return read_notes_manifest(data_root)
    if corpus != "drums":
        raise ValueError(f"corpus must be one of {CORPORA}")
    folder = drums_dir(data_root)
    path = folder / "manifest.json"
    if not path.exists():
        raise CorpusError(f"no drum corpus at {folder} (expected {path}; the drum corpus "
                          "builder in timbrel.data writes it)")
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}: not JSON ({e})") from None
    problems = []
    if m.get("format") != FORMAT:
        problems.append(f"format {m.get('format')!r}, expected {FORMAT}")
    if m.get("sample_rate") != SAMPLE_RATE:
        problems.append(f"sample_rate {m.get('sample_rate')!r}, expected {SAMPLE_RATE}")
    if m.get("samples") != SAMPLES:
        problems.append(f"samples {m.get('samples')!r}, expected {SAMPLES}")
    classes = m.get("classes")
    if not isinstance(classes, list) or not classes or len(set(classes)) != len(classes):
        problems.append("classes must be a non-empty list of distinct names")
    rows = m.get("rows")
    if not isinstance(rows, list):
        problems.append("rows must be a list")
    else:
        for i, r in enumerate(rows):
            missing = [k for k in ("path", "class", "split") if k not in r]
            if missing:
                problems.append(f"row {i} lacks {missing}")
            elif isinstance(classes, list) and r["class"] not in classes:
                problems.append(f"row {i} ({r['path']}): class {r['class']!r} is not in classes")
            elif r["split"] not in SPLITS:
                problems.append(f"row {i} ({r['path']}): split {r['split']!r} not in {SPLITS}")
            if len(problems) > 10:
                break
    if problems:
        raise CorpusError(f"{path}: " + "; ".join(problems[:10]))
    m["_folder"] = str(folder)
    return m


def _cache_key(folder: Path, rows: Sequence[Dict]) -> str:
    h = hashlib.sha256()
    for r in rows:
        p = folder / r["path"]
        st = p.stat() if p.exists() else None
        h.update(f"{r['path']}|{r.get('sha256', '')}|{st.st_size if st else -1}|"
                 f"{st.st_mtime_ns if st else -1}\n".encode())
    return h.hexdigest()[:16]


def load_split(data_root, split: str, cache: bool = True, max_items: int = 0,
               seed: int = 0, corpus: str = "drums") -> DrumSet:
    """One split as int16 audio and class indices (and pitches: ``corpus`` "notes").
    ``max_items`` keeps a seeded random subset (smoke runs). Every drum WAV must be int16
    mono 22050 Hz of exactly 34816 samples; a note WAV int16 mono 22050 Hz of at least
    34816 samples (cut and faded, module doc)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    m = read_manifest(data_root, corpus)
    notes = corpus == "notes"
    folder = Path(m["_folder"])
    classes = list(m["classes"])
    rows = sorted((r for r in m["rows"] if r["split"] == split), key=lambda r: r["path"])
    if max_items and len(rows) > max_items:
        keep = np.sort(np.random.default_rng(seed).permutation(len(rows))[:max_items])
        rows = [rows[i] for i in keep]
    label = np.array([classes.index(r["class"]) for r in rows], dtype=np.int64)
    pitch = np.array([r["pitch"] for r in rows], np.float64) if notes else None
    if not rows:
        return DrumSet(split, np.zeros((0, SAMPLES), np.int16), label, classes, [], pitch)
    cache_path = None
    if cache:
        # beside the other caches: $TIMBREL_DATA/cache/grains/full-train-<key>.npz
        cache_path = (folder.parent.parent / "cache" / "grains" /
                      f"{folder.parent.name}-{'notes-' if notes else ''}{split}-"
                      f"{_cache_key(folder, rows)}.npz")
        if cache_path.exists():
            return DrumSet(split, np.load(cache_path)["audio"], label, classes, rows, pitch)
    audio = np.empty((len(rows), SAMPLES), np.int16)
    for i, r in enumerate(rows):
        audio[i] = _read_note(folder / r["path"]) if notes else _read_one(folder / r["path"])
    if cache_path is not None:
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache_path, audio=audio)
        except OSError:  # a read-only corpus: no cache
            pass
    return DrumSet(split, audio, label, classes, rows, pitch)


def _read_note(path: Path) -> np.ndarray:
    """A note's first SAMPLES samples, the last NOTE_FADE_S faded out (half cosine)."""
    from scipy.io import wavfile
    if not path.exists():
        raise CorpusError(f"{path}: listed in the note manifest but missing")
    sr, a = wavfile.read(str(path))
    if sr != SAMPLE_RATE or a.dtype != np.int16 or a.ndim != 1 or len(a) < SAMPLES:
        raise CorpusError(f"{path}: {sr} Hz {a.dtype} shape {a.shape}; a note must be int16 "
                          f"mono {SAMPLE_RATE} Hz of at least {SAMPLES} samples")
    fade = int(round(NOTE_FADE_S * SAMPLE_RATE))
    x = a[:SAMPLES].astype(np.float64)
    x[-fade:] *= 0.5 * (1.0 + np.cos(np.pi * (np.arange(fade) + 1) / fade))
    return np.round(x).astype(np.int16)


def _read_one(path: Path) -> np.ndarray:
    from scipy.io import wavfile
    if not path.exists():
        raise CorpusError(f"{path}: listed in the manifest but missing")
    sr, a = wavfile.read(str(path))
    if sr != SAMPLE_RATE or a.dtype != np.int16 or a.ndim != 1 or len(a) != SAMPLES:
        raise CorpusError(f"{path}: {sr} Hz {a.dtype} shape {a.shape}; the contract is int16 "
                          f"mono {SAMPLE_RATE} Hz of exactly {SAMPLES} samples")
    return a


# --- a synthetic corpus in the same layout ----------------------------------------------------

SYNTHETIC_CLASSES = ("kick", "snare", "hat", "tom")


def _synthetic_hit(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(SAMPLES) / SAMPLE_RATE
    if kind == "kick":  # a sine falling from ~150 to ~50 Hz, 0.2-0.4 s decay, a click
        f0, f1 = rng.uniform(120, 180), rng.uniform(40, 60)
        f = f1 + (f0 - f1) * np.exp(-t / 0.04)
        x = np.sin(2 * np.pi * np.cumsum(f) / SAMPLE_RATE) * np.exp(-t / rng.uniform(0.15, 0.35))
        x += 0.3 * rng.uniform(-1, 1, SAMPLES) * np.exp(-t / 0.004)
    elif kind == "snare":  # noise with a 180-220 Hz body
        body = np.sin(2 * np.pi * rng.uniform(180, 220) * t) * np.exp(-t / 0.06)
        x = 0.6 * body + 0.7 * rng.uniform(-1, 1, SAMPLES) * np.exp(-t / rng.uniform(0.08, 0.18))
    elif kind == "hat":  # high-passed noise, short
        n = rng.uniform(-1, 1, SAMPLES)
        n = np.diff(np.diff(n, prepend=0), prepend=0) / 4
        x = n * np.exp(-t / rng.uniform(0.02, 0.08))
    elif kind == "tom":  # a sine falling a little, longer
        f0 = rng.uniform(90, 200)
        f = f0 * (1 + 0.3 * np.exp(-t / 0.05))
        x = np.sin(2 * np.pi * np.cumsum(f) / SAMPLE_RATE) * np.exp(-t / rng.uniform(0.2, 0.5))
    else:
        raise ValueError(kind)
    x *= 10 ** (rng.uniform(-12, -1) / 20) / max(1e-9, np.abs(x).max())
    return x.astype(np.float32)


def write_synthetic_corpus(root, classes: Sequence[str] = SYNTHETIC_CLASSES[:3],
                           per_split: Optional[Dict[str, int]] = None, seed: int = 0) -> Path:
    """Writes ``<root>/drums/`` (manifest + WAVs) with ``per_split`` one-shots per class and
    split (default train 4, test 1, heldout 1). Class names must come from
    ``SYNTHETIC_CLASSES``. Returns ``root``."""
    per_split = per_split or {"train": 4, "test": 1, "heldout": 1}
    rng = np.random.default_rng(seed)
    folder = Path(root) / "drums"
    rows = []
    for c in classes:
        for split, n in per_split.items():
            for i in range(n):
                rel = f"synthetic/{c}/{split}-{i:03d}.wav"
                write_wav(folder / rel, _synthetic_hit(c, rng))
                rows.append({"path": rel, "source": "synthetic", "family": c, "kit": f"kit{i % 2}",
                             "class": c, "split": split})
    (folder / "manifest.json").write_text(json.dumps(
        {"format": FORMAT, "sample_rate": SAMPLE_RATE, "samples": SAMPLES,
         "classes": list(classes), "rows": rows}, indent=1) + "\n")
    return Path(root)


def read_float(path) -> np.ndarray:
    """Any WAV as float32 mono (for renders of files outside the corpus)."""
    x, sr = read_wav(path)
    if sr != SAMPLE_RATE:
        raise ValueError(f"{path}: {sr} Hz; the model runs at {SAMPLE_RATE} Hz")
    return x


# --- a synthetic note corpus (the notes layout) ----------------------------------------------

SYNTHETIC_INSTRUMENTS = ("flute", "cello")


def _synthetic_note(instrument: str, pitch: float, rng: np.random.Generator) -> np.ndarray:
    """A harmonic tone of 36000 samples: a flute-like one (few harmonics, breath noise) or a
    cello-like one (many harmonics, a slow attack)."""
    n = SAMPLES + 1184
    t = np.arange(n) / SAMPLE_RATE
    f0 = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
    many = instrument == "cello"
    x = np.zeros(n)
    for h in range(1, 12 if many else 4):
        if h * f0 < SAMPLE_RATE / 2:
            x += np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi)) / (h if many else h * h)
    if not many:
        x += 0.05 * rng.uniform(-1, 1, n)
    x *= np.minimum(1.0, t / (0.08 if many else 0.02))
    x *= 10 ** (rng.uniform(-12, -3) / 20) / max(1e-9, np.abs(x).max())
    return x.astype(np.float32)


def write_synthetic_notes(root, per_split: Optional[Dict[str, Sequence[float]]] = None,
                          seed: int = 0) -> Path:
    """Writes ``<root>/notes/`` (manifest.csv + WAVs, the note corpus's layout) with notes of
    ``SYNTHETIC_INSTRUMENTS`` at the pitches of ``per_split`` (default train 4, test 1,
    heldout 1 per instrument). Returns ``root``."""
    import csv
    per_split = per_split or {"train": (55.0, 60.0, 67.0, 72.0), "test": (64.0,), "heldout": (62.0,)}
    rng = np.random.default_rng(seed)
    folder = Path(root) / "notes"
    rows = []
    for inst in SYNTHETIC_INSTRUMENTS:
        for split, pitches in per_split.items():
            for p in pitches:
                rel = f"notes/synthetic/{inst}/{inst}_{int(p):03d}_{split}.wav"
                write_wav(Path(root) / rel, _synthetic_note(inst, p, rng))
                rows.append({"source": "synthetic" if split != "heldout" else "other", "instrument": inst,
                             "midi_pitch": int(p), "split": split, "file": rel, "dynamics": "mf"})
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["source", "instrument", "midi_pitch", "dynamics", "split", "file"])
        w.writeheader()
        w.writerows(rows)
    return Path(root)
