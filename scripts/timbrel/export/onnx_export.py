"""The same sequence graphs (same modules, same weights) as ONNX, for ONNX Runtime.

Sequence form: input ``input`` ``[B, T, C]`` (batch first, time-major; B is 1 unless
exported with ``batch_axis=True``, as the GMVAE's graphs are for the Notes panel's batches),
output ``output`` ``[B, T', C']``; T is a dynamic axis unless the graph flattens or unflattens
time (a graph that unflattens takes one frame, ``[1, 1, C]``). BatchNorm1d layers are
exported as PyTorch runs them in eval mode (the ``.tmbl`` holds them folded).
GRU state starts at zero, as in the core's offline ``forward``.

Step form (graphs with one GRU and otherwise frame-wise ops): inputs ``input``
``[1, 1, C]`` and ``state`` ``[1, 1, H]``, outputs ``output`` ``[1, 1, C']`` and
``state_out`` ``[1, 1, H]`` (feed it back as ``state``).

Semantics kept exactly: softplus honours ``threshold`` (ONNX Softplus has
none, so it is exported as ``Where(beta x > threshold, x, Softplus(beta x) / beta)``);
the quantiser forms sum((x - e)^2) and takes ArgMin (first index on ties); a ``Residual``
runs its body through the same rules and becomes an ``Add`` of its input and the body's output.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from timbrel.models.layers import (SKIPPED, Flatten, Log1p, Pad1d, Residual, Unflatten,
                                   VectorQuantizer, apply_module, nearest_code)

from .graph import conv_padding

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
    if isinstance(module, Residual):  # the body's ops as above (softplus threshold...), then Add
        y = x
        for m in module.body:
            if not isinstance(m, SKIPPED):
                y, _ = _apply(m, y, None)
        return x + y, None
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
    """True where the graph flattens or unflattens time: its frame count is fixed."""
    return any(isinstance(m, (Flatten, Unflatten)) for m in _modules(graph))


def _frames_before(modules, frames: int) -> int:
    """The shortest input that the convolutions and paddings of ``modules`` turn into
    ``frames`` frames (a strided convolution maps several lengths onto one)."""
    for m in reversed(modules):
        if isinstance(m, Pad1d):
            frames -= m.left + m.right
        elif isinstance(m, nn.Conv1d):
            left, right = conv_padding(m, type(m).__name__)
            span = m.dilation[0] * (m.kernel_size[0] - 1) + 1
            frames = (frames - 1) * m.stride[0] + span - left - right
    return max(1, frames)


def example_frames(graph, frames: int) -> int:
    """The input length to trace with: the length that gives the first Flatten its stated
    frames; 1 where an Unflatten comes first (the frame-wise layers before it see one frame);
    else ``frames``."""
    modules = _modules(graph)
    for i, m in enumerate(modules):
        if isinstance(m, Unflatten):
            return 1
        if isinstance(m, Flatten):
            return frames if m.frames is None else _frames_before(modules[:i], m.frames)
    return frames


def export_sequence_onnx(graph: Union[nn.Module, Sequence[nn.Module]], path: Union[str, Path],
                         input_size: int, frames: int = 16, dynamic: Optional[bool] = None,
                         opset: int = OPSET, batch_axis: bool = False) -> Path:
    """Writes the sequence form; ``frames`` is the example length (the fixed T where
    the graph flattens time, which makes T static)."""
    path = Path(path)
    if dynamic is None:
        dynamic = not has_flatten(graph)
    frames = example_frames(graph, frames)
    wrapper = _Sequence(graph)
    example = torch.zeros(1, frames, input_size)
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if batch_axis else {"input": {}, "output": {}}
    if dynamic:
        axes["input"][1], axes["output"][1] = "frames", "frames_out"
    axes = axes if axes["input"] else None
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
