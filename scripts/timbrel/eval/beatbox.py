"""Beat-box evaluation of a grains model through the native tool's ``timbrel grains beatbox``.

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.eval.beatbox --model M.tmbl \\
        [--binary build/core/timbrel] [--count 60] [--seed 20261220] [--rate 48000]
        [--sources espeak sox] [--kit kick,closed_hat,snare] [--classifier sound|centroid]
        [--set eval|tune] [--out beatbox.json] [--keep DIR]

The vocal percussion is synthesised, not recorded: espeak-ng (``SYLLABLES``: the syllable, or
espeak phonemes in ``[[...]]``, and the drum class it stands for) and, because espeak's
syllables are voice-like (a "boom" is a vowel), short sox bursts shaped like the drums
(``BURSTS``: a falling sine for the kick, high-passed noise for the hat, band-passed noise
for the snare). Each source is rendered once in isolation at the clip's rate; its
ground-truth onset is the first sample whose magnitude exceeds -30 dB of its own peak.
``count`` of them (drawn with ``seed``, each at a random gain of -6..0 dB, trailing silence
cut 20 ms after the last sample above -30 dB) are placed one after another with random gaps
of 0.25-0.6 s between their onsets in a clip with a Gaussian noise floor at -60 dBFS RMS.

The tool finds the clip's onsets, hears each as one of the beat-box kit's three sounds (boom,
tss, ka; ``--classifier sound``: by what it is made of, the engine's VocalSoundClassifier;
``centroid``: the model's nearest onset centroid among the kit's classes) and lists them
(``--events``: onset time in seconds, sound, class, the sound's features). A source's intended
class (kick, closed_hat, snare) is its sound's (boom, tss, ka), and it agrees when the event's
class is the one the kit gives that sound.

Two sets of sources: ``eval`` (the default; ``SYLLABLES``, espeak-ng's default voice, ``BURSTS``,
seed ``SEED``) scores; ``tune`` (``TUNE_SYLLABLES`` in other voices, pitches and speeds,
``TUNE_BURSTS``, seed ``TUNE_SEED``) is where the VocalSoundClassifier's thresholds were chosen,
so that the scores are not measured on the clips the thresholds were fitted to. Phoneme
sources ([[...]]) sound the same in every espeak voice; the tuning set uses other phonemes and
speeds. Scores:
- detection: a detected onset matches a true one within ``TOLERANCE_S`` (50 ms; one to one,
  nearest pairs first); recall = matched / true, precision = matched / detected;
- timing: |detected - true| of the matched pairs, median and 95th percentile in ms (target
  ``TIMING_TARGET_MS`` = 15 ms), and the mean signed error (positive: late);
- class agreement: over the matched onsets, the share whose class is the source's intended
  class (a model without that class name uses ``CLASS_ALIASES``, e.g. ``hat`` for
  ``closed_hat``), per intended class, per source kind and overall, and the confusions.
Timing and detection do not depend on the model (the onset detector is the engine's); the
classes do.

``--morph 1 0.5 0`` (with ``--data`` and ``--runs`` for the reference drum classifier,
``timbrel.eval.drum_classifier``) measures the beat-box morph (docs/grains.md "Beat-box
morph"): every source of both sets alone (its first 93 ms, the grain the engine encodes, with a 5 ms
fade: one onset) through ``timbrel grains beatbox --morph M`` at 22050 Hz; the hit (34816
samples from the event's onset) labelled by the classifier: the share heard as the class it
plays, and how far its attack (first 2048 samples) is from the voice's: spectral centroid in
octaves (|log2 ratio|) and the third-octave band shape (63 Hz-8 kHz, each band's share of the
power in dB, RMS difference), medians: morph 1 is the class's own hit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# syllable (espeak-ng text, or phonemes in [[...]]) -> the drum class it imitates
SYLLABLES: Dict[str, str] = {
    "boom": "kick",
    "bum": "kick",
    "[[ts]]": "closed_hat",
    "[[tss]]": "closed_hat",
    "ka": "snare",
    "[[pf]]": "snare",
    "[[pS]]": "snare",   # "psh"
}
# sox burst name -> (the class it imitates, sox effects after `sox -n -r RATE`)
BURSTS: Dict[str, Tuple[str, List[str]]] = {
    "sox-kick": ("kick", ["synth", "0.30", "sine", "160-45", "fade", "l", "0.002", "0.30", "0.27",
                          "gain", "-3"]),
    "sox-hat": ("closed_hat", ["synth", "0.07", "whitenoise", "highpass", "7000",
                               "fade", "l", "0.001", "0.07", "0.065", "gain", "-3"]),
    "sox-snare": ("snare", ["synth", "0.18", "whitenoise", "bandpass", "1800", "1.2q",
                            "fade", "l", "0.001", "0.18", "0.17", "gain", "-3"]),
}
# The tuning set (--set tune): other syllables and phonemes, each in several voices (espeak-ng
# -v VOICE -p PITCH -s SPEED), other bursts, another seed. Never scored as the evaluation.
TUNE_SYLLABLES: Dict[str, str] = {
    "boo": "kick", "doom": "kick", "bom": "kick",
    "[[s]]": "closed_hat", "[[tsss]]": "closed_hat",
    "ke": "snare", "kah": "snare", "[[pSS]]": "snare",
}
TUNE_VOICES: Tuple[Tuple[str, int, int], ...] = (("en+m3", 30, 220), ("en+f2", 70, 175),
                                                   ("en-us", 50, 260))
TUNE_BURSTS: Dict[str, Tuple[str, List[str]]] = {
    "sox-kick2": ("kick", ["synth", "0.25", "sine", "130-50", "fade", "l", "0.003", "0.25", "0.22",
                           "gain", "-2"]),
    "sox-hat2": ("closed_hat", ["synth", "0.05", "whitenoise", "highpass", "6000",
                                "fade", "l", "0.001", "0.05", "0.045", "gain", "-4"]),
    "sox-snare2": ("snare", ["synth", "0.15", "whitenoise", "bandpass", "2400", "1.0q",
                             "fade", "l", "0.001", "0.15", "0.14", "gain", "-2"]),
}
TUNE_SEED = 777
# intended class -> the kit's sound that stands for it
SOUND_OF_CLASS: Dict[str, str] = {"kick": "boom", "closed_hat": "tss", "snare": "ka"}
CLASS_ALIASES: Dict[str, Tuple[str, ...]] = {"closed_hat": ("hat", "hihat", "hi_hat")}
ONSET_DB = -30.0
TOLERANCE_S = 0.050
TIMING_TARGET_MS = 15.0
GAP_S = (0.25, 0.6)
NOISE_DBFS = -60.0
SEED = 20261220


def sources_note(kinds: Sequence[str]) -> str:
    made = [t for k, t in (("espeak", "espeak-ng (syllables)"), ("sox", "sox (drum-like bursts)"))
            if k in kinds]
    return "synthesised with " + " and ".join(made) + ", not recorded from a person"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise FileNotFoundError(f"{name} is not installed (the beat-box clip is synthesised with it)")
    return path


def _read(path: Path) -> Tuple[np.ndarray, int]:
    from timbrel.data.audio import read_wav
    return read_wav(path)


def _at_rate(x: np.ndarray, rate: int, want: int) -> np.ndarray:
    if rate == want:
        return x.astype(np.float64)
    from math import gcd
    from scipy.signal import resample_poly
    g = gcd(rate, want)
    return resample_poly(x.astype(np.float64), want // g, rate // g)


def _source(name: str) -> Tuple[str, str, Optional[Tuple[str, int, int]], Optional[List[str]]]:
    """(kind, text or burst name, espeak voice or None, sox effects or None) of a source name;
    tuning sources are named TEXT@VOICE (e.g. boo@en+m3)."""
    if name in BURSTS:
        return "sox", name, None, BURSTS[name][1]
    if name in TUNE_BURSTS:
        return "sox", name, None, TUNE_BURSTS[name][1]
    if name in SYLLABLES:
        return "espeak", name, None, None
    text, _, voice = name.partition("@")
    for v in TUNE_VOICES:
        if v[0] == voice and text in TUNE_SYLLABLES:
            return "espeak", text, v, None
    raise ValueError(f"unknown source {name!r} (syllables: {', '.join(SYLLABLES)}; bursts: "
                     f"{', '.join(BURSTS)})")


def render_source(name: str, rate: int, work: Path) -> np.ndarray:
    """One source alone at `rate` (float64), trailing silence cut 20 ms after its -30 dB end."""
    wav = work / f"src-{''.join(ch if ch.isalnum() else '_' for ch in name)}-{rate}.wav"
    kind, text, voice, effects = _source(name)
    if kind == "sox":
        cmd = [_tool("sox"), "-R", "-n", "-r", str(rate), "-b", "16", "-c", "1", str(wav)] + effects
    elif voice is None:
        cmd = [_tool("espeak-ng"), "-v", "en", "-w", str(wav), name]
    else:
        cmd = [_tool("espeak-ng"), "-v", voice[0], "-p", str(voice[1]), "-s", str(voice[2]),
               "-w", str(wav), text]
    subprocess.run(cmd, check=True, capture_output=True)
    x, sr = _read(wav)
    x = _at_rate(x, sr, rate)
    peak = float(np.max(np.abs(x)))
    if not peak > 0:
        raise RuntimeError(f"{name}: the render is silent")
    above = np.flatnonzero(np.abs(x) > peak * 10 ** (ONSET_DB / 20))
    end = min(len(x), int(above[-1]) + int(0.02 * rate))
    return x[:end] / peak


def onset_index(x: np.ndarray) -> int:
    """The first sample whose magnitude exceeds -30 dB of the peak."""
    a = np.abs(x)
    return int(np.argmax(a > a.max() * 10 ** (ONSET_DB / 20)))


def intended_class(source: str) -> str:
    if source in SYLLABLES:
        return SYLLABLES[source]
    if source in BURSTS:
        return BURSTS[source][0]
    if source in TUNE_BURSTS:
        return TUNE_BURSTS[source][0]
    return TUNE_SYLLABLES[source.partition("@")[0]]


def is_burst(source: str) -> bool:
    return source in BURSTS or source in TUNE_BURSTS


def source_names(sources: Sequence[str], which: str = "eval") -> List[str]:
    if which == "tune":
        return ([f"{t}@{v[0]}" for t in TUNE_SYLLABLES for v in TUNE_VOICES] if "espeak" in sources
                else []) + ([s for s in TUNE_BURSTS] if "sox" in sources else [])
    return [s for s in SYLLABLES if "espeak" in sources] + [s for s in BURSTS if "sox" in sources]


def make_clip(count: int, rate: int, seed: int, sources: Sequence[str], work: Path,
              which: str = "eval") -> Dict:
    """The clip (float64), its true onsets (seconds) and what was placed."""
    names = source_names(sources, which)
    if not names:
        raise ValueError("no sources: choose from espeak, sox")
    renders = {n: render_source(n, rate, work) for n in names}
    rng = np.random.default_rng(seed)
    picks = [names[i] for i in rng.integers(0, len(names), count)]
    gains = 10 ** (rng.uniform(-6.0, 0.0, count) / 20)
    gaps = rng.uniform(*GAP_S, count)
    lead = int(0.3 * rate)
    onsets, t = [], float(lead)
    for g in gaps:
        onsets.append(int(round(t)))
        t += g * rate
    length = onsets[-1] + max(len(r) for r in renders.values()) + int(0.5 * rate)
    clip = rng.normal(0.0, 10 ** (NOISE_DBFS / 20), length)
    for name, gain, at in zip(picks, gains, onsets):
        r = renders[name]
        start = at - onset_index(r)
        clip[start:start + len(r)] += 0.7 * gain * r
    peak = float(np.max(np.abs(clip)))
    if peak > 0.99:
        clip *= 0.99 / peak
    return {"clip": clip, "rate": rate, "onsets_s": [o / rate for o in onsets], "sources": picks,
            "gains_db": [float(20 * np.log10(g)) for g in gains]}


def run_beatbox(binary: Path, model: Path, clip_wav: Path, work: Path, kit: Optional[str] = None,
                classifier: str = "sound") -> Tuple[List[Dict], List[str], Dict[str, str]]:
    """(events, model classes, the kit {sound: class}) from `timbrel grains beatbox`; no onsets ->
    no events."""
    events_path = work / "events.json"
    cmd = [str(binary), "grains", "beatbox", str(clip_wav), "--model", str(model),
           "-o", str(work / "beatbox-out.wav"), "--events", str(events_path),
           "--classifier", classifier]
    if kit:
        cmd += ["--kit", kit]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if "no onsets found" in proc.stderr:
            return [], [], {}
        raise RuntimeError(f"timbrel grains beatbox failed ({proc.returncode}): {proc.stderr.strip()}")
    doc = json.loads(events_path.read_text())
    return doc["events"], doc["classes"], doc.get("kit", {})


def match(truth: Sequence[float], found: Sequence[float], tolerance: float = TOLERANCE_S) -> List[Tuple[int, int]]:
    """One-to-one pairs (true index, found index) within tolerance, nearest pairs first."""
    pairs = sorted((abs(f - t), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)
                   if abs(f - t) <= tolerance)
    used_t, used_f, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            out.append((i, j))
    return sorted(out)


def resolve_class(intended: str, classes: Sequence[str]) -> Optional[str]:
    """The model's name for an intended class (itself or an alias), or None."""
    for name in (intended,) + CLASS_ALIASES.get(intended, ()):
        if name in classes:
            return name
    return None


