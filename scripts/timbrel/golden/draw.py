"""Golden files for descriptor-based synthesis (tests/golden/draw).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only draw

Needs the native build (`cmake --build build`): the table and the render come
from the core's tool, so that the WebAssembly build (tests/wasm/draw.test.mjs)
and later native builds (tests/core/test_descriptor_synth.cpp) can be checked
against them.

- ``model.tmbl``: a small vq_timbre model with hand-set weights whose codes
  differ in brightness by design (trained models need minutes to train and
  megabytes to store): code k's first latent value u_k (spread over [-1, 1],
  shuffled so that code order is not brightness order, as the thesis observes
  of trained codebooks) drives every GRU unit, and the harmonic filter's
  spectral tilt follows the GRU state; its ``metadata.descriptor_table`` is
  stored by ``timbrel.export.code_table``.
- ``centroid.csv``: a rising centroid target inside the table's 5th-95th
  percentile range, with a wiggle: one value per hop (hop t at t 256 / 22050
  s), so that every engine reads the very same float targets.
- ``out.wav``: ``timbrel draw --model model.tmbl --target centroid=centroid.csv
  --hysteresis 0.02 --smooth 1``, float32 WAV at 22050 Hz; ``codes.csv`` its
  code per hop.
- ``meta.json``: how they were made, the tolerance, the measured centroid r.
"""

from __future__ import annotations

import re
import json
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from timbrel.eval import core
from timbrel.export import export_model
from timbrel.export.code_table import analyse_codes, with_table
from timbrel.models.vq_timbre import VQTimbre

SEED = 20261124
CODES, LATENT, HIDDEN, ENCODER = 24, 4, 8, 16
DURATION_S = 2.0
DRAW_ARGS = ["--hysteresis", "0.02", "--smooth", "1"]
# WebAssembly vs native (SIMD kernels, another libm): per sample
# |got - want| <= REL * max |want| + ABS, and the codes equal.
TOLERANCE = {"rel_to_peak": 1e-4, "abs": 1e-6}


def brightness_model(seed: int = SEED) -> VQTimbre:
    """A model whose codes span a range of spectral centroids (see the module doc)."""
    g = torch.Generator().manual_seed(seed)
    m = VQTimbre(encoder_hidden=ENCODER, latent=LATENT, codes=CODES, hidden=HIDDEN)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(0.05 * torch.randn(p.shape, generator=g))
        u = torch.linspace(-1.0, 1.0, CODES)[torch.randperm(CODES, generator=g)]
        codebook = 0.3 * torch.randn(CODES, LATENT, generator=g)
        codebook[:, 0] = u
        m.vq.codebook.copy_(codebook)
        lin = m.decoder[0]  # [HIDDEN, LATENT + 3]: code first, then f0, voiced, loud
        lin.weight[:, 0] = 1.5 + 0.1 * torch.randn(HIDDEN, generator=g)
        lin.weight[:, LATENT + 2] = 0.3  # the loud conditioning lifts the state a little
        lin.bias.zero_()
        gru = m.decoder[2]  # h' ~ tanh(x): reset/update gates fixed, no recurrence
        gru.weight_hh_l0.zero_()
        gru.weight_ih_l0.zero_()
        gru.weight_ih_l0[2 * HIDDEN:] = torch.eye(HIDDEN)
        gru.bias_ih_l0.zero_()
        gru.bias_hh_l0.zero_()
        gru.bias_ih_l0[HIDDEN:2 * HIDDEN] = -2.0  # update gate ~0.12: settles within a few hops
        bins = torch.arange(257, dtype=torch.float32) / 256.0
        m.harmonic[0].weight.copy_((8.0 * bins)[:, None].expand(257, HIDDEN) / HIDDEN)
        m.harmonic[0].bias.copy_(2.0 - 12.0 * bins)
        m.noise[0].weight.copy_((6.0 * bins)[:, None].expand(257, HIDDEN) / HIDDEN)
        m.noise[0].bias.copy_(-5.0 - 4.0 * bins)
        m.gain[0].weight.fill_(0.2 / HIDDEN)
        # Gain ~0.05: the pulse train of 27 harmonics peaks near 27. The render must stay
        # under the CLI's limiter (-1 dBTP), or out.wav is not the engine's raw output
        # that the native and WASM tests compare with.
        m.gain[0].bias.fill_(-3.0)
    return m.eval()


def hop_count(seconds: float = DURATION_S) -> int:
    return math.ceil(round(seconds * 22050) / 256)


def centroid_curve(low: float, high: float, seconds: float = DURATION_S) -> np.ndarray:
    """One value per hop: a rise from low to high with a small wiggle."""
    share = np.arange(hop_count(seconds)) * 256 / 22050 / seconds
    return np.round(low + (high - low) * (0.1 + 0.8 * share + 0.05 * np.sin(2 * math.pi * 2 * share)), 2)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def generate(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    model = brightness_model()
    with tempfile.TemporaryDirectory(prefix="timbrel-draw-golden-") as tmp:
        exported = export_model(model.graphs(), "vq_timbre", "draw-golden",
                                model.metadata("test", (200.0, 800.0),
                                               {"corpus": "none (hand-set weights)", "steps": 0}),
                                tmp, onnx_graphs=(), step_graphs=())
        shutil.copyfile(exported["tmbl"], out / "model.tmbl")
    table, timing = analyse_codes(out / "model.tmbl")
    with_table(out / "model.tmbl", table)
    centroid = np.asarray(table["pitch"]["centroid_hz"])
    low, high = np.percentile(centroid, [5, 95])
    curve = centroid_curve(float(low), float(high))
    np.savetxt(out / "centroid.csv", curve, fmt="%.2f")
    command = [str(core.cli_path()), "draw", "--model", str(out / "model.tmbl"), "--target",
               f"centroid={out / 'centroid.csv'}", "--duration", str(DURATION_S), *DRAW_ARGS, "--codes", str(out / "codes.csv"),
               "-o", str(out / "out.wav")]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0 or "limited" in proc.stderr:
        raise RuntimeError(f"timbrel draw failed or limited its output: {proc.stderr}")
    measured = core.analyse_file(out / "out.wav")
    inside = (measured["time_s"] > 0.1) & (measured["time_s"] < DURATION_S - 0.1)
    target = np.interp(measured["time_s"], np.arange(len(curve)) * 256 / 22050, curve)
    meta = {
        "generator": "PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only draw",
        "seed": SEED,
        "model": {"codes": CODES, "latent": LATENT, "hidden": HIDDEN, "encoder_hidden": ENCODER,
                  "file": "model.tmbl", "centroid_hz_p5_p95": [round(float(low), 2), round(float(high), 2)]},
        # Without the seconds it took: the file stays the same from run to run.
        "analysis": re.sub(r" in [0-9.]+ s$", "", timing.strip().replace(str(out / "model.tmbl"),
                                                                           "model.tmbl")),
        "draw": {"args": ["--target", "centroid=centroid.csv", "--duration", str(DURATION_S),
                          *DRAW_ARGS], "sample_rate": 22050, "hops": hop_count(),
                 "samples": int(round(DURATION_S * 22050)), "out": "out.wav", "codes": "codes.csv"},
        "tolerance": TOLERANCE,
        "measured_centroid_r": round(pearson(target[inside], measured["centroid_hz"][inside]), 4),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return {}  # the facts live in meta.json, which the tests read
