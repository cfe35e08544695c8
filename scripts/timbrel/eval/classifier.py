"""Frame-wise reference instrument classifier (13 classes), used for transfer accuracy.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.classifier train \\
        [--data data/full] [--out models/classifier] [--steps 6000] [--seed 0]
        [--other-fonts /usr/share/sounds/sf2/TimGM6mb.sf2,...]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.classifier predict FILE.wav [...]

Input: frames of 4096 samples at 22050 Hz (hop 2048 when scoring), each as a
13 x 64 log-mel patch (timbrel.eval.features), minus its own mean (so the
level does not matter) and divided by 20 dB. Network: four 3x3 conv blocks
(16, 32, 64, 64 channels; batch norm, ReLU, pooling over frequency and once
over time), mean over time, dropout, linear 512 -> 128 -> 13. Frames whose
rms is below -60 dBFS are silent: never trained on, never scored.

`train` trains on the performance corpus' train split, scores the test split,
the note corpus (instruments in common) and, for each other soundfont given
(or found), the test phrases re-rendered from their MIDI with that font; it
writes classifier.pt (state_dict + config), metrics.json and MODEL_CARD.md.
"""

from __future__ import annotations

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
OTHER_FONT_CANDIDATES = ("/usr/share/sounds/sf2/default-GM.sf2",
                         "/usr/share/sounds/sf3/default-GM.sf3",
                         "/usr/share/sounds/sf2/TimGM6mb.sf2",
                         "/usr/share/sounds/sf3/MuseScore_General.sf3")


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

def _phrase_features(rows, root):
    """Concatenated log-mel of all phrases, valid (non-silent) patch starts and labels."""
    from timbrel.data.corpus import load_audio
    mels, starts, labels = [], [], []
    offset = 0
    for r in rows:
        x = load_audio(root, r)
        lm = F.log_mel(torch.from_numpy(x))
        T = lm.shape[0]
        if T >= F.SUBFRAMES:
            t = np.arange(T - F.SUBFRAMES + 1)
            loud = F.frame_rms_db(x, t * F.HOP) >= F.SILENCE_DB
            t = t[loud]
            starts.append(offset + t)
            labels.append(np.full(len(t), LABELS.index(r["instrument"])))
        mels.append(lm)
        offset += T
    return (torch.cat(mels), torch.from_numpy(np.concatenate(starts)),
            torch.from_numpy(np.concatenate(labels)))


AUGMENTATION = ("spectral tilt +-6 dB (1/2 of patches), smooth random EQ +-6 dB (1/2), "
                "one-mel-band shift (1/4), noise floor 35-75 dB under the patch peak (1/3), "
                "one 0-6-band frequency mask (1/2)")
AUGMENTATION_V1 = ("noise floor 35-75 dB under the patch peak (1/3 of patches), "
                   "one 0-6-band frequency mask (1/2)")