def wanted_class(intended: str, classes: Sequence[str], kit: Optional[Dict[str, str]]) -> Optional[str]:
    """The class an onset meant as `intended` should play: the kit's class for its sound, or
    (no kit) the model's name for it."""
    if kit and SOUND_OF_CLASS.get(intended) in kit:
        return kit[SOUND_OF_CLASS[intended]]
    return resolve_class(intended, classes)


def score(truth: Sequence[float], sources: Sequence[str], events: Sequence[Dict],
          classes: Sequence[str], kit: Optional[Dict[str, str]] = None) -> Dict:
    found = [float(e["time_s"]) for e in events]
    pairs = match(truth, found)
    errors = np.array([found[j] - truth[i] for i, j in pairs]) * 1000.0
    absolute = np.abs(errors)
    timing = {"matched": len(pairs),
              "median_ms": float(np.median(absolute)) if len(pairs) else None,
              "p95_ms": float(np.percentile(absolute, 95)) if len(pairs) else None,
              "max_ms": float(absolute.max()) if len(pairs) else None,
              "mean_signed_ms": float(errors.mean()) if len(pairs) else None,
              "target_ms": TIMING_TARGET_MS}
    timing["passed"] = bool(len(pairs) and timing["p95_ms"] <= TIMING_TARGET_MS)
    detection = {"true": len(truth), "detected": len(found), "matched": len(pairs),
                 "recall": len(pairs) / len(truth) if truth else None,
                 "precision": len(pairs) / len(found) if found else None,
                 "tolerance_ms": TOLERANCE_S * 1000.0}
    per_class: Dict[str, Dict] = {}
    per_kind: Dict[str, List[int]] = {"espeak": [0, 0], "sox": [0, 0]}
    confusions: Dict[Tuple[str, str], int] = {}
    agree_total = 0
    for i, j in pairs:
        intended = intended_class(sources[i])
        want = wanted_class(intended, classes, kit)
        got = events[j]["class"]
        ok = got == want
        agree_total += ok
        c = per_class.setdefault(intended, {"sound": SOUND_OF_CLASS.get(intended), "model_class": want,
                                            "n": 0, "agree": 0, "predicted": {}})
        c["n"] += 1
        c["agree"] += ok
        c["predicted"][got] = c["predicted"].get(got, 0) + 1
        kind = per_kind["sox" if is_burst(sources[i]) else "espeak"]
        kind[0] += 1
        kind[1] += ok
        if not ok:
            confusions[(intended, got)] = confusions.get((intended, got), 0) + 1
    for c in per_class.values():
        c["share"] = c["agree"] / c["n"]
    per_source: Dict[str, Dict] = {}
    for name in dict.fromkeys(sources):
        per_source[name] = {"intended": intended_class(name), "placed": sources.count(name), "n": 0,
                            "agree": 0, "predicted": {}, "extra_onsets": 0}
    # An unmatched detection counts against the source sounding before it (espeak's "pf" is a
    # [p] burst and an [f] ~70 ms later; "ka" a [k] and its vowel): the precision's losses by source.
    matched_found = {j for _, j in pairs}
    for j, f in enumerate(found):
        before = [i for i, t in enumerate(truth) if t <= f]
        if j not in matched_found and before:
            per_source[sources[before[-1]]]["extra_onsets"] += 1
    for i, j in pairs:
        s = per_source[sources[i]]
        got = events[j]["class"]
        s["n"] += 1
        s["agree"] += got == wanted_class(s["intended"], classes, kit)
        s["predicted"][got] = s["predicted"].get(got, 0) + 1
    for s in per_source.values():
        s["share"] = s["agree"] / s["n"] if s["n"] else None
    return {
        "timing": timing, "detection": detection,
        "classes": {"overall": agree_total / len(pairs) if pairs else None,
                    "per_class": dict(sorted(per_class.items())),
                    "per_kind": {k: {"n": n, "share": a / n if n else None} for k, (n, a) in per_kind.items()},
                    "per_source": per_source,
                    "confusions": [{"intended": a, "predicted": b, "count": n,
                                    "share": n / per_class[a]["n"]}
                                   for (a, b), n in sorted(confusions.items(), key=lambda kv: -kv[1])],
                    "model_classes": list(classes), "kit": dict(kit or {})},
    }


