"""PyTorch module sequences -> the core's sequential graph ops (models/README.md).

``graph_to_ops(modules, prefix)`` walks an ``nn.Sequential``-like list (a
``timbrel.models.SequenceGraph``, an ``nn.Sequential`` or a plain list) and
returns ``(ops, tensors)``: the op dicts for the ``.tmbl`` header and the
tensors in the core's layout (converted by ``layout.py`` only), named
``<prefix>.<index>.<parameter>`` like the PyTorch state_dict keys
(``encoder.0.weight``).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from torch import nn

from timbrel.models.layers import Flatten, Log1p, Pad1d, SKIPPED, VectorQuantizer

from . import layout

SUPPORTED = ("nn.Linear, nn.Conv1d (groups 1, zero padding; Pad1d/CausalPad before it), "
             "nn.GRU (1 layer, unidirectional, batch_first), nn.LayerNorm (last dim), nn.ReLU, "
             "nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.Softplus, Log1p, VectorQuantizer, "
             "Flatten; nn.Identity/nn.Dropout are skipped")

# Ops whose input size comes from the previous op: the core cannot start a graph with them.
SIZELESS = {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus", "log1p", "flatten"}


class UnsupportedModuleError(TypeError):
    """A module the core's graph format cannot express."""


def _children(modules) -> List[Tuple[str, nn.Module]]:
    if isinstance(modules, nn.Module):
        return list(modules.named_children())
    return [(str(i), m) for i, m in enumerate(modules)]


def _conv_padding(conv: nn.Conv1d, where: str) -> Tuple[int, int]:
    p = conv.padding
    if isinstance(p, str):
        if p == "valid":
            return 0, 0
        if p == "same":
            total = conv.dilation[0] * (conv.kernel_size[0] - 1)
            return total // 2, total - total // 2  # as PyTorch pads 'same'
        raise UnsupportedModuleError(f"{where}: Conv1d padding {p!r} is not supported")
    return int(p[0]), int(p[0])


def module_op(module: nn.Module, name: str, pad: Optional[Tuple[int, int]] = None
              ) -> Tuple[Optional[Dict[str, Any]], Dict[str, np.ndarray]]:
    """One module -> (op dict or None for a skipped module, its tensors in core layout)."""
    where = f"{name} ({type(module).__name__})"
    t: Dict[str, np.ndarray] = {}
    if isinstance(module, nn.Linear):
        t[f"{name}.weight"] = layout.linear_weight(module.weight)
        bias = None
        if module.bias is not None:
            bias = f"{name}.bias"
            t[bias] = layout.vector(module.bias)
        return {"op": "linear", "weight": f"{name}.weight", "bias": bias}, t
    if isinstance(module, nn.Conv1d):
        if module.groups != 1:
            raise UnsupportedModuleError(f"{where}: groups={module.groups}; the core supports groups=1")
        if module.padding_mode != "zeros":
            raise UnsupportedModuleError(f"{where}: padding_mode={module.padding_mode!r}; only zeros")
        left, right = _conv_padding(module, where)
        if pad is not None:
            left, right = left + pad[0], right + pad[1]
        t[f"{name}.weight"] = layout.conv1d_weight(module.weight)
        bias = None
        if module.bias is not None:
            bias = f"{name}.bias"
            t[bias] = layout.vector(module.bias)
        return {"op": "conv1d", "weight": f"{name}.weight", "bias": bias,
                "stride": int(module.stride[0]), "dilation": int(module.dilation[0]),
                "padding_left": int(left), "padding_right": int(right)}, t
    if isinstance(module, nn.GRU):
        if module.num_layers != 1 or module.bidirectional or not module.batch_first:
            raise UnsupportedModuleError(
                f"{where}: needs num_layers=1, bidirectional=False, batch_first=True "
                f"(got {module.num_layers}, {module.bidirectional}, {module.batch_first})")
        if getattr(module, "proj_size", 0):
            raise UnsupportedModuleError(f"{where}: proj_size is not supported")
        op: Dict[str, Any] = {"op": "gru", "weight_ih": f"{name}.weight_ih_l0", "weight_hh": f"{name}.weight_hh_l0",
                              "bias_ih": None, "bias_hh": None}
        t[f"{name}.weight_ih_l0"] = layout.gru_weight(module.weight_ih_l0)
        t[f"{name}.weight_hh_l0"] = layout.gru_weight(module.weight_hh_l0)
        if module.bias:
            op["bias_ih"], op["bias_hh"] = f"{name}.bias_ih_l0", f"{name}.bias_hh_l0"
            t[f"{name}.bias_ih_l0"] = layout.vector(module.bias_ih_l0)
            t[f"{name}.bias_hh_l0"] = layout.vector(module.bias_hh_l0)
        return op, t
    if isinstance(module, nn.LayerNorm):
        if len(module.normalized_shape) != 1:
            raise UnsupportedModuleError(f"{where}: only LayerNorm over the last dimension")
        c = module.normalized_shape[0]
        if module.elementwise_affine:
            w, b = layout.vector(module.weight), layout.vector(module.bias)
        else:
            w, b = np.ones(c, layout.F32), np.zeros(c, layout.F32)
        t[f"{name}.weight"], t[f"{name}.bias"] = w, b
        return {"op": "layer_norm", "weight": f"{name}.weight", "bias": f"{name}.bias",
                "eps": float(module.eps)}, t
    if isinstance(module, VectorQuantizer):
        t[f"{name}.codebook"] = layout.codebook(module.codebook)
        return {"op": "vq", "codebook": f"{name}.codebook"}, t
    if isinstance(module, Flatten):
        op = {"op": "flatten"}
        if module.frames is not None:
            op["frames"] = int(module.frames)
        return op, t
    if isinstance(module, nn.ReLU):
        return {"op": "relu"}, t
    if isinstance(module, nn.LeakyReLU):
        return {"op": "leaky_relu", "slope": float(module.negative_slope)}, t
    if isinstance(module, nn.ELU):
        return {"op": "elu", "alpha": float(module.alpha)}, t
    if isinstance(module, nn.Tanh):
        return {"op": "tanh"}, t
    if isinstance(module, nn.Sigmoid):
        return {"op": "sigmoid"}, t
    if isinstance(module, nn.Softplus):
        return {"op": "softplus", "beta": float(module.beta), "threshold": float(module.threshold)}, t
    if isinstance(module, Log1p):
        return {"op": "log1p"}, t
    if isinstance(module, SKIPPED):
        return None, t
    raise UnsupportedModuleError(f"{where}: not supported by the .tmbl exporter (supported: {SUPPORTED})")


