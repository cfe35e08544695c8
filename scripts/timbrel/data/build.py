"""Builds the three corpora from every sample set, skipping what is already built.

Work is split into units (one per corpus, source and instrument, or per kind of
voice input). Each unit renders one MIDI file with its source's tool (fluidsynth,
timidity or the sampler: the sample set is loaded once per unit) and cuts it into
labelled files, or runs espeak-ng/sox per item. The MIDI of a unit depends on the
seed, the corpus and the instrument only, never on the source: every source plays
the same notes and phrases, and every copy of a phrase lands in the same split
(`plan_split`), except that the held-out sources' rows are all `heldout`. A unit writes `unit.json` with its generator parameters, their
hash, the rows of its manifest and the sha256 of every file it wrote; on the
next build a unit whose parameter hash matches and whose files all exist with
those checksums is skipped. All random draws come from
numpy.random.default_rng([seed, corpus id, crc32(instrument)]), so a unit's
output depends only on the seed, its parameters and the tool versions.

Before planning, every source's coverage of the GM programs is measured
(sources.probe_coverage): an instrument whose program a source lacks gets no unit
for that source, and a performance phrase whose program it lacks (voice alternates
52 and 53) is left out of that source.

Layout under the output root:
  notes/<source>/<instrument>/*.wav        note corpus, notes/manifest.csv (all sources)
  performance/<source>/<instrument>/*.wav  phrases (+ one .mid each), performance/manifest.csv
  voice/<kind>/*.wav                       voice-like inputs, voice/manifest.csv
  coverage.json                            each source's measured coverage of the programs
  manifest.json                            every file's sha256, units' parameters, tools
  build_report.json                        per-unit status, seconds, sizes (measured)
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import render
from . import sources as S
from .audio import SAMPLE_RATE, sha256_file
from .instruments import (DYNAMICS, INSTRUMENTS, NOTE_INSTRUMENTS, PERFORMANCE_INSTRUMENTS,
                          VOLUME_CC7, octave, pitch_class, pitch_name)

GENERATOR_VERSION = 3      # 3: per-source units and folders, source/plan_split columns
DEFAULT_SEED = 20261123
CORPORA = ("notes", "performance", "voice")
CORPUS_IDS = {"notes": 1, "performance": 2, "voice": 3}

NOTE_HOLD_S = 2.0          # note-on to note-off
NOTE_LENGTH_S = 2.5        # file length: hold + 0.5 s of release
NOTE_SLOT_S = 2.75         # spacing in the rendered batch (all-sound-off at NOTE_LENGTH_S)
NOTE_TEST_FRACTION = 0.2   # stratified by (instrument, dynamics)

PERF_MINUTES = 8.5         # per instrument, phrase audio (cuts include a 1 s tail)
PERF_TAIL_S = 1.0
PERF_GAP_S = 0.5
PERF_MAX_PHRASE_S = 25.0
PERF_TEST_FRACTION = 0.15  # by phrase, measured in seconds
SMOKE_PHRASE_S = 5.0

SILENT_PEAK_DB = -60.0     # a rendered file whose peak is below this is dropped as silent

NOTE_MANIFEST_COLUMNS = ("source", "instrument", "program", "midi_pitch", "pitch_name", "pitch_class",
                         "octave", "dynamics", "velocity", "duration_s", "split", "plan_split", "file",
                         "sha256")
PERF_MANIFEST_COLUMNS = ("source", "instrument", "phrase", "program", "kind", "tempo", "dynamic",
                         "articulation", "expression", "cc11_low", "cc11_high", "vibrato_rate",
                         "vibrato_cents", "notes", "low", "high", "duration_s", "split", "plan_split",
                         "file", "midi", "sha256")
VOICE_MANIFEST_COLUMNS = ("source", "item", "kind", "text", "voice", "pitch", "bends", "duration_s",
                          "file", "sha256")


@dataclass
class Unit:
    corpus: str
    name: str                  # instrument (notes, performance) or kind (voice)
    params: dict
    source: str = ""           # sample set (notes, performance); "" for voice

    @property
    def key(self) -> str:
        return f"{self.corpus}/{self.source}/{self.name}" if self.source else f"{self.corpus}/{self.name}"

    @property
    def params_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.params, sort_keys=True).encode()).hexdigest()


def unit_rng(seed: int, corpus: str, name: str, stream: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed), CORPUS_IDS[corpus], zlib.crc32(name.encode()), stream])


# --- planning -------------------------------------------------------------------

def _smoke_pitches(inst) -> list[tuple[int, str]]:
    lo, hi = inst.low, inst.high
    mid = (lo + hi) // 2
    return [(mid, "pp"), (mid, "mf"), (mid, "ff"), (lo + (hi - lo) // 4, "mf"),
            (lo + 3 * (hi - lo) // 4, "mf")]


VOICE_VOICES = ("en-us", "en-us+f3")           # espeak-ng: a male and a female variant
# Plain words: espeak-ng's [[phoneme]] input adds a second, detached sound here.
VOWELS = {"a": "aah", "i": "eee", "u": "ooh", "o": "oh", "e": "eh"}
SYLLABLES = ("la la la la", "da da da", "na na na na", "ba da ba da", "doo doo doo", "ya ya ya")
HUMS = {"mmm": "mmm", "hmm": "hmm", "mmmm": "mmmm", "nnn": "nnn"}
SIRENS = {"u": "ooh", "i": "eee", "a": "aah"}


def _glide(shape: str, duration: float, cents: float) -> list[list[float]]:
    """sox bend segments [start (after previous), cents, length] for a glide shape."""
    d = duration
    if shape == "flat":
        return []
    if shape == "rise":
        return [[0.25 * d, cents, 0.5 * d]]
    if shape == "fall":
        return [[0.25 * d, -cents, 0.5 * d]]
    if shape == "rise_fall":
        return [[0.15 * d, cents, 0.3 * d], [0.1 * d, -cents, 0.3 * d]]
    if shape == "siren":   # up and back, twice
        return [[0.05 * d, cents, 0.2 * d], [0.04 * d, -cents, 0.2 * d],
                [0.04 * d, cents, 0.2 * d], [0.04 * d, -cents, 0.2 * d]]
    raise ValueError(shape)


def voice_plan(seed: int, smoke: bool) -> dict[str, list[dict]]:
    """{kind: [item params]} for the voice-like inputs (deterministic for a seed)."""
    rng = unit_rng(seed, "voice", "plan")
    pitches = ("low", "medium", "high")
    plan: dict[str, list[dict]] = {"vowels": [], "syllables": [], "hums": [], "sirens": []}

    def item(kind, ident, text, voice, pitch, rng_range, shape, cents, dur):
        return dict(item=f"{kind}_{ident}", kind=kind, text=text, voice=voice, pitch=pitch,
                    range=rng_range, duration_s=dur, shape=shape,
                    bends=[[round(v, 3) for v in b] for b in _glide(shape, dur, cents)])

    if smoke:
        plan["vowels"].append(item("vowels", "a_en-us_rise", VOWELS["a"], "en-us", "medium", "0",
                                   "rise", 500.0, 2.5))
        plan["hums"].append(item("hums", "mmm_f3_fall", HUMS["mmm"], "en-us+f3", "medium", "0",
                                 "fall", 400.0, 2.5))
        plan["sirens"].append(item("sirens", "u_en-us", SIRENS["u"], "en-us", "low", "0", "siren",
                                   1200.0, 3.0))
        plan["syllables"] = []
        return plan
    shapes = ["flat", "rise", "fall", "rise_fall"]
    for v, text in VOWELS.items():
        for voice in VOICE_VOICES:
            for shape in rng.choice(shapes, size=2, replace=False):
                tag = voice.replace("en-us+", "")
                plan["vowels"].append(item("vowels", f"{v}_{tag}_{shape}", text, voice,
                                           str(rng.choice(pitches)), "0", str(shape),
                                           float(rng.uniform(300, 900)), 3.0))
    for i, text in enumerate(SYLLABLES):
        voice = VOICE_VOICES[i % 2]
        shape = str(rng.choice(shapes))
        plan["syllables"].append(item("syllables", f"{i:02d}_{text.split()[0]}_{shape}", text, voice,
                                      str(rng.choice(pitches)), "medium", shape,
                                      float(rng.uniform(200, 600)), 3.0))
    for h, text in HUMS.items():
        for voice in VOICE_VOICES:
            shape = str(rng.choice(shapes[1:]))
            tag = voice.replace("en-us+", "")
            plan["hums"].append(item("hums", f"{h}_{tag}_{shape}", text, voice,
                                     str(rng.choice(pitches)), "0", shape,
                                     float(rng.uniform(300, 900)), 3.0))
    for s, text in SIRENS.items():
        for voice in VOICE_VOICES:
            tag = voice.replace("en-us+", "")
            plan["sirens"].append(item("sirens", f"{s}_{tag}", text, voice, "low", "0", "siren",
                                       float(rng.uniform(900, 1200)), 4.5))
    return plan


_FILE_SHA: dict = {}


def _sha_cached(path) -> str:
    """sha256 of a file, remembered per (path, size, mtime): FluidR3 is 148 MB."""
    st = Path(path).stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _FILE_SHA:
        _FILE_SHA[key] = sha256_file(path)
    return _FILE_SHA[key]


def source_fingerprint(name: str) -> dict:
    """What a source's renders depend on: its files' checksum and the tool's version."""
    src = S.SOURCES[name]
    where = src.locate()
    if src.kind == "sf2":
        files = [where]
        tool = "fluidsynth"
    elif src.kind == "gus":
        base = Path(where)
        pats = S.gus_programs(where)
        roots = [Path("/usr/share/midi/freepats")]
        files = [base] + sorted({r / f for f in pats.values() for r in roots if (r / f).exists()})
        tool = "timidity"
    else:
        files = list(S.salamander_samples(where).values())
        tool = "sox"
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).name.encode())
        h.update(_sha_cached(f).encode())
    return dict(kind=src.kind, path=str(where), files=len(files), sha256=h.hexdigest(),
                tool=render.tool_version(tool), tool_name=tool)