def evaluate(model, binary=None, count: int = 60, seed: Optional[int] = None, rate: int = 48000,
             sources: Sequence[str] = ("espeak", "sox"), keep: Optional[str] = None,
             kit: Optional[str] = None, classifier: str = "sound", which: str = "eval") -> Dict:
    """The beat-box scores of `model` (a grains .tmbl) as a JSON-ready dict; `which` "tune"
    scores the tuning set instead (where the classifier's thresholds were chosen)."""
    if which not in ("eval", "tune"):
        raise ValueError(f"set must be eval or tune, got {which!r}")
    if classifier not in ("sound", "centroid"):
        raise ValueError(f"classifier must be sound or centroid, got {classifier!r}")
    if seed is None:
        seed = TUNE_SEED if which == "tune" else SEED
    if binary is None:
        from timbrel.eval.core import cli_path
        binary = cli_path()   # TIMBREL_CLI or build/core/timbrel
    model, binary = Path(model), Path(binary)
    if not model.is_file():
        raise FileNotFoundError(f"{model}: no such model file")
    if not binary.is_file():
        raise FileNotFoundError(f"{binary}: the native tool is not built (cmake --build build --target timbrel)")
    if count < 1 or count > 10000:
        raise ValueError(f"count must be within 1-10000, got {count}")
    from scipy.io import wavfile
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(keep) if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        made = make_clip(count, rate, seed, sources, work, which)
        clip_wav = work / "beatbox-in.wav"
        wavfile.write(str(clip_wav), rate, made["clip"].astype(np.float32))
        events, classes, used_kit = run_beatbox(binary, model, clip_wav, work, kit, classifier)
        (work / "truth.json").write_text(json.dumps(
            {"onsets_s": made["onsets_s"], "sources": made["sources"]}, indent=1) + "\n")
    result = score(made["onsets_s"], made["sources"], events, classes, used_kit)
    result.update({
        "set": which, "classifier": classifier,
        "tuning": ("the VocalSoundClassifier's thresholds were chosen on the tuning set "
                   f"(--set tune: seed {TUNE_SEED}, espeak-ng voices "
                   + ", ".join(f"{v} -p {p} -s {sp}" for v, p, sp in TUNE_VOICES)
                   + ", other syllables and phonemes, other sox bursts), not on these clips"
                   if which == "eval" else
                   "this is the tuning set: the thresholds were chosen on it; the scores are --set eval's"),
        "model": str(model), "binary": str(binary), "count": count, "seed": seed, "rate": rate,
        "clip_seconds": len(made["clip"]) / rate, "noise_dbfs": NOISE_DBFS, "gap_s": list(GAP_S),
        "onset_definition": f"first sample above {ONSET_DB:g} dB of the isolated render's peak",
        "sources": {"note": sources_note(sources), "kinds": list(sources),
                    "syllables": (SYLLABLES if which == "eval" else TUNE_SYLLABLES)
                    if "espeak" in sources else {},
                    "voices": (["en"] if which == "eval" else
                               [f"{v} -p {p} -s {sp}" for v, p, sp in TUNE_VOICES])
                    if "espeak" in sources else [],
                    "bursts": {k: {"class": v[0], "sox": " ".join(v[1])}
                               for k, v in (BURSTS if which == "eval" else TUNE_BURSTS).items()}
                    if "sox" in sources else {},
                    "espeak_ng": _version(["espeak-ng", "--version"]) if "espeak" in sources else None,
                    "sox": _version(["sox", "--version"]) if "sox" in sources else None},
    })
    return result


