"""Build, pack and describe the training corpora.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data build            # full corpora -> data/full
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data build --smoke    # CI subset   -> data/smoke
        [--out DIR] [--seed N] [--corpora notes,performance,voice]
        [--instruments violin,flute] [--minutes 8.5] [--workers 2] [--force]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data pack --out data/bundle
        [--data data/full] [--corpora performance] [--instruments ...]
        [--splits train,test] [--max-mib 56] [--strip-silence]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data report [--data data/full] [--readme]
        [--bundle data/bundle]

`build` skips every unit whose parameters and file checksums match its
manifest, so re-running it is cheap; `--force` re-renders. `report --readme`
rewrites the measured section of scripts/timbrel/data/README.md from the
build report of the data folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

README = Path(__file__).resolve().with_name("README.md")
BEGIN, END = "<!-- measured:begin -->", "<!-- measured:end -->"


def _list(s):
    return [x for x in s.split(",") if x] if s else None


def cmd_build(a) -> int:
    from .build import build, CORPORA
    out = a.out or ("data/smoke" if a.smoke else "data/full")
    corpora = tuple(_list(a.corpora) or CORPORA)
    print(f"building {','.join(corpora)} into {out} (seed {a.seed}{', smoke' if a.smoke else ''})")
    report = build(out, seed=a.seed, smoke=a.smoke, corpora=corpora,
                   instruments=_list(a.instruments), minutes=a.minutes, workers=a.workers,
                   force=a.force)
    if not report["skipped"]:
        Path(out, "clean_build_report.json").write_text(json.dumps(report, indent=1))
    for c, s in report["corpora"].items():
        print(f"{c:12s} {s['files']:5d} files {s['audio_minutes']:8.2f} min "
              f"{s['bytes'] / 2**20:8.1f} MiB  splits {s['splits']}  peak {s['peak']}")
    print(f"built {len(report['built'])} units, skipped {len(report['skipped'])}, "
          f"{report['wall_seconds']} s")
    return 0


def cmd_pack(a) -> int:
    from .bundle import pack
    s = pack(a.data, a.out, corpora=tuple(_list(a.corpora)), instruments=_list(a.instruments),
             splits=_list(a.splits), max_mib=a.max_mib, strip_silence=a.strip_silence)
    print(f"{len(s['parts'])} part(s) in {a.out}; carry one per call, e.g. "
          f"carry=[\"{a.out.rstrip('/')}/{s['parts'][0]['part']}\"]" if s["parts"] else "nothing packed")
    return 0


def measured_markdown(data: Path) -> str:
    rep_path = data / "clean_build_report.json"
    if not rep_path.exists():
        rep_path = data / "build_report.json"
    rep = json.loads(rep_path.read_text())
    lines = [f"Measured by `timbrel.data build` ({'smoke' if rep['smoke'] else 'full'} build, "
             f"seed {rep['seed']}, {rep['workers']} workers, this 2-core machine), "
             f"from `{rep_path.relative_to(data.parent) if data.parent in rep_path.parents else rep_path}`:",
             "",
             "| corpus | files | audio (min) | train (min) | test (min) | size (MiB) | render time (s, summed over units) | peak |",
             "|---|---|---|---|---|---|---|---|"]
    for c, s in rep["corpora"].items():
        sp = s.get("splits", {})
        lines.append(f"| {c} | {s['files']} | {s['audio_minutes']:.1f} | {sp.get('train', '-')} | "
                     f"{sp.get('test', '-')} | {s['bytes'] / 2**20:.1f} | {s['render_seconds']:.0f} | "
                     f"{s['peak']} |")
    lines += ["", f"Wall-clock time of the whole build: {rep['wall_seconds']:.0f} s "
                  f"({len(rep['built'])} units built, {len(rep['skipped'])} skipped)."]
    perf = [(k.split('/')[1], u) for k, u in rep["units"].items() if k.startswith("performance/")]
    if perf:
        lines += ["", "Performance corpus per instrument (minutes, phrases): " + ", ".join(
            f"{n} {u['audio_seconds'] / 60:.1f}/{u['files']}" for n, u in sorted(perf)) + "."]
    lines += ["", instrument_table()]
    return "\n".join(lines)


def instrument_table() -> str:
    from .instruments import INSTRUMENTS, NOTE_INSTRUMENTS, PERFORMANCE_INSTRUMENTS, pitch_name
    lines = ["Instruments (from `instruments.py`):", "",
             "| instrument | GM program(s) | range | pitches | note corpus | performance corpus |",
             "|---|---|---|---|---|---|"]
    for name, inst in INSTRUMENTS.items():
        lines.append(f"| {name} | {', '.join(map(str, inst.programs))} | "
                     f"{pitch_name(inst.low)}-{pitch_name(inst.high)} ({inst.low}-{inst.high}) | "
                     f"{len(inst.pitches)} | {'yes' if name in NOTE_INSTRUMENTS else '-'} | "
                     f"{'yes' if name in PERFORMANCE_INSTRUMENTS else '-'} |")
    return "\n".join(lines)


def bundle_markdown(bundle: Path) -> str:
    b = json.loads((bundle / "bundle.json").read_text())
    parts = b["parts"]
    return (f"`pack --out {bundle}` (corpora {', '.join(b['corpora'])}, instruments "
            f"{', '.join(b['instruments']) if b['instruments'] else 'all'}, splits "
            f"{', '.join(b['splits']) if b['splits'] else 'all'}, max {b['max_mib']} MiB): "
            f"{len(parts)} parts, " + ", ".join(f"{p['minutes']:.1f} min / {p['mib']:.1f} MiB"
                                                for p in parts) + ".")


def cmd_report(a) -> int:
    data = Path(a.data)
    text = measured_markdown(data)
    if a.bundle and (Path(a.bundle) / "bundle.json").exists():
        text += "\n\nBundle: " + bundle_markdown(Path(a.bundle))
    print(text)
    if a.readme:
        readme = README.read_text()
        if BEGIN not in readme or END not in readme:
            print(f"{README} has no measured section markers", file=sys.stderr)
            return 1
        head, rest = readme.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
        print(f"updated {README}")
    return 0


def main(argv=None) -> int:
    from .build import DEFAULT_SEED, PERF_MINUTES
    from .bundle import DEFAULT_MAX_MIB
    p = argparse.ArgumentParser(prog="python -m timbrel.data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="render the corpora (skips what is built)")
    b.add_argument("--out", default=None, help="output root (default data/full, data/smoke)")
    b.add_argument("--smoke", action="store_true", help="the small CI subset")
    b.add_argument("--seed", type=int, default=DEFAULT_SEED)
    b.add_argument("--corpora", default=None, help="comma list of notes,performance,voice")
    b.add_argument("--instruments", default=None, help="comma list (default: all)")
    b.add_argument("--minutes", type=float, default=PERF_MINUTES,
                   help="performance minutes per instrument")
    b.add_argument("--workers", type=int, default=None)
    b.add_argument("--force", action="store_true", help="re-render everything")
    b.set_defaults(func=cmd_build)
    k = sub.add_parser("pack", help="write an int16 NumPy bundle for the GPU machine")
    k.add_argument("--data", default="data/full")
    k.add_argument("--out", required=True)
    k.add_argument("--corpora", default="performance")
    k.add_argument("--instruments", default=None)
    k.add_argument("--splits", default=None)
    k.add_argument("--max-mib", type=float, default=DEFAULT_MAX_MIB)
    k.add_argument("--strip-silence", action="store_true",
                   help="trim leading/trailing silence (< -60 dBFS) of every file")
    k.set_defaults(func=cmd_pack)
    r = sub.add_parser("report", help="print (and optionally write to README) the measured figures")
    r.add_argument("--data", default="data/full")
    r.add_argument("--readme", action="store_true")
    r.add_argument("--bundle", default=None, help="also describe this pack output")
    r.set_defaults(func=cmd_report)
    a = p.parse_args(argv)
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