def probe_programs(instruments=None) -> dict[int, int]:
    """{GM program: probe pitch (the middle of its instrument's range)} for the corpora."""
    out = {}
    for name in set(NOTE_INSTRUMENTS) | set(PERFORMANCE_INSTRUMENTS):
        if instruments and name not in instruments:
            continue
        inst = INSTRUMENTS[name]
        for prog in inst.programs:
            out[prog] = (inst.low + inst.high) // 2
    return out


def measure_coverage(source_names, instruments=None, previous=None) -> dict[str, dict]:
    """{source: {program: probe result}} (sources.probe_coverage) plus shared presets.
    previous: {source: (fingerprint sha256, coverage)} of an earlier measurement, reused
    when the source's fingerprint is unchanged and it holds every program needed."""
    progs = probe_programs(instruments)
    out = {}
    previous = previous or {}
    for name in source_names:
        sha, old = previous.get(name, (None, None))
        if old and sha == source_fingerprint(name)["sha256"] and all(str(p) in old for p in progs):
            out[name] = {str(p): old[str(p)] for p in sorted(progs)}
            continue
        cov = S.probe_coverage(name, progs)
        shared = S.shared_samples(name, progs)
        for prog, c in cov.items():
            c["same_samples_as"] = shared.get(prog, [])
        out[name] = {str(p): c for p, c in sorted(cov.items())}
    return out


