"""Log-mel patches of the note corpus for the GMVAE (``timbrel.mel``: first 500 ms, 43 x 256).

Splits, as the other note models: ``train`` and ``test`` are the notes of every training
source (``training_rows``: FluidR3, Freepats, the Salamander piano) by their planned split;
``heldout`` is the held-out font's (TimGM6mb) renders of the test notes, which no model or
classifier trains on. Labels per note: instrument index (``NOTE_INSTRUMENTS`` order), MIDI
pitch, dynamics index (pp, mf, ff) and source.

Patches are cached in dB (before scaling; the model's ``db_min``/``db_max`` come from the
training split) under ``<data>/../cache/gmvae/<split>.npz``, keyed by the rows' checksums.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List

import numpy as np

from timbrel import mel
from timbrel.data.corpus import heldout_rows, load_audio, training_rows
from timbrel.data.instruments import NOTE_INSTRUMENTS

DYNAMICS = ("pp", "mf", "ff")
SPLITS = ("train", "test", "heldout")


@dataclass
class NotePatches:
    split: str
    db: np.ndarray          # [N, 43, 256] float32 band levels in dB
    instrument: np.ndarray  # [N] index into NOTE_INSTRUMENTS
    pitch: np.ndarray       # [N] MIDI
    dynamics: np.ndarray    # [N] 0..2
    source: List[str]

    def __len__(self) -> int:
        return len(self.pitch)


def rows_for(data_root, split: str) -> list:
    if split == "train":
        rows = training_rows(data_root, "notes", instruments=NOTE_INSTRUMENTS)
    elif split == "test":
        rows = training_rows(data_root, "notes", instruments=NOTE_INSTRUMENTS, split="test")
    elif split == "heldout":
        rows = heldout_rows(data_root, "notes", instruments=NOTE_INSTRUMENTS,
                            source="timgm6mb", plan_split="test")
    else:
        raise ValueError(f"split must be one of {SPLITS}")
    return sorted(rows, key=lambda r: (r["source"], r["instrument"], int(r["midi_pitch"]),
                                       r["dynamics"]))


def load_patches(data_root, split: str, cache_dir=None) -> NotePatches:
    rows = rows_for(data_root, split)
    if not rows:
        raise FileNotFoundError(f"no '{split}' notes under {data_root} (build the notes corpus)")
    key = hashlib.sha256(json.dumps([r["sha256"] for r in rows]).encode()).hexdigest()[:16]
    cache_dir = Path(cache_dir) if cache_dir else Path(data_root).parent / "cache" / "gmvae"
    cache = cache_dir / f"{split}-{key}.npz"
    meta = dict(instrument=np.array([NOTE_INSTRUMENTS.index(r["instrument"]) for r in rows]),
                pitch=np.array([int(r["midi_pitch"]) for r in rows]),
                dynamics=np.array([DYNAMICS.index(r["dynamics"]) for r in rows]),
                source=[r["source"] for r in rows])
    if cache.exists():
        return NotePatches(split, np.load(cache)["db"], **meta)
    bank = mel.filterbank()
    db = np.stack([mel.mel_db(load_audio(data_root, r), bank=bank) for r in rows]).astype(np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, db=db)
    return NotePatches(split, db, **meta)
