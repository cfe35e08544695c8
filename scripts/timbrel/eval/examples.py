"""One short audio example per timbre model: the same sung phrase through each.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.examples [--data /work/data/full]
        [--item syllables_01_da_rise_fall] [--seconds 4] [--models models]

The phrase is a voice-like input of the corpus (`timbrel.data`: espeak-ng syllables
with a pitch glide; no recorded singing is installable here). Each model in
models/index.json of family vq_timbre renders it with the core's `timbrel transfer`
in pitch-following mode, at the octave the page suggests (timbrel.eval.transfer_card's
auto_octaves), with the page's level matching (the model's output_level_db brought to
LEVEL_TARGET_DB, at most +-12 dB, as web/src/voice/voice-panel.js does). Writes
models/examples/<item>.wav (the input), models/<id>/example.wav (16-bit, 22050 Hz) and
an `example` entry per model in index.json, which the Voice panel plays beside the card.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from timbrel.eval import core
from timbrel.eval.transfer_card import SAMPLE_RATE, auto_octaves, transfer

LEVEL_TARGET_DB = -20.0  # web/src/voice/voice-panel.js LEVEL_TARGET_DB
LEVEL_RANGE_DB = 12.0
DEFAULT_ITEM = "syllables_01_da_rise_fall"


def load_item(data: Path, item: str, seconds: float) -> np.ndarray:
    from timbrel.data.corpus import load_audio, read_manifest
    rows = [r for r in read_manifest(data, "voice") if r["item"] == item]
    if not rows:
        names = ", ".join(r["item"] for r in read_manifest(data, "voice")[:8])
        raise SystemExit(f"no voice item {item!r} in {data} (some: {names}, ...)")
    x = load_audio(data, rows[0])[: int(seconds * SAMPLE_RATE)]
    fade = int(0.02 * SAMPLE_RATE)
    x = np.array(x, dtype=np.float32)
    x[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return x


def write_wav16(path: Path, x: np.ndarray) -> None:
    from scipy.io import wavfile
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
    wavfile.write(str(path), SAMPLE_RATE, pcm)


def render_examples(models_dir: Path, data: Path, item: str, seconds: float, log=print) -> list:
    index_path = models_dir / "index.json"
    entries = json.loads(index_path.read_text())
    x = load_item(data, item, seconds)
    write_wav16(models_dir / "examples" / f"{item}.wav", x)
    a_in = core.analyse(x)
    made = []
    for entry in entries:
        path = models_dir / entry["file"]
        from timbrel.tmbl import read_tmbl
        meta = read_tmbl(path).metadata
        octaves = auto_octaves(a_in["f0_hz"], a_in["voiced"], meta.get("f0_range_hz"))
        y, _ = transfer(path, x, "pitch", octaves)
        level = entry.get("output_level_db")
        gain_db = 0.0 if level is None else float(np.clip(LEVEL_TARGET_DB - level,
                                                          -LEVEL_RANGE_DB, LEVEL_RANGE_DB))
        y = y * 10.0 ** (gain_db / 20.0)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 0.98:  # an example is never clipped
            y *= 0.98 / peak
        out = path.parent / "example.wav"
        write_wav16(out, y)
        entry["example"] = out.relative_to(models_dir).as_posix()
        entry["example_input"] = f"examples/{item}.wav"
        entry["example_octaves"] = octaves
        rms = float(np.sqrt(np.mean(y * y))) if y.size else 0.0
        log(f"{entry['id']:>16}: octaves {octaves:+d}, gain {gain_db:+.1f} dB, "
            f"rms {20 * np.log10(max(rms, 1e-9)):.1f} dBFS -> {out}")
        made.append(entry["id"])
    index_path.write_text(json.dumps(entries, indent=1) + "\n")
    return made


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/full"))
    ap.add_argument("--item", default=DEFAULT_ITEM)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--models", type=Path, default=core.REPO / "models")
    args = ap.parse_args(argv)
    render_examples(args.models, args.data, args.item, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
