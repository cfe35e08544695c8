"""python -m timbrel.fuzz_files: writes the fuzzers' seed corpora and the hostile model files.

- ``tests/fuzz/corpus/<target>/``: small valid inputs for each libFuzzer target
  (tests/fuzz/README.md): tiny models of every family and op (``model``), MIDI
  files of both formats with running status, tempo changes and SMPTE time
  (``midi``), WAV files of every sample format the reader takes (``wav``) and
  curve files of both kinds (``curve``).
- ``tests/hostile/models/``: one file per finding of the hostile-file review
  (issue 12) and ``expected.json``, the exact message the core gives for each
  (``VqTimbre::load``, natively and in WebAssembly: tests/core/test_model_limits.cpp,
  tests/wasm/hostile_models.test.mjs).

Deterministic: rerunning it rewrites the same bytes.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from timbrel.tmbl import write_tmbl

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
HOSTILE = ROOT / "tests" / "hostile" / "models"


def _weights(rng, *shape):
    return (rng.standard_normal(shape) * 0.3).astype(np.float32)


def _linear(name):
    return {"op": "linear", "weight": f"{name}.weight", "bias": f"{name}.bias"}


def write_model_seeds(out: Path) -> None:
    rng = np.random.default_rng(12)
    out.mkdir(parents=True, exist_ok=True)
    # vq_timbre, quantized and not: latent 2, hidden 4, 4 codes.
    for quantized in (True, False):
        t = {"enc.weight": _weights(rng, 2, 513), "enc.bias": _weights(rng, 2),
             "dec.weight": _weights(rng, 4, 5), "dec.bias": _weights(rng, 4),
             "gru.ih": _weights(rng, 12, 4), "gru.hh": _weights(rng, 12, 4),
             "gru.bih": _weights(rng, 12), "gru.bhh": _weights(rng, 12),
             "harm.weight": _weights(rng, 257, 4), "harm.bias": _weights(rng, 257),
             "noise.weight": _weights(rng, 257, 4), "noise.bias": _weights(rng, 257),
             "gain.weight": _weights(rng, 1, 4), "gain.bias": _weights(rng, 1)}
        graphs = {"encoder": [_linear("enc")],
                  "decoder": [_linear("dec"), {"op": "leaky_relu", "slope": 0.2},
                              {"op": "gru", "weight_ih": "gru.ih", "weight_hh": "gru.hh",
                               "bias_ih": "gru.bih", "bias_hh": "gru.bhh"}],
                  "harmonic": [_linear("harm"), {"op": "sigmoid"}],
                  "noise": [_linear("noise"), {"op": "sigmoid"}],
                  "gain": [_linear("gain"), {"op": "softplus", "beta": 1.0, "threshold": 20.0}]}
        meta = {"sample_rate": 22050, "window": 1024, "hop": 256, "synthesis_window": 512,
                "latent": 2, "hidden": 4, "instrument": "seed", "f0_range_hz": [100.0, 800.0],
                "quantized": quantized}
        if quantized:
            graphs["quantizer"] = [{"op": "vq", "codebook": "vq.codebook"}]
            t["vq.codebook"] = _weights(rng, 4, 2)
            meta["codes"] = 4
        write_tmbl(out / f"vq_timbre{'' if quantized else '_unquantized'}.tmbl", "vq_timbre",
                   "seed", meta, graphs, t)
    # crossmodal_vae, one instrument, one linear per graph.
    latent = 32
    t = {"se.weight": _weights(rng, 64, 409), "se.bias": _weights(rng, 64),
         "sd.weight": _weights(rng, 409, latent), "sd.bias": _weights(rng, 409),
         "ye.weight": _weights(rng, 64, 24), "ye.bias": _weights(rng, 64),
         "yd.weight": _weights(rng, 24, latent), "yd.bias": _weights(rng, 24)}
    axes = rng.standard_normal((2, latent))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    meta = {"sample_rate": 22050, "window": 2048, "hop": 256, "bins_per_octave": 48,
            "f_min": 30.0, "f_max": 11000.0, "n_bins": 409, "log_floor": 0.0001, "latent": latent,
            "instruments": ["seed"], "octaves": list(range(9)), "dynamics": ["pp", "mf", "ff"],
            "dynamics_velocity": [40, 80, 120], "pitch_ranges": [[60, 64]],
            "latent_projection": {"mean": [0.0] * latent,
                                  "axes": [[round(float(v), 6) for v in a] for a in axes],
                                  "extent": [[-1.0, 1.0], [-1.0, 1.0]]},
            "training": {"note": "fuzz seed"}}
    graphs = {"signal_encoder": [_linear("se")], "signal_decoder": [_linear("sd"), {"op": "relu"}],
              "symbol_encoder": [_linear("ye")], "symbol_decoder": [_linear("yd")]}
    write_tmbl(out / "crossmodal_vae.tmbl", "crossmodal_vae", "seed", meta, graphs, t)
    # Every other op, family "test": convolutions (causal, strided, padded),
    # flatten, layer_norm, vq, each activation.
    t = {"c1.weight": _weights(rng, 3, 4, 2), "c1.bias": _weights(rng, 4),
         "c2.weight": _weights(rng, 2, 3, 4), "c2.bias": _weights(rng, 3),
         "ln.weight": _weights(rng, 3), "ln.bias": _weights(rng, 3),
         "vq.codebook": _weights(rng, 5, 3)}
    graphs = {"stream": [{"op": "conv1d", "weight": "c1.weight", "bias": "c1.bias", "stride": 1,
                          "dilation": 2, "padding_left": 4, "padding_right": 0},
                         {"op": "elu", "alpha": 1.0},
                         {"op": "conv1d", "weight": "c2.weight", "bias": "c2.bias", "stride": 2,
                          "dilation": 1, "padding_left": 1, "padding_right": 0},
                         {"op": "layer_norm", "weight": "ln.weight", "bias": "ln.bias",
                          "eps": 1e-5},
                         {"op": "tanh"}, {"op": "vq", "codebook": "vq.codebook"},
                         {"op": "log1p"}]}
    write_tmbl(out / "ops_streaming.tmbl", "test", "seed", {"sample_rate": 22050}, graphs, t)
    t = {"c.weight": _weights(rng, 3, 2, 2), "c.bias": _weights(rng, 2),
         "l.weight": _weights(rng, 3, 8), "l.bias": _weights(rng, 3)}
    graphs = {"offline": [{"op": "conv1d", "weight": "c.weight", "bias": "c.bias", "stride": 1,
                           "dilation": 1, "padding_left": 1, "padding_right": 1},
                          {"op": "relu"}, {"op": "flatten", "frames": 4}, _linear("l"),
                          {"op": "softplus", "beta": 2.0, "threshold": 10.0}]}
    write_tmbl(out / "ops_offline.tmbl", "test", "seed", {}, graphs, t)
    t = {"p.weight": _weights(rng, 6, 3), "p.bias": _weights(rng, 6),
         "g.ih": _weights(rng, 6, 6), "g.hh": _weights(rng, 6, 2)}
    graphs = {"fused": [_linear("p"), {"op": "gru", "weight_ih": "g.ih", "weight_hh": "g.hh",
                                       "bias_ih": None, "bias_hh": None},
                        {"op": "sigmoid"}]}
    write_tmbl(out / "linear_gru.tmbl", "test", "seed", {"hop": 256, "window": 1024}, graphs, t)
    # The same with float16 tensors ("dtype": "f16": the loader's other element size).
    write_tmbl(out / "linear_gru_f16.tmbl", "test", "seed", {"hop": 256, "window": 1024}, graphs, t,
               dtype="f16")
    # A dense layer unflattened into frames for a convolution (the GMVAE's decoder).
    t = {"d.weight": _weights(rng, 8, 3), "d.bias": _weights(rng, 8),
         "c.weight": _weights(rng, 3, 2, 2), "c.bias": _weights(rng, 2)}
    graphs = {"decoder": [_linear("d"), {"op": "relu"}, {"op": "unflatten", "frames": 4},
                          {"op": "conv1d", "weight": "c.weight", "bias": "c.bias", "stride": 1,
                           "dilation": 1, "padding_left": 1, "padding_right": 1},
                          {"op": "tanh"}]}
    write_tmbl(out / "ops_unflatten.tmbl", "test", "seed", {}, graphs, t)
    # gmvae (docs/gmvae.md): 2 pitches, 2 instruments; encoders conv1d 256 -> 1 (k 1),
    # flatten, linear 43 -> 32; decoder linear 32 -> 43, unflatten, conv1d 1 -> 256 (k 3), tanh.
    t = {}
    graphs = {}
    for e in ("pitch_encoder", "timbre_encoder"):
        t.update({f"{e}.c.weight": _weights(rng, 1, 1, 256), f"{e}.c.bias": _weights(rng, 1),
                  f"{e}.l.weight": _weights(rng, 32, 43), f"{e}.l.bias": _weights(rng, 32)})
        graphs[e] = [{"op": "conv1d", "weight": f"{e}.c.weight", "bias": f"{e}.c.bias",
                      "stride": 1, "dilation": 1, "padding_left": 0, "padding_right": 0},
                     {"op": "flatten", "frames": 43}, _linear(f"{e}.l")]
    t.update({"decoder.d.weight": _weights(rng, 43, 32), "decoder.d.bias": _weights(rng, 43),
              "decoder.c.weight": _weights(rng, 3, 256, 1), "decoder.c.bias": _weights(rng, 256)})
    graphs["decoder"] = [_linear("decoder.d"), {"op": "relu"}, {"op": "unflatten", "frames": 43},
                         {"op": "conv1d", "weight": "decoder.c.weight", "bias": "decoder.c.bias",
                          "stride": 1, "dilation": 1, "padding_left": 1, "padding_right": 1},
                         {"op": "tanh"}]
    unit = lambda d: [1.0 if i == d else 0.0 for i in range(16)]  # noqa: E731
    meta = {"sample_rate": 22050, "window": 2048, "hop": 256, "frames": 43, "mel_bins": 256,
            "fmin": 20.0, "fmax": 11025.0, "db_min": -100.0, "db_max": 60.0, "latent": 16,
            "pitches": [60, 62], "instruments": ["a", "b"], "instrument_ranges": [[60, 62]] * 2,
            "pitch_means": [unit(0), unit(1)], "pitch_sigma": 0.1353,
            "timbre_means": [unit(2), unit(3)], "timbre_sigma": 1.0,
            "map": {"center": [0.0] * 16, "axes": [unit(2), unit(3)],
                    "points": [[1.0, 0.0, 0, 60], [0.0, 1.0, 1, 62]],
                    "residuals": [[0.0] * 16, [0.0] * 16]},
            "brightness": {"dim": 3, "r": 0.5, "low": -2.0, "high": 2.0, "hz_per_unit": 100.0}}
    write_tmbl(out / "gmvae.tmbl", "gmvae", "seed", meta, graphs, t)
    # grains (docs/grains.md): d_z 2, d_e 2, 2 classes, 2 grains, 4 post-filter taps; the
    # trained layout's graphs (strided convolutions, residual blocks, GRUs) at width 2-4.
    t = {}

    def lin(name, n_in, n_out):
        t[f"{name}.weight"] = _weights(rng, n_out, n_in)
        t[f"{name}.bias"] = _weights(rng, n_out)
        return _linear(name)

    def conv(name, n_in, n_out, kernel, stride, pad):
        t[f"{name}.weight"] = _weights(rng, kernel, n_out, n_in)
        t[f"{name}.bias"] = _weights(rng, n_out)
        return {"op": "conv1d", "weight": f"{name}.weight", "bias": f"{name}.bias",
                "stride": stride, "dilation": 1, "padding_left": pad, "padding_right": pad}

    def gru(name, n_in, hidden):
        for k, shape in (("ih", (3 * hidden, n_in)), ("hh", (3 * hidden, hidden)),
                         ("bih", (3 * hidden,)), ("bhh", (3 * hidden,))):
            t[f"{name}.{k}"] = _weights(rng, *shape)
        return {"op": "gru", "weight_ih": f"{name}.ih", "weight_hh": f"{name}.hh",
                "bias_ih": f"{name}.bih", "bias_hh": f"{name}.bhh"}

    def norm(name, n):
        t[f"{name}.weight"] = np.ones(n, np.float32)
        t[f"{name}.bias"] = _weights(rng, n)
        return {"op": "layer_norm", "weight": f"{name}.weight", "bias": f"{name}.bias",
                "eps": 1e-5}

    leaky = {"op": "leaky_relu", "slope": 0.2}
    graphs = {
        "grain_encoder": [
            conv("ge.0", 1, 2, 32, 16, 8), {"op": "relu"}, {"op": "log1p"},
            {"op": "residual", "ops": [lin("ge.3.body.0", 2, 2), leaky, lin("ge.3.body.2", 2, 2)]},
            conv("ge.4", 2, 2, 8, 4, 2), leaky,
            {"op": "residual", "ops": [lin("ge.6.body.0", 2, 2), leaky, lin("ge.6.body.2", 2, 2)]},
            conv("ge.7", 2, 2, 8, 4, 2), leaky, {"op": "flatten", "frames": 8},
            lin("ge.10", 16, 4), leaky, lin("ge.12", 4, 4)],
        "grain_decoder": [
            lin("gd.0", 4, 4), norm("gd.1", 4), leaky,
            {"op": "residual", "ops": [lin("gd.3.body.0", 4, 4), norm("gd.3.body.1", 4), leaky]},
            lin("gd.4", 4, 1025), {"op": "softplus", "beta": 1.0, "threshold": 20.0}],
        "sequence_encoder": [lin("se.0", 4, 3), leaky, gru("se.2", 3, 3)],
        "embedding": [lin("em.0", 3, 4)],
        "sequence_decoder": [gru("sd.0", 4, 3), lin("sd.1", 3, 2)]}
    meta = {"sample_rate": 22050, "grain": 2048, "hop": 512, "bins": 1025, "grains": 2,
            "samples": 2560, "latent": 2, "embedding": 2, "classes": ["kick", "snare"],
            "encoder_input_gain": 1000.0, "encoder_gain_folded": True,
            "conditioning": "one_hot_after_input", "window": "hann_periodic_flat_ends",
            "ola_normalisation": "window_sum", "filter": "softplus_magnitude_zero_phase",
            "noise": {"distribution": "uniform", "low": -1.0, "high": 1.0,
                      "generator": "xorshift32", "seed": 1779033703},
            "post_processing": True, "post_filter": [1.0, 0.1, -0.05, 0.02],
            "grain_map": {"mean": [0.1, -0.1], "axes": [[1.0, 0.0], [0.0, 1.0]],
                          "extent": [-1.0, 1.0, -1.0, 1.0],
                          "class_points": [[0.5, 0.0], [-0.5, 0.2]]},
            "onset_centroids": [[0.3, 0.1], [-0.2, 0.4]],
            "class_embeddings": [[0.5, -0.5], [0.1, 0.2]]}
    write_tmbl(out / "grains.tmbl", "grains", "seed", meta, graphs, t)


# --- MIDI -----------------------------------------------------------------------


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _smf(fmt: int, division: int, tracks) -> bytes:
    data = b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), division & 0xFFFF)
    for events in tracks:
        body = b"".join(_vlq(delta) + ev for delta, ev in events) + b"\x00\xff\x2f\x00"
        data += b"MTrk" + struct.pack(">I", len(body)) + body
    return data


def write_midi_seeds(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tempo = b"\xff\x51\x03" + (500000).to_bytes(3, "big")
    name = b"\xff\x03\x05piano"
    scale = []
    for i, pitch in enumerate([60, 62, 64, 65, 67]):
        scale += [(0 if i == 0 else 0, bytes([0x90, pitch, 90])), (240, bytes([0x80, pitch, 0]))]
    (out / "format0.mid").write_bytes(_smf(0, 480, [[(0, tempo), (0, name)] + scale]))
    # Running status, note-on velocity 0 as note-off, a tempo change, a drum channel,
    # program change, pitch bend, a sysex and a text event.
    running = [(0, bytes([0x91, 64, 100])), (120, bytes([67, 100])), (120, bytes([64, 0])),
               (120, bytes([67, 0])), (0, bytes([0xC1, 40])), (0, bytes([0xE1, 0, 64])),
               (0, b"\xf0\x03\x7e\x7f\xf7"), (0, b"\xff\x01\x04note"),
               (60, bytes([0x99, 36, 110])), (60, bytes([0x89, 36, 0]))]
    conductor = [(0, tempo), (480, b"\xff\x51\x03" + (300000).to_bytes(3, "big")),
                 (0, b"\xff\x58\x04\x04\x02\x18\x08")]
    (out / "format1.mid").write_bytes(_smf(1, 96, [conductor, running, scale]))
    # SMPTE time: 25 frames per second, 40 ticks per frame.
    (out / "smpte.mid").write_bytes(_smf(0, ((256 - 25) << 8) | 40, [scale]))
    # A note never released (closed at the track's end) and a stray note-off.
    (out / "open_note.mid").write_bytes(
        _smf(0, 480, [[(0, bytes([0x90, 70, 64])), (10, bytes([0x80, 71, 0]))]]))


# --- WAV ------------------------------------------------------------------------


def _wav(fmt: int, channels: int, rate: int, bits: int, frames: bytes, extensible=False) -> bytes:
    block = channels * bits // 8
    if extensible:
        sub = struct.pack("<H", fmt) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt_chunk = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits,
                                22, bits, (1 << channels) - 1) + sub
    else:
        fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    body += b"LIST" + struct.pack("<I", 4) + b"INFO"
    body += b"data" + struct.pack("<I", len(frames)) + frames
    if len(frames) % 2:
        body += b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav_seeds(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    n = 64
    x = np.sin(2 * math.pi * 440 * np.arange(n) / 8000)
    pcm16 = (x * 20000).astype("<i2")
    (out / "pcm16_mono.wav").write_bytes(_wav(1, 1, 8000, 16, pcm16.tobytes()))
    stereo = np.stack([pcm16, -pcm16], axis=1).astype("<i2")
    (out / "pcm16_stereo.wav").write_bytes(_wav(1, 2, 22050, 16, stereo.tobytes()))
    pcm24 = b"".join(int(v * 8000000).to_bytes(3, "little", signed=True) for v in x)
    (out / "pcm24.wav").write_bytes(_wav(1, 1, 44100, 24, pcm24))
    pcm32 = (x * 2e9).astype("<i4")
    (out / "pcm32_extensible.wav").write_bytes(_wav(1, 1, 48000, 32, pcm32.tobytes(), True))
    (out / "float32.wav").write_bytes(_wav(3, 1, 16000, 32, x.astype("<f4").tobytes()))


# --- curves ---------------------------------------------------------------------


def write_curve_seeds(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "timed.csv").write_text("time_s,value\n0,1000\n0.5,2000\n# comment\n\n1.25,1500\n")
    (out / "per_hop.csv").write_text("0.1\n0.2\n 0.4 \n0.8\n")
    (out / "exponents.csv").write_text("0,1e3\n1e-2,-2.5E2\n3,0x10\n")


# --- hostile models -------------------------------------------------------------


def _raw_tmbl(header_text: bytes, data: bytes = b"") -> bytes:
    head = b"TMBL" + struct.pack("<II", 1, len(header_text)) + header_text
    head += b"\0" * ((-len(head)) % 16)
    body = head + data
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def _header(ops, tensors, family="test", metadata=None) -> bytes:
    h = {"family": family, "name": "hostile", "metadata": metadata or {},
         "graphs": {"main": ops} if isinstance(ops, list) else ops, "tensors": tensors}
    return json.dumps(h, separators=(",", ":")).encode()


def write_hostile_models(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    expected = {}
    lin = {"op": "linear", "weight": "w", "bias": None}

    def put(name, data, message):
        (out / name).write_bytes(data)
        expected[name] = message

    put("wrapping_offset.tmbl",
        _raw_tmbl(_header([lin], [{"name": "w", "shape": [2, 2], "offset": 2**64 - 16}]),
                  b"\0" * 64),
        "model file: truncated: tensor 'w' (16 bytes) lies outside the file's 64 bytes of "
        "tensor data")
    conv = {"op": "conv1d", "weight": "w", "bias": None, "dilation": 2**31 - 1}
    w = np.full((2, 1, 2), 0.5, np.float32).tobytes()
    put("conv_history_wraps.tmbl",
        _raw_tmbl(_header([conv], [{"name": "w", "shape": [2, 1, 2], "offset": 0}]), w),
        "model file: graph 'main' op 0: 'dilation' must be a whole number in 1-65536")
    conv = {"op": "conv1d", "weight": "w", "bias": None, "dilation": 40000}
    w = np.full((2, 1, 512), 0.5, np.float32).tobytes()
    put("conv_history_large.tmbl",
        _raw_tmbl(_header([conv], [{"name": "w", "shape": [2, 1, 512], "offset": 0}]), w),
        "model file: graph 'main' op 0: conv1d history of 40001 frames x 512 channels = "
        "20480512 values exceeds the limit of 4194304")
    for levels in (10000, 100000):
        text = (b'{"family":"test","metadata":{"x":' + b"[" * levels + b"]" * levels +
                b'},"graphs":{},"tensors":[]}')
        put(f"deep_json_{levels // 1000}k.tmbl", _raw_tmbl(text),
            "model file: header JSON nests deeper than 32 levels (at byte 63)")
    put("shape_product_wraps.tmbl",
        _raw_tmbl(_header([lin], [{"name": "w", "shape": [65536] * 4, "offset": 0}]), b"\0" * 16),
        "model file: tensor 'w' has shape [65536, 65536]...: more values than the limit of "
        "16777216")
    put("shape_dimension_huge.tmbl",
        _raw_tmbl(_header([lin], [{"name": "w", "shape": [2**28] * 3, "offset": 0}]), b"\0" * 16),
        "model file: tensor 'w' has an invalid shape: each dimension must be 1-65536")
    w = np.full((16, 4), 0.5, np.float32).tobytes()
    put("flatten_frames_overflow.tmbl",
        _raw_tmbl(_header([lin, {"op": "flatten", "frames": 2**28}],
                          [{"name": "w", "shape": [16, 4], "offset": 0}]), w),
        "model file: graph 'main' op 1: 'frames' must be a whole number in 1-65536")
    put("unflatten_frames_not_dividing.tmbl",
        _raw_tmbl(_header([lin, {"op": "unflatten", "frames": 5}],
                          [{"name": "w", "shape": [16, 4], "offset": 0}]), w),
        "model file: graph 'main' op 1: unflatten input of 16 values is not a whole number of "
        "5 frames")
    put("too_many_ops.tmbl", _raw_tmbl(_header([{"op": "relu"}] * 1025, [])),
        "model file: the graphs hold 1025 ops in all, more than the limit of 1024")
    put("too_many_tensors.tmbl",
        _raw_tmbl(_header([lin], [{"name": str(i), "shape": [1], "offset": 0}
                                  for i in range(4097)]), b"\0" * 16),
        "model file: the file lists 4097 tensors, more than the limit of 4096")
    # A vq_timbre file whose latent of 50,000 made the codebook map's covariance 20 GB.
    meta = {"sample_rate": 22050, "window": 1024, "hop": 256, "synthesis_window": 512,
            "latent": 50000, "hidden": 8, "codes": 1}
    shapes = {"e": [8, 513], "d": [8, 8], "h": [257, 8], "n": [257, 8], "g": [1, 8]}
    graphs = {"encoder": [{**lin, "weight": "e"}], "decoder": [{**lin, "weight": "d"}],
              "harmonic": [{**lin, "weight": "h"}], "noise": [{**lin, "weight": "n"}],
              "gain": [{**lin, "weight": "g"}]}
    entries, data = [], b""
    for tname, shape in shapes.items():
        entries.append({"name": tname, "shape": shape, "offset": len(data)})
        blob = np.full(shape, 0.01, np.float32).tobytes()
        data += blob + b"\0" * ((-len(blob)) % 16)
    put("vq_latent_huge.tmbl",
        _raw_tmbl(_header(graphs, entries, "vq_timbre", meta), data),
        "vq_timbre model: metadata 'latent' 50000 exceeds the limit of 256")
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    return expected


def main() -> None:
    write_model_seeds(CORPUS / "model")
    write_midi_seeds(CORPUS / "midi")
    write_wav_seeds(CORPUS / "wav")
    write_curve_seeds(CORPUS / "curve")
    write_hostile_models(HOSTILE)
    for folder in sorted(CORPUS.iterdir()) + [HOSTILE]:
        files = [p for p in folder.iterdir() if p.is_file()]
        print(f"{folder.relative_to(ROOT)}: {len(files)} files, "
              f"{sum(p.stat().st_size for p in files)} bytes")


if __name__ == "__main__":
    main()
