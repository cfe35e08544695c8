"""Writer and validating reader of the core's ``.tmbl`` model file, version 1.

numpy only (no torch): evaluation and tooling read model files without the
training stack. The exporter (``timbrel.export``) writes through it.

Layout (models/README.md): magic ``TMBL``, uint32 version 1, uint32 header
length H, H bytes of compact UTF-8 JSON, zero padding to a multiple of 16 from
the file start (the data start D), float32 little-endian tensors at D + offset
(offset a multiple of 16), and a CRC-32 (zlib.crc32) of every preceding byte.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

MAGIC = b"TMBL"
VERSION = 1
ALIGN = 16
F32 = np.dtype("<f4")

# What a file may ask for: the core's limits (core/include/timbrel/nn/model_limits.h,
# models/README.md "Limits"), held by read_tmbl (and the page's reader,
# web/src/audio/model-file.js) with the core's messages.
LIMITS = {
    "max_file_bytes": 64 << 20,
    "max_header_bytes": 4 << 20,
    "max_json_depth": 32,
    "max_tensors": 4096,
    "max_graphs": 64,
    "max_layers": 1024,
    "max_rank": 4,
    "max_dimension": 65536,
    "max_parameters": 1 << 24,
    "max_residual_body": 16,
}


def json_depth_problem(text: bytes) -> str:
    """The core's scan before parsing: "" or the problem (strings skipped)."""
    depth, in_string, escaped = 0, False, False
    for i, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:
                escaped = True
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > LIMITS["max_json_depth"]:
                return f"header JSON nests deeper than {LIMITS['max_json_depth']} levels (at byte {i})"
        elif c in (0x5D, 0x7D) and depth > 0:
            depth -= 1
    return ""

# Fields of each op that name tensors (README op table).
TENSOR_FIELDS = {
    "linear": ("weight", "bias"),
    "conv1d": ("weight", "bias"),
    "gru": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
    "layer_norm": ("weight", "bias"),
    "vq": ("codebook",),
}
KNOWN_OPS = set(TENSOR_FIELDS) | {"flatten", "unflatten", "relu", "tanh", "sigmoid", "log1p",
                                  "leaky_relu", "elu", "softplus", "residual"}
# Ops a residual's body ("ops") may hold: frame-wise, stateless; no nested residual.
RESIDUAL_BODY_OPS = {"linear", "layer_norm", "relu", "leaky_relu", "elu", "tanh", "sigmoid",
                     "softplus", "log1p"}


class TmblError(ValueError):
    """A .tmbl file (or the content about to be written) is invalid."""


@dataclass
class TmblFile:
    family: str
    name: str
    metadata: Dict[str, Any]
    graphs: Dict[str, List[Dict[str, Any]]]
    tensors: Dict[str, np.ndarray]
    header: Dict[str, Any] = field(default_factory=dict)
    data_start: int = 0


def _pad(n: int) -> int:
    return (-n) % ALIGN


def residual_body(op: Mapping[str, Any], where: str) -> List[Mapping[str, Any]]:
    """The body ops of a residual op, checked as the core checks them before their weights
    (the core's messages); raises TmblError."""
    body = op.get("ops")
    if not isinstance(body, list):
        raise TmblError(f"{where}: residual needs 'ops', the list of its body's ops")
    if not body:
        raise TmblError(f"{where}: residual body is empty: y = x + body(x) needs at least one op")
    if len(body) > LIMITS["max_residual_body"]:
        raise TmblError(f"{where}: residual body of {len(body)} ops exceeds the limit of "
                        f"{LIMITS['max_residual_body']}")
    for j, inner in enumerate(body):
        inner_where = f"{where} body op {j}"
        kind = inner.get("op") if isinstance(inner, dict) else None
        if kind == "residual":
            raise TmblError(f"{inner_where}: a residual cannot be nested in a residual body")
        if kind in KNOWN_OPS and kind not in RESIDUAL_BODY_OPS:
            raise TmblError(f"{inner_where}: '{kind}' is not allowed in a residual body (frame-wise "
                            "ops only: linear, layer_norm, activations)")
        if kind not in RESIDUAL_BODY_OPS:
            raise TmblError(f"{inner_where}: unknown op {kind!r}")
    return body


