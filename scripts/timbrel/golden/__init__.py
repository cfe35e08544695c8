"""The golden files of the tests (tests/golden/<name>/): one generator module per
folder, one manifest format, one entry point.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden             # rewrite every folder
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --check     # rewrite into a temporary
        folder and compare with the committed files, byte for byte (exit 1 on a difference)
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

Every folder's ``manifest.json`` (format 1)::

    {"format": 1, "generator": "timbrel.golden.<name>", "command": "...", "seed": S,
     ...the generator's facts (tolerances, sizes, cases),
     "files": {"<path>": {"bytes": n, "sha256": "...", "shape": [...], "dtype": "<f4",
                          "about": "..."}}}

``shape`` and ``dtype`` are given for ``.npy`` files, ``about`` where the generator
describes the file. Folders whose tests read a ``meta.json`` keep it; the manifest
lists it with the other files.

Reproducibility (``--check`` on the project's machine, 2026-12): dsp, cqt, draw
and midi regenerate byte for byte. nn, vq and crossmodal differ in the last bits
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
GENERATORS = ("dsp", "cqt", "nn", "vq", "crossmodal", "draw", "midi", "mel", "gmvae")
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
