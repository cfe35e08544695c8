"""How loud each voice model plays the same voice: the page evens them out.

Each model's training data has its own level (a soundfont's flute is quieter
than its trumpet), and the decoder's gain head learned it: switching violin ->
flute on the page jumped the level by about 8 dB. This measures every model on
one reference input (the page's example clip, a sung glide: the input a first
visitor hears) through the core's own `timbrel transfer`, as the A-weighted
loudness (the core's `timbrel analyse`, loudness_db) averaged in power over the
frames where the output sounds (within 40 dB of its loudest frame), and stores
it in models/index.json as `output_level_db`. The Voice panel adds
`LEVEL_TARGET_DB - output_level_db` (clamped to +-12 dB) to the visitor's
volume, so every instrument plays the example at the same loudness.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.levels [models]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .core import REPO, analyse_file, cli_path

REFERENCE = REPO / "web" / "assets" / "example-voice.wav"
SOUNDING_RANGE_DB = 40.0


def output_level_db(tmbl: Path, reference: Path = REFERENCE, octaves: int = 0) -> float:
    """A-weighted loudness (dB) of `reference` played by the model at `tmbl`."""
    with tempfile.TemporaryDirectory(prefix="timbrel-level-") as tmp:
        out = Path(tmp) / "out.wav"
        proc = subprocess.run([str(cli_path()), "transfer", str(reference), "--model", str(tmbl),
                               "--octaves", str(octaves), "-o", str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"timbrel transfer with {tmbl} failed: {proc.stderr.strip()}")
        frames = analyse_file(out)
    loudness = frames["loudness_db"]
    loudness = loudness[np.isfinite(loudness)]
    if loudness.size == 0:
        raise ValueError(f"{tmbl} played the reference as silence")
    sounding = loudness[loudness > loudness.max() - SOUNDING_RANGE_DB]
    return float(10.0 * np.log10(np.mean(10.0 ** (sounding / 10.0))))


def update_levels(models: Path) -> list[dict]:
    """Measures every model of models/index.json and writes output_level_db into it."""
    index = models / "index.json"
    entries = json.loads(index.read_text())
    for entry in entries:
        entry["output_level_db"] = round(output_level_db(models / entry["file"]), 2)
    index.write_text(json.dumps(entries, indent=1) + "\n")
    return entries


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="?", default=str(REPO / "models"), help="folder holding index.json")
    args = ap.parse_args(argv)
    for entry in update_levels(Path(args.models)):
        print(f"{entry['id']:16s} {entry['output_level_db']:7.2f} dB")


if __name__ == "__main__":
    main()
