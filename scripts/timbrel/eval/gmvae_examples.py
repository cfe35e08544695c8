"""Example notes for the Notes panel's transfer step: recordings the GMVAE never heard.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.gmvae_examples --data $TIMBREL_DATA/full

Takes a few mf notes of the held-out font (TimGM6mb: no model or classifier trained on it),
the first ``SECONDS`` of each (the note starts at sample 0, a 50 ms fade at the end), and
writes ``models/gmvae/examples/<instrument>_<note>.wav`` (16-bit, 22050 Hz) with
``index.json``: ``[{file, instrument, midi, source}]``, which the page lists as recorded
examples.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from timbrel.data.audio import write_wav
from timbrel.data.corpus import heldout_rows, load_audio
from timbrel.data.instruments import pitch_name

SECONDS = 1.2
EXAMPLES = (("flute", 72), ("violin", 69), ("trumpet", 67), ("cello", 48), ("clarinet", 62),
            ("piano", 60), ("oboe", 69), ("bassoon", 46))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/full")
    p.add_argument("--out", default="models/gmvae/examples")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = heldout_rows(args.data, "notes", source="timgm6mb")
    index = []
    for instrument, midi in EXAMPLES:
        match = [r for r in rows if r["instrument"] == instrument and int(r["midi_pitch"]) == midi
                 and r["dynamics"] == "mf"]
        if not match:
            raise SystemExit(f"no held-out mf {instrument} {pitch_name(midi)} under {args.data}")
        x = np.array(load_audio(args.data, match[0])[:int(SECONDS * 22050)], dtype=np.float32)
        fade = int(0.05 * 22050)
        x[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        name = f"{instrument}_{pitch_name(midi).replace('#', 's')}.wav"
        write_wav(out / name, x)
        index.append({"file": name, "instrument": instrument, "midi": midi, "source": "timgm6mb"})
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"wrote {len(index)} examples to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
