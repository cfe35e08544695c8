"""The pitched grains model's card: the neural granular model trained on the note corpus's
one-shots (``--corpus notes``; the thesis's "SOL ordinario" counterpart), conditioned on
instrument and pitch (docs/grains.md "Pitched models").

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.grains_notes --data $TIMBREL_DATA/full \\
        --runs $TIMBREL_DATA/runs [--name notes-small-pp] [--out FILE.json]
        [--write-card models/grains/INSTRUMENTS_CARD.md] [--from-json] [--max-items N]
        [--samples 4] [--pitches 5] [--temperatures 1 0.5] [--model-file M.tmbl]

What it measures (every figure of the card):
- the corpus: pitched one-shots per split, source and instrument (``train``: FluidR3,
  Freepats, Salamander piano; ``test``: their unseen notes; ``heldout``: TimGM6mb and
  csound's GM bank, never trained on by any model or judge);
- the judge: the reference classifier (``timbrel.eval.drum_classifier``'s network and
  training, on the pitched one-shots' instruments, cached under ``<runs>/note-classifier/``)
  and its accuracy on ``test`` and ``heldout``;
- reconstruction (``timbrel.eval.grains_card.score``, its conventions: RMSE and LSD of the
  five STFT sizes, LSD dB) of ``test`` and ``heldout`` through the grain path (z = mu) and
  the sequence path (e = mu_e -> z^), beside silence and the per-grain oracle;
- prior samples as the engine plays them (e = T N(0, I), c = [one-hot instrument, pitch
  code], the contract's synthesis and noise): per instrument ``--pitches`` pitches spread
  evenly over its training range and ``--samples`` draws each, per temperature: the pitch
  heard (median YIN f0 from 0.15 s to 1.2 s) against the pitch asked (median |cents|,
  share within 50 and 100 cents, octave errors), the instrument the judge hears, the
  median peak; the same pitch measure on the real test notes is the scale (YIN's own
  errors on these instruments).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from timbrel.eval.grains_card import THESIS, baselines, corpus_summary, score
from timbrel.models.grains import SAMPLE_RATE

TEMPERATURES = (1.0, 0.5)
SAMPLES = 4          # prior draws per instrument and pitch
PITCHES = 5          # pitches per instrument, evenly over its training range
SEED = 20261203
CLASSIFIER_EPOCHS = 15  # 2571 one-shots: 80 steps an epoch (the drums' 40 epochs of 29)
F0_FROM_S, F0_TO_S = 0.15, 1.2  # the held part of a 1.58 s one-shot (after the attack)
F0_HOP = 512


def midi_hz(m) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(m, np.float64) - 69.0) / 12.0)


def heard_f0(audio: np.ndarray, target_hz: float) -> float:
    """Median YIN f0 (Hz) of the held part, searched from target / 2.5 to target x 2.5
    (an octave error stays visible); NaN when no frame is voiced."""
    from timbrel.dsp_reference import signal_yin
    x = np.asarray(audio, np.float64)[int(F0_FROM_S * SAMPLE_RATE):int(F0_TO_S * SAMPLE_RATE)]
    track = signal_yin(x, float(SAMPLE_RATE), frame_size=2048, hop=F0_HOP,
                       f0_min=max(25.0, target_hz / 2.5), f0_max=min(5000.0, target_hz * 2.5))
    v = (track[:, 2] > 0) & (track[:, 0] > 0)
    return float(np.median(track[v, 0])) if v.any() else float("nan")


def cents(f: float, target: float) -> float:
    return 1200.0 * math.log2(f / target) if f > 0 and np.isfinite(f) else float("nan")


def pitch_summary(errors: Sequence[float]) -> Dict:
    """Median |cents| and shares within 50 / 100 cents and at an octave (+-1200 +-100) of
    the asked pitch; unvoiced (NaN) counts as a miss in every share."""
    e = np.asarray(errors, np.float64)
    n = max(1, len(e))
    ok = np.isfinite(e)
    a = np.abs(e[ok])
    return {"n": int(len(e)), "voiced": round(float(ok.mean()) if len(e) else 0.0, 4),
            "median_abs_cents": round(float(np.median(a)), 1) if len(a) else None,
            "within_50": round(float((a <= 50).sum() / n), 4),
            "within_100": round(float((a <= 100).sum() / n), 4),
            "octave_errors": round(float((np.abs(a - 1200) <= 100).sum() / n), 4)}


def asked_pitches(lo: float, hi: float, count: int = PITCHES) -> List[int]:
    return sorted({int(round(v)) for v in np.linspace(lo, hi, count)})


@torch.no_grad()
def prior_notes(model, label: int, pitch: float, n: int, temperature: float,
                seed: int = SEED) -> torch.Tensor:
    """``n`` one-shots of instrument ``label`` at MIDI ``pitch`` from the sequence prior, as
    the engine's hits: e = T N(0, I) (seeded per instrument, pitch and T), the noise
    streams from NOISE_SEED. float32 [n, 34816]."""
    from timbrel.models.grains import parity_noise
    model.eval()
    rng = np.random.default_rng([seed, int(label), int(round(pitch)), int(round(temperature * 1000))])
    e = torch.from_numpy(temperature * rng.standard_normal((n, model.embedding))).float()
    cond = torch.from_numpy(model.condition([label] * n, [pitch] * n))
    z = model.decode_sequence(e, cond)
    return model.decode_grains(z, cond, parity_noise(n, z.shape[1])).float()


def prior_pitch_and_class(model, classifier, classes: Sequence[str], class_pitches,
                          samples: int = SAMPLES, pitches: int = PITCHES,
                          temperatures: Sequence[float] = TEMPERATURES, log=print) -> Dict:
    out: Dict = {}
    for T in temperatures:
        t0 = time.time()
        errs: Dict[str, List[float]] = {}
        right: Dict[str, List[bool]] = {}
        peaks: Dict[str, float] = {}
        for k, name in enumerate(classes):
            lo, _, hi = class_pitches[k]
            ys = []
            for p in asked_pitches(lo, hi, pitches):
                y = prior_notes(model, k, p, samples, T)
                ys.append(y)
                errs.setdefault(name, []).extend(
                    cents(heard_f0(y[i].numpy(), float(midi_hz(p))), float(midi_hz(p)))
                    for i in range(len(y)))
            y = torch.cat(ys)
            right[name] = list(classifier.predict(y) == k)
            peaks[name] = round(float(20 * torch.log10(y.abs().amax(-1).clamp_min(1e-9)).median()), 1)
        every = [e for v in errs.values() for e in v]
        out[f"{T:g}"] = {
            "temperature": T, "samples_per_pitch": samples, "pitches_per_instrument": pitches,
            "pitch": pitch_summary(every),
            "pitch_by_instrument": {c: pitch_summary(v) for c, v in errs.items()},
            "instrument_heard": {c: round(float(np.mean(v)), 4) for c, v in right.items()},
            "instrument_heard_mean": round(float(np.mean([np.mean(v) for v in right.values()])), 4),
            "peak_dbfs_median": peaks}
        log(f"prior T={T:g}: pitch {out[f'{T:g}']['pitch']}, instrument heard "
            f"{out[f'{T:g}']['instrument_heard_mean']} ({time.time() - t0:.0f} s)")
    return out


def real_pitch(data, max_items: int = 240, seed: int = SEED) -> Dict:
    """The same pitch measure on real one-shots (a seeded subset of ``data``): YIN's scale."""
    idx = np.sort(np.random.default_rng(seed).permutation(len(data))[:max_items])
    errs = [cents(heard_f0(data.batch([i])[0], float(midi_hz(data.pitch[i]))), float(midi_hz(data.pitch[i])))
            for i in idx]
    return pitch_summary(errs)


