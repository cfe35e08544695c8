"""Writes the ONNX graphs of a shipped ``.tmbl`` model (the second engine's reference).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.export.onnx_from_tmbl models/violin/violin.tmbl \\
        [--out DIR]

The repository ships only the ``.tmbl`` files (the page runs the core; the ONNX copies
doubled the models' size). This rebuilds the PyTorch module from the file, exports it
again with ``export_model`` (the same graphs the trainers write with ``--onnx``) into a
temporary folder, checks that the re-exported ``.tmbl`` is byte-identical to the given one
(so the ONNX graphs hold exactly the shipped weights), and copies the ``.onnx`` files to
``--out`` (default: beside the model).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from timbrel.export import export_model
from timbrel.tmbl import read_tmbl


def load_module(path: Path):
    family = read_tmbl(path).family
    if family == "vq_timbre":
        from timbrel.models.vq_timbre import VQTimbre
        return VQTimbre.from_tmbl(path)
    if family == "crossmodal_vae":
        from timbrel.models.crossmodal_vae import CrossmodalVAE
        return CrossmodalVAE.from_tmbl(path)
    if family == "gmvae":
        from timbrel.models.gmvae import GMVAE
        return GMVAE.from_tmbl(path)
    raise ValueError(f"{path}: no ONNX export for family {family!r}")


def onnx_graph_names(model) -> List[str]:
    # vq_timbre's decoder only in its step form (as the trainer writes it).
    return [g for g in model.graph_names if not (model.family == "vq_timbre" and g == "decoder")]


def write_onnx(path, out_dir=None) -> List[Path]:
    path = Path(path)
    f = read_tmbl(path)
    model = load_module(path)
    out_dir = Path(out_dir) if out_dir else path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="timbrel-onnx-") as tmp:
        result = export_model(model.graphs(), f.family, f.name, f.metadata, tmp,
                              onnx_graphs=onnx_graph_names(model),
                              batch_axis=f.family == "gmvae")  # the Notes panel's batches
        if Path(result["tmbl"]).read_bytes() != path.read_bytes():
            raise ValueError(f"{path}: the module rebuilt from the file does not export back to "
                             f"the same bytes; not writing ONNX graphs that may differ from it")
        written = []
        for onnx in sorted(Path(tmp).glob("*.onnx")):
            shutil.copy(onnx, out_dir / onnx.name)
            written.append(out_dir / onnx.name)
    return written


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", type=Path)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    try:
        for w in write_onnx(args.model, args.out):
            print(w)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
