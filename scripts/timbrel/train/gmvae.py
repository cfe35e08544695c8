"""Trains the GMVAE note model (Luo et al. 2019) on the multi-source note corpus.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.train.gmvae --data $TIMBREL_DATA/full \\
        --runs $TIMBREL_DATA/runs --out models/gmvae [--labels 1.0] [--prior mixture|isotropic]

Resumable: a checkpoint is written every epoch and on SIGTERM/SIGINT under
``<runs>/gmvae-<name>/``; running the same command again continues (``--fresh`` restarts).
``--export-only`` writes the ``.tmbl`` from the last checkpoint. The same script runs on
the GPU machine (``--device cuda``).

Loss (the paper's eq. 2, per note, summed over its elements):
- reconstruction: squared error of the scaled log-mel patch;
- KL(q(z_p|X) || N(pitch_means[y_p], e^-2)): the pitch label is always observed;
- timbre, ``--prior mixture``: labelled notes (a seeded ``--labels`` share of the training
  notes): KL(q(z_t|X) || N(timbre_means[y_t], 1)) + ``CE_WEIGHT`` x cross-entropy of the
  mixture's posterior q(y_t|X) = p(y_t|mu_t); unlabelled notes: E_q(y_t|X)[KL(...)] +
  KL(q(y_t|X) || uniform);
- ``--prior isotropic`` (the paper's baseline M_VAE): KL(q(z_t|X) || N(0, I)), and the
  auxiliary classifier's cross-entropy on the labelled notes.
- a pitch adversary (not in the paper): a classifier learns the pitch from mu_timbre while a
  gradient reversal (weight ``--adversary``) pushes the timbre encoder to hide it. Without
  it the timbre latent learned the pitch as well (linear-classifier F 0.74 on our test
  notes; the paper reports 0.03), the decoder took the pitch from it, and notes sampled
  from the priors (the timbre mean holds no pitch) came out unpitched and 10-20 dB quiet.
- a prior path (not in the paper; ``--prior-path``, mixture prior only): the decoder also
  decodes z_pitch and z_timbre drawn from the note's own pitch and instrument components
  (unlabelled notes: the component the mixture's posterior picks) and is asked for the
  same note. This is what sampling does; with the adversary alone the timbre latent still
  held the pitch (F 0.61) and notes sampled from the priors landed on wrong pitches (4 %
  within 20 cents).
KL terms ramp from 0 to 1 over the first ``warmup`` epochs (they would otherwise pull the
latents onto the randomly placed means before the decoder uses them).

Choices made here (the paper's are in DIGEST.md §2): Adam at 5e-4 with a cosine decay
(the paper's 1e-4 over an unstated number of epochs is too slow for a CPU training); batch
64; each note's patch is played up to +-``--level-jitter-db`` louder or quieter (microphone
input is at any level); min/max scaling of the whole training corpus in dB, floored 100 dB
under its loudest band (the paper's min/max would scale to the -100 dB power floor).
"""

from __future__ import annotations

import argparse
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

from timbrel import mel
from timbrel.data.instruments import NOTE_INSTRUMENTS
from timbrel.models.gmvae import GMVAE
from timbrel.train.gmvae_data import NotePatches, load_patches

CONFIGS: Dict[str, Dict] = {
    "small": {"channels": 128, "dense": 256, "seed": 32, "batch": 64, "epochs": 150,
              "warmup": 10, "lr": 5e-4},
    "paper": {"channels": 512, "dense": 512, "seed": 64, "batch": 128, "epochs": 300,
              "warmup": 10, "lr": 1e-4},
    "smoke": {"channels": 8, "dense": 16, "seed": 4, "batch": 16, "epochs": 2, "warmup": 1,
              "lr": 1e-3},
}
LATENT = 16
CE_WEIGHT = 10.0
ADVERSARY_SCALE = 10.0  # the adversary's own loss weight (its gradient to the encoder: x --adversary)
ADVERSARY = 1.0
PRIOR_PATH = 1.0
DB_RANGE = 100.0
LEVEL_JITTER_DB = 3.0
LOG_COLUMNS = ["epoch", "step", "seconds", "lr", "beta", "loss", "recon", "kl_pitch",
               "kl_timbre", "ce", "train_instrument_acc", "adversary", "from_prior", "test_recon",
               "test_instrument_acc"]

