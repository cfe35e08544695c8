"""What the GMVAE's file carries beside its graphs (docs/gmvae.md): the mixture priors, the
timbre map (a PCA of the training notes' z_timbre means) and the brightness dimension
(the timbre dimension that moves the decoded spectral centroid most consistently, the
analysis the paper announces in its §4.5).

Brightness analysis: for every instrument, z_pitch = the pitch component of the
instrument's middle trained note, z_timbre = its component mean with one dimension d set
to each of 9 values over the components' span +- 2 sigma; each patch is decoded, turned into
STFT magnitudes (``timbrel.mel.magnitudes``) and its magnitude-weighted centroid taken
over frames 10-42 (after the attack). Per dimension: the mean over instruments of the
Pearson r between the value and the centroid (a dimension must brighten every instrument
the same way) and the mean slope in Hz per unit. The dimension with the largest |mean r|
wins; low < high always, and the signs of r and hz_per_unit say which way is brighter.
"""

from __future__ import annotations

import math
from typing import Dict

import numpy as np
import torch

from timbrel import mel
from timbrel.data.instruments import NOTE_INSTRUMENTS

BRIGHTNESS_STEPS = 9
LEVEL_TARGET_DB = -20.0   # RMS of a component's note: the Voice panel's level target
MAX_GAIN_DB = 40.0
MAP_POINTS_MAX = 4000


@torch.no_grad()
def timbre_means_of(model, x: torch.Tensor) -> np.ndarray:
    return torch.cat([model.encode(x[s:s + 256])[2] for s in range(0, len(x), 256)]).numpy()


def pca_map(z: np.ndarray, component_means: np.ndarray) -> Dict:
    center = z.mean(0)
    _, _, vt = np.linalg.svd(z - center, full_matrices=False)
    axes = vt[:2]
    # Orient each axis so that the first component's mean has a positive coordinate (stable).
    for i in range(2):
        if axes[i] @ (component_means[0] - center) < 0:
            axes[i] = -axes[i]
    off = component_means - center
    residuals = off - (off @ axes.T) @ axes
    return {"center": center, "axes": axes, "residuals": residuals}


@torch.no_grad()
def centroid_hz(model, z_p: np.ndarray, z_t: np.ndarray, db_min: float, db_max: float,
                bank: np.ndarray) -> np.ndarray:
    patches = model.decode(torch.from_numpy(z_p).float(), torch.from_numpy(z_t).float()).numpy()
    freqs = np.arange(mel.BINS) * mel.SAMPLE_RATE / mel.WINDOW
    out = []
    for patch in patches:
        mag = mel.magnitudes(patch[10:], db_min, db_max, bank)
        out.append(float((mag * freqs).sum() / max(mag.sum(), 1e-12)))
    return np.array(out)


def brightness_analysis(model, pitches, ranges, db_min: float, db_max: float) -> Dict:
    bank = mel.filterbank()
    means_t = model.timbre_means.detach().numpy()
    means_p = model.pitch_means.detach().numpy()
    sigma = math.exp(model.timbre_log_sigma)
    per_dim = []
    for d in range(means_t.shape[1]):
        lo, hi = means_t[:, d].min() - 2 * sigma, means_t[:, d].max() + 2 * sigma
        values = np.linspace(lo, hi, BRIGHTNESS_STEPS)
        rs, slopes = [], []
        for k, (low, high) in enumerate(ranges):
            mid = (low + high) // 2
            z_p = np.repeat(means_p[pitches.index(mid)][None], BRIGHTNESS_STEPS, 0)
            z_t = np.repeat(means_t[k][None], BRIGHTNESS_STEPS, 0)
            z_t[:, d] = values
            c = centroid_hz(model, z_p, z_t, db_min, db_max, bank)
            rs.append(float(np.corrcoef(values, c)[0, 1]) if c.std() > 0 else 0.0)
            slopes.append(float(np.polyfit(values, c, 1)[0]))
        per_dim.append({"dim": d, "r": float(np.mean(rs)), "hz_per_unit": float(np.mean(slopes)),
                        "low": float(lo), "high": float(hi)})
    best = max(per_dim, key=lambda e: abs(e["r"]))  # r and the slope keep their sign
    return {"best": best, "per_dim": per_dim}


