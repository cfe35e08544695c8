"""Stores a vq_timbre model's descriptor table in its .tmbl file.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.export.code_table MODEL.tmbl [MODEL.tmbl ...]

For every code the core decodes it on its own and measures it (`timbrel
analyse-codes`, core/include/timbrel/models/code_analysis.h); this writes the
result as ``metadata.descriptor_table`` (format in models/README.md,
"Descriptor table") and rewrites the file with the same family, name, other
metadata, graphs and tensors (the writer recomputes the CRC). The file is
replaced atomically; a table already there is replaced by the fresh one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from timbrel.eval.core import cli_path
from timbrel.tmbl import read_tmbl, stored_dtype, write_tmbl

TABLE_KEY = "descriptor_table"


def analyse_codes(model: Path, cli: Optional[Path] = None) -> tuple[dict, str]:
    """The core's table for `model` (parsed JSON) and its timing line."""
    with tempfile.TemporaryDirectory(prefix="timbrel-codes-") as tmp:
        out = Path(tmp) / "table.json"
        proc = subprocess.run([str(cli or cli_path()), "analyse-codes", str(model), "-o", str(out)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"timbrel analyse-codes {model} failed: {proc.stderr.strip()}")
        table = json.loads(out.read_text())
    return table, proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""


def with_table(model: Path, table: dict, out: Optional[Path] = None) -> Path:
    """Rewrites `model` (or writes `out`) with metadata.descriptor_table = table."""
    f = read_tmbl(model)
    codes = f.metadata.get("codes")
    for mode in ("pitch", "noise"):
        for key, values in table[mode].items():
            if len(values) != codes:
                raise ValueError(f"{model}: table {mode}.{key} has {len(values)} entries, "
                                 f"the model has {codes} codes")
    metadata = dict(f.metadata)
    metadata[TABLE_KEY] = table
    target = Path(out) if out else Path(model)
    # Write next to the target, then rename: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write_tmbl(tmp, f.family, f.name, metadata, f.graphs, f.tensors, dtype=stored_dtype(f))
        shutil.copymode(model, tmp)  # mkstemp made it private
        check_same_model(model, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def check_same_model(before: Path, after: Path) -> None:
    """Everything but metadata.descriptor_table is the same in both files."""
    a, b = read_tmbl(before), read_tmbl(after)
    meta_a = {k: v for k, v in a.metadata.items() if k != TABLE_KEY}
    meta_b = {k: v for k, v in b.metadata.items() if k != TABLE_KEY}
    if (a.family, a.name, meta_a, a.graphs) != (b.family, b.name, meta_b, b.graphs):
        raise RuntimeError(f"rewriting {before} changed more than its descriptor table")
    if a.tensors.keys() != b.tensors.keys() or any(
            not np.array_equal(a.tensors[k], b.tensors[k]) for k in a.tensors):
        raise RuntimeError(f"rewriting {before} changed its tensors")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m timbrel.export.code_table",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help=".tmbl files (vq_timbre)")
    parser.add_argument("--cli", type=Path, default=None,
                        help="the core's tool (default: $TIMBREL_CLI or build/core/timbrel)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write here instead of rewriting the model (one model only)")
    args = parser.parse_args(argv)
    if args.out and len(args.models) != 1:
        parser.error("--out takes one model")
    for model in args.models:
        table, timing = analyse_codes(model, args.cli)
        target = with_table(model, table, args.out)
        print(timing)
        print(f"stored the descriptor table of {len(table['pitch']['centroid_hz'])} codes in "
              f"{target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
