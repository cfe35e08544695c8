"""The exporter (timbrel.export), the model families and the inference goldens.

The numpy re-implementation at the bottom applies each op of a golden .tmbl
file, as models/README.md defines it, to <case>.<graph>.input.npy and must
reproduce PyTorch's <case>.<graph>.output.npy: the file and the core layouts
carry everything the C++ engine needs.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from timbrel.golden import nn as nn_golden
from timbrel.export import (TmblError, UnsupportedModuleError, export_model, graph_to_ops, read_tmbl,
                            write_tmbl)
from timbrel.export import layout
from timbrel.models import CrossmodalVAE, GMVAE, VQTimbre
from timbrel.models.layers import (CausalPad, Flatten, Log1p, Pad1d, Residual, SequenceGraph, Unflatten,
                                   VectorQuantizer)

GOLDEN = Path(__file__).resolve().parents[2] / "tests" / "golden" / "nn"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
TOL = MANIFEST["tolerance"]


# --- the file format ------------------------------------------------------------

def _small_file(tmp_path: Path) -> Path:
    graphs = {"main": [{"op": "linear", "weight": "fc.weight", "bias": "fc.bias"}, {"op": "tanh"},
                       {"op": "conv1d", "weight": "c.weight", "bias": None, "stride": 1, "dilation": 1,
                        "padding_left": 2, "padding_right": 0}]}
    rng = np.random.default_rng(0)
    tensors = {"fc.weight": rng.standard_normal((5, 3)), "fc.bias": rng.standard_normal(5),
               "c.weight": rng.standard_normal((3, 2, 5))}
    return write_tmbl(tmp_path / "m.tmbl", "test", "small ✓", {"sample_rate": 22050, "labels": ["a", "é"]},
                      graphs, tensors)


def test_round_trip(tmp_path):
    path = _small_file(tmp_path)
    data = path.read_bytes()
    assert data[:4] == b"TMBL"
    version, header_length = struct.unpack_from("<II", data, 4)
    assert version == 1
    header_text = data[12:12 + header_length].decode("utf-8")
    assert ": " not in header_text and ", " not in header_text  # compact JSON
    assert "small ✓" in header_text  # UTF-8, not \u escapes
    f = read_tmbl(path)
    assert f.family == "test" and f.name == "small ✓"
    assert f.metadata == {"sample_rate": 22050, "labels": ["a", "é"]}
    assert f.data_start % 16 == 0 and f.data_start >= 12 + header_length
    assert all(e["offset"] % 16 == 0 for e in f.header["tensors"])
    assert [e["name"] for e in f.header["tensors"]] == ["fc.weight", "fc.bias", "c.weight"]
    assert f.graphs["main"][2]["padding_left"] == 2
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(f.tensors["fc.weight"], rng.standard_normal((5, 3)).astype(np.float32))
    assert f.tensors["c.weight"].shape == (3, 2, 5) and f.tensors["c.weight"].dtype == np.float32
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])


def test_crc_catches_a_flipped_byte(tmp_path):
    data = bytearray(_small_file(tmp_path).read_bytes())
    for where in (20, len(data) - 10):  # in the header, in the tensor data
        bad = bytearray(data)
        bad[where] ^= 0x01
        with pytest.raises(TmblError, match="checksum"):
            read_tmbl(bytes(bad))


def test_reader_names_the_problem(tmp_path):
    data = _small_file(tmp_path).read_bytes()
    with pytest.raises(TmblError, match="bad magic"):
        read_tmbl(b"XMBL" + data[4:])
    with pytest.raises(TmblError, match="unknown version"):
        read_tmbl(data[:4] + struct.pack("<I", 2) + data[8:])
    with pytest.raises(TmblError, match="truncated"):
        read_tmbl(data[:10])
    with pytest.raises(TmblError, match="checksum|truncated"):
        read_tmbl(data[:-40])


def test_writer_refuses_bad_content(tmp_path):
    ops = {"main": [{"op": "linear", "weight": "w", "bias": None}]}
    with pytest.raises(TmblError, match="NaN or Inf"):
        write_tmbl(tmp_path / "a.tmbl", "test", "x", {}, ops, {"w": np.array([[np.nan]])})
    with pytest.raises(TmblError, match="missing"):
        write_tmbl(tmp_path / "a.tmbl", "test", "x", {}, ops, {})
    with pytest.raises(TmblError, match="extra"):
        write_tmbl(tmp_path / "a.tmbl", "test", "x", {}, ops, {"w": np.ones((1, 1)), "v": np.ones(1)})
    with pytest.raises(TmblError, match="unknown op"):
        write_tmbl(tmp_path / "a.tmbl", "test", "x", {}, {"main": [{"op": "gelu"}]}, {})


# --- layouts and graph conversion -------------------------------------------------

def _numpy_conv1d(x, w_core, bias, stride, dilation, left, right):
    """x [T, C_in], w_core [kernel, out, in] -> [T', out], as the core computes it."""
    kernel, out_ch, _ = w_core.shape
    xp = np.concatenate([np.zeros((left, x.shape[1])), x, np.zeros((right, x.shape[1]))])
    frames = (xp.shape[0] - dilation * (kernel - 1) - 1) // stride + 1
    y = np.zeros((frames, out_ch)) + (0 if bias is None else bias)
    for t in range(frames):
        for j in range(kernel):
            y[t] += w_core[j] @ xp[t * stride + j * dilation]
    return y


@pytest.mark.parametrize("stride,dilation,left,right", [(1, 1, 1, 1), (2, 2, 2, 1), (1, 2, 6, 0), (3, 1, 0, 2)])
def test_conv1d_layout_matches_torch(stride, dilation, left, right):
    torch.manual_seed(1)
    conv = nn.Conv1d(4, 3, 3, stride=stride, dilation=dilation)
    x = torch.randn(1, 4, 19)  # PyTorch [B, C, T]
    want = F.conv1d(F.pad(x, (left, right)), conv.weight, conv.bias, stride=stride, dilation=dilation)
    w_core = layout.conv1d_weight(conv.weight)
    assert w_core.shape == (3, 3, 4)  # [kernel, out, in]
    np.testing.assert_array_equal(layout.conv1d_weight_to_torch(w_core), conv.weight.detach().numpy())
    got = _numpy_conv1d(x[0].T.double().numpy(), w_core.astype(np.float64), conv.bias.detach().double().numpy(),
                        stride, dilation, left, right)
    np.testing.assert_allclose(got, want[0].T.detach().double().numpy(), rtol=1e-5, atol=1e-6)


def test_graph_to_ops_names_and_padding():
    g = SequenceGraph(CausalPad(4), nn.Conv1d(3, 5, 3, dilation=2), nn.ReLU(), nn.Dropout(0.1),
                      nn.Conv1d(5, 5, 3, padding=1, bias=False), nn.GRU(5, 7, batch_first=True),
                      nn.LayerNorm(7), nn.Softplus(beta=2.0, threshold=10.0), Log1p())
    ops, tensors = graph_to_ops(g, "enc")
    assert [o["op"] for o in ops] == ["conv1d", "relu", "conv1d", "gru", "layer_norm", "softplus", "log1p"]
    assert ops[0] == {"op": "conv1d", "weight": "enc.1.weight", "bias": "enc.1.bias", "stride": 1,
                      "dilation": 2, "padding_left": 4, "padding_right": 0}
    assert ops[2]["bias"] is None and (ops[2]["padding_left"], ops[2]["padding_right"]) == (1, 1)
    assert ops[3]["weight_ih"] == "enc.5.weight_ih_l0" and tensors["enc.5.weight_hh_l0"].shape == (21, 7)
    assert ops[5] == {"op": "softplus", "beta": 2.0, "threshold": 10.0}
    assert tensors["enc.1.weight"].shape == (3, 5, 3)
    np.testing.assert_array_equal(tensors["enc.5.weight_ih_l0"], g[5].weight_ih_l0.detach().numpy())


@pytest.mark.parametrize("modules,match", [
    ([nn.Linear(3, 3), nn.Conv2d(1, 1, 1)], "Conv2d.*not supported"),
    ([nn.LSTM(3, 3, batch_first=True)], "LSTM.*not supported"),
    ([nn.GRU(3, 3, num_layers=2, batch_first=True)], "num_layers=1"),
    ([nn.GRU(3, 3)], "batch_first=True"),
    ([nn.Conv1d(4, 4, 3, groups=2)], "groups=2"),
    ([nn.Conv1d(4, 4, 3, padding=1, padding_mode="reflect")], "padding_mode"),
    ([nn.Linear(3, 3), Pad1d(1, 1), nn.ReLU()], "Pad1d must come directly before"),
    ([nn.ReLU(), nn.Linear(3, 3)], "cannot start with 'relu'"),
    ([nn.Linear(3, 3), nn.Sequential(nn.ReLU())], "nested"),
    ([nn.Linear(3, 3), nn.GELU()], "GELU.*not supported"),
    ([nn.Linear(3, 3), nn.ReLU(), nn.BatchNorm1d(3)], r"g\.2 \(BatchNorm1d\): follows a ReLU.*directly after"),
    ([nn.BatchNorm1d(3), nn.Linear(3, 3)], "follows the start of the graph"),
    ([nn.Linear(3, 3), nn.BatchNorm1d(3), nn.BatchNorm1d(3)], "follows a BatchNorm1d"),
    ([nn.Linear(3, 3), Flatten(2), nn.BatchNorm1d(6)], "follows a Flatten"),
    ([nn.Linear(3, 4), nn.BatchNorm1d(5)], "normalises 5 channels, the layer gives 4"),
    ([nn.Linear(3, 3), nn.BatchNorm1d(3, track_running_stats=False)], "no running statistics"),
    ([Unflatten(2), nn.Linear(3, 3)], "cannot start with 'unflatten'"),
])
def test_unsupported_modules_raise(modules, match):
    with pytest.raises(UnsupportedModuleError, match=match):
        graph_to_ops(modules, "g")


def _random_batch_norm(norm: nn.BatchNorm1d, seed: int) -> nn.BatchNorm1d:
    g = torch.Generator().manual_seed(seed)
    n = norm.num_features
    with torch.no_grad():
        norm.running_mean.copy_(torch.randn(n, generator=g))
        norm.running_var.copy_(0.2 + 2.0 * torch.rand(n, generator=g))
        if norm.affine:
            norm.weight.copy_(1.0 + 0.5 * torch.randn(n, generator=g))
            norm.bias.copy_(0.5 * torch.randn(n, generator=g))
    return norm


def _run_ops(ops, tensors, x):
    for op in ops:
        x = apply_op(x, op, tensors)
    return x


@pytest.mark.parametrize("layer,norm", [
    (nn.Linear(6, 5), nn.BatchNorm1d(5)),
    (nn.Linear(6, 5, bias=False), nn.BatchNorm1d(5)),
    (nn.Linear(6, 5), nn.BatchNorm1d(5, affine=False, eps=1e-3)),
    (nn.Conv1d(6, 5, 3, padding=1), nn.BatchNorm1d(5)),
    (nn.Conv1d(6, 5, 3, stride=2, bias=False), nn.BatchNorm1d(5)),
], ids=["linear", "linear_nobias", "linear_no_affine", "conv1d", "conv1d_nobias_strided"])
def test_batch_norm_folds_into_the_layer_before(layer, norm):
    torch.manual_seed(3)
    g = SequenceGraph(layer, nn.Dropout(0.2), _random_batch_norm(norm, 7), nn.ReLU()).eval()
    ops, tensors = graph_to_ops(g, "g")
    assert [o["op"] for o in ops] == [type(layer).__name__.lower(), "relu"]
    assert ops[0]["weight"] == "g.0.weight" and ops[0]["bias"] == "g.0.bias"  # a bias is created
    assert set(tensors) == {"g.0.weight", "g.0.bias"}
    x = torch.randn(1, 11, 6)
    with torch.no_grad():
        want = g(x)[0].double().numpy()
    got = _run_ops(ops, tensors, x[0].double().numpy())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_batch_norm_folding_arithmetic():
    w, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.0])
    fw, fb = layout.fold_batch_norm(w, b, running_mean=np.array([1.0, 2.0]),
                                    running_var=np.array([3.0, 15.0]), gamma=np.array([2.0, 1.0]),
                                    beta=np.array([0.25, 0.0]), eps=1.0)
    np.testing.assert_allclose(fw, [[1.0, 2.0], [0.75, 1.0]])  # scales 2 / 2 and 1 / 4
    np.testing.assert_allclose(fb, [(0.5 - 1.0) * 1.0 + 0.25, (-1.0 - 2.0) * 0.25])
    assert fw.dtype == np.float32 and fb.dtype == np.float32
    fw, fb = layout.fold_batch_norm(np.ones((2, 1, 3)), None, np.zeros(2), np.full(2, 4.0), None, None, 0.0)
    np.testing.assert_allclose(fw, np.full((2, 1, 3), 0.5))
    np.testing.assert_allclose(fb, [0.0, 0.0])