def op_count(graphs: Mapping[str, Any]) -> int:
    """Ops over all graphs as the core counts them against max_layers: a residual's body ops
    included."""
    n = 0
    for ops in graphs.values():
        if not isinstance(ops, list):
            continue
        n += len(ops)
        for op in ops:
            if isinstance(op, dict) and op.get("op") == "residual" and isinstance(op.get("ops"), list):
                n += len(op["ops"])
    return n


def tensor_names_used(graphs: Mapping[str, List[Mapping[str, Any]]]) -> List[str]:
    """Tensor names the ops reference (a residual's body ops included), in first-use order."""
    names: List[str] = []

    def use(op: Mapping[str, Any]) -> None:
        for f in TENSOR_FIELDS.get(op.get("op"), ()):
            t = op.get(f)
            if t is not None and t not in names:
                names.append(t)

    for graph_name, ops in graphs.items():
        for i, op in enumerate(ops):
            kind = op.get("op")
            if kind not in KNOWN_OPS:
                raise TmblError(f"graph '{graph_name}' op {i}: unknown op {kind!r}")
            if kind == "residual":
                for inner in residual_body(op, f"graph '{graph_name}' op {i}"):
                    use(inner)
            use(op)
    return names


def check_tensor_references(graphs, tensors: Mapping[str, np.ndarray]) -> None:
    """Every tensor an op names exists and every tensor is used (as the loader demands)."""
    used = tensor_names_used(graphs)
    missing = [n for n in used if n not in tensors]
    if missing:
        raise TmblError(f"missing tensor(s) named by ops: {missing}")
    extra = [n for n in tensors if n not in used]
    if extra:
        raise TmblError(f"extra tensor(s) no op uses: {extra}")


def write_tmbl(path: Union[str, Path], family: str, name: str, metadata: Mapping[str, Any],
               graphs: Mapping[str, List[Mapping[str, Any]]],
               tensors: Mapping[str, np.ndarray]) -> Path:
    """Writes a .tmbl file; tensors in the core's layout (see layout.py). Returns the path.

    Tensors are stored in the order the ops first use them. Refuses NaN/Inf,
    missing or unused tensors, and empty graphs.
    """
    if not graphs:
        raise TmblError("no graphs")
    for g, ops in graphs.items():
        if not ops:
            raise TmblError(f"graph '{g}' is empty")
    check_tensor_references(graphs, tensors)
    entries = []
    blobs = []
    offset = 0
    for tname in tensor_names_used(graphs):
        a = np.asarray(tensors[tname])
        if a.ndim == 0 or 0 in a.shape:
            raise TmblError(f"tensor '{tname}' has an empty shape {a.shape}")
        a = np.ascontiguousarray(a, dtype=F32)
        if not np.all(np.isfinite(a)):
            raise TmblError(f"tensor '{tname}' contains NaN or Inf")
        entries.append({"name": tname, "shape": [int(d) for d in a.shape], "offset": offset})
        raw = a.tobytes(order="C")
        blobs.append(raw + b"\0" * _pad(len(raw)))
        offset += len(raw) + _pad(len(raw))
    header = {"family": family, "name": name, "metadata": dict(metadata),
              "graphs": {g: [dict(op) for op in ops] for g, ops in graphs.items()},
              "tensors": entries}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      sort_keys=False).encode("utf-8")
    head = MAGIC + struct.pack("<II", VERSION, len(text)) + text
    head += b"\0" * _pad(len(head))
    body = head + b"".join(blobs)
    body += struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)
    path = Path(path)
    path.write_bytes(body)
    return path


