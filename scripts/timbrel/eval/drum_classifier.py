"""Reference drum classifier: the judge of the grains model's samples (issue 15, Evaluation).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.drum_classifier --data $TIMBREL_DATA/full \\
        --runs $TIMBREL_DATA/runs [--retrain] [--epochs N] [--threads 1]

A small CNN on the log-mel spectrogram of a whole one-shot (the drum corpus's 34816 samples
at 22050 Hz, onset at ~2 ms; ``timbrel.train.grains_data``), one label of the manifest's
classes per one-shot. Trained on the ``train`` split (class-balanced draws, waveform
augmentation), scored on ``test`` (the training sources' unseen groups) and ``heldout``
(TimGM6mb and csound's bank, which shares its recordings: never trained on).

- Features (``features``): Hann 1024, hop 256, 64 HTK mel bands 30-11025 Hz (the
  reference instrument classifier's filterbank, ``timbrel.eval.features``), 10 log10 of
  the band power; in dB below the one-shot's loudest cell, floored at -80 dB, mapped to
  [-1, 1]: the level of the hit does not matter, its spectrum and envelope do.
- Network (``DrumCNN``): four 3x3 conv blocks (batch norm, ReLU, 2x2 max-pool) of 16, 32,
  64, 64 channels over [133 frames x 64 bands] -> [8 x 4] -> dropout -> linear 128 ->
  linear classes. The time axis is kept (one-shots are onset-aligned: the decay is part
  of the class).
- Augmentation (``augment_batch``; each draw from a seeded torch.Generator): a time shift
  of -2..+20 ms, then ``timbrel.train.augment`` with ``ROOM``: a short room (p 0.5, RT60
  0.05-0.3 s, DRR 3-20 dB), an EQ tilt (p 0.7, +-6 dB/decade), a noise floor (p 0.5,
  35-60 dB under the rms), a gain of -12..+6 dB.
- Checkpoint: ``<runs>/drum-classifier/drum_classifier.pt`` (state_dict, config, the
  training rows' key) and ``metrics.json``; reused when its config and the corpus's
  training rows are the same (``--retrain`` forces a new one). 40 epochs of 29 steps: 10 min
  at 1 thread on this 2-core machine with two trainings beside it (0.4 s a step).

Scores (``score``): accuracy, macro F1 over the classes present, per class precision /
recall / F1 and the confusion matrix (rows: true class, columns: predicted), and the most
frequent confusions, so that classes that are ambiguous across kits show with numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from timbrel.train.augment import AugmentConfig, augment

SEED = 20261217
SAMPLE_RATE = 22050
SAMPLES = 34816                 # a one-shot of the drum corpus (65 grains)
N_FFT = 1024
HOP = 256
N_MELS = 64
FLOOR_DB = 80.0
EPOCHS = 40
BATCH = 32
LR = 2e-3
SHIFT_MS = (-2.0, 20.0)
ROOM = AugmentConfig(p_room=0.5, rt60=(0.05, 0.3), drr_db=(3.0, 20.0), p_tilt=0.7,
                     p_noise=0.5, noise_db=(-60.0, -35.0), gain_db=(-12.0, 6.0))
FOLDER = "drum-classifier"
WEIGHTS = "drum_classifier.pt"


# --- features and network ------------------------------------------------------------------

_BANK: Dict = {}


def _bank(dtype=torch.float32):
    if dtype not in _BANK:
        from timbrel.eval.features import mel_filterbank
        n = torch.arange(N_FFT, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / N_FFT)
        fb = torch.from_numpy(mel_filterbank(N_MELS, N_FFT, SAMPLE_RATE)).T
        _BANK[dtype] = (window.to(dtype), fb.to(dtype))
    return _BANK[dtype]


def features(audio) -> torch.Tensor:
    """[B, L] float audio -> [B, T, 64] in [-1, 1], T = 1 + (L - 1024) // 256 (133 for a
    one-shot): log-mel dB relative to the item's loudest cell, floored at -80 dB."""
    x = torch.as_tensor(audio, dtype=torch.float32)
    if x.ndim == 1:
        x = x[None]
    window, fb = _bank()
    spec = torch.fft.rfft(x.unfold(-1, N_FFT, HOP) * window, dim=-1)
    db = 10.0 * torch.log10((spec.real ** 2 + spec.imag ** 2) @ fb + 1e-12)
    db = db - db.amax(dim=(-2, -1), keepdim=True)
    return db.clamp_min(-FLOOR_DB) / (FLOOR_DB / 2) + 1.0