def _version(cmd: List[str]) -> Optional[str]:
    try:
        line = subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        return " ".join(line.split("Data at:")[0].split())
    except (OSError, IndexError):
        return None


def _f(v, fmt: str = "{:.3f}") -> str:
    return "-" if v is None else fmt.format(v)


def summary(r: Dict) -> str:
    t, d, c = r["timing"], r["detection"], r["classes"]
    kit = c.get("kit") or {}
    lines = [f"beat-box: {Path(r['model']).name}, {r['count']} onsets at {r['rate']} Hz "
             f"(seed {r['seed']}, {r.get('set', 'eval')} set; {r['sources']['note']})",
             f"kit: " + ", ".join(f"{k} -> {v}" for k, v in kit.items())
             + f"; classifier {r.get('classifier', 'sound')}",
             f"timing: median {_f(t['median_ms'], '{:.1f}')} ms, p95 {_f(t['p95_ms'], '{:.1f}')} ms, "
             f"mean signed {_f(t['mean_signed_ms'], '{:+.1f}')} ms (target p95 <= {t['target_ms']:g} ms: "
             f"{'met' if t['passed'] else 'NOT met'})",
             f"detection within {d['tolerance_ms']:g} ms: recall {_f(d['recall'])}, precision "
             f"{_f(d['precision'])} ({d['matched']} of {d['true']} true, {d['detected']} detected)",
             f"class agreement: overall {_f(c['overall'])}; "
             + ", ".join(f"{k} {_f(v['share'])} ({v['n']})" for k, v in c["per_class"].items())
             + "; " + ", ".join(f"{k} {_f(v['share'])}" for k, v in c["per_kind"].items() if v["n"])]
    extra = {k: v["extra_onsets"] for k, v in c["per_source"].items() if v["extra_onsets"]}
    if extra:
        lines.append("extra onsets (unmatched detections, by the source sounding before them): "
                     + ", ".join(f"{k} {n}" for k, n in extra.items()))
    if c["confusions"]:
        lines.append("confusions: " + ", ".join(f"{x['intended']} -> {x['predicted']} {x['count']}"
                                                for x in c["confusions"][:8]))
    return "\n".join(lines)


