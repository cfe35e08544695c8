"""Evaluate a shipped cross-modal VAE (DAFx 2019 Tables 1-2) beside a PCA + MLP baseline.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.crossmodal_card \\
        --model models/crossmodal/violin/violin.tmbl [--data data/full] [--write-card]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.crossmodal_card --summary [--write-card]

What is measured is the shipped file: its four graphs are read with ``read_tmbl`` and run
by a numpy forward pass of their ops (linear and the pointwise activations; anything else
is refused), using posterior means (no sampling), as the page does.

Items: the stationary frames of the test split's notes (``crossmodal_data.load_frames``);
for a mixture model, seeded random mixtures of test notes (one note of each instrument,
equal gains, ``mixture_batch``) through the float64 constant-Q front end (``timbrel.cqt``).

- Table 1 (signal): reconstruction x -> mu_x -> decoder, and symbol -> signal
  y -> mu_y -> decoder, compared with x on constant-Q magnitudes (``cqt.from_features``
  after clamping the decoded features at 0, as the core does):
  ISD = mean over frames and bins of r - ln r - 1, r = (|X| + 1e-4) / (|X^| + 1e-4)
  (the thesis's formula on magnitudes, averaged per bin so that it is comparable with the
  paper's 0.04-0.35; ``metrics.isd`` sums over the bins of power spectra instead), and the
  mean squared error of the log1p features.
- Table 2 (symbols): success ratio (argmax accuracy) per family (pitch class, octave,
  dynamics), symbol -> symbol (y -> mu_y -> symbol decoder) and signal -> symbol
  (x -> mu_x -> symbol decoder). Mixtures: strict (each instrument slot against its own
  label, averaged over the slots, as the paper) and loose (a slot's answer counts if it
  equals that family's label of any instrument in the mixture).
- Baseline (``crossmodal_baseline``): PCA (32 components) + MLP of the symbol decoder's
  width, trained on the training split (mixtures: seeded random mixtures of training
  notes); its signal -> symbol accuracies. Cached per model file hash and settings in
  ``<data>/../cache/crossmodal_eval/``.

``--write-card`` writes the evaluation section (between markers) into the model's
MODEL_CARD.md; ``--summary`` evaluates every model of ``models/crossmodal/index.json`` and
writes a table into ``models/crossmodal/README.md`` between markers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from timbrel import cqt

BEGIN, END = "<!-- evaluation:begin -->", "<!-- evaluation:end -->"
SUMMARY_BEGIN, SUMMARY_END = "<!-- evaluation-summary:begin -->", "<!-- evaluation-summary:end -->"
GRAPHS = ("signal_encoder", "signal_decoder", "symbol_encoder", "symbol_decoder")
FAMILIES = ("pitch_class", "octave", "dynamics")
FAMILY_NAMES = {"pitch_class": "pitch class", "octave": "octave", "dynamics": "dynamics"}
POINTWISE_OPS = ("elu", "relu", "leaky_relu", "tanh", "sigmoid", "softplus", "log1p")
MIXTURES = 3000
BASELINE_TRAIN_MIXTURES = 20000
SEED = 20261123
LEVEL_CHANGES_DB = (-3.0, 3.0)
CACHE_VERSION = 1

# The paper's figures (DAFx 2019 Tables 1-2, as extracted in /work/shared/papers/DIGEST.md):
# ISD of reconstruction and of symbol -> signal; success ratios in % per family as
# (symbol -> symbol, signal -> symbol), for mixtures also loose; baseline column (loose).
PAPER = {
    ("alto_sax",): {"name": "Alto-Sax", "isd": (0.093, 0.177),
                    "success": {"pitch_class": (100, 100), "octave": (100, 100), "dynamics": (100, 100)},
                    "baseline": {"pitch_class": 94, "octave": 97, "dynamics": 46}},
    ("violin",): {"name": "Violin", "isd": (0.104, 0.151),
                  "success": {"pitch_class": (100, 100), "octave": (100, 100), "dynamics": (100, 100)},
                  "baseline": {"pitch_class": 89.8, "octave": 99.0, "dynamics": 35.3}},
    ("trumpet",): {"name": "Trumpet-C", "isd": (0.073, 0.35),
                   "success": {"pitch_class": (99.9, 100), "octave": (100, 100), "dynamics": (99.7, 100)},
                   "baseline": {"pitch_class": 76.1, "octave": 99.8, "dynamics": 47.8}},
    ("flute",): {"name": "Flute", "isd": (0.076, 0.147),
                 "success": {"pitch_class": (100, 100), "octave": (100, 100), "dynamics": (100, 100)},
                 "baseline": {"pitch_class": 52.4, "octave": 81.8, "dynamics": 41.4}},
    ("piano",): {"name": "Piano", "isd": (0.044, 0.112),
                 "success": {"pitch_class": (100, 100), "octave": (100, 100), "dynamics": (99.9, 100)},
                 "baseline": {"pitch_class": 51.6, "octave": 63.9, "dynamics": 40.0}},
    ("alto_sax", "violin"): {"name": "Sax+Vn", "isd": (0.364, 0.852),
                             "success": {"pitch_class": (54.0, 87.9), "octave": (84.6, 99.2),
                                         "dynamics": (74.4, 95.9)},
                             "loose": {"pitch_class": (62.6, 81.6), "octave": (94.9, 88.7),
                                       "dynamics": (82.4, 66.3)},
                             "baseline": {"pitch_class": 65.3, "octave": 79.1, "dynamics": 52.0}},
}


# ----------------------------------------------------------------------------- the model


def _activation(op: Dict, x: np.ndarray) -> np.ndarray:
    kind = op["op"]
    if kind == "elu":
        return np.where(x > 0, x, float(op.get("alpha", 1.0)) * np.expm1(np.minimum(x, 0.0)))
    if kind == "relu":
        return np.maximum(x, 0.0)
    if kind == "leaky_relu":
        return np.where(x > 0, x, float(op["slope"]) * x)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * x))
    if kind == "softplus":  # as F.softplus: linear where beta x > threshold
        beta, threshold = float(op.get("beta", 1.0)), float(op.get("threshold", 20.0))
        return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)
    if kind == "log1p":
        return np.log1p(x)
    raise ValueError(f"op {kind!r} is not pointwise")


@dataclass
class CrossmodalModel:
    """A crossmodal_vae file checked against the contract, with a numpy forward pass."""
    path: Path
    name: str
    metadata: Dict
    graphs: Dict[str, List[Dict]]
    tensors: Dict[str, np.ndarray]
    sha256: str

    @property
    def instruments(self) -> List[str]:
        return list(self.metadata["instruments"])

    @property
    def sources(self) -> List[str]:
        """The sources it was trained on (files written before the multi-source trainer
        were trained on FluidR3 alone)."""
        return list(self.metadata.get("training", {}).get("sources", ["fluidr3"]))

    @property
    def latent(self) -> int:
        return int(self.metadata["latent"])

    @property
    def groups(self) -> tuple:
        return (12, len(self.metadata["octaves"]), len(self.metadata["dynamics"])) * len(self.instruments)

    def hidden(self, graph: str) -> int:
        """Width of the graph's first layer (the MLP's hidden width)."""
        return int(self.tensors[self.graphs[graph][0]["weight"]].shape[0])

    def run(self, graph: str, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, np.float64)
        for op in self.graphs[graph]:
            if op["op"] == "linear":
                h = h @ self.tensors[op["weight"]].T
                if op.get("bias") is not None:
                    h = h + self.tensors[op["bias"]]
            else:
                h = _activation(op, h)
        return h

    def encode_signal(self, features: np.ndarray) -> np.ndarray:
        """Posterior means of q(z|x)."""
        return self.run("signal_encoder", features)[:, :self.latent]

    def encode_symbols(self, one_hot: np.ndarray) -> np.ndarray:
        """Posterior means of q(z|y)."""
        return self.run("symbol_encoder", one_hot)[:, :self.latent]

    def decode_signal(self, z: np.ndarray) -> np.ndarray:
        """Features, clamped at 0 as the core does before ``from_features``."""
        return np.maximum(self.run("signal_decoder", z), 0.0)

    def decode_labels(self, z: np.ndarray) -> np.ndarray:
        """Argmax per symbol group: [N, 3 M] (pitch class, octave, dynamics per instrument)."""
        return labels_from_logits(self.run("symbol_decoder", z), self.groups)


def labels_from_logits(logits: np.ndarray, groups: Sequence[int]) -> np.ndarray:
    edges = np.cumsum([0] + list(groups))
    return np.stack([logits[:, a:b].argmax(1) for a, b in zip(edges[:-1], edges[1:])], axis=1)


def _check_graph(name: str, ops: List[Dict], tensors: Dict, size_in: int, size_out: int) -> None:
    if not ops or ops[0].get("op") != "linear":
        raise ValueError(f"graph '{name}' must start with a linear op")
    size = size_in
    for i, op in enumerate(ops):
        kind = op.get("op")
        if kind == "linear":
            w = tensors[op["weight"]]
            if w.ndim != 2 or w.shape[1] != size:
                raise ValueError(f"graph '{name}' op {i}: linear weight {list(w.shape)} does not "
                                 f"take {size} inputs")
            size = w.shape[0]
            if op.get("bias") is not None and tensors[op["bias"]].shape != (size,):
                raise ValueError(f"graph '{name}' op {i}: bias {list(tensors[op['bias']].shape)} "
                                 f"does not match {size} outputs")
        elif kind not in POINTWISE_OPS:
            raise ValueError(f"graph '{name}' op {i}: op {kind!r} is not supported here (a "
                             f"crossmodal_vae graph holds linear ops and pointwise activations)")
    if size != size_out:
        raise ValueError(f"graph '{name}' outputs {size} values, the contract says {size_out}")


def load_model(path) -> CrossmodalModel:
    """Reads a .tmbl file and checks it against the crossmodal_vae contract (ValueError)."""
    from timbrel.tmbl import read_tmbl
    path = Path(path)
    data = path.read_bytes()
    f = read_tmbl(data)
    if f.family != "crossmodal_vae":
        raise ValueError(f"{path}: family is {f.family!r}, expected 'crossmodal_vae'")
    meta = f.metadata
    expected = {"sample_rate": cqt.SAMPLE_RATE, "window": cqt.WINDOW, "hop": cqt.HOP,
                "bins_per_octave": cqt.BINS_PER_OCTAVE, "f_min": cqt.F_MIN,
                "n_bins": cqt.N_BINS, "log_floor": cqt.LOG_FLOOR}
    for key, want in expected.items():
        if key not in meta:
            raise ValueError(f"{path}: metadata has no '{key}'")
        if not np.isclose(float(meta[key]), want):
            raise ValueError(f"{path}: metadata {key} is {meta[key]}, the front end (timbrel.cqt) "
                             f"uses {want}")
    for key in ("latent", "instruments", "octaves", "dynamics"):
        if key not in meta:
            raise ValueError(f"{path}: metadata has no '{key}'")
    if not meta["instruments"]:
        raise ValueError(f"{path}: metadata instruments is empty")
    if len(meta["octaves"]) + len(meta["dynamics"]) + 12 != 24:
        raise ValueError(f"{path}: a symbol triplet must be 24 wide (12 pitch classes, "
                         f"{len(meta['octaves'])} octaves, {len(meta['dynamics'])} dynamics)")
    for g in GRAPHS:
        if g not in f.graphs:
            raise ValueError(f"{path}: graph '{g}' is missing")
    latent, symbols = int(meta["latent"]), 24 * len(meta["instruments"])
    sizes = {"signal_encoder": (cqt.N_BINS, 2 * latent), "signal_decoder": (latent, cqt.N_BINS),
             "symbol_encoder": (symbols, 2 * latent), "symbol_decoder": (latent, symbols)}
    for g, (a, b) in sizes.items():
        _check_graph(g, f.graphs[g], f.tensors, a, b)
    return CrossmodalModel(path, f.name, dict(meta), f.graphs, f.tensors,
                           hashlib.sha256(data).hexdigest())


# ----------------------------------------------------------------------------- metrics


def isd(reference: np.ndarray, estimate: np.ndarray, eps: float = cqt.LOG_FLOOR) -> float:
    """Mean over frames and bins of r - ln r - 1, r = (|X| + eps) / (|X^| + eps)."""
    r = (np.abs(np.asarray(reference, np.float64)) + eps) / (np.abs(np.asarray(estimate, np.float64)) + eps)
    return float(np.mean(r - np.log(r) - 1.0))


def family_accuracy(predicted: np.ndarray, true: np.ndarray) -> Dict[str, Dict[str, float]]:
    """Per family: strict (each slot against its own label, mean over slots) and loose (a
    slot's answer counts if it equals that family's label of any slot), and strict per slot.

    predicted, true: [N, 3 M] (pitch class, octave, dynamics per instrument slot)."""
    predicted, true = np.asarray(predicted), np.asarray(true)
    if predicted.shape != true.shape or predicted.shape[1] % 3:
        raise ValueError(f"labels of shapes {predicted.shape} and {true.shape}: expected equal "
                         f"[N, 3 M]")
    slots = predicted.shape[1] // 3
    out = {}
    for f, family in enumerate(FAMILIES):
        strict = [float(np.mean(predicted[:, 3 * i + f] == true[:, 3 * i + f])) for i in range(slots)]
        loose = [float(np.mean(np.any(predicted[:, [3 * i + f]] == true[:, f::3], axis=1)))
                 for i in range(slots)]
        out[family] = {"strict": float(np.mean(strict)), "loose": float(np.mean(loose)),
                       "strict_per_slot": strict}
    return out


def frame_features(audio_frames: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """Windowed audio frames [N, WINDOW] -> features [N, N_BINS], float64 (``cqt.features``
    per frame)."""
    w = cqt.hann()
    pool = cqt.pooling_matrix().T
    out = np.empty((len(audio_frames), cqt.N_BINS))
    for a in range(0, len(audio_frames), chunk):
        block = np.asarray(audio_frames[a:a + chunk], np.float64) * w
        out[a:a + chunk] = cqt.to_features((np.abs(np.fft.rfft(block, axis=-1)) * (2.0 / w.sum())) @ pool)
    return out


# ----------------------------------------------------------------------------- data


def items(model: CrossmodalModel, root, split: str, mixtures: int, seed: int):
    """Features [N, 409] and labels [N, 3 M] of a split: the notes' stationary frames (solo),
    or seeded random mixtures of the split's notes (mixture)."""
    from timbrel.train.crossmodal_data import load_frames, mixture_batch
    sources = [load_frames(root, inst, split, sources=None if split == "heldout" else model.sources)
               for inst in model.instruments]
    if len(sources) == 1:
        return (sources[0].features.astype(np.float64), sources[0].labels,
                {"notes": len(sources[0].segments), "frames": len(sources[0].features)})
    frames, labels = mixture_batch(sources, mixtures, np.random.default_rng(seed))
    return frame_features(frames), labels, {"notes": [len(s.segments) for s in sources],
                                            "mixtures": mixtures}


