"""Evaluate a converter (a timbre model) against the corpora; write JSON + Markdown.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.evaluate \\
        --converter identity | "CMD {input} {output} [{target}] [{model}]" | module:function \\
        [--model FILE] [--data data/full] [--targets violin,flute] \\
        [--per-instrument 2] [--voice 12] [--max-seconds 12] \\
        [--out data/eval/NAME] [--classifier models/classifier/classifier.pt]

Sources: the first --per-instrument test phrases of each performance-corpus
instrument (by phrase number, clipped to --max-seconds) and the first --voice
voice-like inputs. Every source is converted to every target. Per pair
(conventions in timbrel.eval.metrics):
  transfer accuracy  share of non-silent 4096-sample output frames that the
                     reference classifier labels as the target
  f0 error           median |cents| between input and output f0 (core YIN) on
                     frames voiced in both
  DTW f0, loudness   between input and output curves from the core
  LSD                output vs. the input when source instrument = target
                     (a reconstruction: the only case with a reference)
Per target: transfer accuracy averaged over other instruments' phrases
(acc_instr), over voice-like inputs (acc_voice) and over its own phrases
(acc_self); f0 error, DTW f0 and DTW loudness averaged over all its pairs;
LSD over its own phrases. The last row averages the targets.
Outputs: <out>/evaluation.json (every pair) and <out>/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from timbrel.eval import core, metrics
from timbrel.eval.converters import make_converter

COLUMNS = ("acc_instr", "acc_voice", "acc_self", "f0_err_cents", "dtw_f0", "dtw_loudness", "lsd")


def gather_sources(data_root, per_instrument: int = 2, voice: int = 12,
                   max_seconds: float = 12.0, instruments=None, split: str = "test",
                   kind: str = "instrument") -> list[dict]:
    """The first `per_instrument` phrases of each instrument in `split` ("test": the
    training fonts' test phrases; "heldout": the held-out font's, which no model saw),
    labelled `kind`, then the first `voice` voice-like inputs."""
    from timbrel.data.corpus import load_audio, read_manifest
    from timbrel.data.instruments import PERFORMANCE_INSTRUMENTS
    root = Path(data_root)
    n_max = int(max_seconds * 22050)
    sources = []
    if split == "heldout":
        from timbrel.data.sources import HELDOUT_SOURCE
        rows = read_manifest(root, "performance", sources=HELDOUT_SOURCE)
    else:
        rows = read_manifest(root, "performance")  # FluidR3's: the reference font
    for inst in instruments or PERFORMANCE_INSTRUMENTS:
        test = sorted((r for r in rows if r["instrument"] == inst and r["split"] == split),
                      key=lambda r: r["phrase"])
        for r in test[:per_instrument]:
            sources.append(dict(id=Path(r["file"]).stem, kind=kind, instrument=inst,
                                file=r["file"], audio=load_audio(root, r)[:n_max]))
    if voice:
        try:
            vrows = read_manifest(root, "voice")
        except FileNotFoundError:
            vrows = []
        for r in vrows[:voice]:
            sources.append(dict(id=r["item"], kind="voice", instrument=None, file=r["file"],
                                audio=load_audio(root, r)[:n_max]))
    return sources


def _nanmean(values):
    v = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(v)) if v else None


def evaluate_pair(source: dict, target: str, output: np.ndarray, classifier) -> dict:
    x = source["audio"]
    a_in, a_out = core.analyse(x), core.analyse(output)
    labels, loud = classifier.predict(output)
    res = dict(source=source["id"], kind=source["kind"], instrument=source["instrument"],
               target=target, seconds_in=round(len(x) / 22050, 3),
               seconds_out=round(len(output) / 22050, 3),
               frames=int(loud.sum()),
               transfer_accuracy=metrics.transfer_accuracy(labels, target, loud),
               f0_err_cents=metrics.f0_error_cents(a_in["f0_hz"], a_in["voiced"],
                                                   a_out["f0_hz"], a_out["voiced"]),
               dtw_f0=metrics.dtw_f0(a_in["f0_hz"], a_in["voiced"], a_out["f0_hz"], a_out["voiced"]),
               dtw_loudness=metrics.dtw_loudness(a_in["loudness_db"], a_out["loudness_db"]),
               lsd=(metrics.lsd_audio(x, output) if source["instrument"] == target else None))
    if len(labels):
        names, counts = np.unique(labels[loud], return_counts=True) if loud.any() else ([], [])
        res["top_label"] = str(names[int(np.argmax(counts))]) if len(counts) else None
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in res.items()}


def summarise(pairs: list[dict], targets) -> dict:
    rows = {}
    for t in targets:
        p = [q for q in pairs if q["target"] == t]
        rows[t] = dict(
            acc_instr=_nanmean(q["transfer_accuracy"] for q in p
                               if q["kind"] == "instrument" and q["instrument"] != t),
            acc_voice=_nanmean(q["transfer_accuracy"] for q in p if q["kind"] == "voice"),
            acc_self=_nanmean(q["transfer_accuracy"] for q in p if q["instrument"] == t),
            f0_err_cents=_nanmean(q["f0_err_cents"] for q in p),
            dtw_f0=_nanmean(q["dtw_f0"] for q in p),
            dtw_loudness=_nanmean(q["dtw_loudness"] for q in p),
            lsd=_nanmean(q["lsd"] for q in p),
            pairs=len(p))
    average = {c: _nanmean(r[c] for r in rows.values()) for c in COLUMNS}
    return dict(per_target=rows, average=average)


def markdown(result: dict) -> str:
    def fmt(v, c):
        if v is None:
            return "-"
        if c.startswith("acc"):
            return f"{v:.3f}"
        if c == "f0_err_cents":
            return f"{v:.1f}"
        if c == "lsd":
            return f"{v:.2f}"
        return f"{v:.2e}"
    head = ["target", "transfer acc (other instruments)", "transfer acc (voice inputs)",
            "acc (own phrases)", "f0 error (cents, median)", "DTW f0", "DTW loudness", "LSD (dB)"]
    lines = [f"# Evaluation: {result['converter']}", "",
             f"Model: `{result['model']}`. Data: `{result['data']}`. Classifier: "
             f"`{result['classifier']}`. {result['sources']['instrument']} instrument phrases, "
             f"{result['sources']['voice']} voice-like inputs, {len(result['targets'])} targets, "
             f"{result['seconds']:.0f} s. Conventions: timbrel.eval.metrics.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t, r in result["summary"]["per_target"].items():
        lines.append(f"| {t} | " + " | ".join(fmt(r[c], c) for c in COLUMNS) + " |")
    a = result["summary"]["average"]
    lines.append("| **average** | " + " | ".join(fmt(a[c], c) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def evaluate(converter="identity", data_root="data/full", targets=None, model=None,
             per_instrument: int = 2, voice: int = 12, max_seconds: float = 12.0,
             out=None, classifier_path=None, log=print) -> dict:
    from timbrel.data.instruments import PERFORMANCE_INSTRUMENTS
    from timbrel.eval import classifier as C
    t0 = time.time()
    conv = make_converter(converter, model)
    clf = C.load(classifier_path or C.DEFAULT_WEIGHTS)
    targets = list(targets or PERFORMANCE_INSTRUMENTS)
    unknown = [t for t in targets if t not in clf.labels]
    if unknown:
        raise ValueError(f"targets unknown to the classifier: {unknown}")
    sources = gather_sources(data_root, per_instrument, voice, max_seconds)
    if not sources:
        raise ValueError(f"no sources found under {data_root}")
    pairs = []
    for t in targets:
        for s in sources:
            y = conv(s["audio"], t)
            pairs.append(evaluate_pair(s, t, y, clf))
        log(f"  {t}: {len(sources)} conversions ({time.time() - t0:.0f} s)")
    result = dict(converter=getattr(conv, "name", str(converter)), model=model, data=str(data_root),
                  classifier=str(classifier_path or C.DEFAULT_WEIGHTS), targets=targets,
                  sources=dict(instrument=sum(s["kind"] == "instrument" for s in sources),
                               voice=sum(s["kind"] == "voice" for s in sources)),
                  settings=dict(per_instrument=per_instrument, voice=voice, max_seconds=max_seconds),
                  seconds=round(time.time() - t0, 1),
                  summary=summarise(pairs, targets), pairs=pairs)
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "evaluation.json").write_text(json.dumps(result, indent=1))
        (out / "evaluation.md").write_text(markdown(result))
        log(f"wrote {out / 'evaluation.json'} and {out / 'evaluation.md'}")
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m timbrel.eval.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--converter", default="identity")
    p.add_argument("--model", default=None, help="model file, substituted for {model}")
    p.add_argument("--data", default="data/full")
    p.add_argument("--targets", default=None, help="comma list (default: the 13 classes)")
    p.add_argument("--per-instrument", type=int, default=2)
    p.add_argument("--voice", type=int, default=12)
    p.add_argument("--max-seconds", type=float, default=12.0)
    p.add_argument("--out", default=None, help="folder for evaluation.json/.md (default data/eval/<name>)")
    p.add_argument("--classifier", default=None)
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(2)
    out = a.out or f"data/eval/{Path(a.model).stem if a.model else a.converter.split()[0].split('/')[-1]}"
    res = evaluate(a.converter, a.data, a.targets.split(",") if a.targets else None, a.model,
                   a.per_instrument, a.voice, a.max_seconds, out, a.classifier)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
