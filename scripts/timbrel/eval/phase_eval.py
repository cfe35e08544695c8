"""Phase reconstruction measured by the core: mean spectral convergence per method.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.phase_eval [--data data/full]
        [--notes 6] [--performances 3] [--iterations 30]

Runs `timbrel phase-eval` (core/cli; $TIMBREL_CLI or build/core/timbrel) over test-split
files of the note corpus (one mf note per instrument, the middle of its range) and of
the performance corpus (each instrument's first test phrase), both read from their
manifest.csv, and prints a markdown table for the README: per method and magnitude kind
(the file's own STFT magnitudes, or their constant-Q back-projection, what a cross-modal
model's decoder gives), the mean spectral convergence || |STFT(y)| - M ||_F / ||M||_F
and the compute time per second of audio.
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from timbrel.eval.core import REPO, cli_path

# The papers' instruments first, so small counts still cover strings, winds and brass.
INSTRUMENT_ORDER = ("violin", "flute", "trumpet", "alto_sax", "piano", "cello", "clarinet",
                    "oboe", "bassoon", "french_horn", "trombone", "english_horn", "viola",
                    "contrabass", "voice")

METHOD_NOTES = {
    "rtpghi": "RTPGHI, one frame look-ahead (live; latency 2048 samples)",
    "rtpghi-no-lookahead": "RTPGHI without look-ahead (latency 1792 samples)",
    "gl-zero": "Griffin-Lim from zero phase",
    "gl-zero-fast": "fast Griffin-Lim (momentum 0.99) from zero phase",
    "gl-rtpghi": "Griffin-Lim from the RTPGHI phase",
    "gl-rtpghi-fast": "fast Griffin-Lim from the RTPGHI phase (the core's default)",
}


def _rows(manifest: Path) -> list[dict]:
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} is missing: build the corpora first "
                                "(PYTHONPATH=scripts python3 -m timbrel.data.build)")
    with manifest.open(newline="") as f:
        return [r for r in csv.DictReader(f) if r["split"] == "test"]


def _by_instrument_order(instruments) -> list[str]:
    known = [i for i in INSTRUMENT_ORDER if i in instruments]
    return known + sorted(set(instruments) - set(known))


def pick_notes(root: Path, count: int) -> list[Path]:
    """One mf test note per instrument, the one nearest the middle of its range."""
    rows = [r for r in _rows(root / "notes" / "manifest.csv") if r["dynamics"] == "mf"]
    by_instrument = defaultdict(list)
    for r in rows:
        by_instrument[r["instrument"]].append(r)
    picked = []
    for instrument in _by_instrument_order(by_instrument)[:count]:
        notes = by_instrument[instrument]
        pitches = sorted(int(r["midi_pitch"]) for r in notes)
        middle = pitches[len(pitches) // 2]
        best = min(notes, key=lambda r: (abs(int(r["midi_pitch"]) - middle), r["file"]))
        picked.append(root / best["file"])
    return picked


def pick_performances(root: Path, count: int) -> list[Path]:
    """Each instrument's first test phrase."""
    rows = _rows(root / "performance" / "manifest.csv")
    first = {}
    for r in sorted(rows, key=lambda r: (r["instrument"], int(r["phrase"]))):
        first.setdefault(r["instrument"], r)
    return [root / first[i]["file"] for i in _by_instrument_order(first)[:count]]


def run_file(path: Path, iterations: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "phase.csv"
        proc = subprocess.run([str(cli_path()), "phase-eval", str(path), "--iterations",
                               str(iterations), "--csv", str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"timbrel phase-eval {path} failed: {proc.stderr.strip()}")
        with out.open(newline="") as f:
            return list(csv.DictReader(f))


def table(results: dict[str, list[dict]]) -> str:
    """Markdown: one row per method, mean SC (and dB) per corpus and magnitude kind."""
    columns = [(corpus, kind) for corpus in results if results[corpus] for kind in ("stft", "cqt")]
    sums = defaultdict(lambda: [0.0, 0])
    time_per_second = defaultdict(lambda: [0.0, 0.0])
    methods = []
    for corpus, rows in results.items():
        for r in rows:
            if r["method"] not in methods:
                methods.append(r["method"])
            cell = sums[(r["method"], corpus, r["magnitudes"])]
            cell[0] += float(r["spectral_convergence"])
            cell[1] += 1
            t = time_per_second[r["method"]]
            t[0] += float(r["seconds"])
            t[1] += float(r["audio_seconds"])
    head = "| method | " + " | ".join(
        f"{corpus} {'STFT' if kind == 'stft' else 'CQT back-proj.'}" for corpus, kind in columns)
    lines = [head + " | compute s per s of audio |",
             "|" + "---|" * (len(columns) + 2)]
    for method in methods:
        cells = []
        for corpus, kind in columns:
            total, n = sums[(method, corpus, kind)]
            mean = total / n if n else float("nan")
            cells.append(f"{mean:.4f} ({20 * math.log10(mean):.1f} dB)" if n else "-")
        t, audio = time_per_second[method]
        lines.append(f"| {METHOD_NOTES.get(method, method)} | " + " | ".join(cells) +
                     f" | {t / audio:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "full",
                        help="corpus root with notes/ and performance/ (default: data/full)")
    parser.add_argument("--notes", type=int, default=6, help="note files (one per instrument)")
    parser.add_argument("--performances", type=int, default=3,
                        help="performance phrases (one per instrument)")
    parser.add_argument("--iterations", type=int, default=30, help="Griffin-Lim iterations")
    args = parser.parse_args(argv)

    files = {"notes": pick_notes(args.data, args.notes),
             "performance": pick_performances(args.data, args.performances)}
    results: dict[str, list[dict]] = {}
    start = time.monotonic()
    for corpus, paths in files.items():
        results[corpus] = []
        for path in paths:
            print(f"{corpus}: {path.relative_to(args.data)}", file=sys.stderr, flush=True)
            results[corpus].extend(run_file(path, args.iterations))
    print(f"Spectral convergence (mean over {len(files['notes'])} test notes and "
          f"{len(files['performance'])} test phrases; lower is better), Griffin-Lim "
          f"{args.iterations} iterations; `python3 -m timbrel.eval.phase_eval` "
          f"({time.monotonic() - start:.0f} s):\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
