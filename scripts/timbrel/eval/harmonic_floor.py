"""The harmonic comb's floor, measured (the trade quoted in ``timbrel.mel``):

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.harmonic_floor [FLOOR ...]

For each floor: the shipped GMVAE's component-mean notes (every 6th pitch of each
instrument's trained range) are laid on their harmonics, rendered (Griffin-Lim, 16
iterations), and measured twice: the share whose YIN f0 is within 20 cents of the pitch,
and the share in which the network, encoding the render at the level of the plain render,
hears the intended instrument.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from timbrel import mel
from timbrel.eval.gmvae_card import griffin_lim, median_f0
from timbrel.models.gmvae import GMVAE
from timbrel.tmbl import read_tmbl

MODEL = "models/gmvae/gmvae.tmbl"


def measure(floor: float) -> tuple[float, float, int]:
    model = GMVAE.from_tmbl(MODEL)
    meta = read_tmbl(MODEL).metadata
    lo, hi = meta["db_min"], meta["db_max"]
    means_t, means_p = torch.tensor(meta["timbre_means"]), torch.tensor(meta["pitch_means"])
    bank = mel.filterbank()
    saved, mel.HARMONIC_FLOOR = mel.HARMONIC_FLOOR, floor
    pitched, heard, n = 0, 0, 0
    try:
        for k, (low, high) in enumerate(meta["instrument_ranges"]):
            for p in range(low, high + 1, 6):
                with torch.no_grad():
                    patch = model.decode(means_p[meta["pitches"].index(p)][None], means_t[k][None]).numpy()[0]
                hz = 440.0 * 2 ** ((p - 69) / 12)
                y = griffin_lim(mel.harmonic_magnitudes(patch, lo, hi, hz, bank), 16)
                f = median_f0(y, hz)
                pitched += bool(np.isfinite(f) and abs(1200 * np.log2(f / hz)) < 20)
                plain = griffin_lim(mel.magnitudes(patch, lo, hi, bank), 16)
                y = y * np.sqrt(np.mean(plain ** 2) / max(np.mean(y ** 2), 1e-20))
                x = torch.from_numpy(mel.scale(mel.mel_db(y), lo, hi).astype(np.float32))[None]
                with torch.no_grad():
                    mu_t = model.encode(x)[2][0]
                heard += int(((mu_t[None] - means_t) ** 2).sum(-1).argmin()) == k
                n += 1
    finally:
        mel.HARMONIC_FLOOR = saved
    return pitched / n, heard / n, n


def main(argv=None) -> int:
    torch.set_num_threads(1)
    floors = [float(a) for a in (argv if argv is not None else sys.argv[1:])] or [0.002, 0.05, 0.1]
    for floor in floors:
        pitch, heard, n = measure(floor)
        print(f"floor {floor:g}: within 20 cents {pitch:.0%}, instrument heard {heard:.0%} ({n} notes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
