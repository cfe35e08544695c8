"""Trains the neural granular model (``timbrel.models.grains``; docs/grains.md) on the drum
one-shots (``timbrel.train.grains_data``).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.train.grains --data $TIMBREL_DATA/full \\
        --runs $TIMBREL_DATA/runs --out models/grains \\
        [--config small|thesis|smoke] [--post-processing on|off]
        [--stage bottom|joint|tune|all] [--epochs N] [--threads N] [--device cpu|cuda]
        [--name NAME] [--fresh]
        [--no-export | --export-only]

Two stages, as the thesis: ``bottom`` trains the grain VAE alone (every one-shot's 65 grains
encoded, decoded from their sampled latents, overlap-added, compared with the one-shot),
then ``joint`` adds the sequence VAE and trains both levels; then ours, ``tune``: the joint
loss again, at a lower learning rate, on class-balanced batches (``balance`` = 1: every class
drawn as often, one-shots drawn with replacement), because the corpus has 188 kicks and 11
claves and the prior is judged per class (``all``, alias ``both``: every stage in order;
``joint`` or ``tune`` alone continues a run whose earlier stages are finished). Resumable: the checkpoint
``<runs>/grains-<name>/checkpoint.pt`` is written every epoch and on SIGTERM/SIGINT, and the
same command continues from it (``--fresh`` starts over); ``log.csv`` has a row per epoch,
``training.json`` (losses, epochs, seconds, corpus counts, costs) is written beside the
checkpoint after every epoch. ``<name>`` defaults to ``<config>-pp`` / ``<config>-fi``.

Export (``timbrel.export.grains``; docs/grains.md "The grains model file"): when both
stages are finished, ``<out>/<name>.tmbl`` (family ``grains``) is written from the checkpoint,
with the grain map, onset centroids and class embeddings computed from the training split
(posterior means); ``--no-export`` trains only, ``--export-only`` writes the file from the
run's checkpoint without training (its joint stage must have run).

Loss (thesis eq. 63; docs/grains.md "Loss" for the exact terms):
- bottom: S(x, x~) + beta(t) beta_z mean_i KL(q(z_i|x_i) || N(0, I))
- joint: S(x, x^) + w_b S(x, x~) + beta_z mean_i KL_i + beta(t) beta_e KL(q(e|s_z) || N(0, I))
  + lambda (1/g) sum_i ||z_i - z^_i||^2 / d_z
where x~ is decoded from the grain latents z_i, x^ from the sequence decoder's z^_i, and
S the multi-scale spectral distance: for windows 128 ... 2048 (``timbrel.train.loss.SIZES``,
hop n/4), mean |l(x) - l(x^)| with l = ln(5e-3 + |STFT|^2), on the linear-frequency STFT and
on a log-frequency one (``log_frequency_bank``), summed over the 10 terms. beta(t) ramps
linearly from 0 after ``hold`` epochs of reconstruction alone. ``w_b`` (not in the thesis)
keeps the grain auto-encoder's own reconstruction in the joint loss while the young sequence
model's z^ are still poor.

Choices for a CPU (the thesis: batch 40, Adam 2e-4, ~10 h on a Titan V): Adam at 1e-3 with
a cosine decay to 10 % within each stage (a few thousand steps instead of ~300 k), batch 16,
gradients clipped at norm 5, every one-shot played at a random gain of +-6 dB (the model
should not learn the corpus's levels as part of the timbre).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from timbrel.models.grains import (PITCH_CENTRES, SAMPLE_RATE, NeuralGranular, costs,
                                   samples_for)
from timbrel.train.grains_data import DrumSet, load_split, read_manifest
from timbrel.train.loss import SIZES

LOG_EPS = 5e-3          # l(x) = ln(eps + |STFT|^2), thesis
BANDS_PER_OCTAVE = 12   # the log-frequency STFT's resolution above its linear part

CONFIGS: Dict[str, Dict] = {
    # Sized on this 2-core machine for ~45 min per variant (docs/grains.md "Training time").
    "small": {"model": {"latent": 64, "embedding": 128, "encoder_channels": [16, 32],
                        "encoder_dense": 256, "hidden": 256, "blocks": 2, "seq_hidden": 256,
                        "pp_channels": 4, "pp_taps": 64},
              "batch": 16, "lr": 1e-3, "bottom_epochs": 24, "joint_epochs": 15, "hold": 2,
              "warmup": 8, "joint_warmup": 5, "beta_z": 0.01, "beta_e": 0.01, "latent_weight": 1.0,
              "bottom_weight": 1.0, "clip": 5.0, "gain_db": 6.0, "eval_every": 5, "eval_items": 48,
              "tune_epochs": 10, "tune_lr": 3e-4, "balance": 1.0},
    # The thesis's sizes (d_z 96, d_e 256, hidden 512, batch 40, Adam 2e-4): GPU only, and over
    # the real-time budget of the core (docs/grains.md "Sizes").
    "thesis": {"model": {"latent": 96, "embedding": 256, "encoder_channels": [64, 128],
                         "encoder_dense": 512, "hidden": 512, "blocks": 3, "seq_hidden": 512,
                         "pp_channels": 5, "pp_taps": 65},
               "batch": 40, "lr": 2e-4, "bottom_epochs": 300, "joint_epochs": 300, "hold": 10,
               "warmup": 50, "joint_warmup": 20, "beta_z": 0.01, "beta_e": 0.01,
               "latent_weight": 1.0, "bottom_weight": 1.0, "clip": 5.0, "gain_db": 6.0,
               "eval_every": 10, "eval_items": 256, "tune_epochs": 0, "tune_lr": 1e-4,
               "balance": 1.0},
    "smoke": {"model": {"latent": 8, "embedding": 8, "encoder_channels": [4, 8],
                        "encoder_dense": 16, "hidden": 16, "blocks": 1, "seq_hidden": 16,
                        "pp_channels": 2, "pp_taps": 8},
              "batch": 4, "lr": 1e-3, "bottom_epochs": 1, "joint_epochs": 1, "hold": 0,
              "warmup": 1, "joint_warmup": 1, "beta_z": 0.01, "beta_e": 0.01, "latent_weight": 1.0,
              "bottom_weight": 1.0, "clip": 5.0, "gain_db": 6.0, "eval_every": 1, "eval_items": 4,
              "tune_epochs": 1, "tune_lr": 3e-4, "balance": 1.0},
}
# The pitched one-shots (--corpus notes): the small model on 2571 notes (160 steps an
# epoch, 2.7 times the drums': 2.5 min a bottom epoch and 3.8 a joint one on one idle
# thread here, twice that beside other work), so fewer epochs fit one session's ~75 min of
# this CPU (the shipped run: planned 12 + 10, cut to 10 + 7 as it went); instruments are
# about equally represented, so no class-balanced tune stage.
CONFIGS["notes-small"] = {**CONFIGS["small"], "bottom_epochs": 10, "joint_epochs": 7,
                          "warmup": 5, "joint_warmup": 3, "eval_every": 4, "tune_epochs": 0,
                          "balance": 0.0}
STAGES = ("bottom", "joint", "tune")
LOG_COLUMNS = ["stage", "epoch", "step", "seconds", "step_seconds", "lr", "beta", "loss", "spec",
               "spec_grains", "kl_z", "kl_e", "latent_mse", "grad_norm", "test_spec_grains",
               "test_spec_sequence", "test_lsd_grains", "test_lsd_sequence"]

_stop = False


def _on_signal(signum, frame):  # pragma: no cover - exercised by hand and by the resume test
    global _stop
    _stop = True


# --- the spectral distance ----------------------------------------------------------------------

def log_frequency_bank(n: int, sample_rate: int = SAMPLE_RATE,
                       bands_per_octave: int = BANDS_PER_OCTAVE) -> np.ndarray:
    """[bands, n/2 + 1] float64: rows average the power of the STFT's bins.

    Below f0 = df / (2^(1/B) - 1) (df = sr / n; B bands per octave), where log-spaced bands
    would be narrower than a bin, every bin is its own band (k < k0 = ceil(f0 / df), about
    17 bins). From c_0 = k0 df up to Nyquist the bands are triangles on log-spaced centres
    c_j = c_0 2^(j / B), each from c_{j-1} to c_{j+1} (c_{-1} = (k0 - 1) df), weights on
    the bin frequencies normalised to sum 1. n = 2048: 17 + 71 bands; n = 128: 17 + 23.
    """
    bins = n // 2 + 1
    df = sample_rate / n
    ratio = 2.0 ** (1.0 / bands_per_octave)
    k0 = int(math.ceil(1.0 / (ratio - 1.0)))
    nyquist = sample_rate / 2
    count = int(math.floor(math.log(nyquist / (k0 * df)) / math.log(ratio))) + 1
    centres = k0 * df * ratio ** np.arange(count)
    edges = np.concatenate([[(k0 - 1) * df], centres, [centres[-1] * ratio]])
    freqs = np.arange(bins) * df
    rows = [np.eye(bins)[k] for k in range(k0)]
    for j in range(count):
        lo, c, hi = edges[j], edges[j + 1], edges[j + 2]
        w = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0.0, None)
        rows.append(w / w.sum())
    return np.stack(rows)


_BANKS: Dict[Tuple[int, str, torch.dtype], torch.Tensor] = {}


def log_frequency_power(P: torch.Tensor, n: int) -> torch.Tensor:
    """[..., n/2 + 1] bin powers -> [..., bands] = ``P @ log_frequency_bank(n).T`` (a dense
    product: BLAS beats a two-entries-per-bin scatter here by 5x)."""
    key = (n, str(P.device), P.dtype)
    if key not in _BANKS:
        _BANKS[key] = torch.from_numpy(log_frequency_bank(n)).to(P.device, P.dtype).t().contiguous()
    return P @ _BANKS[key]


def power_spectrogram(x: torch.Tensor, n: int) -> torch.Tensor:
    """|STFT|^2 [B, frames, n/2 + 1]: periodic Hann, hop n / 4, centred (reflect-padded),
    unnormalised (torch.stft), as ``timbrel.train.loss``."""
    w = torch.hann_window(n, periodic=True, device=x.device, dtype=x.dtype)
    S = torch.stft(x, n, n // 4, window=w, center=True, return_complex=True)
    return (S.real ** 2 + S.imag ** 2).transpose(1, 2)


def log_spectra(x: torch.Tensor, sizes: Sequence[int] = SIZES, eps: float = LOG_EPS
                ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """[(l(x) on the linear STFT, l(x) on its log-frequency bands)] per size, l = ln(eps + P)."""
    out = []
    for n in sizes:
        P = power_spectrogram(x, n)
        out.append((torch.log(eps + P), torch.log(eps + log_frequency_power(P, n))))
    return out


def spectral_distance(output: torch.Tensor, target: Optional[torch.Tensor] = None,
                      sizes: Sequence[int] = SIZES, eps: float = LOG_EPS,
                      reference: Optional[List[Tuple[torch.Tensor, torch.Tensor]]] = None
                      ) -> Dict[str, torch.Tensor]:
    """output, target [B, L] -> {"loss", "linear", "logfreq"}: sums over ``sizes`` of
    mean |ln(eps + P) - ln(eps + P^)| on the linear STFT and on its log-frequency bands.
    ``reference``: ``log_spectra(target)`` computed once (no gradient flows to the target:
    its STFT stays out of the backward pass, which is half the cost of a step)."""
    if reference is None:
        with torch.no_grad():
            reference = log_spectra(target, sizes, eps)
    lin = output.new_zeros(())
    logf = output.new_zeros(())
    for (L_ref, Q_ref), (L, Q) in zip(reference, log_spectra(output, sizes, eps)):
        lin = lin + (L - L_ref).abs().mean()
        logf = logf + (Q - Q_ref).abs().mean()
    return {"loss": lin + logf, "linear": lin, "logfreq": logf}


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(0, I)) summed over the last dimension."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def losses(model: NeuralGranular, x: torch.Tensor, labels: Optional[torch.Tensor], stage: str,
           beta_z: float, beta_e: float, latent_weight: float = 1.0,
           bottom_weight: float = 1.0) -> Dict[str, torch.Tensor]:
    """The stage's loss and its parts (module doc). ``beta_z``, ``beta_e`` already include
    the warm-up factor."""
    joint = stage == "joint"
    length = samples_for(model.grains)
    x = torch.nn.functional.pad(x, (0, max(0, length - x.shape[1])))[:, :length]
    r = model(x, labels, joint=joint, bottom=(not joint) or bottom_weight > 0)
    kl_z = kl_normal(r["mu"], r["logvar"]).mean(1)              # mean over grains, [B]
    zero = x.new_zeros(())
    out = {"kl_z": kl_z.mean(), "kl_e": zero, "latent_mse": zero, "spec_grains": zero}
    with torch.no_grad():
        reference = log_spectra(x)
    if "out_grains" in r:
        out["spec_grains"] = spectral_distance(r["out_grains"], reference=reference)["loss"]
    if joint:
        spec = spectral_distance(r["out_sequence"], reference=reference)["loss"]
        kl_e = kl_normal(r["mu_e"], r["logvar_e"])
        mse = (r["z"] - r["z_hat"]).pow(2).mean((1, 2))             # (1/g) sum_i |.|^2 / d_z
        out.update(spec=spec, kl_e=kl_e.mean(), latent_mse=mse.mean())
        out["loss"] = (spec + bottom_weight * out["spec_grains"] + beta_z * out["kl_z"]
                       + beta_e * out["kl_e"] + latent_weight * out["latent_mse"])
    else:
        out["spec"] = out["spec_grains"]
        out["loss"] = out["spec_grains"] + beta_z * out["kl_z"]
    return out


# --- evaluation during training ---------------------------------------------------------------------

@torch.no_grad()
def evaluate(model: NeuralGranular, data: DrumSet, device, items: int = 48,
             joint: bool = True, batch: int = 8) -> Dict[str, float]:
    """Spectral distance and LSD (timbrel.eval.grains_card's convention) of the first
    ``items`` one-shots of ``data``, posterior means, the contract's fixed noise."""
    from timbrel.eval.grains_card import spectrogram_metrics
    from timbrel.models.grains import parity_noise
    if len(data) == 0:
        return {}
    was = model.training
    model.eval()
    sums: Dict[str, float] = {}
    n = min(items, len(data))
    for s in range(0, n, batch):
        idx = np.arange(s, min(n, s + batch))
        x = torch.from_numpy(data.batch(idx)).to(device)
        labels = data.conditioning(idx, model).to(device)
        noise = parity_noise(len(idx), model.grains).float().to(device)
        r = model(x, labels, joint=joint, sample=False, noise=noise)
        for path in ("grains", "sequence"):
            if f"out_{path}" not in r:
                continue
            y = r[f"out_{path}"]
            d = spectral_distance(y, x[:, :y.shape[1]])["loss"]
            m = spectrogram_metrics(y, x[:, :y.shape[1]])
            sums[f"spec_{path}"] = sums.get(f"spec_{path}", 0.0) + float(d) * len(idx)
            sums[f"lsd_{path}"] = sums.get(f"lsd_{path}", 0.0) + float(m["lsd"].sum())
    model.train(was)
    return {k: v / n for k, v in sums.items()}


# --- training -------------------------------------------------------------------------------------

def run_name(args) -> str:
    return args.name or f"{args.config}-{'pp' if args.post_processing == 'on' else 'fi'}"



def _row_value(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.5g}"
    return str(v)


def corpus_counts(data_root, max_items: int = 0, corpus: str = "drums") -> Dict:
    m = read_manifest(data_root, corpus)
    out: Dict = {"classes": list(m["classes"])}
    for split in ("train", "test", "heldout"):
        rows = [r for r in m["rows"] if r["split"] == split]
        out[split] = {c: sum(1 for r in rows if r["class"] == c) for c in m["classes"]}
        out[split]["total"] = len(rows)
    if max_items:
        out["max_items"] = max_items
    if corpus != "drums":
        out["corpus"] = corpus
        out["sources"] = {split: sorted({r.get("source", "") for r in m["rows"] if r["split"] == split})
                          for split in ("train", "test", "heldout")}
    return out


def sampling_weights(labels: np.ndarray, classes: int, balance: float) -> np.ndarray:
    """p(one-shot) ~ count(its class)^-balance: 0 = every one-shot alike, 1 = every class
    alike (the tune stage's batches)."""
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    p = 1.0 / np.maximum(counts[labels], 1.0) ** balance
    return p / p.sum()


def train(args) -> Dict:
    global _stop
    _stop = False
    torch.set_num_threads(args.threads)
    cfg = json.loads(json.dumps(CONFIGS[args.config]))
    if args.epochs is not None:
        cfg["bottom_epochs"] = cfg["joint_epochs"] = int(args.epochs)
    if args.bottom_epochs is not None:
        cfg["bottom_epochs"] = int(args.bottom_epochs)
    if args.joint_epochs is not None:
        cfg["joint_epochs"] = int(args.joint_epochs)
    if args.tune_epochs is not None:
        cfg["tune_epochs"] = int(args.tune_epochs)
    if args.batch:
        cfg["batch"] = int(args.batch)
    for key in ("beta_z", "beta_e", "lr"):
        if getattr(args, key) is not None:
            cfg[key] = float(getattr(args, key))
    device = torch.device(args.device)
    run_dir = Path(args.runs) / f"grains-{run_name(args)}"
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"
    log_path = run_dir / "log.csv"

    train_set = load_split(args.data, "train", max_items=args.max_items, corpus=args.corpus)
    if len(train_set) == 0:
        raise ValueError(f"no 'train' one-shots in the {args.corpus} corpus under {args.data}")
    test_set = load_split(args.data, "test", max_items=args.max_items, corpus=args.corpus)
    classes = train_set.classes
    post = args.post_processing == "on"

    torch.manual_seed(args.seed)
    pitched = {"pitch_centres": list(PITCH_CENTRES)} if args.corpus == "notes" else {}
    model = NeuralGranular(classes=len(classes), post_processing=post, **cfg["model"],
                           **pitched).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    state = {"stage": "bottom", "epoch": 0, "bottom_epochs": 0, "joint_epochs": 0,
             "tune_epochs": 0, "step": 0, "seconds": 0.0, "last": {}}
    if ckpt_path.exists() and not args.fresh:
        ck = torch.load(ckpt_path, map_location=device)
        if ck["model_config"] != model.config() or ck["classes"] != classes:
            raise ValueError(f"{ckpt_path} holds another model ({ck['model_config']}, classes "
                             f"{ck['classes']}); use --fresh or another --name")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        state = ck["state"]
        state.setdefault("tune_epochs", 0)  # checkpoints from before the tune stage
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed {run_dir.name}: {state['bottom_epochs']} bottom + "
              f"{state['joint_epochs']} joint epochs done", flush=True)
    elif log_path.exists():
        log_path.unlink()
    if not log_path.exists():
        log_path.write_text(",".join(LOG_COLUMNS) + "\n")

    stages: List[str] = list(STAGES) if args.stage in ("all", "both") else [args.stage]
    for earlier in STAGES[:STAGES.index(stages[0])]:
        if state[f"{earlier}_epochs"] < cfg[f"{earlier}_epochs"]:
            raise ValueError(f"{ckpt_path}: the {earlier} stage has {state[f'{earlier}_epochs']} of "
                             f"{cfg[f'{earlier}_epochs']} epochs; run --stage {earlier} (or all) first")
    balanced_p = sampling_weights(train_set.label, len(classes), cfg.get("balance", 0.0))

    def save():
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state,
                    "model_config": model.config(), "config": cfg, "classes": classes,
                    "torch_rng": torch.get_rng_state(), "args": vars(args)}, tmp)
        tmp.replace(ckpt_path)
        write_training_json(run_dir, model, cfg, state, args, classes)

    old_term = signal.signal(signal.SIGTERM, _on_signal)
    old_int = signal.signal(signal.SIGINT, _on_signal)
    steps_per_epoch = max(1, len(train_set) // cfg["batch"])
    model.train()
    try:
        for stage in stages:
            total = cfg[f"{stage}_epochs"]
            if state["stage"] != stage:
                if STAGES.index(state["stage"]) < STAGES.index(stage):
                    state.update(stage=stage, epoch=0)
                else:
                    continue
            while state["epoch"] < total and not _stop:
                t0 = time.time()
                epoch = state["epoch"]
                base_lr = cfg["tune_lr"] if stage == "tune" else cfg["lr"]
                lr = base_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * epoch / max(1, total))))
                for group in opt.param_groups:
                    group["lr"] = lr
                rng = np.random.default_rng([args.seed, STAGES.index(stage), epoch])
                if stage == "tune":
                    order = rng.choice(len(train_set), steps_per_epoch * cfg["batch"], p=balanced_p)
                else:
                    order = rng.permutation(len(train_set))
                sums: Dict[str, float] = {}
                batches = 0
                beta = 0.0
                for b in range(steps_per_epoch):
                    idx = order[b * cfg["batch"]:(b + 1) * cfg["batch"]]
                    x = train_set.batch(idx)
                    if cfg["gain_db"] > 0:
                        x = x * (10.0 ** (rng.uniform(-cfg["gain_db"], cfg["gain_db"], (len(idx), 1)) / 20)
                                 ).astype(np.float32)
                    x = torch.from_numpy(x).to(device)
                    labels = train_set.conditioning(idx, model).to(device)
                    progress = epoch + b / steps_per_epoch
                    if stage == "bottom":
                        beta = min(1.0, max(0.0, (progress - cfg["hold"]) / max(cfg["warmup"], 1e-9)))
                        out = losses(model, x, labels, "bottom", beta * cfg["beta_z"], 0.0)
                    else:
                        beta = 1.0 if stage == "tune" else \
                            min(1.0, progress / max(cfg["joint_warmup"], 1e-9))
                        out = losses(model, x, labels, "joint", cfg["beta_z"], beta * cfg["beta_e"],
                                     cfg["latent_weight"], cfg["bottom_weight"])
                    opt.zero_grad()
                    out["loss"].backward()
                    grad = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
                    opt.step()
                    state["step"] += 1
                    batches += 1
                    for k, v in out.items():
                        sums[k] = sums.get(k, 0.0) + float(v)
                    sums["grad_norm"] = sums.get("grad_norm", 0.0) + float(grad)
                    if _stop:
                        break
                dt = time.time() - t0
                state["seconds"] += dt
                if _stop and batches < steps_per_epoch:
                    # an unfinished epoch is not counted: a rerun repeats it
                    print(f"stopped in {stage} epoch {epoch + 1}; run again to continue", flush=True)
                    break
                state["epoch"] += 1
                state[f"{stage}_epochs"] = state["epoch"]
                ev = {}
                if state["epoch"] % cfg["eval_every"] == 0 or state["epoch"] == total:
                    ev = evaluate(model, test_set, device, cfg["eval_items"], joint=stage != "bottom")
                row = {"stage": stage, "epoch": state["epoch"], "step": state["step"],
                       "seconds": round(state["seconds"], 1),
                       "step_seconds": round(dt / max(batches, 1), 3), "lr": lr, "beta": beta}
                row.update({k: sums.get(k, 0.0) / max(batches, 1) for k in
                            ("loss", "spec", "spec_grains", "kl_z", "kl_e", "latent_mse", "grad_norm")})
                row.update({"test_spec_grains": ev.get("spec_grains", math.nan),
                            "test_spec_sequence": ev.get("spec_sequence", math.nan),
                            "test_lsd_grains": ev.get("lsd_grains", math.nan),
                            "test_lsd_sequence": ev.get("lsd_sequence", math.nan)})
                state["last"][stage] = row
                with open(log_path, "a") as f:
                    f.write(",".join(_row_value(row[c]) for c in LOG_COLUMNS) + "\n")
                print(" ".join(f"{c}={_row_value(row[c])}" for c in LOG_COLUMNS), flush=True)
                save()
            if _stop:
                break
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
    save()
    done = all(state[f"{s}_epochs"] >= cfg[f"{s}_epochs"] for s in stages) and not _stop
    result = {"checkpoint": ckpt_path, "finished": done, "state": state}
    if done and not args.no_export:
        if state["joint_epochs"] >= cfg["joint_epochs"] > 0 and \
                state["tune_epochs"] >= cfg.get("tune_epochs", 0):
            result.update(export_checkpoint(ckpt_path, Path(args.out), run_name(args), args.data,
                                            args.max_items, args.corpus, args.weights))
        else:
            result["not_exported"] = (f"the joint stage has {state['joint_epochs']} of "
                                      f"{cfg['joint_epochs']} epochs; the file is written when "
                                      "it is finished (or with --export-only)")
    return result