def split_overlap(root, instruments: Sequence[str], sources=None) -> Dict[str, Dict[str, int]]:
    """Per instrument: how many test labels (pitch, dynamics) and test pitches occur in train."""
    from timbrel.train.crossmodal_data import note_rows
    out = {}
    for inst in instruments:
        train = note_rows(root, inst, "train", sources)
        test = note_rows(root, inst, "test", sources)
        train_labels = {(r["midi_pitch"], r["dynamics"]) for r in train}
        train_pitches = {r["midi_pitch"] for r in train}
        test_labels = {(r["midi_pitch"], r["dynamics"]) for r in test}
        test_pitches = {r["midi_pitch"] for r in test}
        out[inst] = {"test_labels": len(test_labels),
                     "test_labels_in_train": len(test_labels & train_labels),
                     "test_pitches": len(test_pitches),
                     "test_pitches_in_train": len(test_pitches & train_pitches)}
    return out


def _data_key(root, instruments: Sequence[str], sources=None) -> str:
    from timbrel.train.crossmodal_data import note_rows
    rows = [(split, r["sha256"]) for inst in instruments for split in ("train", "test")
            for r in note_rows(root, inst, split, sources)]
    return hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()


def with_gain(features: np.ndarray, gain_db: float) -> np.ndarray:
    """The same frames played gain_db louder (constant-Q magnitudes scaled)."""
    return cqt.to_features(cqt.from_features(features) * 10 ** (gain_db / 20))


