"""Training bundles for the GPU machine: writing (pack) and reading (load_bundle).

The GPU machine has NumPy but no FLAC decoder, and one call carries at most
64 MiB. A bundle is therefore int16 NumPy arrays (22050 Hz mono: 2.52 MiB
per minute, so ~22 minutes per 56 MiB part) split into parts that each fit
one call:

  BUNDLE/bundle.json               parts, source manifest checksum, options
  BUNDLE/part-000/index.json       items: corpus, instrument/item, split, array,
                                   start, length (samples), metadata
  BUNDLE/part-000/<corpus>_<group>_<split>.npy   int16, items concatenated

Carry one part per call (e.g. run(carry=["data/bundle/part-000"], ...)); read it
there with load_bundle("data/bundle/part-000") (this module needs only numpy).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

MIB = 1 << 20
DEFAULT_MAX_MIB = 56.0     # leaves room in the 64 MiB carry for code and small files
NPY_HEADER_BYTES = 128


def load_bundle(path) -> list[dict]:
    """Items of one part (a part-NNN folder) or of every part (a bundle folder).

    Each item is its index entry plus 'audio': an int16 view (memory-mapped)
    of its samples; divide by 32768 for float.
    """
    path = Path(path)
    parts = sorted(path.glob("part-*")) if (path / "bundle.json").exists() else [path]
    items = []
    for part in parts:
        index = json.loads((part / "index.json").read_text())
        arrays = {name: np.load(part / name, mmap_mode="r") for name in index["arrays"]}
        for it in index["items"]:
            a = arrays[it["array"]]
            items.append(dict(it, audio=a[it["start"]:it["start"] + it["length"]]))
    return items


def _group_name(corpus: str, row: dict) -> str:
    group = row.get("instrument") or row.get("kind") or "all"
    split = row.get("split") or "all"
    source = row.get("source", "")
    # the reference source keeps the names bundles had before there were several
    prefix = f"{corpus}_{source}" if source and source not in ("fluidr3", "espeak-ng") else corpus
    return f"{prefix}_{group}_{split}.npy"


def pack(data_root, out, corpora=("performance",), instruments=None, splits=None,
         max_mib: float = DEFAULT_MAX_MIB, strip_silence: bool = False, log=print,
         sources="default") -> dict:
    """Writes the bundle; returns its summary (parts, minutes, bytes). sources: as
    corpus.read_manifest (default: FluidR3 and the voice-like inputs; "all"; names)."""
    from .audio import sha256_file, to_int16, trim_silence
    from .corpus import load_audio, read_manifest
    data_root, out = Path(data_root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    limit = int(max_mib * MIB)
    parts: list[dict] = []

    def new_part():
        parts.append(dict(arrays={}, items=[], bytes=0))

    new_part()
    for corpus in corpora:
        rows = read_manifest(data_root, corpus, sources=sources)
        rows = [r for r in rows
                if (instruments is None or r.get("instrument") in instruments or corpus == "voice")
                and (splits is None or r.get("split") in splits or corpus == "voice")]
        rows.sort(key=lambda r: (_group_name(corpus, r), r["file"]))
        for r in rows:
            x = load_audio(data_root, r)
            if strip_silence:
                x = trim_silence(x, threshold_db=-60.0, frame=512)
            a = to_int16(x)
            size = a.nbytes
            if size + NPY_HEADER_BYTES > limit:
                raise ValueError(f"{r['file']} alone exceeds {max_mib} MiB")
            cur = parts[-1]
            name = _group_name(corpus, r)
            extra = size + (NPY_HEADER_BYTES if name not in cur["arrays"] else 0)
            if cur["bytes"] + extra > limit:
                new_part()
                cur = parts[-1]
                extra = size + NPY_HEADER_BYTES
            chunks = cur["arrays"].setdefault(name, [])
            start = sum(len(c) for c in chunks)
            chunks.append(a)
            cur["bytes"] += extra
            meta = {k: v for k, v in r.items() if k not in ("sha256",)}
            cur["items"].append(dict(meta, corpus=corpus, array=name, start=start,
                                     length=int(len(a)), source_sha256=r.get("sha256", "")))
    summary_parts = []
    for i, part in enumerate(parts):
        if not part["items"]:
            continue
        d = out / f"part-{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for name, chunks in part["arrays"].items():
            a = np.concatenate(chunks).astype(np.int16)
            np.save(d / name, a)
            arrays[name] = dict(samples=int(len(a)), sha256=sha256_file(d / name))
        (d / "index.json").write_text(json.dumps(dict(arrays=arrays, items=part["items"]), indent=1))
        size = sum(f.stat().st_size for f in d.iterdir())
        minutes = sum(it["length"] for it in part["items"]) / 22050.0 / 60.0
        summary_parts.append(dict(part=d.name, items=len(part["items"]), minutes=round(minutes, 2),
                                  mib=round(size / MIB, 2)))
        log(f"  {d.name}: {len(part['items'])} items, {minutes:.1f} min, {size / MIB:.1f} MiB")
    manifest = data_root / "manifest.json"
    summary = dict(source=str(data_root),
                   source_manifest_sha256=(hashlib.sha256(manifest.read_bytes()).hexdigest()
                                           if manifest.exists() else ""),
                   corpora=list(corpora), instruments=list(instruments) if instruments else None,
                   sources=sources if isinstance(sources, str) else list(sources),
                   splits=list(splits) if splits else None, strip_silence=strip_silence,
                   max_mib=max_mib, parts=summary_parts)
    (out / "bundle.json").write_text(json.dumps(summary, indent=1))
    return summary
