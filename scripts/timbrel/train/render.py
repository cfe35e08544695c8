"""Offline render of an exported VQ timbre model in PyTorch (the contract's reference path).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.train.render INPUT.wav --model models/violin/violin.tmbl
        [--octaves N | --auto-octave] [--noise-mode] [--seed 0x9E3779B9] [--gain-db 0] -o OUT.wav

Loads the ``.tmbl`` back into ``VQTimbre`` (weights and sizes from the file), resamples the
input to 22050 Hz, tracks its pitch with the reference YIN and renders it exactly as the
contract says (float64 synthesis, xorshift32 noise). Useful for evaluation (a converter for
``timbrel.eval``: ``timbrel.train.render:converter``) and as the reference the core's
``transfer`` command should match. ``--auto-octave`` picks the octave shift that brings the
input's median voiced f0 closest to the middle (geometric) of the model's f0 range.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import lru_cache
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

from timbrel.models.vq_timbre import NOISE_SEED, VQTimbre, hop_count, pitch_track


def auto_octave(pitch: np.ndarray, f0_range_hz) -> int:
    """Integer octave shift moving the median voiced f0 nearest to the range's centre."""
    v = pitch[:, 1] > 0.5
    if not v.any() or not f0_range_hz or min(f0_range_hz) <= 0:
        return 0
    centre = math.sqrt(f0_range_hz[0] * f0_range_hz[1])
    return int(round(math.log2(centre / float(np.median(pitch[v, 0])))))


def render(model: VQTimbre, audio: np.ndarray, octaves: Optional[int] = 0, noise_mode: bool = False,
           seed: int = NOISE_SEED) -> np.ndarray:
    """octaves None: auto_octave against the model's metadata."""
    pitch = pitch_track(audio, hop_count(len(audio)))
    if octaves is None:
        octaves = auto_octave(pitch, getattr(model, "tmbl_metadata", {}).get("f0_range_hz"))
    return model.render(audio, pitch, octaves=octaves, noise_mode=noise_mode, seed=seed)


@lru_cache(maxsize=16)
def _load(path: str) -> VQTimbre:
    return VQTimbre.from_tmbl(path)


def converter(audio: np.ndarray, target: str) -> np.ndarray:
    """timbrel.eval converter: models/<target>/<target>.tmbl, pitch-following, auto octave."""
    return render(_load(str(Path("models") / target / f"{target}.tmbl")), audio, octaves=None)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("--model", required=True, help="a vq_timbre .tmbl file")
    ap.add_argument("-o", "--output", required=True)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--octaves", type=int, default=0)
    g.add_argument("--auto-octave", action="store_true")
    ap.add_argument("--noise-mode", action="store_true", help="the paper's mode: no f0 input")
    ap.add_argument("--seed", type=lambda s: int(s, 0), default=NOISE_SEED)
    ap.add_argument("--gain-db", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from timbrel.data.audio import write_wav
    from timbrel.train.data import read_audio
    model = VQTimbre.from_tmbl(a.model)
    x = read_audio(a.input)
    y = render(model, x, None if a.auto_octave else a.octaves, a.noise_mode, a.seed)
    y = y * 10 ** (a.gain_db / 20)
    peak = float(np.abs(y).max()) if len(y) else 0.0
    write_wav(a.output, np.clip(y, -1.0, 1.0))
    print(f"{a.output}: {len(y) / 22050:.2f} s, peak {peak:.3f}"
          + (" (clipped)" if peak > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
