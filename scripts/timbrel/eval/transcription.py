"""Transcription accuracy of a cross-modal VAE through the core (`timbrel transcribe`).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.transcription \\
        --model models/violin/violin.tmbl [--instrument violin] [--data data/full] \\
        [--phrases-from cello,violin] [--max-phrases N] [--json OUT.json] [--keep DIR]

Material: the test split of the performance corpus (``performance/manifest.csv``,
split == test): monophonic phrases rendered from every training source (FluidR3,
Freepats), each with its own .mid holding the notes; ``--split heldout``: the same test
phrases rendered by the held-out font (TimGM6mb), never trained on. A phrase's notes start 0.1 s into its .mid and its WAV is
cut from that point (``timbrel.data.build``), so reference times are the .mid's minus
``PHRASE_START_S``.
- piano has no performance corpus: the test .mid files of ``--phrases-from``
  instruments (default cello and violin, together C2-C7) are re-rendered with GM
  program 0 by ``timbrel.data.render.render_midi_files`` (pitch bends dropped: a piano
  does not bend; the vibrato of the string phrases would detune it).
- a mixture model (metadata.instruments lists M > 1, e.g. alto_sax + violin): phrase i
  of each instrument's test list (sorted by phrase number, as many as the shortest list)
  are summed over the length of the shorter one (the model's symbols have no "silent"
  class and it was trained on mixtures where every instrument plays, so a slot whose
  phrase has ended would still name notes); reference notes starting before the cut
  count, ended at the cut. Instrument slot j's notes (MIDI channel j in the core's
  output) are scored against instrument j's phrase, and the scores are averaged over
  the slots.

Each WAV goes through the core CLI (``timbrel transcribe --frames``); its MIDI file is
read back with ``read_midi_notes`` (mido, the data package's MIDI library) and compared
with the reference notes:

- note level (the mir_eval onset-only convention, written here): a reference and an
  estimated note match when their MIDI pitches are equal and their onsets differ by at
  most 50 ms; matches are a maximum bipartite matching (each note used at most once);
  precision = matches / estimated notes, recall = matches / reference notes,
  F1 = 2 P R / (P + R) (0 when P + R = 0). Summed over phrases before dividing.
- frame level (onset-free): a grid of 256-sample hops at 22050 Hz (11.6 ms) over each
  phrase; only frames where exactly one reference note sounds (note intervals are
  [start, end)) count. pitch accuracy: an estimated note of that pitch sounds;
  pitch-class accuracy: an estimated note of that pitch class sounds; octave-error
  rate: no estimated note has the pitch but one has its pitch class (wrong octave);
  voicing recall: any estimated note sounds. From the notes the core wrote.
- dynamics agreement: on matched notes, the share whose velocity class (the nearest of
  the model's pp/mf/ff velocities, as the core's ``label_from_midi``) equals the
  reference velocity's class. The corpus varies velocities around each phrase's base
  dynamic and moves CC11 expression as well, which the audio (and so the model) hears
  as dynamics, so this is a loose check.
- raw label accuracy: the same frames against the per-frame labels of ``--frames``
  (model argmax before any segmentation, on frames the gate marks active; inactive
  frames count as wrong): how much the segmentation adds or loses.

Prints a markdown table (header + one row) and, with --json, writes every phrase's
figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from timbrel.eval import core

PHRASE_START_S = 0.1          # timbrel.data.build: schedule(single, phrase, 0.1)
ONSET_TOLERANCE_S = 0.05      # mir_eval's default onset tolerance
SAMPLE_RATE = 22050
FRAME_HOP_S = 256 / SAMPLE_RATE
PIANO_PHRASES_FROM = ("cello", "violin")
DYNAMICS_VELOCITY = (40, 80, 120)   # pp, mf, ff (timbrel.data.instruments.DYNAMICS)


@dataclass(frozen=True)
class Note:
    pitch: int
    start: float          # seconds
    end: float            # seconds
    velocity: int = 80
    channel: int = 0


# --- MIDI reading ---------------------------------------------------------------

def read_midi_notes(path, offset_s: float = 0.0) -> List[Note]:
    """Notes of a Standard MIDI File (all tracks, any tempo map), times minus offset_s.

    A note-on with velocity 0 is a note-off; a note-off ends the oldest open note of its
    channel and pitch (first in, first out, as the core's reader); notes still open at the
    end of the file end there. Sorted by start, then pitch.
    """
    import mido
    mid = mido.MidiFile(str(path))
    open_notes: Dict[Tuple[int, int], List[Tuple[float, int]]] = {}
    notes: List[Note] = []
    now = 0.0
    for msg in mid:                      # merged tracks, delta times in seconds
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes.setdefault((msg.channel, msg.note), []).append((now, msg.velocity))
        elif msg.type in ("note_off", "note_on"):
            started = open_notes.get((msg.channel, msg.note))
            if started:
                t0, velocity = started.pop(0)
                notes.append(Note(msg.note, t0 - offset_s, now - offset_s, velocity, msg.channel))
    for (channel, pitch), started in open_notes.items():
        for t0, velocity in started:
            notes.append(Note(pitch, t0 - offset_s, now - offset_s, velocity, channel))
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


# --- note-level matching -----------------------------------------------------------

def match_notes(reference: Sequence[Note], estimate: Sequence[Note],
                onset_tolerance: float = ONSET_TOLERANCE_S) -> List[Tuple[int, int]]:
    """Maximum matching of (reference index, estimate index) pairs with equal pitch and
    |onset difference| <= onset_tolerance (Kuhn's augmenting paths)."""
    candidates: List[List[int]] = []
    for r in reference:
        candidates.append([j for j, e in enumerate(estimate)
                           if e.pitch == r.pitch
                           and abs(e.start - r.start) <= onset_tolerance + 1e-9])
    owner: Dict[int, int] = {}           # estimate index -> reference index

    def augment(i: int, seen: set) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(reference)):
        augment(i, set())
    return sorted((i, j) for j, i in owner.items())


def prf(matched: int, n_reference: int, n_estimate: int) -> Tuple[float, float, float]:
    """Precision, recall, F1 from counts (0 where undefined)."""
    precision = matched / n_estimate if n_estimate else 0.0
    recall = matched / n_reference if n_reference else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def dynamics_class(velocity: int, table: Sequence[int] = DYNAMICS_VELOCITY) -> int:
    """Index of the nearest velocity in `table` (ties to the softer class)."""
    return min(range(len(table)), key=lambda i: (abs(table[i] - velocity), i))


def note_scores(reference: Sequence[Note], estimate: Sequence[Note],
                onset_tolerance: float = ONSET_TOLERANCE_S,
                dynamics_velocity: Sequence[int] = DYNAMICS_VELOCITY) -> dict:
    pairs = match_notes(reference, estimate, onset_tolerance)
    matched = len(pairs)
    p, r, f = prf(matched, len(reference), len(estimate))
    same_dynamics = sum(dynamics_class(reference[i].velocity, dynamics_velocity) ==
                        dynamics_class(estimate[j].velocity, dynamics_velocity) for i, j in pairs)
    return dict(matched=matched, reference=len(reference), estimate=len(estimate),
                precision=p, recall=r, f1=f, same_dynamics=same_dynamics)


# --- frame level -------------------------------------------------------------------

def frame_times(duration_s: float, hop_s: float = FRAME_HOP_S) -> np.ndarray:
    count = int(np.ceil(duration_s / hop_s - 1e-9))     # 0.05 / 0.01 is 5.000000000000001
    return np.arange(count, dtype=np.float64) * hop_s


def sounding(notes: Sequence[Note], times: np.ndarray) -> List[List[int]]:
    """Pitches sounding at each time (intervals [start, end))."""
    out: List[List[int]] = [[] for _ in times]
    for n in notes:
        lo = int(np.searchsorted(times, n.start, side="left"))
        hi = int(np.searchsorted(times, n.end, side="left"))
        for k in range(lo, hi):
            out[k].append(n.pitch)
    return out


def frame_counts(reference: Sequence[Note], estimate_pitches: Sequence[Sequence[int]],
                 times: np.ndarray) -> dict:
    """Counts over the frames where exactly one reference note sounds.

    estimate_pitches[k]: the estimated pitches sounding at times[k]."""
    ref = sounding(reference, times)
    c = dict(frames=0, pitch=0, pitch_class=0, octave_error=0, voiced=0)
    for k, pitches in enumerate(ref):
        if len(pitches) != 1:
            continue
        p = pitches[0]
        est = estimate_pitches[k]
        c["frames"] += 1
        c["voiced"] += bool(est)
        exact = p in est
        same_class = any((e - p) % 12 == 0 for e in est)
        c["pitch"] += exact
        c["pitch_class"] += same_class
        c["octave_error"] += (same_class and not exact)
    return c


def frame_rates(c: dict) -> dict:
    n = c["frames"]
    f = (lambda k: c[k] / n if n else float("nan"))
    return dict(frame_pitch_accuracy=f("pitch"), pitch_class_accuracy=f("pitch_class"),
                octave_error_rate=f("octave_error"), voicing_recall=f("voiced"))


def frame_scores(reference: Sequence[Note], estimate: Sequence[Note], duration_s: float,
                 hop_s: float = FRAME_HOP_S) -> dict:
    """Counts and rates (see the module doc) on a hop grid over [0, duration_s)."""
    times = frame_times(duration_s, hop_s)
    c = frame_counts(reference, sounding(estimate, times), times)
    return {**c, **frame_rates(c)}


# --- the core CLI ------------------------------------------------------------------

def read_frames_csv(path) -> dict:
    """The `--frames` CSV: time_s, level_db, active and per slot pitch/dynamics/confidence."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    data = np.array([[float(v) for v in r] for r in body], dtype=np.float64).reshape(-1, len(header))
    return {name: data[:, i] for i, name in enumerate(header)}


def raw_label_pitches(frames: dict, slot: int, times: np.ndarray) -> List[List[int]]:
    """Per grid time, the active frame's label of `slot` nearest in time ([] if inactive)."""
    t = frames["time_s"]
    out: List[List[int]] = []
    for x in times:
        k = int(np.clip(np.searchsorted(t, x), 1, len(t) - 1)) if len(t) > 1 else 0
        if len(t) > 1 and abs(t[k - 1] - x) <= abs(t[k] - x):
            k -= 1
        active = len(t) > 0 and frames["active"][k] > 0.5
        out.append([int(frames[f"pitch_{slot}"][k])] if active else [])
    return out


def transcribe(wav: Path, model: Path, workdir: Path) -> Tuple[List[Note], dict, str]:
    """Runs `timbrel transcribe`; returns its notes (channel = instrument slot), frames
    and printed output."""
    mid = workdir / (wav.stem + ".transcribed.mid")
    frames = workdir / (wav.stem + ".frames.csv")
    proc = subprocess.run([str(core.cli_path()), "transcribe", str(wav), "--model", str(model),
                           "-o", str(mid), "--frames", str(frames)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"timbrel transcribe {wav} failed: {proc.stderr.strip()}")
    return read_midi_notes(mid), read_frames_csv(frames), proc.stdout


# --- material ----------------------------------------------------------------------

@dataclass
class Item:
    name: str
    wav: Path
    duration_s: float
    reference: List[List[Note]]     # per instrument slot


def test_phrases(data: Path, instrument: str, split: str = "test", sources=None) -> List[dict]:
    """Phrases of one split: train or test (of `sources`, default every source a model may
    learn from), or heldout: the held-out font's renders of the test phrases (an unseen
    font playing unseen phrases)."""
    from timbrel.data.sources import HELDOUT_SOURCE, NEVER_TRAIN
    manifest = data / "performance" / "manifest.csv"
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} is missing: build the corpus with "
                                "`PYTHONPATH=scripts /usr/bin/python3 -m timbrel.data build`")
    with open(manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["instrument"] == instrument]
    if split == "heldout":
        rows = [r for r in rows if r.get("source") == HELDOUT_SOURCE and r["split"] == "heldout"
                and r.get("plan_split") == "test"]
    else:
        rows = [r for r in rows if r["split"] == split and r.get("source") not in NEVER_TRAIN
                and (sources is None or r.get("source", "fluidr3") in sources)]
    if not rows:
        raise ValueError(f"no {split} phrases of '{instrument}' in {manifest}")
    return sorted(rows, key=lambda r: int(r["phrase"]))