def level_robustness(model: CrossmodalModel, features: np.ndarray, labels: np.ndarray) -> Dict:
    """Signal -> symbol accuracy per family with the input LEVEL_CHANGES_DB louder or quieter:
    dynamics read from the level alone would move with it."""
    return {f"{gain:+g}": family_accuracy(model.decode_labels(model.encode_signal(with_gain(features, gain))),
                                          labels)
            for gain in LEVEL_CHANGES_DB}


# ----------------------------------------------------------------------------- evaluation


def evaluate_model(model: CrossmodalModel, features: np.ndarray, labels: np.ndarray) -> Dict:
    """Tables 1 and 2 of the model on items (features [N, 409], labels [N, 3 M])."""
    from timbrel.train.crossmodal_data import one_hot
    magnitude = cqt.from_features(features)
    mu_x = model.encode_signal(features)
    mu_y = model.encode_symbols(one_hot(labels))
    recon = model.decode_signal(mu_x)
    from_symbols = model.decode_signal(mu_y)
    return {
        "table1": {
            "reconstruction": {"isd": isd(magnitude, cqt.from_features(recon)),
                               "mse": float(np.mean((recon - features) ** 2))},
            "symbol_to_signal": {"isd": isd(magnitude, cqt.from_features(from_symbols)),
                                 "mse": float(np.mean((from_symbols - features) ** 2))},
        },
        "table2": {"symbol_to_symbol": family_accuracy(model.decode_labels(mu_y), labels),
                   "signal_to_symbol": family_accuracy(model.decode_labels(mu_x), labels)},
    }