def measure_overlap(source_names, instruments=None, previous=None) -> dict[str, dict]:
    """Recordings shared between sources (identical PCM, sources.pcm_overlap): for each
    pair, the number of shared samples and, per GM program of the corpora, how many of
    a preset's/patch's recordings also occur in the other source. previous: an earlier
    result reused for a pair whose two fingerprints and programs are unchanged."""
    import itertools
    progs = sorted(probe_programs(instruments))
    out = {}
    previous = previous or {}
    for a, b in itertools.combinations([n for n in S.SOURCES if n in source_names], 2):
        key = [source_fingerprint(a)["sha256"], source_fingerprint(b)["sha256"], progs]
        old = previous.get(f"{a}|{b}")
        if old and old.get("key") == key:
            out[f"{a}|{b}"] = old
            continue
        pairs = S.pcm_overlap(a, b)
        entry = dict(shared_samples=len(pairs), examples=[f"{x} = {y}" for x, y in pairs[:6]])
        for x, y in ((a, b), (b, a)):
            per = S.program_overlap(x, y, progs)
            entry[f"programs_of_{x}"] = {str(p): list(v) for p, v in per.items() if v[0]}
        entry["key"] = key
        out[f"{a}|{b}"] = entry
    return out


def covered_programs(coverage: dict, source: str) -> list[int]:
    return sorted(int(p) for p, c in coverage.get(source, {}).items() if c["covered"])


