"""Build, pack and describe the training corpora.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data build            # full corpora -> $DATA/full
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data build --smoke    # CI subset   -> $DATA/smoke
        [--out DIR] [--seed N] [--corpora notes,performance,voice] [--sources fluidr3,freepats]
        [--instruments violin,flute] [--minutes 8.5] [--workers 2] [--force]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data vendor           # npm Salamander piano -> $DATA/vendor
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data coverage [--sources ...]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data pack --out $DATA/bundle
        [--data $DATA/full] [--corpora performance] [--instruments ...] [--sources ...]
        [--splits train,test] [--max-mib 56] [--strip-silence]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data report [--data $DATA/full] [--readme]
        [--bundle $DATA/bundle]
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data drums [--smoke] [--sources fluidr3 hydrogen ...]
        [--workers 2] [--out $DATA/full] [--force]    # drum one-shots -> $DATA/full/drums
    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data drums --report [--readme]   # its figures

$DATA is the data root: the environment variable TIMBREL_DATA, else `data`
(relative to the working folder). A full build renders every installed source
(timbrel.data.sources); the smoke build only FluidR3 unless --sources says more.

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
    from .sources import full_root, smoke_root
    out = a.out or str(smoke_root() if a.smoke else full_root())
    corpora = tuple(_list(a.corpora) or CORPORA)
    print(f"building {','.join(corpora)} into {out} (seed {a.seed}{', smoke' if a.smoke else ''})")
    report = build(out, seed=a.seed, smoke=a.smoke, corpora=corpora,
                   instruments=_list(a.instruments), minutes=a.minutes, workers=a.workers,
                   force=a.force, sources=_list(a.sources))
    if report["built"]:
        # the figures of the last build that rendered something (a re-run that only
        # skips would report skip times)
        Path(out, "clean_build_report.json").write_text(json.dumps(report, indent=1))
    for c, s in report["corpora"].items():
        print(f"{c:12s} {s['files']:5d} files {s['audio_minutes']:8.2f} min "
              f"{s['bytes'] / 2**20:8.1f} MiB  splits {s['splits']}  peak {s['peak']}")
    print(f"built {len(report['built'])} units, skipped {len(report['skipped'])}, "
          f"{report['wall_seconds']} s")
    return 0


def cmd_vendor(a) -> int:
    """npm install of the Salamander piano samples into <data root>/vendor (outside git)."""
    import subprocess
    from .sources import SALAMANDER_PACKAGE, SALAMANDER_VERSION, data_root, salamander_dir
    prefix = Path(a.prefix) if a.prefix else data_root() / "vendor"
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = ["npm", "install", "--prefix", str(prefix), "--no-save", "--ignore-scripts", "--no-audit",
           "--no-fund", f"{SALAMANDER_PACKAGE}@{SALAMANDER_VERSION}"]
    print(" ".join(cmd))
    rc = subprocess.run(cmd).returncode
    print(f"salamander samples: {salamander_dir()}")
    return rc


def cmd_coverage(a) -> int:
    from .build import measure_coverage
    from .sources import available, SOURCES
    names = available(_list(a.sources) or list(SOURCES))
    cov = measure_coverage(names)
    print(coverage_markdown(dict(sources=cov)))
    return 0


def cmd_pack(a) -> int:
    from .bundle import pack
    data = a.data or str(_full())
    s = pack(data, a.out, corpora=tuple(_list(a.corpora)), instruments=_list(a.instruments),
             splits=_list(a.splits), max_mib=a.max_mib, strip_silence=a.strip_silence,
             sources="all" if a.sources == "all" else (_list(a.sources) or "default"))
    print(f"{len(s['parts'])} part(s) in {a.out}; carry one per call, e.g. "
          f"carry=[\"{a.out.rstrip('/')}/{s['parts'][0]['part']}\"]" if s["parts"] else "nothing packed")
    return 0


def _full() -> Path:
    from .sources import full_root
    return full_root()


def coverage_markdown(cov: dict) -> str:
    """Which source plays which instrument: covered programs, probe level (mf, and the
    ff - pp difference: how much the source's level follows velocity)."""
    from .instruments import INSTRUMENTS
    from .sources import NEVER_TRAIN, SOURCES
    srcs = [n for n in SOURCES if n in cov["sources"]]
    head = "| instrument (GM) | " + " | ".join(
        f"{n}{' (held out)' if n in NEVER_TRAIN else ''}" for n in srcs) + " |"
    lines = [head, "|---" * (len(srcs) + 1) + "|"]
    for name, inst in INSTRUMENTS.items():
        for prog in inst.programs:
            cells = []
            for n in srcs:
                c = cov["sources"][n].get(str(prog))
                if c is None:
                    cells.append("?")
                elif not c["declared"]:
                    cells.append("missing (no preset)")
                elif not c["covered"]:
                    cells.append(f"silent ({c['level_db']} dB)")
                else:
                    same = c.get("same_samples_as") or []
                    cells.append(f"{c['level_db']:.0f} dB, ff-pp {c['level_db_ff'] - c['level_db_pp']:.0f} dB"
                                 + (f"; same samples as {', '.join(map(str, same))}" if same else ""))
            lines.append(f"| {name} ({prog}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def overlap_markdown(cov: dict) -> str:
    from .sources import SOURCES
    ov = cov.get("overlap") or {}
    if not ov:
        return ""
    lines = ["| sources | identical recordings (PCM) | programs of the corpora affected |", "|---|---|---|"]
    order = list(SOURCES)
    for pair, e in sorted(ov.items(), key=lambda kv: [order.index(n) if n in order else 99
                                                      for n in kv[0].split("|")]):
        a, b = pair.split("|")
        progs = []
        for x in (a, b):
            per = e.get(f"programs_of_{x}", {})
            if per:
                progs.append(f"{x}: " + ", ".join(f"{p} ({v[0]}/{v[1]})" for p, v in per.items()))
        ex = f" (e.g. {', '.join(e['examples'][:3])})" if e["shared_samples"] else ""
        lines.append(f"| {a} / {b} | {e['shared_samples']}{ex} | {'; '.join(progs) or '-'} |")
    return "\n".join(lines)


def per_source_markdown(rep: dict) -> str:
    from .sources import NEVER_TRAIN, SOURCES
    per = rep.get("per_source") or {}
    lines = ["| source | role | corpus | instruments | files | audio (min) | train / test / heldout (min) "
             "| size (MiB) | render (s) | peak | dropped |", "|---" * 11 + "|"]
    for src, corpora in per.items():
        role = ("held out" if src in NEVER_TRAIN else "training") if src in SOURCES else "inputs"
        for c, s in corpora.items():
            sp = s.get("splits", {})
            split = " / ".join(str(sp.get(k, "-")) for k in ("train", "test", "heldout"))
            lines.append(f"| {src} | {role} | {c} | {len(s['instruments']) or '-'} | {s['files']} | "
                         f"{s['audio_minutes']:.1f} | {split} | {s['bytes'] / 2**20:.1f} | "
                         f"{s['render_seconds']:.0f} | {s['peak']} | {s['dropped']} |")
    return "\n".join(lines)


def measured_markdown(data: Path) -> str:
    rep_path = data / "clean_build_report.json"
    if not rep_path.exists():
        rep_path = data / "build_report.json"
    rep = json.loads(rep_path.read_text())
    lines = [f"Measured by `timbrel.data build` ({'smoke' if rep['smoke'] else 'full'} build, "
             f"seed {rep['seed']}, {rep['workers']} workers, this 2-core machine), "
             f"from `{rep_path.relative_to(data.parent) if data.parent in rep_path.parents else rep_path}`:",
             "",
             "| corpus | files | audio (min) | train (min) | test (min) | heldout (min) | size (MiB) "
             "| render time (s, summed over units) | peak |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c, s in rep["corpora"].items():
        sp = s.get("splits", {})
        lines.append(f"| {c} | {s['files']} | {s['audio_minutes']:.1f} | {sp.get('train', '-')} | "
                     f"{sp.get('test', '-')} | {sp.get('heldout', '-')} | {s['bytes'] / 2**20:.1f} | "
                     f"{s['render_seconds']:.0f} | {s['peak']} |")
    lines += ["", f"Wall-clock time of the whole build: {rep['wall_seconds']:.0f} s "
                  f"({len(rep['built'])} units built, {len(rep['skipped'])} skipped"
                  f"{', ' + str(len(rep.get('kept', []))) + ' kept from earlier builds' if rep.get('kept') else ''})."]
    if rep.get("per_source"):
        lines += ["", "Per source (`per_source` of the same report; held-out rows have split "
                      "`heldout`, never `train`):", "", per_source_markdown(rep)]
        if rep.get("unavailable"):
            lines += ["", f"Not installed at build time: {', '.join(rep['unavailable'])}."]
    perf = {}
    for k, u in rep["units"].items():
        parts = k.split("/")
        if parts[0] == "performance":
            perf.setdefault(parts[-1], []).append((parts[1] if len(parts) == 3 else "fluidr3", u))
    if perf:
        lines += ["", "Performance corpus per instrument (minutes/phrases per source): " + "; ".join(
            f"{n} " + ", ".join(f"{s} {u['audio_seconds'] / 60:.1f}/{u['files']}" for s, u in us)
            for n, us in sorted(perf.items())) + "."]
    dropped = []
    for unit_json in sorted(data.glob("*/*/*/unit.json")):
        rec = json.loads(unit_json.read_text())
        dropped += [f for f in rec.get("dropped", []) if "not covered" not in f]
    if dropped:
        lines += ["", "Dropped as silent (peak below -60 dBFS; `unit.json` `dropped`): "
                  + ", ".join(f"`{f}`" for f in dropped) + "."]
    cov_path = data / "coverage.json"
    if cov_path.exists():
        cov = json.loads(cov_path.read_text())
        lines += ["", f"Coverage, measured by the build (`coverage.json`): one mf note of each "
                      f"program (middle of the instrument's range), rms over its held second; "
                      f"\"missing\" = the source has no preset/patch for the program, \"silent\" = "
                      f"below {cov['floor_db']:.0f} dBFS. ff-pp: level difference between velocity "
                      f"120 and 40.", "", coverage_markdown(cov)]
        ov = overlap_markdown(cov)
        if ov:
            lines += ["", "Independence: recordings shared between sources (identical first 4096 "
                          "PCM samples; `sources.pcm_overlap`):", "", ov]
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
    data = Path(a.data) if a.data else _full()
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


def cmd_drums(a) -> int:
    from . import drums as D
    from .sources import full_root, smoke_root
    out = Path(a.out) if a.out else (smoke_root() if a.smoke else full_root())
    if a.report:
        path = out / D.CORPUS / "build_report.json"
        if not path.exists():
            print(f"no drum build report in {path.parent}: run `python -m timbrel.data drums` first",
                  file=sys.stderr)
            return 1
        text = D.report_markdown(json.loads(path.read_text()))
        if a.readme:
            D.write_readme(text, README)
        print(text)
        if a.readme:
            print(f"updated {README}")
        return 0
    sources = [n for s in (a.sources or []) for n in s.split(",") if n] or None
    print(f"building drum one-shots into {out / D.CORPUS} (seed {a.seed}{', smoke' if a.smoke else ''})")
    try:
        rep = D.build(out, sources=sources, smoke=a.smoke, seed=a.seed, workers=a.workers,
                      force=a.force)
    except (D.MissingDrumSources, ValueError) as e:
        print(str(e), file=sys.stderr)
        return 2
    for c, per in rep["counts"].items():
        print(f"  {c:11s} " + "  ".join(f"{n} {'/'.join(str(d.get(k, 0)) for k in ('train', 'test', 'heldout'))}"
                                      for n, d in per.items()))
    print(f"{rep['files']} one-shots; built {len(rep['built'])} units, skipped {len(rep['skipped'])}, "
          f"{rep['wall_seconds']} s")
    return 0


def main(argv=None) -> int:
    from .build import DEFAULT_SEED, PERF_MINUTES
    from .bundle import DEFAULT_MAX_MIB
    p = argparse.ArgumentParser(prog="python -m timbrel.data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="render the corpora (skips what is built)")
    b.add_argument("--out", default=None,
                   help="output root (default $TIMBREL_DATA/full or /smoke; TIMBREL_DATA defaults to data)")
    b.add_argument("--sources", default=None,
                   help="comma list of sources (default: all installed; smoke: fluidr3)")
    b.add_argument("--smoke", action="store_true", help="the small CI subset")
    b.add_argument("--seed", type=int, default=DEFAULT_SEED)
    b.add_argument("--corpora", default=None, help="comma list of notes,performance,voice")
    b.add_argument("--instruments", default=None, help="comma list (default: all)")
    b.add_argument("--minutes", type=float, default=PERF_MINUTES,
                   help="performance minutes per instrument")
    b.add_argument("--workers", type=int, default=None)
    b.add_argument("--force", action="store_true", help="re-render everything")
    b.set_defaults(func=cmd_build)
    v = sub.add_parser("vendor", help="npm-install the Salamander piano samples into $TIMBREL_DATA/vendor")
    v.add_argument("--prefix", default=None)
    v.set_defaults(func=cmd_vendor)
    g = sub.add_parser("coverage", help="probe every source's coverage of the GM programs")
    g.add_argument("--sources", default=None)
    g.set_defaults(func=cmd_coverage)
    k = sub.add_parser("pack", help="write an int16 NumPy bundle for the GPU machine")
    k.add_argument("--data", default=None, help="default $TIMBREL_DATA/full")
    k.add_argument("--sources", default=None, help="comma list (default: fluidr3 and voice), or all")
    k.add_argument("--out", required=True)
    k.add_argument("--corpora", default="performance")
    k.add_argument("--instruments", default=None)
    k.add_argument("--splits", default=None)
    k.add_argument("--max-mib", type=float, default=DEFAULT_MAX_MIB)
    k.add_argument("--strip-silence", action="store_true",
                   help="trim leading/trailing silence (< -60 dBFS) of every file")
    k.set_defaults(func=cmd_pack)
    r = sub.add_parser("report", help="print (and optionally write to README) the measured figures")
    r.add_argument("--data", default=None, help="default $TIMBREL_DATA/full")
    r.add_argument("--readme", action="store_true")
    r.add_argument("--bundle", default=None, help="also describe this pack output")
    r.set_defaults(func=cmd_report)
    d = sub.add_parser("drums", help="render the drum one-shot corpus (skips what is built)")
    d.add_argument("--out", default=None,
                   help="data folder (default $TIMBREL_DATA/full or /smoke); writes <out>/drums")
    d.add_argument("--sources", nargs="+", default=None,
                   help="drum sources (default: all; smoke: fluidr3): fluidr3 freepats avldrums "
                        "hydrogen sonic_pi timgm6mb csound_gm")
    d.add_argument("--smoke", action="store_true", help="a handful of hits (CI)")
    d.add_argument("--seed", type=int, default=DEFAULT_SEED)
    d.add_argument("--workers", type=int, default=None)
    d.add_argument("--force", action="store_true", help="re-render everything")
    d.add_argument("--report", action="store_true",
                   help="print the figures of the last drum build (no rendering)")
    d.add_argument("--readme", action="store_true", help="with --report: write them into the README")
    d.set_defaults(func=cmd_drums)
    a = p.parse_args(argv)
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