_stop = False


def _on_signal(signum, frame):  # pragma: no cover - exercised by hand
    global _stop
    _stop = True


def kl_to(mu, logvar, mean, log_sigma: float):
    """KL(N(mu, e^logvar) || N(mean, e^(2 log_sigma))) summed over the latent, per item."""
    var_p = math.exp(2.0 * log_sigma)
    return 0.5 * (2.0 * log_sigma - logvar + (logvar.exp() + (mu - mean).pow(2)) / var_p
                  - 1.0).sum(-1)


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight: float):
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.weight * grad, None


def losses(model: GMVAE, x, pitch_index, instrument, labelled, beta: float,
           adversary: float = 0.0, prior_path: float = 0.0) -> Dict:
    out = model(x)
    recon = (out["reconstruction"] - x).pow(2).sum((1, 2))
    kl_p = kl_to(out["mu_pitch"], out["logvar_pitch"], model.pitch_means[pitch_index],
                 model.pitch_log_sigma)
    mu_t, logvar_t = out["mu_timbre"], out["logvar_timbre"]
    if model.timbre_prior == "isotropic":
        kl_t = kl_to(mu_t, logvar_t, torch.zeros_like(mu_t), 0.0)
        logits = model.timbre_logits(out["z_timbre"])
    else:
        logits = model.timbre_logits(mu_t)  # q(y_t|X) ~ p(y_t | E z_t)
        q = F.softmax(logits, -1)
        # KL to every component: [B, K]
        kl_all = kl_to(mu_t.unsqueeze(1), logvar_t.unsqueeze(1), model.timbre_means.unsqueeze(0),
                       model.timbre_log_sigma)
        k = model.timbre_means.shape[0]
        unlabelled = (q * kl_all).sum(-1) + (q * (torch.log(q.clamp_min(1e-12)) + math.log(k))).sum(-1)
        labelled_kl = kl_all.gather(1, instrument.unsqueeze(1)).squeeze(1)
        kl_t = torch.where(labelled, labelled_kl, unlabelled)
    ce = F.cross_entropy(logits, instrument, reduction="none") * labelled.float()
    # The adversary minimises its cross-entropy; through the reversal the timbre encoder
    # maximises it (scaled by ``adversary``).
    adv = F.cross_entropy(model.pitch_adversary(_ReverseGradient.apply(mu_t, adversary)),
                          pitch_index, reduction="none")
    loss = (recon + beta * (kl_p + kl_t) + CE_WEIGHT * ce + ADVERSARY_SCALE * adv).mean()
    from_prior = torch.zeros_like(recon)
    if prior_path > 0 and model.timbre_prior == "mixture":
        component = torch.where(labelled, instrument, logits.argmax(-1).detach())
        z_p = model.pitch_means[pitch_index] + math.exp(model.pitch_log_sigma) * torch.randn_like(mu_t)
        z_t = model.timbre_means[component] + math.exp(model.timbre_log_sigma) * torch.randn_like(mu_t)
        from_prior = (model.decode(z_p, z_t) - x).pow(2).sum((1, 2))
        loss = loss + prior_path * from_prior.mean()
    acc = (logits.argmax(-1) == instrument).float().mean()
    return {"loss": loss, "recon": recon.mean(), "kl_pitch": kl_p.mean(), "kl_timbre": kl_t.mean(),
            "ce": ce.mean(), "acc": acc, "adversary": adv.mean(), "from_prior": from_prior.mean()}


def scaled(db: np.ndarray, db_min: float, db_max: float) -> torch.Tensor:
    return torch.from_numpy(mel.scale(db, db_min, db_max).astype(np.float32))


@torch.no_grad()
def evaluate(model: GMVAE, data: NotePatches, db_min: float, db_max: float,
             pitches: List[int], device) -> Dict:
    model.eval()
    x = scaled(data.db, db_min, db_max).to(device)
    recon, correct = 0.0, 0
    for s in range(0, len(data), 256):
        out = model(x[s:s + 256])
        recon += float((out["reconstruction"] - x[s:s + 256]).pow(2).sum())
        correct += int((model.timbre_logits(out["mu_timbre"]).argmax(-1).cpu().numpy()
                        == data.instrument[s:s + 256]).sum())
    model.train()
    return {"recon": recon / len(data), "instrument_acc": correct / len(data)}


