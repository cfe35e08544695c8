"""Write the golden files of the inference engine (C++ core, WASM, ONNX Runtime parity).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only nn
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden.nn --bench --out build/bench-models

For each case: ``<case>.tmbl`` (timbrel.export), ``<case>.<graph>.onnx`` (sequence
form, same weights), ``<case>.<graph>.step.onnx`` (single step with explicit GRU
state, where the graph has one), and per graph ``<case>.<graph>.input.npy``
``[T, C]`` and ``<case>.<graph>.output.npy`` ``[T', C']`` (float32, time-major:
PyTorch's offline output from a zero GRU state). ``manifest.json`` lists cases,
graphs, shapes, files and the parity tolerance.

Deterministic: every case starts from ``torch.manual_seed(SEED)`` and draws its
weights, then its inputs, from that state, so any subset (``--cases``)
regenerates identical files.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from torch import nn

from timbrel.export import OPSET, export_model
from timbrel.models import CrossmodalVAE, GMVAE, VQTimbre
from timbrel.models.crossmodal_vae import symbol_labels
from timbrel.models.layers import CausalPad, Log1p, Pad1d, Residual, SequenceGraph, VectorQuantizer

SEED = 20261122
# |got - want| <= abs + rel * |want|, elementwise, float32 on both sides.
TOLERANCE = {"abs": 1e-5, "rel": 1e-5}


@dataclass
class Case:
    family: str
    graphs: Dict[str, nn.Module]
    inputs: Dict[str, np.ndarray]  # graph -> [T, C] float32
    metadata: Dict = field(default_factory=dict)
    onnx_graphs: Optional[List[str]] = None  # None: all
    description: str = ""


def _f32(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().numpy()
    return np.ascontiguousarray(t, dtype=np.dtype("<f4"))


def _randn(*shape, scale: float = 1.0) -> np.ndarray:
    return _f32(torch.randn(*shape) * scale)


def _single(graph: nn.Module, x: np.ndarray, description: str, **kw) -> Case:
    return Case("test", {"main": graph}, {"main": _f32(x)}, description=description, **kw)


def _identity(channels: int) -> nn.Linear:
    """A bias-free identity Linear: gives a sizeless op (activation) its input size, exactly."""
    lin = nn.Linear(channels, channels, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(channels))
    return lin


def _activation_inputs(non_negative: bool = False) -> np.ndarray:
    """[16, 8]: -30..30 in steps of 0.625 (0 included) and 31 N(0, 3) draws."""
    x = np.concatenate([np.linspace(-30.0, 30.0, 97), 3.0 * torch.randn(31).double().numpy()])
    if non_negative:
        x = np.abs(x)
        x[1:9] = [0.0, 1e-7, 1e-5, 1e-3, 0.1, 1.0, 100.0, 1e4]
    return _f32(x.reshape(16, 8))


# --- the cases ---------------------------------------------------------------

def case_linear() -> Case:
    return _single(SequenceGraph(nn.Linear(13, 7)), _randn(9, 13), "Linear 13 -> 7")


def case_linear_nobias() -> Case:
    return _single(SequenceGraph(nn.Linear(13, 7, bias=False)), _randn(9, 13), "Linear 13 -> 7, no bias")


def case_conv1d_strided() -> Case:
    g = SequenceGraph(Pad1d(2, 1), nn.Conv1d(5, 6, 3, stride=2, dilation=2))
    return _single(g, _randn(17, 5), "Conv1d 5 -> 6, kernel 3, stride 2, dilation 2, padding (2, 1)")


def case_conv1d_causal() -> Case:
    g = SequenceGraph(CausalPad(6), nn.Conv1d(5, 6, 4, dilation=2))
    return _single(g, _randn(15, 5), "Conv1d 5 -> 6, kernel 4, dilation 2, causal (left 6)")


def case_conv1d_causal_strided() -> Case:
    g = SequenceGraph(CausalPad(2), nn.Conv1d(5, 6, 3, stride=2))
    return _single(g, _randn(15, 5), "Conv1d 5 -> 6, kernel 3, stride 2, causal (left 2)")


def case_conv1d_padded() -> Case:
    g = SequenceGraph(nn.Conv1d(5, 6, 3, padding=1), nn.ReLU())
    return _single(g, _randn(12, 5), "Conv1d(padding=1) 5 -> 6, kernel 3 (left = right = 1), ReLU")


def case_gru() -> Case:
    return _single(SequenceGraph(nn.GRU(9, 11, batch_first=True)), _randn(20, 9), "GRU 9 -> 11, T 20")


def case_layer_norm() -> Case:
    ln = nn.LayerNorm(10)
    with torch.no_grad():
        ln.weight.copy_(1.0 + 0.5 * torch.randn(10))
        ln.bias.copy_(0.3 * torch.randn(10))
    x = 3.0 + 5.0 * torch.randn(7, 10)
    return _single(SequenceGraph(ln), x, "LayerNorm 10 (random affine), inputs mean 3 std 5")


def _dyadic(t: torch.Tensor, step: float) -> torch.Tensor:
    return torch.round(t / step) * step


def case_vq() -> Case:
    """K 16, D 4; all values multiples of 1/64, so every distance is exact in float32
    whatever the summation order: ties are real ties in every engine."""
    codes, dim = 16, 4
    vq = VectorQuantizer(codes, dim, ema_decay=None)
    book = _dyadic(torch.randn(codes, dim), 1 / 8)
    # Two exact ties: p equidistant from codes 3 and 11, q from codes 6 and 12
    # (code 12 - q = q - code 6), farther from every other code.
    p = torch.tensor([2.5, -2.5, 2.5, -2.5])
    q = torch.tensor([-2.5, 2.5, -2.5, 2.5])
    d = torch.tensor([0.125, -0.25, 0.125, 0.0])
    book[3], book[11] = p + d, p - d
    book[12], book[6] = q + d, q - d
    rows = [book[5], book[0], book[15], book[11], p, q, (book[1] + book[2]) / 2]
    rows += list(_dyadic(1.5 * torch.randn(17, dim), 1 / 64))
    x = torch.stack(rows)
    dist = ((x[:, None, :] - book[None]) ** 2).sum(-1)
    assert torch.equal(dist[4, 3], dist[4, 11]) and int(dist[4].argmin()) == 3
    assert torch.equal(dist[5, 6], dist[5, 12]) and int(dist[5].argmin()) == 6
    assert (dist[4].sort().values[2] > dist[4, 3]) and (dist[5].sort().values[2] > dist[5, 6])
    with torch.no_grad():
        vq.codebook.copy_(book)
    return _single(SequenceGraph(vq), x,
                   "VQ K 16 D 4 (dyadic values); rows: exact codes 5, 0, 15, 11; a tie 3/11 "
                   "(expects 3); a tie 6/12 (expects 6); a midpoint; random")


def _act_case(module: nn.Module, non_negative: bool = False) -> Callable[[], Case]:
    def build() -> Case:
        return _single(SequenceGraph(_identity(8), module), _activation_inputs(non_negative),
                       f"identity Linear 8 then {module!r} on -30..30"
                       + (" (absolute values, 0..1e4)" if non_negative else ""))
    return build


def case_activations() -> Case:
    g = SequenceGraph(nn.Linear(8, 8), nn.ReLU(), nn.LeakyReLU(0.1), nn.ELU(0.7), nn.Tanh(),
                      nn.Sigmoid(), nn.Softplus(beta=1.0, threshold=20.0), Log1p())
    return _single(g, _activation_inputs(), "Linear 8 then relu, leaky_relu 0.1, elu 0.7, tanh, "
                   "sigmoid, softplus, log1p chained (each also alone: act_*)")


def case_mlp_gru() -> Case:
    g = SequenceGraph(nn.Linear(6, 10), nn.Tanh(), nn.GRU(10, 12, batch_first=True), nn.Linear(12, 5))
    return _single(g, _randn(25, 6), "Linear 6 -> 10, Tanh, GRU 12, Linear 12 -> 5")


def case_residual() -> Case:
    ln = nn.LayerNorm(8)
    g = SequenceGraph(nn.Linear(6, 8),
                      Residual(ln, nn.Linear(8, 16), nn.Softplus(beta=2.0, threshold=1.0),
                               nn.Linear(16, 8)),
                      Residual(nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 8)),
                      nn.GRU(8, 6, batch_first=True),
                      Residual(nn.Linear(6, 6), nn.ELU(0.7)))
    with torch.no_grad():
        ln.weight.copy_(1.0 + 0.5 * torch.randn(8))
        ln.bias.copy_(0.3 * torch.randn(8))
    return _single(g, _randn(21, 6, scale=2.0),
                   "Linear 6 -> 8; residual [LayerNorm (random affine), Linear 8 -> 16, softplus "
                   "beta 2 threshold 1 (both sides of it), Linear 16 -> 8]; residual [tanh, "
                   "Dropout (skipped), Linear 8 -> 8]; GRU 6; residual [Linear 6 -> 6, ELU 0.7]")


def _run(graph: nn.Module, x: np.ndarray) -> np.ndarray:
    graph.eval()
    with torch.no_grad():
        return _f32(graph(torch.from_numpy(x)[None])[0])


def case_vq_timbre_small() -> Case:
    m = VQTimbre(bins=513, encoder_hidden=32, latent=8, codes=32, hidden=24, ema_decay=None).eval()
    logmag = _f32(torch.log1p(3.0 * torch.rand(12, 513)))
    z = _run(m.encoder, logmag)
    with torch.no_grad():  # codes near the encoder's outputs, so the choice matters
        m.quantizer[0].codebook.copy_(torch.from_numpy(z).mean(0) + 0.5 * torch.from_numpy(z).std(0)
                                      * torch.randn(32, 8))
    d = ((z[:, None, :].astype(np.float64) - m.quantizer[0].codebook.detach().numpy()[None]) ** 2).sum(-1)
    s = np.sort(d, axis=1)
    assert np.all(s[:, 1] - s[:, 0] > 1e-4 * s[:, 1]), "quantizer input too close to a tie"
    q = _run(m.quantizer, z)
    # Conditioning c = [log2(f / 440) or 0, voiced, loudness] (models/README.md, vq_timbre).
    voiced = (torch.rand(12) > 0.3).float()
    cond = torch.stack([voiced * (torch.rand(12) * 4 - 2), voiced, torch.rand(12) * 2 - 1], -1)
    dec_in = _f32(np.concatenate([q, _f32(cond)], 1))
    h = _run(m.decoder, dec_in)
    meta = m.metadata("golden test", (100.0, 800.0), {"note": "random weights"})
    return Case("vq_timbre", m.graphs(), {"encoder": logmag, "quantizer": z, "decoder": dec_in,
                                          "harmonic": h, "noise": h, "gain": h}, meta,
                description="VQ timbre, small (encoder 32, D 8, K 32, GRU 24, 257 filter bins); "
                            "each graph's input is the previous graph's output (decoder: code "
                            "then 3 conditioning values)")


def case_crossmodal_small() -> Case:
    octaves = list(range(1, 9))
    m = CrossmodalVAE(bins=64, octaves=len(octaves), latent=8, signal_hidden=64, symbol_hidden=32).eval()
    signal = _f32(torch.log1p(2.0 * torch.rand(6, 64)))
    onehot = torch.zeros(6, m.symbols)
    for t in range(6):
        onehot[t, int(torch.randint(0, 12, ()))] = 1
        onehot[t, 12 + int(torch.randint(0, 8, ()))] = 1
        onehot[t, 20 + int(torch.randint(0, 3, ()))] = 1
    mu = _run(m.signal_encoder, signal)[:, :8]
    meta = {"sample_rate": 22050, "bins": 64, "bins_per_octave": 48, "fmin_hz": 30.0,
            "fmax_hz": 11000.0, "latent": 8, "octaves": octaves,
            "label_groups": {"pitch_class": 12, "octave": 8, "dynamics": 3},
            "labels": symbol_labels(octaves)}
    return Case("crossmodal_vae", m.graphs(),
                {"signal_encoder": signal, "symbol_encoder": _f32(onehot),
                 "signal_decoder": mu, "symbol_decoder": _randn(6, 8)}, meta,
                description="cross-modal VAE, small (signal 64/64, symbol 32/32, latent 8, ELU)")


def _random_batch_norms(model: nn.Module) -> None:
    """Running statistics and affine parameters away from the identity (a fresh BatchNorm's
    mean 0, variance 1, weight 1, bias 0), so the exporter's folding is really exercised."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(0.3 * torch.randn(n))
                m.running_var.copy_(0.5 + torch.rand(n))
                m.weight.copy_(1.0 + 0.2 * torch.randn(n))
                m.bias.copy_(0.1 * torch.randn(n))


