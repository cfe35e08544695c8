"""The same sequence graphs (same modules, same weights) as ONNX, for ONNX Runtime.

Sequence form: input ``input`` ``[1, T, C]`` (batch first, time-major), output
``output`` ``[1, T', C']``; T is a dynamic axis unless the graph flattens time.
GRU state starts at zero, as in the core's offline ``forward``.

Step form (graphs with one GRU and otherwise frame-wise ops): inputs ``input``
``[1, 1, C]`` and ``state`` ``[1, 1, H]``, outputs ``output`` ``[1, 1, C']`` and
``state_out`` ``[1, 1, H]`` (feed it back as ``state``).

Semantics kept exactly: softplus honours ``threshold`` (ONNX Softplus has
none, so it is exported as ``Where(beta x > threshold, x, Softplus(beta x) / beta)``);
the quantiser forms sum((x - e)^2) and takes ArgMin (first index on ties).
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from timbrel.models.layers import SKIPPED, Flatten, Log1p, VectorQuantizer, apply_module, nearest_code

OPSET = 17


def _softplus(x: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    bx = x * beta if beta != 1.0 else x
    soft = F.softplus(bx)
    if beta != 1.0:
        soft = soft / beta
    return torch.where(bx > threshold, x, soft)


def _apply(module: nn.Module, x: torch.Tensor, state: Optional[torch.Tensor]):
    if isinstance(module, nn.Softplus):
        return _softplus(x, float(module.beta), float(module.threshold)), None
    if isinstance(module, VectorQuantizer):
        return F.embedding(nearest_code(x, module.codebook), module.codebook), None
    if isinstance(module, Log1p):
        return torch.log1p(x), None
    return apply_module(module, x, state)


def _modules(graph) -> list:
    items = list(graph.children()) if isinstance(graph, nn.Module) else list(graph)
    return [m for m in items if not isinstance(m, SKIPPED)]


class _Sequence(nn.Module):
    def __init__(self, graph):
        super().__init__()
        self.layers = nn.ModuleList(_modules(graph))

    def forward(self, x):
        for m in self.layers:
            x, _ = _apply(m, x, None)
        return x


class _Step(nn.Module):
    def __init__(self, graph):
        super().__init__()
        self.layers = nn.ModuleList(_modules(graph))
        if sum(isinstance(m, nn.GRU) for m in self.layers) != 1:
            raise ValueError("the step export needs exactly one GRU in the graph")

    def forward(self, x, state):
        out_state = state
        for m in self.layers:
            if isinstance(m, nn.GRU):
                x, out_state = m(x, state)
            else:
                x, _ = _apply(m, x, None)
        return x, out_state


def _export(module: nn.Module, args, path: Path, input_names, output_names, dynamic_axes, opset):
    kwargs = dict(input_names=list(input_names), output_names=list(output_names),
                  opset_version=opset, do_constant_folding=True)
    if dynamic_axes:
        kwargs["dynamic_axes"] = dynamic_axes
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # PyTorch 2.x: the TorchScript exporter, same as 1.13
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), **kwargs)


def _frozen(graph):
    """Context: the graph's modules in eval mode, restored afterwards."""
    modules = _modules(graph)

    class _Ctx:
        def __enter__(self):
            self.modes = [m.training for m in modules]
            for m in modules:
                m.eval()

        def __exit__(self, *exc):
            for m, mode in zip(modules, self.modes):
                m.train(mode)

    return _Ctx()


def has_flatten(graph) -> bool:
    return any(isinstance(m, Flatten) for m in _modules(graph))


def export_sequence_onnx(graph: Union[nn.Module, Sequence[nn.Module]], path: Union[str, Path],
                         input_size: int, frames: int = 16, dynamic: Optional[bool] = None,
                         opset: int = OPSET) -> Path:
    """Writes the sequence form; ``frames`` is the example length (the fixed T where
    the graph flattens time, which makes T static)."""
    path = Path(path)
    if dynamic is None:
        dynamic = not has_flatten(graph)
    for m in _modules(graph):
        if isinstance(m, Flatten) and m.frames is not None:
            frames = m.frames
    wrapper = _Sequence(graph)
    example = torch.zeros(1, frames, input_size)
    axes = {"input": {1: "frames"}, "output": {1: "frames_out"}} if dynamic else None
    with _frozen(graph), torch.no_grad():
        _export(wrapper, (example,), path, ["input"], ["output"], axes, opset)
    return path


def export_step_onnx(graph: Union[nn.Module, Sequence[nn.Module]], path: Union[str, Path],
                     input_size: int, opset: int = OPSET) -> Path:
    """Writes the single-step form with explicit GRU state."""
    path = Path(path)
    wrapper = _Step(graph)
    gru = next(m for m in wrapper.layers if isinstance(m, nn.GRU))
    x = torch.zeros(1, 1, input_size)
    h = torch.zeros(1, 1, gru.hidden_size)
    with _frozen(graph), torch.no_grad():
        _export(wrapper, (x, h), path, ["input", "state"], ["output", "state_out"], None, opset)
    return path