def _write_float_wav(path: Path, x: np.ndarray) -> None:
    from scipy.io import wavfile
    wavfile.write(str(path), SAMPLE_RATE, np.asarray(x, dtype=np.float32))


def piano_items(data: Path, phrases_from: Sequence[str], workdir: Path,
                max_phrases: Optional[int], split: str = "test", sources=None) -> List[Item]:
    """Test phrases of `sources` re-rendered with GM program 0 (see the module doc)."""
    import mido
    from timbrel.data.render import DEFAULT_FONT, render_midi_files
    from timbrel.data.sources import HELDOUT_SOURCE, SOURCES
    rows, seen = [], set()
    for r in (r for s in phrases_from for r in test_phrases(data, s, split, sources)):
        if (r["instrument"], r["phrase"]) not in seen:  # each source holds the same score
            seen.add((r["instrument"], r["phrase"]))
            rows.append(r)
    if max_phrases:
        rows = rows[:max_phrases]
    paths = []
    for r in rows:
        mid = mido.MidiFile(str(data / r["midi"]))
        for track in mid.tracks:
            for i, msg in enumerate(track):
                if msg.type == "program_change":
                    track[i] = msg.copy(program=0)
                elif msg.type == "pitchwheel":      # keep the timing, drop the bend
                    track[i] = mido.MetaMessage("text", text="bend dropped", time=msg.time)
        path = workdir / ("piano_" + Path(r["midi"]).name)
        mid.save(str(path))
        paths.append(path)
    # The held-out font plays the held-out phrases' piano too.
    font = SOURCES[HELDOUT_SOURCE].path if split == "heldout" else DEFAULT_FONT
    audio = render_midi_files(paths, font=font)
    items = []
    for r, path, x in zip(rows, paths, audio):
        wav = path.with_suffix(".wav")
        _write_float_wav(wav, x)
        items.append(Item(wav.stem, wav, len(x) / SAMPLE_RATE,
                          [read_midi_notes(path, PHRASE_START_S)]))
    return items