def spectral_centroid(x: np.ndarray, rate: int = 22050) -> float:
    """Of the first 2048 samples, Hann windowed (Hz; 0 for silence)."""
    frame = np.zeros(2048)
    frame[:min(2048, len(x))] = x[:2048]
    power = np.abs(np.fft.rfft(frame * np.hanning(2048))) ** 2
    freqs = np.fft.rfftfreq(2048, 1.0 / rate)
    total = float(power.sum())
    return float((freqs * power).sum() / total) if total > 0 else 0.0


def band_shape_db(x: np.ndarray, rate: int = 22050) -> np.ndarray:
    """The first 2048 samples' (Hann) power in third-octave bands 63 Hz-8 kHz, as dB relative
    to their total: the attack's spectral shape, whatever its level."""
    frame = np.zeros(2048)
    frame[:min(2048, len(x))] = x[:2048]
    power = np.abs(np.fft.rfft(frame * np.hanning(2048))) ** 2
    freqs = np.fft.rfftfreq(2048, 1.0 / rate)
    centres = 1000.0 * 2.0 ** (np.arange(-12, 10) / 3.0)   # 63 Hz ... 8 kHz
    bands = np.array([power[(freqs >= c * 2 ** -(1 / 6)) & (freqs < c * 2 ** (1 / 6))].sum()
                      for c in centres])
    return 10.0 * np.log10(bands / max(float(bands.sum()), 1e-30) + 1e-9)


