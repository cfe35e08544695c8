"""An untrained GMVAE note model with the full metadata of docs/gmvae.md, for the Notes
panel's browser test when no trained model (models/gmvae/gmvae.tmbl) is there yet: the
contract's sizes (43 frames x 256 mel bands, latent 16, the twelve instruments, MIDI 21-108)
with small layers and random weights, the timbre map a PCA of notes drawn around the
instrument components, and a made-up brightness entry. It plays noise-like notes: the
tests that need a trained model (pitch, the classifier's verdict) skip with it.

    PYTHONPATH=scripts /usr/bin/python3 tests/web/notes_fixture.py OUT_DIR   # -> OUT_DIR/gmvae.tmbl
"""

import math
import sys
from pathlib import Path

import numpy as np
import torch

from timbrel.data.instruments import NOTE_INSTRUMENTS
from timbrel.eval.gmvae_analysis import pca_map
from timbrel.export import export_model
from timbrel.models.gmvae import GMVAE

# Lowest and highest MIDI note per instrument (General MIDI ranges, roughly).
RANGES = {"piano": [21, 108], "violin": [55, 100], "cello": [36, 76], "english_horn": [52, 81],
          "french_horn": [34, 77], "trombone": [40, 72], "trumpet": [54, 86], "alto_sax": [49, 81],
          "bassoon": [34, 72], "clarinet": [50, 91], "flute": [60, 96], "oboe": [58, 91]}


def main(out: Path) -> None:
    torch.manual_seed(7)
    pitches = list(range(21, 109))
    model = GMVAE(mel=256, frames=43, channels=16, dense=32, latent=16, pitches=len(pitches),
                  instruments=len(NOTE_INSTRUMENTS), seed=8).eval()
    with torch.no_grad():  # spread the components so the map shows clusters
        model.timbre_means.mul_(6.0)
        model.pitch_means.mul_(3.0)
    means_t = model.timbre_means.detach().numpy().astype(np.float64)
    means_p = model.pitch_means.detach().numpy().astype(np.float64)
    rng = np.random.default_rng(7)
    ranges = [RANGES[name] for name in NOTE_INSTRUMENTS]
    z, labels, midis = [], [], []
    for k, (lo, hi) in enumerate(ranges):
        for midi in range(lo, hi + 1, 3):
            z.append(means_t[k] + 0.35 * rng.standard_normal(16))
            labels.append(k)
            midis.append(midi)
    z = np.array(z)
    m = pca_map(z, means_t)
    xy = (z - m["center"]) @ m["axes"].T
    r6 = lambda a: [round(float(v), 6) for v in a]
    meta = {
        "sample_rate": 22050, "window": 2048, "hop": 256, "frames": 43, "mel_bins": 256,
        "fmin": 20.0, "fmax": 11025.0, "db_min": -100.0, "db_max": 0.0, "latent": 16,
        "pitches": pitches, "instruments": list(NOTE_INSTRUMENTS), "instrument_ranges": ranges,
        "pitch_means": [r6(v) for v in means_p], "pitch_sigma": math.exp(-2.0),
        "timbre_means": [r6(v) for v in means_t], "timbre_sigma": 1.0, "timbre_prior": "mixture",
        "map": {"center": r6(m["center"]), "axes": [r6(a) for a in m["axes"]],
                "points": [[round(float(a), 4), round(float(b), 4), int(k), int(p)]
                           for (a, b), k, p in zip(xy, labels, midis)],
                "residuals": [r6(v) for v in m["residuals"]]},
        "brightness": {"dim": 3, "r": 0.5, "low": -3.0, "high": 3.0, "hz_per_unit": 100.0},
    }
    export_model(model.graphs(), "gmvae", "gmvae", meta, out, onnx_graphs=[], step_graphs=[])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