def case_gmvae_small() -> Case:
    m = GMVAE(mel=16, frames=43, channels=24, dense=32, latent=4, pitches=12, instruments=3)
    _random_batch_norms(m)
    m.eval()
    mel = _f32(torch.rand(43, 16) * 2 - 1)
    meta = {"sample_rate": 22050, "window": 2048, "hop": 256, "frames": 43, "mel_bins": 16,
            "latent": 4, "range": [-1.0, 1.0]}
    return Case("gmvae", m.graphs(), {"pitch_encoder": mel, "timbre_encoder": mel,
                                      "decoder": _randn(1, 8)}, meta,
                description="GMVAE, small (mel 16, T 43, conv 24 then 12 at stride 2, dense 32, "
                            "latent 4, decoder seed 32 x 43 unflattened); BatchNorm with random "
                            "running statistics, folded into the layers before it by the exporter")


def _decoder_hop(hidden: int) -> Callable[[], Case]:
    def build() -> Case:
        g = SequenceGraph(nn.Linear(64, hidden), nn.GRU(hidden, hidden, batch_first=True),
                          nn.Linear(hidden, 513))
        # Sequence ONNX left out (size): the step ONNX carries the same graph.
        return _single(g, _randn(8, 64), f"benchmark decoder hop: Linear 64 -> {hidden}, GRU "
                       f"{hidden}, Linear {hidden} -> 513 (PyTorch default init)", onnx_graphs=[])
    return build