def test_unflatten_exports_and_inverts_flatten(tmp_path):
    torch.manual_seed(4)
    g = SequenceGraph(nn.Linear(3, 20), nn.ReLU(), Unflatten(5), nn.Conv1d(4, 2, 3, padding=1),
                      nn.Tanh()).eval()
    ops, tensors = graph_to_ops(g, "dec")
    assert ops[2] == {"op": "unflatten", "frames": 5}
    x = torch.randn(1, 1, 3)
    with torch.no_grad():
        want = g(x)[0].double().numpy()
    assert want.shape == (5, 2)
    np.testing.assert_allclose(_run_ops(ops, tensors, x[0].double().numpy()), want, rtol=1e-5, atol=1e-6)
    y = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(apply_op(apply_op(y, {"op": "flatten"}, {}),
                                           {"op": "unflatten", "frames": 4}, {}), y)
    paths = export_model({"decoder": g}, "test", "unflat", {}, tmp_path)
    info = paths["graphs"]["decoder"]
    assert not info["streams"] and info["step_onnx"] is None and info["onnx"].stat().st_size > 0
    assert read_tmbl(paths["tmbl"]).graphs["decoder"][2] == {"op": "unflatten", "frames": 5}


def test_gmvae_rebuilt_from_its_file_exports_the_same_bytes(tmp_path):
    """The .tmbl holds the BatchNorms folded; from_tmbl builds a module without them that
    computes the same and exports back byte for byte (onnx_from_tmbl's check)."""
    from timbrel.export.onnx_from_tmbl import write_onnx
    torch.manual_seed(5)
    model = GMVAE(mel=8, frames=7, channels=6, dense=10, latent=3, pitches=4, instruments=2, seed=5)
    for i, m in enumerate(model.modules()):
        if isinstance(m, nn.BatchNorm1d):
            _random_batch_norm(m, i)
    model.eval()
    meta = {"frames": 7, "pitch_means": model.pitch_means.tolist(),
            "timbre_means": model.timbre_means.tolist()}
    path = export_model(model.graphs(), "gmvae", "g", meta, tmp_path / "a", onnx_graphs=[])["tmbl"]
    rebuilt = GMVAE.from_tmbl(path)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in rebuilt.modules())
    torch.testing.assert_close(rebuilt.pitch_means, model.pitch_means)
    mel = torch.rand(2, 7, 8) * 2 - 1
    with torch.no_grad():
        for name in ("pitch_encoder", "timbre_encoder"):
            torch.testing.assert_close(getattr(rebuilt, name)(mel), getattr(model, name)(mel),
                                       rtol=1e-5, atol=1e-6)
        z = torch.randn(2, 1, 6)
        torch.testing.assert_close(rebuilt.decoder(z), model.decoder(z), rtol=1e-5, atol=1e-6)
    written = write_onnx(path, tmp_path / "onnx")
    assert sorted(p.name for p in written) == [f"g.{n}.onnx" for n in sorted(GMVAE.graph_names)]
    # A float16 file (how models/ ships) is compared at its own dtype and exports too.
    from timbrel.tmbl import repack
    half = repack(path, tmp_path / "half.tmbl", "f16")["path"]
    written = write_onnx(half, tmp_path / "onnx16")
    assert sorted(p.name for p in written) == [f"g.{n}.onnx" for n in sorted(GMVAE.graph_names)]


