"""Writes the ONNX graphs of a shipped ``.tmbl`` model (the second engine's reference).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.export.onnx_from_tmbl models/violin/violin.tmbl \\
        [--out DIR]

The repository ships only the ``.tmbl`` files (the page runs the core; the ONNX copies
doubled the models' size). This rebuilds the PyTorch module from the file, exports it
again with ``export_model`` (the same graphs the trainers write with ``--onnx``) into a
temporary folder, checks that the re-exported ``.tmbl`` is byte-identical to the given one
(so the ONNX graphs hold exactly the shipped weights), and copies the ``.onnx`` files to
``--out`` (default: beside the model).

Files of the ``test`` family (the inference goldens, tests/golden/nn) have no model class:
``graph_from_ops`` rebuilds each graph op by op (residual bodies included), placing every
module at the index its tensor names give (``<graph>.<index>.<param>``) so that it exports
back to the same names.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from timbrel.export import export_model
from timbrel.tmbl import read_tmbl, repack, stored_dtype

_ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus", "log1p")


def _index(op: Mapping[str, Any], prefix: str) -> Optional[int]:
    """The module index an op's tensor names give (``<prefix>.<index>.``; a residual's from its
    body's names), or None for an op without tensors."""
    names = [v for k, v in op.items() if k != "op" and isinstance(v, str)]
    if op.get("op") == "residual":
        for inner in op.get("ops", []):
            names += [v for k, v in inner.items() if k != "op" and isinstance(v, str)]
    for name in names:
        if name.startswith(prefix + "."):
            head = name[len(prefix) + 1:].split(".")[0]
            if head.isdigit():
                return int(head)
    return None