def run_name(args) -> str:
    if args.name:
        return args.name
    return Path(args.out).name


def build_model(cfg: Dict, pitches: List[int], prior: str) -> GMVAE:
    return GMVAE(channels=cfg["channels"], dense=cfg["dense"], seed=cfg["seed"], latent=LATENT,
                 pitches=len(pitches), instruments=len(NOTE_INSTRUMENTS), timbre_prior=prior)


def train(args) -> Optional[Dict]:
    torch.set_num_threads(args.threads)
    cfg = dict(CONFIGS[args.config])
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    device = torch.device(args.device)
    run_dir = Path(args.runs) / f"gmvae-{run_name(args)}"
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"

    train_set = load_patches(args.data, "train")
    try:
        test_set = load_patches(args.data, "test")
    except FileNotFoundError:  # a smoke corpus may have no test notes
        test_set = None
    if args.max_notes:
        keep = np.random.default_rng(0).permutation(len(train_set))[:args.max_notes]
        train_set = NotePatches("train", train_set.db[keep], train_set.instrument[keep],
                                train_set.pitch[keep], train_set.dynamics[keep],
                                [train_set.source[i] for i in keep])
    every_pitch = np.concatenate([train_set.pitch] + ([test_set.pitch] if test_set else []))
    pitches = list(range(int(every_pitch.min()), int(every_pitch.max()) + 1))
    db_max = float(np.ceil(train_set.db.max()))
    db_min = db_max - DB_RANGE

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    labelled_mask = np.zeros(len(train_set), bool)
    labelled_mask[rng.permutation(len(train_set))[:int(round(args.labels * len(train_set)))]] = True
    model = build_model(cfg, pitches, args.prior).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    state = {"epoch": 0, "step": 0, "seconds": 0.0}
    log_path = run_dir / "log.csv"
    if ckpt_path.exists() and not args.fresh:
        ck = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        state = ck["state"]
        labelled_mask = ck["labelled_mask"]
        rng = np.random.default_rng(args.seed + state["epoch"])
        print(f"resumed from epoch {state['epoch']}")
    elif log_path.exists():
        log_path.unlink()
    if not log_path.exists():
        log_path.write_text(",".join(LOG_COLUMNS) + "\n")

    x_all = train_set.db
    pitch_index = torch.from_numpy(train_set.pitch - pitches[0]).long()
    instrument = torch.from_numpy(train_set.instrument).long()
    labelled = torch.from_numpy(labelled_mask)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    def save():
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state,
                    "labelled_mask": labelled_mask, "config": cfg, "pitches": pitches,
                    "db_min": db_min, "db_max": db_max, "prior": args.prior,
                    "labels": args.labels, "adversary": args.adversary,
                    "prior_path": args.prior_path}, ckpt_path)

    model.train()
    while state["epoch"] < cfg["epochs"] and not _stop:
        t0 = time.time()
        epoch = state["epoch"]
        lr = cfg["lr"] * 0.5 * (1 + math.cos(math.pi * epoch / cfg["epochs"]))
        for g in opt.param_groups:
            g["lr"] = lr
        beta = min(1.0, (epoch + 1) / cfg["warmup"])
        sums: Dict[str, float] = {}
        order = rng.permutation(len(train_set))
        batches = 0
        for s in range(0, len(order) - cfg["batch"] + 1, cfg["batch"]):
            idx = order[s:s + cfg["batch"]]
            db = x_all[idx]
            if args.level_jitter_db > 0:
                db = db + rng.uniform(-args.level_jitter_db, args.level_jitter_db,
                                      (len(idx), 1, 1)).astype(np.float32)
            x = scaled(db, db_min, db_max).to(device)
            out = losses(model, x, pitch_index[idx].to(device), instrument[idx].to(device),
                         labelled[idx].to(device), beta, args.adversary * beta, args.prior_path)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            state["step"] += 1
            batches += 1
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if _stop:
                break
        state["seconds"] += time.time() - t0
        state["epoch"] += 1
        ev = evaluate(model, test_set, db_min, db_max, pitches, device) \
            if test_set and (state["epoch"] % 5 == 0 or state["epoch"] == cfg["epochs"]) else {}
        row = [state["epoch"], state["step"], round(state["seconds"], 1), f"{lr:.2e}", beta] + \
            [round(sums.get(k, 0) / max(batches, 1), 4) for k in
             ("loss", "recon", "kl_pitch", "kl_timbre", "ce", "acc", "adversary", "from_prior")] + \
            [round(ev.get("recon", float("nan")), 2), round(ev.get("instrument_acc", float("nan")), 4)]
        with open(log_path, "a") as f:
            f.write(",".join(str(v) for v in row) + "\n")
        print(dict(zip(LOG_COLUMNS, row)), flush=True)
        save()
    save()
    if state["epoch"] < cfg["epochs"]:
        print(f"stopped at epoch {state['epoch']} of {cfg['epochs']}; run again to continue")
        return None
    if args.no_export:
        return {"checkpoint": ckpt_path}
    return export_checkpoint(ckpt_path, Path(args.out), run_name(args), args.data)


