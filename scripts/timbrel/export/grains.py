"""Export of the neural granular model (``timbrel.models.grains.NeuralGranular``) to a
``grains`` family ``.tmbl`` (docs/grains.md "The grains model file").

    stats = grain_statistics(model, audio, labels)          # the training split
    export_grains(model, class_names, out_dir, name, stats, training={...})

writes ``<out_dir>/<name>.tmbl`` with the five graphs and the metadata the core's engine
reads. Two things differ from the module in memory:

- ``encoder_input_gain`` is folded into ``grain_encoder.0.weight`` (the grains are scaled
  before a convolution with zero padding, so W (g x) + b = (g W) x + b): the core's encoder
  reads the raw windowed grains. The metadata keeps the gain's value for the record and
  says ``encoder_gain_folded: true``; the core must not apply it again.
- The metadata holds what the engine needs from the training data (``grain_statistics``):
  the grain map (the plane of the first two principal axes of the training grains' mu_z),
  per class the mean mu_z of grain 0 (onset centroids, for the beat-box) and the mean mu_e
  (class embeddings, a default hit per class).

The family's contract is held by ``timbrel.tmbl.check_grains`` when the file is written and
read back.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np
import torch

from timbrel.models.grains import GRAIN, HOP, NeuralGranular
from timbrel.models.layers import SequenceGraph

from . import export_model

MAP_SHARE = 0.99        # the grain map's extent holds this share of the training grains
TARGET_PEAK_DB = -6.0   # output_gain_db brings the typical hits' median peak here
AUDIBLE_DB = 30.0       # the map is made of grains within this of their one-shot's loudest
DIGITS = 7              # significant digits of the metadata's numbers (float32 holds ~7)


def _round(values) -> Any:
    """Nested lists of numbers rounded to DIGITS significant digits (JSON stays short and the
    file independent of the last bits of the arithmetic that made them)."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 0:
        return float(f"{float(a):.{DIGITS}g}")
    return [_round(v) for v in a]


def json_safe(value) -> Any:
    """A free JSON object with NaN and infinities as null (the header is strict JSON; a log
    row holds NaN for the evaluations an epoch skipped)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def export_graphs(model: NeuralGranular) -> Dict[str, SequenceGraph]:
    """The model's five graphs as the file holds them: the grain encoder a copy with
    ``encoder_input_gain`` folded into its first convolution's weight."""
    graphs = dict(model.graphs())
    encoder = copy.deepcopy(model.grain_encoder)
    first = encoder[0]
    if not isinstance(first, torch.nn.Conv1d) or first.padding_mode != "zeros":
        raise ValueError("grain_encoder must start with a zero-padded Conv1d to fold the input gain")
    with torch.no_grad():
        first.weight.mul_(float(model.encoder_input_gain))
    graphs["grain_encoder"] = encoder
    return graphs


def _principal_plane(z: np.ndarray):
    """(mean, axes [2, d]): the first two principal axes of the rows of z, each oriented so
    that its largest-magnitude entry is positive (a deterministic sign)."""
    mean = z.mean(0)
    _, _, vt = np.linalg.svd(z - mean, full_matrices=False)
    if vt.shape[0] < 2:
        raise ValueError("the grain map needs at least two latent dimensions and two grains")
    axes = vt[:2].copy()
    for i in range(2):
        if axes[i][np.argmax(np.abs(axes[i]))] < 0:
            axes[i] = -axes[i]
    return mean, axes


def _extent(xy: np.ndarray, share: float = MAP_SHARE):
    """[x0, x1, y0, y1]: the box of per-axis quantiles [p, 1 - p] with the largest p for which
    it still holds ``share`` of the points (bisection; at p = 0 it holds them all)."""
    def box(p):
        lo, hi = np.quantile(xy, p, axis=0), np.quantile(xy, 1.0 - p, axis=0)
        return lo, hi

    def inside(p):
        lo, hi = box(p)
        return float(np.mean(np.all((xy >= lo) & (xy <= hi), axis=1)))

    good, bad = 0.0, (1.0 - share) / 2 + 1e-12  # each axis alone drops 2p: p <= (1 - share) / 2
    if inside(bad) >= share:
        good = bad
    else:
        for _ in range(50):
            mid = 0.5 * (good + bad)
            if inside(mid) >= share:
                good = mid
            else:
                bad = mid
    lo, hi = box(good)
    out = []
    for a, b in zip(lo, hi):
        if b - a < 1e-4:  # a degenerate axis (every grain at one value) gets a small width
            a, b = 0.5 * (a + b) - 5e-5, 0.5 * (a + b) + 5e-5
        # outwards by 1e-5 of the width: the grains on the edges stay inside after the
        # metadata's rounding (mean, axes and extent to 7 digits)
        margin = 1e-5 * (b - a)
        out += [float(a - margin), float(b + margin)]
    return [out[0], out[1], out[2], out[3]], inside(good)