# --- residual -------------------------------------------------------------------------

def _residual_graph() -> SequenceGraph:
    torch.manual_seed(6)
    return SequenceGraph(nn.Linear(3, 5), Residual(nn.LayerNorm(5), nn.Linear(5, 7), nn.Dropout(0.3),
                                                   nn.Softplus(beta=2.0, threshold=0.5), nn.Linear(7, 5)),
                         Residual(nn.Tanh(), nn.Linear(5, 5)), nn.GRU(5, 4, batch_first=True),
                         Residual(Log1p(), nn.Sigmoid())).eval()


def test_residual_exports_its_body_and_the_numpy_ops_reproduce_pytorch(tmp_path):
    g = _residual_graph()
    ops, tensors = graph_to_ops(g, "r")
    assert [o["op"] for o in ops] == ["linear", "residual", "residual", "gru", "residual"]
    assert [o["op"] for o in ops[1]["ops"]] == ["layer_norm", "linear", "softplus", "linear"]  # Dropout skipped
    assert ops[1]["ops"][3] == {"op": "linear", "weight": "r.1.body.4.weight", "bias": "r.1.body.4.bias"}
    assert ops[4] == {"op": "residual", "ops": [{"op": "log1p"}, {"op": "sigmoid"}]}
    np.testing.assert_array_equal(tensors["r.2.body.1.weight"], g[2].body[1].weight.detach().numpy())
    assert set(tensors) == {f"r.{k}" for k in g.state_dict()}  # names follow the state_dict
    x = torch.rand(1, 9, 3) * 4
    with torch.no_grad():
        want = g(x)[0].double().numpy()
    np.testing.assert_allclose(_run_ops(ops, tensors, x[0].double().numpy()), want, rtol=1e-5, atol=1e-6)
    paths = export_model({"r": g}, "test", "res", {}, tmp_path)
    info = paths["graphs"]["r"]
    assert info["streams"] and info["input_size"] == 3 and info["step_onnx"] is not None
    assert read_tmbl(paths["tmbl"]).graphs["r"] == ops
    assert b"Add" in info["onnx"].read_bytes()  # op types are plain strings in the protobuf
    # A residual that starts a graph takes its size from its body's first weights.
    from timbrel.export.graph import input_size
    start_ops, start_tensors = graph_to_ops(SequenceGraph(Residual(nn.Linear(4, 4), nn.ReLU())), "s")
    assert input_size(start_ops, start_tensors) == 4
    onnx = pytest.importorskip("onnx")
    adds = [n for n in onnx.load(str(info["onnx"])).graph.node if n.op_type == "Add"]
    assert len(adds) >= 3  # one per residual