def corpus_items(data: Path, instrument: str, max_phrases: Optional[int],
                 split: str = "test", sources=None) -> List[Item]:
    rows = test_phrases(data, instrument, split, sources)[:max_phrases or None]
    items = []
    for r in rows:
        wav = data / r["file"]
        items.append(Item(wav.stem, wav, float(r["duration_s"]),
                          [read_midi_notes(data / r["midi"], PHRASE_START_S)]))
    return items


def mixture_items(data: Path, instruments: Sequence[str], workdir: Path,
                  max_phrases: Optional[int], split: str = "test", sources=None) -> List[Item]:
    """Phrase i of each instrument summed over the shorter length (see the module doc)."""
    from timbrel.data.audio import read_wav
    lists = [test_phrases(data, name, split, sources) for name in instruments]
    count = min(len(rows) for rows in lists)
    if max_phrases:
        count = min(count, max_phrases)
    items = []
    for i in range(count):
        parts = [read_wav(data / rows[i]["file"])[0] for rows in lists]
        length = min(len(p) for p in parts)
        x = np.sum([p[:length].astype(np.float64) for p in parts], axis=0)
        cut = length / SAMPLE_RATE
        name = "+".join(Path(rows[i]["file"]).stem for rows in lists)
        wav = workdir / f"{name}.wav"
        _write_float_wav(wav, x)
        references = [[Note(n.pitch, n.start, min(n.end, cut), n.velocity, n.channel)
                       for n in read_midi_notes(data / rows[i]["midi"], PHRASE_START_S)
                       if n.start < cut] for rows in lists]
        items.append(Item(name, wav, cut, references))
    return items