def shape_distance_db(a: np.ndarray, b: np.ndarray, rate: int = 22050) -> float:
    """RMS over the bands of the two attacks' band_shape_db difference."""
    return float(np.sqrt(np.mean((band_shape_db(a, rate) - band_shape_db(b, rate)) ** 2)))


def evaluate_morph(model, data_root, runs, morphs: Sequence[float] = (1.0, 0.5, 0.0), binary=None,
                   sources: Sequence[str] = ("espeak", "sox"), kit: Optional[str] = None) -> Dict:
    """The beat-box morph's effect (module doc): per morph, the hits' class agreement by the
    reference drum classifier and their attacks' centroid distance to the voice's."""
    from scipy.io import wavfile
    from timbrel.data.audio import read_wav
    from timbrel.data.corpus import shown
    from timbrel.eval import drum_classifier as dc
    if binary is None:
        from timbrel.eval.core import cli_path
        binary = cli_path()
    model, binary = Path(model), Path(binary)
    if not model.is_file():
        raise FileNotFoundError(f"{model}: no such model file")
    if not binary.is_file():
        raise FileNotFoundError(f"{binary}: the native tool is not built")
    for m in morphs:
        if not 0.0 <= m <= 1.0:
            raise ValueError(f"morphs must be within 0-1, got {m}")
    clf = dc.load_or_train(data_root, runs)
    rate, length = 22050, dc.SAMPLES
    # Both sets: the morph was not tuned on either (the tuning set only chose the sound
    # classifier's thresholds, which the morph does not change).
    names = source_names(sources, "eval") + source_names(sources, "tune")
    rows: Dict[str, List[Dict]] = {f"{m:g}": [] for m in morphs}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in names:
            x = render_source(name, rate, work)
            at = onset_index(x)
            voice = x[at:at + 2048].copy()
            fade = int(0.005 * rate)
            voice[-fade:] *= np.linspace(1.0, 0.0, fade)
            lead = int(0.3 * rate)
            clip = np.zeros(lead + len(voice) + 2 * rate)
            clip[lead:lead + len(voice)] = 0.7 * voice
            clip_wav = work / "morph-in.wav"
            wavfile.write(str(clip_wav), rate, clip.astype(np.float32))
            voice_centroid = spectral_centroid(voice, rate)
            for m in morphs:
                out_wav, events_path = work / "morph-out.wav", work / "morph-events.json"
                cmd = [str(binary), "grains", "beatbox", str(clip_wav), "--model", str(model),
                       "-o", str(out_wav), "--events", str(events_path), "--morph", f"{m:g}"]
                if kit:
                    cmd += ["--kit", kit]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise RuntimeError(f"timbrel grains beatbox --morph {m:g} on {name}: "
                                       f"{proc.stderr.strip()}")
                events = json.loads(events_path.read_text())["events"]
                y, sr = read_wav(out_wav)
                start = int(round(events[0]["time_s"] * sr))
                hit = np.zeros(length, np.float32)
                part = y[start:start + length]
                hit[:len(part)] = part
                label = clf.classes[int(clf.predict(hit[None])[0])]
                hit_centroid = spectral_centroid(hit, sr)
                rows[f"{m:g}"].append({
                    "source": name, "class": events[0]["class"], "heard_as": label,
                    "agrees": label == events[0]["class"],
                    "peak_dbfs": float(20 * np.log10(max(float(np.max(np.abs(hit))), 1e-12))),
                    "voice_centroid_hz": voice_centroid, "hit_centroid_hz": hit_centroid,
                    "octaves_from_voice": abs(float(np.log2(max(hit_centroid, 1.0)
                                                            / max(voice_centroid, 1.0)))),
                    "shape_db_from_voice": shape_distance_db(hit, voice, rate)})
    result = {"model": str(model), "binary": str(binary), "sources": names,
              "classifier": shown(Path(runs) / dc.FOLDER),
              "morphs": {}}
    for m, r in rows.items():
        result["morphs"][m] = {
            "n": len(r), "agreement": float(np.mean([x["agrees"] for x in r])) if r else None,
            "octaves_from_voice_median": float(np.median([x["octaves_from_voice"] for x in r]))
            if r else None,
            "peak_dbfs_median": float(np.median([x["peak_dbfs"] for x in r])) if r else None,
            "shape_db_from_voice_median": float(np.median([x["shape_db_from_voice"] for x in r]))
            if r else None,
            "hits": r}
    return result