def baseline_result(model: CrossmodalModel, root, features: np.ndarray, labels: np.ndarray,
                    steps: int, train_mixtures: int, seed: int, cache_dir: Optional[Path],
                    log=print) -> Dict:
    """The PCA + MLP baseline's signal -> symbol accuracies on the items, cached per model
    file hash and settings."""
    from timbrel.eval import crossmodal_baseline as cb
    hidden = model.hidden("symbol_decoder")
    settings = {"version": CACHE_VERSION, "model": model.sha256, "data": _data_key(root, model.instruments, model.sources),
                "items": hashlib.sha256(np.ascontiguousarray(features, np.float64).tobytes()
                                        + np.ascontiguousarray(labels, np.int64).tobytes()).hexdigest(),
                "steps": steps, "seed": seed,
                "train_mixtures": train_mixtures if len(model.instruments) > 1 else None,
                "components": cb.COMPONENTS, "batch": cb.BATCH, "lr": cb.LEARNING_RATE, "hidden": hidden}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"{model.sha256[:16]}_{key}.json" if cache_dir else None
    if cache and cache.exists():
        log(f"baseline: cached {cache}")
        return json.loads(cache.read_text())["result"]
    train_x, train_y, train_info = items(model, root, "train", train_mixtures, seed + 1)
    start = time.perf_counter()
    fitted = cb.fit(train_x, train_y, hidden, model.groups, seed=seed, steps=steps)
    seconds = time.perf_counter() - start
    predicted = labels_from_logits(fitted.logits(features), model.groups)
    result = {"signal_to_symbol": family_accuracy(predicted, labels),
              "train_accuracy": family_accuracy(labels_from_logits(fitted.logits(train_x), model.groups),
                                                train_y),
              "hidden": hidden, "components": cb.COMPONENTS, "steps": steps,
              "train_items": int(len(train_x)), "train": train_info, "seconds": round(seconds, 1)}
    log(f"baseline: PCA {cb.COMPONENTS} + MLP {hidden}x2, {steps} steps on {len(train_x)} "
        f"training items in {seconds:.1f} s")
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"settings": settings, "result": result}, indent=1) + "\n")
    return result