def plan_units(seed: int = DEFAULT_SEED, smoke: bool = False, sources=(S.REFERENCE_SOURCE,),
               corpora=CORPORA, instruments=None, minutes: float = PERF_MINUTES,
               tools: dict | None = None, coverage: dict | None = None,
               fingerprints: dict | None = None) -> list[Unit]:
    """Units for every (corpus, source, instrument) the source covers, plus the voice units.

    coverage: {source: {program: {covered: ...}}} (measure_coverage); None = assume
    every source covers every program (planning without rendering)."""
    tools = tools or {}
    fingerprints = fingerprints or {}
    common = dict(version=GENERATOR_VERSION, seed=int(seed), smoke=bool(smoke),
                  sample_rate=SAMPLE_RATE)
    units = []
    for source in sources:
        src = S.SOURCES[source]
        fp = fingerprints.get(source, {})
        synth = dict(source=source, source_kind=src.kind, source_sha256=fp.get("sha256", ""),
                     tool=fp.get("tool", ""), gain=render.FLUIDSYNTH_GAIN, reverb=False,
                     chorus=False, cc7=VOLUME_CC7,
                     heldout=source in S.NEVER_TRAIN)
        if src.kind == "gus":  # timidity's options change the audio (--preserve-silence)
            synth["tool_args"] = list(render.TIMIDITY_ARGS)
        have = (set(covered_programs(coverage, source)) if coverage is not None
                else {p for i in INSTRUMENTS.values() for p in i.programs})
        if "notes" in corpora:
            for name in NOTE_INSTRUMENTS:
                if instruments and name not in instruments:
                    continue
                inst = INSTRUMENTS[name]
                if inst.program not in have:
                    continue
                notes = (_smoke_pitches(inst) if smoke
                         else [(p, d) for p in inst.pitches for d in DYNAMICS])
                units.append(Unit("notes", name, dict(
                    common, **synth, instrument=name, program=inst.program,
                    notes=[[p, d, DYNAMICS[d]] for p, d in notes], hold_s=NOTE_HOLD_S,
                    length_s=NOTE_LENGTH_S, slot_s=NOTE_SLOT_S, test_fraction=NOTE_TEST_FRACTION),
                    source))
        if "performance" in corpora:
            for name in PERFORMANCE_INSTRUMENTS:
                if instruments and name not in instruments:
                    continue
                inst = INSTRUMENTS[name]
                programs = [p for p in inst.programs if p in have]
                if not programs:
                    continue
                units.append(Unit("performance", name, dict(
                    common, **synth, instrument=name, programs=list(inst.programs),
                    covered_programs=programs, low=inst.low,
                    high=inst.high, vibrato=inst.vibrato,
                    minutes=(SMOKE_PHRASE_S / 60.0) if smoke else float(minutes),
                    max_phrase_s=SMOKE_PHRASE_S if smoke else PERF_MAX_PHRASE_S,
                    min_phrase_s=3.0 if smoke else 1.0, max_phrases=1 if smoke else None,
                    tail_s=PERF_TAIL_S, gap_s=PERF_GAP_S, test_fraction=PERF_TEST_FRACTION),
                    source))
    if "voice" in corpora:
        for kind, items in voice_plan(seed, smoke).items():
            if items:
                units.append(Unit("voice", kind, dict(common, tools={k: v for k, v in tools.items()
                                                                      if k in ("espeak-ng", "sox")},
                                                      items=items)))
    return units


# --- rendering units ----------------------------------------------------------

def heldout_split(rows: list[dict], source: str) -> None:
    """Keeps each row's planned split in `plan_split` and sets `split`: the planned one,
    or `heldout` for every row of a source that is never trained on (S.NEVER_TRAIN)."""
    for r in rows:
        r["plan_split"] = r["split"]
        if source in S.NEVER_TRAIN:
            r["split"] = "heldout"