def graph_to_ops(modules: Union[nn.Module, Sequence[nn.Module]], prefix: str
                 ) -> Tuple[List[Dict[str, Any]], Dict[str, np.ndarray]]:
    """A module sequence -> (ops, tensors in core layout named ``<prefix>.<index>.<param>``)."""
    ops: List[Dict[str, Any]] = []
    tensors: Dict[str, np.ndarray] = {}
    pending_pad: Optional[Tuple[int, int, str]] = None
    for child, module in _children(modules):
        name = f"{prefix}.{child}"
        if isinstance(module, nn.Sequential):
            raise UnsupportedModuleError(f"{name}: nested nn.Sequential; flatten it into one graph")
        if isinstance(module, Pad1d):
            if pending_pad is not None:
                raise UnsupportedModuleError(f"{name}: two paddings in a row")
            pending_pad = (module.left, module.right, name)
            continue
        if pending_pad is not None and not isinstance(module, nn.Conv1d):
            raise UnsupportedModuleError(
                f"{pending_pad[2]}: Pad1d must come directly before an nn.Conv1d (found "
                f"{type(module).__name__}); the core has no padding op")
        op, t = module_op(module, name, pending_pad[:2] if pending_pad else None)
        pending_pad = None
        if op is None:
            continue
        if not ops and op["op"] in SIZELESS:
            raise UnsupportedModuleError(
                f"{name}: a graph cannot start with '{op['op']}' (the core takes a graph's input "
                "size from its first op's weights); start it with a weighted op")
        ops.append(op)
        for k, v in t.items():
            if k in tensors:
                raise ValueError(f"duplicate tensor name {k}")
            tensors[k] = v
    if pending_pad is not None:
        raise UnsupportedModuleError(f"{pending_pad[2]}: Pad1d at the end of a graph")
    if not ops:
        raise UnsupportedModuleError(f"graph '{prefix}' has no ops")
    return ops, tensors


def graphs_to_ops(graphs: Dict[str, Any]) -> Tuple[Dict[str, List[Dict[str, Any]]], Dict[str, np.ndarray]]:
    """Several named graphs -> ({graph: ops}, all tensors). Tensor names must not collide."""
    all_ops: Dict[str, List[Dict[str, Any]]] = {}
    tensors: Dict[str, np.ndarray] = {}
    for gname, modules in graphs.items():
        ops, t = graph_to_ops(modules, gname)
        all_ops[gname] = ops
        for k, v in t.items():
            if k in tensors:
                raise ValueError(f"tensor name {k} used by two graphs")
            tensors[k] = v
    return all_ops, tensors


# --- facts about a graph (used by the ONNX exporter and the golden generator) ---

def input_size(ops: List[Dict[str, Any]], tensors: Dict[str, np.ndarray]) -> int:
    op = ops[0]
    kind = op["op"]
    if kind == "linear":
        return int(tensors[op["weight"]].shape[1])
    if kind == "conv1d":
        return int(tensors[op["weight"]].shape[2])
    if kind == "gru":
        return int(tensors[op["weight_ih"]].shape[1])
    if kind == "layer_norm":
        return int(tensors[op["weight"]].shape[0])
    if kind == "vq":
        return int(tensors[op["codebook"]].shape[1])
    raise ValueError(f"graph starts with sizeless op {kind}")


def streams(ops: Iterable[Dict[str, Any]]) -> bool:
    """True where the core can run the graph one frame at a time (README: causal, no flatten)."""
    return all(op["op"] != "flatten" and not (op["op"] == "conv1d" and op["padding_right"] != 0)
               for op in ops)


def steppable_with_state(ops: List[Dict[str, Any]]) -> bool:
    """One GRU and otherwise frame-wise ops: the graph has a single-step form whose only
    state is the GRU's hidden vector (the ONNX step export)."""
    kinds = [op["op"] for op in ops]
    return kinds.count("gru") == 1 and "flatten" not in kinds and "conv1d" not in kinds