def _module(op: Mapping[str, Any], tensors: Mapping[str, np.ndarray], name: str):
    """One op -> (module, index of a Pad1d it needs before it, or None)."""
    import torch
    from torch import nn

    from timbrel.export.layout import conv1d_weight_to_torch
    from timbrel.models.layers import Flatten, Log1p, Pad1d, Residual, Unflatten, VectorQuantizer

    def tensor(field: str):
        return torch.from_numpy(np.array(tensors[op[field]]))

    kind = op["op"]
    if kind == "linear":
        out, inp = tensors[op["weight"]].shape
        m = nn.Linear(inp, out, bias=op.get("bias") is not None)
        m.weight.data.copy_(tensor("weight"))
        if op.get("bias") is not None:
            m.bias.data.copy_(tensor("bias"))
        return m, None
    if kind == "conv1d":
        kernel, out, inp = tensors[op["weight"]].shape
        left, right = int(op.get("padding_left", 0)), int(op.get("padding_right", 0))
        m = nn.Conv1d(inp, out, kernel, stride=int(op.get("stride", 1)),
                      dilation=int(op.get("dilation", 1)), padding=left if left == right else 0,
                      bias=op.get("bias") is not None)
        m.weight.data.copy_(torch.from_numpy(conv1d_weight_to_torch(tensors[op["weight"]])))
        if op.get("bias") is not None:
            m.bias.data.copy_(tensor("bias"))
        return m, (None if left == right else Pad1d(left, right))
    if kind == "gru":
        three_h, inp = tensors[op["weight_ih"]].shape
        bias = op.get("bias_ih") is not None
        if bias != (op.get("bias_hh") is not None):
            raise ValueError(f"{name}: a GRU with one bias of two has no nn.GRU")
        m = nn.GRU(inp, three_h // 3, batch_first=True, bias=bias)
        m.weight_ih_l0.data.copy_(tensor("weight_ih"))
        m.weight_hh_l0.data.copy_(tensor("weight_hh"))
        if bias:
            m.bias_ih_l0.data.copy_(tensor("bias_ih"))
            m.bias_hh_l0.data.copy_(tensor("bias_hh"))
        return m, None
    if kind == "layer_norm":
        m = nn.LayerNorm(tensors[op["weight"]].shape[0], eps=float(op.get("eps", 1e-5)))
        m.weight.data.copy_(tensor("weight"))
        m.bias.data.copy_(tensor("bias"))
        return m, None
    if kind == "vq":
        codes, dim = tensors[op["codebook"]].shape
        m = VectorQuantizer(codes, dim, ema_decay=None)
        m.codebook.data.copy_(tensor("codebook"))
        return m, None
    if kind == "flatten":
        return Flatten(op.get("frames")), None
    if kind == "unflatten":
        return Unflatten(int(op["frames"])), None
    if kind == "residual":
        return Residual(*_sequence(op["ops"], tensors, f"{name}.body")), None
    if kind == "relu":
        return nn.ReLU(), None
    if kind == "leaky_relu":
        return nn.LeakyReLU(float(op.get("slope", 0.01))), None
    if kind == "elu":
        return nn.ELU(float(op.get("alpha", 1.0))), None
    if kind == "tanh":
        return nn.Tanh(), None
    if kind == "sigmoid":
        return nn.Sigmoid(), None
    if kind == "softplus":
        return nn.Softplus(float(op.get("beta", 1.0)), float(op.get("threshold", 20.0))), None
    if kind == "log1p":
        return Log1p(), None
    raise ValueError(f"{name}: op {kind!r} has no module")


def _sequence(ops: List[Mapping[str, Any]], tensors: Mapping[str, np.ndarray], prefix: str) -> list:
    """Ops -> modules, each at the index its tensor names give (gaps: nn.Identity, which the
    exporter skips; a Pad1d before a convolution with unequal paddings)."""
    from torch import nn

    modules: Dict[int, Any] = {}
    following = 0
    for op in ops:
        index = _index(op, prefix)
        index = following if index is None else index
        module, pad = _module(op, tensors, f"{prefix}.{index}")
        if pad is not None:
            if index - 1 < following or index - 1 in modules:
                raise ValueError(f"{prefix}.{index}: no free index for the Pad1d before it")
            modules[index - 1] = pad
        if index < following or index in modules:
            raise ValueError(f"{prefix}.{index}: tensor names out of order")
        modules[index] = module
        following = index + 1
    return [modules.get(i, nn.Identity()) for i in range(following)]


def graph_from_ops(ops: List[Mapping[str, Any]], tensors: Mapping[str, np.ndarray], prefix: str):
    """A graph's ops and tensors (core layout) -> the ``SequenceGraph`` that exports to them
    (eval mode)."""
    from timbrel.models.layers import SequenceGraph
    return SequenceGraph(*_sequence(ops, tensors, prefix)).eval()


class FileGraphs:
    """The graphs of a ``test`` family file as modules (``family``, ``graph_names``, ``graphs()``,
    as the model classes have them)."""

    family = "test"

    def __init__(self, source):
        f = read_tmbl(source)
        self.graph_names = list(f.graphs)
        self._graphs = {g: graph_from_ops(ops, f.tensors, g) for g, ops in f.graphs.items()}

    def graphs(self):
        return dict(self._graphs)


def load_module(path: Path):
    family = read_tmbl(path).family
    if family == "vq_timbre":
        from timbrel.models.vq_timbre import VQTimbre
        return VQTimbre.from_tmbl(path)
    if family == "crossmodal_vae":
        from timbrel.models.crossmodal_vae import CrossmodalVAE
        return CrossmodalVAE.from_tmbl(path)
    if family == "gmvae":
        from timbrel.models.gmvae import GMVAE
        return GMVAE.from_tmbl(path)
    if family == "test":
        return FileGraphs(path)
    raise ValueError(f"{path}: no ONNX export for family {family!r}")


def onnx_graph_names(model) -> List[str]:
    # vq_timbre's decoder only in its step form (as the trainer writes it).
    return [g for g in model.graph_names if not (model.family == "vq_timbre" and g == "decoder")]


def write_onnx(path, out_dir=None) -> List[Path]:
    path = Path(path)
    f = read_tmbl(path)
    model = load_module(path)
    out_dir = Path(out_dir) if out_dir else path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="timbrel-onnx-") as tmp:
        result = export_model(model.graphs(), f.family, f.name, f.metadata, tmp,
                              onnx_graphs=onnx_graph_names(model),
                              batch_axis=f.family == "gmvae")  # the Notes panel's batches
        exported = Path(result["tmbl"])
        if stored_dtype(f) != "f32":  # the exporter writes float32: compare at the file's dtype
            exported = repack(exported, Path(tmp) / "repacked.tmbl", stored_dtype(f))["path"]
        if Path(exported).read_bytes() != path.read_bytes():
            raise ValueError(f"{path}: the module rebuilt from the file does not export back to "
                             f"the same bytes; not writing ONNX graphs that may differ from it")
        written = []
        for onnx in sorted(Path(tmp).glob("*.onnx")):
            shutil.copy(onnx, out_dir / onnx.name)
            written.append(out_dir / onnx.name)
    return written


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", type=Path)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    try:
        for w in write_onnx(args.model, args.out):
            print(w)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