# --- evaluation --------------------------------------------------------------------

def model_metadata(model: Path) -> dict:
    from timbrel.tmbl import read_tmbl
    meta = read_tmbl(model, check_references=False).metadata or {}
    names = meta.get("instruments")
    if not isinstance(names, list) or not names:
        raise ValueError(f"{model}: metadata lists no instruments (is it a crossmodal_vae model?)")
    return meta


def evaluate(model: Path, data: Path, instrument: Optional[str] = None,
             phrases_from: Sequence[str] = PIANO_PHRASES_FROM,
             max_phrases: Optional[int] = None, keep: Optional[Path] = None,
             split: str = "test", sources: Optional[Sequence[str]] = None) -> dict:
    """sources: the test phrases of these sources (default: those the model trained on)."""
    meta = model_metadata(model)
    slots = [str(n) for n in meta["instruments"]]
    # The test phrases of what it trained on (files before the multi-source trainer: FluidR3).
    sources = list(sources or meta.get("training", {}).get("sources", ["fluidr3"]))
    velocities = tuple(meta.get("dynamics_velocity", DYNAMICS_VELOCITY))
    if instrument is None:
        instrument = slots[0] if len(slots) == 1 else "+".join(slots)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="timbrel-transcription-") as tmp:
        workdir = Path(keep) if keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if len(slots) > 1:
            items = mixture_items(data, slots, workdir, max_phrases, split, sources)
        elif instrument == "piano":
            items = piano_items(data, phrases_from, workdir, max_phrases, split, sources)
        else:
            items = corpus_items(data, instrument, max_phrases, split, sources)
        per_item = []
        totals = {s: dict(matched=0, reference=0, estimate=0, same_dynamics=0)
                  for s in range(len(slots))}
        frame_totals = {s: dict(frames=0, pitch=0, pitch_class=0, octave_error=0, voiced=0)
                        for s in range(len(slots))}
        raw_totals = {s: dict(frames=0, pitch=0, pitch_class=0, octave_error=0, voiced=0)
                      for s in range(len(slots))}
        for item in items:
            estimate, frames, _ = transcribe(item.wav, model, workdir)
            times = frame_times(item.duration_s)
            for s in range(len(slots)):
                est = [n for n in estimate if n.channel == s]
                ns = note_scores(item.reference[s], est, dynamics_velocity=velocities)
                fc = frame_counts(item.reference[s], sounding(est, times), times)
                rc = frame_counts(item.reference[s], raw_label_pitches(frames, s, times), times)
                for k in totals[s]:
                    totals[s][k] += ns[k]
                for k in frame_totals[s]:
                    frame_totals[s][k] += fc[k]
                    raw_totals[s][k] += rc[k]
                per_item.append(dict(item=item.name, slot=s, instrument=slots[s], **ns,
                                     **frame_rates(fc),
                                     raw_label_accuracy=frame_rates(rc)["frame_pitch_accuracy"]))
    per_slot = []
    for s, name in enumerate(slots):
        p, r, f = prf(totals[s]["matched"], totals[s]["reference"], totals[s]["estimate"])
        agree = totals[s]["same_dynamics"] / totals[s]["matched"] if totals[s]["matched"] else 0.0
        per_slot.append(dict(instrument=name, **totals[s], precision=p, recall=r, f1=f,
                             dynamics_agreement=agree,
                             **frame_rates(frame_totals[s]),
                             raw_label_accuracy=frame_rates(raw_totals[s])["frame_pitch_accuracy"]))
    keys = ("precision", "recall", "f1", "frame_pitch_accuracy", "pitch_class_accuracy",
            "octave_error_rate", "voicing_recall", "raw_label_accuracy", "dynamics_agreement")
    summary = {k: float(np.mean([row[k] for row in per_slot])) for k in keys}
    summary.update(reference=sum(t["reference"] for t in totals.values()),
                   estimate=sum(t["estimate"] for t in totals.values()),
                   matched=sum(t["matched"] for t in totals.values()))
    return dict(model=str(model), instrument=instrument, split=split, phrases=len(items),
                sources=["timgm6mb (held out)"] if split == "heldout" else list(sources),
                audio_s=round(sum(i.duration_s for i in items), 2),
                seconds=round(time.time() - started, 1), summary=summary, per_slot=per_slot,
                per_item=per_item)