def write_training_json(run_dir: Path, model: NeuralGranular, cfg: Dict, state: Dict, args,
                        classes: List[str]) -> Path:
    from timbrel.data.corpus import shown
    steps = max(1, state["step"])
    info = {"family": model.family, "name": run_dir.name,
            "variant": "VAE_fi+pp" if model.post_processing else "VAE_fi",
            "post_processing": model.post_processing, "config_name": args.config,
            "config": cfg, "model": model.config(), "classes": classes,
            "stage": state["stage"],
            "epochs": {s: state.get(f"{s}_epochs", 0) for s in STAGES},
            "planned_epochs": {s: cfg.get(f"{s}_epochs", 0) for s in STAGES},
            "steps": state["step"], "seconds": round(state["seconds"], 1),
            "seconds_per_step": round(state["seconds"] / steps, 3),
            "threads": args.threads, "device": str(args.device),
            "losses": state.get("last", {}), "costs": costs(model),
            "data": shown(Path(args.data)),
            "corpus": corpus_counts(args.data, args.max_items, getattr(args, "corpus", "drums"))}
    path = run_dir / "training.json"
    path.write_text(json.dumps(info, indent=1) + "\n")
    return path


def load_checkpoint(path, device="cpu") -> Tuple[NeuralGranular, Dict]:
    ck = torch.load(Path(path), map_location=device)
    model = NeuralGranular.from_config(ck["model_config"]).to(device)
    model.load_state_dict(ck["model"])
    return model.eval(), ck


