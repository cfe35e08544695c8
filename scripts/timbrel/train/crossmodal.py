"""Train one cross-modal VAE (models/README.md, family ``crossmodal_vae``), resumably, and export it.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.train.crossmodal --instrument violin \\
        --out models/crossmodal/violin [--config small|paper|smoke] [--steps N] [--fresh]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.train.crossmodal --instrument alto_sax,violin \\
        --out models/crossmodal/sax_violin          # a mixture model (random mixtures)

Data: the stationary frames of the note corpus's train split, every training source
(``crossmodal_data``: FluidR3, Freepats; the piano also Salamander's recordings). Solo
models see half of their frames shifted to another dynamic, scaled by the level step
between the two (``--dynamics-shift-p``, ``shift_dynamics``): the note split keeps each
(pitch, dynamics) label in one split only, and without the shift a two-source model learnt
"the dynamics this pitch had in training" instead of the level (docs/notes.md).
``--level-jitter-db`` plays each frame louder or quieter (off: it did not help); a
mixture model draws, at every step, one random note of each instrument and sums one random
2048-sample window of each (equal gains) before the constant-Q transform, so every
combination is seen (the paper's random mixtures).

Loss (the paper's SCAN-style objective, DAFx 2019 eq. 5 and section 4):
    L = [ 0.5 ||x - x^(z_x)||^2 + beta KL(q(z|x) || N(0, I)) ]        signal ELBO
      + [ CE(y, p(y|z_y)) + beta KL(q(z|y) || N(0, I)) ]               symbol ELBO
      + 10 KL(q(z|x) || q(z|y))                                        cross-modal term
with the decoder a unit-variance Gaussian on the log1p features (so -log p(x|z) is the
squared error up to a constant), CE summed over the symbol groups (pitch class, octave,
dynamics; per instrument), and beta warmed up linearly from 0 to 1 over the first
``warmup_epochs`` epochs (the paper: 100). Adam at 1e-3, reduced x0.5 when the epoch loss
stops improving for 10 epochs (the paper's "increasingly reduced"), floor 1e-5.

Sizes: the paper's MLPs (signal 2x2000, symbol 2x800; config ``paper``) make a 42 MB
float32 file per instrument for ~100 training notes and train 10x slower; on this shared
2-core CPU the shipped ``small`` config (60 epochs, KL warm-up over 30 instead of the
paper's 100: accuracy on the train frames passes 0.97 by epoch 10) uses
signal 2x512 and symbol 2x256 (1.1 M parameters, 4.7 MB), 2x768 / 2x384 for the mixture
(the paper widened the mixture's signal MLP too). Only the ``.tmbl`` is shipped for this
family (the page runs the core); ``--onnx`` also writes the four ONNX graphs.

Checkpoints go to ``data/runs/crossmodal-<name>/checkpoint.pt`` every epoch-block and on
exit; a rerun resumes. Output: ``<out>/<name>.tmbl`` + ONNX graphs, ``<out>/MODEL_CARD.md``
(training section), and an entry in ``models/crossmodal/index.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from timbrel import cqt
from timbrel.models.crossmodal_vae import CrossmodalVAE
from timbrel.train.crossmodal_data import (DYNAMICS, DYNAMICS_VELOCITY, OCTAVES, NoteFrames,
                                           load_frames, mixture_batch, note_rows, one_hot)

CONFIGS: Dict[str, Dict] = {
    "small": {"signal_hidden": 512, "symbol_hidden": 256, "batch": 256, "epochs": 60,
              "warmup_epochs": 30, "lr": 1e-3},
    "small_mixture": {"signal_hidden": 768, "symbol_hidden": 384, "batch": 256, "epochs": 60,
                      "warmup_epochs": 30, "lr": 1e-3},
    "large": {"signal_hidden": 1024, "symbol_hidden": 512, "batch": 256, "epochs": 100,
              "warmup_epochs": 30, "lr": 1e-3},
    "paper": {"signal_hidden": 2000, "symbol_hidden": 800, "batch": 256, "epochs": 300,
              "warmup_epochs": 100, "lr": 1e-3},
    "smoke": {"signal_hidden": 32, "symbol_hidden": 16, "batch": 32, "epochs": 2,
              "warmup_epochs": 1, "lr": 1e-3},
}
CROSS_WEIGHT = 10.0
# Level step between neighbouring dynamics (pp/mf/ff at velocities 40/80/120): the sources'
# ff - pp is 16-21 dB (scripts/timbrel/data/README.md, coverage), about 9.5 dB a step.
DYNAMICS_STEP_DB = 9.5
# Half of the frames shifted: without it, a model trained on two sources memorised the
# dynamics each pitch had in training (held-out-font dynamics 4 %, docs/notes.md).
DYNAMICS_SHIFT_P = 0.5
LEVEL_JITTER_DB = 0.0  # off by default: +-3 dB did not make dynamics level-invariant (docs/notes.md)
LOG_COLUMNS = ["epoch", "step", "seconds", "lr", "beta", "loss", "recon", "kl_x", "ce", "kl_y",
               "cross", "symbol_from_signal_acc"]

_stop = False


def _on_signal(signum, frame):  # pragma: no cover - exercised by hand
    global _stop
    _stop = True


def kl_normal(mu_a, logvar_a, mu_b=None, logvar_b=None):
    """KL(N(mu_a, e^logvar_a) || N(mu_b, e^logvar_b)), summed over the latent, per item."""
    if mu_b is None:
        return 0.5 * (mu_a.pow(2) + logvar_a.exp() - 1.0 - logvar_a).sum(-1)
    return 0.5 * (logvar_b - logvar_a + (logvar_a.exp() + (mu_a - mu_b).pow(2)) / logvar_b.exp()
                  - 1.0).sum(-1)


def group_targets(labels: torch.Tensor) -> List[torch.Tensor]:
    """labels [B, 3M] -> class indices per group, in the model's group order."""
    return [labels[:, i] for i in range(labels.shape[1])]


