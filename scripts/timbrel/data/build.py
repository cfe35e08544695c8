"""Builds the three corpora, skipping what is already built.

Work is split into units (one per corpus and instrument, or per kind of voice
input). Each unit renders one MIDI file with fluidsynth (the soundfont is
loaded once per unit) and cuts it into labelled files, or runs espeak-ng/sox
per item. A unit writes `unit.json` with its generator parameters, their
hash, the rows of its manifest and the sha256 of every file it wrote; on the
next build a unit whose parameter hash matches and whose files all exist with
those checksums is skipped. All random draws come from
numpy.random.default_rng([seed, corpus id, crc32(unit name)]), so a unit's
output depends only on the seed, its parameters and the tool versions.

Layout under the output root:
  notes/<instrument>/*.wav        note corpus, notes/manifest.csv
  performance/<instrument>/*.wav  phrases (+ one .mid each), performance/manifest.csv
  voice/<kind>/*.wav              voice-like inputs, voice/manifest.csv
  manifest.json                   every file's sha256, units' parameters, tools
  build_report.json               per-unit status, seconds, sizes (measured)
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
from .audio import SAMPLE_RATE, sha256_file
from .instruments import (DYNAMICS, INSTRUMENTS, NOTE_INSTRUMENTS, PERFORMANCE_INSTRUMENTS,
                          VOLUME_CC7, octave, pitch_class, pitch_name)

GENERATOR_VERSION = 2
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

NOTE_MANIFEST_COLUMNS = ("instrument", "program", "midi_pitch", "pitch_name", "pitch_class",
                         "octave", "dynamics", "velocity", "duration_s", "split", "file", "sha256")
PERF_MANIFEST_COLUMNS = ("instrument", "phrase", "program", "kind", "tempo", "dynamic",
                         "articulation", "expression", "cc11_low", "cc11_high", "vibrato_rate",
                         "vibrato_cents", "notes", "low", "high", "duration_s", "split", "file",
                         "midi", "sha256")
VOICE_MANIFEST_COLUMNS = ("item", "kind", "text", "voice", "pitch", "bends", "duration_s",
                          "file", "sha256")


@dataclass
class Unit:
    corpus: str
    name: str
    params: dict

    @property
    def key(self) -> str:
        return f"{self.corpus}/{self.name}"

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


def plan_units(seed: int = DEFAULT_SEED, smoke: bool = False, font: str = render.DEFAULT_FONT,
               corpora=CORPORA, instruments=None, minutes: float = PERF_MINUTES,
               tools: dict | None = None) -> list[Unit]:
    tools = tools or {}
    common = dict(version=GENERATOR_VERSION, seed=int(seed), smoke=bool(smoke),
                  sample_rate=SAMPLE_RATE, tools=tools)
    synth = dict(font=str(font), font_bytes=Path(font).stat().st_size if Path(font).exists() else 0,
                 gain=render.FLUIDSYNTH_GAIN, reverb=False, chorus=False, cc7=VOLUME_CC7)
    units = []
    if "notes" in corpora:
        for name in NOTE_INSTRUMENTS:
            if instruments and name not in instruments:
                continue
            inst = INSTRUMENTS[name]
            notes = (_smoke_pitches(inst) if smoke
                     else [(p, d) for p in inst.pitches for d in DYNAMICS])
            units.append(Unit("notes", name, dict(
                common, **synth, instrument=name, program=inst.program,
                notes=[[p, d, DYNAMICS[d]] for p, d in notes], hold_s=NOTE_HOLD_S,
                length_s=NOTE_LENGTH_S, slot_s=NOTE_SLOT_S, test_fraction=NOTE_TEST_FRACTION)))
    if "performance" in corpora:
        for name in PERFORMANCE_INSTRUMENTS:
            if instruments and name not in instruments:
                continue
            inst = INSTRUMENTS[name]
            units.append(Unit("performance", name, dict(
                common, **synth, instrument=name, programs=list(inst.programs), low=inst.low,
                high=inst.high, vibrato=inst.vibrato,
                minutes=(SMOKE_PHRASE_S / 60.0) if smoke else float(minutes),
                max_phrase_s=SMOKE_PHRASE_S if smoke else PERF_MAX_PHRASE_S,
                min_phrase_s=3.0 if smoke else 1.0, max_phrases=1 if smoke else None,
                tail_s=PERF_TAIL_S, gap_s=PERF_GAP_S, test_fraction=PERF_TEST_FRACTION)))
    if "voice" in corpora:
        for kind, items in voice_plan(seed, smoke).items():
            if items:
                units.append(Unit("voice", kind, dict(common, items=items)))
    return units


# --- rendering units ----------------------------------------------------------

def _note_split(rows: list[dict], rng: np.random.Generator, fraction: float) -> None:
    """Stratified split: in each (instrument, dynamics) group, round(fraction n) test."""
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


def _render_notes(unit: Unit, out: Path) -> tuple[list[dict], dict]:
    from .midi import Timeline
    p = unit.params
    name = unit.name
    d = out / "notes" / name
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
    x = render.render_midi(mid, p["font"], p["gain"])
    rows, files = [], {}
    for (pitch, dyn, vel), s in zip(p["notes"], starts):
        seg = render.cut(x, s, s + p["length_s"])
        rel = f"notes/{name}/{name}_{pitch:03d}_{pitch_name(pitch).replace('#', 's')}_{dyn}.wav"
        digest = render.write_and_hash(out / rel, seg)
        files[rel] = digest
        rows.append(dict(instrument=name, program=p["program"], midi_pitch=pitch,
                         pitch_name=pitch_name(pitch), pitch_class=pitch_class(pitch),
                         octave=octave(pitch), dynamics=dyn, velocity=vel,
                         duration_s=round(len(seg) / SAMPLE_RATE, 4), split="", file=rel,
                         sha256=digest, peak=round(float(np.max(np.abs(seg))), 4)))
    files[f"notes/{name}/notes.mid"] = sha256_file(mid)
    _note_split(rows, unit_rng(p["seed"], "notes", name, 1), p["test_fraction"])
    return rows, files


def _render_performance(unit: Unit, out: Path) -> tuple[list[dict], dict]:
    from .instruments import Instrument
    from .midi import Timeline
    from .phrases import generate_phrase, schedule
    p = unit.params
    name = unit.name
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
    d = out / "performance" / name
    d.mkdir(parents=True, exist_ok=True)
    tl = Timeline()
    starts = []
    t = 0.25
    for i, ph in enumerate(phrases):
        schedule(tl, ph, t)
        end = t + ph.duration + p["tail_s"]
        tl.all_sound_off(end)
        starts.append(t)
        single = Timeline()                 # the phrase alone, for references and re-rendering
        schedule(single, ph, 0.1)
        single.save(d / f"{name}_p{i:04d}.mid", end_s=0.1 + ph.duration + p["tail_s"])
        t = end + p["gap_s"]
    mid = d / "phrases.mid"
    tl.save(mid, end_s=t + 0.5)
    x = render.render_midi(mid, p["font"], p["gain"])
    rows, files = [], {}
    for i, (ph, s) in enumerate(zip(phrases, starts)):
        seg = render.cut(x, s, s + ph.duration + p["tail_s"])
        rel = f"performance/{name}/{name}_p{i:04d}.wav"
        digest = render.write_and_hash(out / rel, seg)
        files[rel] = digest
        midi_rel = f"performance/{name}/{name}_p{i:04d}.mid"
        files[midi_rel] = sha256_file(out / midi_rel)
        info = ph.params()
        rows.append(dict(instrument=name, phrase=i, program=info["program"], kind=info["kind"],
                         tempo=info["tempo"], dynamic=info["dynamic"],
                         articulation=info["articulation"], expression=info["expression"],
                         cc11_low=info["cc11_low"], cc11_high=info["cc11_high"],
                         vibrato_rate=info["vibrato_rate"], vibrato_cents=info["vibrato_cents"],
                         notes=info["notes"], low=info["low"], high=info["high"],
                         duration_s=round(len(seg) / SAMPLE_RATE, 4), split="", file=rel,
                         midi=midi_rel, sha256=digest,
                         peak=round(float(np.max(np.abs(seg))), 4)))
    files[f"performance/{name}/phrases.mid"] = sha256_file(mid)
    _phrase_split(rows, unit_rng(p["seed"], "performance", name, 1), p["test_fraction"])
    return rows, files


def _phrase_split(rows: list[dict], rng: np.random.Generator, fraction: float) -> None:
    """Split by whole phrases: in a seeded random order, phrases go to test until it
    holds at least `fraction` of the seconds; the rest are train."""
    order = rng.permutation(len(rows))
    total_s = sum(r["duration_s"] for r in rows)
    test_s = 0.0
    for j in order:
        if test_s < fraction * total_s:
            rows[j]["split"] = "test"
            test_s += rows[j]["duration_s"]
        else:
            rows[j]["split"] = "train"


def _render_voice(unit: Unit, out: Path) -> tuple[list[dict], dict]:
    rows, files = [], {}
    for it in unit.params["items"]:
        x = render.voice_item(it["text"], it["voice"], it["pitch"], it["range"], it["duration_s"],
                              [tuple(b) for b in it["bends"]])
        rel = f"voice/{unit.name}/{it['item'].replace('+', '_')}.wav"
        digest = render.write_and_hash(out / rel, x)
        files[rel] = digest
        rows.append(dict(item=it["item"], kind=it["kind"], text=it["text"], voice=it["voice"],
                         pitch=it["pitch"], bends=json.dumps(it["bends"]),
                         duration_s=round(len(x) / SAMPLE_RATE, 4), file=rel, sha256=digest,
                         peak=round(float(np.max(np.abs(x))), 4)))
    return rows, files


RENDERERS = {"notes": _render_notes, "performance": _render_performance, "voice": _render_voice}


def unit_dir(out: Path, unit: Unit) -> Path:
    return out / unit.corpus / unit.name


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
    rows, files = RENDERERS[unit.corpus](unit, out)
    rec = dict(corpus=unit.corpus, name=unit.name, params=unit.params,
               params_hash=unit.params_hash, files=files, rows=rows,
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


def font_checksum(font: str) -> str:
    return sha256_file(font) if Path(font).exists() else "missing"


def build(out="data/full", seed: int = DEFAULT_SEED, smoke: bool = False,
          corpora=CORPORA, instruments=None, minutes: float = PERF_MINUTES,
          font: str = render.DEFAULT_FONT, workers: int | None = None, force: bool = False,
          log=print) -> dict:
    """Builds (or completes) the corpora under `out`; returns the build report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    tools = {}
    if any(c in corpora for c in ("notes", "performance")):
        render.require("fluidsynth")
        tools["fluidsynth"] = render.tool_version("fluidsynth")
        tools["font_sha256"] = font_checksum(font)
    if "voice" in corpora:
        render.require("espeak-ng")
        render.require("sox")
        tools["espeak-ng"] = render.tool_version("espeak-ng")
        tools["sox"] = render.tool_version("sox")
    units = plan_units(seed, smoke, font, corpora, instruments, minutes, tools)
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
                log(f"  {r['status']:7s} {units[i].key:28s} {r['audio_seconds']:8.1f} s audio "
                    f"{r['seconds']:6.1f} s")
    else:
        for i in order:
            results[units[i].key] = r = build_unit(jobs[i])
            log(f"  {r['status']:7s} {units[i].key:28s} {r['audio_seconds']:8.1f} s audio "
                f"{r['seconds']:6.1f} s")

    # per-corpus CSV manifests, in plan order
    by_corpus: dict[str, list[dict]] = {c: [] for c in CORPORA}
    for u in units:
        by_corpus[u.corpus].extend(results[u.key]["rows"])
    columns = {"notes": NOTE_MANIFEST_COLUMNS, "performance": PERF_MANIFEST_COLUMNS,
               "voice": VOICE_MANIFEST_COLUMNS}
    for c in CORPORA:
        if c in corpora:
            _write_csv(out / c / "manifest.csv", columns[c], by_corpus[c])

    wall = time.time() - t0
    manifest = dict(generator_version=GENERATOR_VERSION, seed=int(seed), smoke=bool(smoke),
                    sample_rate=SAMPLE_RATE, font=str(font), tools=tools,
                    units={u.key: dict(params_hash=u.params_hash, params=u.params,
                                       files=results[u.key]["files"]) for u in units})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    summary = {}
    for c in corpora:
        us = [results[u.key] for u in units if u.corpus == c]
        rows = by_corpus[c]
        summary[c] = dict(
            units=len(us), files=len(rows),
            audio_minutes=round(sum(r["duration_s"] for r in rows) / 60.0, 2),
            bytes=sum(r["bytes"] for r in us),
            render_seconds=round(sum(r["render_seconds"] for r in us), 1),
            peak=max((r.get("peak", 0.0) for r in rows), default=0.0),
            splits={s: round(sum(r["duration_s"] for r in rows if r.get("split") == s) / 60.0, 2)
                    for s in ("train", "test") if any(r.get("split") == s for r in rows)})
    report = dict(out=str(out), seed=int(seed), smoke=bool(smoke), workers=workers,
                  wall_seconds=round(wall, 1),
                  built=[k for k, r in results.items() if r["status"] == "built"],
                  skipped=[k for k, r in results.items() if r["status"] == "skipped"],
                  corpora=summary,
                  units={k: dict(status=r["status"], seconds=r["seconds"],
                                 audio_seconds=r["audio_seconds"], bytes=r["bytes"],
                                 files=len(r["rows"])) for k, r in results.items()})
    (out / "build_report.json").write_text(json.dumps(report, indent=1))
    return report