def morph_summary(r: Dict) -> str:
    lines = ["morph  agreement  from the voice: centroid octaves, band shape dB (medians)  peak dBFS"]
    for m, v in r["morphs"].items():
        lines.append(f"{m:>5}  {_f(v['agreement'])}      {_f(v['octaves_from_voice_median'], '{:.2f}')}"
                     f"   {_f(v['shape_db_from_voice_median'], '{:.1f}')}"
                     f"                                           {_f(v['peak_dbfs_median'], '{:.1f}')}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a grains .tmbl")
    p.add_argument("--binary", help="the native tool (default: TIMBREL_CLI or build/core/timbrel)")
    p.add_argument("--count", type=int, default=60)
    p.add_argument("--seed", type=int, help=f"default {SEED} (eval), {TUNE_SEED} (tune)")
    p.add_argument("--rate", type=int, default=48000, choices=(22050, 48000))
    p.add_argument("--sources", nargs="+", default=["espeak", "sox"], choices=("espeak", "sox"))
    p.add_argument("--kit", help="the classes of boom, tss, ka (default kick,closed_hat,snare or "
                   "the model's nearest names)")
    p.add_argument("--classifier", default="sound", choices=("sound", "centroid"))
    p.add_argument("--set", dest="which", default="eval", choices=("eval", "tune"),
                   help="tune: the tuning set the classifier's thresholds were chosen on")
    p.add_argument("--out", help="JSON file")
    p.add_argument("--keep", help="keep the clip, the output and the events in this folder")
    p.add_argument("--morph", type=float, nargs="+",
                   help="instead: the beat-box morph's effect at these morphs (needs --data, --runs)")
    p.add_argument("--data", help="data root of the drum corpus (the reference classifier)")
    p.add_argument("--runs", help="runs folder holding drum-classifier/")
    args = p.parse_args(argv)
    try:
        if args.morph:
            if not (args.data and args.runs):
                raise ValueError("--morph needs --data and --runs (the reference drum classifier)")
            result = evaluate_morph(args.model, args.data, args.runs, args.morph, args.binary,
                                    args.sources, args.kit)
        else:
            result = evaluate(args.model, args.binary, args.count, args.seed, args.rate,
                              args.sources, args.keep, args.kit, args.classifier, args.which)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(morph_summary(result) if args.morph else summary(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