def _residual_with(*body) -> Residual:
    """A Residual whose body is set after construction, past the class's own checks: what the
    exporter itself must refuse."""
    r = Residual(nn.Tanh())
    r.body = nn.ModuleList(body)
    return r


@pytest.mark.parametrize("modules,match", [
    ([nn.Linear(3, 3), _residual_with(nn.Linear(3, 3), nn.GRU(3, 3, batch_first=True))],
     r"g\.1\.body\.1 \(GRU\): 'gru' is not allowed in a residual body"),
    ([nn.Linear(3, 3), _residual_with(nn.Conv1d(3, 3, 1))], "'conv1d' is not allowed in a residual body"),
    ([nn.Linear(3, 3), _residual_with(nn.Tanh(), _residual_with(nn.ReLU()))],
     r"g\.1\.body\.1 \(Residual\): a residual cannot be nested"),
    ([nn.Linear(3, 3), _residual_with(nn.Identity(), nn.Dropout(0.5))], "the residual body has no ops"),
    ([nn.Linear(3, 3), _residual_with(nn.Linear(3, 4))], "maps 3 values to 4; y = x \\+ body\\(x\\) needs the same width"),
    ([nn.Linear(3, 3), _residual_with(nn.Linear(3, 3), nn.LayerNorm(4))], r"g\.1\.body\.1 \(LayerNorm\): takes 4 values, the op before gives 3"),
    ([nn.Linear(3, 3), _residual_with(*[nn.Tanh() for _ in range(17)])], "residual body of 17 ops exceeds the limit of 16"),
    ([Residual(nn.ReLU()), nn.Linear(3, 3)], "cannot start with 'residual'"),
])
def test_unsupported_residuals_raise(modules, match):
    with pytest.raises(UnsupportedModuleError, match=match):
        graph_to_ops(modules, "g")


