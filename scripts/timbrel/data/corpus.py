"""Reading built corpora back: manifest rows and audio (numpy/scipy only)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .audio import read_wav

INT_COLUMNS = {"program", "midi_pitch", "pitch_class", "octave", "velocity", "phrase", "notes",
               "low", "high", "cc11_low", "cc11_high"}
FLOAT_COLUMNS = {"duration_s", "tempo", "vibrato_rate", "vibrato_cents"}


def read_manifest(root, corpus: str) -> list[dict]:
    """Rows of <root>/<corpus>/manifest.csv with numeric columns converted."""
    path = Path(root) / corpus / "manifest.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build it with "
                                f"`PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data build`")
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k in list(r):
                if k in INT_COLUMNS and r[k] != "":
                    r[k] = int(r[k])
                elif k in FLOAT_COLUMNS and r[k] != "":
                    r[k] = float(r[k])
            rows.append(r)
    return rows


def select(rows: list[dict], split: str | None = None, instruments=None) -> list[dict]:
    return [r for r in rows
            if (split is None or r.get("split") == split)
            and (instruments is None or r.get("instrument") in instruments)]


def load_audio(root, row: dict) -> np.ndarray:
    x, sr = read_wav(Path(root) / row["file"])
    if sr != 22050:  # pragma: no cover
        raise ValueError(f"{row['file']}: {sr} Hz, expected 22050")
    return x
