"""How well descriptor-based synthesis follows a drawn curve, per model and descriptor.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.draw_quality \\
        [--models violin cello | PATH.tmbl ...] [--descriptors centroid,f0,loudness,bandwidth] \\
        [--seconds 4] [--random 3] [--seed 0] [--out data/eval/draw] [--cli build/core/timbrel] \\
        [-- EXTRA DRAW OPTIONS, e.g. --hysteresis 0.05 --loudness conditioning]

For every model with a descriptor table (default: every model in
models/index.json whose .tmbl has one; add it with `python -m
timbrel.export.code_table`) and every descriptor, target curves inside what
the model reaches are rendered by the core's tool (`timbrel draw`, default
settings unless extra options are given) and measured on the rendered audio
with the core (`timbrel analyse`, timbrel.eval.core):
  ramp up, ramp down   the table's 5th -> 95th percentile and back (f0: the
                       model's f0_range_hz, its comfortable range)
  random smooth        --random curves, seeded: a sum of three slow sines
                       (0.1-0.6 Hz) scaled to the same range
Measured frames (1024 samples, hop 256, timed at their centres) against the
target curve interpolated there, leaving out the first and last 0.1 s; f0 on
the frames YIN calls voiced only. Per curve: Pearson r and mean absolute
error (timbrel.eval.metrics, DESIGN.md section 6); per model and descriptor the mean
over the ramps and over the random curves. Goal: r >= 0.9.
Outputs: <out>/draw_quality.json (every curve) and <out>/draw_quality.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from timbrel.eval import core, metrics
from timbrel.tmbl import read_tmbl

DESCRIPTORS = ("centroid", "f0", "loudness", "bandwidth")
COLUMN = {"centroid": "centroid_hz", "bandwidth": "bandwidth_hz", "rolloff": "rolloff_hz",
          "flatness": "flatness", "loudness": "loudness_db", "f0": "f0_hz"}
UNIT = {"centroid": "Hz", "bandwidth": "Hz", "rolloff": "Hz", "flatness": "", "loudness": "dB",
        "f0": "Hz"}
GOAL_R = 0.9
EDGE_S = 0.1  # left out at both ends: the decoder's start and the last partial frame
POINTS_PER_S = 50


def shipped_models(index: Path = core.REPO / "models" / "index.json") -> list[Path]:
    """The .tmbl files of models/index.json that carry a descriptor table."""
    if not index.exists():
        return []
    entries = json.loads(index.read_text())
    found = []
    for e in entries:
        path = index.parent / e["file"]
        if path.exists() and "descriptor_table" in read_tmbl(path).metadata:
            found.append(path)
    return found


def resolve(model: str) -> Path:
    path = Path(model)
    if path.exists():
        return path
    named = core.REPO / "models" / model / f"{model}.tmbl"
    if named.exists():
        return named
    raise FileNotFoundError(f"model {model!r} not found (a .tmbl path or a name under models/)")


SILENCE_DB = -60.0        # frame rms under this is silence (the page's compareMeasured too)
LOUDNESS_FLOOR_DB = -57.0  # kLoudnessAxisFloorDb: the loudness axis starts no lower
AUDIBLE_FLOOR_DB = -90.0  # kAudibleFloorDb in core/include/timbrel/models/descriptor_synth.h
AUDIBLE_RANGE_DB = 30.0   # kAudibleRangeDb: a code this far under the median code is silent


def audible_codes(loudness_db) -> np.ndarray:
    """The core's CodeSelector rule: codes not silent at the table's reference loudness."""
    loud = np.asarray(loudness_db, dtype=np.float64)
    floor = max(AUDIBLE_FLOOR_DB, float(np.median(loud)) - AUDIBLE_RANGE_DB) if loud.size else 0.0
    return loud >= floor


def target_range(metadata: dict, descriptor: str) -> tuple[float, float]:
    """Where the curves go: the pitch table's 5th-95th percentile; f0: f0_range_hz;
    loudness from LOUDNESS_FLOOR_DB at the lowest."""
    if descriptor == "f0":
        low, high = metadata.get("f0_range_hz", (110.0, 880.0))
        return float(low), float(high)
    table = metadata["descriptor_table"]["pitch"]
    values = np.asarray(table[COLUMN[descriptor]], dtype=np.float64)
    if descriptor != "loudness":
        # silent codes have no spectrum (the core's CodeSelector leaves them out too)
        audible = audible_codes(table["loudness_db"])
        values = values[audible] if audible.any() else values
    low, high = np.percentile(values, [5, 95])
    if descriptor == "loudness" and high > LOUDNESS_FLOOR_DB:
        low = max(low, LOUDNESS_FLOOR_DB)  # the core's axis (DescriptorSynth::range) stops there
    return float(low), float(high)


def curves(low: float, high: float, seconds: float, random: int, rng: np.random.Generator,
           log: bool = False) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(kind, times, values): ramps up and down, then `random` smooth random curves.
    With log, curves are shaped in log2 of the value (f0: even steps in pitch)."""
    t = np.linspace(0.0, seconds, int(seconds * POINTS_PER_S) + 1)
    to = (lambda v: np.log2(v)) if log else (lambda v: v)
    back = (lambda v: 2.0 ** v) if log else (lambda v: v)
    a, b = to(low), to(high)
    share = t / seconds
    out = [("ramp up", t, back(a + (b - a) * share)), ("ramp down", t, back(b + (a - b) * share))]
    for i in range(random):
        v = np.zeros_like(t)
        for _ in range(3):
            freq, phase, amp = rng.uniform(0.1, 0.6), rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1)
            v += amp * np.sin(2 * math.pi * freq * t + phase)
        v = (v - v.min()) / max(v.max() - v.min(), 1e-12)
        out.append((f"random {i + 1}", t, back(a + (b - a) * v)))
    return out