def evaluate(data_root, runs, name: str, max_items: int = 0, samples: int = SAMPLES,
             pitches: int = PITCHES, temperatures: Sequence[float] = TEMPERATURES,
             model_file: Optional[str] = None, log=print) -> Dict:
    from timbrel.data.corpus import shown
    from timbrel.eval import drum_classifier as dc
    from timbrel.export.grains import grain_statistics  # noqa: F401 (the export's statistics)
    from timbrel.models.grains import costs
    from timbrel.train.grains import load_checkpoint
    from timbrel.train.grains_data import load_split
    ckpt = Path(runs) / f"grains-{name}" / "checkpoint.pt"
    model, ck = load_checkpoint(ckpt)
    if not model.pitched:
        raise ValueError(f"{ckpt} is not a pitched model (train it with --corpus notes)")
    train = load_split(data_root, "train", corpus="notes")
    splits = {s: load_split(data_root, s, max_items=max_items, corpus="notes") for s in ("test", "heldout")}
    clf = dc.load_or_train(data_root, runs, CLASSIFIER_EPOCHS, log=log, corpus="notes")
    judged, _ = dc.evaluate_sets(clf, splits)
    class_pitches = [[float(train.pitch[train.label == k].min()),
                      float(np.round(np.median(train.pitch[train.label == k]))),
                      float(train.pitch[train.label == k].max())] for k in range(len(train.classes))]
    state = ck["state"]
    info_path = ckpt.parent / "training.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    result: Dict = {
        "data": shown(Path(data_root)), "run": ckpt.parent.name,
        "corpus": corpus_summary(data_root, "notes"),
        "max_items": max_items, "thesis": THESIS,
        "model": {"variant": "VAE_fi+pp" if model.post_processing else "VAE_fi",
                  "config": model.config(), "costs": costs(model),
                  "epochs": {s: state.get(f"{s}_epochs", 0) for s in ("bottom", "joint", "tune")},
                  "planned_epochs": info.get("planned_epochs"), "steps": state.get("step"),
                  "seconds": round(state.get("seconds", 0.0), 1), "threads": info.get("threads"),
                  "losses": state.get("last", {})},
        "class_pitches": dict(zip(train.classes, class_pitches)),
        "classifier": {"info": clf.info, **judged},
        "baselines": {s: baselines(d) for s, d in splits.items() if len(d)},
        "reconstruction": {}}
    if model_file and Path(model_file).exists():
        result["model_file"] = {"path": shown(Path(model_file)), "size_bytes": Path(model_file).stat().st_size}
    for s, d in splits.items():
        t0 = time.time()
        result["reconstruction"][s] = score(model, d, classifier=clf)
        log(f"reconstruction {s}: {len(d)} one-shots, {time.time() - t0:.0f} s")
    result["real_pitch"] = {s: real_pitch(d) for s, d in splits.items()}
    result["prior"] = prior_pitch_and_class(model, clf, train.classes, class_pitches, samples,
                                            pitches, temperatures, log)
    return result