@pytest.mark.parametrize("case", ["residual", "mlp_gru", "conv1d_strided", "conv1d_causal", "vq",
                                  "activations", "linear_nobias"])
def test_test_family_files_rebuild_and_export_the_same_bytes(case, tmp_path):
    """onnx_from_tmbl rebuilds a 'test' file op by op (residuals included) and exports it back
    byte for byte; the rebuilt graph computes the golden output."""
    from timbrel.export.onnx_from_tmbl import FileGraphs, write_onnx
    path = GOLDEN / f"{case}.tmbl"
    written = write_onnx(path, tmp_path)
    assert sorted(p.name for p in written) == sorted(
        Path(g[k]).name for g in MANIFEST["cases"][case]["graphs"].values() for k in ("onnx", "step_onnx") if g[k])
    graph = FileGraphs(path).graphs()["main"]
    x = torch.from_numpy(np.load(GOLDEN / f"{case}.main.input.npy"))[None]
    with torch.no_grad():
        got = graph(x)[0].numpy()
    want = np.load(GOLDEN / f"{case}.main.output.npy")
    np.testing.assert_allclose(got, want, rtol=TOL["rel"], atol=TOL["abs"])


def test_reader_checks_residual_ops(tmp_path):
    lin = {"op": "linear", "weight": "w", "bias": None}
    w = {"w": np.ones((3, 3))}

    def write(op):
        return write_tmbl(tmp_path / "r.tmbl", "test", "r", {}, {"main": [lin, op]}, w)

    with pytest.raises(TmblError, match="op 1: residual needs 'ops', the list of its body's ops"):
        write({"op": "residual"})
    with pytest.raises(TmblError, match="op 1: residual body is empty"):
        write({"op": "residual", "ops": []})
    with pytest.raises(TmblError, match="op 1 body op 0: a residual cannot be nested"):
        write({"op": "residual", "ops": [{"op": "residual", "ops": [{"op": "relu"}]}]})
    with pytest.raises(TmblError, match="op 1 body op 1: 'gru' is not allowed in a residual body"):
        write({"op": "residual", "ops": [{"op": "relu"}, {"op": "gru"}]})
    with pytest.raises(TmblError, match="op 1 body op 0: unknown op 'swish'"):
        write({"op": "residual", "ops": [{"op": "swish"}]})
    with pytest.raises(TmblError, match="residual body of 17 ops exceeds the limit of 16"):
        write({"op": "residual", "ops": [{"op": "relu"}] * 17})
    # Body tensors count as used (not extra) and as missing when absent.
    path = write_tmbl(tmp_path / "ok.tmbl", "test", "r", {}, {"main": [{"op": "residual", "ops": [lin]}]}, w)
    assert read_tmbl(path).graphs["main"][0]["ops"][0]["weight"] == "w"
    with pytest.raises(TmblError, match="missing"):
        write_tmbl(tmp_path / "m.tmbl", "test", "r", {}, {"main": [{"op": "residual", "ops": [lin]}]}, {})


