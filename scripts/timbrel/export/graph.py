"""PyTorch module sequences -> the core's sequential graph ops (models/README.md).

``graph_to_ops(modules, prefix)`` walks an ``nn.Sequential``-like list (a
``timbrel.models.SequenceGraph``, an ``nn.Sequential`` or a plain list) and
returns ``(ops, tensors)``: the op dicts for the ``.tmbl`` header and the
tensors in the core's layout (converted by ``layout.py`` only), named
``<prefix>.<index>.<parameter>`` like the PyTorch state_dict keys
(``encoder.0.weight``).

A ``Residual`` (``y = x + body(x)``) becomes ``{"op": "residual", "ops": [...]}`` with its
body's ops (frame-wise only: linear, layer_norm, activations; no nested residual; at most
``MAX_RESIDUAL_BODY``), its tensors named ``<prefix>.<index>.body.<j>.<parameter>``.

An ``nn.BatchNorm1d`` has no op of its own: directly after an ``nn.Linear`` or
``nn.Conv1d`` (``nn.Identity``/``nn.Dropout`` between them are skipped) its eval-mode
running statistics are folded into that layer's weight and bias (``layout.fold_batch_norm``;
the bias, if the layer has none, is written as ``<prefix>.<index>.bias``). Anywhere else
it is refused.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from torch import nn

from timbrel.models.layers import Flatten, Log1p, Pad1d, Residual, SKIPPED, Unflatten, VectorQuantizer

from . import layout

SUPPORTED = ("nn.Linear, nn.Conv1d (groups 1, zero padding; Pad1d/CausalPad before it), "
             "nn.GRU (1 layer, unidirectional, batch_first), nn.LayerNorm (last dim), nn.ReLU, "
             "nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid, nn.Softplus, Log1p, VectorQuantizer, "
             "Flatten, Unflatten, Residual (frame-wise body), nn.BatchNorm1d directly after "
             "nn.Linear/nn.Conv1d (folded into it); nn.Identity/nn.Dropout are skipped")

# Ops whose input size comes from the previous op: the core cannot start a graph with them.
SIZELESS = {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus", "log1p", "flatten",
            "unflatten"}
# Ops that need the whole sequence at once: a graph holding one does not stream.
OFFLINE_ONLY = {"flatten", "unflatten"}
# Ops a residual body may hold (frame-wise, stateless), and how many (the core's
# limits::kMaxResidualBody).
RESIDUAL_BODY_OPS = {"linear", "layer_norm", "relu", "leaky_relu", "elu", "tanh", "sigmoid",
                     "softplus", "log1p"}
MAX_RESIDUAL_BODY = 16


class UnsupportedModuleError(TypeError):
    """A module the core's graph format cannot express."""


def _children(modules) -> List[Tuple[str, nn.Module]]:
    if isinstance(modules, nn.Module):
        return list(modules.named_children())
    return [(str(i), m) for i, m in enumerate(modules)]


def conv_padding(conv: nn.Conv1d, where: str) -> Tuple[int, int]:
    p = conv.padding
    if isinstance(p, str):
        if p == "valid":
            return 0, 0
        if p == "same":
            total = conv.dilation[0] * (conv.kernel_size[0] - 1)
            return total // 2, total - total // 2  # as PyTorch pads 'same'
        raise UnsupportedModuleError(f"{where}: Conv1d padding {p!r} is not supported")
    return int(p[0]), int(p[0])


def _folded(module: nn.Module, norm: Optional[nn.BatchNorm1d], where: str):
    """(weight, bias or None) of a Linear/Conv1d in PyTorch layout, with `norm` folded in."""
    if norm is None:
        return module.weight, module.bias
    out = module.weight.shape[0]
    if norm.num_features != out:
        raise UnsupportedModuleError(f"{where}: the BatchNorm1d after it normalises "
                                     f"{norm.num_features} channels, the layer gives {out}")
    if norm.running_mean is None or norm.running_var is None:
        raise UnsupportedModuleError(f"{where}: the BatchNorm1d after it keeps no running statistics "
                                     "(track_running_stats=False); only eval-mode statistics fold")
    return layout.fold_batch_norm(module.weight, module.bias, norm.running_mean, norm.running_var,
                                  norm.weight, norm.bias, norm.eps)