def evaluate(model_path, root="data/full", mixtures: int = MIXTURES, seed: int = SEED,
             baseline_steps: int = 0, train_mixtures: int = BASELINE_TRAIN_MIXTURES,
             cache_dir=None, log=print) -> Dict:
    """Everything the card shows; ``baseline_steps`` 0 takes the baseline module's default,
    negative skips the baseline."""
    from timbrel.eval import crossmodal_baseline as cb
    model = load_model(model_path)
    start = time.perf_counter()
    features, labels, info = items(model, root, "test", mixtures, seed)
    result = {"model": str(model_path), "name": model.name, "sha256": model.sha256,
              "instruments": model.instruments, "items": int(len(features)), "test": info,
              "hidden": {g: model.hidden(g) for g in GRAPHS},
              "parameters": int(sum(t.size for t in model.tensors.values())),
              "size_bytes": Path(model_path).stat().st_size,
              "sources": model.sources,
              "split": split_overlap(root, model.instruments, model.sources)}
    result.update(evaluate_model(model, features, labels))
    result["level"] = level_robustness(model, features, labels)
    from timbrel.train.crossmodal_data import note_rows
    if all(note_rows(root, inst, "heldout") for inst in model.instruments):
        held_x, held_y, held_info = items(model, root, "heldout", mixtures, seed + 2)
        result["heldout"] = {"items": int(len(held_x)), "test": held_info, **evaluate_model(model, held_x, held_y)}
    else:  # a data root without the held-out font (the smoke corpus)
        log(f"{root} holds no held-out-font notes of {', '.join(model.instruments)}: not evaluated there")
    result["seconds"] = round(time.perf_counter() - start, 2)
    if baseline_steps >= 0:
        cache = Path(cache_dir) if cache_dir else Path(root).resolve().parent / "cache" / "crossmodal_eval"
        result["baseline"] = baseline_result(model, root, features, labels, baseline_steps or cb.STEPS,
                                             train_mixtures, seed, cache, log)
    return result


# ----------------------------------------------------------------------------- reports


def _pct(v: Optional[float]) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _paper_pct(v) -> str:
    return "-" if v is None else f"{v:g}%"