# --- model families ---------------------------------------------------------------

LOADER_GRAPHS = {"vq_timbre": ["encoder", "quantizer", "decoder", "harmonic", "noise", "gain"],
                 "crossmodal_vae": ["signal_encoder", "signal_decoder", "symbol_encoder", "symbol_decoder"],
                 "gmvae": ["pitch_encoder", "timbre_encoder", "decoder"]}


def test_families_forward_and_export(tmp_path):
    torch.manual_seed(0)
    vq = VQTimbre(encoder_hidden=16, latent=4, codes=8, hidden=6)
    # training mode: EMA update, straight-through (audio [B, 5 hops * 256], f0, voiced)
    out = vq(0.1 * torch.randn(2, 5 * 256), torch.full((2, 5), 220.0), torch.ones(2, 5))
    assert out["harmonic"].shape == (2, 5, 257) and out["gain"].shape == (2, 5, 1)
    assert out["vq_loss"].ndim == 0 and out["indices"].shape == (2, 5)
    out["harmonic"].mean().backward()
    assert vq.encoder[0].weight.grad is not None  # straight-through reaches the encoder
    cm = CrossmodalVAE(bins=20, octaves=4, latent=3, signal_hidden=8, symbol_hidden=8).eval()
    r = cm(torch.randn(2, 3, 20), torch.zeros(2, 3, cm.symbols))
    assert r["symbol_logits"].shape == (2, 3, 19) and r["mu_x"].shape == (2, 3, 3)
    gm = GMVAE(mel=8, frames=5, channels=6, dense=7, latent=2).eval()
    r = gm(torch.rand(3, 5, 8))
    assert r["reconstruction"].shape == (3, 5, 8)
    for model, meta in ((vq, {"sample_rate": 22050, "window": 64, "hop": 16}), (cm, {}), (gm, {})):
        assert list(model.graphs()) == LOADER_GRAPHS[model.family]
        paths = export_model(model.graphs(), model.family, model.family, meta, tmp_path)
        f = read_tmbl(paths["tmbl"])
        assert list(f.graphs) == LOADER_GRAPHS[model.family]
        for gname in f.graphs:
            assert (tmp_path / f"{model.family}.{gname}.onnx").stat().st_size > 0
    assert (tmp_path / "vq_timbre.decoder.step.onnx").exists()
    # Names follow the model's state_dict.
    state = vq.state_dict()
    f = read_tmbl(tmp_path / "vq_timbre.tmbl")
    for name, a in f.tensors.items():
        np.testing.assert_array_equal(a, state[name].numpy())


