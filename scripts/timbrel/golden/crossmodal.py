"""Golden files for the core's ``crossmodal_vae`` parity test (models/README.md, family
``crossmodal_vae``).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only crossmodal

Two small random-weight models with the real sizes at the edges (409 features, latent 32,
24 symbols per instrument; hidden layers 48 / 40 wide so the files stay small): a solo
violin (M = 1) and a saxophone + violin mixture (M = 2). For each, the inputs and PyTorch
outputs of all four graphs, written under ``solo/`` and ``mixture/``:

- ``model.tmbl``: the model (timbrel.export), metadata per the contract, including a
  ``latent_projection`` computed as the contract says (PCA of the symbol-encoder means
  over every label in the pitch ranges at every dynamics)
- ``features.npy`` [F, 409]: constant-Q features (timbrel.cqt.features) of a test signal
  (silence, a 220 Hz tone with 6 harmonics, a chord, noise)
- ``signal_mean.npy``, ``signal_logvar.npy`` [F, 32]: signal_encoder(features)
- ``z.npy`` [Z, 32]: latent points (N(0, 1), seeded)
- ``decoded_features.npy`` [Z, 409]: signal_decoder(z)
- ``labels.npy`` (int32 [L, M, 3]): (pitch class, octave, dynamics) per instrument
- ``one_hot.npy`` [L, 24 M]: their one-hot symbol vectors
- ``symbol_mean.npy``, ``symbol_logvar.npy`` [L, 32]: symbol_encoder(one_hot)
- ``logits.npy`` [Z, 24 M]: symbol_decoder(z)
- ``decoded_labels.npy`` (int32 [Z, M, 3]): argmax per group of the logits
- ``confidence.npy`` [Z, M]: product of the three winners' softmax probabilities
- ``meta.json`` (top level): seed, sizes, tolerance, how they were made

Deterministic (seeded). The networks run in float64 from the float32 weights, so the
golden values are the exact outputs the float32 engine approximates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from timbrel import cqt
from timbrel.export import export_model
from timbrel.models.crossmodal_vae import CrossmodalVAE

SEED = 20261207
# max |got - want| <= REL * max |want| + ABS per array (float32 engine vs float64 reference).
TOLERANCE = {"rel_to_peak": 1e-5, "abs": 1e-5}
OCTAVES = list(range(9))
DYNAMICS = ["pp", "mf", "ff"]
DYNAMICS_VELOCITY = [40, 80, 120]
SMALL = dict(signal_hidden=48, symbol_hidden=40)
CASES = {
    "solo": {"instruments": ["violin"], "pitch_ranges": [[55, 96]]},
    "mixture": {"instruments": ["alto_sax", "violin"], "pitch_ranges": [[49, 81], [55, 96]]},
}


def label_of(pitch: int, dynamics: int) -> Tuple[int, int, int]:
    return pitch % 12, pitch // 12 - 1, dynamics


def one_hot(labels: np.ndarray) -> np.ndarray:
    """labels [N, M, 3] -> [N, 24 M] (triplets concatenated in instrument order)."""
    n, m, _ = labels.shape
    out = np.zeros((n, m, 24))
    rows = np.arange(n)[:, None]
    inst = np.arange(m)[None, :]
    out[rows, inst, labels[:, :, 0]] = 1.0
    out[rows, inst, 12 + labels[:, :, 1]] = 1.0
    out[rows, inst, 21 + labels[:, :, 2]] = 1.0
    return out.reshape(n, m * 24)


def every_label(pitch_ranges: Sequence[Sequence[int]]) -> np.ndarray:
    """Every label of a training set over these ranges [N, M, 3]. For a mixture: every
    pair of the two instruments' pitches at one shared dynamics (the data's mixtures mix
    notes of one dynamics), which is what the PCA of the XY pad is taken over."""
    per = [[(p, d) for p in range(lo, hi + 1) for d in range(3)] for lo, hi in pitch_ranges]
    if len(per) == 1:
        return np.array([[label_of(p, d)] for p, d in per[0]], dtype=np.int64)
    rows = []
    for p0, d in per[0]:
        for p1 in range(pitch_ranges[1][0], pitch_ranges[1][1] + 1):
            rows.append([label_of(p0, d), label_of(p1, d)])
    return np.array(rows, dtype=np.int64)


def latent_projection(model: CrossmodalVAE, labels: np.ndarray) -> Dict:
    """PCA of the symbol-encoder means over ``labels``: mean, two unit axes (largest
    variance first, sign fixed so each axis's largest entry is positive) and the extents
    of the projected means."""
    with torch.no_grad():
        mu = _run(model.symbol_encoder, one_hot(labels))[:, :model.latent]
    mean = mu.mean(0)
    centred = mu - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    for a in axes:
        if a[np.argmax(np.abs(a))] < 0:
            a *= -1.0
    xy = centred @ axes.T
    return {"mean": mean.astype(np.float32).tolist(),
            "axes": axes.astype(np.float32).tolist(),
            "extent": [[float(xy[:, 0].min()), float(xy[:, 0].max())],
                       [float(xy[:, 1].min()), float(xy[:, 1].max())]]}


def _run(graph, x: np.ndarray) -> np.ndarray:
    """A graph in float64 (weights as stored: float32 values)."""
    g = graph.double()
    try:
        with torch.no_grad():
            return g(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()
    finally:
        graph.float()


def test_signal() -> np.ndarray:
    """0.1 s silence, 0.3 s 220 Hz tone (6 harmonics), 0.3 s C-E-G chord, 0.2 s noise."""
    sr = cqt.SAMPLE_RATE
    rng = np.random.default_rng(SEED)
    t = np.arange(int(0.3 * sr)) / sr
    tone = sum(0.3 / k * np.sin(2 * np.pi * 220.0 * k * t) for k in range(1, 7))
    chord = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    noise = 0.05 * rng.standard_normal(int(0.2 * sr))
    return np.concatenate([np.zeros(int(0.1 * sr)), tone, chord, noise])


def metadata(instruments: List[str], pitch_ranges: List[List[int]]) -> Dict:
    return {"sample_rate": cqt.SAMPLE_RATE, "window": cqt.WINDOW, "hop": cqt.HOP,
            "bins_per_octave": cqt.BINS_PER_OCTAVE, "f_min": cqt.F_MIN, "f_max": cqt.F_MAX,
            "n_bins": cqt.N_BINS, "log_floor": cqt.LOG_FLOOR, "latent": 32,
            "instruments": instruments, "octaves": OCTAVES, "dynamics": DYNAMICS,
            "dynamics_velocity": DYNAMICS_VELOCITY, "pitch_ranges": pitch_ranges,
            "training": {"note": "random weights, parity test only"}}


def softmax_winners(logits: np.ndarray, m: int) -> Tuple[np.ndarray, np.ndarray]:
    groups = logits.reshape(len(logits), m, 24)
    labels = np.zeros((len(logits), m, 3), dtype=np.int32)
    confidence = np.ones((len(logits), m))
    for g, (a, b) in enumerate(((0, 12), (12, 21), (21, 24))):
        part = groups[:, :, a:b]
        labels[:, :, g] = part.argmax(-1)
        e = np.exp(part - part.max(-1, keepdims=True))
        confidence *= e.max(-1) / e.sum(-1)
    return labels, confidence


def write_case(out: Path, name: str, spec: Dict, features: np.ndarray) -> Dict:
    out.mkdir(parents=True, exist_ok=True)
    m = len(spec["instruments"])
    model = CrossmodalVAE(latent=32, octaves=len(OCTAVES), instruments=m, **SMALL).eval()
    assert model.symbols == 24 * m, "the module's symbol layout is not 12 + 9 + 3 per instrument"
    meta = metadata(spec["instruments"], spec["pitch_ranges"])
    meta["latent_projection"] = latent_projection(model, every_label(spec["pitch_ranges"]))
    export_model(model.graphs(), model.family, "model", meta, out, onnx_graphs=[],
                 step_graphs=[])
    files: Dict[str, Dict] = {}

    def save(file: str, a: np.ndarray, dtype="<f4") -> None:
        a = np.ascontiguousarray(a, dtype=np.dtype(dtype))
        np.save(out / f"{file}.npy", a, allow_pickle=False)
        files[f"{file}.npy"] = {"shape": list(a.shape), "dtype": str(a.dtype)}

    rng = np.random.default_rng(SEED + m)
    posterior = _run(model.signal_encoder, features)
    save("features", features)
    save("signal_mean", posterior[:, :32])
    save("signal_logvar", posterior[:, 32:])
    z = rng.standard_normal((12, 32)).astype(np.float32)
    save("z", z)
    save("decoded_features", _run(model.signal_decoder, z))
    pitches = [rng.integers(lo, hi + 1, 8) for lo, hi in spec["pitch_ranges"]]
    dyn = rng.integers(0, 3, (8, m))
    labels = np.array([[label_of(int(pitches[i][n]), int(dyn[n, i])) for i in range(m)]
                       for n in range(8)], dtype=np.int32)
    save("labels", labels, "<i4")
    hot = one_hot(labels)
    save("one_hot", hot)
    posterior = _run(model.symbol_encoder, hot)
    save("symbol_mean", posterior[:, :32])
    save("symbol_logvar", posterior[:, 32:])
    logits = _run(model.symbol_decoder, z)
    save("logits", logits)
    decoded, confidence = softmax_winners(logits, m)
    save("decoded_labels", decoded, "<i4")
    save("confidence", confidence)
    # Winner minus runner-up per group: far above float32 rounding, so argmax cannot flip.
    margin = min(float(np.diff(np.sort(logits.reshape(len(z), m, 24)[:, :, a:b], -1)[..., -2:],
                               axis=-1).min()) for a, b in ((0, 12), (12, 21), (21, 24)))
    assert margin > 1e-4, "near-tie in the decoded logits"
    return {"instruments": spec["instruments"], "pitch_ranges": spec["pitch_ranges"],
            "symbols": 24 * m, "files": files, "min_logit_margin": margin}


def generate(out: Path) -> Dict:
    out = Path(out)
    torch.manual_seed(SEED)
    features = cqt.features(test_signal())[::4].astype(np.float32)
    cases = {name: write_case(out / name, name, spec, features) for name, spec in CASES.items()}
    meta = {
        "generator": "PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only crossmodal",
        "contract": "models/README.md, section 'Family crossmodal_vae'",
        "seed": SEED, "torch": torch.__version__.split("+")[0],
        "model": dict(SMALL, bins=cqt.N_BINS, latent=32, activation="elu"),
        "tolerance": dict(TOLERANCE, rule="per array: max|got - want| <= rel_to_peak * "
                          "max|want| + abs; decoded_labels.npy must match exactly"),
        "how": "features: timbrel.cqt.features of test_signal() (every 4th frame); graphs "
               "run in float64 on the exported float32 weights; z ~ N(0, 1) seeded",
        "cases": cases,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return {}  # the facts live in meta.json, which the tests read
