"""Frame-wise reference instrument classifier (13 classes): the judge of transfer accuracy.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.classifier train \\
        [--data $TIMBREL_DATA/full] [--out models/classifier] [--steps 12000] [--seed 0]
        [--channels 32,64,128,128] [--hidden 256] [--threads 2] [--run-dir DIR]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.classifier card [--dir models/classifier]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.classifier predict FILE.wav [...]

Input: frames of 4096 samples at 22050 Hz (hop 2048 when scoring), each as a
13 x 64 log-mel patch (timbrel.eval.features), minus its own mean (so the
level does not matter) and divided by 20 dB. Network: four 3x3 conv blocks
(batch norm, ReLU, pooling over frequency and once over time), mean over time,
dropout, linear -> hidden -> 13. Frames whose rms is below -60 dBFS are silent:
never trained on, never scored.

`train` learns from every training source (timbrel.data.sources.TRAINING_SOURCES:
FluidR3, Freepats; performance corpus and the note corpus' instruments that are
classes), class- then source-balanced, each excerpt through a synthetic room and
microphone (timbrel.train.augment) and a log-mel colouration (_augment). It never
sees the held-out font (TimGM6mb) or csound's bank, which shares its recordings.
It scores every set of eval_sets(): each training source's test phrases and the
held-out fonts (test phrases: unseen font and unseen phrases; and every phrase),
and writes classifier.pt (state_dict + config), metrics.json and MODEL_CARD.md.
The judge is fit for quoting transfer accuracy when its held-out frame accuracy
(PRIMARY) reaches BAR = 0.85 (issue 13); metrics.json says so in `passed`.
"""

from __future__ import annotations

from timbrel.data.corpus import shown

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from timbrel.data.instruments import PERFORMANCE_INSTRUMENTS
from timbrel.eval import features as F

REPO = Path(__file__).resolve().parents[3]
DEFAULT_DIR = REPO / "models" / "classifier"
DEFAULT_WEIGHTS = DEFAULT_DIR / "classifier.pt"
LABELS = tuple(PERFORMANCE_INSTRUMENTS)
FLUID_R3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


class FrameClassifier(nn.Module):
    def __init__(self, n_classes: int = len(LABELS), n_mels: int = F.N_MELS,
                 channels=(16, 32, 64, 64), hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        pools = ((1, 2), (2, 2), (1, 2), (1, 1))     # (time, freq)
        layers = []
        c_in = 1
        for c, pool in zip(channels, pools):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            if pool != (1, 1):
                layers.append(nn.MaxPool2d(pool))
            c_in = c
        self.features = nn.Sequential(*layers)
        freq = n_mels
        for p in pools:
            freq //= p[1]
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(channels[-1] * freq, hidden), nn.ReLU(),
                                  nn.Linear(hidden, n_classes))

    @staticmethod
    def normalise(patches: torch.Tensor) -> torch.Tensor:
        return (patches - patches.mean(dim=(-2, -1), keepdim=True)) / 20.0

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """patches: [B, 13, 64] log-mel dB -> logits [B, classes]."""
        h = self.features(self.normalise(patches).unsqueeze(1))   # [B, C, T', F']
        return self.head(h.mean(dim=2))


def _torch_load(path):
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except TypeError:  # pragma: no cover - very old torch
        return torch.load(str(path), map_location="cpu")