def draw_and_measure(model: Path, descriptor: str, times: np.ndarray, values: np.ndarray,
                     workdir: Path, extra: Sequence[str] = ()) -> dict:
    """Renders one curve with `timbrel draw` and measures it: r, MAE, frames, timing."""
    csv = workdir / "curve.csv"
    wav = workdir / "draw.wav"
    np.savetxt(csv, np.c_[times, values], delimiter=",", fmt="%.6f", header="time_s,value",
               comments="")
    command = [str(core.cli_path()), "draw", "--model", str(model), "--target",
               f"{descriptor}={csv}", "-o", str(wav), *extra]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"timbrel draw failed: {proc.stderr.strip()}")
    measured = core.analyse_file(wav)
    t = measured["time_s"]
    inside = (t >= EDGE_S) & (t <= times[-1] - EDGE_S)
    # A silent frame where the curve asks for sound is a miss, not a gap: it counts
    # with the value silence has (0: no brightness, no pitch), as on the page.
    silent = measured["rms_db"] < SILENCE_DB
    keep = inside & (measured["voiced"] | silent) if descriptor == "f0" else inside
    got = np.array(measured[COLUMN[descriptor]], dtype=np.float64)
    if descriptor != "loudness":
        got[silent] = 0.0
    target = np.interp(t[keep], times, values)
    result = metrics.descriptor_tracking(target, got[keep])
    result.update(frames=int(keep.sum()), frames_total=int(len(t)),
                  silent_share=float(np.mean(silent[inside])) if inside.any() else 0.0)
    if descriptor == "f0":
        result["voiced_share"] = float(np.mean(measured["voiced"][(t >= EDGE_S) & (t <= times[-1] - EDGE_S)]))
    return result


