"""Write the golden GMVAE files for the core's tests (tests/core/test_gmvae.cpp,
tests/core/test_gmvae_synth.cpp, the `timbrel notes` CLI test, tests/wasm/notes.test.mjs).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only gmvae

``oracle.tmbl`` is a small model of family ``gmvae`` that satisfies docs/gmvae.md and whose
decoder is set by hand so that the components' means decode to real notes: the checks that
need a model that knows pitch (f0 of a sampled note, sustain, transfer) run without a
trained one.

- 12 pitch components, MIDI 60-71 (C4-B4): ``pitch_means[m]`` = e_m (one-hot in dims 0-11);
  3 timbre components ``oboe``, ``french_horn``, ``piano``: ``timbre_means[k]`` = 2 e_k.
- ``decoder`` (linear layers only, the contract's output size 43 x 256 in one frame):
  unit m = relu(10 z_p[m] - 5) (5 at pitch m's mean, 0 at the others), unit 12 + k =
  relu(5 z_t[k] - 5) (5 at instrument k's mean); output = tanh(-2 + sum_m unit_m P_m / 5 +
  sum_k unit_k T_k / 5): P_m the pre-tanh log-mel of a harmonic tone at pitch m (harmonics
  1/h up to 5 kHz, amplitude 0.05, 5 ms attack: ``timbrel.mel`` of the tone), T_k <= 0 the
  instrument's shape (oboe: as is; french horn: -0.25 per octave above 300 Hz; piano:
  -0.03 per frame after the attack and -0.1 per octave above 500 Hz).
- ``pitch_encoder`` and ``timbre_encoder``: the trained model's layout, small
  (conv1d 256 -> 8, k 3, padding 1; relu; conv1d 8 -> 4, k 3, stride 2, padding 1; relu;
  flatten 22 frames; linear 88 -> 32), seeded random weights: plumbing and parity only.
- Metadata as the contract: map (PCA plane of the timbre means: residuals 0), brightness.

Parity files: ``patch.npy`` (a random scaled patch) through both encoders in PyTorch
(``pitch_encoder.npy``, ``timbre_encoder.npy``: [1, 32]) and ``latents.npy`` (A4 oboe, C4
piano, a random point) through the decoder (``decoded.npy``: [3, 43, 256]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from timbrel import mel
from timbrel.golden import save_npy
from timbrel.tmbl import write_tmbl

SEED = 20261215
LATENT = 16
PITCHES = list(range(60, 72))
INSTRUMENTS = ["oboe", "french_horn", "piano"]
DB_MIN, DB_MAX = -100.0, 60.0
PITCH_SIGMA, TIMBRE_SIGMA = float(np.exp(-2.0)), 1.0
BIAS = -2.0  # tanh(-2) = -0.964: about -97 dB, silence
ENCODER_CHANNELS, ENCODER_HALF = 8, 4


def _tone(midi: int) -> np.ndarray:
    """A harmonic tone at `midi`, 1.2 s: harmonics 1/h up to 5 kHz, amplitude 0.05, 5 ms attack."""
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    n = int(1.2 * mel.SAMPLE_RATE)
    t = np.arange(n) / mel.SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, int(5000 // f0) + 1))
    return 0.05 * tone * np.minimum(1.0, t / 0.005)


def _pre_tanh(scaled: np.ndarray) -> np.ndarray:
    return np.arctanh(np.clip(scaled, -0.98, 0.98))


def _band_hz() -> np.ndarray:
    edges = mel.mel_to_hz(np.linspace(mel.hz_to_mel(mel.FMIN), mel.hz_to_mel(mel.FMAX), mel.MEL_BINS + 2))
    return edges[1:-1]


def _instrument_shape(k: int) -> np.ndarray:
    """T_k [frames, mel] <= 0 in pre-tanh units."""
    octaves = lambda above: np.maximum(0.0, np.log2(_band_hz() / above))  # noqa: E731
    frames = np.arange(mel.FRAMES)[:, None]
    if INSTRUMENTS[k] == "oboe":
        return np.zeros((mel.FRAMES, mel.MEL_BINS))
    if INSTRUMENTS[k] == "french_horn":
        return np.broadcast_to(-0.25 * octaves(300.0)[None, :], (mel.FRAMES, mel.MEL_BINS)).copy()
    return -0.03 * np.maximum(0, frames - 2) - 0.1 * octaves(500.0)[None, :]


def decoder_weights():
    m, k = len(PITCHES), len(INSTRUMENTS)
    w0 = np.zeros((m + k, 2 * LATENT))
    b0 = np.zeros(m + k)
    for i in range(m):
        w0[i, i], b0[i] = 10.0, -5.0
    for i in range(k):
        w0[m + i, LATENT + i], b0[m + i] = 5.0, -5.0
    w1 = np.zeros((mel.FRAMES * mel.MEL_BINS, m + k))
    for i, midi in enumerate(PITCHES):
        pre = _pre_tanh(mel.scale(mel.mel_db(_tone(midi)), DB_MIN, DB_MAX)) - BIAS
        w1[:, i] = pre.reshape(-1) / 5.0
    for i in range(k):
        w1[:, m + i] = _instrument_shape(i).reshape(-1) / 5.0
    b1 = np.full(mel.FRAMES * mel.MEL_BINS, BIAS)
    return w0, b0, w1, b1


def _encoder(gen: torch.Generator) -> nn.Sequential:
    half_frames = (mel.FRAMES + 2 - 3) // 2 + 1
    enc = nn.Sequential(nn.Conv1d(mel.MEL_BINS, ENCODER_CHANNELS, 3, padding=1), nn.ReLU(),
                        nn.Conv1d(ENCODER_CHANNELS, ENCODER_HALF, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(half_frames * ENCODER_HALF, 2 * LATENT))
    with torch.no_grad():
        for p in enc.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return enc


def _encode(enc: nn.Sequential, patch: np.ndarray) -> np.ndarray:
    """[frames, mel] -> [1, 2 latent]: the convolutions over time, flatten time-major."""
    x = torch.from_numpy(patch.astype(np.float32)).T.unsqueeze(0)  # [1, mel, frames]
    h = enc[3](enc[2](enc[1](enc[0](x))))                          # [1, C, T']
    flat = h.transpose(1, 2).reshape(1, -1)                          # time outer, as the core
    return enc[5](flat).detach().numpy()


def _encoder_ops(prefix: str, enc: nn.Sequential, tensors: dict) -> list:
    half_frames = (mel.FRAMES + 2 - 3) // 2 + 1
    ops = []
    for i, stride in ((0, 1), (2, 2)):
        conv = enc[i]
        tensors[f"{prefix}.{i}.weight"] = conv.weight.detach().numpy().transpose(2, 0, 1)  # [k, out, in]
        tensors[f"{prefix}.{i}.bias"] = conv.bias.detach().numpy()
        ops += [{"op": "conv1d", "weight": f"{prefix}.{i}.weight", "bias": f"{prefix}.{i}.bias",
                 "stride": stride, "dilation": 1, "padding_left": 1, "padding_right": 1},
                {"op": "relu"}]
    tensors[f"{prefix}.5.weight"] = enc[5].weight.detach().numpy()
    tensors[f"{prefix}.5.bias"] = enc[5].bias.detach().numpy()
    ops += [{"op": "flatten", "frames": half_frames},
            {"op": "linear", "weight": f"{prefix}.5.weight", "bias": f"{prefix}.5.bias"}]
    return ops


def metadata() -> dict:
    pitch_means = np.eye(len(PITCHES), LATENT)
    timbre_means = 2.0 * np.eye(len(INSTRUMENTS), LATENT)
    center = timbre_means.mean(0)
    _, _, vt = np.linalg.svd(timbre_means - center)
    axes = vt[:2]
    points = []
    for k in range(len(INSTRUMENTS)):
        for midi in PITCHES:
            x, y = axes @ (timbre_means[k] - center)
            jitter = 0.05 * np.sin([midi, 2 * midi + k])
            points.append([float(x + jitter[0]), float(y + jitter[1]), k, midi])
    residuals = timbre_means - center - (timbre_means - center) @ axes.T @ axes
    return {
        "sample_rate": mel.SAMPLE_RATE, "window": mel.WINDOW, "hop": mel.HOP,
        "frames": mel.FRAMES, "mel_bins": mel.MEL_BINS, "fmin": mel.FMIN, "fmax": mel.FMAX,
        "db_min": DB_MIN, "db_max": DB_MAX, "latent": LATENT,
        "pitches": PITCHES, "instruments": INSTRUMENTS,
        "instrument_ranges": [[PITCHES[0], PITCHES[-1]]] * len(INSTRUMENTS),
        "pitch_means": pitch_means.tolist(), "pitch_sigma": PITCH_SIGMA,
        "timbre_means": timbre_means.tolist(), "timbre_sigma": TIMBRE_SIGMA,
        "map": {"center": center.tolist(), "axes": axes.tolist(), "points": points,
                "residuals": np.round(residuals, 12).tolist()},
        "brightness": {"dim": 3, "r": 0.8, "low": -2.5, "high": 2.5, "hz_per_unit": 300.0},
    }


def generate(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    pitch_encoder, timbre_encoder = _encoder(gen), _encoder(gen)
    tensors: dict = {}
    graphs = {"pitch_encoder": _encoder_ops("pitch_encoder", pitch_encoder, tensors),
              "timbre_encoder": _encoder_ops("timbre_encoder", timbre_encoder, tensors)}
    w0, b0, w1, b1 = decoder_weights()
    tensors.update({"decoder.0.weight": w0, "decoder.0.bias": b0,
                    "decoder.2.weight": w1, "decoder.2.bias": b1})
    graphs["decoder"] = [{"op": "linear", "weight": "decoder.0.weight", "bias": "decoder.0.bias"},
                         {"op": "relu"},
                         {"op": "linear", "weight": "decoder.2.weight", "bias": "decoder.2.bias"},
                         {"op": "tanh"}]
    tensors = {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}
    meta = metadata()
    write_tmbl(out / "oracle.tmbl", "gmvae", "oracle", meta, graphs, tensors)

    rng = np.random.default_rng(SEED)
    patch = rng.uniform(-1.0, 1.0, size=(mel.FRAMES, mel.MEL_BINS)).astype(np.float32)
    save_npy(out / "patch.npy", patch, "f4")
    save_npy(out / "pitch_encoder.npy", _encode(pitch_encoder, patch), "f4")
    save_npy(out / "timbre_encoder.npy", _encode(timbre_encoder, patch), "f4")
    latents = np.zeros((3, 2 * LATENT), dtype=np.float32)
    latents[0, :LATENT] = meta["pitch_means"][PITCHES.index(69)]
    latents[0, LATENT:] = meta["timbre_means"][0]
    latents[1, :LATENT] = meta["pitch_means"][0]
    latents[1, LATENT:] = meta["timbre_means"][2]
    latents[2] = rng.standard_normal(2 * LATENT).astype(np.float32)
    save_npy(out / "latents.npy", latents, "f4")
    with torch.no_grad():
        z = torch.from_numpy(latents)
        h = torch.relu(z @ torch.from_numpy(tensors["decoder.0.weight"]).T +
                       torch.from_numpy(tensors["decoder.0.bias"]))
        y = torch.tanh(h @ torch.from_numpy(tensors["decoder.2.weight"]).T +
                       torch.from_numpy(tensors["decoder.2.bias"]))
    save_npy(out / "decoded.npy", y.numpy().reshape(3, mel.FRAMES, mel.MEL_BINS), "f4")
    return {
        "contract": "docs/gmvae.md",
        "torch_version": torch.__version__,
        "tolerances": {"encoders": 1e-4, "decoder": 1e-5},
        "files": {
            "oracle.tmbl": ("family gmvae, 12 pitches (MIDI 60-71), instruments oboe, french_horn, "
                            "piano; hand-set linear decoder (components' means decode to tones), "
                            "small random conv encoders"),
            "patch.npy": "float32 [43, 256] uniform in [-1, 1]",
            "pitch_encoder.npy": "float32 [1, 32] PyTorch pitch_encoder(patch): mean, log-variance",
            "timbre_encoder.npy": "float32 [1, 32] PyTorch timbre_encoder(patch)",
            "latents.npy": "float32 [3, 32] [z_p, z_t]: A4 oboe means, C4 piano means, N(0, I)",
            "decoded.npy": "float32 [3, 43, 256] PyTorch decoder(latents)",
        },
    }