class DrumCNN(nn.Module):
    def __init__(self, classes: int, channels: Sequence[int] = (16, 32, 64, 64), hidden: int = 128,
                 dropout: float = 0.3, frames: int = 133, bands: int = N_MELS):
        super().__init__()
        layers: List[nn.Module] = []
        c_in = 1
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in = c
            frames, bands = frames // 2, bands // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c_in * frames * bands, hidden), nn.ReLU(),
                                  nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, bands] features -> [B, classes] logits."""
        return self.head(self.features(x.unsqueeze(1)))


def augment_batch(x: torch.Tensor, gen: torch.Generator, cfg: AugmentConfig = ROOM) -> torch.Tensor:
    """[B, L] one-shots -> the same shifted by -2..+20 ms (zeros shifted in), through a room,
    a tilt, a noise floor and a gain (module doc)."""
    B, L = x.shape
    lo, hi = (int(round(ms * SAMPLE_RATE / 1000)) for ms in SHIFT_MS)
    shifts = torch.randint(lo, hi + 1, (B,), generator=gen)
    pad = max(-lo, hi)
    xp = F.pad(x, (pad, pad))
    idx = (torch.arange(L)[None, :] + pad - shifts[:, None])
    shifted = torch.gather(xp, 1, idx)
    return augment(shifted, gen, cfg)


# --- scores ----------------------------------------------------------------------------------

def score(pred: np.ndarray, true: np.ndarray, classes: Sequence[str]) -> Dict:
    """Accuracy, macro F1 (over the classes present in ``true``), per class precision,
    recall, F1 and count, the confusion matrix (rows true, columns predicted) and the
    confusions (true -> predicted) holding at least 10 % of a class, most frequent (then
    largest share) first."""
    k = len(classes)
    pred, true = np.asarray(pred, np.int64), np.asarray(true, np.int64)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (true, pred), 1)
    per: Dict[str, Dict] = {}
    f1s = []
    for i, c in enumerate(classes):
        tp, n, p = int(confusion[i, i]), int(confusion[i].sum()), int(confusion[:, i].sum())
        f1 = 2 * tp / (n + p) if n + p else 0.0
        per[c] = {"n": n, "precision": round(tp / p, 4) if p else None,
                  "recall": round(tp / n, 4) if n else None, "f1": round(f1, 4) if n else None}
        if n:
            f1s.append(f1)
    pairs = [(int(confusion[i, j]), classes[i], classes[j], confusion[i, j] / confusion[i].sum())
             for i in range(k) for j in range(k) if i != j and confusion[i, j]]
    pairs.sort(key=lambda t: (-t[0], -t[3], t[1], t[2]))
    return {"items": int(len(true)),
            "accuracy": round(float((pred == true).mean()), 4) if len(true) else None,
            "macro_f1": round(float(np.mean(f1s)), 4) if f1s else None,
            "per_class": per, "confusion": confusion.tolist(),
            "confusions": [{"true": a, "predicted": b, "count": n, "share": round(float(s), 3)}
                           for n, a, b, s in pairs if s >= 0.1]}


def confusion_rows(pred: np.ndarray, data, min_share: float = 0.1) -> List[Dict]:
    """What plays where the classifier is wrong: per confusion (true -> predicted) holding at
    least ``min_share`` of a class of ``data`` (a DrumSet), the count and the manifest's
    instrument names (source / kit: name) of those one-shots, most frequent first."""
    out = []
    for c in score(pred, data.label, data.classes)["confusions"]:
        if c["share"] < min_share:
            continue
        i, j = data.classes.index(c["true"]), data.classes.index(c["predicted"])
        names: Dict[str, int] = {}
        for k in np.flatnonzero((data.label == i) & (pred == j)):
            r = data.rows[k]
            note = f" key {r['gm_note']}" if r.get("gm_note") is not None else ""
            name = r.get("instrument_name") or r["path"]
            key = f"{r.get('source', '?')} {r.get('kit', '?')}{note}: {name}"
            names[key] = names.get(key, 0) + 1
        out.append(dict(c, rows=dict(sorted(names.items(), key=lambda t: (-t[1], t[0])))))
    return out


# --- the classifier --------------------------------------------------------------------------

class DrumClassifier:
    """A trained DrumCNN and its classes: ``logits`` / ``predict`` of [B, L] audio."""

    def __init__(self, model: DrumCNN, classes: Sequence[str], info: Optional[Dict] = None):
        self.model, self.classes, self.info = model.eval(), list(classes), dict(info or {})

    @torch.no_grad()
    def logits(self, audio, batch: int = 64) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(audio, np.float32) if not torch.is_tensor(audio) else audio)
        x = x.float().reshape(-1, x.shape[-1])
        if x.shape[-1] != SAMPLES:
            raise ValueError(f"the drum classifier takes one-shots of {SAMPLES} samples "
                             f"(the corpus's), got {x.shape[-1]}")
        if len(x) == 0:
            return torch.zeros(0, len(self.classes))
        self.model.eval()
        return torch.cat([self.model(features(x[s:s + batch])) for s in range(0, len(x), batch)])

    def predict(self, audio, batch: int = 64) -> np.ndarray:
        return self.logits(audio, batch).argmax(-1).numpy()

    def predict_set(self, data, chunk: int = 256) -> np.ndarray:
        """Labels of every one-shot of a DrumSet (read ``chunk`` at a time)."""
        if not len(data):
            return np.zeros(0, np.int64)
        return np.concatenate([self.predict(data.batch(np.arange(s, min(len(data), s + chunk))))
                               for s in range(0, len(data), chunk)])


def corpus_key(data) -> str:
    """The training rows (paths and checksums) the classifier learns from."""
    h = hashlib.sha256()
    for r in data.rows:
        h.update(f"{r['path']}|{r['class']}|{r.get('sha256', '')}\n".encode())
    return h.hexdigest()[:16]


def config(epochs: int = EPOCHS, seed: int = SEED) -> Dict:
    return {"features": {"n_fft": N_FFT, "hop": HOP, "mels": N_MELS, "floor_db": FLOOR_DB},
            "model": {"channels": [16, 32, 64, 64], "hidden": 128, "dropout": 0.3},
            "epochs": int(epochs), "batch": BATCH, "lr": LR, "seed": int(seed),
            "shift_ms": list(SHIFT_MS), "augmentation": ROOM.describe()}


def train(train_set, epochs: int = EPOCHS, seed: int = SEED, log=print) -> DrumClassifier:
    """Trains a DrumCNN on a DrumSet: class-balanced draws (each class equally likely, one
    epoch = len(train_set) draws), augmented waveforms, Adam with a cosine decay to 10 %;
    then the batch norms' statistics from one pass over the training split."""
    cfg = config(epochs, seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    k = len(train_set.classes)
    model = DrumCNN(k, **cfg["model"])
    opt = torch.optim.Adam(model.parameters(), LR)
    counts = np.bincount(train_set.label, minlength=k).astype(np.float64)
    present = counts > 0
    weight = np.where(present, 1.0 / np.maximum(counts, 1), 0.0)[train_set.label]
    weight /= weight.sum()
    steps = max(1, len(train_set) // BATCH)
    t0 = time.time()
    for epoch in range(epochs):
        lr = LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * epoch / max(1, epochs))))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        total, right, loss_sum = 0, 0, 0.0
        for _ in range(steps):
            idx = rng.choice(len(train_set), BATCH, p=weight)
            x = augment_batch(torch.from_numpy(train_set.batch(idx)), gen)
            y = torch.from_numpy(train_set.label[idx])
            logits = model(features(x))
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss) * len(idx)
            right += int((logits.argmax(-1) == y).sum())
            total += len(idx)
        log(f"epoch {epoch + 1}/{epochs} loss {loss_sum / total:.3f} train acc (augmented) "
            f"{right / total:.3f} {time.time() - t0:.0f} s")
    calibrate_batchnorm(model, train_set, gen)
    info = {"config": cfg, "classes": list(train_set.classes), "corpus_key": corpus_key(train_set),
            "train_items": int(len(train_set)), "train_counts": train_set.counts(),
            "seconds": round(time.time() - t0, 1), "threads": torch.get_num_threads(),
            "parameters": int(sum(p.numel() for p in model.parameters()))}
    return DrumClassifier(model, train_set.classes, info)