# --- the goldens -------------------------------------------------------------------

def test_manifest_lists_existing_files():
    assert MANIFEST["onnx_opset"] >= 13
    assert len(MANIFEST["cases"]) >= 10
    for name, entry in MANIFEST["cases"].items():
        assert (GOLDEN / entry["file"]).exists()
        f = read_tmbl(GOLDEN / entry["file"])
        assert f.family == entry["family"] and set(f.graphs) == set(entry["graphs"])
        for gname, g in entry["graphs"].items():
            for key in ("input", "output", "onnx", "step_onnx"):
                if g[key]:
                    assert (GOLDEN / g[key]).exists(), g[key]
            assert list(np.load(GOLDEN / g["input"]).shape) == g["input_shape"]
            assert list(np.load(GOLDEN / g["output"]).shape) == g["output_shape"]
    assert any(g["step_onnx"] for e in MANIFEST["cases"].values() for g in e["graphs"].values())


def test_vq_golden_breaks_ties_towards_the_lowest_index():
    f = read_tmbl(GOLDEN / "vq.tmbl")
    book = f.tensors["main.0.codebook"]
    y = np.load(GOLDEN / "vq.main.output.npy")
    picked = [int(np.flatnonzero((book == row).all(1))[0]) for row in y]
    assert picked[:6] == [5, 0, 15, 11, 3, 6]


def test_generator_is_deterministic(tmp_path):
    cases = ["vq", "mlp_gru"]
    nn_golden.generate(tmp_path / "a", cases)
    nn_golden.generate(tmp_path / "b", cases)
    same_torch = MANIFEST["torch"] == torch.__version__.split("+")[0]
    for case in cases:
        files = sorted(p.name for p in (tmp_path / "a").glob(f"{case}.*"))
        assert files == sorted(p.name for p in (tmp_path / "b").glob(f"{case}.*"))
        for name in files:
            a, b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
            assert a == b, f"{name} differs between two runs"
            if not same_torch:  # another PyTorch may draw or serialise differently
                continue
            if name.endswith(".output.npy"):  # BLAS and thread count may move the last bit
                np.testing.assert_allclose(np.load(tmp_path / "a" / name), np.load(GOLDEN / name),
                                           rtol=1e-6, atol=1e-7)
            else:
                assert a == (GOLDEN / name).read_bytes(), f"{name} differs from the committed golden"