def losses(model: CrossmodalVAE, x: torch.Tensor, labels: torch.Tensor, beta: float) -> Dict:
    y = torch.as_tensor(one_hot(labels.numpy()), device=x.device)
    out = model(x, y)
    recon = 0.5 * (out["signal"] - x).pow(2).sum(-1).mean()
    kl_x = kl_normal(out["mu_x"], out["logvar_x"]).mean()
    logits = model.split_logits(out["symbol_logits"])
    targets = group_targets(labels.to(x.device))
    ce = sum(F.cross_entropy(lg, t) for lg, t in zip(logits, targets))
    kl_y = kl_normal(out["mu_y"], out["logvar_y"]).mean()
    cross = kl_normal(out["mu_x"], out["logvar_x"], out["mu_y"], out["logvar_y"]).mean()
    loss = recon + beta * kl_x + ce + beta * kl_y + CROSS_WEIGHT * cross
    with torch.no_grad():
        from_x = model.split_logits(out["symbol_from_signal"])
        acc = torch.stack([(lg.argmax(-1) == t).float().mean() for lg, t in zip(from_x, targets)]).mean()
    return {"loss": loss, "recon": recon, "kl_x": kl_x, "ce": ce, "kl_y": kl_y, "cross": cross,
            "symbol_from_signal_acc": acc}