def tables(result: Dict) -> str:
    """Tables 1 and 2 (ours beside the paper's) in markdown."""
    paper = PAPER.get(tuple(result["instruments"]), {})
    mixture = len(result["instruments"]) > 1
    t1 = result["table1"]
    pi = paper.get("isd", (None, None))
    lines = ["| Table 1 (signal) | ours | paper |", "|---|---:|---:|",
             f"| ISD, reconstruction x -> z -> x | {t1['reconstruction']['isd']:.3f} | "
             f"{'-' if pi[0] is None else pi[0]} |",
             f"| ISD, symbol -> signal y -> z -> x | {t1['symbol_to_signal']['isd']:.3f} | "
             f"{'-' if pi[1] is None else pi[1]} |",
             f"| MSE of log1p features, reconstruction | {t1['reconstruction']['mse']:.3f} | - |",
             f"| MSE of log1p features, symbol -> signal | {t1['symbol_to_signal']['mse']:.3f} | - |",
             ""]
    base = result.get("baseline", {}).get("signal_to_symbol")
    kinds = ("strict", "loose") if mixture else ("strict",)
    lines += ["| Table 2 (success ratio) | symbol -> symbol | signal -> symbol | "
              "baseline signal -> symbol | paper | paper baseline (loose) |",
              "|---|---:|---:|---:|---:|---:|"]
    for family in FAMILIES:
        for kind in kinds:
            label = FAMILY_NAMES[family] + (f" ({kind})" if mixture else "")
            ours_y = result["table2"]["symbol_to_symbol"][family][kind]
            ours_x = result["table2"]["signal_to_symbol"][family][kind]
            base_x = base[family][kind] if base else None
            ref = paper.get("loose" if kind == "loose" else "success", {}).get(family)
            ref_txt = "-" if ref is None else f"{_paper_pct(ref[0])} ({_paper_pct(ref[1])})"
            ref_base = paper.get("baseline", {}).get(family) if kind == kinds[-1] else None
            lines.append(f"| {label} | {_pct(ours_y)} | {_pct(ours_x)} | {_pct(base_x)} | {ref_txt} | "
                         f"{_paper_pct(ref_base)} |")
    return "\n".join(lines)


def heldout_table(result: Dict) -> str:
    """Signal -> symbol on the held-out font and with the input's level changed, in markdown."""
    kind = "strict"
    held = result.get("heldout")
    level = result["level"]
    what = "" if not held else (f"{held['items']} mixtures of its notes" if len(result["instruments"]) > 1
                                else f"{held['test']['frames']} frames of {held['test']['notes']} notes")
    lines = ["| signal -> symbol | pitch class | octave | dynamics | ISD reconstruction |",
             "|---|---:|---:|---:|---:|",
             f"| test split ({', '.join(result['sources'])}: what it trained on) | " + " | ".join(
                 _pct(result["table2"]["signal_to_symbol"][f][kind]) for f in FAMILIES)
             + f" | {result['table1']['reconstruction']['isd']:.3f} |"]
    for gain, acc in level.items():
        lines.append(f"| test split, input {gain} dB | " + " | ".join(_pct(acc[f][kind]) for f in FAMILIES)
                     + " | - |")
    if held:
        lines.append(f"| **held-out font** (TimGM6mb, {what}; never trained on) | " + " | ".join(
            _pct(held["table2"]["signal_to_symbol"][f][kind]) for f in FAMILIES)
            + f" | {held['table1']['reconstruction']['isd']:.3f} |")
    else:
        lines.append("| held-out font | not in this data root | | | |")
    return "\n".join(lines)


def _hidden_text(result: Dict) -> str:
    h = result["hidden"]
    mixture = len(result["instruments"]) > 1
    paper_signal = 5000 if mixture else 2000
    return (f"signal MLPs 2x{h['signal_encoder']} and symbol MLPs 2x{h['symbol_encoder']} "
            f"(paper: 2x{paper_signal} and 2x800)")


def _per_slot_lines(result: Dict) -> List[str]:
    """Mixtures: strict signal -> symbol accuracy of each instrument slot."""
    if len(result["instruments"]) < 2:
        return []
    table = result["table2"]["signal_to_symbol"]
    parts = [f"{inst} " + " / ".join(_pct(table[f]["strict_per_slot"][i]) for f in FAMILIES)
             for i, inst in enumerate(result["instruments"])]
    return ["- Signal -> symbol per instrument (strict, p / o / d): " + "; ".join(parts) + "."]