CASES: Dict[str, Callable[[], Case]] = {
    "linear": case_linear,
    "linear_nobias": case_linear_nobias,
    "conv1d_strided": case_conv1d_strided,
    "conv1d_causal": case_conv1d_causal,
    "conv1d_causal_strided": case_conv1d_causal_strided,
    "conv1d_padded": case_conv1d_padded,
    "gru": case_gru,
    "layer_norm": case_layer_norm,
    "vq": case_vq,
    "activations": case_activations,
    "act_relu": _act_case(nn.ReLU()),
    "act_leaky_relu": _act_case(nn.LeakyReLU(0.1)),
    "act_elu": _act_case(nn.ELU(0.7)),
    "act_tanh": _act_case(nn.Tanh()),
    "act_sigmoid": _act_case(nn.Sigmoid()),
    "act_softplus": _act_case(nn.Softplus(beta=1.0, threshold=20.0)),
    "act_softplus_beta": _act_case(nn.Softplus(beta=2.0, threshold=5.0)),
    "act_log1p": _act_case(Log1p(), non_negative=True),
    "mlp_gru": case_mlp_gru,
    "vq_timbre_small": case_vq_timbre_small,
    "crossmodal_small": case_crossmodal_small,
    "gmvae_small": case_gmvae_small,
    "residual": case_residual,
}

