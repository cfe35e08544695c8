"""Measures again every figure derived from the shipped timbre models, in one run.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.refresh_timbre \\
        [--data $TIMBREL_DATA/full] [--cards [MODEL ...]] [--skip draw,guard,...]

After a timbre model (models/<id>/<id>.tmbl) is retrained or repacked, these steps
bring what the page, the cards and the docs say back in line with the files:

  cards     `timbrel.eval.transfer_card` for the models named after --cards (every
            model of models/index.json, the Voice panel's catalog, when --cards is
            given alone; skipped without --cards: ~30 s a model)
  sizes     `timbrel.tmbl index-sizes`: the catalogs' size_bytes (shown on the page)
  levels    `timbrel.eval.levels`: each model's output_level_db (the page evens levels)
  examples  `timbrel.eval.examples`: the sung phrase through every model (the cards' audio)
  guard     `timbrel.eval.guard_report --out docs/guard-report.md`
  draw      `timbrel.eval.draw_quality`, its table spliced into models/README.md
  summary   `timbrel.eval.transfer_card --summary models`, spliced into docs/measurements.md

A table is spliced between the markers ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``
(draw-quality, transfer-summary); the prose around it is the author's and is not touched,
so read it again when the figures move. Each step runs as its own process (as a user
would run it) and the run stops at the first that fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .core import REPO

STEPS = ("cards", "sizes", "levels", "examples", "guard", "draw", "summary")
DRAW_OUT = REPO / "data" / "eval" / "draw"


def timbre_models(models: Path) -> list[str]:
    """Ids of the timbre models in models/index.json (the Voice panel's catalog), in its order."""
    return [m["id"] for m in json.loads((models / "index.json").read_text())]


def splice(path: Path, name: str, table: str) -> bool:
    """Replaces the text between <!-- name:begin --> and <!-- name:end --> in path by
    table; True when the file changed. Raises if the markers are missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text()
    a, b = text.find(begin), text.find(end)
    if a < 0 or b < a:
        raise SystemExit(f"{path}: no {begin} ... {end} markers to write the table between")
    new = text[:a + len(begin)] + "\n" + table.strip("\n") + "\n" + text[b:]
    if new != text:
        path.write_text(new)
    return new != text


def table_of(markdown: str) -> str:
    """The first Markdown table (consecutive lines starting with '|') of a text."""
    lines, started = [], False
    for line in markdown.splitlines():
        if line.startswith("|"):
            lines.append(line)
            started = True
        elif started:
            break
    return "\n".join(lines)


def run(step: str, args: list[str]) -> str:
    cmd = [sys.executable, "-m", *args]
    print(f"== {step}: {' '.join(args)}", flush=True)
    env = dict(os.environ, PYTHONPATH=str(REPO / "scripts"))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m timbrel.eval.refresh_timbre",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(os.environ.get("TIMBREL_DATA", "data"), "full"))
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--cards", nargs="*", metavar="MODEL",
                    help="run these models' transfer cards first (alone: every timbre model)")
    ap.add_argument("--skip", default="", help=f"comma-separated steps to leave out ({', '.join(STEPS)})")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(STEPS)
    if unknown:
        ap.error(f"unknown step(s) {sorted(unknown)}; steps: {', '.join(STEPS)}")
    models = args.models.resolve()
    ids = timbre_models(models)

    if args.cards is not None and "cards" not in skip:
        for name in args.cards or ids:
            if name not in ids:
                ap.error(f"{name} is not a timbre model of {models / 'index.json'} ({', '.join(ids)})")
            card = ["timbrel.eval.transfer_card", "--model", str(models / name / f"{name}.tmbl"),
                    "--data", args.data, "--voice", "16", "--out", str(models / name)]
            baseline = models / f"{name}-baseline" / f"{name}-baseline.tmbl"
            if baseline.exists():
                card[3:3] = ["--baseline", str(baseline)]
            run(f"card {name}", card)
    if "sizes" not in skip:
        indexes = [str(p) for p in sorted(models.glob("**/index.json"))]
        run("sizes", ["timbrel.tmbl", "index-sizes", *indexes])
    if "levels" not in skip:
        run("levels", ["timbrel.eval.levels", str(models)])
    if "examples" not in skip:
        run("examples", ["timbrel.eval.examples", "--data", args.data, "--models", str(models)])
    if "guard" not in skip:
        run("guard", ["timbrel.eval.guard_report", "--models", str(models),
                      "--out", str(REPO / "docs" / "guard-report.md")])
    if "draw" not in skip:
        run("draw", ["timbrel.eval.draw_quality", "--out", str(DRAW_OUT)])
        table = table_of((DRAW_OUT / "draw_quality.md").read_text())
        splice(models / "README.md", "draw-quality", table)
    if "summary" not in skip:
        out = run("summary", ["timbrel.eval.transfer_card", "--summary", str(models)])
        splice(REPO / "docs" / "measurements.md", "transfer-summary", table_of(out))
    print("done; `git diff --stat` shows what moved (read the prose around the tables again)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
