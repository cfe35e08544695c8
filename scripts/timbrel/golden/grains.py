"""Golden files for the core's ``grains`` engine (docs/grains.md: "Synthesis", the streaming
order, "The grains model file", "Golden files").

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only grains

A tiny seeded random-weight ``NeuralGranular`` (d_z 8, d_e 8, grain decoder H 32 with two
residual blocks, encoder channels 4/8, GRUs 16, 3 classes kick/snare/hat, 64 post-filter
taps, the contract's g = 65 grains) exported by ``timbrel.export.grains`` twice: with the
post-filter (``model_pp.tmbl``) and without (``model_fi.tmbl``; the same weights). Its
metadata statistics come from a seeded synthetic training set (4 one-shots per class,
``timbrel.train.grains_data``'s synthetic hits), computed in float64.

The renders follow the contract step by step (``stream``: per hop, the networks in
PyTorch float32 on the module as trained, i.e. with ``encoder_input_gain`` not folded; the
noise, filter, windows, overlap-add, normalisation and FIR in numpy float64; xorshift32
noise from the file's seed, restarted at every hit or path start):

- a hit: e (``hit_embedding``) and c (``hit_condition``, class kick), g + 3 hops, with and
  without post-processing; ``hit_z`` holds the sequence decoder's z^_t.
- the grain path: a given z sequence (``grain_path_z``: the grain encoder's mu of a
  synthetic snare) and a morph c (``grain_path_condition``), model_pp.
- the grain encoder: four raw windowed grains (onsets of a kick, a snare and a hat with
  window a_0, and a Hann-windowed grain from a snare's tail at -40 dB), its output
  [mu, log-variance] (unclamped) and the nearest onset centroid's class of each (squared
  Euclidean distance; every choice clear by a margin, checked here).
- the path voice: per-hop grain map points (``path_xy``: five points inside the extent, four
  hops each), z = mean + x axes[0] + y axes[1], class hat, periodic Hann on every grain,
  W = 2 throughout, model_pp.

- a pitched model (``model_pitched.tmbl``: the same sizes, c = [one-hot of the 3 classes,
  a pitch code of 4 bumps], docs/grains.md "Pitched models"; its own seeded weights and
  statistics, class pitches from synthetic notes): a hit of class snare at MIDI 67
  (``pitched_condition`` is its c, which the core's GrainsModel::condition() must give) and
  the same at the class's typical pitch (pitch -1).

``timbrel.golden`` writes the manifest (shapes, dtypes, tolerances).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import torch

from timbrel.export.grains import export_grains, grain_statistics
from timbrel.golden import save_npy
from timbrel.models import grains as G
from timbrel.models.vq_timbre import xorshift32
from timbrel.tmbl import read_tmbl

SEED = 20261216
CLASSES = ["kick", "snare", "hat"]
SIZES = dict(latent=8, embedding=8, encoder_channels=(4, 8), encoder_dense=16, hidden=32,
             blocks=2, seq_hidden=16, pp_channels=2, pp_taps=64)
TRAIN_PER_CLASS = 4
PATH_HOPS_PER_POINT = 4
# Per output file: max |got - want| <= rel_to_peak * max |want| + abs (a float32 engine
# against this float64 synthesis around float32 networks); the classes must be equal.
TOLERANCE = {"audio": {"rel_to_peak": 1e-4, "abs": 1e-6},
             "latents": {"rel_to_peak": 1e-4, "abs": 1e-5},
             "encoder": {"rel_to_peak": 1e-4, "abs": 1e-5}}
CENTROID_MARGIN = 1.05  # second-nearest / nearest squared distance, at least
PITCH_CENTRES = (48.0, 60.0, 72.0, 84.0)  # the pitched model's code: 4 bumps
PITCH_WIDTH = 6.0
PITCHED_HIT = (1, 67.0)  # class snare at G4
# the synthetic training notes' pitches per class (kick low, snare mid, hat high)
TRAIN_PITCHES = {0: (40.0, 45.0, 47.0, 52.0), 1: (55.0, 62.0, 64.0, 69.0), 2: (70.0, 74.0, 79.0, 88.0)}


# --- the contract's synthesis, hop by hop ------------------------------------------------------

def window(index: int, grains: Optional[int]) -> np.ndarray:
    """a_i (float64 [2048]): periodic Hann; in a one-shot of ``grains`` grains the first
    grain's first half and the last grain's second half are 1. ``grains`` None: a stream
    without ends (the path voice), every grain Hann."""
    a = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(G.GRAIN) / G.GRAIN)
    if grains is not None:
        if index == 0:
            a[:G.GRAIN // 2] = 1.0
        if index == grains - 1:
            a[G.GRAIN // 2:] = 1.0
    return a


def stream(filters: Callable[[int], Optional[np.ndarray]], hops: int, grains: Optional[int],
           taps, seed: int) -> np.ndarray:
    """One voice, ``hops`` hops of 512 samples, float64 [hops 512]. At hop t,
    ``filters(t)`` gives H_t (1025 magnitudes) or None (no grain: a one-shot's flush hops);
    the grain irfft(H_t rfft(n_t)) with n_t the next 2048 xorshift32 values, times a_t, is
    added into a 2048-sample accumulator at offset 512 t; samples [512 t, 512 t + 512) are
    then complete: divided by W (a one-shot, ``grains`` given: the sum of the windows added
    there; a stream: 2), through the causal FIR ``taps`` (none: as is), out."""
    noise = xorshift32(hops * G.GRAIN, seed).astype(np.float64).reshape(hops, G.GRAIN)
    acc = np.zeros(G.GRAIN)
    weight = np.zeros(G.GRAIN)
    out = np.zeros(hops * G.HOP)
    drawn = 0
    for t in range(hops):
        H = filters(t)
        if H is not None:
            n = noise[drawn]
            drawn += 1
            grain = np.fft.irfft(np.asarray(H, np.float64) * np.fft.rfft(n), G.GRAIN)
            a = window(t, grains)
            acc += a * grain
            weight += a
        W = weight[:G.HOP] if grains is not None else 2.0
        out[t * G.HOP:(t + 1) * G.HOP] = acc[:G.HOP] / W
        acc = np.concatenate([acc[G.HOP:], np.zeros(G.HOP)])
        weight = np.concatenate([weight[G.HOP:], np.zeros(G.HOP)])
    if taps is not None and len(taps):
        out = np.convolve(out, np.asarray(taps, np.float64))[:len(out)]  # y = 0 before 0
    return out


class Networks:
    """The per-hop networks as PyTorch float32 modules: ``sequence_decoder`` stepped from a
    zero state, ``grain_decoder`` on one frame."""

    def __init__(self, sequence_decoder, grain_decoder):
        self.sequence_decoder, self.grain_decoder = sequence_decoder, grain_decoder
        hidden = sequence_decoder.gru().hidden_size
        self.state = torch.zeros(1, 1, hidden)

    @torch.no_grad()
    def step(self, inp: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(inp, np.float32)).reshape(1, 1, -1)
        y, self.state = self.sequence_decoder(x, self.state)
        return y.reshape(-1).numpy()

    @torch.no_grad()
    def filters(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        x = np.concatenate([np.asarray(z, np.float32), np.asarray(c, np.float32)])
        return self.grain_decoder(torch.from_numpy(x).reshape(1, 1, -1)).reshape(-1).numpy()


def render_hit(nets: Networks, e: np.ndarray, c: np.ndarray, grains: int, taps, seed: int):
    """(audio float64 [(g + 3) 512], z^ float32 [g, d_z]): hop t < g steps the sequence
    decoder on [e, c] and decodes [z^_t, c]; hops g .. g + 2 flush."""
    zs = []

    def filters(t):
        if t >= grains:
            return None
        z = nets.step(np.concatenate([e, c]))
        zs.append(z)
        return nets.filters(z, c)

    audio = stream(filters, grains + 3, grains, taps, seed)
    return audio, np.stack(zs)


def render_grain_path(nets: Networks, z: np.ndarray, c: np.ndarray, taps, seed: int) -> np.ndarray:
    g = len(z)
    return stream(lambda t: nets.filters(z[t], c) if t < g else None, g + 3, g, taps, seed)


def render_path(nets: Networks, xy: np.ndarray, mean, axes, c: np.ndarray, taps,
                seed: int) -> np.ndarray:
    mean, axes = np.asarray(mean, np.float64), np.asarray(axes, np.float64)

    def filters(t):
        z = mean + xy[t, 0] * axes[0] + xy[t, 1] * axes[1]
        return nets.filters(z.astype(np.float32), c)

    return stream(filters, len(xy), None, taps, seed)


def nearest_class(mu: np.ndarray, centroids) -> np.ndarray:
    """Per row of mu, the index of the nearest centroid (squared Euclidean; ties to the lowest)."""
    d = ((np.asarray(mu, np.float64)[:, None, :] - np.asarray(centroids, np.float64)[None]) ** 2).sum(-1)
    return np.argmin(d, axis=1).astype(np.int32), d


# --- the model and its inputs --------------------------------------------------------------------

def build_model(seed: int = SEED, **pitched) -> G.NeuralGranular:
    """The seeded tiny model; the grain decoder's last layer and the post-filter are redrawn
    larger than at a training start so that z, c and the FIR all shape the output."""
    torch.manual_seed(seed)
    model = G.NeuralGranular(classes=len(CLASSES), **SIZES, **pitched).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        last = model.grain_decoder[-2]
        last.weight.copy_(torch.randn(last.weight.shape, generator=gen) * (0.6 / math.sqrt(SIZES["hidden"])))
        last.bias.copy_(math.log(math.expm1(0.08)) + 0.4 * torch.randn(last.bias.shape, generator=gen))
        taps = torch.zeros(SIZES["pp_taps"])
        taps[0], taps[1], taps[3] = 0.6, 0.25, -0.15
        taps += 0.05 * torch.randn(SIZES["pp_taps"], generator=gen) * torch.exp(-torch.arange(64.0) / 12)
        spread = 0.02 * torch.randn(SIZES["pp_taps"], generator=gen)
        model.post_filter.fir.copy_(torch.stack([taps + spread, taps - spread]))
        model.post_filter.mix.copy_(torch.tensor([0.5, 0.5]))
    return model


def without_post_filter(model: G.NeuralGranular) -> G.NeuralGranular:
    fi = copy.deepcopy(model)
    fi.post_processing = False
    fi.post_filter = None
    return fi


def training_set(rng: np.random.Generator):
    from timbrel.train.grains_data import _synthetic_hit
    audio = [_synthetic_hit(c, rng) for c in CLASSES for _ in range(TRAIN_PER_CLASS)]
    labels = np.repeat(np.arange(len(CLASSES)), TRAIN_PER_CLASS)
    return np.stack(audio).astype(np.float32), labels


def one_hot(k: int) -> np.ndarray:
    c = np.zeros(len(CLASSES), np.float32)
    c[k] = 1.0
    return c


def _check_level(name: str, audio: np.ndarray) -> None:
    # the engine's output guard limits at 1: the references must stay clear of it
    peak = float(np.abs(audio).max())
    if not 0.01 < peak < 0.9:
        raise AssertionError(f"{name}: peak {peak:.3f}, outside (0.01, 0.9)")


def generate(out: Path) -> Dict:
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    model = build_model()
    fi = without_post_filter(model)
    audio, labels = training_set(rng)
    stats = grain_statistics(model, audio, labels, dtype=torch.float64, audible_db=None)  # every grain: how these files were made
    training = {"golden": "timbrel.golden.grains", "seed": SEED,
                "about": "random weights; statistics of 4 synthetic one-shots per class"}
    export_grains(model, CLASSES, out, "model_pp", stats, training)
    export_grains(fi, CLASSES, out, "model_fi", stats, training)
    meta = read_tmbl(out / "model_pp.tmbl").metadata  # the stored (rounded) numbers
    taps, seed, g = meta["post_filter"], meta["noise"]["seed"], meta["grains"]

    # (a) one hit
    e = rng.standard_normal(SIZES["embedding"]).astype(np.float32)
    c = one_hot(0)
    hit_pp, z_hat = render_hit(Networks(model.sequence_decoder, model.grain_decoder), e, c, g, taps, seed)
    hit_fi, _ = render_hit(Networks(fi.sequence_decoder, fi.grain_decoder), e, c, g, None, seed)

    # (b) the grain path: the mu of a fresh synthetic snare, a morph snare -> hat
    from timbrel.train.grains_data import _synthetic_hit
    snare = _synthetic_hit("snare", rng)
    with torch.no_grad():
        z_path = model.encode_grains(torch.from_numpy(snare)[None])[0][0].numpy().astype(np.float32)
    c_morph = (0.75 * one_hot(1) + 0.25 * one_hot(2)).astype(np.float32)
    nets = Networks(model.sequence_decoder, model.grain_decoder)
    grain_path = render_grain_path(nets, z_path, c_morph, taps, seed)

    # (c) the grain encoder on raw windowed grains
    onsets = [_synthetic_hit(k, rng)[:G.GRAIN] * window(0, g) for k in CLASSES]
    tail = _synthetic_hit("snare", rng)
    tail = tail[8 * G.HOP:8 * G.HOP + G.GRAIN] * window(8, g)
    tail *= 0.01 / max(1e-9, np.abs(tail).max())
    grains_in = np.stack(onsets + [tail]).astype(np.float32)
    with torch.no_grad():
        x = torch.from_numpy(grains_in).reshape(len(grains_in), G.GRAIN, 1) * model.encoder_input_gain
        enc = model.grain_encoder(x).reshape(len(grains_in), -1).numpy()
    nearest, d = nearest_class(enc[:, :SIZES["latent"]], meta["onset_centroids"])
    sorted_d = np.sort(d, axis=1)
    if not np.all(sorted_d[:, 1] > CENTROID_MARGIN * sorted_d[:, 0]):
        raise AssertionError(f"nearest onset centroids too close to call: {sorted_d[:, :2]}")

    # (d) the path voice
    x0, x1, y0, y1 = meta["grain_map"]["extent"]
    points = [(0.0, 0.0), (0.8 * x0, 0.8 * y1), (0.8 * x1, 0.8 * y0), (0.5 * x1, 0.9 * y1),
              tuple(meta["grain_map"]["class_points"][2])]
    xy = np.repeat(np.array(points, np.float32), PATH_HOPS_PER_POINT, axis=0)
    c_path = one_hot(2)
    path = render_path(nets, xy, meta["grain_map"]["mean"], meta["grain_map"]["axes"], c_path,
                       taps, seed)

    # (e) the pitched model: its own seeds, after every draw above (the files above stay as they were)
    pitched = build_model(SEED + 7, pitch_centres=PITCH_CENTRES, pitch_width=PITCH_WIDTH)
    pitches = np.concatenate([TRAIN_PITCHES[k] for k in range(len(CLASSES))])
    p_stats = grain_statistics(pitched, audio, labels, dtype=torch.float64, audible_db=None,
                               pitches=pitches)
    export_grains(pitched, CLASSES, out, "model_pitched", p_stats, training)
    p_meta = read_tmbl(out / "model_pitched.tmbl").metadata
    k, midi = PITCHED_HIT
    c_pitched = pitched.condition([k], [midi])[0]
    typical = p_meta["class_pitches"][k][1]
    c_typical = pitched.condition([k], [typical])[0]
    e_pitched = np.random.default_rng(SEED + 8).standard_normal(SIZES["embedding"]).astype(np.float32)
    p_nets = lambda: Networks(pitched.sequence_decoder, pitched.grain_decoder)  # noqa: E731
    hit_pitched, _ = render_hit(p_nets(), e_pitched, c_pitched, g, p_meta["post_filter"], seed)
    hit_typical, _ = render_hit(p_nets(), e_pitched, c_typical, g, p_meta["post_filter"], seed)
    if np.allclose(hit_pitched, hit_typical, atol=1e-4):
        raise AssertionError("the pitch code does not change the pitched golden hit")

    for name, a in (("hit_pp", hit_pp), ("hit_fi", hit_fi), ("grain_path_pp", grain_path),
                    ("path_pp", path), ("pitched_hit", hit_pitched),
                    ("pitched_hit_typical", hit_typical)):
        _check_level(name, a)
    arrays = {"hit_embedding": e, "hit_condition": c, "hit_z": z_hat, "hit_pp": hit_pp,
              "hit_fi": hit_fi, "grain_path_z": z_path, "grain_path_condition": c_morph,
              "grain_path_pp": grain_path, "encoder_grains": grains_in, "encoder_output": enc,
              "path_xy": xy, "path_condition": c_path, "path_pp": path,
              "pitched_embedding": e_pitched, "pitched_condition": c_pitched,
              "pitched_hit": hit_pitched, "pitched_hit_typical": hit_typical}
    for name, a in arrays.items():
        save_npy(out / f"{name}.npy", a, "f4")
    save_npy(out / "encoder_nearest_class.npy", nearest, "i4")
    L = G.samples_for(g)
    return {
        "contract": "docs/grains.md",
        "torch_version": torch.__version__.split("+")[0],
        "tolerances": TOLERANCE,
        "sizes": dict(SIZES, encoder_channels=list(SIZES["encoder_channels"]), classes=CLASSES,
                      grains=g, samples=L, post_filter_taps=len(taps)),
        "noise_seed": seed,
        "path_hops_per_point": PATH_HOPS_PER_POINT,
        "pitched": {"centres": list(PITCH_CENTRES), "width": PITCH_WIDTH, "class": k,
                    "pitch": midi, "typical_pitch": typical},
        "files": {
            "model_pp.tmbl": "family grains, post_processing true (64 taps), classes kick/snare/hat",
            "model_fi.tmbl": "the same weights and statistics, post_processing false",
            "hit_embedding.npy": "float32 [8] e of the hit",
            "hit_condition.npy": "float32 [3] c of the hit: one-hot kick",
            "hit_z.npy": "float32 [65, 8] the sequence decoder's z^_t of the hit (debugging)",
            "hit_pp.npy": f"float32 [{L}] the hit from model_pp: g + 3 hops, streaming order",
            "hit_fi.npy": f"float32 [{L}] the hit from model_fi (no post-filter)",
            "grain_path_z.npy": "float32 [65, 8] z_t given to the grain decoder",
            "grain_path_condition.npy": "float32 [3] c: 0.75 snare + 0.25 hat",
            "grain_path_pp.npy": f"float32 [{L}] model_pp decoding grain_path_z: g + 3 hops",
            "encoder_grains.npy": "float32 [4, 2048] raw windowed grains (kick, snare, hat "
                                  "onsets with a_0; a snare tail grain, Hann, peak 0.01)",
            "encoder_output.npy": "float32 [4, 16] grain_encoder: mu (8), log-variance (8) unclamped",
            "encoder_nearest_class.npy": "int32 [4] nearest onset centroid of each mu",
            "path_xy.npy": f"float32 [{len(xy)}, 2] grain map point per hop",
            "path_condition.npy": "float32 [3] c of the path: one-hot hat",
            "path_pp.npy": f"float32 [{len(xy) * G.HOP}] the path voice from model_pp, W = 2",
            "model_pitched.tmbl": "family grains, pitched: c = [one-hot of 3 classes, 4-bump "
                                  "pitch code]; post_processing true",
            "pitched_embedding.npy": "float32 [8] e of the pitched hits",
            "pitched_condition.npy": "float32 [7] c of class snare at MIDI 67",
            "pitched_hit.npy": f"float32 [{L}] model_pitched: snare at MIDI 67",
            "pitched_hit_typical.npy": f"float32 [{L}] model_pitched: snare at its typical pitch "
                                       "(the hit's pitch -1)",
        },
    }