# Benchmark graphs: real-sized weights (15 MB for H=512), so they are not
# committed; scripts/bench.sh writes them with --bench into build/bench-models.
# Their parity is the same code path as the small step graphs above.
BENCH_CASES: Dict[str, Callable[[], Case]] = {
    "decoder_hop": _decoder_hop(512),
    "decoder_hop256": _decoder_hop(256),
}


def _save(path: Path, a: np.ndarray) -> None:
    np.save(path, _f32(a), allow_pickle=False)


def generate_case(name: str, out: Path) -> Dict:
    torch.manual_seed(SEED)
    case = {**CASES, **BENCH_CASES}[name]()
    paths = export_model(case.graphs, case.family, name, case.metadata, out,
                         onnx_graphs=case.onnx_graphs)
    entry = {"family": case.family, "description": case.description, "file": paths["tmbl"].name,
             "metadata": case.metadata, "graphs": {}}
    for gname, graph in case.graphs.items():
        x = case.inputs[gname]
        y = _run(graph, x)
        assert np.all(np.isfinite(y)), f"{name}.{gname}: non-finite output"
        _save(out / f"{name}.{gname}.input.npy", x)
        _save(out / f"{name}.{gname}.output.npy", y)
        info = paths["graphs"][gname]
        gru = getattr(graph, "gru", lambda: None)()
        entry["graphs"][gname] = {
            "input": f"{name}.{gname}.input.npy", "output": f"{name}.{gname}.output.npy",
            "input_shape": list(x.shape), "output_shape": list(y.shape),
            "streams": bool(info["streams"]),
            "onnx": info["onnx"].name if info["onnx"] else None,
            "step_onnx": info["step_onnx"].name if info["step_onnx"] else None,
            "state_size": int(gru.hidden_size) if (info["step_onnx"] and gru is not None) else None,
        }
    return entry


def generate(out: Path, cases: Optional[List[str]] = None, bench: bool = False) -> Dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    known = BENCH_CASES if bench else CASES
    names = list(known) if cases is None else cases
    unknown = [c for c in names if c not in known]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {list(known)}")
    manifest = {
        "seed": SEED, "torch": torch.__version__.split("+")[0], "onnx_opset": OPSET,
        "tolerance": dict(TOLERANCE, rule="|got - want| <= abs + rel * |want|, elementwise"),
        "layout": "inputs/outputs [T, C] float32 time-major; ONNX sequence graphs take "
                  "'input' [1, T, C] and give 'output' [1, T', C']; step graphs take 'input' "
                  "[1, 1, C] and 'state' [1, 1, H], give 'output' and 'state_out'",
        "cases": {},
    }
    for name in names:
        manifest["cases"][name] = generate_case(name, out)
    return manifest


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("tests/golden/nn"))
    ap.add_argument("--cases", nargs="*", help="subset of cases (default: all)")
    ap.add_argument("--bench", action="store_true",
                    help="write the benchmark graphs (decoder_hop*) instead of the parity cases")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from timbrel.golden import write_manifest
    manifest = generate(args.out, args.cases or None, bench=args.bench)
    write_manifest(args.out, "nn", SEED, manifest)
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {len(manifest['cases'])} cases to {args.out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