class Batches:
    """Epochs of shuffled frames (solo), or random mixtures of the same count (mixture)."""

    def __init__(self, sources: List[NoteFrames], batch: int, rng: np.random.Generator,
                 level_jitter_db: float = 0.0, dynamics_shift_p: float = 0.0):
        self.sources, self.batch, self.rng = sources, batch, rng
        self.level_jitter_db = level_jitter_db
        self.dynamics_shift_p = dynamics_shift_p
        self.count = sum(len(s.features) for s in sources) if len(sources) > 1 else len(sources[0].features)

    def steps_per_epoch(self) -> int:
        return max(1, self.count // self.batch)

    def epoch(self):
        if len(self.sources) == 1:
            src = self.sources[0]
            order = self.rng.permutation(len(src.features))
            for i in range(self.steps_per_epoch()):
                idx = order[i * self.batch:(i + 1) * self.batch]
                x, y = self.shift_dynamics(src.features[idx], src.labels[idx])
                yield self.jitter(torch.from_numpy(x)), torch.from_numpy(y)
        else:
            for _ in range(self.steps_per_epoch()):
                frames, labels = mixture_batch(self.sources, self.batch, self.rng)
                yield self.jitter(cqt.torch_features(torch.from_numpy(frames))), torch.from_numpy(labels)

    def shift_dynamics(self, features: np.ndarray, labels: np.ndarray):
        """A share dynamics_shift_p of the frames relabelled to another dynamic and scaled by
        the level step between the two (DYNAMICS_STEP_DB per step): every pitch is then seen
        at every dynamic, so the model cannot learn "the dynamics this pitch had in
        training" (the split holds out one (pitch, dynamics) label per note) and learns the
        level rule instead."""
        if self.dynamics_shift_p <= 0:
            return features, labels
        features, labels = features.copy(), labels.copy()
        pick = np.flatnonzero(self.rng.random(len(labels)) < self.dynamics_shift_p)
        target = self.rng.integers(0, len(DYNAMICS), len(pick))
        steps = target - labels[pick, 2]
        scale = 10 ** (steps * DYNAMICS_STEP_DB / 20)
        features[pick] = cqt.to_features(cqt.from_features(features[pick]) * scale[:, None]).astype(features.dtype)
        labels[pick, 2] = target
        return features, labels

    def jitter(self, features: torch.Tensor) -> torch.Tensor:
        """Each frame played up to level_jitter_db louder or quieter: dynamics must then be
        read from the timbre (a ff note is brighter), not from the absolute level alone,
        which a microphone's gain changes."""
        if self.level_jitter_db <= 0:
            return features
        gain_db = self.rng.uniform(-self.level_jitter_db, self.level_jitter_db, (len(features), 1))
        gain = torch.from_numpy(10 ** (gain_db / 20)).to(features.dtype)
        return torch.log1p(torch.expm1(features) * gain)


def latent_projection(model: CrossmodalVAE, sources: List[NoteFrames], rng) -> Dict:
    """PCA (2 axes) of the symbol-encoder means over the training labels (XY pad)."""
    if len(sources) == 1:
        labels = np.unique(sources[0].note_labels, axis=0)
    else:
        picks = [s.note_labels[rng.integers(0, len(s.note_labels), 4000)] for s in sources]
        labels = np.concatenate(picks, axis=1)
    with torch.no_grad():
        mu = model.symbol_encoder(torch.from_numpy(one_hot(labels))).chunk(2, -1)[0].numpy()
    mean = mu.mean(0)
    _, _, vt = np.linalg.svd(mu - mean, full_matrices=False)
    axes = vt[:2]
    proj = (mu - mean) @ axes.T
    lo, hi = proj.min(0), proj.max(0)
    pad = 0.1 * (hi - lo)
    return {"mean": [round(float(v), 6) for v in mean],
            "axes": [[round(float(v), 6) for v in a] for a in axes],
            "extent": [[round(float(lo[i] - pad[i]), 4), round(float(hi[i] + pad[i]), 4)] for i in range(2)]}


def metadata(instruments: List[str], sources: List[NoteFrames], projection: Dict, training: Dict) -> Dict:
    return {"sample_rate": cqt.SAMPLE_RATE, "window": cqt.WINDOW, "hop": cqt.HOP,
            "bins_per_octave": cqt.BINS_PER_OCTAVE, "f_min": cqt.F_MIN, "f_max": cqt.F_MAX,
            "n_bins": cqt.N_BINS, "log_floor": cqt.LOG_FLOOR, "latent": 32,
            "instruments": instruments, "octaves": OCTAVES, "dynamics": list(DYNAMICS),
            "dynamics_velocity": list(DYNAMICS_VELOCITY),
            "pitch_ranges": [[int(p) for p in s.pitch_range] for s in sources],
            "latent_projection": projection, "training": training}


def write_card(out: Path, name: str, meta: Dict, extra: Dict) -> Path:
    """MODEL_CARD.md with a generated training section between markers (text outside them,
    e.g. the evaluation section, is kept on reruns)."""
    begin, end = "<!-- training:begin -->", "<!-- training:end -->"
    tr = meta["training"]
    cfg = tr["config"]
    lines = [begin, "## Training (generated by `timbrel.train.crossmodal`)", "",
             f"- model: `crossmodal_vae` over {' + '.join(meta['instruments'])}; signal MLP 409 -> "
             f"{cfg['signal_hidden']} -> {cfg['signal_hidden']} -> 2x32, symbol MLP {24 * len(meta['instruments'])} -> "
             f"{cfg['symbol_hidden']} -> {cfg['symbol_hidden']} -> 2x32 (ELU), mirrored decoders; "
             f"{extra['parameters']} parameters, `.tmbl` {extra['size_bytes'] / 1e6:.2f} MB",
             f"- data: stationary frames (0.25-1.95 s) of the note corpus's train split, every "
             f"training source ({', '.join(tr.get('sources', ['fluidr3']))}): "
             f"{tr['frames']} frames of {tr['notes']} notes" +
             (f", each played up to {tr['level_jitter_db']:g} dB louder or quieter"
              if tr.get("level_jitter_db", 0) > 0 else "") +
             (f"; {100 * tr['dynamics_shift_p']:g} % of the frames drawn at another dynamic, "
              f"scaled by its level step ({DYNAMICS_STEP_DB:g} dB a step)"
              if tr.get("dynamics_shift_p", 0) > 0 and len(meta["instruments"]) == 1 else "") +
             (" (random mixtures drawn every step)" if len(meta["instruments"]) > 1 else ""),
             f"- loss: signal ELBO + symbol ELBO + {CROSS_WEIGHT:g} KL(q(z|x)||q(z|y)); KL warm-up "
             f"over {cfg['warmup_epochs']} epochs; Adam lr {cfg['lr']} halved on 10-epoch plateaus; "
             f"batch {cfg['batch']}",
             f"- {tr['epochs']} epochs ({tr['steps']} steps) in {tr['seconds']:.0f} s "
             f"({tr['device']}, {tr['threads']} thread(s))",
             "- final epoch (train): " + ", ".join(f"{k} {v}" for k, v in tr["final"].items()),
             "", end]
    section = "\n".join(lines)
    path = out / "MODEL_CARD.md"
    if path.exists() and begin in path.read_text():
        text = path.read_text()
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        title = " + ".join(meta["instruments"])
        text = f"# {name}: cross-modal VAE ({title})\n\n{section}\n"
    path.write_text(text)
    return path


def update_index(index: Path, entry: Dict) -> None:
    items = json.loads(index.read_text()) if index.exists() else []
    items = [e for e in items if e.get("id") != entry["id"]] + [entry]
    items.sort(key=lambda e: e["id"])
    index.write_text(json.dumps(items, indent=1) + "\n")


def export(model: CrossmodalVAE, out: Path, name: str, meta: Dict, index: Optional[Path],
           onnx: bool = False) -> Dict:
    from timbrel.export import export_model
    model = model.cpu().eval()
    paths = export_model(model.graphs(), model.family, name, meta, out,
                         onnx_graphs=None if onnx else [], step_graphs=None if onnx else [])
    size = paths["tmbl"].stat().st_size
    extra = {"size_bytes": size, "parameters": sum(p.numel() for p in model.parameters())}
    card = write_card(out, name, meta, extra)
    if index is not None:
        rel = lambda p: Path(p).resolve().relative_to(index.parent.resolve()).as_posix()
        update_index(index, {"id": name, "instruments": meta["instruments"],
                             "file": rel(paths["tmbl"]), "card": rel(card),
                             "pitch_ranges": meta["pitch_ranges"], "size_bytes": size})
    return {"tmbl": paths["tmbl"], "card": card, "size_bytes": size}


def train(args) -> Dict:
    torch.set_num_threads(args.threads)
    instruments = args.instrument.split(",")
    mixture = len(instruments) > 1
    config_name = args.config or ("small_mixture" if mixture else "small")
    cfg = dict(CONFIGS[config_name])
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    out = Path(args.out)
    name = args.name or out.name
    run_dir = Path(args.runs) / f"crossmodal-{name}"
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"

    sources = [load_frames(args.data, inst, "train") for inst in instruments]
    if args.max_notes:  # smoke runs
        for s in sources:
            keep = s.note < args.max_notes
            s.features, s.labels, s.note = s.features[keep], s.labels[keep], s.note[keep]
            s.segments, s.note_labels = s.segments[:args.max_notes], s.note_labels[:args.max_notes]
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device)
    model = CrossmodalVAE(signal_hidden=cfg["signal_hidden"], symbol_hidden=cfg["symbol_hidden"],
                          instruments=len(instruments)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=10, min_lr=1e-5)
    batches = Batches(sources, cfg["batch"], rng, args.level_jitter_db, args.dynamics_shift_p)
    state = {"epoch": 0, "step": 0, "seconds": 0.0}
    if ckpt_path.exists() and not args.fresh:
        ck = torch.load(ckpt_path, map_location=device)
        if ck["config"] == cfg and ck["instruments"] == instruments:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            rng.bit_generator.state = ck["rng"]
            torch.set_rng_state(ck["torch_rng"])
            state = ck["state"]
            print(f"resumed from {ckpt_path} at epoch {state['epoch']}", flush=True)
        else:
            print(f"{ckpt_path} is from another config; starting afresh", flush=True)
    log_path = run_dir / "log.csv"
    new_log = not log_path.exists() or state["epoch"] == 0
    log_file = open(log_path, "w" if new_log else "a", newline="")
    log = csv.writer(log_file)
    if new_log:
        log.writerow(LOG_COLUMNS)

    def save():
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "state": state, "config": cfg,
                    "instruments": instruments}, ckpt_path)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    final: Dict[str, float] = {}
    while state["epoch"] < cfg["epochs"] and not _stop:
        t0 = time.time()
        beta = min(1.0, state["epoch"] / max(1, cfg["warmup_epochs"]))
        sums: Dict[str, float] = {}
        n = 0
        model.train()
        for x, labels in batches.epoch():
            parts = losses(model, x.to(device), labels, beta)
            opt.zero_grad()
            parts["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 50.0)
            opt.step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
            state["step"] += 1
            if _stop:
                break
        means = {k: v / n for k, v in sums.items()}
        sched.step(means["loss"])
        state["epoch"] += 1
        state["seconds"] += time.time() - t0
        final = {k: round(v, 4) for k, v in means.items()}
        log.writerow([state["epoch"], state["step"], round(state["seconds"], 1),
                      opt.param_groups[0]["lr"], round(beta, 3)] +
                     [round(means[k], 5) for k in LOG_COLUMNS[5:]])
        log_file.flush()
        if state["epoch"] % 5 == 0 or state["epoch"] == cfg["epochs"]:
            save()
            print(f"epoch {state['epoch']}/{cfg['epochs']} step {state['step']} "
                  f"{state['seconds']:.0f}s " + " ".join(f"{k} {v}" for k, v in final.items()),
                  flush=True)
    save()
    log_file.close()
    if _stop:
        print("stopped; rerun to resume", flush=True)
        return {}
    training = {"config_name": config_name, "config": cfg, "epochs": state["epoch"],
                "steps": state["step"], "seconds": state["seconds"], "device": str(device),
                "threads": args.threads, "frames": sum(len(s.features) for s in sources),
                "notes": sum(len(s.segments) for s in sources), "final": final, "seed": args.seed,
                "sources": sorted({r["source"] for inst in instruments
                                   for r in note_rows(args.data, inst, "train")}),
                "level_jitter_db": args.level_jitter_db, "dynamics_shift_p": args.dynamics_shift_p}
    model.eval()
    meta = metadata(instruments, sources, latent_projection(model.cpu(), sources, rng), training)
    index = None if args.no_index else Path(args.index)
    return export(model, out, name, meta, index, onnx=args.onnx)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--instrument", required=True, help="one instrument, or two joined by ',' (mixture)")
    p.add_argument("--out", required=True)
    p.add_argument("--name")
    p.add_argument("--config", choices=sorted(CONFIGS))
    p.add_argument("--epochs", type=int)
    p.add_argument("--data", default="data/full")
    p.add_argument("--runs", default="data/runs")
    p.add_argument("--index", default="models/crossmodal/index.json")
    p.add_argument("--no-index", action="store_true")
    p.add_argument("--max-notes", type=int, default=0, help="use only the first N notes (smoke)")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--onnx", action="store_true", help="also write the ONNX graphs")
    p.add_argument("--dynamics-shift-p", type=float, default=DYNAMICS_SHIFT_P,
                   help="solo models: share of frames relabelled to another dynamic and scaled "
                        "by its level step (0: none)")
    p.add_argument("--level-jitter-db", type=float, default=LEVEL_JITTER_DB,
                   help="each training frame played up to this many dB louder or quieter (0: none)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = train(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result:
        print(f"wrote {result['tmbl']} ({result['size_bytes'] / 1e6:.2f} MB) and {result['card']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