# --- the card ------------------------------------------------------------------------------------

def _f(v, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def card_markdown(r: Dict, command: str) -> str:
    m = r["model"]
    rec = r["reconstruction"]
    lines = [
        "# Grains model card: instruments (pitched one-shots)",
        "",
        "Every figure below is written by `timbrel.eval.grains_notes` (command at the end) from "
        f"the run `{r['run']}`; the JSON beside this card holds them all.",
        "",
        "## What it is",
        f"- The neural granular model of docs/grains.md ({m['variant']}: grain VAE under a "
        "sequence VAE, noise filtered per grain, overlap-added, a learnt FIR post-filter), "
        "conditioned on the instrument (one-hot of 12) and on the pitch (30 Gaussian bumps over "
        "MIDI 21-108, width 3 semitones: docs/grains.md \"Pitched models\").",
        f"- Sizes: latent {m['config']['latent']}, embedding {m['config']['embedding']}, decoder "
        f"hidden {m['config']['hidden']}, GRU {m['config']['seq_hidden']}; "
        f"{m['costs']['parameters']:,} parameters; "
        f"{(m['costs']['grain_decoder'] + m['costs']['sequence_decoder_step']) / 1e6:.2f} M "
        "multiply-adds per voice and hop (the core's budget: 8.4 M).",
        f"- Training: {m['epochs']['bottom']} epochs of the grain VAE, then {m['epochs']['joint']} "
        f"joint epochs ({m['steps']} steps of 16 one-shots, {m['seconds'] / 60:.0f} min on "
        f"{m['threads']} CPU thread{'s' if m['threads'] != 1 else ''} of a 2-core machine, beside other work). The thesis trained for ~10 h on a GPU: "
        "this model is short of converged, and the figures say what it does now.",
        "",
        "## Data",
        "The note corpus's notes (2.5 s renders of single notes at pp, mf and ff), each cut to its "
        "first 34816 samples (1.58 s) with the last 0.15 s faded out: one-shots with their "
        "attack and the start of their sustain.",
        "",
        "| split | sources | one-shots |",
        "|---|---|---:|",
    ]
    for s, src in r["corpus"]["by_source"].items():
        lines.append(f"| {s} | {', '.join(sorted(src))} | {sum(src.values())} |")
    lines += ["", "`heldout` (TimGM6mb and csound's GM bank, which shares TimGM6mb's recordings) "
              "was never trained on by the model or by the judge." +
              (f" The scores below use a seeded subset of at most {r['max_items']} one-shots per "
               "split (`--max-items`)." if r.get("max_items") else ""), "",
              "Training range per instrument (lowest, typical = median, highest MIDI note): " +
              "; ".join(f"{c} {int(p[0])}-{int(p[2])} ({int(p[1])})" for c, p in r["class_pitches"].items()) + ".",
              ""]
    clf = r["classifier"]
    lines += ["## The judge",
              "The reference classifier of the drum card (a small CNN on the log-mel spectrogram of "
              f"the whole one-shot, trained with room and EQ augmentation) trained on the training "
              f"split's instruments ({clf['info'].get('config', {}).get('epochs')} epochs): "
              f"accuracy {_f(clf.get('test', {}).get('accuracy'))} on `test`, "
              f"{_f(clf.get('heldout', {}).get('accuracy'))} on `heldout` (" +
              ", ".join(f"{s} {_f(v['accuracy'])}" for s, v in clf.get("heldout_by_source", {}).items()) +
              "). It judges the instrument of prior samples below; on `heldout` it is far from "
              "perfect, so the instrument shares are relative figures.", ""]
    lines += ["## Reconstruction (test and held-out fonts)",
              "Posterior means, the contract's noise; conventions of the drum card (RMSE, LSD over "
              "five STFT sizes; LSD dB of 1024-point spectra). The thesis's figures are for its "
              f"drums ({THESIS['dataset']}: VAE_fi+pp RMSE {THESIS['VAE_fi+pp']['rmse']}, LSD "
              f"{THESIS['VAE_fi+pp']['lsd']}), a scale rather than a target.", "",
              "| split | path | RMSE | LSD | LSD dB | instrument heard |",
              "|---|---|---:|---:|---:|---:|"]
    for s, v in rec.items():
        for path in ("grains", "sequence"):
            if path in v:
                p = v[path]
                lines.append(f"| {s} | {path} | {_f(p['rmse'])} | {_f(p['lsd'])} | {_f(p['lsd_db'], 2)} | "
                             f"{_f(p.get('classified', {}).get('accuracy'))} |")
        b = r["baselines"].get(s, {})
        for k in ("silence", "oracle"):
            if k in b:
                lines.append(f"| {s} | {k} (baseline) | {_f(b[k]['rmse'])} | {_f(b[k]['lsd'])} | | |")
    lines += ["", "## Prior samples: the pitch asked, the pitch heard",
              "Per instrument, pitches spread evenly over its training range, draws from the sequence "
              "prior as the page's hits are. Pitch heard: the median YIN f0 of 0.15-1.2 s. Shares "
              "count unvoiced samples as misses. The first row is the same measure on real test notes "
              "(YIN's own error on these instruments).", "",
              "| samples | n | voiced | median abs cents | within 50 c | within 100 c | octave off | instrument heard |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rp = r["real_pitch"].get("test", {})
    lines.append(f"| real test notes | {rp.get('n')} | {_f(rp.get('voiced'), 2)} | {_f(rp.get('median_abs_cents'), 0)} | "
                 f"{_f(rp.get('within_50'), 2)} | {_f(rp.get('within_100'), 2)} | {_f(rp.get('octave_errors'), 2)} | "
                 f"{_f(clf.get('test', {}).get('accuracy'), 2)} |")
    for key, v in r["prior"].items():
        p = v["pitch"]
        lines.append(f"| prior, T = {key} | {p['n']} | {_f(p['voiced'], 2)} | {_f(p['median_abs_cents'], 0)} | "
                     f"{_f(p['within_50'], 2)} | {_f(p['within_100'], 2)} | {_f(p['octave_errors'], 2)} | "
                     f"{_f(v['instrument_heard_mean'], 2)} |")
    first = next(iter(r["prior"].values()))
    lines += ["", f"Per instrument at T = {first['temperature']:g} (within 50 cents; instrument heard; "
              "median peak dBFS):", "",
              "| instrument | within 50 c | median abs cents | instrument heard | peak dBFS |",
              "|---|---:|---:|---:|---:|"]
    for c, p in first["pitch_by_instrument"].items():
        lines.append(f"| {c} | {_f(p['within_50'], 2)} | {_f(p['median_abs_cents'], 0)} | "
                     f"{_f(first['instrument_heard'][c], 2)} | {first['peak_dbfs_median'][c]} |")
    lines += ["", "## Use",
              "In the page's Grains panel choose \"Instruments\"; each track plays an instrument at a "
              "note (default: its typical note); the beat-box plays the kit's instruments at their "
              "typical notes. CLI: `timbrel grains hit --model models/grains/instruments.tmbl "
              "--class flute --pitch G5 -o out.wav`.", "",
              "## Limits",
              "- Short training on a CPU (above); sustained instruments are cut at 1.58 s.",
              "- Pitch is a condition the network may follow loosely: the table above is the measure.",
              "- The judge's held-out accuracy bounds what the instrument shares can say.", "",
              "## Reproduce", "```", command, "```", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/full")
    p.add_argument("--runs", default="data/runs")
    p.add_argument("--name", default="notes-small-pp")
    p.add_argument("--out", help="write the figures as JSON here")
    p.add_argument("--write-card", help="write the Markdown card here")
    p.add_argument("--from-json", action="store_true", help="the card from --out's JSON, no evaluation")
    p.add_argument("--max-items", type=int, default=0)
    p.add_argument("--samples", type=int, default=SAMPLES)
    p.add_argument("--pitches", type=int, default=PITCHES)
    p.add_argument("--temperatures", type=float, nargs="+", default=list(TEMPERATURES))
    p.add_argument("--model-file", help="the exported .tmbl (its size goes into the card)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = ("TIMBREL_DATA=... PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.grains_notes "
               "--data $TIMBREL_DATA/full --runs $TIMBREL_DATA/runs --name " + args.name +
               (f" --out {args.out}" if args.out else "") +
               (f" --write-card {args.write_card}" if args.write_card else "") +
               (f" --model-file {args.model_file}" if args.model_file else "") +
               (f" --max-items {args.max_items}" if args.max_items else "") +
               (f" --samples {args.samples}" if args.samples != SAMPLES else "") +
               (f" --pitches {args.pitches}" if args.pitches != PITCHES else ""))
    try:
        if args.from_json:
            if not args.out:
                raise ValueError("--from-json needs --out (the JSON to read)")
            result = json.loads(Path(args.out).read_text())
        else:
            result = evaluate(args.data, args.runs, args.name, args.max_items, args.samples,
                              args.pitches, args.temperatures, args.model_file)
            if args.out:
                Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
                print(f"wrote {args.out}")
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.write_card:
        Path(args.write_card).write_text(card_markdown(result, command))
        print(f"wrote {args.write_card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