# --- numpy re-implementation of every op ---------------------------------------------

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gru(x, op, t):
    wih, whh = t[op["weight_ih"]].astype(np.float64), t[op["weight_hh"]].astype(np.float64)
    hidden = whh.shape[1]
    bih = t[op["bias_ih"]] if op["bias_ih"] else np.zeros(3 * hidden)
    bhh = t[op["bias_hh"]] if op["bias_hh"] else np.zeros(3 * hidden)
    h = np.zeros(hidden)
    out = []
    for frame in x:
        gi, gh = wih @ frame + bih, whh @ h + bhh
        r = _sigmoid(gi[:hidden] + gh[:hidden])  # gates r, z, n (PyTorch order)
        z = _sigmoid(gi[hidden:2 * hidden] + gh[hidden:2 * hidden])
        n = np.tanh(gi[2 * hidden:] + r * gh[2 * hidden:])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.array(out)


def apply_op(x: np.ndarray, op: dict, t: dict) -> np.ndarray:
    kind = op["op"]
    if kind == "linear":
        y = x @ t[op["weight"]].astype(np.float64).T
        return y + t[op["bias"]] if op["bias"] else y
    if kind == "conv1d":
        bias = t[op["bias"]] if op["bias"] else None
        return _numpy_conv1d(x, t[op["weight"]].astype(np.float64), bias, op["stride"], op["dilation"],
                             op["padding_left"], op["padding_right"])
    if kind == "gru":
        return _gru(x, op, t)
    if kind == "layer_norm":
        mean = x.mean(1, keepdims=True)
        var = ((x - mean) ** 2).mean(1, keepdims=True)
        return (x - mean) / np.sqrt(var + op["eps"]) * t[op["weight"]] + t[op["bias"]]
    if kind == "vq":
        book = t[op["codebook"]].astype(np.float64)
        d = ((x[:, None, :] - book[None]) ** 2).sum(-1)
        return book[np.argmin(d, axis=1)]  # first minimum on ties
    if kind == "flatten":
        return x.reshape(1, -1)
    if kind == "unflatten":
        assert x.shape[0] == 1
        return x.reshape(op["frames"], -1)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "leaky_relu":
        return np.where(x > 0, x, op["slope"] * x)
    if kind == "elu":
        return np.where(x > 0, x, op["alpha"] * np.expm1(np.minimum(x, 0)))
    if kind == "tanh":
        return np.tanh(x)
    if kind == "sigmoid":
        return _sigmoid(x)
    if kind == "softplus":
        b = op["beta"]
        return np.where(b * x > op["threshold"], x, np.log1p(np.exp(np.minimum(b * x, op["threshold"]))) / b)
    if kind == "log1p":
        return np.log1p(x)
    if kind == "residual":  # y = x + body(x), frame by frame
        y = x
        for inner in op["ops"]:
            y = apply_op(y, inner, t)
        return x + y
    raise AssertionError(f"unknown op {kind}")


GOLDEN_GRAPHS = [(c, g) for c, e in MANIFEST["cases"].items() for g in e["graphs"]]


@pytest.mark.parametrize("case,graph", GOLDEN_GRAPHS, ids=[f"{c}.{g}" for c, g in GOLDEN_GRAPHS])
def test_numpy_reimplementation_reproduces_pytorch(case, graph):
    f = read_tmbl(GOLDEN / MANIFEST["cases"][case]["file"])
    x = np.load(GOLDEN / f"{case}.{graph}.input.npy").astype(np.float64)
    want = np.load(GOLDEN / f"{case}.{graph}.output.npy").astype(np.float64)
    for op in f.graphs[graph]:
        x = apply_op(x, op, f.tensors)
    assert x.shape == want.shape
    excess = np.abs(x - want) / (TOL["abs"] + TOL["rel"] * np.abs(want))
    assert excess.max() <= 1.0, f"worst error {excess.max():.3f}x the tolerance"


def test_onnx_runs_in_onnxruntime_python_where_installed():
    ort = pytest.importorskip("onnxruntime")
    for case, entry in MANIFEST["cases"].items():
        for gname, g in entry["graphs"].items():
            if not g["onnx"]:
                continue
            s = ort.InferenceSession(str(GOLDEN / g["onnx"]), providers=["CPUExecutionProvider"])
            x = np.load(GOLDEN / g["input"])[None]
            (y,) = s.run(["output"], {"input": x})
            want = np.load(GOLDEN / g["output"])
            np.testing.assert_allclose(y[0], want, rtol=TOL["rel"], atol=TOL["abs"])