def read_tmbl(source: Union[str, Path, bytes], check_references: bool = True) -> TmblFile:
    """Reads and validates a .tmbl file (path or bytes); raises TmblError naming the problem."""
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    if len(data) > LIMITS["max_file_bytes"]:
        raise TmblError(f"the file has {len(data)} bytes, more than the limit of {LIMITS['max_file_bytes']}")
    if len(data) < 16:
        raise TmblError(f"truncated ({len(data)} bytes)")
    if data[:4] != MAGIC:
        raise TmblError("bad magic: not a Timbrel model (.tmbl) file")
    version, header_length = struct.unpack_from("<II", data, 4)
    if version != VERSION:
        raise TmblError(f"unknown version {version} (this reader reads version {VERSION})")
    if 12 + header_length + 4 > len(data):
        raise TmblError(f"truncated: header of {header_length} bytes does not fit in {len(data)} bytes")
    if header_length > LIMITS["max_header_bytes"]:
        raise TmblError(f"header of {header_length} bytes exceeds the limit of {LIMITS['max_header_bytes']}")
    (stored_crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != stored_crc:
        raise TmblError("checksum mismatch: the file is truncated or corrupted")
    problem = json_depth_problem(data[12:12 + header_length])
    if problem:
        raise TmblError(problem)
    try:
        header = json.loads(data[12:12 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TmblError(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise TmblError("header is not a JSON object")
    for key in ("family", "graphs", "tensors"):
        if key not in header:
            raise TmblError(f"header has no '{key}'")
    if not isinstance(header["graphs"], dict) or not header["graphs"]:
        raise TmblError("'graphs' must be a non-empty object")
    data_start = 12 + header_length + _pad(12 + header_length)
    data_end = len(data) - 4
    if data_start > data_end:
        raise TmblError("truncated: no room for tensor data")
    entries = header["tensors"] if isinstance(header["tensors"], list) else []
    if len(entries) > LIMITS["max_tensors"]:
        raise TmblError(f"the file lists {len(entries)} tensors, more than the limit of {LIMITS['max_tensors']}")
    if len(header["graphs"]) > LIMITS["max_graphs"]:
        raise TmblError(f"the file has {len(header['graphs'])} graphs, more than the limit of {LIMITS['max_graphs']}")
    layers = op_count(header["graphs"])
    if layers > LIMITS["max_layers"]:
        raise TmblError(f"the graphs hold {layers} ops in all, more than the limit of {LIMITS['max_layers']}")
    tensors: Dict[str, np.ndarray] = {}
    total = 0
    for entry in entries:
        try:
            tname, shape, offset = entry["name"], entry["shape"], entry["offset"]
        except (KeyError, TypeError):
            raise TmblError("a tensor entry lacks name, shape or offset") from None
        if not isinstance(shape, list) or not shape or len(shape) > LIMITS["max_rank"]:
            n = len(shape) if isinstance(shape, list) else 0
            raise TmblError(f"tensor '{tname}' has {n} dimensions, expected 1-{LIMITS['max_rank']}")
        if any((not isinstance(d, int)) or d <= 0 or d > LIMITS["max_dimension"] for d in shape):
            raise TmblError(f"tensor '{tname}' has an invalid shape: each dimension must be "
                            f"1-{LIMITS['max_dimension']}")
        count = 1
        for i, d in enumerate(shape):
            count *= d
            if count > LIMITS["max_parameters"]:
                seen = ", ".join(str(v) for v in shape[:i + 1])
                raise TmblError(f"tensor '{tname}' has shape [{seen}]...: more values than the "
                                f"limit of {LIMITS['max_parameters']}")
        if not isinstance(offset, int) or offset < 0 or offset % ALIGN:
            raise TmblError(f"tensor '{tname}' is not 16-byte aligned (offset {offset})")
        if data_start + offset + 4 * count > data_end:
            raise TmblError(f"truncated: tensor '{tname}' ({4 * count} bytes) lies outside the "
                            f"file's {data_end - data_start} bytes of tensor data")
        total += count
        if total > LIMITS["max_parameters"]:
            raise TmblError(f"the tensors hold more than {LIMITS['max_parameters']} values in all (limit)")
        if tname in tensors:
            raise TmblError(f"tensor '{tname}' appears twice")
        a = np.frombuffer(data, dtype=F32, count=count, offset=data_start + offset).reshape(shape)
        if not np.all(np.isfinite(a)):
            raise TmblError(f"tensor '{tname}' contains NaN or Inf")
        tensors[tname] = a.copy()
    if check_references:
        check_tensor_references(header["graphs"], tensors)
    return TmblFile(family=header["family"], name=header.get("name", ""),
                    metadata=header.get("metadata", {}), graphs=header["graphs"],
                    tensors=tensors, header=header, data_start=data_start)