def module_op(module: nn.Module, name: str, pad: Optional[Tuple[int, int]] = None,
              norm: Optional[nn.BatchNorm1d] = None
              ) -> Tuple[Optional[Dict[str, Any]], Dict[str, np.ndarray]]:
    """One module -> (op dict or None for a skipped module, its tensors in core layout).
    ``norm``: a BatchNorm1d that follows a Linear/Conv1d, folded into it."""
    where = f"{name} ({type(module).__name__})"
    t: Dict[str, np.ndarray] = {}
    if norm is not None and not isinstance(module, (nn.Linear, nn.Conv1d)):
        raise UnsupportedModuleError(f"{where}: a BatchNorm1d folds only into nn.Linear or nn.Conv1d")
    if isinstance(module, nn.Linear):
        weight, bias_values = _folded(module, norm, where)
        t[f"{name}.weight"] = layout.linear_weight(weight)
        bias = None
        if bias_values is not None:
            bias = f"{name}.bias"
            t[bias] = layout.vector(bias_values)
        return {"op": "linear", "weight": f"{name}.weight", "bias": bias}, t
    if isinstance(module, nn.Conv1d):
        if module.groups != 1:
            raise UnsupportedModuleError(f"{where}: groups={module.groups}; the core supports groups=1")
        if module.padding_mode != "zeros":
            raise UnsupportedModuleError(f"{where}: padding_mode={module.padding_mode!r}; only zeros")
        left, right = conv_padding(module, where)
        if pad is not None:
            left, right = left + pad[0], right + pad[1]
        weight, bias_values = _folded(module, norm, where)
        t[f"{name}.weight"] = layout.conv1d_weight(weight)
        bias = None
        if bias_values is not None:
            bias = f"{name}.bias"
            t[bias] = layout.vector(bias_values)
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
    if isinstance(module, Unflatten):
        return {"op": "unflatten", "frames": int(module.frames)}, t
    if isinstance(module, nn.BatchNorm1d):
        raise UnsupportedModuleError(f"{where}: a BatchNorm1d is exported only folded into the "
                                     "nn.Linear or nn.Conv1d directly before it")
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
    if isinstance(module, Residual):
        return _residual_op(module, name, where)
    if isinstance(module, SKIPPED):
        return None, t
    raise UnsupportedModuleError(f"{where}: not supported by the .tmbl exporter (supported: {SUPPORTED})")


def _widths(op: Dict[str, Any], tensors: Dict[str, np.ndarray]) -> Optional[Tuple[int, int]]:
    """(in, out) of a weighted frame-wise op; None for a sizeless one."""
    if op["op"] == "linear":
        out, inp = tensors[op["weight"]].shape
        return int(inp), int(out)
    if op["op"] == "layer_norm":
        c = int(tensors[op["weight"]].shape[0])
        return c, c
    return None