def export_checkpoint(ckpt_path, out, name: str, data_root, max_items: int = 0,
                      corpus: Optional[str] = None, weights: str = "f16") -> Dict:
    """The checkpoint -> ``<out>/<name>.tmbl`` (family ``grains``, docs/grains.md), the
    statistics from the training split. Refuses a checkpoint whose joint stage has not run
    (its sequence decoder, which makes the hits, would be untrained)."""
    from timbrel.export.grains import export_grains, grain_statistics
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.exists():
        raise FileNotFoundError(f"no checkpoint at {ckpt_path}: train first")
    model, ck = load_checkpoint(ckpt_path)
    state = ck["state"]
    if state.get("joint_epochs", 0) < 1:
        raise ValueError(f"{ckpt_path}: the joint stage has not run, so the sequence decoder "
                         "(the hits) is untrained; run --stage joint before exporting")
    corpus = corpus or ck.get("args", {}).get("corpus", "drums")
    train_set = load_split(data_root, "train", max_items=max_items, corpus=corpus)
    if train_set.classes != ck["classes"]:
        raise ValueError(f"the corpus's classes {train_set.classes} are not the checkpoint's "
                         f"{ck['classes']}")
    stats = grain_statistics(model, train_set.audio, train_set.label, scale=1.0 / 32768.0,
                             pitches=train_set.pitch)
    info_path = ckpt_path.parent / "training.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    cfg = ck.get("config", {})
    training = {"run": ckpt_path.parent.name,
                "variant": "VAE_fi+pp" if model.post_processing else "VAE_fi",
                "config_name": info.get("config_name"),
                "epochs": {s: state.get(f"{s}_epochs", 0) for s in STAGES},
                "planned_epochs": {s: cfg.get(f"{s}_epochs", 0) for s in STAGES},
                "steps": state.get("step", 0), "seconds": round(state.get("seconds", 0.0), 1),
                "losses": state.get("last", {}), "costs": costs(model),
                "corpus": info.get("corpus", {}), "data": info.get("data")}
    training["weights"] = weights
    path = export_grains(model, ck["classes"], Path(out), name, stats, training, dtype=weights)
    return {"tmbl": path, "size_bytes": path.stat().st_size}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/full",
                   help="data root holding drums/ and notes/ (or the drums folder)")
    p.add_argument("--corpus", choices=("drums", "notes"), default="drums",
                   help="drums: the drum one-shots, classes = drum types; notes: the pitched "
                        "one-shots cut from the note corpus, classes = instruments, and pitch")
    p.add_argument("--runs", default="data/runs")
    p.add_argument("--out", required=True, help="model folder: <out>/<name>.tmbl")
    p.add_argument("--name", help="run name (default <config>-pp or <config>-fi)")
    p.add_argument("--config", choices=sorted(CONFIGS), default="small")
    p.add_argument("--post-processing", choices=("on", "off"), default="on",
                   help="the FIR post-filter: on = VAE_fi+pp, off = VAE_fi")
    p.add_argument("--stage", choices=STAGES + ("all", "both"), default="all",
                   help="one stage, or all in order (both: the same as all)")
    p.add_argument("--epochs", type=int, help="epochs of each stage run")
    p.add_argument("--bottom-epochs", type=int)
    p.add_argument("--joint-epochs", type=int)
    p.add_argument("--tune-epochs", type=int, help="epochs of the class-balanced tune stage (0: none)")
    p.add_argument("--batch", type=int)
    p.add_argument("--beta-z", type=float, help="target weight of the grain KL")
    p.add_argument("--beta-e", type=float, help="target weight of the embedding KL")
    p.add_argument("--lr", type=float)
    p.add_argument("--max-items", type=int, default=0, help="use N seeded one-shots per split (smoke)")
    p.add_argument("--seed", type=int, default=20261215)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--fresh", action="store_true", help="start over (ignore the checkpoint)")
    p.add_argument("--no-export", action="store_true", help="train only (no .tmbl)")
    p.add_argument("--weights", choices=("f16", "f32"), default="f16",
                   help="the .tmbl's weights: f16 (half the bytes; the shipped models) or f32")
    p.add_argument("--export-only", action="store_true",
                   help="write <out>/<name>.tmbl from the run's checkpoint, no training")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.export_only and args.no_export:
        print("error: --export-only and --no-export exclude each other", file=sys.stderr)
        return 2
    try:
        if args.export_only:
            torch.set_num_threads(args.threads)
            ckpt = Path(args.runs) / f"grains-{run_name(args)}" / "checkpoint.pt"
            result = export_checkpoint(ckpt, Path(args.out), run_name(args), args.data, args.max_items,
                                       args.corpus, args.weights)
        else:
            result = train(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if "checkpoint" in result:
        print(f"checkpoint {result['checkpoint']}" + ("" if result["finished"] else " (unfinished)"))
    if "not_exported" in result:
        print(f"not exported: {result['not_exported']}")
    if "tmbl" in result:
        print(f"wrote {result['tmbl']} ({result['size_bytes'] / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
