"""Measure a timbre-transfer model through the core and write its model card.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.transfer_card \\
        --model models/violin/violin.tmbl [--baseline models/violin-baseline/violin-baseline.tmbl] \\
        [--data data/full] [--voice 40] [--per-instrument 1] [--out models/violin]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.transfer_card --summary models

Every conversion runs the core's command-line tool (`timbrel transfer`, the same
engine as the page), and every measurement uses the core's analysis (`timbrel
analyse`), so the card describes what a user hears. Sources: the voice-like
inputs and the first test phrase(s) of each performance-corpus instrument.

Per source and mode (pitch-following, noise = the paper's):
  octaves        pitch mode: the octave shift that brings the input's median
                 voiced f0 nearest the model's f0 range (geometric centre), as
                 the page suggests; noise mode: 0 (it has no pitch control)
  f0 error       median |cents| between output f0 and input f0 x 2^octaves on
                 frames voiced in both; "in range": only frames whose target
                 f0 lies inside the model's f0_range_hz
  voiced share   share of the input's voiced frames that are voiced in the output
  accuracy       share of non-silent 4096-sample output frames that the
                 reference classifier labels as the model's instrument
  loudness r     Pearson r of input and output loudness (dB) over frames where
                 the input is above -60 dB
  LSD            output vs. input for the instrument's own test phrases (the
                 only case with a reference)
Outputs: <out>/evaluation.json and <out>/MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from timbrel.eval import core, metrics
from timbrel.eval.evaluate import gather_sources

SAMPLE_RATE = 22050
MODES = ("pitch", "noise")


def read_model(path: Path) -> dict:
    from timbrel.tmbl import read_tmbl
    f = read_tmbl(path)
    params = int(sum(np.asarray(t).size for t in f.tensors.values()))
    return dict(family=f.family, metadata=f.metadata, parameters=params,
                size_bytes=path.stat().st_size)


def auto_octaves(f0_in: np.ndarray, voiced: np.ndarray, f0_range) -> int:
    """Octave shift (-3..3) that brings the median voiced f0 nearest the range centre."""
    f = f0_in[voiced & (f0_in > 0)]
    if f.size == 0 or not f0_range:
        return 0
    centre = math.sqrt(f0_range[0] * f0_range[1])
    return int(np.clip(round(math.log2(centre / float(np.median(f)))), -3, 3))


def transfer(model: Path, audio: np.ndarray, mode: str, octaves: int) -> tuple[np.ndarray, float]:
    """Runs `timbrel transfer`; returns the output and the wall time in seconds."""
    from scipy.io import wavfile
    with tempfile.TemporaryDirectory(prefix="timbrel-tr-") as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        wavfile.write(str(src), SAMPLE_RATE, np.asarray(audio, dtype=np.float32))
        cmd = [str(core.cli_path()), "transfer", str(src), "--model", str(model), "--mode", mode,
               "--octaves", str(octaves), "-o", str(dst)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
        rate, out = wavfile.read(str(dst))
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"timbrel transfer wrote {rate} Hz, expected {SAMPLE_RATE}")
    return out.astype(np.float32), seconds


def measure_pair(source: dict, out: np.ndarray, octaves: int, f0_range, instrument: str,
                 classifier) -> dict:
    a_in, a_out = core.analyse(source["audio"]), core.analyse(out)
    n = min(len(a_in["f0_hz"]), len(a_out["f0_hz"]))
    target = a_in["f0_hz"][:n] * 2.0 ** octaves
    v_in, v_out = a_in["voiced"][:n], a_out["voiced"][:n]
    in_range = np.ones(n, dtype=bool)
    if f0_range:
        in_range = (target >= f0_range[0]) & (target <= f0_range[1])
    loud_in, loud_out = a_in["loudness_db"][:n], a_out["loudness_db"][:n]
    active = a_in["rms_db"][:n] > -60.0
    labels, mask = classifier.predict(out)
    res = dict(source=source["id"], kind=source["kind"], instrument=source["instrument"],
               octaves=octaves, seconds=round(len(source["audio"]) / SAMPLE_RATE, 3),
               f0_err_cents=metrics.f0_error_cents(target, v_in, a_out["f0_hz"][:n], v_out),
               f0_err_cents_in_range=metrics.f0_error_cents(target, v_in & in_range,
                                                            a_out["f0_hz"][:n], v_out),
               f0_within_50=metrics.f0_within_cents(target, v_in, a_out["f0_hz"][:n], v_out),
               f0_lag_hops=metrics.f0_lag_frames(target, v_in, a_out["f0_hz"][:n], v_out),
               voiced_share=float(np.mean(v_out[v_in])) if v_in.any() else math.nan,
               accuracy=metrics.transfer_accuracy(labels, instrument, mask),
               loudness_r=(metrics.pearson_r(loud_in[active], loud_out[active])
                           if active.sum() > 2 else math.nan),
               peak=float(np.max(np.abs(out))) if out.size else 0.0,
               finite=bool(np.all(np.isfinite(out))))
    if source["kind"] in ("instrument", "heldout") and source["instrument"] == instrument:
        res["lsd"] = metrics.lsd_audio(source["audio"], out)
    return res


def _median(rows, key, **where):
    v = [r[key] for r in rows if all(r.get(k) == w for k, w in where.items())
         and r.get(key) is not None and not (isinstance(r[key], float) and math.isnan(r[key]))]
    return float(np.median(v)) if v else None


def _mean(rows, key, **where):
    v = [r[key] for r in rows if all(r.get(k) == w for k, w in where.items())
         and r.get(key) is not None and not (isinstance(r[key], float) and math.isnan(r[key]))]
    return float(np.mean(v)) if v else None


def summarise(pairs: list[dict], instrument: str) -> dict:
    out = {}
    for mode in MODES:
        rows = [p for p in pairs if p["mode"] == mode]
        others = [p for p in rows if p["kind"] == "instrument" and p["instrument"] != instrument]
        held = [p for p in rows if p["kind"] == "heldout" and p["instrument"] != instrument]
        out[mode] = dict(
            f0_within_50_voice=_mean(rows, "f0_within_50", kind="voice"),
            f0_lag_voice=_median(rows, "f0_lag_hops", kind="voice"),
            f0_err_heldout=_median(held, "f0_err_cents"),
            acc_heldout=_mean(held, "accuracy"),
            voiced_share_heldout=_mean(held, "voiced_share"),
            loudness_r_heldout=_mean(held, "loudness_r"),
            lsd_heldout=_mean(rows, "lsd", kind="heldout"),
            peak_max=max((p["peak"] for p in rows), default=None),
            f0_err_voice=_median(rows, "f0_err_cents", kind="voice"),
            f0_err_voice_in_range=_median(rows, "f0_err_cents_in_range", kind="voice"),
            f0_err_instruments=_median(others, "f0_err_cents"),
            voiced_share_voice=_mean(rows, "voiced_share", kind="voice"),
            acc_voice=_mean(rows, "accuracy", kind="voice"),
            acc_instruments=_mean(others, "accuracy"),
            loudness_r_voice=_mean(rows, "loudness_r", kind="voice"),
            lsd_self=_mean(rows, "lsd", kind="instrument"),
            rtf_cli=_mean(rows, "rtf"),
        )
    return out


def evaluate(model: Path, data_root: str, voice: int, per_instrument: int, classifier,
             log=print) -> dict:
    info = read_model(model)
    meta = info["metadata"]
    instrument, f0_range = meta.get("instrument"), meta.get("f0_range_hz")
    sources = gather_sources(data_root, per_instrument=per_instrument, voice=voice,
                             max_seconds=8.0)
    sources += gather_sources(data_root, per_instrument=per_instrument, voice=0, max_seconds=8.0,
                              split="heldout", kind="heldout")
    pairs = []
    for i, src in enumerate(sources):
        a_in = core.analyse(src["audio"])
        for mode in MODES:
            octaves = auto_octaves(a_in["f0_hz"], a_in["voiced"], f0_range) if mode == "pitch" else 0
            out, seconds = transfer(model, src["audio"], mode, octaves)
            row = measure_pair(src, out, octaves, f0_range, instrument, classifier)
            row.update(mode=mode, rtf=seconds / max(row["seconds"], 1e-9))
            pairs.append(row)
        log(f"  [{i + 1}/{len(sources)}] {src['id']}: "
            + ", ".join(f"{p['mode']} {p['f0_err_cents']:.0f} c acc {p['accuracy']:.2f}"
                        for p in pairs[-2:]))
    return dict(model=str(model), info=info, pairs=pairs, summary=summarise(pairs, instrument))


def _fmt(v, spec=".2f", unit=""):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:{spec}}{unit}"


BEGIN, END = "<!-- evaluation:begin -->", "<!-- evaluation:end -->"


def judge_status() -> dict:
    """The reference classifier's own verdict on the held-out font (its metrics.json)."""
    path = core.REPO / "models" / "classifier" / "metrics.json"
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return dict(passed=False, accuracy=None, bar=0.85)
    res = m.get("results", {}).get(m.get("primary", ""), {})
    return dict(passed=bool(m.get("passed")), bar=m.get("bar", 0.85),
                accuracy=res.get("accuracy") if isinstance(res, dict) else None)


