"""Stationary constant-Q frames of the note corpus, with their symbols, for the cross-modal VAE.

Each note of the corpus is held 2.0 s (file 2.5 s). As in the paper (trained "only on the
stationary part of the notes"), we keep the frames whose whole 2048-sample window lies in
[ATTACK_S, RELEASE_S] = [0.25 s, 1.95 s] of the note, about 138 frames per note, and drop
frames more than 60 dB under the note's loudest frame (the piano decays). Features are
``timbrel.cqt.features`` (the core's transform). Audio segments of that span are kept too,
to build random mixtures on the fly.

Splits: ``train`` and ``test`` are the notes of every training source
(``timbrel.data.sources.TRAINING_SOURCES``: FluidR3, Freepats and, for the piano, the
Salamander recordings); ``heldout`` is the held-out font's (TimGM6mb, never trained on)
renders of the test notes: an unseen font playing (pitch, dynamics) labels that no
training note has.

Frames are cached per (instrument, split) in ``data/cache/crossmodal/`` (npz), keyed by the
manifest rows' checksums, so a rerun does not recompute them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List

import numpy as np

from timbrel import cqt
from timbrel.data.corpus import heldout_rows, load_audio, training_rows
from timbrel.data.sources import HELDOUT_SOURCE

ATTACK_S = 0.25
RELEASE_S = 1.95
FLOOR_DB = 60.0
OCTAVES = list(range(9))           # octave = midi // 12 - 1: A0 (21) -> 0, C8 (108) -> 8
DYNAMICS = ("pp", "mf", "ff")
DYNAMICS_VELOCITY = (40, 80, 120)  # the note corpus's velocities (data/README.md)
TRIPLET = 12 + len(OCTAVES) + len(DYNAMICS)  # 24
SPLITS = ("train", "test", "heldout")


@dataclass
class NoteFrames:
    """Frames of one (instrument, split): features [N, 409], labels [N, 3] (pc, octave,
    dynamics), note index [N]; per note: its audio segment and its label."""
    instrument: str
    features: np.ndarray
    labels: np.ndarray
    note: np.ndarray
    segments: List[np.ndarray]
    note_labels: np.ndarray
    pitch_range: tuple


def frame_span() -> tuple:
    """First and last frame index (core stft alignment) whose window lies inside the span."""
    first = int(np.ceil((ATTACK_S * cqt.SAMPLE_RATE + cqt.WINDOW - cqt.HOP) / cqt.HOP))
    last = int(np.floor((RELEASE_S * cqt.SAMPLE_RATE - cqt.HOP) / cqt.HOP))
    return first, last


def label_of(row) -> tuple:
    return (int(row["pitch_class"]), int(row["midi_pitch"]) // 12 - 1, DYNAMICS.index(row["dynamics"]))


def one_hot(labels: np.ndarray) -> np.ndarray:
    """labels [N, 3*M] (pc, octave, dyn per instrument) -> one-hot [N, 24*M]."""
    labels = np.asarray(labels).reshape(len(labels), -1, 3)
    n, m, _ = labels.shape
    out = np.zeros((n, m, TRIPLET), np.float32)
    idx = np.arange(n)
    for i in range(m):
        out[idx, i, labels[:, i, 0]] = 1
        out[idx, i, 12 + labels[:, i, 1]] = 1
        out[idx, i, 12 + len(OCTAVES) + labels[:, i, 2]] = 1
    return out.reshape(n, m * TRIPLET)


def note_rows(root, instrument: str, split: str, sources=None) -> list:
    """The note corpus's rows of one instrument: ``train``/``test`` of the training sources
    (or of those of them in ``sources``: what a model was trained on), or ``heldout`` (the
    held-out font's renders of the test notes)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if split == "heldout":
        return heldout_rows(root, "notes", {instrument}, source=HELDOUT_SOURCE, plan_split="test")
    rows = training_rows(root, "notes", {instrument}, split)
    return rows if sources is None else [r for r in rows if r["source"] in sources]


def load_frames(root, instrument: str, split: str, cache_dir=None, sources=None) -> NoteFrames:
    rows = note_rows(root, instrument, split, sources)
    if not rows:
        raise ValueError(f"no {split} notes of '{instrument}' in {root}/notes/manifest.csv")
    key = hashlib.sha256(json.dumps([r["sha256"] for r in rows] + [split, ATTACK_S, RELEASE_S, FLOOR_DB,
                                    cqt.N_BINS, cqt.WINDOW, cqt.HOP, cqt.LOG_FLOOR]).encode()).hexdigest()[:16]
    cache = Path(cache_dir or Path(root).parent / "cache" / "crossmodal") / f"{instrument}_{split}_{key}.npz"
    first, last = frame_span()
    seg_start = first * cqt.HOP - (cqt.WINDOW - cqt.HOP)
    seg_end = last * cqt.HOP + cqt.HOP
    if cache.exists():
        z = np.load(cache)
        segments = np.split(z["segments"], len(z["note_labels"]))
        return NoteFrames(instrument, z["features"], z["labels"], z["note"], segments,
                          z["note_labels"], tuple(z["pitch_range"]))
    feats, labels, notes, segments, note_labels = [], [], [], [], []
    for i, row in enumerate(rows):
        x = load_audio(root, row).astype(np.float64)
        f = cqt.features(x)[first:last + 1]
        mag = cqt.from_features(f)
        level = 20 * np.log10(np.maximum(mag.sum(axis=1), 1e-12))
        keep = level >= level.max() - FLOOR_DB
        feats.append(f[keep].astype(np.float32))
        labels.append(np.tile(label_of(row), (int(keep.sum()), 1)))
        notes.append(np.full(int(keep.sum()), i))
        segments.append(x[seg_start:seg_end].astype(np.float32))
        note_labels.append(label_of(row))
    pitches = [int(r["midi_pitch"]) for r in rows]
    out = NoteFrames(instrument, np.concatenate(feats), np.concatenate(labels).astype(np.int64),
                     np.concatenate(notes), segments, np.asarray(note_labels, np.int64),
                     (min(pitches), max(pitches)))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, features=out.features, labels=out.labels, note=out.note,
             segments=np.concatenate(segments), note_labels=out.note_labels,
             pitch_range=np.asarray(out.pitch_range))
    return out


def mixture_batch(sources: List[NoteFrames], count: int, rng: np.random.Generator):
    """Random mixtures, one note of each source per item (the paper's random mixtures):
    audio frames [count, WINDOW] (sum of one random window of each note's stationary
    segment, equal gains) and labels [count, 3 * len(sources)]."""
    frames = np.zeros((count, cqt.WINDOW), np.float32)
    labels = np.zeros((count, 3 * len(sources)), np.int64)
    for s, src in enumerate(sources):
        notes = rng.integers(0, len(src.segments), count)
        for i, n in enumerate(notes):
            seg = src.segments[n]
            o = int(rng.integers(0, len(seg) - cqt.WINDOW + 1))
            frames[i] += seg[o:o + cqt.WINDOW]
        labels[:, 3 * s:3 * s + 3] = src.note_labels[notes]
    return frames, labels