def card_section(result: Dict, command: str) -> str:
    """The card's evaluation section, between markers (the trainer writes the training one)."""
    mixture = len(result["instruments"]) > 1
    paper = PAPER.get(tuple(result["instruments"]))
    if mixture:
        notes = " and ".join(str(n) for n in result["test"]["notes"])
        data = (f"{result['items']} seeded random mixtures of test notes (one note of each of "
                f"{' + '.join(result['instruments'])}, {notes} "
                f"test notes, equal gains, one random 2048-sample window of each note's stationary "
                f"part), features by the float64 front end (`timbrel.cqt`)")
    else:
        data = (f"the {result['items']} stationary frames (0.25-1.95 s) of the "
                f"{result['test']['notes']} test notes")
    split_lines = []
    for inst, s in result["split"].items():
        split_lines.append(f"{inst}: {s['test_labels_in_train']} of {s['test_labels']} test labels "
                           f"(pitch, dynamics) occur in the training split, {s['test_pitches_in_train']} "
                           f"of {s['test_pitches']} test pitches do (at other dynamics)")
    unseen = all(s["test_labels_in_train"] == 0 for s in result["split"].values())
    lines = [BEGIN, "## Evaluation (generated by `timbrel.eval.crossmodal_card`)", "",
             f"The shipped `.tmbl` weights, run by a numpy forward pass of the file's four graphs "
             f"with posterior means (no sampling), on {data}.", "",
             tables(result), "",
             "Held-out font and level changes (strict):", "",
             heldout_table(result), "",
             "- ISD: mean over frames and bins of r - ln r - 1, r = (|X| + 1e-4) / (|X^| + 1e-4), "
             "on constant-Q magnitudes (`cqt.from_features`, decoded features clamped at 0): the "
             "thesis's formula on magnitudes, averaged per bin (not summed) so that it compares "
             "with the paper's 0.04-0.35.",
             "- Success ratio: argmax accuracy per family." +
             (" Strict: each instrument slot against its own label, averaged over the slots (as "
              "the paper); loose: a slot's answer counts if it equals that family's label of any "
              "instrument in the mixture." if mixture else ""),
             f"- Baseline (paper L339-345): PCA of the training features (32 components) then an "
             f"MLP 32 -> {result['baseline']['hidden']} -> {result['baseline']['hidden']} -> "
             f"{24 * len(result['instruments'])} (the symbol decoder's width), cross-entropy per "
             f"group, {result['baseline']['steps']} Adam steps of 256 on "
             f"{result['baseline']['train_items']} training "
             f"{'mixtures' if mixture else 'frames'} (seeded, CPU, {result['baseline']['seconds']:g} s)."
             if "baseline" in result else "- Baseline: not run.",
             "- Paper figures: DAFx 2019 Tables 1-2 (" + (paper["name"] if paper else "no matching row")
             + "), symbol -> symbol with signal -> symbol in parentheses" +
             ("; some of the paper's mixture cells look scrambled in extraction (loose below "
              "strict)." if mixture else "."),
             *_per_slot_lines(result),
             "",
             "What differs from the paper:",
             f"- data: renders of {', '.join(result['sources'])} (`timbrel.data`), not Studio-On-Line "
             "recordings; the held-out font (TimGM6mb) is never trained on;",
             "- front end: our pseudo-CQT (an STFT of 2048 samples pooled onto 409 log bins, "
             "48 per octave, 30-10861 Hz; `scripts/timbrel/cqt.py`) instead of the NSGT;",
             f"- smaller MLPs: {_hidden_text(result)}, so the baseline's MLP is smaller too;",
             "- test labels: the note corpus's split is stratified by note (20 % of the notes of "
             "each (instrument, dynamics) group go to test) and each (pitch, dynamics) label is "
             "one note, so " + ("no test label occurs in training" if unseen else
                                "test labels can occur in training only through duplicate notes")
             + " (checked on the manifest: " + "; ".join(split_lines) + ")" +
             (". Symbol -> symbol and symbol -> signal therefore decode label combinations the "
              "model never saw." if unseen else "."),
             "", f"Reproduce: `{command}`", END]
    return "\n".join(lines) + "\n"


def merge_section(text: str, section: str, begin: str, end: str) -> str:
    """Replaces the text between begin and end (markers included) or appends the section."""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + section.rstrip("\n") + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + section


def write_card(result: Dict, card: Path, command: str) -> Path:
    title = f"# {result['name']}: cross-modal VAE ({' + '.join(result['instruments'])})\n"
    text = card.read_text() if card.exists() else title
    card.write_text(merge_section(text, card_section(result, command), BEGIN, END))
    return card