def card_section(result: dict, baseline: dict | None, command: str) -> str:
    """The card's measured section (between markers; the trainer writes the rest)."""
    s = result["summary"]
    pitch_pairs = [p for p in result["pairs"] if p["mode"] == "pitch"]
    n_voice = sum(1 for p in pitch_pairs if p["kind"] == "voice")
    n_instr = sum(1 for p in pitch_pairs if p["kind"] == "instrument")
    n_held = sum(1 for p in pitch_pairs if p["kind"] == "heldout")
    judge = judge_status()
    lines = [
        BEGIN,
        "## Measured (generated by `timbrel.eval.transfer_card`)",
        "",
        "Every conversion runs the core's `timbrel transfer` (the page's engine) and every "
        "measurement the core's `timbrel analyse`. "
        f"Sources: {n_voice} voice-like inputs (espeak-ng vowels, syllables, hums, sirens; no "
        "recorded speech or singing is installable here), "
        f"{n_instr} test phrases of the training fonts and {n_held} phrases of the held-out "
        "font (TimGM6mb, which no model or classifier trained on), one per instrument. "
        "Pitch-following mode uses the octave shift that brings each input's median f0 "
        "nearest the instrument's range, as the page suggests; f0 errors are median |cents| "
        "against input f0 x 2^octaves on frames voiced in both, with no time shift between "
        "the input's and the output's analysis.",
        "",
        "| mode | f0 err voice (c) | within 50 c | f0 lag (hops) | voiced kept | loudness r | "
        "f0 err held-out (c) | voiced kept held-out | LSD self (dB) | LSD held-out (dB) | peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [("pitch-following", s["pitch"]), ("noise (paper)", s["noise"])]
    if baseline:
        rows += [("baseline (no VQ), pitch", baseline["summary"]["pitch"]),
                 ("baseline (no VQ), noise", baseline["summary"]["noise"])]
    for name, m in rows:
        lines.append(
            f"| {name} | {_fmt(m['f0_err_voice'], '.1f')} | {_fmt(m.get('f0_within_50_voice'))} | "
            f"{_fmt(m.get('f0_lag_voice'), '.0f')} | {_fmt(m['voiced_share_voice'])} | "
            f"{_fmt(m['loudness_r_voice'])} | {_fmt(m.get('f0_err_heldout'), '.1f')} | "
            f"{_fmt(m.get('voiced_share_heldout'))} | {_fmt(m['lsd_self'])} | "
            f"{_fmt(m.get('lsd_heldout'))} | {_fmt(m.get('peak_max'))} |")
    lines += [
        "",
        "- within 50 c: share of the frames voiced in both whose f0 is within 50 cents of the "
        "target; f0 lag: the shift (hops of 11.6 ms, median over the inputs) that would "
        "minimise the f0 error (0: the output's pitch lines up with its input).",
        "- voiced kept: share of the input's voiced frames that are voiced in the output "
        "(noise mode cannot carve partials out of noise with 257 filter bins: the paper's "
        "mode is for unpitched input). \"held-out\": the other instruments' held-out-font "
        "phrases played through this model.",
        "- loudness r: Pearson r of input and output loudness over frames above -60 dBFS.",
        "- LSD self / held-out: log-spectral distance of the instrument's own test phrase "
        "(training fonts / held-out font) and its reconstruction.",
        "- peak: the largest |sample| of any output of `timbrel transfer`.",
        f"- CLI render speed: real-time factor {_fmt(s['pitch']['rtf_cli'], '.3f')} "
        "(process start included; streaming figures: README).",
    ]
    if judge["passed"]:
        lines += ["", "| mode | acc. voice | acc. instr. | acc. held-out |", "|---|---:|---:|---:|"]
        for name, m in rows:
            lines.append(f"| {name} | {_fmt(m['acc_voice'])} | {_fmt(m['acc_instruments'])} | "
                         f"{_fmt(m.get('acc_heldout'))} |")
        lines.append("- acc.: transfer accuracy, the share of non-silent 4096-sample output "
                     "frames that the reference classifier labels as this instrument.")
    else:
        lines.append(
            f"- Transfer accuracy is not quoted: the reference classifier reaches "
            f"{_fmt(judge['accuracy'])} on the held-out font, under its bar of "
            f"{judge['bar']} (`models/classifier/MODEL_CARD.md`); its verdicts are kept in "
            "`evaluation.json` (`accuracy` per pair) for when a judge passes.")
    lines += ["", f"Reproduce: `{command}`", END]
    return "\n".join(lines) + "\n"


def merge_card(path: Path, section: str, title: str) -> str:
    text = path.read_text() if path.exists() else f"# {title}\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + section.rstrip("\n") + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n" + section


def summary_table(models_dir: Path) -> str:
    """One row per model folder holding a transfer card's evaluation.json (for the docs),
    pitch mode; other families' evaluation.json files (gmvae, grains) are skipped."""
    lines = ["| model | size MB | trained on | f0 err voice (c) | within 50 c | f0 lag (hops) | "
             "voiced kept | loudness r | f0 err held-out (c) | LSD self (dB) | LSD held-out (dB) | peak |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for path in sorted(models_dir.glob("*/evaluation.json")):
        r = json.loads(path.read_text()).get("result")
        if not isinstance(r, dict) or "pitch" not in r.get("summary", {}):
            continue
        p = r["summary"]["pitch"]
        corpus = str(r["info"]["metadata"].get("training", {}).get("corpus", ""))
        trained = ("FluidR3 + Freepats" if "freepats" in corpus
                   else "FluidR3" if corpus else "?")
        lines.append(
            f"| {path.parent.name} | {r['info']['size_bytes'] / 1e6:.1f} | {trained} | "
            f"{_fmt(p['f0_err_voice'], '.1f')} | {_fmt(p.get('f0_within_50_voice'))} | "
            f"{_fmt(p.get('f0_lag_voice'), '.0f')} | {_fmt(p['voiced_share_voice'])} | "
            f"{_fmt(p['loudness_r_voice'])} | {_fmt(p.get('f0_err_heldout'), '.1f')} | "
            f"{_fmt(p['lsd_self'])} | {_fmt(p.get('lsd_heldout'))} | {_fmt(p.get('peak_max'))} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--summary", type=Path, metavar="MODELS_DIR",
                    help="print a table of every model's evaluation.json and exit")
    ap.add_argument("--model", type=Path)
    ap.add_argument("--baseline", type=Path)
    ap.add_argument("--data", default="data/full")
    ap.add_argument("--voice", type=int, default=40)
    ap.add_argument("--per-instrument", type=int, default=1)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--classifier", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.summary:
        print(summary_table(args.summary))
        return 0
    if not args.model:
        ap.error("--model is required (or --summary)")
    from timbrel.eval import classifier as clf
    classifier = clf.load(args.classifier) if args.classifier else clf.load()
    out = args.out or args.model.parent
    out.mkdir(parents=True, exist_ok=True)
    print(f"evaluating {args.model}")
    result = evaluate(args.model, args.data, args.voice, args.per_instrument, classifier)
    baseline = None
    if args.baseline:
        print(f"evaluating baseline {args.baseline}")
        baseline = evaluate(args.baseline, args.data, args.voice, args.per_instrument, classifier)
    from timbrel.data.corpus import shown
    command = shown("PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.transfer_card "
                    + " ".join(str(a) for a in (argv if argv is not None else __import__('sys').argv[1:])))
    (out / "evaluation.json").write_text(json.dumps(
        dict(result=result, baseline=baseline), indent=1, default=float) + "\n")
    card = out / "MODEL_CARD.md"
    title = f"{result['info']['metadata'].get('instrument', args.model.stem)}: timbre model"
    card.write_text(merge_card(card, card_section(result, baseline, command), title))
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