def load_checkpoint(ckpt_path: Path, device="cpu") -> tuple:
    ck = torch.load(ckpt_path, map_location=device)
    model = build_model(ck["config"], ck["pitches"], ck["prior"])
    model.load_state_dict(ck["model"])
    return model.eval(), ck


def export_checkpoint(ckpt_path: Path, out: Path, name: str, data_root) -> Dict:
    """The checkpoint -> ``<out>/<name>.tmbl`` with the metadata of docs/gmvae.md."""
    from timbrel.eval.gmvae_analysis import model_metadata
    from timbrel.export import export_model
    model, ck = load_checkpoint(ckpt_path)
    train_set = load_patches(data_root, "train")
    meta = model_metadata(model, ck, train_set)
    paths = export_model(model.graphs(), model.family, name, meta, out, onnx_graphs=[],
                         step_graphs=[])
    size = paths["tmbl"].stat().st_size
    (out / "training.json").write_text(json.dumps({
        "prior": ck["prior"], "labels": ck["labels"], "adversary": ck.get("adversary", 0.0),
        "prior_path": ck.get("prior_path", 0.0),
        "config": ck["config"],
        "epochs": ck["state"]["epoch"], "steps": ck["state"]["step"],
        "seconds": round(ck["state"]["seconds"], 1),
        "parameters": sum(p.numel() for g in model.graphs().values() for p in g.parameters()),
        "notes": len(train_set), "size_bytes": size}, indent=1) + "\n")
    return {"tmbl": paths["tmbl"], "size_bytes": size}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--name")
    p.add_argument("--config", choices=sorted(CONFIGS), default="small")
    p.add_argument("--epochs", type=int)
    p.add_argument("--labels", type=float, default=1.0, help="share of instrument labels used (0-1)")
    p.add_argument("--prior", choices=("mixture", "isotropic"), default="mixture")
    p.add_argument("--data", default="data/full")
    p.add_argument("--runs", default="data/runs")
    p.add_argument("--max-notes", type=int, default=0, help="train on N random notes (smoke)")
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--no-export", action="store_true", help="train only (the table's variants)")
    p.add_argument("--export-only", action="store_true", help="write the .tmbl from the checkpoint")
    p.add_argument("--level-jitter-db", type=float, default=LEVEL_JITTER_DB)
    p.add_argument("--adversary", type=float, default=ADVERSARY,
                   help="weight of the reversed pitch-adversary gradient into z_timbre (0: off, the paper)")
    p.add_argument("--prior-path", type=float, default=PRIOR_PATH,
                   help="weight of the reconstruction from prior draws of the note's components (0: off, the paper)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.export_only:
            ckpt = Path(args.runs) / f"gmvae-{run_name(args)}" / "checkpoint.pt"
            result = export_checkpoint(ckpt, Path(args.out), run_name(args), args.data)
        else:
            result = train(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result and "tmbl" in result:
        print(f"wrote {result['tmbl']} ({result['size_bytes'] / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