class Classifier:
    """Loaded classifier: predict(audio) -> (label names per frame, non-silent mask)."""

    def __init__(self, path=DEFAULT_WEIGHTS):
        blob = _torch_load(path)
        self.config = json.loads(blob["config_json"])
        self.labels = tuple(self.config["labels"])
        self.model = FrameClassifier(len(self.labels), **self.config["model"])
        self.model.load_state_dict(blob["state_dict"])
        self.model.eval()

    @torch.no_grad()
    def logits(self, audio: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        patches, loud = F.frames(audio)
        if len(patches) == 0:
            return torch.zeros((0, len(self.labels))), loud
        out = torch.cat([self.model(patches[i:i + 512]) for i in range(0, len(patches), 512)])
        return out, loud

    def predict(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, loud = self.logits(audio)
        idx = logits.argmax(dim=-1).numpy() if len(logits) else np.zeros(0, dtype=np.int64)
        return np.array([self.labels[i] for i in idx], dtype=object), loud


_LOADED: dict = {}


def load(path=DEFAULT_WEIGHTS) -> Classifier:
    key = str(Path(path).resolve())
    if key not in _LOADED:
        _LOADED[key] = Classifier(path)
    return _LOADED[key]


# --- training ------------------------------------------------------------------

AUGMENTATION = ("spectral tilt +-6 dB (1/2 of patches), smooth random EQ +-6 dB (1/2), "
                "one-mel-band shift (1/4), noise floor 35-75 dB under the patch peak (1/3), "
                "one 0-6-band frequency mask (1/2)")
AUGMENTATION_V1 = ("noise floor 35-75 dB under the patch peak (1/3 of patches), "
                   "one 0-6-band frequency mask (1/2)")


def _augment(patches: torch.Tensor, gen: torch.Generator, eq_db: float = 6.0,
             eq_bumps: int = 3) -> torch.Tensor:
    """Colourations a recording or another soundfont could bring, applied to log-mel
    patches [B, 13, 64] (dB): a spectral tilt (+-6 dB across the bands) and a smooth
    random EQ (eq_bumps bumps of +-eq_dB, 3-10 bands wide: another instrument body or
    sample's resonances) on half of the patches each, a shift by one mel band (about
    1-2 semitones of pitch and formants) on a quarter, a noise floor 35-75 dB under the
    patch peak on a third, and one 0-6-band frequency mask on half."""
    B, T, M = patches.shape
    bands = torch.arange(M, dtype=patches.dtype)
    x = (bands / (M - 1) - 0.5)[None, None, :]
    tilt = (torch.rand((B, 1, 1), generator=gen) * 12.0 - 6.0) * x
    use = torch.rand((B, 1, 1), generator=gen) < 0.5
    patches = patches + torch.where(use, tilt, torch.zeros_like(tilt))
    centres = torch.rand((B, eq_bumps, 1), generator=gen) * M
    widths = 3.0 + 7.0 * torch.rand((B, eq_bumps, 1), generator=gen)
    gains = (torch.rand((B, eq_bumps, 1), generator=gen) * 2.0 - 1.0) * eq_db
    eq = (gains * torch.exp(-0.5 * ((bands[None, None, :] - centres) / widths) ** 2)).sum(1, keepdim=True)
    use = torch.rand((B, 1, 1), generator=gen) < 0.5
    patches = patches + torch.where(use, eq, torch.zeros_like(eq))
    shift = torch.randint(-1, 2, (B,), generator=gen)
    shift = torch.where(torch.rand((B,), generator=gen) < 0.25, shift, torch.zeros_like(shift))
    idx = (bands.long()[None, :] - shift[:, None]).clamp(0, M - 1)
    patches = torch.gather(patches, 2, idx[:, None, :].expand(B, T, M))
    peak = patches.amax(dim=(-2, -1), keepdim=True)
    floor = peak - 35.0 - 40.0 * torch.rand((B, 1, 1), generator=gen)
    use = torch.rand((B, 1, 1), generator=gen) < 0.33
    ln10 = math.log(10.0) / 10.0
    noisy = torch.logaddexp(patches * ln10, floor * ln10) / ln10
    patches = torch.where(use, noisy, patches)
    width = torch.randint(0, 7, (B,), generator=gen)
    start = torch.randint(0, M - 6, (B,), generator=gen)
    use = torch.rand((B,), generator=gen) < 0.5
    mask = use[:, None] & (bands[None, :] >= start[:, None]) & (bands[None, :] < (start + width)[:, None])
    mean = patches.mean(dim=(-2, -1), keepdim=True)
    return torch.where(mask[:, None, :], mean.expand_as(patches), patches)


@torch.no_grad()
def score(clf_model, items, labels=LABELS) -> dict:
    """items: [(audio, true label name)] -> accuracy, per-class counts, confusion matrix."""
    clf_model.eval()
    n = len(labels)
    confusion = np.zeros((n, n), dtype=np.int64)
    frames_total = frames_silent = 0
    for audio, name in items:
        patches, loud = F.frames(audio)
        frames_total += len(loud)
        frames_silent += int((~loud).sum())
        if not loud.any():
            continue
        pred = clf_model(patches[torch.from_numpy(loud)]).argmax(dim=-1).numpy()
        np.add.at(confusion, (np.full(len(pred), labels.index(name)), pred), 1)
    scored = int(confusion.sum())
    acc = float(np.trace(confusion) / scored) if scored else math.nan
    per_class = {labels[i]: (float(confusion[i, i] / confusion[i].sum()) if confusion[i].sum() else None)
                 for i in range(n)}
    return dict(accuracy=acc, frames=scored, silent_frames=frames_silent,
                frames_total=frames_total, per_class=per_class, confusion=confusion.tolist())


def _sf_info(path: Path) -> dict:
    """INAM/IENG strings of a SoundFont's RIFF INFO list (name, engineers/credits)."""
    out = {}
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return out
    for tag in (b"INAM", b"IENG"):
        i = head.find(tag)
        if i >= 0:
            n = int.from_bytes(head[i + 4:i + 8], "little")
            out[tag.decode().lower()] = head[i + 8:i + 8 + n].split(b"\0")[0].decode("latin-1").strip()
    return out


def _font_info(font: str) -> dict:
    p = Path(font)
    real = p.resolve() if p.exists() else None
    info = dict(font=font, exists=p.exists(), resolves_to=str(real) if real else None,
                same_as_fluidr3=bool(real and real == Path(FLUID_R3).resolve()))
    if real:
        info.update(_sf_info(real))
        credits = info.get("ieng", "") + " " + info.get("inam", "")
        info["derived_from_fluidr3"] = (not info["same_as_fluidr3"]) and "fluid" in credits.lower()
    return info


def _rerender(rows, root, font):
    """The phrases re-rendered from their .mid with another font (one fluidsynth run)."""
    from timbrel.data.render import render_midi_files
    audio = render_midi_files([Path(root) / r["midi"] for r in rows], font)
    return [(x, r["instrument"]) for x, r in zip(audio, rows)]


# --- multi-source training ------------------------------------------------------

BAR = 0.85                  # held-out frame accuracy the judge must reach (issue 13)
EXTRA_FONTS = ("/usr/share/sounds/sf3/MuseScore_General.sf3",)   # FluidR3-derived: a weak test


class WaveBank:
    """Training audio of every row (int16, each row preceded by `context` zeros so an
    excerpt never reaches into the previous row), the non-silent 4096-sample frame
    starts of each row (step 256), and their class and source."""

    def __init__(self, rows, root, context: int, log=print):
        from timbrel.data.corpus import load_audio
        chunks, starts, labels, sources = [], [], [], []
        self.sources = sorted({r["source"] for r in rows})
        offset = 0
        for r in rows:
            x = load_audio(root, r)
            if len(x) >= F.FRAME:
                t = np.arange(0, len(x) - F.FRAME + 1, F.HOP)
                t = t[F.frame_rms_db(x, t) >= F.SILENCE_DB]
                starts.append(offset + context + t)
                labels.append(np.full(len(t), LABELS.index(r["instrument"])))
                sources.append(np.full(len(t), self.sources.index(r["source"])))
            chunks.append(np.zeros(context, np.int16))
            chunks.append(np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16))
            offset += context + len(x)
        self.audio = np.concatenate(chunks)
        self.starts = np.concatenate(starts)
        self.labels = np.concatenate(labels)
        self.source_of = np.concatenate(sources)
        self.context = context
        # class-balanced, then source-balanced draws: every (class, source) cell with
        # frames gets the same share within its class
        self.cells = {}
        for c in range(len(LABELS)):
            for s in range(len(self.sources)):
                idx = np.flatnonzero((self.labels == c) & (self.source_of == s))
                if len(idx):
                    self.cells.setdefault(c, []).append(idx)
        log(f"wave bank: {len(rows)} files, {len(self.audio) / F.SAMPLE_RATE / 60:.1f} min, "
            f"{len(self.starts)} frames, {sum(len(v) for v in self.cells.values())} (class, source) cells")

    def counts(self) -> dict:
        return {LABELS[c]: {self.sources[self.source_of[v[0]]]: int(len(v)) for v in cells}
                for c, cells in self.cells.items()}

    def draw(self, rng: np.random.Generator, batch: int):
        classes = rng.integers(0, len(LABELS), batch)
        idx = np.empty(batch, np.int64)
        for i, c in enumerate(classes):
            cells = self.cells[int(c)]
            cell = cells[int(rng.integers(0, len(cells)))]
            idx[i] = cell[int(rng.integers(0, len(cell)))]
        s = self.starts[idx]
        win = self.context + F.FRAME
        x = self.audio[(s - self.context)[:, None] + np.arange(win)[None, :]]
        return torch.from_numpy(x.astype(np.float32) / 32768.0), torch.from_numpy(self.labels[idx])


def _train_rows(root, use_notes: bool):
    """Every row the judge may learn from: the training sources' train split (performance
    corpus, and with use_notes the note corpus' instruments that are classes)."""
    from timbrel.data.corpus import training_rows
    rows = training_rows(root, "performance", instruments=set(LABELS))
    if use_notes:
        try:
            rows += training_rows(root, "notes", instruments=set(LABELS))
        except FileNotFoundError:
            pass
    return rows


def eval_sets(root) -> dict:
    """{name: (rows, description)} of every scored set."""
    from timbrel.data.corpus import heldout_rows, read_manifest, select
    from timbrel.data.sources import HELDOUT_SOURCE, NEVER_TRAIN, REFERENCE_SOURCE, TRAINING_SOURCES
    perf = read_manifest(root, "performance", sources="all")
    sets = {}
    for src in TRAINING_SOURCES:
        rows = select(perf, "test", set(LABELS), sources={src})
        if rows:
            sets[f"{src}_test"] = (rows, f"{src} test phrases (a training source; unseen phrases)")
    for src in NEVER_TRAIN:
        rows = [r for r in select(perf, "heldout", set(LABELS), sources={src})]
        if not rows:
            continue
        role = "the held-out font" if src == HELDOUT_SOURCE else "shares samples with the held-out font"
        sets[f"{src}_heldout_test"] = ([r for r in rows if r["plan_split"] == "test"],
                                       f"{src} ({role}), the test phrases: unseen font and unseen phrases")
        sets[f"{src}_heldout_all"] = (rows, f"{src} ({role}), every phrase (the MIDI of the training "
                                            "phrases too, in an unseen font)")
    try:
        notes = read_manifest(root, "notes", sources="all")
        rows = select(notes, "test", set(LABELS), sources={REFERENCE_SOURCE})
        if rows:
            sets["fluidr3_notes_test"] = (rows, "FluidR3 isolated notes, test split")
        rows = select(notes, "heldout", set(LABELS), sources={HELDOUT_SOURCE})
        if rows:
            sets[f"{HELDOUT_SOURCE}_notes"] = (rows, f"{HELDOUT_SOURCE} isolated notes (held out)")
    except FileNotFoundError:
        pass
    return sets


PRIMARY = "timgm6mb_heldout_test"


def history_path(root) -> Path:
    """Every look at a held-out set, by every run on this data: <data root>/runs/classifier_heldout_history.jsonl."""
    return Path(root).parent / "runs" / "classifier_heldout_history.jsonl"


def read_history(root) -> list:
    p = history_path(root)
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()] if p.exists() else []


