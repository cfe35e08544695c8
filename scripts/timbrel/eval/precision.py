"""How far a grains model stored with float16 weights plays from the float32 file it came
from (``python -m timbrel.tmbl repack``), through the native engine.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.precision F32.tmbl F16.tmbl \\
        [--binary build/core/timbrel] [--seed 5]

For every class, ``timbrel grains hit --class C --seed S`` from both files (a pitched model:
at the class's typical pitch); prints the error energy under the signal's in dB (higher is
closer) and the range over the classes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import numpy as np

from timbrel.data.audio import read_wav

REPO = Path(__file__).resolve().parents[3]


def hit(binary: str, model: str, name: str, seed: int, out: Path) -> np.ndarray:
    subprocess.run([binary, "grains", "hit", "--model", model, "--class", name, "--seed", str(seed),
                    "-o", str(out)], check=True, capture_output=True, text=True)
    return read_wav(out)[0].astype(np.float64)


def compare(reference: str, other: str, binary: str, seed: int = 5) -> dict:
    info = json.loads(subprocess.run([binary, "grains", "info", "--model", reference], check=True,
                                     capture_output=True, text=True).stdout)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in info["classes"]:
            a = hit(binary, reference, name, seed, Path(tmp) / "a.wav")
            b = hit(binary, other, name, seed, Path(tmp) / "b.wav")
            out[name] = round(float(10 * np.log10(np.sum(a * a) / max(np.sum((a - b) ** 2), 1e-30))), 1)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("reference", help="the float32 file")
    p.add_argument("other", help="the float16 file")
    p.add_argument("--binary", default=str(REPO / "build" / "core" / "timbrel"))
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args(argv)
    try:
        per_class = compare(args.reference, args.other, args.binary, args.seed)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, db in per_class.items():
        print(f"{name}: error {db} dB under the signal")
    print(f"range: {min(per_class.values())} to {max(per_class.values())} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