def _note_split(rows: list[dict], rng: np.random.Generator, fraction: float,
                source: str = S.REFERENCE_SOURCE) -> None:
    """Stratified split: in each (instrument, dynamics) group, round(fraction n) test;
    rows of a held-out source become `heldout` (heldout_split)."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r["dynamics"], []).append(i)
    for d in sorted(groups):
        idx = groups[d]
        order = rng.permutation(len(idx))
        n_test = int(round(fraction * len(idx)))
        test = {idx[j] for j in order[:n_test]}
        for i in idx:
            rows[i]["split"] = "test" if i in test else "train"
    heldout_split(rows, source)


def _drop_silent(rows: list[dict], files: dict, out: Path) -> list[dict]:
    """Removes rows (and their files) whose render peaks below SILENT_PEAK_DB: a safety net
    behind the coverage probe (a preset that exists but plays nothing at some pitch)."""
    keep, dropped = [], []
    for r in rows:
        if r["peak"] > 0 and 20 * np.log10(r["peak"]) >= SILENT_PEAK_DB:
            keep.append(r)
        else:
            dropped.append(r["file"])
            files.pop(r["file"], None)
            files.pop(r.get("midi", ""), None)
            (out / r["file"]).unlink(missing_ok=True)
            if r.get("midi"):
                (out / r["midi"]).unlink(missing_ok=True)
    return keep, dropped


def _render_notes(unit: Unit, out: Path) -> tuple[list[dict], dict, list]:
    from .midi import Timeline
    p = unit.params
    name, source = unit.name, unit.source
    d = out / "notes" / source / name
    tl = Timeline()
    tl.reset(0.0, p["program"])
    starts = []
    t = 0.25
    for pitch, dyn, vel in p["notes"]:
        tl.note(t, p["hold_s"], pitch, vel)
        tl.all_sound_off(t + p["length_s"])
        starts.append(t)
        t += p["slot_s"]
    mid = d / "notes.mid"
    tl.save(mid, end_s=t + 0.5)
    x = render.render_midi(mid, source, p["gain"])
    rows, files = [], {}
    for (pitch, dyn, vel), s in zip(p["notes"], starts):
        seg = render.cut(x, s, s + p["length_s"])
        rel = (f"notes/{source}/{name}/{name}_{pitch:03d}_{pitch_name(pitch).replace('#', 's')}"
               f"_{dyn}.wav")
        digest = render.write_and_hash(out / rel, seg)
        files[rel] = digest
        rows.append(dict(source=source, instrument=name, program=p["program"], midi_pitch=pitch,
                         pitch_name=pitch_name(pitch), pitch_class=pitch_class(pitch),
                         octave=octave(pitch), dynamics=dyn, velocity=vel,
                         duration_s=round(len(seg) / SAMPLE_RATE, 4), split="", file=rel,
                         sha256=digest, peak=round(float(np.max(np.abs(seg))), 4)))
    files[f"notes/{source}/{name}/notes.mid"] = sha256_file(mid)
    # the split is drawn on every planned note (keyed by the instrument, not the source),
    # so each note has the same plan_split in every source
    _note_split(rows, unit_rng(p["seed"], "notes", name, 1), p["test_fraction"], source)
    rows, dropped = _drop_silent(rows, files, out)
    return rows, files, dropped


def _render_performance(unit: Unit, out: Path) -> tuple[list[dict], dict, list]:
    from .instruments import Instrument
    from .midi import Timeline
    from .phrases import generate_phrase, schedule
    p = unit.params
    name, source = unit.name, unit.source
    inst = Instrument(name, tuple(p["programs"]), p["low"], p["high"], "", p["vibrato"])
    rng = unit_rng(p["seed"], "performance", name)
    phrases = []
    total = 0.0
    target = p["minutes"] * 60.0
    while total < target and len(phrases) < (p["max_phrases"] or 1 << 30):
        ph = generate_phrase(rng, inst, max_duration=p["max_phrase_s"])
        if len(ph.notes) < 2 or ph.duration < p["min_phrase_s"]:
            continue
        phrases.append(ph)
        total += ph.duration + p["tail_s"]
    covered = set(p["covered_programs"])
    d = out / "performance" / source / name
    d.mkdir(parents=True, exist_ok=True)
    tl = Timeline()
    starts = []
    t = 0.25
    # Every planned phrase keeps its slot (a phrase whose program the source lacks is
    # left silent there), so cut lengths, durations and the split are the same in
    # every source.
    for i, ph in enumerate(phrases):
        if ph.program in covered:
            schedule(tl, ph, t)
        end = t + ph.duration + p["tail_s"]
        tl.all_sound_off(end)
        starts.append(t)
        if ph.program in covered:
            single = Timeline()             # the phrase alone, for references and re-rendering
            schedule(single, ph, 0.1)
            single.save(d / f"{name}_p{i:04d}.mid", end_s=0.1 + ph.duration + p["tail_s"])
        t = end + p["gap_s"]
    mid = d / "phrases.mid"
    tl.save(mid, end_s=t + 0.5)
    x = render.render_midi(mid, source, p["gain"])
    rows, files = [], {}
    for i, (ph, s) in enumerate(zip(phrases, starts)):
        seg = render.cut(x, s, s + ph.duration + p["tail_s"])
        rel = f"performance/{source}/{name}/{name}_p{i:04d}.wav"
        midi_rel = f"performance/{source}/{name}/{name}_p{i:04d}.mid"
        info = ph.params()
        row = dict(source=source, instrument=name, phrase=i, program=info["program"],
                   kind=info["kind"], tempo=info["tempo"], dynamic=info["dynamic"],
                   articulation=info["articulation"], expression=info["expression"],
                   cc11_low=info["cc11_low"], cc11_high=info["cc11_high"],
                   vibrato_rate=info["vibrato_rate"], vibrato_cents=info["vibrato_cents"],
                   notes=info["notes"], low=info["low"], high=info["high"],
                   duration_s=round(len(seg) / SAMPLE_RATE, 4), split="", file=rel,
                   midi=midi_rel, sha256="", peak=round(float(np.max(np.abs(seg))), 4))
        if ph.program in covered:
            row["sha256"] = files[rel] = render.write_and_hash(out / rel, seg)
            files[midi_rel] = sha256_file(out / midi_rel)
        rows.append(row)
    files[f"performance/{source}/{name}/phrases.mid"] = sha256_file(mid)
    _phrase_split(rows, unit_rng(p["seed"], "performance", name, 1), p["test_fraction"], source)
    uncovered = [r["file"] for r in rows if r["program"] not in covered]
    rows = [r for r in rows if r["program"] in covered]
    rows, dropped = _drop_silent(rows, files, out)
    return rows, files, [f"{f} (program not covered)" for f in uncovered] + dropped


def _phrase_split(rows: list[dict], rng: np.random.Generator, fraction: float,
                  source: str = S.REFERENCE_SOURCE) -> None:
    """Split by whole phrases: in a seeded random order, phrases go to test until it
    holds at least `fraction` of the seconds; the rest are train. Rows of a held-out
    source become `heldout` (heldout_split)."""
    order = rng.permutation(len(rows))
    total_s = sum(r["duration_s"] for r in rows)
    test_s = 0.0
    for j in order:
        if test_s < fraction * total_s:
            rows[j]["split"] = "test"
            test_s += rows[j]["duration_s"]
        else:
            rows[j]["split"] = "train"
    heldout_split(rows, source)


def _render_voice(unit: Unit, out: Path) -> tuple[list[dict], dict]:
    rows, files = [], {}
    for it in unit.params["items"]:
        x = render.voice_item(it["text"], it["voice"], it["pitch"], it["range"], it["duration_s"],
                              [tuple(b) for b in it["bends"]])
        rel = f"voice/{unit.name}/{it['item'].replace('+', '_')}.wav"
        digest = render.write_and_hash(out / rel, x)
        files[rel] = digest
        rows.append(dict(source=S.VOICE_SOURCE, item=it["item"], kind=it["kind"], text=it["text"], voice=it["voice"],
                         pitch=it["pitch"], bends=json.dumps(it["bends"]),
                         duration_s=round(len(x) / SAMPLE_RATE, 4), file=rel, sha256=digest,
                         peak=round(float(np.max(np.abs(x))), 4)))
    return rows, files, []


RENDERERS = {"notes": _render_notes, "performance": _render_performance, "voice": _render_voice}


def unit_dir(out: Path, unit: Unit) -> Path:
    return out / unit.key


def unit_is_built(out: Path, unit: Unit) -> dict | None:
    """The unit's record if its parameters match and all its files check out."""
    rec_path = unit_dir(out, unit) / "unit.json"
    if not rec_path.exists():
        return None
    try:
        rec = json.loads(rec_path.read_text())
    except json.JSONDecodeError:
        return None
    if rec.get("params_hash") != unit.params_hash:
        return None
    for rel, digest in rec.get("files", {}).items():
        f = out / rel
        if not f.exists() or sha256_file(f) != digest:
            return None
    return rec


