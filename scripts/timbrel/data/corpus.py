"""Reading built corpora back: manifest rows and audio (numpy/scipy only).

Every manifest row has a `source` (sources.SOURCES, or "espeak-ng" for the voice-like
inputs). `read_manifest(root, corpus)` returns the reference source's rows (FluidR3,
what every consumer read before there were several sources) and the voice rows;
pass `sources="all"` or a list of names for more. A trainer that wants every source
it may learn from uses `training_rows`; a judge uses `heldout_rows`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .audio import read_wav
from .sources import NEVER_TRAIN, REFERENCE_SOURCE, TRAINING_SOURCES, VOICE_SOURCE

INT_COLUMNS = {"program", "midi_pitch", "pitch_class", "octave", "velocity", "phrase", "notes",
               "low", "high", "cc11_low", "cc11_high"}
FLOAT_COLUMNS = {"duration_s", "tempo", "vibrato_rate", "vibrato_cents"}
DEFAULT = "default"


def shown(text) -> str:
    """`text` (a path or a command line) with this machine's data root written as
    $TIMBREL_DATA, for cards and READMEs that other machines read."""
    import os
    text = str(text)
    root = os.environ.get("TIMBREL_DATA")
    if root:
        for prefix in {str(Path(root)), str(Path(root).resolve())}:
            text = text.replace(prefix, "$TIMBREL_DATA")
    return text


def read_manifest(root, corpus: str, sources=DEFAULT) -> list[dict]:
    """Rows of <root>/<corpus>/manifest.csv with numeric columns converted.

    sources: DEFAULT (the reference source and the voice-like inputs), "all", or an
    iterable of source names. A manifest written before sources existed (no `source`
    column) was rendered from FluidR3: its rows get source = REFERENCE_SOURCE."""
    path = Path(root) / corpus / "manifest.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build it with "
                                f"`PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data build`")
    if sources == DEFAULT:
        wanted = {REFERENCE_SOURCE, VOICE_SOURCE}
    elif sources == "all" or sources is None:
        wanted = None
    else:
        wanted = {sources} if isinstance(sources, str) else set(sources)
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if not r.get("source"):
                r["source"] = VOICE_SOURCE if corpus == "voice" else REFERENCE_SOURCE
            if "split" in r and not r.get("plan_split"):
                r["plan_split"] = r["split"]
            if wanted is not None and r["source"] not in wanted:
                continue
            for k in list(r):
                if k in INT_COLUMNS and r[k] != "":
                    r[k] = int(r[k])
                elif k in FLOAT_COLUMNS and r[k] != "":
                    r[k] = float(r[k])
            rows.append(r)
    return rows


def select(rows: list[dict], split: str | None = None, instruments=None, sources=None) -> list[dict]:
    """Rows of one split, instrument set and source set. split="train" never returns a
    row of a never-trained source (sources.NEVER_TRAIN), whatever its manifest says."""
    return [r for r in rows
            if (split is None or r.get("split") == split)
            and not (split == "train" and r.get("source") in NEVER_TRAIN)
            and (instruments is None or r.get("instrument") in instruments)
            and (sources is None or r.get("source") in sources)]


def training_rows(root, corpus: str, instruments=None, split: str = "train") -> list[dict]:
    """Rows a model may learn from: every training source (sources.TRAINING_SOURCES), one split
    ("train", or "test" for the same sources' test phrases)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, not {split!r}")
    rows = read_manifest(root, corpus, sources=TRAINING_SOURCES)
    return select(rows, split, instruments, sources=set(TRAINING_SOURCES))


def heldout_rows(root, corpus: str, instruments=None, source: str | None = None,
                 plan_split: str | None = None) -> list[dict]:
    """Rows of the never-trained sources (default: all of them; or one `source`), optionally
    only those whose phrase/note the training sources hold in `plan_split` ("test": unseen
    phrases in an unseen font)."""
    names = (source,) if source else NEVER_TRAIN
    if source and source not in NEVER_TRAIN:
        raise ValueError(f"{source} is a training source, not a held-out one ({NEVER_TRAIN})")
    rows = select(read_manifest(root, corpus, sources=names), "heldout", instruments)
    return [r for r in rows if plan_split is None or r.get("plan_split") == plan_split]


def load_audio(root, row: dict) -> np.ndarray:
    x, sr = read_wav(Path(root) / row["file"])
    if sr != 22050:  # pragma: no cover
        raise ValueError(f"{row['file']}: {sr} Hz, expected 22050")
    return x