@torch.no_grad()
def output_gain_db(model, pitches, ranges, db_min: float, db_max: float) -> float:
    """Make-up gain that brings the median RMS (frames 5-40) of each instrument's
    component-mean note at the middle of its range to ``LEVEL_TARGET_DB``: the notes are
    an average over pp, mf and ff, so they sound quieter than the corpus's mf."""
    from timbrel.eval.gmvae_card import griffin_lim
    bank = mel.filterbank()
    levels = []
    for k, (low, high) in enumerate(ranges):
        z_p = model.pitch_means[pitches.index((low + high) // 2)][None]
        patch = model.decode(z_p, model.timbre_means[k][None]).numpy()[0]
        audio = griffin_lim(mel.magnitudes(patch, db_min, db_max, bank), 16)
        held = audio[5 * mel.HOP:40 * mel.HOP]
        levels.append(10 * np.log10(max(float(np.mean(held ** 2)), 1e-20)))
    return float(np.clip(LEVEL_TARGET_DB - np.median(levels), -MAX_GAIN_DB, MAX_GAIN_DB))


def model_metadata(model, ck: Dict, train_set) -> Dict:
    pitches = [int(p) for p in ck["pitches"]]
    db_min, db_max = float(ck["db_min"]), float(ck["db_max"])
    ranges = []
    for k in range(len(NOTE_INSTRUMENTS)):
        p = train_set.pitch[train_set.instrument == k]
        ranges.append([int(p.min()), int(p.max())])
    x = torch.from_numpy(mel.scale(train_set.db, db_min, db_max).astype(np.float32))
    z_t = timbre_means_of(model, x)
    means_t = model.timbre_means.detach().numpy()
    m = pca_map(z_t, means_t)
    xy = (z_t - m["center"]) @ m["axes"].T
    rng = np.random.default_rng(0)
    keep = np.sort(rng.permutation(len(xy))[:MAP_POINTS_MAX])
    points = [[round(float(xy[i, 0]), 4), round(float(xy[i, 1]), 4), int(train_set.instrument[i]),
               int(train_set.pitch[i])] for i in keep]
    bright = brightness_analysis(model, pitches, ranges, db_min, db_max)["best"]
    r4 = lambda a: [round(float(v), 6) for v in a]
    return {
        "sample_rate": mel.SAMPLE_RATE, "window": mel.WINDOW, "hop": mel.HOP, "frames": mel.FRAMES,
        "mel_bins": mel.MEL_BINS, "fmin": mel.FMIN, "fmax": mel.FMAX,
        "db_min": db_min, "db_max": db_max, "latent": int(means_t.shape[1]),
        "output_gain_db": round(output_gain_db(model, pitches, ranges, db_min, db_max), 2),
        "pitches": pitches, "instruments": list(NOTE_INSTRUMENTS), "instrument_ranges": ranges,
        "pitch_means": [r4(v) for v in model.pitch_means.detach().numpy()],
        "pitch_sigma": math.exp(model.pitch_log_sigma),
        "timbre_means": [r4(v) for v in means_t],
        "timbre_sigma": math.exp(model.timbre_log_sigma),
        "timbre_prior": ck["prior"],
        "map": {"center": r4(m["center"]), "axes": [r4(a) for a in m["axes"]], "points": points,
                "residuals": [r4(v) for v in m["residuals"]]},
        "brightness": {"dim": int(bright["dim"]), "r": round(bright["r"], 4),
                       "low": round(bright["low"], 4), "high": round(bright["high"], 4),
                       "hz_per_unit": round(bright["hz_per_unit"], 2)},
    }
