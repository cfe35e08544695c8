"""The golden files of the tests (tests/golden/<name>/): one generator module per
folder, one manifest format, one entry point.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden             # rewrite every folder
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --check     # rewrite into a temporary
        folder and compare with the committed files (exit 1 on a difference beyond the last bits)
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only vq draw

Generators (``generate(out) -> dict``: writes the folder's files, returns the facts
the manifest carries besides the file list):

- ``dsp``: signals, descriptors and YIN of ``timbrel.dsp_reference`` (Catch2 DSP tests)
- ``cqt``: the constant-Q front end of ``timbrel.cqt``
- ``nn``: the inference engine's parity cases (.tmbl, PyTorch outputs, ONNX graphs);
  ``python -m timbrel.golden.nn --bench --out DIR`` writes the benchmark graphs
- ``vq``: the vq_timbre synthesis contract (a random-weight model and its renders)
- ``crossmodal``: the crossmodal_vae contract (solo and mixture models, graph outputs)
- ``draw``: descriptor-based synthesis (needs the native tool, ``build/core/timbrel``)
- ``midi``: Standard MIDI File fixtures, byte by byte
- ``mel``: the GMVAE's log-mel features and their inverse (``timbrel.mel``)
- ``gmvae``: the gmvae contract (docs/gmvae.md): a hand-set oracle model, encoder/decoder parity
- ``grains``: the grains contract (docs/grains.md): a tiny random-weight model, hits, the grain
  path, the grain encoder and the path voice rendered hop by hop

Every folder's ``manifest.json`` (format 1)::

    {"format": 1, "generator": "timbrel.golden.<name>", "command": "...", "seed": S,
     ...the generator's facts (tolerances, sizes, cases),
     "files": {"<path>": {"bytes": n, "sha256": "...", "shape": [...], "dtype": "<f4",
                          "about": "..."}}}

``shape`` and ``dtype`` are given for ``.npy`` files, ``about`` where the generator
describes the file. Folders whose tests read a ``meta.json`` keep it; the manifest
lists it with the other files.

Reproducibility. numpy's float reductions take SIMD paths chosen by the CPU, so a
regeneration on another machine may differ from the committed files in the last
bits (dsp and cqt written on one machine differ by ~1e-12 relative in float64 on an
AMD EPYC, 2026-12): ``differences`` accepts float arrays within LAST_BITS of the
committed values and compares everything else (integers, headers, .tmbl, MIDI,
the manifests without their hashes) byte for byte. nn, vq and crossmodal differ in the last bits
of float32 (at most 3.6e-7 absolute, weights included where a generator derives
them from network outputs: the vq codebook, the cross-modal PCA projection):
PyTorch's float arithmetic depends on the BLAS Debian selects and on the CPU, and
the committed files were written on another machine. That is far inside every
test's tolerance (1e-5 and wider), so those files stay as committed and
``--manifest-only`` describes them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import numpy as np

FORMAT = 1
# Relative agreement (to the array's largest magnitude) that counts as "the same
# golden file" for floats computed on another CPU: far below every consumer's tolerance.
LAST_BITS = {"f8": 1e-9, "f4": 2e-6, "f2": 2e-3}
GENERATORS = ("dsp", "cqt", "nn", "vq", "crossmodal", "draw", "midi", "mel", "gmvae", "grains")
GOLDEN_ROOT = Path(__file__).resolve().parents[3] / "tests" / "golden"


def save_npy(path: Path, array: np.ndarray, dtype: str) -> None:
    """Saves array as little-endian `dtype` (numpy's dtype code, e.g. "f4"), no pickle."""
    np.save(path, np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")),
            allow_pickle=False)


def _npy_header(path: Path) -> Dict[str, Any]:
    a = np.load(path, mmap_mode="r", allow_pickle=False)
    return {"shape": list(a.shape), "dtype": a.dtype.str}


def describe_files(out: Path, about: Optional[Mapping[str, Any]] = None) -> Dict[str, Dict]:
    """Every file under out but the manifest: size, SHA-256, .npy shape and dtype."""
    files: Dict[str, Dict] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"):
        name = path.relative_to(out).as_posix()
        data = path.read_bytes()
        entry: Dict[str, Any] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if path.suffix == ".npy":
            entry.update(_npy_header(path))
        if about and isinstance(about.get(name), str):
            entry["about"] = about[name]
        files[name] = entry
    return files


def write_manifest(out: Path, name: str, seed: Optional[int], facts: Mapping[str, Any]) -> Dict:
    """Writes out/manifest.json (the format above) and returns it."""
    facts = dict(facts)
    about = facts.pop("files", None)
    manifest = {"format": FORMAT, "generator": f"timbrel.golden.{name}",
                "command": f"PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only {name}",
                "seed": seed, **facts,
                "files": describe_files(out, about if isinstance(about, dict) else None)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def write(name: str, out: Path) -> Dict:
    """Runs generator `name` into out and writes its manifest; returns the manifest."""
    if name not in GENERATORS:
        raise ValueError(f"unknown golden folder '{name}' (known: {', '.join(GENERATORS)})")
    module = importlib.import_module(f"timbrel.golden.{name}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    facts = module.generate(out) or {}
    return write_manifest(out, name, getattr(module, "SEED", None), facts)


def _without_hashes(manifest: Dict) -> Dict:
    manifest = json.loads(json.dumps(manifest))
    manifest.pop("numpy_version", None)
    for entry in manifest.get("files", {}).values():
        entry.pop("sha256", None)
    return manifest


def difference(committed: Path, fresh: Path) -> Optional[str]:
    """None when fresh reproduces committed (floats within LAST_BITS), else what differs."""
    if committed.read_bytes() == fresh.read_bytes():
        return None
    if committed.name == "manifest.json":
        a, b = (_without_hashes(json.loads(p.read_text())) for p in (committed, fresh))
        return None if a == b else "manifest facts differ"
    if committed.suffix == ".tmbl":
        return _tmbl_difference(committed, fresh)
    if committed.suffix != ".npy":
        return f"{committed.stat().st_size} -> {fresh.stat().st_size} bytes, contents differ"
    a, b = np.load(committed, allow_pickle=False), np.load(fresh, allow_pickle=False)
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"shape/dtype {a.shape} {a.dtype} -> {b.shape} {b.dtype}"
    tolerance = LAST_BITS.get(a.dtype.str[1:])
    if tolerance is None:
        return "values differ (not a float array: must match exactly)"
    if not (np.array_equal(np.isfinite(a), np.isfinite(b)) and
            np.array_equal(a[~np.isfinite(a)], b[~np.isfinite(b)], equal_nan=True)):
        return "non-finite values differ"
    finite = np.isfinite(a)
    delta = np.abs(a[finite].astype(np.float64) - b[finite].astype(np.float64))
    scale = float(np.abs(a[finite]).max(initial=0.0))
    if delta.size and delta.max() > tolerance * max(scale, 1e-30):
        return (f"values differ: max |difference| {delta.max():.3g} "
                f"(more than {tolerance:g} of the largest value {scale:.3g})")
    return None


def _json_difference(a, b, where: str = "metadata") -> Optional[str]:
    """Where two JSON trees differ beyond the last bits of their numbers (1e-9 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{where}: keys differ"
        for k in a:
            why = _json_difference(a[k], b[k], f"{where}.{k}")
            if why:
                return why
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            why = _json_difference(x, y, f"{where}[{i}]")
            if why:
                return why
        return None
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return None if abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-12 else f"{where}: {a} -> {b}"
    return None if a == b else f"{where} differs"


def _tmbl_difference(committed: Path, fresh: Path) -> Optional[str]:
    """Model files made by a seeded generator: the same structure, dtypes and metadata, and
    every tensor within LAST_BITS of its largest value (PyTorch's and numpy's sums differ in
    the last bits between CPUs and thread counts, and so do the bytes)."""
    from timbrel.tmbl import read_tmbl
    a, b = read_tmbl(committed), read_tmbl(fresh)
    if (a.family, a.name, a.graphs) != (b.family, b.name, b.graphs) or set(a.tensors) != set(b.tensors):
        return "model structure differs"
    dtype = lambda f: [e.get("dtype", "f32") for e in f.header.get("tensors", [])]
    if dtype(a) != dtype(b):
        return "stored dtypes differ"
    why = _json_difference(a.metadata, b.metadata)
    if why:
        return why
    tolerance = LAST_BITS["f4"] if all(d == "f32" for d in dtype(a)) else LAST_BITS["f2"]
    for name, x in a.tensors.items():
        y = b.tensors[name]
        scale = float(np.abs(x).max(initial=0.0))
        if x.shape != y.shape or float(np.abs(x - y).max(initial=0.0)) > tolerance * max(scale, 1e-30):
            return f"tensor {name} differs"
    return None


def differences(committed_dir: Path, fresh_dir: Path) -> list:
    """Every way fresh_dir fails to reproduce committed_dir (empty: reproduced)."""
    files = lambda d: {p.relative_to(d) for p in Path(d).rglob("*") if p.is_file()}
    committed, fresh = files(committed_dir), files(fresh_dir)
    problems = [f"only committed: {p}" for p in sorted(committed - fresh)]
    problems += [f"only regenerated: {p}" for p in sorted(fresh - committed)]
    for p in sorted(fresh & committed):
        why = difference(Path(committed_dir) / p, Path(fresh_dir) / p)
        if why:
            problems.append(f"{p}: {why}")
    return problems