def _log_look(root, entry: dict) -> None:
    p = history_path(root)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "a") as f:
        f.write(json.dumps(entry) + "\n")


def train(data_root=None, out_dir=DEFAULT_DIR, steps: int = 12000, batch: int = 128,
          lr: float = 2e-3, seed: int = 0, threads: int = 2, channels=(32, 64, 128, 128),
          hidden: int = 256, dropout: float = 0.3, use_notes: bool = True,
          wave_augment="performance", eq_db: float = 6.0, eq_bumps: int = 3, run_dir=None,
          other_fonts=None, log=print) -> dict:
    """Trains on every training source's train split (timbrel.data.sources.TRAINING_SOURCES)
    with room/microphone augmentation (timbrel.train.augment) on the waveform and
    colouration augmentation on the log-mel patch; scores every set of eval_sets();
    writes classifier.pt, metrics.json and MODEL_CARD.md. Resumable: a checkpoint in
    run_dir (default <data root>/runs/classifier) every 500 steps; rerunning continues."""
    from timbrel.data.sources import full_root, HELDOUT_SOURCE, NEVER_TRAIN
    from timbrel.train import augment as A
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    root = Path(data_root) if data_root else full_root()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(run_dir) if run_dir else root.parent / "runs" / "classifier"
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_aug = A.PERFORMANCE if wave_augment == "performance" else A.DEFAULT
    context = A.context_for(cfg_aug) if wave_augment else 0
    t0 = time.time()
    rows = _train_rows(root, use_notes)
    assert not any(r["source"] in NEVER_TRAIN for r in rows), "held-out rows in the training set"
    bank = WaveBank(rows, root, context, log)
    t_feat = time.time() - t0
    model = FrameClassifier(channels=tuple(channels), hidden=hidden, dropout=dropout)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    ident = dict(steps=steps, batch=batch, lr=lr, seed=seed, channels=list(channels), hidden=hidden,
                 dropout=dropout, use_notes=use_notes, wave_augment=wave_augment,
                 **({} if (eq_db, eq_bumps) == (6.0, 3) else dict(eq_db=eq_db, eq_bumps=eq_bumps)),
                 rows=len(rows), frames=int(len(bank.starts)))
    ckpt = run_dir / "checkpoint.pt"
    step0, train_seconds = 0, 0.0
    if ckpt.exists():
        blob = torch.load(str(ckpt), map_location="cpu", weights_only=False)
        if blob.get("ident") == ident:
            model.load_state_dict(blob["model"])
            opt.load_state_dict(blob["opt"])
            sched.load_state_dict(blob["sched"])
            gen.set_state(blob["gen"])
            rng.bit_generator.state = blob["rng"]
            step0, train_seconds = blob["step"], blob["train_seconds"]
            log(f"resuming {ckpt} at step {step0}")
        else:
            log(f"{ckpt} belongs to another configuration: starting over")

    def save(step, seconds):
        tmp = ckpt.with_suffix(".tmp")
        torch.save(dict(ident=ident, model=model.state_dict(), opt=opt.state_dict(),
                        sched=sched.state_dict(), gen=gen.get_state(), rng=rng.bit_generator.state,
                        step=step, train_seconds=seconds), str(tmp))
        tmp.replace(ckpt)

    model.train()
    t1 = time.time()
    running = None
    for step in range(step0 + 1, steps + 1):
        wave, y = bank.draw(rng, batch)
        if wave_augment:
            wave = A.augment(wave, gen, cfg_aug, keep=F.FRAME)
        patches = F.log_mel(wave[:, -F.FRAME:])
        patches = _augment(patches, gen, eq_db, eq_bumps)
        loss = loss_fn(model(patches), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = float(loss) if running is None else 0.98 * running + 0.02 * float(loss)
        if step % 250 == 0 or step == steps:
            el = time.time() - t1
            log(f"step {step}/{steps} loss {running:.3f} {train_seconds + el:.0f} s "
                f"({(step - step0) / el:.2f} steps/s)")
        if step % 500 == 0 or step == steps:
            save(step, train_seconds + time.time() - t1)
    train_seconds += time.time() - t1
    model.eval()

    from timbrel.data.corpus import load_audio
    result = {}
    sets = eval_sets(root)
    for name, (srows, desc) in sets.items():
        ts = time.time()
        result[name] = score(model, [(load_audio(root, r), r["instrument"]) for r in srows])
        result[name].update(description=desc, files=len(srows),
                            minutes=round(sum(r["duration_s"] for r in srows) / 60, 2))
        log(f"{name}: frame accuracy {result[name]['accuracy']:.4f} ({result[name]['frames']} frames, "
            f"{time.time() - ts:.0f} s)")
    sample = rows[:: max(1, len(rows) // 60)]
    result["train_sample"] = score(model, [(load_audio(root, r), r["instrument"]) for r in sample])
    result["train_sample"]["files"] = len(sample)
    fonts = []
    from timbrel.data.corpus import read_manifest, select
    ref_test = select(read_manifest(root, "performance"), "test", set(LABELS))
    for font in (other_fonts if other_fonts is not None else EXTRA_FONTS):
        info = _font_info(font)
        if info["exists"]:
            log(f"re-rendering the FluidR3 test phrases with {font}")
            try:
                info["score"] = score(model, _rerender(ref_test, root, font))
            except RuntimeError as e:
                info["error"] = str(e)
        fonts.append(info)
    result["other_fonts"] = fonts

    primary = result.get(PRIMARY, {}).get("accuracy", math.nan)
    config = dict(labels=list(LABELS),
                  model=dict(channels=list(channels), hidden=hidden, dropout=dropout),
                  features=dict(sample_rate=F.SAMPLE_RATE, n_fft=F.N_FFT, hop=F.HOP,
                                n_mels=F.N_MELS, f_min=F.F_MIN, f_max=F.F_MAX, frame=F.FRAME,
                                frame_hop=F.FRAME_HOP, silence_db=F.SILENCE_DB),
                  training=dict(data=str(root), steps=steps, batch=batch, lr=lr, seed=seed,
                                optimizer="AdamW wd 1e-4, one-cycle", label_smoothing=0.05,
                                sources=bank.sources, heldout=HELDOUT_SOURCE,
                                never_trained=list(NEVER_TRAIN), use_notes=use_notes,
                                sampling="class-balanced, then source-balanced within a class",
                                wave_augmentation=cfg_aug.describe() if wave_augment else "none",
                                wave_augmentation_config=cfg_aug.as_dict() if wave_augment else None,
                                augmentation=AUGMENTATION.replace(
                                    "smooth random EQ +-6 dB", f"smooth random EQ of {eq_bumps} bumps "
                                                               f"+-{eq_db:g} dB"),
                                train_files=len(rows), train_frames=int(len(bank.starts)),
                                frames_per_class_and_source=bank.counts(),
                                parameters=int(n_params)))
    weights = out_dir / "classifier.pt"
    # the config travels as a JSON string: torch 1.13's weights_only loader rejects floats
    torch.save(dict(config_json=json.dumps(config), state_dict=model.state_dict()), str(weights))
    total = time.time() - t0
    import hashlib
    manifests = {c: hashlib.sha256((root / c / "manifest.csv").read_bytes()).hexdigest()
                 for c in ("performance", "notes") if (root / c / "manifest.csv").exists()}
    meta = dict(config=config, results=result, primary=PRIMARY, bar=BAR,
                passed=bool(primary >= BAR), feature_seconds=round(t_feat, 1),
                train_seconds=round(train_seconds, 1), total_seconds=round(total, 1),
                weights_bytes=weights.stat().st_size, data_manifest_sha256=manifests,
                torch=torch.__version__, threads=threads, machine=platform.machine(),
                cpus=os.cpu_count())
    meta["heldout_same_samples"] = _same_sample_classes(root)
    # every configuration ever scored on the held-out font
    _log_look(root, dict(ident=ident, primary=primary, time=time.strftime("%Y-%m-%d %H:%M")))
    meta["heldout_evaluations"] = read_history(root)
    (out_dir / "metrics.json").write_text(json.dumps(meta, indent=1))
    (out_dir / "MODEL_CARD.md").write_text(model_card(meta))
    log(f"wrote {weights} ({meta['weights_bytes'] / 1e6:.2f} MB), metrics.json, MODEL_CARD.md "
        f"in {total:.0f} s; held-out ({PRIMARY}) {primary:.4f} (bar {BAR})")
    return meta


def _same_sample_classes(root) -> dict:
    """{source: [[class, class], ...]} of the never-trained sources: classes whose presets play
    the same samples there (from the build's coverage.json), which no judge can tell apart
    by timbre."""
    from timbrel.data.instruments import INSTRUMENTS
    from timbrel.data.sources import NEVER_TRAIN
    path = Path(root) / "coverage.json"
    if not path.exists():
        return {}
    cov = json.loads(path.read_text())["sources"]
    by_prog = {p: n for n in LABELS for p in INSTRUMENTS[n].programs}
    out = {}
    for src in NEVER_TRAIN:
        pairs = set()
        for prog, c in cov.get(src, {}).items():
            for other in c.get("same_samples_as", []):
                a, b = by_prog.get(int(prog)), by_prog.get(int(other))
                if a and b and a != b:
                    pairs.add(tuple(sorted((a, b), key=LABELS.index)))
        out[src] = sorted(map(list, pairs))
    return out


def score_checkpoint(checkpoint, data_root=None, sets=(PRIMARY,), log=print) -> dict:
    """Scores a training checkpoint on some eval_sets() (a look during development).
    A look at a held-out set is appended to heldout_history.jsonl beside the checkpoint,
    so the card can say how often the held-out font was looked at."""
    from timbrel.data.corpus import load_audio
    from timbrel.data.sources import full_root
    root = Path(data_root) if data_root else full_root()
    blob = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    ident = blob["ident"]
    model = FrameClassifier(channels=tuple(ident["channels"]), hidden=ident["hidden"],
                            dropout=ident["dropout"])
    model.load_state_dict(blob["model"])
    model.eval()
    all_sets = eval_sets(root)
    out = {}
    for name in sets:
        rows, desc = all_sets[name]
        out[name] = score(model, [(load_audio(root, r), r["instrument"]) for r in rows])
        pc = " ".join(f"{k[:5]} {v:.2f}" for k, v in out[name]["per_class"].items() if v is not None)
        log(f"step {blob['step']} {name}: {out[name]['accuracy']:.4f} ({pc})")
        if "heldout" in name:
            _log_look(root, dict(ident=ident, step=blob["step"], look=name,
                                 primary=out[name]["accuracy"], time=time.strftime("%Y-%m-%d %H:%M")))
    return out


def _confusion_table(conf, labels) -> str:
    short = [l[:6] for l in labels]
    head = "| true \\ predicted | " + " | ".join(short) + " | frames | recall |"
    sep = "|---" * (len(labels) + 3) + "|"
    lines = [head, sep]
    for i, l in enumerate(labels):
        row = conf[i]
        total = sum(row)
        rec = f"{row[i] / total:.3f}" if total else "-"
        lines.append(f"| {l} | " + " | ".join(str(v) for v in row) + f" | {total} | {rec} |")
    return "\n".join(lines)


def _per_instrument_table(res: dict, names) -> str:
    head = "| instrument | " + " | ".join(f"`{n}`" for n in names) + " |"
    lines = [head, "|---" * (len(names) + 1) + "|"]
    for lab in LABELS:
        cells = []
        for n in names:
            v = res[n]["per_class"].get(lab)
            cells.append("-" if v is None else f"{v:.3f}")
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    lines.append("| **all frames** | " + " | ".join(f"**{res[n]['accuracy']:.4f}**" for n in names) + " |")
    lines.append("| frames | " + " | ".join(str(res[n]["frames"]) for n in names) + " |")
    return "\n".join(lines)


def model_card(meta: dict) -> str:
    cfg, res = meta["config"], meta["results"]
    tr = cfg["training"]
    primary = meta.get("primary", PRIMARY)
    p = res.get(primary, {})
    p_acc = p.get("accuracy", math.nan)
    sets = [n for n in res if isinstance(res[n], dict) and "per_class" in res[n] and n != "train_sample"]
    frames = tr.get("frames_per_class_and_source", {})
    srcs = tr.get("sources", [])
    status = ("reached" if meta.get("passed") else "NOT reached")
    out = [
        "# Reference instrument classifier (the judge)",
        "",
        "Written by `python -m timbrel.eval.classifier train` (do not edit by hand; "
        "`python -m timbrel.eval.classifier card` rewrites it from `metrics.json`).",
        "",
        "Frame-wise classifier of 13 classes used to score timbre transfer (DESIGN.md §6):",
        "each frame of 4096 samples at 22050 Hz (185.8 ms; hop 2048 when scoring) gets one label.",
        "",
        f"**Held-out font ({tr.get('heldout', '?')}, `{primary}`): frame accuracy {p_acc:.4f}; "
        f"bar {meta.get('bar', BAR)}: {status}.** Transfer accuracies measured with this judge "
        + ("may be quoted." if meta.get("passed") else
           "must not be quoted as absolute figures until the bar is reached."),
        "",
        "## Data",
        f"- Trained on the train split of the training sources {', '.join(f'`{s}`' for s in srcs)} "
        f"(`{shown(tr['data'])}`; performance corpus{' and the note corpus' if tr.get('use_notes') else ''}): "
        f"{tr['train_files']} files, {tr['train_frames']} non-silent frame positions (step 256).",
        f"- Never trained on: {', '.join(f'`{s}`' for s in tr.get('never_trained', []))} "
        "(`timbrel.data.sources.NEVER_TRAIN`: the held-out font and csound's GM bank, which "
        "plays many of the held-out font's own recordings).",
        f"- Sampling: {tr.get('sampling', '-')}.",
        f"- Silent frames (rms of the 4096 samples < {cfg['features']['silence_db']:.0f} dBFS) are excluded "
        "from training and from every score below.",
        "- sha256 of the manifests (every file's checksum and split): " + ", ".join(
            f"`{c}` `{h[:16]}...`" for c, h in (meta.get("data_manifest_sha256") or {}).items()) + ".",
        "",
        "Training frames per class and source:",
        "",
        "| class | " + " | ".join(srcs) + " |",
        "|---" * (len(srcs) + 1) + "|",
    ]
    for lab in LABELS:
        out.append(f"| {lab} | " + " | ".join(str(frames.get(lab, {}).get(s, 0)) for s in srcs) + " |")
    out += [
        "",
        "## Model",
        "- Input: 13 x 64 log-mel patch (Hann 1024, hop 256, mel 30-11025 Hz, dB), minus its mean, / 20.",
        f"- Conv 3x3 blocks {cfg['model']['channels']} (BN, ReLU, max-pool), mean over time, dropout "
        f"{cfg['model']['dropout']}, linear -> {cfg['model']['hidden']} -> 13.",
        f"- {tr['parameters']} parameters; `classifier.pt` is {meta['weights_bytes'] / 1e6:.2f} MB "
        "(state_dict + config).",
        f"- Training: {tr['steps']} steps of batch {tr['batch']}, {tr['optimizer']}, lr {tr['lr']}, "
        f"label smoothing {tr['label_smoothing']}, seed {tr['seed']}.",
        f"- Waveform augmentation (`timbrel.train.augment`): {tr.get('wave_augmentation', 'none')}.",
        f"- Patch augmentation: {tr.get('augmentation', AUGMENTATION_V1)}.",
        f"- Time: loading {meta['feature_seconds']:.0f} s, training {meta['train_seconds']:.0f} s, "
        f"total with scoring {meta['total_seconds']:.0f} s on {meta['cpus']} CPU cores "
        f"({meta['threads']} torch thread(s), torch {meta['torch']}).",
        "",
        "## Results (frame accuracy per instrument = recall)",
        "",
    ]
    for n in sets:
        out.append(f"- `{n}`: {res[n].get('description', '')}: **{res[n]['accuracy']:.4f}** "
                   f"({res[n]['frames']} frames, {res[n].get('files', '?')} files, "
                   f"{res[n].get('minutes', '?')} min).")
    ts = res.get("train_sample")
    if ts:
        out.append(f"- Training files (every {max(1, tr['train_files'] // max(1, ts.get('files', 1)))}th): "
                   f"{ts['accuracy']:.4f}.")
    for f in res.get("other_fonts", []):
        if "score" in f:
            origin = ("derived from FluidR3 (its INFO credits it): a weak generalisation test"
                      if f.get("derived_from_fluidr3") else "another font")
            out.append(f"- `{f['font']}` ({origin}), FluidR3 test phrases re-rendered: "
                       f"{f['score']['accuracy']:.4f} ({f['score']['frames']} frames).")
    out += ["", _per_instrument_table(res, sets), ""]
    for src, pairs in (meta.get("heldout_same_samples") or {}).items():
        for a, b in pairs:
            out.append(f"- In `{src}`, {a} and {b} play the same samples (the build's coverage probe): "
                       "there they differ only by pitch range, so frames in their common range cannot "
                       "be told apart by timbre; this bounds both classes' accuracy on that font.")
    out.append("")
    hist = meta.get("heldout_evaluations") or []
    if hist:
        out += [f"Every look at the held-out font during development (`runs/classifier_heldout_history.jsonl` "
                f"of the data root: final scores and checkpoints scored by `classifier score`; each one a "
                f"look at the test set, so the figure above is slightly optimistic by selection): "
                f"{len(hist)}: " + "; ".join(
                    f"{h['ident'].get('channels')} h{h['ident'].get('hidden')} {h['ident'].get('steps')} steps"
                    f" aug {h['ident'].get('wave_augment')}"
                    f"{'' if h['ident'].get('use_notes', True) else ' no notes'}"
                    f"{' at step ' + str(h['step']) + ' (' + h.get('look', '') + ')' if 'step' in h else ''}"
                    f" -> {h['primary']:.4f}" for h in hist) + ".", ""]
    for n in [x for x in ("fluidr3_test", primary) if x in res] + [
            x for x in sets if x.endswith("_heldout_test") and x != primary]:
        out += [f"### Confusion matrix: `{n}` (frames)", "", _confusion_table(res[n]["confusion"], cfg["labels"]), ""]
    out += ["## Use", "", "```python",
            "from timbrel.eval.classifier import load",
            "labels, non_silent = load().predict(audio_22050_float32)",
            "```", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m timbrel.eval.classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", default=None, help="corpus root (default $TIMBREL_DATA/full)")
    t.add_argument("--out", default=str(DEFAULT_DIR))
    t.add_argument("--run-dir", default=None, help="checkpoints (default <data root>/runs/classifier)")
    t.add_argument("--steps", type=int, default=12000)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--channels", default="32,64,128,128")
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--dropout", type=float, default=0.3)
    t.add_argument("--no-notes", action="store_true", help="performance corpus only")
    t.add_argument("--eq-db", type=float, default=6.0, help="patch EQ bump gain (+- dB)")
    t.add_argument("--eq-bumps", type=int, default=3)
    t.add_argument("--wave-augment", default="performance", choices=["performance", "room", "none"],
                   help="room: room and microphone (timbrel.train.augment.DEFAULT); performance: "
                        "also pitch shift, vibrato, tremolo (augment.PERFORMANCE)")
    t.add_argument("--other-fonts", default=None,
                   help="comma list of extra soundfonts to re-render the FluidR3 test phrases with")
    k = sub.add_parser("score", help="score a training checkpoint on some sets (logged if held out)")
    k.add_argument("checkpoint")
    k.add_argument("--data", default=None)
    k.add_argument("--sets", default=PRIMARY)
    k.add_argument("--threads", type=int, default=1)
    c = sub.add_parser("card", help="rewrite MODEL_CARD.md from metrics.json")
    c.add_argument("--dir", default=str(DEFAULT_DIR))
    q = sub.add_parser("predict")
    q.add_argument("files", nargs="+")
    q.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    a = p.parse_args(argv)
    if a.cmd == "train":
        fonts = a.other_fonts.split(",") if a.other_fonts else None
        train(a.data, a.out, steps=a.steps, batch=a.batch, lr=a.lr, seed=a.seed,
              threads=a.threads, channels=tuple(int(v) for v in a.channels.split(",")),
              hidden=a.hidden, dropout=a.dropout, use_notes=not a.no_notes,
              eq_db=a.eq_db, eq_bumps=a.eq_bumps,
              wave_augment={"none": False}.get(a.wave_augment, a.wave_augment), run_dir=a.run_dir,
              other_fonts=fonts)
    elif a.cmd == "score":
        torch.set_num_threads(a.threads)
        score_checkpoint(a.checkpoint, a.data, tuple(a.sets.split(",")))
    elif a.cmd == "card":
        meta = json.loads((Path(a.dir) / "metrics.json").read_text())
        hist = read_history(meta["config"]["training"]["data"])
        if hist:
            meta["heldout_evaluations"] = hist
            (Path(a.dir) / "metrics.json").write_text(json.dumps(meta, indent=1))
        (Path(a.dir) / "MODEL_CARD.md").write_text(model_card(meta))
    else:
        from timbrel.data.audio import read_wav
        torch.set_num_threads(2)
        clf = load(a.weights)
        for f in a.files:
            x, sr = read_wav(f)
            if sr != F.SAMPLE_RATE:
                print(f"{f}: {sr} Hz, expected {F.SAMPLE_RATE}", file=sys.stderr)
                continue
            labels, loud = clf.predict(x)
            names, counts = np.unique(labels[loud], return_counts=True)
            top = sorted(zip(counts, names), reverse=True)[:3]
            print(f"{f}: " + ", ".join(f"{n} {c / max(1, loud.sum()):.2f}" for c, n in top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