def _residual_op(module: Residual, name: str, where: str
                 ) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """A Residual -> {"op": "residual", "ops": body ops}, checked as the core checks it."""
    ops: List[Dict[str, Any]] = []
    tensors: Dict[str, np.ndarray] = {}
    width = current = None
    for j, m in enumerate(module.body):
        sub = f"{name}.body.{j}"
        if isinstance(m, Residual):
            raise UnsupportedModuleError(f"{sub} (Residual): a residual cannot be nested in a "
                                         "residual body")
        op, t = module_op(m, sub)
        if op is None:
            continue
        if op["op"] not in RESIDUAL_BODY_OPS:
            raise UnsupportedModuleError(
                f"{sub} ({type(m).__name__}): '{op['op']}' is not allowed in a residual body "
                "(frame-wise ops only: linear, layer_norm, activations)")
        sizes = _widths(op, t)
        if sizes is not None:
            if current is not None and sizes[0] != current:
                raise UnsupportedModuleError(f"{sub} ({type(m).__name__}): takes {sizes[0]} "
                                             f"values, the op before gives {current}")
            width = sizes[0] if width is None else width
            current = sizes[1]
        ops.append(op)
        tensors.update(t)
    if not ops:
        raise UnsupportedModuleError(f"{where}: the residual body has no ops (Identity and "
                                     "Dropout are skipped)")
    if len(ops) > MAX_RESIDUAL_BODY:
        raise UnsupportedModuleError(f"{where}: a residual body of {len(ops)} ops exceeds the "
                                     f"limit of {MAX_RESIDUAL_BODY}")
    if width != current:
        raise UnsupportedModuleError(f"{where}: the residual body maps {width} values to "
                                     f"{current}; y = x + body(x) needs the same width")
    return {"op": "residual", "ops": ops}, tensors


def _sizeless(op: Dict[str, Any]) -> bool:
    """True where the op takes its input size from the op before it (a residual: from its
    body's first op)."""
    if op["op"] == "residual":
        return _sizeless(op["ops"][0])
    return op["op"] in SIZELESS


def _next_batch_norm(children: List[Tuple[str, nn.Module]], index: int) -> Optional[int]:
    """Index of the BatchNorm1d that directly follows children[index] (no-ops skipped), or None."""
    for j in range(index + 1, len(children)):
        if isinstance(children[j][1], nn.BatchNorm1d):
            return j
        if not isinstance(children[j][1], SKIPPED):
            return None
    return None


def graph_to_ops(modules: Union[nn.Module, Sequence[nn.Module]], prefix: str
                 ) -> Tuple[List[Dict[str, Any]], Dict[str, np.ndarray]]:
    """A module sequence -> (ops, tensors in core layout named ``<prefix>.<index>.<param>``)."""
    ops: List[Dict[str, Any]] = []
    tensors: Dict[str, np.ndarray] = {}
    pending_pad: Optional[Tuple[int, int, str]] = None
    children = _children(modules)
    folded = set()  # indices of the BatchNorm1d folded into the layer before them
    previous = "the start of the graph"  # what a stray BatchNorm1d follows, for the message
    for index, (child, module) in enumerate(children):
        name = f"{prefix}.{child}"
        if index in folded:
            previous = "a BatchNorm1d"
            continue
        if isinstance(module, nn.BatchNorm1d):
            raise UnsupportedModuleError(
                f"{name} (BatchNorm1d): follows {previous}; a BatchNorm1d must come directly after "
                "an nn.Linear or nn.Conv1d, which it is folded into (the core has no batch norm op)")
        if not isinstance(module, SKIPPED):
            previous = f"a {type(module).__name__}"
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
        norm = None
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            after = _next_batch_norm(children, index)
            if after is not None:
                norm = children[after][1]
                folded.add(after)
        op, t = module_op(module, name, pending_pad[:2] if pending_pad else None, norm)
        pending_pad = None
        if op is None:
            continue
        if not ops and _sizeless(op):
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
    if kind == "residual":
        return input_size(op["ops"], tensors)
    raise ValueError(f"graph starts with sizeless op {kind}")


def streams(ops: Iterable[Dict[str, Any]]) -> bool:
    """True where the core can run the graph one frame at a time (README: causal, no flatten
    or unflatten; a residual's body is frame-wise, so it streams)."""
    return all(op["op"] not in OFFLINE_ONLY
               and not (op["op"] == "conv1d" and op["padding_right"] != 0) for op in ops)


def steppable_with_state(ops: List[Dict[str, Any]]) -> bool:
    """One GRU and otherwise frame-wise ops: the graph has a single-step form whose only
    state is the GRU's hidden vector (the ONNX step export)."""
    kinds = [op["op"] for op in ops]
    return kinds.count("gru") == 1 and not OFFLINE_ONLY & set(kinds) and "conv1d" not in kinds