def evaluate(models: Sequence[Path], descriptors: Sequence[str] = DESCRIPTORS, seconds: float = 4.0,
             random: int = 3, seed: int = 0, extra: Sequence[str] = (), log=print) -> dict:
    report = {"settings": {"seconds": seconds, "random": random, "seed": seed,
                           "draw_options": list(extra), "edge_s": EDGE_S, "goal_r": GOAL_R},
              "models": {}}
    with tempfile.TemporaryDirectory(prefix="timbrel-draw-quality-") as tmp:
        for model in models:
            f = read_tmbl(model)
            if "descriptor_table" not in f.metadata:
                raise ValueError(f"{model} has no descriptor table: add it with "
                                 f"`PYTHONPATH=scripts python3 -m timbrel.export.code_table {model}`")
            name = f.metadata.get("instrument") or f.name
            per_model = report["models"].setdefault(name, {"file": str(model), "descriptors": {}})
            for d in descriptors:
                rng = np.random.default_rng([seed, DESCRIPTORS.index(d) if d in DESCRIPTORS else 9])
                low, high = target_range(f.metadata, d)
                rows = []
                started = time.perf_counter()
                for kind, times, values in curves(low, high, seconds, random, rng, log=d == "f0"):
                    r = draw_and_measure(model, d, times, values, Path(tmp), extra)
                    r["kind"] = kind
                    rows.append(r)
                ramps = [r for r in rows if r["kind"].startswith("ramp")]
                randoms = [r for r in rows if r["kind"].startswith("random")]
                summary = {
                    "range": [round(low, 4), round(high, 4)], "unit": UNIT[d],
                    "r_ramps": _mean(r["r"] for r in ramps), "r_random": _mean(r["r"] for r in randoms),
                    "r_min": min(r["r"] for r in rows), "mae": _mean(r["mae"] for r in rows),
                    "silent_share": _mean(r["silent_share"] for r in rows),
                    "span_octaves": (round(math.log2(high / low), 3)
                                     if d in ("centroid", "f0") and low > 0 else None),
                    "seconds": round(time.perf_counter() - started, 2), "curves": rows}
                summary["goal_met"] = bool(summary["r_min"] >= GOAL_R)
                per_model["descriptors"][d] = summary
                log(f"{name:>12} {d:>10}: r ramps {summary['r_ramps']:.3f}, random "
                    f"{summary['r_random']:.3f}, min {summary['r_min']:.3f}, MAE {summary['mae']:.3g} "
                    f"{UNIT[d]}")
    return report


def _mean(values) -> float:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return float(np.mean(v)) if v else math.nan


def markdown(report: dict) -> str:
    s = report["settings"]
    lines = [f"Descriptor drawing: {s['seconds']:g} s curves (ramp up, ramp down, {s['random']} random "
             f"smooth; seed {s['seed']}) rendered by `timbrel draw` "
             f"{' '.join(s['draw_options']) or '(default settings)'} and measured by the core; "
             f"Pearson r and mean absolute error, goal r >= {s['goal_r']}.", "",
             "Silent frames where the curve asks for sound count as misses; span: the "
             "range in octaves (centroid: over the codes that are not silent, 5th-95th "
             "percentile, at the reference f0).", "",
             "| model | descriptor | range | span (oct) | r (ramps) | r (random) | r (min) | MAE | silent | goal |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in report["models"].items():
        for d, x in m["descriptors"].items():
            unit = f" {x['unit']}" if x["unit"] else ""
            span = "" if x.get("span_octaves") is None else f"{x['span_octaves']:.2f}"
            lines.append(f"| {name} | {d} | {x['range'][0]:.4g} to {x['range'][1]:.4g}{unit} | "
                         f"{span} | {x['r_ramps']:.3f} | {x['r_random']:.3f} | {x['r_min']:.3f} | "
                         f"{x['mae']:.3g}{unit} | {x.get('silent_share', 0) * 100:.0f} % | "
                         f"{'yes' if x['goal_met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(prog="python -m timbrel.eval.draw_quality",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help="names under models/ or .tmbl paths (default: every shipped model with a table)")
    parser.add_argument("--descriptors", default=",".join(DESCRIPTORS))
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--random", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("data/eval/draw"))
    parser.add_argument("--cli", type=Path, default=None, help="the core's tool (else $TIMBREL_CLI)")
    args = parser.parse_args(argv)
    if args.cli:
        import os
        os.environ["TIMBREL_CLI"] = str(args.cli)
    models = [resolve(m) for m in args.models] if args.models else shipped_models()
    if not models:
        print("no model with a descriptor table: add one with "
              "`PYTHONPATH=scripts python3 -m timbrel.export.code_table models/NAME/NAME.tmbl`",
              file=sys.stderr)
        return 1
    descriptors = [d.strip() for d in args.descriptors.split(",") if d.strip()]
    unknown = [d for d in descriptors if d not in COLUMN]
    if unknown:
        parser.error(f"unknown descriptor(s) {unknown}; known: {', '.join(COLUMN)}")
    report = evaluate(models, descriptors, args.seconds, args.random, args.seed, extra)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "draw_quality.json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    (args.out / "draw_quality.md").write_text(text)
    print(text)
    print(f"wrote {args.out / 'draw_quality.json'} and {args.out / 'draw_quality.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
