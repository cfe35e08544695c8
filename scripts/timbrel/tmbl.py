"""Writer and validating reader of the core's ``.tmbl`` model file, version 1.

numpy only (no torch): evaluation and tooling read model files without the
training stack. The exporter (``timbrel.export``) writes through it.

Layout (models/README.md): magic ``TMBL``, uint32 version 1, uint32 header
length H, H bytes of compact UTF-8 JSON, zero padding to a multiple of 16 from
the file start (the data start D), little-endian tensors at D + offset (offset a
multiple of 16; float32, or float16 where the entry says ``"dtype": "f16"``: widened to
float32 on reading), and a CRC-32 (zlib.crc32) of every preceding byte.

Families with a contract here (``FAMILY_CHECKS``: ``grains``, docs/grains.md) are held to
it by both the writer and the reader: required graphs, their sizes, the metadata.
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
F16 = np.dtype("<f2")
DTYPES = {"f32": F32, "f16": F16}

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


def stored_dtype(f: TmblFile) -> str:
    """"f16" when every tensor of `f` was stored as float16, else "f32": what a tool that
    rewrites the file (a new metadata entry) writes back, so it does not double the size."""
    entries = f.header.get("tensors", []) if isinstance(f.header, dict) else []
    if entries and all(isinstance(e, dict) and e.get("dtype") == "f16" for e in entries):
        return "f16"
    return "f32"


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
               tensors: Mapping[str, np.ndarray], dtype: str = "f32") -> Path:
    """Writes a .tmbl file; tensors in the core's layout (see layout.py). Returns the path.

    Tensors are stored in the order the ops first use them, as ``dtype`` ("f32", or "f16":
    half the bytes, each weight rounded to 11 significant bits; the family check runs on the
    rounded values). Refuses NaN/Inf (a weight beyond float16's range too), missing or unused
    tensors, and empty graphs.
    """
    if dtype not in DTYPES:
        raise TmblError(f"dtype must be one of {sorted(DTYPES)}")
    if dtype != "f32":
        with np.errstate(over="ignore"):
            tensors = {k: np.asarray(v, np.float32).astype(DTYPES[dtype]).astype(np.float32)
                       for k, v in tensors.items()}
    if not graphs:
        raise TmblError("no graphs")
    for g, ops in graphs.items():
        if not ops:
            raise TmblError(f"graph '{g}' is empty")
    check_tensor_references(graphs, tensors)
    check_family(family, metadata, graphs,
                 {k: np.asarray(v) for k, v in tensors.items()})
    entries = []
    blobs = []
    offset = 0
    for tname in tensor_names_used(graphs):
        a = np.asarray(tensors[tname])
        if a.ndim == 0 or 0 in a.shape:
            raise TmblError(f"tensor '{tname}' has an empty shape {a.shape}")
        a = np.ascontiguousarray(a, dtype=DTYPES[dtype])
        if not np.all(np.isfinite(a)):
            raise TmblError(f"tensor '{tname}' contains NaN or Inf" +
                            (" (or a value beyond float16's +-65504)" if dtype == "f16" else ""))
        entries.append({"name": tname, "shape": [int(d) for d in a.shape], "offset": offset,
                        **({"dtype": dtype} if dtype != "f32" else {})})
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
        dtype = entry.get("dtype", "f32") if isinstance(entry, dict) else "f32"
        if dtype not in DTYPES:
            raise TmblError(f"tensor '{tname}' has dtype {json.dumps(dtype)}; this reader reads "
                            '"f32" and "f16"')
        size = DTYPES[dtype].itemsize
        if data_start + offset + size * count > data_end:
            raise TmblError(f"truncated: tensor '{tname}' ({size * count} bytes) lies outside the "
                            f"file's {data_end - data_start} bytes of tensor data")
        total += count
        if total > LIMITS["max_parameters"]:
            raise TmblError(f"the tensors hold more than {LIMITS['max_parameters']} values in all (limit)")
        if tname in tensors:
            raise TmblError(f"tensor '{tname}' appears twice")
        a = np.frombuffer(data, dtype=DTYPES[dtype], count=count,
                          offset=data_start + offset).reshape(shape).astype(np.float32)
        if not np.all(np.isfinite(a)):
            raise TmblError(f"tensor '{tname}' contains NaN or Inf")
        tensors[tname] = a.copy()
    if check_references:
        check_tensor_references(header["graphs"], tensors)
        check_family(header["family"], header.get("metadata", {}), header["graphs"], tensors)
    return TmblFile(family=header["family"], name=header.get("name", ""),
                    metadata=header.get("metadata", {}), graphs=header["graphs"],
                    tensors=tensors, header=header, data_start=data_start)


# --- family contracts ------------------------------------------------------------------------
#
# read_tmbl (with check_references) and write_tmbl hold a file of a family listed in
# FAMILY_CHECKS to that family's contract: its graphs, their sizes and its metadata, with a
# message naming the graph or key. Families not listed are checked by the core only.

# The grains family (docs/grains.md "Metadata" and "The grains model file"): what a file may
# ask of the core's engine. The synthesis constants are fixed by the contract; the sizes are
# bounded so that one hop of one voice stays a bounded amount of work.
GRAINS = {
    "sample_rate": 22050, "grain": 2048, "hop": 512, "bins": 1025,
    "graphs": ("grain_encoder", "grain_decoder", "sequence_encoder", "embedding",
               "sequence_decoder"),
    # the same numbers as the core's GrainsModel (core/include/timbrel/models/grains.h)
    "max_grains": 1024,             # one-shot length: (grains - 1) 512 + 2048 samples (24 s)
    "min_latent": 1,
    "max_latent": 1024,
    "max_embedding": 1024,
    "max_classes": 128,
    "max_pitch_centres": 128,
    "max_class_name": 64,           # characters
    "max_post_filter_taps": 1024,
    "max_hop_multiply_adds": 1 << 23,  # grain decoder + one sequence-decoder step, per hop
    "max_encode_multiply_adds": 1 << 24,  # one grain through the encoder (beat-box onsets)
    "max_value": 1000.0,            # |x| of every number of grain_map, centroids, embeddings, taps
    "max_encoder_input_gain": 1e6,
    "strings": {"conditioning": "one_hot_after_input", "window": "hann_periodic_flat_ends",
                "ola_normalisation": "window_sum", "filter": "softplus_magnitude_zero_phase"},
}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def graph_flow(ops: List[Mapping[str, Any]], tensors: Mapping[str, np.ndarray], frames: int,
               where: str, channels: Optional[int] = None) -> Dict[str, Any]:
    """Walks a graph's sizes as the core builds it: ``frames`` input frames (1 for a
    frame-wise graph) through every op (``channels``: the input width, for a residual's
    body; None: from the first op's weights). Returns {"input", "output", "frames" (output frames),
    "frame_wise" (no conv1d, gru, flatten, unflatten or vq), "grus", "multiply_adds" (one run
    over ``frames`` frames, counted as the core's grains engine counts: a linear in x out, a
    GRU step 3 H (in + H), a convolution kernel x in x out per output frame, a layer_norm or
    activation its width, a residual its width plus its body)}; raises TmblError where a size does not follow (the core's loader
    says the same of a file that reaches it)."""
    def shape(op, field):
        name = op.get(field)
        if name not in tensors:
            raise TmblError(f"{where}: op '{op.get('op')}' names no tensor in '{field}'")
        return tensors[name].shape

    first: Optional[int] = channels
    t = frames
    macs = 0
    grus = 0
    frame_wise = True

    def need(c_in, i, kind):
        nonlocal channels, first
        if channels is None:
            channels = first = int(c_in)
        elif channels != c_in:
            raise TmblError(f"{where} op {i} ({kind}): takes {c_in} values, the op before "
                            f"gives {channels}")

    for i, op in enumerate(ops):
        kind = op.get("op")
        if kind == "linear":
            out, inp = shape(op, "weight")
            need(inp, i, kind)
            macs += t * inp * out
            channels = out
        elif kind == "conv1d":
            kernel, out, inp = shape(op, "weight")
            need(inp, i, kind)
            frame_wise = False
            span = int(op.get("dilation", 1)) * (kernel - 1) + 1
            padded = t + int(op.get("padding_left", 0)) + int(op.get("padding_right", 0))
            if padded < span:
                raise TmblError(f"{where} op {i} (conv1d): {t} frames are fewer than its "
                                f"span of {span}")
            t = (padded - span) // int(op.get("stride", 1)) + 1
            macs += t * inp * out * kernel
            channels = out
        elif kind == "gru":
            three_h, inp = shape(op, "weight_ih")
            need(inp, i, kind)
            frame_wise = False
            grus += 1
            hidden = three_h // 3
            macs += t * three_h * (inp + hidden)
            channels = hidden
        elif kind == "layer_norm":
            (c,) = shape(op, "weight")
            need(c, i, kind)
            macs += t * c
        elif kind == "vq":
            _, dim = shape(op, "codebook")
            need(dim, i, kind)
            frame_wise = False
        elif kind == "residual":
            inner = graph_flow(op.get("ops", []), tensors, t, f"{where} op {i} (residual) body",
                               channels)
            need(inner["input"], i, kind)
            if inner["output"] != channels:
                raise TmblError(f"{where} op {i} (residual): the body gives {inner['output']} "
                                f"values for an input of {channels}")
            macs += inner["multiply_adds"] + t * channels
        elif kind == "flatten":
            if channels is None:
                raise TmblError(f"{where} op {i}: a graph cannot start with 'flatten'")
            frame_wise = False
            if op.get("frames") is not None and op["frames"] != t:
                raise TmblError(f"{where} op {i} (flatten): expects {op['frames']} frames, the "
                                f"op before gives {t}")
            channels, t = channels * t, 1
        elif kind == "unflatten":
            f = op.get("frames")
            if channels is None or not _is_int(f) or f < 1 or channels % f or t != 1:
                raise TmblError(f"{where} op {i} (unflatten): {f!r} frames do not divide one "
                                f"frame of {channels} values")
            frame_wise = False
            channels, t = channels // f, f
        elif channels is None:
            raise TmblError(f"{where} op {i}: a graph cannot start with '{kind}'")
        else:  # activations
            macs += t * channels
    if channels is None:
        raise TmblError(f"{where}: the graph has no ops with weights")
    return {"input": first, "output": channels, "frames": t, "frame_wise": frame_wise,
            "grus": grus, "multiply_adds": macs}


def _numbers(value, count: int, key: str, limit: float) -> List[float]:
    """A list of ``count`` finite numbers within +-limit, else TmblError naming ``key``."""
    if not isinstance(value, list) or len(value) != count:
        n = len(value) if isinstance(value, list) else type(value).__name__
        raise TmblError(f"family 'grains': metadata '{key}' must be a list of {count} numbers "
                        f"(got {n})")
    for j, v in enumerate(value):
        if not _is_number(v) or abs(v) > limit:
            raise TmblError(f"family 'grains': metadata '{key}[{j}]' is {v!r}: expected a "
                            f"finite number within +-{limit:g}")
    return [float(v) for v in value]


def _rows(value, rows: int, count: int, key: str, limit: float) -> List[List[float]]:
    if not isinstance(value, list) or len(value) != rows:
        n = len(value) if isinstance(value, list) else type(value).__name__
        raise TmblError(f"family 'grains': metadata '{key}' must hold {rows} rows of {count} "
                        f"numbers (got {n} rows)")
    return [_numbers(r, count, f"{key}[{j}]", limit) for j, r in enumerate(value)]


def check_grains(metadata: Mapping[str, Any], graphs: Mapping[str, Any],
                 tensors: Mapping[str, np.ndarray]) -> None:
    """The ``grains`` family's contract (docs/grains.md); raises TmblError naming the
    graph or metadata key that breaks it."""
    G = GRAINS
    pre = "family 'grains': "
    if not isinstance(metadata, dict):
        raise TmblError(pre + "metadata must be an object")

    def get(key):
        if key not in metadata:
            raise TmblError(pre + f"metadata lacks '{key}'")
        return metadata[key]

    def integer(key, low, high):
        v = get(key)
        if not _is_int(v) or not low <= v <= high:
            raise TmblError(pre + f"metadata '{key}' is {v!r}: expected an integer in {low}-{high}")
        return v

    for key in ("sample_rate", "grain", "hop", "bins"):
        if get(key) != G[key] or not _is_int(get(key)):
            raise TmblError(pre + f"metadata '{key}' is {get(key)!r}; the contract's value is {G[key]}")
    grains = integer("grains", 1, G["max_grains"])
    samples = (grains - 1) * G["hop"] + G["grain"]
    if get("samples") != samples or not _is_int(get("samples")):
        raise TmblError(pre + f"metadata 'samples' is {get('samples')!r}; {grains} grains "
                        f"overlap-add to {samples}")
    latent = integer("latent", G["min_latent"], G["max_latent"])
    embedding = integer("embedding", 1, G["max_embedding"])
    classes = get("classes")
    if not isinstance(classes, list) or not 1 <= len(classes) <= G["max_classes"]:
        raise TmblError(pre + f"metadata 'classes' must list 1-{G['max_classes']} class names")
    for j, c in enumerate(classes):
        if not isinstance(c, str) or not 1 <= len(c) <= G["max_class_name"]:
            raise TmblError(pre + f"metadata 'classes[{j}]' must be a name of "
                            f"1-{G['max_class_name']} characters")
    if len(set(classes)) != len(classes):
        raise TmblError(pre + "metadata 'classes' names a class twice")
    n_classes = len(classes)
    gain = get("encoder_input_gain")
    if not _is_number(gain) or not 0 < gain <= G["max_encoder_input_gain"]:
        raise TmblError(pre + f"metadata 'encoder_input_gain' is {gain!r}: expected a number in "
                        f"(0, {G['max_encoder_input_gain']:g}]")
    # true (the exporter's; absent means the same): the gain is in grain_encoder's first
    # weight; false: the engine multiplies the grains by it (as the core's GrainsModel)
    if not isinstance(metadata.get("encoder_gain_folded", True), bool):
        raise TmblError(pre + "metadata 'encoder_gain_folded' must be true or false")
    for key, want in G["strings"].items():
        if get(key) != want:
            raise TmblError(pre + f"metadata '{key}' is {get(key)!r}; the contract's is {want!r}")
    noise = get("noise")
    want_noise = {"distribution": "uniform", "low": -1.0, "high": 1.0, "generator": "xorshift32"}
    if not isinstance(noise, dict) or any(noise.get(k) != v for k, v in want_noise.items()):
        raise TmblError(pre + f"metadata 'noise' must be {dict(want_noise, seed='1-4294967295')}")
    seed = noise.get("seed")
    if not _is_int(seed) or not 1 <= seed <= 0xFFFFFFFF:
        raise TmblError(pre + f"metadata 'noise.seed' is {seed!r}: expected an integer in "
                        "1-4294967295 (xorshift32 stays at 0 from 0)")
    post = get("post_processing")
    if not isinstance(post, bool):
        raise TmblError(pre + "metadata 'post_processing' must be true or false")
    taps = get("post_filter")
    n_taps = len(taps) if isinstance(taps, list) else -1
    if post and not 1 <= n_taps <= G["max_post_filter_taps"]:
        raise TmblError(pre + f"metadata 'post_filter' must hold 1-{G['max_post_filter_taps']} "
                        "taps when post_processing is true")
    if not post and n_taps != 0:
        raise TmblError(pre + "metadata 'post_filter' must be empty when post_processing is false")
    _numbers(taps, n_taps, "post_filter", G["max_value"])
    makeup = metadata.get("output_gain_db", 0.0)  # optional: the page's make-up gain
    if isinstance(makeup, bool) or not isinstance(makeup, (int, float)) or not 0 <= makeup <= 24:
        raise TmblError(pre + f"metadata 'output_gain_db' is {makeup!r}: expected a number of "
                        "decibels in 0-24")
    limit = G["max_value"]
    grain_map = get("grain_map")
    if not isinstance(grain_map, dict):
        raise TmblError(pre + "metadata 'grain_map' must be an object {mean, axes, extent, "
                        "class_points}")
    for key in ("mean", "axes", "extent", "class_points"):
        if key not in grain_map:
            raise TmblError(pre + f"metadata 'grain_map' lacks '{key}'")
    _numbers(grain_map["mean"], latent, "grain_map.mean", limit)
    axes = _rows(grain_map["axes"], 2, latent, "grain_map.axes", limit)
    for j, axis in enumerate(axes):
        if not sum(v * v for v in axis) > 0:
            raise TmblError(pre + f"metadata 'grain_map.axes[{j}]' is a zero vector")
    x0, x1, y0, y1 = _numbers(grain_map["extent"], 4, "grain_map.extent", limit)
    if not (x0 < x1 and y0 < y1):
        raise TmblError(pre + f"metadata 'grain_map.extent' is {[x0, x1, y0, y1]}: expected "
                        "[x0, x1, y0, y1] with x0 < x1 and y0 < y1")
    _rows(grain_map["class_points"], n_classes, 2, "grain_map.class_points", limit)
    _rows(get("onset_centroids"), n_classes, latent, "onset_centroids", limit)
    _rows(get("class_embeddings"), n_classes, embedding, "class_embeddings", limit)
    if "training" in metadata and not isinstance(metadata["training"], dict):
        raise TmblError(pre + "metadata 'training' must be an object")
    # pitched models: c = [one-hot class, pitch code] (docs/grains.md "Pitched models")
    n_conditions = n_classes
    pitch = metadata.get("pitch_conditioning")
    if pitch is None:
        if "class_pitches" in metadata:
            raise TmblError(pre + "metadata 'class_pitches' without 'pitch_conditioning'")
    else:
        if not isinstance(pitch, dict) or pitch.get("code") != "gaussian_bumps":
            raise TmblError(pre + "metadata 'pitch_conditioning' must be {code: 'gaussian_bumps', "
                            "centres, width}")
        centres = pitch.get("centres")
        if not isinstance(centres, list) or not 1 <= len(centres) <= G["max_pitch_centres"]:
            raise TmblError(pre + f"metadata 'pitch_conditioning.centres' must list "
                            f"1-{G['max_pitch_centres']} MIDI pitches")
        if any(v < 0 for v in _numbers(centres, len(centres), "pitch_conditioning.centres", 127)):
            raise TmblError(pre + "metadata 'pitch_conditioning.centres' must be MIDI pitches 0-127")
        width = pitch.get("width")
        if not _is_number(width) or not 0 < width <= 48:
            raise TmblError(pre + f"metadata 'pitch_conditioning.width' is {width!r}: expected "
                            "semitones in (0, 48]")
        for j, (lo, mid, hi) in enumerate(_rows(get("class_pitches"), n_classes, 3,
                                                "class_pitches", 127)):
            if not 0 <= lo <= mid <= hi <= 127:
                raise TmblError(pre + f"metadata 'class_pitches[{j}]' must be MIDI pitches "
                                "with 0 <= lo <= typical <= hi <= 127")
        n_conditions = n_classes + len(centres)

    for name in G["graphs"]:
        if name not in graphs:
            raise TmblError(pre + f"no '{name}' graph (the family needs {', '.join(G['graphs'])})")

    def flow(name, frames=1):
        return graph_flow(graphs[name], tensors, frames, pre + f"graph '{name}'")

    def sizes(name, f, want_in, want_out):
        if f["input"] != want_in:
            raise TmblError(pre + f"graph '{name}' takes {f['input']} values per frame; the "
                            f"contract's input is {want_in}")
        if f["output"] != want_out or f["frames"] != 1:
            raise TmblError(pre + f"graph '{name}' gives {f['frames']} x {f['output']} values; "
                            f"the contract's output is 1 x {want_out}")

    bad = [op.get("op") for op in graphs["grain_encoder"]
           if op.get("op") in ("gru", "vq", "unflatten")]
    if bad:
        raise TmblError(pre + f"graph 'grain_encoder' holds '{bad[0]}': the grain encoder uses "
                        "conv1d, linear, layer_norm, residual, flatten and activations only")
    encoder = flow("grain_encoder", G["grain"])
    sizes("grain_encoder", encoder, 1, 2 * latent)
    if encoder["multiply_adds"] > G["max_encode_multiply_adds"]:
        raise TmblError(pre + f"graph 'grain_encoder' costs {encoder['multiply_adds']} "
                        "multiply-adds per grain, more than the limit of "
                        f"{G['max_encode_multiply_adds']}")
    decoder = flow("grain_decoder")
    sizes("grain_decoder", decoder, latent + n_conditions, G["bins"])
    if not decoder["frame_wise"]:
        raise TmblError(pre + "graph 'grain_decoder' must be frame-wise (linear, layer_norm, "
                        "residual, activations): the core runs it once per grain")
    last = graphs["grain_decoder"][-1].get("op")
    if last != "softplus":
        raise TmblError(pre + f"graph 'grain_decoder' ends with '{last}'; the contract's filter "
                        "magnitudes come from a softplus (H >= 0)")
    seq_encoder = flow("sequence_encoder")
    if seq_encoder["input"] != latent + n_conditions:
        raise TmblError(pre + f"graph 'sequence_encoder' takes {seq_encoder['input']} values per "
                        f"frame; the contract's input is {latent + n_conditions} (latent + "
                        "conditioning)")
    if any(op.get("op") in ("conv1d", "flatten", "unflatten", "vq")
           for op in graphs["sequence_encoder"]):
        raise TmblError(pre + "graph 'sequence_encoder' takes gru, linear, layer_norm, residual "
                        "and activations only")
    head = flow("embedding")
    sizes("embedding", head, seq_encoder["output"], 2 * embedding)
    if not head["frame_wise"]:
        raise TmblError(pre + "graph 'embedding' must be frame-wise")
    seq_decoder = flow("sequence_decoder")
    sizes("sequence_decoder", seq_decoder, embedding + n_conditions, latent)
    kinds = [op.get("op") for op in graphs["sequence_decoder"]]
    if kinds != ["gru", "linear"]:
        raise TmblError(pre + "graph 'sequence_decoder' must be exactly a gru then a linear "
                        "(the engine keeps one GRU state per voice)")
    per_hop = decoder["multiply_adds"] + seq_decoder["multiply_adds"]
    if per_hop > G["max_hop_multiply_adds"]:
        raise TmblError(pre + f"grain_decoder + one sequence_decoder step cost {per_hop} "
                        f"multiply-adds per hop, more than the limit of {G['max_hop_multiply_adds']}")


FAMILY_CHECKS = {"grains": check_grains}


def check_family(family: str, metadata: Mapping[str, Any], graphs: Mapping[str, Any],
                 tensors: Mapping[str, np.ndarray]) -> None:
    """Holds a file of a family in FAMILY_CHECKS to its contract (TmblError)."""
    check = FAMILY_CHECKS.get(family)
    if check is not None:
        check(metadata, graphs, tensors)


# --- re-packing -------------------------------------------------------------------------------

def repack(source: Union[str, Path], out: Union[str, Path], dtype: str = "f16") -> Dict[str, Any]:
    """``source`` written again to ``out`` with its weights as ``dtype`` (family, name,
    metadata and graphs kept). Returns the sizes and the largest weight change."""
    f = read_tmbl(source)
    path = write_tmbl(out, f.family, f.name, f.metadata, f.graphs, f.tensors, dtype=dtype)
    g = read_tmbl(path)
    # the largest change of a weight, relative to the largest weight of its tensor
    worst = max(float(np.max(np.abs(g.tensors[k] - v)) / np.max(np.abs(v)))
                for k, v in f.tensors.items() if np.any(v))
    return {"path": path, "bytes_before": len(Path(source).read_bytes()) if not isinstance(
        source, (bytes, bytearray)) else len(source), "bytes_after": path.stat().st_size,
        "largest_relative_change": worst}


def refresh_index_sizes(index: Union[str, Path]) -> List[str]:
    """Sets each entry's ``size_bytes`` in a catalog (models/index.json and the like: a list
    of objects with ``file`` relative to the catalog) to its file's size, which the page
    shows before a download. Returns the ids whose size changed."""
    index = Path(index)
    items = json.loads(index.read_text())
    changed = []
    for entry in items:
        if "size_bytes" in entry and "file" in entry:
            size = (index.parent / entry["file"]).stat().st_size
            if entry["size_bytes"] != size:
                entry["size_bytes"] = size
                changed.append(str(entry.get("id", entry["file"])))
    if changed:
        index.write_text(json.dumps(items, indent=1) + "\n")
    return changed


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m timbrel.tmbl repack IN.tmbl OUT.tmbl [--dtype f16|f32]``;
    ``python -m timbrel.tmbl index-sizes INDEX.json...``."""
    import argparse
    import sys
    p = argparse.ArgumentParser(prog="python -m timbrel.tmbl", description="Timbrel model files")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("repack", help="write a .tmbl again with f16 (or f32) weights")
    r.add_argument("source")
    r.add_argument("out")
    r.add_argument("--dtype", choices=sorted(DTYPES), default="f16")
    i = sub.add_parser("index-sizes", help="set each catalog entry's size_bytes to its file's size")
    i.add_argument("indexes", nargs="+")
    args = p.parse_args(argv)
    if args.command == "index-sizes":
        for index in args.indexes:
            changed = refresh_index_sizes(index)
            print(f"{index}: {len(changed)} size(s) updated" + (f" ({', '.join(changed)})"
                                                              if changed else ""))
        return 0
    try:
        info = repack(args.source, args.out, args.dtype)
    except (TmblError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {info['path']}: {info['bytes_before']} -> {info['bytes_after']} bytes; largest "
          f"weight change (relative to its tensor's largest) {info['largest_relative_change']:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