def build_unit(args) -> dict:
    out, unit, force = args
    out = Path(out)
    t0 = time.time()
    if not force:
        rec = unit_is_built(out, unit)
        if rec is not None:
            return dict(rec, status="skipped", seconds=round(time.time() - t0, 3))
    d = unit_dir(out, unit)
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    rows, files, dropped = RENDERERS[unit.corpus](unit, out)
    rec = dict(corpus=unit.corpus, name=unit.name, source=unit.source, params=unit.params,
               params_hash=unit.params_hash, files=files, rows=rows, dropped=dropped,
               audio_seconds=round(sum(r["duration_s"] for r in rows), 3),
               bytes=sum((out / f).stat().st_size for f in files),
               render_seconds=round(time.time() - t0, 3))
    (d / "unit.json").write_text(json.dumps(rec, indent=1))
    return dict(rec, status="built", seconds=rec["render_seconds"])


# --- manifests ------------------------------------------------------------------

def _write_csv(path: Path, columns, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def build(out=None, seed: int = DEFAULT_SEED, smoke: bool = False,
          corpora=CORPORA, instruments=None, minutes: float = PERF_MINUTES,
          sources=None, workers: int | None = None, force: bool = False,
          log=print) -> dict:
    """Builds (or completes) the corpora under `out` (default <data root>/full or /smoke);
    returns the build report. sources: names from sources.SOURCES (default: every one
    installed here for a full build, SMOKE_SOURCES for the smoke build)."""
    out = Path(out) if out is not None else (S.smoke_root() if smoke else S.full_root())
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    wanted = list(sources) if sources else list(S.SMOKE_SOURCES if smoke else S.SOURCES)
    unknown = [n for n in wanted if n not in S.SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {list(S.SOURCES)}")
    tools = {}
    fingerprints, coverage, unavailable = {}, {}, []
    if any(c in corpora for c in ("notes", "performance")):
        have = S.available(wanted)
        unavailable = [n for n in wanted if n not in have]
        for n in unavailable:
            log(f"  source {n} is not installed ({S.SOURCES[n].package}): skipped")
        for n in have:
            fingerprints[n] = source_fingerprint(n)
        tc = time.time()
        cov_path = out / "coverage.json"
        previous = json.loads(cov_path.read_text()) if cov_path.exists() else {}
        prev_cov = {n: (previous.get("fingerprints", {}).get(n, {}).get("sha256"), c)
                    for n, c in previous.get("sources", {}).items()}
        coverage = measure_coverage(have, instruments, prev_cov)
        overlap = measure_overlap(have, instruments, previous.get("overlap"))
        cov_path.write_text(json.dumps(dict(
            floor_db=S.COVERAGE_FLOOR_DB,
            sources=dict(previous.get("sources", {}), **coverage),
            fingerprints=dict(previous.get("fingerprints", {}), **fingerprints),
            overlap=dict(previous.get("overlap", {}), **overlap)),
            indent=1, sort_keys=True))
        log(f"  coverage of {len(have)} source(s) probed in {time.time() - tc:.1f} s")
        wanted = have
    if "voice" in corpora:
        render.require("espeak-ng")
        render.require("sox")
        tools["espeak-ng"] = render.tool_version("espeak-ng")
        tools["sox"] = render.tool_version("sox")
    units = plan_units(seed, smoke, wanted, corpora, instruments, minutes, tools, coverage,
                       fingerprints)
    workers = workers or render.workers_default()
    jobs = [(str(out), u, force) for u in units]
    results: dict[str, dict] = {}
    # biggest units first, so two workers finish together
    order = sorted(range(len(jobs)), key=lambda i: -len(json.dumps(units[i].params)))
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {i: pool.submit(build_unit, jobs[i]) for i in order}
            for i in order:
                results[units[i].key] = r = futures[i].result()
                log(f"  {r['status']:7s} {units[i].key:36s} {r['audio_seconds']:8.1f} s audio "
                    f"{r['seconds']:6.1f} s")
    else:
        for i in order:
            results[units[i].key] = r = build_unit(jobs[i])
            log(f"  {r['status']:7s} {units[i].key:36s} {r['audio_seconds']:8.1f} s audio "
                f"{r['seconds']:6.1f} s")

    # Units of earlier builds into the same folder (other sources or instruments, same
    # generator version, seed and mode) stay in the manifests: building one source at a
    # time adds to the corpora instead of replacing them.
    records = {u.key: results[u.key] for u in units}
    kept = []
    for rec_path in sorted(out.glob("*/**/unit.json")):
        try:
            rec = json.loads(rec_path.read_text())
        except json.JSONDecodeError:
            continue
        key = rec_path.parent.relative_to(out).as_posix()
        prm = rec.get("params", {})
        if (key in records or prm.get("version") != GENERATOR_VERSION
                or prm.get("seed") != int(seed) or prm.get("smoke") != bool(smoke)
                or rec.get("corpus") not in corpora
                or not all((out / f).exists() for f in rec.get("files", {}))):
            continue
        records[key] = dict(rec, status="kept", seconds=0.0)
        kept.append(key)

    def order_key(key):
        parts = key.split("/")
        corpus, source, name = (parts + ["", ""])[:3] if len(parts) == 3 else (parts[0], "", parts[1])
        src_i = list(S.SOURCES).index(source) if source in S.SOURCES else -1
        inst_i = list(INSTRUMENTS).index(name) if name in INSTRUMENTS else 0
        return (CORPORA.index(corpus), src_i, inst_i, name)

    keys = sorted(records, key=order_key)
    by_corpus: dict[str, list[dict]] = {c: [] for c in CORPORA}
    for k in keys:
        by_corpus[records[k]["corpus"]].extend(records[k]["rows"])
    columns = {"notes": NOTE_MANIFEST_COLUMNS, "performance": PERF_MANIFEST_COLUMNS,
               "voice": VOICE_MANIFEST_COLUMNS}
    for c in CORPORA:
        if c in corpora:
            _write_csv(out / c / "manifest.csv", columns[c], by_corpus[c])

    wall = time.time() - t0
    manifest = dict(generator_version=GENERATOR_VERSION, seed=int(seed), smoke=bool(smoke),
                    sample_rate=SAMPLE_RATE, tools=tools, sources=fingerprints,
                    units={k: dict(params_hash=records[k]["params_hash"],
                                   params=records[k]["params"], files=records[k]["files"])
                           for k in keys})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))

    def minutes_of(rows, split=None):
        return round(sum(r["duration_s"] for r in rows if split is None or r.get("split") == split)
                     / 60.0, 2)

    summary, per_source = {}, {}
    for c in corpora:
        us = [records[k] for k in keys if records[k]["corpus"] == c]
        rows = by_corpus[c]
        summary[c] = dict(
            units=len(us), files=len(rows), audio_minutes=minutes_of(rows),
            bytes=sum(r["bytes"] for r in us),
            render_seconds=round(sum(r["render_seconds"] for r in us), 1),
            peak=max((r.get("peak", 0.0) for r in rows), default=0.0),
            splits={s: minutes_of(rows, s) for s in ("train", "test", "heldout")
                    if any(r.get("split") == s for r in rows)})
        for src in sorted({r.get("source", "") for r in rows}, key=lambda n: order_key(f"{c}/{n}/x")):
            srows = [r for r in rows if r.get("source") == src]
            sus = [u for u in us if u.get("source", "") == src or (c == "voice" and not u.get("source"))]
            per_source.setdefault(src, {})[c] = dict(
                units=len(sus), files=len(srows), audio_minutes=minutes_of(srows),
                instruments=sorted({r["instrument"] for r in srows if "instrument" in r},
                                   key=lambda n: list(INSTRUMENTS).index(n)),
                splits={s: minutes_of(srows, s) for s in ("train", "test", "heldout")
                        if any(r.get("split") == s for r in srows)},
                bytes=sum(u["bytes"] for u in sus),
                render_seconds=round(sum(u["render_seconds"] for u in sus), 1),
                peak=max((r.get("peak", 0.0) for r in srows), default=0.0),
                dropped=sum(len(u.get("dropped", [])) for u in sus))
    report = dict(out=str(out), seed=int(seed), smoke=bool(smoke), workers=workers,
                  wall_seconds=round(wall, 1), sources=list(wanted), unavailable=unavailable,
                  heldout=[n for n in S.NEVER_TRAIN if n in wanted],
                  built=[k for k, r in results.items() if r["status"] == "built"],
                  skipped=[k for k, r in results.items() if r["status"] == "skipped"],
                  kept=kept, corpora=summary, per_source=per_source,
                  units={k: dict(status=records[k]["status"], seconds=records[k]["seconds"],
                                 audio_seconds=records[k]["audio_seconds"],
                                 bytes=records[k]["bytes"], files=len(records[k]["rows"]),
                                 dropped=len(records[k].get("dropped", [])))
                         for k in keys})
    (out / "build_report.json").write_text(json.dumps(report, indent=1))
    return report