def _augment(patches: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Colourations a recording or another soundfont could bring, applied to log-mel
    patches [B, 13, 64] (dB): a spectral tilt (+-6 dB across the bands) and a smooth
    random EQ (three bumps of +-6 dB) on half of the patches each, a shift by one mel
    band (about 1-2 semitones of pitch and formants) on a quarter, a noise floor 35-75
    dB under the patch peak on a third, and one 0-6-band frequency mask on half."""
    B, T, M = patches.shape
    bands = torch.arange(M, dtype=patches.dtype)
    x = (bands / (M - 1) - 0.5)[None, None, :]
    tilt = (torch.rand((B, 1, 1), generator=gen) * 12.0 - 6.0) * x
    use = torch.rand((B, 1, 1), generator=gen) < 0.5
    patches = patches + torch.where(use, tilt, torch.zeros_like(tilt))
    centres = torch.rand((B, 3, 1), generator=gen) * M
    widths = 3.0 + 7.0 * torch.rand((B, 3, 1), generator=gen)
    gains = torch.rand((B, 3, 1), generator=gen) * 12.0 - 6.0
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


def train(data_root="data/full", out_dir=DEFAULT_DIR, steps: int = 6000, batch: int = 128,
          lr: float = 2e-3, seed: int = 0, other_fonts=None, threads: int = 2, log=print) -> dict:
    from timbrel.data.corpus import load_audio, read_manifest, select
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    root = Path(data_root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows = read_manifest(root, "performance")
    train_rows, test_rows = select(rows, "train"), select(rows, "test")
    mels, starts, labels = _phrase_features(train_rows, root)
    t_feat = time.time() - t0
    log(f"features: {len(starts)} training patches from {len(train_rows)} phrases "
        f"({mels.shape[0]} log-mel columns) in {t_feat:.0f} s")
    model = FrameClassifier()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    offsets = torch.arange(F.SUBFRAMES)
    model.train()
    t1 = time.time()
    running = 0.0
    for step in range(1, steps + 1):
        pick = torch.randint(0, len(starts), (batch,), generator=gen)
        patches = mels[starts[pick][:, None] + offsets[None, :]]
        patches = _augment(patches, gen)
        loss = loss_fn(model(patches), labels[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = 0.98 * running + 0.02 * float(loss) if step > 1 else float(loss)
        if step % 250 == 0 or step == steps:
            el = time.time() - t1
            log(f"step {step}/{steps} loss {running:.3f} {el:.0f} s ({step / el:.1f} steps/s)")
    train_seconds = time.time() - t1
    model.eval()

    log("scoring the test split")
    test_items = [(load_audio(root, r), r["instrument"]) for r in test_rows]
    result = dict(test=score(model, test_items))
    log(f"test frame accuracy {result['test']['accuracy']:.4f}")
    train_sample = train_rows[:: max(1, len(train_rows) // 60)]
    result["train_sample"] = score(model, [(load_audio(root, r), r["instrument"]) for r in train_sample])
    result["train_sample"]["phrases"] = len(train_sample)
    try:
        notes = [r for r in read_manifest(root, "notes") if r["instrument"] in LABELS]
        result["notes"] = score(model, [(load_audio(root, r), r["instrument"]) for r in notes])
        log(f"note corpus frame accuracy {result['notes']['accuracy']:.4f}")
    except FileNotFoundError:
        result["notes"] = None
    fonts = []
    candidates = other_fonts if other_fonts is not None else OTHER_FONT_CANDIDATES
    seen = {str(Path(FLUID_R3).resolve())}
    for font in candidates:
        info = _font_info(font)
        if info["exists"] and info["resolves_to"] not in seen:
            seen.add(info["resolves_to"])
            log(f"re-rendering the test phrases with {font}")
            try:
                info["score"] = score(model, _rerender(test_rows, root, font))
                log(f"  frame accuracy {info['score']['accuracy']:.4f}")
            except RuntimeError as e:
                info["error"] = str(e)
        fonts.append(info)
    result["other_fonts"] = fonts

    config = dict(labels=list(LABELS),
                  model=dict(channels=[16, 32, 64, 64], hidden=128, dropout=0.3),
                  features=dict(sample_rate=F.SAMPLE_RATE, n_fft=F.N_FFT, hop=F.HOP,
                                n_mels=F.N_MELS, f_min=F.F_MIN, f_max=F.F_MAX, frame=F.FRAME,
                                frame_hop=F.FRAME_HOP, silence_db=F.SILENCE_DB),
                  training=dict(data=str(data_root), steps=steps, batch=batch, lr=lr, seed=seed,
                                optimizer="AdamW wd 1e-4, one-cycle", label_smoothing=0.05,
                                augmentation=AUGMENTATION,
                                train_phrases=len(train_rows), test_phrases=len(test_rows),
                                train_patches=int(len(starts)), parameters=int(n_params)))
    weights = out_dir / "classifier.pt"
    # the config travels as a JSON string: torch 1.13's weights_only loader rejects floats
    torch.save(dict(config_json=json.dumps(config), state_dict=model.state_dict()), str(weights))
    total = time.time() - t0
    manifest = root / "performance" / "manifest.csv"    # every phrase's sha256 and split
    import hashlib
    meta = dict(config=config, results=result, feature_seconds=round(t_feat, 1),
                train_seconds=round(train_seconds, 1), total_seconds=round(total, 1),
                weights_bytes=weights.stat().st_size,
                data_manifest_sha256=(hashlib.sha256(manifest.read_bytes()).hexdigest()
                                      if manifest.exists() else None),
                torch=torch.__version__, threads=threads, machine=platform.machine(),
                cpus=os.cpu_count())
    (out_dir / "metrics.json").write_text(json.dumps(meta, indent=1))
    (out_dir / "MODEL_CARD.md").write_text(model_card(meta, rows))
    log(f"wrote {weights} ({meta['weights_bytes'] / 1e6:.2f} MB), metrics.json, MODEL_CARD.md "
        f"in {total:.0f} s")
    return meta


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


def model_card(meta: dict, rows) -> str:
    cfg, res = meta["config"], meta["results"]
    tr = cfg["training"]
    test = res["test"]
    minutes = {s: sum(r["duration_s"] for r in rows if r["split"] == s) / 60.0 for s in ("train", "test")}
    train_n = tr["train_phrases"]
    sample_n = res["train_sample"].get("phrases") or len(range(0, train_n, max(1, train_n // 60)))
    out = [
        "# Reference instrument classifier",
        "",
        "Written by `python -m timbrel.eval.classifier train` (do not edit by hand).",
        "",
        "Frame-wise classifier of 13 classes used to score timbre transfer (DESIGN.md §6):",
        "each frame of 4096 samples at 22050 Hz (185.8 ms; hop 2048 when scoring) gets one label.",
        "",
        "## Data",
        f"- Performance corpus (`{tr['data']}`, FluidR3_GM only): {tr['train_phrases']} training phrases "
        f"({minutes['train']:.1f} min), {tr['test_phrases']} test phrases ({minutes['test']:.1f} min); "
        "split 85/15 by phrase.",
        f"- Training patches: {tr['train_patches']} (every non-silent 4096-sample window at a 256-sample step).",
        f"- Silent frames (rms of the 4096 samples < {cfg['features']['silence_db']:.0f} dBFS) are excluded "
        "from training and from every score below.",
        f"- sha256 of `performance/manifest.csv` (every phrase's checksum and split): "
        f"`{meta['data_manifest_sha256']}`.",
        "",
        "## Model",
        f"- Input: 13 x 64 log-mel patch (Hann 1024, hop 256, mel 30-11025 Hz, dB), minus its mean, / 20.",
        f"- Conv 3x3 blocks {cfg['model']['channels']} (BN, ReLU, max-pool), mean over time, dropout "
        f"{cfg['model']['dropout']}, linear -> {cfg['model']['hidden']} -> 13.",
        f"- {tr['parameters']} parameters; `classifier.pt` is {meta['weights_bytes'] / 1e6:.2f} MB "
        "(state_dict + config).",
        f"- Training: {tr['steps']} steps of batch {tr['batch']}, {tr['optimizer']}, lr {tr['lr']}, "
        f"label smoothing {tr['label_smoothing']}, seed {tr['seed']}; augmentation: "
        f"{tr.get('augmentation', AUGMENTATION_V1)}.",
        f"- Time: features {meta['feature_seconds']:.0f} s, training {meta['train_seconds']:.0f} s, "
        f"total with scoring {meta['total_seconds']:.0f} s on {meta['cpus']} CPU cores "
        f"({meta['threads']} torch threads, torch {meta['torch']}).",
        "",
        "## Results",
        f"- **Test split frame accuracy: {test['accuracy']:.4f}** ({test['frames']} frames; "
        f"{test['silent_frames']} silent frames excluded). Bar: 0.85.",
        f"- Training phrases (a sample of {sample_n} of them): "
        f"{res['train_sample']['accuracy']:.4f}.",
    ]
    if res.get("notes"):
        out.append(f"- Note corpus (isolated notes of the 10 instruments it shares with the classifier, "
                   f"never trained on): {res['notes']['accuracy']:.4f} ({res['notes']['frames']} frames).")
    for f in res.get("other_fonts", []):
        if f["exists"] and "derived_from_fluidr3" not in f and Path(f["font"]).exists():
            f.update({k: v for k, v in _font_info(f["font"]).items() if k not in f})
        if not f["exists"]:
            out.append(f"- `{f['font']}`: not installed.")
        elif f["same_as_fluidr3"]:
            out.append(f"- `{f['font']}` resolves to `{f['resolves_to']}`, i.e. FluidR3_GM itself "
                       "(a Debian alternatives symlink), so it is no generalisation test.")
        elif "score" in f:
            if f.get("derived_from_fluidr3"):
                origin = (f"derived from FluidR3 (its INFO credits: \"{f.get('ieng', '')}\"), so it "
                          "shares samples with the training font: a weak generalisation test")
            else:
                origin = (f"an independent font ({f.get('inam', 'no INFO name')}): the real "
                          "generalisation test")
            out.append(f"- Other soundfont `{f['font']}`, {origin}; test phrases re-rendered from "
                       f"their MIDI: {f['score']['accuracy']:.4f} ({f['score']['frames']} frames). "
                       "Never trained on; a figure, not a bar.")
        elif "error" in f:
            out.append(f"- `{f['font']}`: could not render ({f['error'][:120]}).")
        else:
            out.append(f"- `{f['font']}` resolves to `{f['resolves_to']}`, already scored above.")
    independent = [f for f in res.get("other_fonts", [])
                   if "score" in f and not f.get("derived_from_fluidr3")]
    if independent:
        worst = min(f["score"]["accuracy"] for f in independent)
        out += ["", f"Reading these figures: within FluidR3 the task is nearly trivial (one sample set "
                f"per instrument, the same in train and test), so the test-split figure says little "
                f"about audio that does not come from FluidR3. On an independent font the accuracy "
                f"falls to {worst:.2f}: transfer accuracies measure closeness to FluidR3's "
                f"instruments, and should be compared between models, not read as absolute."]
    out += ["", "### Test split confusion matrix (frames)", "",
            _confusion_table(test["confusion"], cfg["labels"]), ""]
    for f in res.get("other_fonts", []):
        if "score" in f:
            out += [f"### Confusion matrix, test phrases rendered with `{Path(f['font']).name}`", "",
                    _confusion_table(f["score"]["confusion"], cfg["labels"]), ""]
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
    t.add_argument("--data", default="data/full")
    t.add_argument("--out", default=str(DEFAULT_DIR))
    t.add_argument("--steps", type=int, default=6000)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--other-fonts", default=None,
                   help="comma list of soundfonts to test on (default: the Debian ones found)")
    c = sub.add_parser("card", help="rewrite MODEL_CARD.md from metrics.json")
    c.add_argument("--dir", default=str(DEFAULT_DIR))
    q = sub.add_parser("predict")
    q.add_argument("files", nargs="+")
    q.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    a = p.parse_args(argv)
    if a.cmd == "train":
        fonts = a.other_fonts.split(",") if a.other_fonts else None
        train(a.data, a.out, steps=a.steps, batch=a.batch, lr=a.lr, seed=a.seed,
              other_fonts=fonts, threads=a.threads)
    elif a.cmd == "card":
        from timbrel.data.corpus import read_manifest
        meta = json.loads((Path(a.dir) / "metrics.json").read_text())
        rows = read_manifest(meta["config"]["training"]["data"], "performance")
        (Path(a.dir) / "MODEL_CARD.md").write_text(model_card(meta, rows))
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
