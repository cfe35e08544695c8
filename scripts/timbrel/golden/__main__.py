"""python -m timbrel.golden [--check] [--only NAME ...]: see timbrel/golden/__init__.py."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from timbrel.golden import GENERATORS, GOLDEN_ROOT, differences, write, write_manifest


def check(names, root: Path) -> int:
    """Regenerates into a temporary folder and compares with root (floats within
    LAST_BITS); the number of differences."""
    count = 0
    with tempfile.TemporaryDirectory(prefix="timbrel-golden-") as tmp:
        for name in names:
            fresh_dir = Path(tmp) / name
            write(name, fresh_dir)
            problems = differences(root / name, fresh_dir)
            n = sum(1 for p in fresh_dir.rglob("*") if p.is_file())
            print(f"{name}: {'reproduced' if not problems else f'{len(problems)} difference(s)'} "
                  f"({n} files)")
            for line in problems:
                print(f"  {line}")
            count += len(problems)
    return count


def manifest_only(names, root: Path) -> None:
    """Writes each committed folder's manifest without touching its files: the
    facts come from a run in a temporary folder, the file list from the folder."""
    with tempfile.TemporaryDirectory(prefix="timbrel-golden-") as tmp:
        for name in names:
            fresh = write(name, Path(tmp) / name)
            facts = {k: v for k, v in fresh.items()
                     if k not in ("format", "generator", "command", "seed", "files")}
            about = {f: e["about"] for f, e in fresh["files"].items() if "about" in e}
            manifest = write_manifest(root / name, name, fresh["seed"], dict(facts, files=about))
            print(f"{name}: manifest of {len(manifest['files'])} committed files")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m timbrel.golden", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=GENERATORS, help="these folders only")
    parser.add_argument("--check", action="store_true",
                        help="regenerate in a temporary folder and compare with the committed files")
    parser.add_argument("--manifest-only", action="store_true",
                        help="rewrite only the manifests, describing the committed files (when a "
                             "regeneration differs in the last bits, see --check)")
    parser.add_argument("--root", type=Path, default=GOLDEN_ROOT,
                        help=f"the golden folders' parent (default {GOLDEN_ROOT})")
    args = parser.parse_args(argv)
    names = args.only or list(GENERATORS)
    import torch  # the generators that need torch: one thread, so the outputs are reproducible
    torch.set_num_threads(1)
    if args.check:
        return 1 if check(names, args.root) else 0
    if args.manifest_only:
        manifest_only(names, args.root)
        return 0
    for name in names:
        manifest = write(name, args.root / name)
        total = sum(f["bytes"] for f in manifest["files"].values())
        print(f"{name}: wrote {len(manifest['files'])} files + manifest.json to {args.root / name} "
              f"({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