def summary_table(results: List[Dict]) -> str:
    lines = ["| model | items | ISD recon. (paper) | ISD symbol -> signal (paper) | "
             "symbol -> symbol p / o / d | signal -> symbol p / o / d | "
             "baseline signal -> symbol p / o / d | paper baseline p / o / d | "
             "held-out font signal -> symbol p / o / d | dynamics at -3 / 0 / +3 dB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        paper = PAPER.get(tuple(r["instruments"]), {})
        pi = paper.get("isd", (None, None))
        kinds = ("strict", "loose") if len(r["instruments"]) > 1 else ("strict",)
        for kind in kinds:
            def pod(table):
                return " / ".join(_pct(table[f][kind]) for f in FAMILIES) if table else "-"
            base = r.get("baseline", {}).get("signal_to_symbol")
            name = r["name"] + (f" ({kind})" if len(kinds) > 1 else "")
            isd_cells = (f"{r['table1']['reconstruction']['isd']:.3f} ({'-' if pi[0] is None else pi[0]}) | "
                         f"{r['table1']['symbol_to_signal']['isd']:.3f} ({'-' if pi[1] is None else pi[1]})"
                         if kind == "strict" else " | ")
            ref = " / ".join(_paper_pct(paper["baseline"][f]) for f in FAMILIES) \
                if paper and kind == kinds[-1] else "-"
            held = pod(r["heldout"]["table2"]["signal_to_symbol"]) if r.get("heldout") else "-"
            dyn = (" / ".join(_pct(v["dynamics"][kind]) for v in (
                r["level"]["-3"], r["table2"]["signal_to_symbol"], r["level"]["+3"])) if "level" in r else "-")
            lines.append(f"| {name} | {r['items']} | {isd_cells} | {pod(r['table2']['symbol_to_symbol'])} | "
                         f"{pod(r['table2']['signal_to_symbol'])} | {pod(base)} | {ref} | {held} | {dyn} |")
    return "\n".join(lines)


def summary_section(results: List[Dict], command: str) -> str:
    split = {inst: s for r in results for inst, s in r["split"].items()}  # a mixture repeats solos
    seen = sum(s["test_labels_in_train"] for s in split.values())
    total = sum(s["test_labels"] for s in split.values())
    pitches_seen = sum(s["test_pitches_in_train"] for s in split.values())
    pitches = sum(s["test_pitches"] for s in split.values())
    return "\n".join([
        SUMMARY_BEGIN, "## Evaluation summary (generated by `timbrel.eval.crossmodal_card --summary`)", "",
        "Test split of the note corpus of the sources each model trained on (solo models: "
        "FluidR3 and Freepats, the piano also Salamander; the mixture: FluidR3) and, beside it, the same test notes rendered by the held-out font (TimGM6mb, "
        "never trained on: an unseen font playing unseen (pitch, dynamics) labels) and the test "
        "split played 3 dB quieter and louder (mixture: seeded random mixtures of notes); posterior "
        "means; ISD per bin on constant-Q magnitudes; success ratios per family p (pitch class), "
        "o (octave), d (dynamics); the baseline is PCA (32) + MLP of the symbol decoder's width. "
        "Paper: DAFx 2019 Tables 1-2 (Studio-On-Line recordings and an NSGT: its ISD is a "
        "reference, not the same measurement). Details and what differs from the paper: each "
        "model's MODEL_CARD.md.", "",
        f"{seen} of the {total} test labels (pitch, dynamics) occur in the training split and "
        f"{pitches_seen} of the {pitches} test pitches do, at other dynamics (checked on the "
        "manifest: the split is stratified by note and each label is one note). Dynamics "
        "accuracies can therefore fall below chance (33 %) for a classifier that ties dynamics "
        "to pitch.",
        "", summary_table(results), "", f"Reproduce: `{command}`", SUMMARY_END]) + "\n"


def write_summary(results: List[Dict], readme: Path, command: str) -> Path:
    text = readme.read_text() if readme.exists() else "# Cross-modal VAE models\n"
    readme.write_text(merge_section(text, summary_section(results, command), SUMMARY_BEGIN, SUMMARY_END))
    return readme


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a crossmodal_vae .tmbl file")
    ap.add_argument("--summary", action="store_true",
                    help="evaluate every model of --index and write the table into --readme")
    ap.add_argument("--index", type=Path, default=Path("models/crossmodal/index.json"))
    ap.add_argument("--readme", type=Path, default=None,
                    help="default: README.md beside the index")
    ap.add_argument("--data", default="data/full")
    ap.add_argument("--mixtures", type=int, default=MIXTURES, help="test mixtures (mixture models)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--baseline-steps", type=int, default=0,
                    help="baseline training steps (0: default, negative: no baseline)")
    ap.add_argument("--baseline-mixtures", type=int, default=BASELINE_TRAIN_MIXTURES)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--write-card", action="store_true", help="write the model card's evaluation section")
    args = ap.parse_args(argv)
    if not args.model and not args.summary:
        ap.error("--model or --summary is required")
    from timbrel.data.corpus import shown
    command = shown("PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.crossmodal_card " + " ".join(
        str(a) for a in (argv if argv is not None else sys.argv[1:])))
    if args.model:
        targets = [(args.model, args.model.parent / "MODEL_CARD.md")]
    else:
        if not args.index.exists():
            print(f"error: {args.index} does not exist (no model trained yet?)", file=sys.stderr)
            return 2
        entries = json.loads(args.index.read_text())
        targets = [(args.index.parent / e["file"],
                    args.index.parent / e.get("card", Path(e["file"]).parent / "MODEL_CARD.md"))
                   for e in entries]
    results = []
    try:
        for model, card in targets:
            print(f"evaluating {model}", flush=True)
            r = evaluate(model, args.data, args.mixtures, args.seed, args.baseline_steps,
                         args.baseline_mixtures, args.cache_dir)
            results.append(r)
            print(tables(r) + "\n\n" + heldout_table(r) + "\n", flush=True)
            if args.write_card:
                print(f"wrote {write_card(r, card, command)}")
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.summary:
        readme = args.readme or args.index.parent / "README.md"
        print(summary_table(results))
        print(f"wrote {write_summary(results, readme, command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
