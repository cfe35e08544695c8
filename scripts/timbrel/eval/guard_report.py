"""What the output guard does to the shipped voice models on real input.

The guard (core/include/timbrel/dsp/output_guard.h) is the last stage of every
engine and of the CLI's renders: a true-peak limiter at -1 dBTP behind which
nothing reaches the speakers above 0.891. This runs every model of
models/index.json through the core's own `timbrel transfer` (its default
octave rule) on the page's example voice, as is and 12 dB louder clipped at
full scale, and reads the guard's report that the CLI prints: the model's own
peak before the guard, the share of the clip reduced by more than 1 dB, the
largest reduction. Without a report the guard left the output alone, and the
peak is the written file's. Writes a Markdown table (README, "Output guard").

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.guard_report [--out docs/guard-report.md]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from .core import REPO, cli_path

REFERENCE = REPO / "web" / "assets" / "example-voice.wav"
LOUDER_DB = 12.0
GUARD_CEILING = 10 ** (-1 / 20)  # -1 dBTP

# timbrel: note: peak 3.146 (+10.0 dBFS) limited to -1 dBTP: 1234 samples reduced (2.1 %; 1.5 % by more than 1 dB), by at most 9.3 dB
NOTE = re.compile(r"peak ([0-9.]+) \(([-+0-9.]+) dBFS\) limited to -1 dBTP: (\d+) samples reduced "
                  r"\(([0-9.]+) %; ([0-9.]+) % by more than 1 dB\), by at most ([0-9.]+) dB")


def read_float(path: Path) -> tuple[int, np.ndarray]:
    rate, data = wavfile.read(path)
    if data.dtype.kind == "i":
        data = data / float(np.iinfo(data.dtype).max + 1)
    return rate, np.asarray(data, dtype=np.float32)


def transfer(model: Path, clip: Path, out: Path) -> dict:
    """Runs `timbrel transfer` and returns what the guard did."""
    proc = subprocess.run([str(cli_path()), "transfer", str(clip), "--model", str(model), "-o", str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"timbrel transfer with {model} failed: {proc.stderr.strip()}")
    _, written = read_float(out)
    row = {"output_peak": float(np.max(np.abs(written)))}
    match = NOTE.search(proc.stderr)
    if match:
        row.update(model_peak=float(match[1]), model_peak_dbfs=float(match[2]), reduced_1db_percent=float(match[5]),
                   max_reduction_db=float(match[6]))
    else:
        row.update(model_peak=row["output_peak"], model_peak_dbfs=20 * np.log10(max(row["output_peak"], 1e-9)),
                   reduced_1db_percent=0.0, max_reduction_db=0.0)
    return row


def measure(models: Path, reference: Path = REFERENCE) -> list[dict]:
    entries = json.loads((models / "index.json").read_text())
    rows = []
    with tempfile.TemporaryDirectory(prefix="timbrel-guard-") as tmp:
        rate, clip = read_float(reference)
        louder = Path(tmp) / "louder.wav"
        wavfile.write(louder, rate, np.clip(clip * 10 ** (LOUDER_DB / 20), -1.0, 1.0).astype(np.float32))
        inputs = {"as is": (reference, float(np.max(np.abs(clip)))),
                  f"+{LOUDER_DB:g} dB, clipped": (louder, 1.0)}
        for entry in entries:
            for label, (path, input_peak) in inputs.items():
                row = transfer(models / entry["file"], path, Path(tmp) / "out.wav")
                row.update(model=entry["id"], input=label, input_peak=input_peak)
                rows.append(row)
    return rows


def markdown(rows: list[dict], reference: Path = REFERENCE) -> str:
    lines = [
        f"Written by `python -m timbrel.eval.guard_report` (input: `{reference.relative_to(REPO)}`, "
        "each model at the CLI's default octave rule).",
        "",
        "| model | input | model peak (dBFS) | reduced by > 1 dB | largest reduction | output peak |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        touched = r["max_reduction_db"] > 0
        lines.append(f"| {r['model']} | {r['input']} | {r['model_peak_dbfs']:+.1f} | "
                     f"{r['reduced_1db_percent']:.1f} % of samples | "
                     f"{r['max_reduction_db']:.1f} dB | {r['output_peak']:.3f}{'' if touched else ' (untouched)'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=REPO / "models", help="folder holding index.json")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown table here")
    args = ap.parse_args(argv)
    rows = measure(args.models)
    worst = max(r["output_peak"] for r in rows)
    if worst > GUARD_CEILING + 1e-3:
        raise SystemExit(f"an output peaks at {worst:.3f}, above the guard's ceiling {GUARD_CEILING:.3f}")
    table = markdown(rows)
    print(table)
    if args.out:
        args.out.write_text("# The output guard on the shipped voice models\n\n" + table)


if __name__ == "__main__":
    main()
