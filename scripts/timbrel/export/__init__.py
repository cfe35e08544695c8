"""Exporter: one PyTorch model -> the core's ``.tmbl`` file and ``.onnx`` graphs, in one step.

    from timbrel.export import export_model
    paths = export_model(model.graphs(), "vq_timbre", "violin",
                         {"sample_rate": 22050, "window": 1024, "hop": 256}, "models/violin")

writes ``violin.tmbl``, ``violin.<graph>.onnx`` for each graph and
``violin.<graph>.step.onnx`` for each graph with a single GRU (and otherwise
frame-wise ops), all from the same module weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional

from torch import nn

from .graph import UnsupportedModuleError, graph_to_ops, graphs_to_ops, input_size, steppable_with_state, streams
from .onnx_export import OPSET, export_sequence_onnx, export_step_onnx
from ..tmbl import TmblError, TmblFile, read_tmbl, write_tmbl

__all__ = ["OPSET", "TmblError", "TmblFile", "UnsupportedModuleError", "export_model",
           "graph_to_ops", "graphs_to_ops", "read_tmbl", "write_tmbl"]


def export_model(module_dict: Mapping[str, Any], family: str, name: str,
                 metadata: Mapping[str, Any], out_dir, *,
                 onnx_graphs: Optional[Iterable[str]] = None,
                 step_graphs: Optional[Iterable[str]] = None,
                 frames: int = 16, opset: int = OPSET, batch_axis: bool = False,
                 dtype: str = "f32") -> Dict[str, Any]:
    """Writes ``<name>.tmbl`` and the ONNX files; returns their paths and per-graph facts.

    ``module_dict``: graph name -> module sequence (``model.graphs()``).
    ``onnx_graphs``: graphs to write as sequence ONNX (default: all).
    ``step_graphs``: graphs to write in single-step form (default: all that qualify).
    ``batch_axis``: the sequence graphs take any batch size (else 1).
    ``dtype``: the .tmbl's weights, "f32" or "f16" (``write_tmbl``; the ONNX files stay float32).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ops, tensors = graphs_to_ops(dict(module_dict))
    tmbl_path = write_tmbl(out_dir / f"{name}.tmbl", family, name, metadata, ops, tensors, dtype=dtype)
    onnx_set = set(module_dict) if onnx_graphs is None else set(onnx_graphs)
    step_set = None if step_graphs is None else set(step_graphs)
    result: Dict[str, Any] = {"tmbl": tmbl_path, "graphs": {}}
    for gname, graph in module_dict.items():
        size = input_size(ops[gname], tensors)
        info: Dict[str, Any] = {"input_size": size, "streams": streams(ops[gname]),
                                "onnx": None, "step_onnx": None}
        if gname in onnx_set:
            info["onnx"] = export_sequence_onnx(graph, out_dir / f"{name}.{gname}.onnx", size,
                                                frames=frames, opset=opset, batch_axis=batch_axis)
        can_step = steppable_with_state(ops[gname])
        if step_set is not None and gname in step_set and not can_step:
            raise ValueError(f"graph '{gname}' has no single-step form (needs one GRU, frame-wise ops)")
        if can_step and (step_set is None or gname in step_set):
            info["step_onnx"] = export_step_onnx(graph, out_dir / f"{name}.{gname}.step.onnx", size,
                                                 opset=opset)
        result["graphs"][gname] = info
    return result