def audible_grains(audio: np.ndarray, below_peak_db: float, floor_db: float = -70.0) -> np.ndarray:
    """[N, g] mask of the grains whose RMS (over their 2048 samples) is within
    ``below_peak_db`` of their one-shot's loudest grain and above ``floor_db`` dBFS.
    Drum one-shots are mostly decayed tail: over all grains, the map's plane and its class
    points sit among near-silent grains, and a path drawn there is heard as silence."""
    n, length = audio.shape
    g = (length - GRAIN) // HOP + 1
    frames = np.lib.stride_tricks.sliding_window_view(audio, GRAIN, axis=1)[:, ::HOP][:, :g]
    db = 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=-1) + 1e-20)
    return (db >= db.max(axis=1, keepdims=True) - below_peak_db) & (db >= floor_db)


@torch.no_grad()
def grain_statistics(model: NeuralGranular, audio: np.ndarray, labels: np.ndarray,
                     batch: int = 8, dtype: torch.dtype = torch.float32,
                     scale: float = 1.0, audible_db: Optional[float] = AUDIBLE_DB,
                     pitches: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """What the file needs from the training split: ``audio`` [N, L] one-shots (times
    ``scale``: 1 / 32768 for the corpus's int16), ``labels`` [N] class indices. The grain
    map (plane, extent, class points) is made of the audible grains (``audible_grains``
    with ``audible_db``; None: every grain; a class without one keeps all its grains). Posterior
    means throughout (mu_z of every grain, mu_e of every one-shot). ``dtype`` float64 makes
    the numbers independent of the CPU's float32 summation order (the golden files). Returns
    {"grain_map", "onset_centroids", "class_embeddings", "counts"} (counts: one-shots and
    grains used, the share inside the extent, one-shots per class). A pitched model needs
    ``pitches`` [N] (MIDI) and adds "class_pitches": per class [lowest, median, highest]
    (the median rounded to a semitone: the class's typical note)."""
    audio = np.asarray(audio)
    labels = np.asarray(labels, dtype=np.int64)
    if audio.ndim != 2 or len(audio) != len(labels) or len(audio) == 0:
        raise ValueError(f"need [N, samples] one-shots and N labels (got {audio.shape}, {labels.shape})")
    missing = [k for k in range(model.classes) if not np.any(labels == k)]
    if missing:
        raise ValueError(f"classes {missing} have no training one-shots: their onset centroids and "
                         "embeddings are undefined")
    if model.pitched and (pitches is None or len(pitches) != len(labels)):
        raise ValueError("a pitched model's statistics need a MIDI pitch per one-shot")
    net = copy.deepcopy(model).to(device="cpu", dtype=dtype).eval()
    mus, embeddings = [], []
    for s in range(0, len(audio), batch):
        x = torch.from_numpy(np.asarray(audio[s:s + batch], dtype=np.float64) * scale).to(dtype)
        if model.pitched:
            cond = torch.from_numpy(net.condition(labels[s:s + batch], pitches[s:s + batch])).to(dtype)
        else:
            cond = net.one_hot(torch.from_numpy(labels[s:s + batch]), len(x), "cpu").to(dtype)
        mu, _ = net.encode_grains(x)
        mu_e, _ = net.encode_sequence(mu, cond)
        mus.append(mu.double().numpy())
        embeddings.append(mu_e.double().numpy())
    mu_z = np.concatenate(mus)               # [N, g, d_z]
    mu_e = np.concatenate(embeddings)        # [N, d_e]
    by_class = [labels == k for k in range(model.classes)]
    keep = np.ones(mu_z.shape[:2], dtype=bool)
    if audible_db is not None:
        keep = audible_grains(np.asarray(audio, dtype=np.float64) * scale, audible_db)
        for m in by_class:  # a class with no audible grain keeps all of them
            if not keep[m].any():
                keep[m] = True
    grains = mu_z[keep]
    mean, axes = _principal_plane(grains)
    extent, held = _extent((grains - mean) @ axes.T)
    xy_shot = (mu_z - mean) @ axes.T         # [N, g, 2]
    extra = {}
    if model.pitched:
        p = np.asarray(pitches, np.float64)
        extra["class_pitches"] = [[float(p[m].min()), float(np.round(np.median(p[m]))),
                                   float(p[m].max())] for m in by_class]
    return {
        **extra,
        "grain_map": {"mean": _round(mean), "axes": _round(axes), "extent": _round(extent),
                      "class_points": _round([xy_shot[m][keep[m]].mean(0) for m in by_class])},
        "onset_centroids": _round([mu_z[m, 0].mean(0) for m in by_class]),
        "class_embeddings": _round([mu_e[m].mean(0) for m in by_class]),
        "counts": {"one_shots": int(len(audio)), "grains": int(len(grains)),
                   **({} if audible_db is None else {"all_grains": int(keep.size),
                                                     "audible_db": audible_db}),
                   "share_in_extent": round(held, 5),
                   "per_class": [int(m.sum()) for m in by_class]},
    }


def output_gain_db(model: NeuralGranular, class_embeddings: Sequence[Sequence[float]],
                   target_db: float = TARGET_PEAK_DB,
                   class_pitches: Optional[Sequence[Sequence[float]]] = None) -> float:
    """The make-up gain (dB, 0-24) that brings the median peak of the classes' typical hits
    (each class's mean embedding, decoded as the engine does) to ``target_db``: the model
    averages the corpus's velocity layers, and its hits peak ~16 dB under full scale.
    The page applies it (hits, path and beat-box alike); the core's renders do not."""
    pitch = [None if class_pitches is None else class_pitches[k][1]
             for k in range(len(class_embeddings))]
    peaks = [float(np.max(np.abs(model.generate(label=k, e=np.asarray(e), pitch=pitch[k])))) + 1e-9
             for k, e in enumerate(class_embeddings)]
    gain = target_db - float(np.median(20 * np.log10(peaks)))
    return round(float(np.clip(gain, 0.0, 24.0)), 1)


def grains_metadata(model: NeuralGranular, class_names: Sequence[str], stats: Mapping[str, Any],
                    training: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The file's metadata: the model's synthesis constants (``NeuralGranular.metadata``),
    ``encoder_gain_folded``, and the training statistics."""
    meta: Dict[str, Any] = {}
    for key, value in model.metadata(class_names, dict(training or {})).items():
        meta[key] = value
        if key == "encoder_input_gain":
            meta["encoder_gain_folded"] = True
    meta["post_filter"] = _round(meta["post_filter"]) if meta["post_filter"] else []
    training = meta.pop("training")
    meta["grain_map"] = stats["grain_map"]
    meta["onset_centroids"] = stats["onset_centroids"]
    meta["class_embeddings"] = stats["class_embeddings"]
    if model.pitched:
        meta["class_pitches"] = stats["class_pitches"]
    meta["output_gain_db"] = output_gain_db(model, stats["class_embeddings"],
                                            class_pitches=stats.get("class_pitches"))
    meta["training"] = json_safe(dict(training, statistics=stats.get("counts", {})))
    return meta


def export_grains(model: NeuralGranular, class_names: Sequence[str], out_dir, name: str,
                  stats: Mapping[str, Any], training: Optional[Mapping[str, Any]] = None,
                  dtype: str = "f32") -> Path:
    """Writes ``<out_dir>/<name>.tmbl`` (family ``grains``; weights as ``dtype``, "f32" or
    "f16"); returns its path. No ONNX graphs (the page runs this family in the core)."""
    meta = grains_metadata(model, class_names, stats, training)
    paths = export_model(export_graphs(model), model.family, name, meta, out_dir,
                         onnx_graphs=[], step_graphs=[], dtype=dtype)
    return Path(paths["tmbl"])