TABLE_HEADER = ("| model | material | phrases | notes (ref / est) | P | R | F1 | frame pitch acc "
                "| pitch-class acc | octave errors | voicing | raw label acc | dynamics |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def table_row(result: dict) -> str:
    s = result["summary"]
    pct = (lambda v: "-" if v != v else f"{100 * v:.1f} %")
    return (f"| {Path(result['model']).name} | {result['instrument']} {result['split']} phrases "
            f"({', '.join(result.get('sources', []))}) "
            f"| {result['phrases']} | {s['reference']} / {s['estimate']} "
            f"| {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} "
            f"| {pct(s['frame_pitch_accuracy'])} | {pct(s['pitch_class_accuracy'])} "
            f"| {pct(s['octave_error_rate'])} | {pct(s['voicing_recall'])} "
            f"| {pct(s['raw_label_accuracy'])} | {pct(s['dynamics_agreement'])} |")


SUMMARY_BEGIN, SUMMARY_END = "<!-- transcription-summary:begin -->", "<!-- transcription-summary:end -->"


def write_summary(index: Path, data: Path, readme: Path) -> str:
    """Evaluates every model of ``index`` (models/crossmodal/index.json) on its own
    instrument's test phrases, in the training sources and in the held-out font, and writes
    the table into ``readme`` between markers."""
    rows = []
    for entry in json.loads(index.read_text()):
        model = index.parent / entry["file"]
        for split in ("test", "heldout"):
            result = evaluate(model, data, None, list(PIANO_PHRASES_FROM), None, None, split)
            rows.append(table_row(result))
            print(rows[-1], flush=True)
    section = "\n".join([
        SUMMARY_BEGIN, "## Transcription (generated by `timbrel.eval.transcription --summary`)", "",
        "Each model transcribes its own instrument's test phrases of the performance corpus "
        "through the core's `timbrel transcribe`: `test`, renders of generated monophonic "
        "test phrases with known notes by the sources the model trained on (solo models: "
        "FluidR3 and Freepats; the mixture: FluidR3); `heldout`, the same phrases rendered by the held-out font (TimGM6mb), which "
        "no model trained on "
        "(piano: the cello and violin test phrases re-rendered with program 0 by FluidR3, or "
        "by the held-out font; the mixture: sax and violin phrases summed). A note is found when its "
        "onset is within 50 ms and its MIDI pitch is equal (one-to-one matching); frame "
        "figures count frames where the reference plays one note.", "",
        TABLE_HEADER, *rows, "",
        "Reproduce: `PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.transcription --summary`",
        SUMMARY_END])
    text = readme.read_text() if readme.exists() else "# Cross-modal VAE models\n"
    if SUMMARY_BEGIN in text:
        text = text[:text.index(SUMMARY_BEGIN)] + section + text[text.index(SUMMARY_END) + len(SUMMARY_END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    readme.write_text(text)
    return section


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="crossmodal_vae .tmbl file")
    ap.add_argument("--summary", action="store_true",
                    help="every model of models/crossmodal/index.json, table written into "
                         "models/crossmodal/README.md")
    ap.add_argument("--instrument", default=None,
                    help="material: a performance-corpus instrument, or piano (default: the "
                         "model's instrument; mixture models always use their instruments)")
    ap.add_argument("--data", type=Path, default=core.REPO / "data" / "full")
    ap.add_argument("--phrases-from", default=",".join(PIANO_PHRASES_FROM),
                    help="piano only: instruments whose test .mid files are re-rendered")
    ap.add_argument("--max-phrases", type=int, default=None)
    ap.add_argument("--split", default="test", choices=("test", "train", "heldout"),
                    help="performance-corpus split (train: for tuning the transcriber's "
                         "settings without looking at the test phrases)")
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the rendered WAVs, MIDI and frame files in this folder")
    args = ap.parse_args(argv)
    if args.summary:
        root = core.REPO / "models" / "crossmodal"
        write_summary(root / "index.json", args.data, root / "README.md")
        return 0
    if args.model is None:
        ap.error("--model or --summary is required")
    if not args.model.exists():
        ap.error(f"--model {args.model} does not exist")
    result = evaluate(args.model, args.data, args.instrument,
                      [s for s in args.phrases_from.split(",") if s], args.max_phrases, args.keep,
                      args.split)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    for row in result["per_slot"] if len(result["per_slot"]) > 1 else []:
        print(f"{row['instrument']}: P {row['precision']:.3f} R {row['recall']:.3f} "
              f"F1 {row['f1']:.3f}, frame pitch acc {row['frame_pitch_accuracy']:.3f}")
    print(TABLE_HEADER)
    print(table_row(result))
    print(f"({result['audio_s']} s of audio in {result['seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
