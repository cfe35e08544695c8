"""Train one VQ timbre model (models/README.md, family ``vq_timbre``), resumably, and export it.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.train.vq --instrument violin --out models/violin
        [--steps N] [--config small|full] [--no-vq] [--data data/full] [--audio-dir DIR]
        [--smoke] [--fresh] [--threads 1] [--device cpu|cuda]

Each step: a batch of random ~1 s excerpts of the performance corpus's train split (or of
``--audio-dir``), rendered by the contract's offline synthesiser with the teacher-forced
YIN f0 of the excerpt itself; a share of the batch (25 %) in noise mode (c = [0, 0, loud],
no harmonic excitation) so that one model serves both modes; loss = multi-scale spectral
loss of the output against the excerpt + the VQ's commitment term (beta 0.25; the codebook
follows by EMA, 0.99, with dead-code restarts). Adam, linear warm-up then cosine decay to
10 % of the rate. Checkpoints (model, optimiser, data and torch random states, elapsed
time) go to ``data/runs/<name>/checkpoint.pt`` every few hundred steps and on exit
(Ctrl-C, SIGTERM); a rerun resumes from it. Losses, codebook usage and perplexity are
logged to ``data/runs/<name>/log.csv``. At the end: ``<out>/<name>.tmbl`` + ONNX graphs
(timbrel.export) with the contract's metadata, ``<out>/MODEL_CARD.md`` (training section)
and an entry in ``<out>/../index.json``.

``--tilt S`` (default 0: off) tilts each excerpt's spectrum, input and target alike, by a
random slope in [-S, S] dB/decade around 1 kHz (level kept): the codebook then also holds
brighter and darker renderings of the instrument, which is what drawing brightness
traverses (the flute's and clarinet's codebooks spanned a quarter octave of centroid).

Threads default to 1: on this 2-core machine, shared with compilers, two OpenMP threads
made the GRU 10x slower (spin-waiting on a busy core), one thread is the fastest.
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

from timbrel.models.vq_timbre import HOP, SAMPLE_RATE, VQTimbre, analysis_frames, features
from timbrel.train.data import (CONTEXT, Excerpts, Source, describe, f0_range, load_audio_dir,
                                load_corpus, minutes)
from timbrel.train.loss import SIZES, spectral_loss

# Default steps of the small config: ~10 minutes of training on this 2-core CPU
# (0.43 s/step measured at batch 16 x 1 s, one thread; see the module doc of train).
SMALL_STEPS = 1400

CONFIGS: Dict[str, Dict] = {
    "small": {"model": {"encoder_hidden": 256, "latent": 64, "codes": 512, "hidden": 256},
              "batch": 16, "seconds": 1.0, "steps": SMALL_STEPS, "lr": 1e-3, "warmup": 100,
              "checkpoint_every": 200, "noise_share": 0.25, "restart_after": 100, "clip": 5.0},
    "full": {"model": {"encoder_hidden": 256, "latent": 64, "codes": 512, "hidden": 384},
             "batch": 32, "seconds": 1.5, "steps": 20000, "lr": 1e-3, "warmup": 500,
             "checkpoint_every": 500, "noise_share": 0.25, "restart_after": 200, "clip": 5.0},
    "smoke": {"model": {"encoder_hidden": 32, "latent": 8, "codes": 16, "hidden": 24},
              "batch": 2, "seconds": 0.5, "steps": 3, "lr": 1e-3, "warmup": 1,
              "checkpoint_every": 2, "noise_share": 0.5, "restart_after": 5, "clip": 5.0},
}
LOG_COLUMNS = ["step", "seconds", "step_seconds", "lr", "loss", "linear", "log", "commitment",
               "perplexity", "usage", "grad_norm"]


def tilt_batch(audio: torch.Tensor, limit_db_per_decade: float, gen: torch.Generator) -> torch.Tensor:
    """Each row's spectrum times 10^(s log10(f / 1 kHz) / 20), s uniform in +-limit (flat under
    50 Hz), zero phase, then scaled back to the row's rms (the level conditioning stays
    true). Linear convolution: the rfft is long enough that the tilt's short response does
    not wrap."""
    from timbrel.train.augment import fft_size, tilt_response
    B, L = audio.shape
    n = fft_size(L + 2048)
    slope = (torch.rand(B, generator=gen, dtype=torch.float64) * 2 - 1) * limit_db_per_decade
    spec = torch.fft.rfft(audio.double(), n=n) * tilt_response(slope, n)
    y = torch.fft.irfft(spec, n=n)[:, :L]
    before = audio.double().pow(2).mean(1, keepdim=True).sqrt()
    after = y.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-12)
    return (y * (before / after)).to(audio.dtype)


def learning_rate(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


class Stop(Exception):
    pass


def _on_signal(signum, frame):  # pragma: no cover - exercised by hand
    raise Stop(f"signal {signum}")


# --- figures for the model card ------------------------------------------------------------

@torch.no_grad()
def codebook_stats(model: VQTimbre, sources: List[Source], max_hops: int = 60000) -> Dict:
    """Codes used (share of K) and perplexity over the training hops (exact nearest code)."""
    if not model.quantized:
        return {"codebook_usage": None, "perplexity": None}
    counts = torch.zeros(model.codes, dtype=torch.float64)
    seen = 0
    dev = next(model.parameters()).device
    for s in sources:
        if seen >= max_hops:
            break
        T = len(s.f0)
        x = torch.from_numpy(s.audio)[None].to(dev)
        z = model.encoder(features(analysis_frames(x, T)))[0]
        for chunk in z.split(1024):
            idx = ((chunk[:, None, :] - model.vq.codebook[None]) ** 2).sum(-1).argmin(-1)
            counts += torch.bincount(idx.cpu(), minlength=model.codes).double()
        seen += T
    p = counts / counts.sum()
    ppl = float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()))
    return {"codebook_usage": round(float((counts > 0).double().mean()), 4),
            "codes_used": int((counts > 0).sum()), "perplexity": round(ppl, 1), "hops": int(seen)}


@torch.no_grad()
def evaluate_phrases(model: VQTimbre, sources: List[Source], limit: int = 6, seconds: float = 12.0
                     ) -> Dict:
    """Offline renders of test phrases (teacher-forced YIN, xorshift noise): LSD (dB,
    timbrel.eval.metrics) in both modes, and the median |f0 error| in cents of the
    pitch-following render (reference YIN on output vs input)."""
    from timbrel.eval import metrics
    from timbrel.models.vq_timbre import hop_count, pitch_track
    lsd_p, lsd_n, cents = [], [], []
    model = model.cpu().eval()
    for s in sources[:limit]:
        x = s.audio[:int(seconds * SAMPLE_RATE)]
        T = hop_count(len(x))
        pitch = np.stack([s.f0[:T], s.voiced[:T]], 1)
        if pitch.shape[0] < T:
            pitch = np.concatenate([pitch, np.zeros((T - pitch.shape[0], 2))])
        y = model.render(x, pitch)
        yn = model.render(x, pitch, noise_mode=True)
        lsd_p.append(metrics.lsd_audio(x, y))
        lsd_n.append(metrics.lsd_audio(x, yn))
        py = pitch_track(y, T)
        cents.append(metrics.f0_error_cents(pitch[:, 0], pitch[:, 1] > 0.5, py[:, 0], py[:, 1] > 0.5))
    mean = lambda v: round(float(np.nanmean(v)), 3) if v and not np.all(np.isnan(v)) else None
    return {"phrases": len(lsd_p), "seconds_each_max": seconds, "lsd_db_pitch": mean(lsd_p),
            "lsd_db_noise": mean(lsd_n), "f0_error_cents_median_pitch": mean(cents)}


# --- export ---------------------------------------------------------------------------------

def write_card(out: Path, name: str, instrument: str, metadata: Dict, extra: Dict) -> Path:
    """MODEL_CARD.md with a generated training section between markers (kept on reruns:
    text outside the markers, e.g. evaluation results, is preserved)."""
    begin, end = "<!-- training:begin -->", "<!-- training:end -->"
    tr = metadata["training"]
    cfg = tr["config"]
    lines = [begin, "## Training (generated by `timbrel.train.vq`)", "",
             f"- model: `vq_timbre`, {'VQ-VAE' if metadata['quantized'] else 'baseline auto-encoder (no quantizer)'}; "
             f"encoder 513 -> {cfg['model']['encoder_hidden']} -> {cfg['model']['encoder_hidden']} -> "
             f"D {metadata['latent']}, codes K {metadata['codes']}, GRU H {metadata['hidden']}; "
             f"{extra['parameters']} parameters, `.tmbl` {extra['size_bytes'] / 1e6:.2f} MB" +
             (" (float16 weights)" if extra.get("weights") == "f16" else ""),
             f"- data: {tr['corpus']}, {tr['corpus_minutes']} min ({tr['corpus_files']} files); "
             f"voiced f0 5th-95th percentile {metadata['f0_range_hz'][0]}-{metadata['f0_range_hz'][1]} Hz",
             f"- config `{tr['config_name']}`: batch {cfg['batch']} x {cfg['seconds']} s, "
             f"{int(cfg['noise_share'] * 100)} % of each batch in noise mode, Adam lr {cfg['lr']} "
             f"(warm-up {cfg['warmup']}, cosine to 10 %), multi-scale spectral loss "
             f"(FFT {', '.join(map(str, SIZES))}, 75 % overlap, L1 linear + L1 log), commitment 0.25, "
             f"EMA 0.99, dead codes restarted after {cfg['restart_after']} unused steps" +
             (f"; spectral tilt of input and target, +-{cfg['tilt_db_per_decade']:g} dB/decade"
              if cfg.get("tilt_db_per_decade") else ""),
             f"- steps {tr['steps']} in {tr['seconds']:.0f} s ({tr['seconds_per_step']:.3f} s/step, "
             f"{tr['device']}, {tr['threads']} thread(s))",
             f"- final losses (mean of the last 50 steps): " +
             ", ".join(f"{k} {v}" for k, v in tr["final_losses"].items()),
             f"- codebook usage over the training hops: " +
             (f"{tr['codebook']['codes_used']}/{metadata['codes']} codes "
              f"({tr['codebook']['codebook_usage'] * 100:.1f} %), perplexity {tr['codebook']['perplexity']}"
              if metadata["quantized"] else "n/a (not quantized)"),
             f"- test phrases ({tr['test']['phrases']}, offline render, teacher-forced YIN): LSD "
             f"{tr['test']['lsd_db_pitch']} dB pitch-following, {tr['test']['lsd_db_noise']} dB noise "
             f"mode; median |f0 error| {tr['test']['f0_error_cents_median_pitch']} cents",
             "", end]
    section = "\n".join(lines)
    path = out / "MODEL_CARD.md"
    if path.exists() and begin in path.read_text():
        text = path.read_text()
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = f"# {name}: {instrument} timbre model\n\n{section}\n"
    path.write_text(text)
    return path


def update_index(index: Path, entry: Dict) -> None:
    """models/index.json: a list of {id, instrument, file, card, f0_range_hz, quantized,
    size_bytes}, one per model folder, sorted by id."""
    items = json.loads(index.read_text()) if index.exists() else []
    items = [e for e in items if e.get("id") != entry["id"]] + [entry]
    items.sort(key=lambda e: e["id"])
    index.write_text(json.dumps(items, indent=1) + "\n")


def export(model: VQTimbre, out: Path, name: str, instrument: str, training: Dict,
           f0_hz: List[float], index: Optional[Path], with_onnx: bool = False,
           weights: str = "f32", keep_f32: Optional[Path] = None) -> Dict:
    from timbrel.export import export_model
    model = model.cpu().eval()
    meta = model.metadata(instrument, f0_hz, training)
    # The decoder only in its step form (same weights; a sequence copy would double the size).
    # ONNX graphs only on request (--onnx): the repository ships the .tmbl alone, and
    # timbrel.export.onnx_from_tmbl writes the same graphs from it.
    # A float16 file gets its graphs from the stored weights, after the repack below.
    direct = with_onnx and weights == "f32"
    onnx = [g for g in model.graph_names if g != "decoder"] if direct else []
    paths = export_model(model.graphs(), model.family, name, meta, out, onnx_graphs=onnx,
                         step_graphs=None if direct else [])
    has_table = meta["quantized"] and add_descriptor_table(paths["tmbl"])
    if weights != "f32":  # as models/ ships them; the float32 export kept for precision checks
        from timbrel.tmbl import repack
        import shutil
        if keep_f32 is not None:
            shutil.copyfile(paths["tmbl"], keep_f32)
        repack(paths["tmbl"], paths["tmbl"], weights)
        if with_onnx:  # the graphs of the weights as stored, not of the float32 ones
            from timbrel.export.onnx_from_tmbl import write_onnx
            write_onnx(paths["tmbl"], out)
    size = paths["tmbl"].stat().st_size
    extra = {"size_bytes": size, "parameters": sum(p.numel() for p in model.parameters()),
             "weights": weights}
    card = write_card(out, name, instrument, meta, extra)
    if index is not None:
        rel = lambda p: Path(p).resolve().relative_to(index.parent.resolve()).as_posix()
        entry = {"id": name, "instrument": instrument, "file": rel(paths["tmbl"]),
                 "card": rel(card), "f0_range_hz": meta["f0_range_hz"],
                 "quantized": meta["quantized"], "descriptor_table": bool(has_table),
                 "size_bytes": size}
        try:  # the page evens out the models' levels (timbrel.eval.levels)
            from timbrel.eval.levels import output_level_db
            entry["output_level_db"] = round(output_level_db(paths["tmbl"]), 2)
        except FileNotFoundError as error:  # no core CLI built: the page plays it as it is
            print(f"note: {error}; output_level_db not measured")
        update_index(index, entry)
    return {"tmbl": paths["tmbl"], "card": card, "size_bytes": size}


def add_descriptor_table(tmbl: Path) -> bool:
    """Stores the per-code descriptor table (drawing) through the core's CLI, when built.

    On a machine without the core (the GPU machine) the file is left without it:
    run `python -m timbrel.export.code_table FILE` where the core is built."""
    from timbrel.export import code_table
    try:
        table, _ = code_table.analyse_codes(tmbl)
    except (FileNotFoundError, RuntimeError) as e:
        print(f"descriptor table not added ({e}); add it later with "
              f"`python -m timbrel.export.code_table {tmbl}`", flush=True)
        return False
    code_table.with_table(tmbl, table)
    return True


# --- training --------------------------------------------------------------------------------

def train(args) -> Dict:
    torch.set_num_threads(args.threads)
    cfg = json.loads(json.dumps(CONFIGS[args.config]))
    for key in ("batch", "seconds", "lr"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.tilt:  # only when asked: older checkpoints' signatures stay valid
        cfg["tilt_db_per_decade"] = float(args.tilt)
    steps = args.steps if args.steps is not None else cfg["steps"]
    out = Path(args.out)
    name = args.name or out.name
    instrument = args.instrument or (name if not args.audio_dir else "custom")
    run_dir = Path(args.run_dir) if args.run_dir else Path(args.cache).parent / "runs" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    log = (lambda m: print(m, flush=True))
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    if args.audio_dir:
        sources = load_audio_dir(args.audio_dir, args.cache, log)
        tests = sources[-1:]
        corpus = f"audio folder {args.audio_dir}"
    else:
        data = Path(args.data)
        if args.smoke and not (data / "performance" / "manifest.csv").exists():
            from timbrel.data.build import build
            log(f"building the smoke corpus into {data}")
            build(data, smoke=True, workers=1)
        sources = load_corpus(data, instrument, "train", args.cache, log)
        tests = load_corpus(data, instrument, "test", args.cache, log)
        from timbrel.data.sources import TRAINING_SOURCES
        found = sorted({part for s in sources for part in Path(s.name).parts}
                       & set(TRAINING_SOURCES))
        from timbrel.data.corpus import shown
        corpus = (f"{shown(data)}/performance/<source>/{instrument} (train split; sources "
                  f"{', '.join(found) or 'fluidr3'}; held-out font never)")
    log(f"data: {describe(sources)}; test {describe(tests)}; device {device}")

    torch.manual_seed(args.seed)
    model = VQTimbre(**cfg["model"], quantized=not args.no_vq,
                     restart_after=cfg["restart_after"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    hops = int(round(cfg["seconds"] * SAMPLE_RATE / HOP)) + 1
    excerpts = Excerpts(sources, hops, seed=args.seed)
    ckpt_path = run_dir / "checkpoint.pt"
    step, elapsed = 0, 0.0
    signature = {"config": cfg, "quantized": not args.no_vq, "instrument": instrument}
    if ckpt_path.exists() and not args.fresh:
        ck = torch.load(ckpt_path, map_location=device)
        if ck["signature"] != signature:
            raise SystemExit(f"{ckpt_path} was made with another configuration; use --fresh")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, elapsed = ck["step"], ck["seconds"]
        excerpts.set_state(ck["excerpts"])
        torch.set_rng_state(ck["torch_rng"].cpu())
        log(f"resumed from {ckpt_path} at step {step} ({elapsed:.0f} s)")
    elif args.fresh and (run_dir / "log.csv").exists():
        (run_dir / "log.csv").unlink()

    def save():
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                    "seconds": elapsed, "excerpts": excerpts.state(),
                    "torch_rng": torch.get_rng_state(), "signature": signature}, tmp)
        tmp.replace(ckpt_path)

    log_path = run_dir / "log.csv"
    new_log = not log_path.exists()
    log_file = open(log_path, "a", newline="")
    writer = csv.DictWriter(log_file, LOG_COLUMNS)
    if new_log:
        writer.writeheader()
    recent: List[Dict] = []
    n_noise = int(round(cfg["noise_share"] * cfg["batch"]))
    noise_mode = torch.arange(cfg["batch"], device=device) < n_noise
    target_len = (hops - 1) * HOP
    old_handler = signal.signal(signal.SIGTERM, _on_signal)
    model.train()
    try:
        while step < steps:
            t0 = time.time()
            lr = learning_rate(step, steps, cfg["lr"], cfg["warmup"])
            for g in opt.param_groups:
                g["lr"] = lr
            audio, f0, voiced = (torch.from_numpy(a).to(device) for a in excerpts.batch(cfg["batch"]))
            if cfg.get("tilt_db_per_decade"):  # seeded by step: a resumed run tilts the same
                gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
                audio = tilt_batch(audio.cpu(), cfg["tilt_db_per_decade"], gen).to(device)
            r = model(audio[:, CONTEXT:], f0, voiced, noise_mode=noise_mode, context=audio[:, :CONTEXT])
            target = audio[:, CONTEXT:CONTEXT + target_len]
            spec = spectral_loss(r["out"][:, :target_len], target)
            loss = spec["loss"] + r["vq_loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"]))
            opt.step()
            step += 1
            dt = time.time() - t0
            elapsed += dt
            vq = model.vq
            row = {"step": step, "seconds": round(elapsed, 2), "step_seconds": round(dt, 4),
                   "lr": f"{lr:.3g}", "loss": round(float(loss), 5),
                   "linear": round(float(spec["linear"]), 5), "log": round(float(spec["log"]), 5),
                   "commitment": round(float(r["vq_loss"]), 6),
                   "perplexity": round(vq.perplexity, 2) if vq is not None else "",
                   "usage": round(vq.usage, 4) if vq is not None else "", "grad_norm": round(grad, 3)}
            writer.writerow(row)
            recent = (recent + [row])[-50:]
            if step % 25 == 0 or step == steps:
                log_file.flush()
                log(f"step {step}/{steps} loss {row['loss']:.4f} (lin {row['linear']:.4f} log "
                    f"{row['log']:.4f}) commit {row['commitment']:.5f} ppl {row['perplexity']} "
                    f"usage {row['usage']} lr {lr:.2e} {dt:.2f} s/step")
            if step % cfg["checkpoint_every"] == 0:
                save()
    except (KeyboardInterrupt, Stop) as e:
        save()
        log_file.close()
        log(f"stopped at step {step} ({e or 'interrupt'}); checkpoint {ckpt_path}; rerun to resume")
        signal.signal(signal.SIGTERM, old_handler)
        raise SystemExit(130)
    save()
    log_file.close()
    signal.signal(signal.SIGTERM, old_handler)

    log("evaluating (codebook over the training hops, test phrases) and exporting")
    model.eval()
    cb = codebook_stats(model, sources)
    test = evaluate_phrases(model, tests, limit=args.eval_phrases)
    if not recent and log_path.exists():  # resumed after the last step: the log's tail
        with open(log_path, newline="") as f:
            recent = [{k: float(v) for k, v in r.items() if k in ("loss", "linear", "log",
                                                                  "commitment", "step_seconds")}
                      for r in list(csv.DictReader(f))[-50:]]
    keys = ("loss", "linear", "log", "commitment")
    final = {k: round(float(np.mean([r[k] for r in recent])), 5) for k in keys} if recent else {}
    spans = [r["step_seconds"] for r in recent]
    training = {"steps": step, "seconds": round(elapsed, 1),
                "seconds_per_step": round(float(np.mean(spans)) if spans else elapsed / max(1, step), 4),
                "final_losses": final, "codebook": cb,
                "codebook_usage": cb["codebook_usage"], "perplexity": cb["perplexity"],
                "corpus": corpus, "corpus_minutes": round(minutes(sources), 2),
                "corpus_files": len(sources), "test": test, "config_name": args.config, "config": cfg,
                "device": str(device), "threads": args.threads, "seed": args.seed,
                "torch": torch.__version__.split("+")[0]}
    f0_hz = f0_range(sources)
    index = Path(args.index) if args.index else out.parent / "index.json"
    result = export(model, out, name, instrument, training, f0_hz, None if args.no_index else index,
                    with_onnx=args.onnx, weights=args.weights,
                    keep_f32=run_dir / f"{name}.f32.tmbl")
    log(f"exported {result['tmbl']} ({result['size_bytes'] / 1e6:.2f} MB); f0 range {f0_hz} Hz; "
        f"codebook {cb}; test {test}")
    return {"training": training, **{k: str(v) for k, v in result.items()}}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instrument", help="performance-corpus instrument (violin, cello, ..., voice)")
    ap.add_argument("--out", required=True, help="model folder, e.g. models/violin")
    ap.add_argument("--name", help="model id and file name (default: the --out folder's name)")
    ap.add_argument("--steps", type=int, help=f"training steps (default: the config's; small {SMALL_STEPS})")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="small")
    ap.add_argument("--no-vq", action="store_true", help="the paper's baseline: no quantizer")
    ap.add_argument("--data", default="data/full", help="built corpora (timbrel.data build)")
    ap.add_argument("--audio-dir", help="train on your own folder of .wav files instead")
    ap.add_argument("--smoke", action="store_true",
                    help="a few steps of a tiny model on data/smoke (built if missing), then export")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--onnx", action="store_true", help="also write the ONNX graphs")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--weights", choices=("f16", "f32"), default="f16",
                    help="how the .tmbl stores its weights (f16: as models/ ships; the float32 "
                         "export is kept as <run-dir>/<name>.f32.tmbl)")
    ap.add_argument("--tilt", type=float, default=0.0,
                    help="random spectral tilt of each excerpt, +-S dB/decade (0: off)")
    ap.add_argument("--seconds", type=float, help="excerpt length")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--cache", default="data/cache", help="pitch cache folder")
    ap.add_argument("--run-dir", help="checkpoint and log folder (default data/runs/<name>)")
    ap.add_argument("--index", help="index.json to update (default: <out>/../index.json)")
    ap.add_argument("--no-index", action="store_true")
    ap.add_argument("--eval-phrases", type=int, default=6)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.smoke:
        args.config = "smoke"
        if args.data == "data/full":
            args.data = "data/smoke"
        args.eval_phrases = min(args.eval_phrases, 1)
    if not args.instrument and not args.audio_dir:
        raise SystemExit("give --instrument (performance corpus) or --audio-dir")
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