@torch.no_grad()
def calibrate_batchnorm(model: DrumCNN, train_set, gen: torch.Generator) -> None:
    """Sets the batch norms' running statistics to the exact averages over the training
    split (augmented, as trained) under the final weights: the running averages of the last
    steps lag the weights, which matters most when there are few steps."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for s in range(0, len(train_set), 64):
        idx = np.arange(s, min(len(train_set), s + 64))
        model.features(features(augment_batch(torch.from_numpy(train_set.batch(idx)), gen)).unsqueeze(1))
    for m in norms:
        m.momentum = 0.1
    model.eval()


def save(clf: DrumClassifier, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": clf.model.state_dict(), "info_json": json.dumps(clf.info)}, tmp)
    tmp.replace(path)
    return path


def load(path) -> DrumClassifier:
    blob = torch.load(Path(path), map_location="cpu")
    info = json.loads(blob["info_json"])
    model = DrumCNN(len(info["classes"]), **info["config"]["model"])
    model.load_state_dict(blob["state_dict"])
    return DrumClassifier(model, info["classes"], info)


# The same network judges the pitched one-shots' instruments (corpus "notes": the note
# corpus cut as timbrel.train.grains_data does), kept in its own folder.
NOTES_FOLDER = "note-classifier"


def load_or_train(data_root, runs, epochs: int = EPOCHS, seed: int = SEED, retrain: bool = False,
                  log=print, corpus: str = "drums") -> DrumClassifier:
    """The classifier of ``<runs>/drum-classifier/`` (``corpus`` "notes": of the pitched
    one-shots' instruments, ``<runs>/note-classifier/``), trained (and saved) when missing,
    when ``retrain`` or when its config or the corpus's training rows differ."""
    from timbrel.train.grains_data import load_split
    path = Path(runs) / (NOTES_FOLDER if corpus == "notes" else FOLDER) / WEIGHTS
    train_set = load_split(data_root, "train", corpus=corpus)
    if len(train_set) == 0:
        raise ValueError(f"no 'train' one-shots in the {corpus} corpus under {data_root}")
    if path.exists() and not retrain:
        clf = load(path)
        if (clf.info.get("config") == config(epochs, seed) and clf.classes == train_set.classes
                and clf.info.get("corpus_key") == corpus_key(train_set)):
            return clf
        log(f"{path}: another config or corpus; training again")
    log(f"training the reference drum classifier on {len(train_set)} one-shots ({epochs} epochs)")
    clf = train(train_set, epochs, seed, log)
    save(clf, path)
    return clf


def evaluate_sets(clf: DrumClassifier, sets: Dict) -> Tuple[Dict, Dict[str, np.ndarray]]:
    """Scores of DrumSets by split name (with the confusions' rows; for ``heldout`` also
    per source) and the labels given to each set's one-shots."""
    out: Dict = {}
    preds: Dict[str, np.ndarray] = {}
    keep = ("items", "accuracy", "macro_f1")
    for split, data in sets.items():
        if not len(data):
            continue
        pred = preds[split] = clf.predict_set(data)
        out[split] = dict(score(pred, data.label, clf.classes),
                          confusion_rows=confusion_rows(pred, data))
        if split == "heldout":
            src = np.array([r.get("source", "?") for r in data.rows])
            out["heldout_by_source"] = {
                s: {k: v for k, v in score(pred[src == s], data.label[src == s], clf.classes).items()
                    if k in keep} for s in sorted(set(src))}
    return out, preds


def evaluate(clf: DrumClassifier, data_root, corpus: str = "drums") -> Dict:
    """Scores on the corpus's test and heldout splits (``evaluate_sets``)."""
    from timbrel.train.grains_data import load_split
    return evaluate_sets(clf, {s: load_split(data_root, s, corpus=corpus)
                               for s in ("test", "heldout")})[0]


def table(result: Dict, classes: Sequence[str]) -> str:
    """Per class recall and F1 on test and heldout (Markdown)."""
    splits = [s for s in ("test", "heldout") if s in result]
    lines = ["| class | " + " | ".join(f"{s} n | {s} recall | {s} F1" for s in splits) + " |",
             "|---|" + "---:|---:|---:|" * len(splits)]
    f = lambda v: "-" if v is None else f"{v:.2f}"
    for c in classes:
        lines.append(f"| {c} | " + " | ".join(
            f"{result[s]['per_class'][c]['n']} | {f(result[s]['per_class'][c]['recall'])} | "
            f"{f(result[s]['per_class'][c]['f1'])}" for s in splits) + " |")
    lines.append("| **all** | " + " | ".join(
        f"{result[s]['items']} | **{result[s]['accuracy']:.3f}** (accuracy) | "
        f"**{result[s]['macro_f1']:.3f}** (macro)" for s in splits) + " |")
    return "\n".join(lines)


def confusion_table(confusion, classes: Sequence[str]) -> str:
    short = [c[:6] for c in classes]
    lines = ["| true \\ predicted | " + " | ".join(short) + " |", "|---|" + "---:|" * len(classes)]
    for c, row in zip(classes, confusion):
        lines.append(f"| {c} | " + " | ".join(str(v) if v else "." for v in row) + " |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/full")
    p.add_argument("--runs", default="data/runs")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--retrain", action="store_true", help="train again even if a checkpoint fits")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--corpus", choices=("drums", "notes"), default="drums",
                   help="notes: judge the pitched one-shots' instruments (<runs>/note-classifier/)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        clf = load_or_train(args.data, args.runs, args.epochs, args.seed, args.retrain,
                            corpus=args.corpus)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result = {"info": clf.info, **evaluate(clf, args.data, args.corpus)}
    out = Path(args.runs) / (NOTES_FOLDER if args.corpus == "notes" else FOLDER) / "metrics.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result, clf.classes))
    for split in ("test", "heldout"):
        if split in result:
            print(f"\n{split} confusion:\n" + confusion_table(result[split]["confusion"], clf.classes))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
