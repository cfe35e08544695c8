"""Golden files for the core's ``vq_timbre`` parity test (models/README.md, synthesis contract).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only vq

A small random-weight model with the real bin counts (513 features, 257 filter bins;
encoder 32, D 8, K 16, GRU 24) and a 1.5 s test input (a voiced glide, unvoiced noise,
silence, then a steady tone that re-enters after the silence), rendered offline by the
PyTorch synthesiser in three ways. The core is fed ``pitch.npy`` rather than its own YIN,
so that a voicing decision flipping at the YIN threshold cannot break the comparison
(the DSP tests hold the two YINs together separately).

Files (all float32 little-endian ``.npy`` unless noted):

- ``model.tmbl``: the model (timbrel.export), metadata per the contract
- ``input.npy`` [L]: the input, L = 33075 (1.5 s at 22050 Hz)
- ``pitch.npy`` [T, 2]: (f0 Hz, voiced 0/1) per hop, reference YIN on the input, T = ceil(L / 256) + 1
- ``out_pitch.npy``, ``out_pitch_up1.npy``, ``out_noise.npy`` [L]: outputs in pitch-following
  mode with octaves 0 and +1, and in noise mode; noise seed 0x9E3779B9
- ``codes.npy`` (int32 [T]): the quantizer's chosen code per hop
- ``loudness.npy`` [T], ``gain_<render>.npy`` [T]: intermediate values, for debugging
- ``meta.json``: seed, octaves per file, sizes, tolerance, how they were made

Deterministic: seeded; the codebook is placed near the encoder's outputs and redrawn until
every hop's nearest code beats the second nearest by a clear margin (no near-ties that a
float32 engine could flip).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict

import numpy as np
import torch

from timbrel.export import export_model
from timbrel.models.vq_timbre import (HOP, NOISE_SEED, SAMPLE_RATE, VQTimbre, analysis_frames,
                                      features, hop_count, loudness, pitch_track)

SEED = 20261123
LENGTH = 33075  # 1.5 s
# Per output file: max |got - want| <= REL * max |want| + ABS (float32 engine vs this float64
# synthesis); the code indices must match exactly.
TOLERANCE = {"rel_to_peak": 1e-4, "abs": 1e-6}
RENDERS = {"out_pitch": {"octaves": 0, "noise_mode": False},
           "out_pitch_up1": {"octaves": 1, "noise_mode": False},
           "out_noise": {"octaves": 0, "noise_mode": True}}
SMALL = dict(encoder_hidden=32, latent=8, codes=16, hidden=24)


def test_input(rng: np.random.Generator) -> np.ndarray:
    """0.05 s silence, 0.6 s voiced glide 180 -> 360 Hz (5 harmonics, swell), 0.35 s
    white noise, 0.2 s silence, 0.3 s steady 500 Hz tone; short fades, peak ~0.5."""
    sr = SAMPLE_RATE
    x = np.zeros(LENGTH)

    def seg(a, b):
        return int(round(a * sr)), int(round(b * sr))

    def fade(n, ms=10):
        k = min(n // 2, int(ms * sr / 1000))
        env = np.ones(n)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
        env[:k], env[n - k:] = ramp, ramp[::-1]
        return env

    a, b = seg(0.05, 0.65)
    n = b - a
    f = 180.0 * 2.0 ** (np.arange(n) / n)
    phase = 2 * np.pi * np.cumsum(f) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    x[a:b] = 0.3 * tone * (0.6 + 0.4 * np.sin(np.pi * np.arange(n) / n)) * fade(n)
    a, b = seg(0.65, 1.0)
    x[a:b] = 0.2 * rng.uniform(-1, 1, b - a) * fade(b - a)
    a, b = seg(1.2, 1.5)
    n = b - a
    phase = 2 * np.pi * 500.0 * np.arange(n) / sr
    x[a:b] = 0.25 * (np.sin(phase) + 0.3 * np.sin(2 * phase)) * fade(n)
    return x.astype(np.float32)


def _margins(model: VQTimbre, x: np.ndarray, T: int) -> np.ndarray:
    with torch.no_grad():
        frames = analysis_frames(torch.from_numpy(x).double()[None], T)
        z = model.encoder(features(frames).float())[0].double()
        d = ((z[:, None, :] - model.vq.codebook.double()[None]) ** 2).sum(-1)
        s = d.sort(1).values
    return ((s[:, 1] - s[:, 0]) / s[:, 1].clamp_min(1e-12)).numpy()


def build_model(x: np.ndarray, T: int) -> VQTimbre:
    model = VQTimbre(**SMALL).eval()
    with torch.no_grad():
        # Quiet enough (peaks under -1 dBFS) that the engines' output guard, which
        # limits above -1 dBTP, leaves the parity renders untouched.
        model.gain[0].weight.mul_(0.1)
        model.gain[0].bias.fill_(math.log(math.expm1(0.02)))
        frames = analysis_frames(torch.from_numpy(x).double()[None], T)
        z = model.encoder(features(frames).float())[0]
        for _ in range(100):
            pick = z[torch.randint(0, T, (model.codes,))]
            model.vq.codebook.copy_(pick + 0.5 * z.std(0) * torch.randn_like(pick))
            if _margins(model, x, T).min() > 1e-3:
                return model
    raise RuntimeError("could not place a codebook without near-ties")


def generate(out: Path) -> Dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    x = test_input(rng)
    T = hop_count(len(x))
    pitch = pitch_track(x, T).astype(np.float32)
    model = build_model(x, T)
    meta_model = model.metadata("golden test", (100.0, 800.0),
                                {"note": "random weights, parity test only"})
    export_model(model.graphs(), model.family, "model", meta_model, out, onnx_graphs=[],
                 step_graphs=[])
    files: Dict[str, Dict] = {}

    def save(name: str, a: np.ndarray, dtype="<f4") -> None:
        a = np.ascontiguousarray(a, dtype=np.dtype(dtype))
        np.save(out / f"{name}.npy", a, allow_pickle=False)
        files[f"{name}.npy"] = {"shape": list(a.shape), "dtype": str(a.dtype)}

    save("input", x)
    save("pitch", pitch)
    xt = torch.from_numpy(x)[None]
    with torch.no_grad():
        frames = analysis_frames(xt.double(), T)
        save("loudness", loudness(frames)[0].float().numpy())
        model.encode(features(frames).float())
        save("codes", model.vq.indices[0].numpy(), "<i4")
    renders = {}
    for name, opts in RENDERS.items():
        y = model.render(x, pitch, seed=NOISE_SEED, **opts)
        assert np.all(np.isfinite(y)) and np.abs(y).max() > 1e-3, name
        save(name, y)
        with torch.no_grad():
            r = model(xt, torch.from_numpy(pitch[:, 0])[None], torch.from_numpy(pitch[:, 1])[None],
                      noise=torch.zeros(1, T * HOP), dsp_dtype=torch.float64, **opts)
        save(f"gain_{name[4:]}", r["gain"][0, :, 0].numpy())
        renders[f"{name}.npy"] = dict(opts, seed=NOISE_SEED, peak=float(np.abs(y).max()))
    voiced = pitch[:, 1] > 0.5
    meta = {
        "generator": "PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only vq",
        "contract": "models/README.md, section 'Family vq_timbre' (synthesis contract)",
        "seed": SEED, "torch": torch.__version__.split("+")[0],
        "sample_rate": SAMPLE_RATE, "samples": int(len(x)), "hops": int(T),
        "hop_rule": "T = ceil(L / 256) + 1 hops; x is zero outside [0, L); out[0:L] kept",
        "noise_seed": NOISE_SEED, "noise_seed_hex": hex(NOISE_SEED),
        "model": dict(SMALL, bins=513, filter_bins=257, file="model.tmbl"),
        "renders": renders,
        "tolerance": dict(TOLERANCE, rule="per output file: max|got - want| <= rel_to_peak * "
                          "max|want| + abs; codes.npy must match exactly"),
        "how": "input.npy: test_input() (silence, voiced glide 180->360 Hz, noise, silence, "
               "500 Hz tone); pitch.npy: timbrel.dsp_reference.yin on every analysis frame "
               "(x[e-1024:e], e = (t+1)*256), float32; outputs: VQTimbre.render (features and "
               "synthesis in float64, networks in float32, xorshift32 noise) fed pitch.npy; "
               "gain_*.npy / loudness.npy / codes.npy: the same render's intermediates",
        "input_parts_s": {"silence": [0.0, 0.05], "glide": [0.05, 0.65], "noise": [0.65, 1.0],
                          "silence2": [1.0, 1.2], "tone_500hz": [1.2, 1.5]},
        "voiced_hops": int(voiced.sum()),
        "min_vq_margin": float(_margins(model, x, T).min()),
        "files": files,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return {}  # the facts live in meta.json, which the tests read
