"""Rendering with fluidsynth, timidity or the sampler (instruments) and espeak-ng + sox (voice-like inputs).

fluidsynth settings (one place): `fluidsynth -ni -g 0.8 -r 22050 -R 0 -C 0
-O float -F OUT.wav FONT.sf2 IN.mid`, i.e. DESIGN.md §4's command with reverb
and chorus off (dry, labelled material: no tail leaks from one cut into the
next) and float output, mixed down to mono as (L + R) / 2 and then stored as
int16. Rendering the same MIDI file twice gives byte-identical output (checked
by the tests), which is what makes the corpus deterministic.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, read_wav, trim_silence, write_wav

DEFAULT_FONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
FLUIDSYNTH_GAIN = 0.8
FADE_OUT_S = 0.05


def require(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise RuntimeError(f"'{tool}' is not installed (scripts/setup.sh installs it with apt-get)")
    return path


@functools.lru_cache(maxsize=None)
def tool_version(tool: str) -> str:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=20)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else "unknown"
    except Exception:  # pragma: no cover
        return "unknown"


def render_midi(midi_path, font: str = DEFAULT_FONT, gain: float = FLUIDSYNTH_GAIN,
                sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Renders a MIDI file; returns mono float32 at sample_rate.

    `font` is a SoundFont path (fluidsynth) or the name of a source in
    timbrel.data.sources.SOURCES ("fluidr3", "timgm6mb", "csound_gm", "freepats",
    "salamander"), rendered by that source's tool."""
    from .sources import SOURCES
    if font in SOURCES:
        src = SOURCES[font]
        where = src.locate()
        if where is None:
            raise RuntimeError(f"source '{font}' is not installed ({src.package})")
        if src.kind == "gus":
            return render_timidity(midi_path, where, sample_rate)
        if src.kind == "samples":
            from .sampler import render as render_samples
            return render_samples(midi_path, where, sample_rate)
        font = str(where)
    require("fluidsynth")
    if not Path(font).exists():
        raise RuntimeError(f"soundfont {font} is missing (Debian package fluid-soundfont-gm)")
    with tempfile.TemporaryDirectory(prefix="timbrel-fs-") as tmp:
        out = Path(tmp) / "out.wav"
        cmd = ["fluidsynth", "-ni", "-g", str(gain), "-r", str(sample_rate), "-R", "0", "-C", "0",
               "-O", "float", "-F", str(out), str(font), str(midi_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        x, sr = read_wav(out, mono=True)
    if sr != sample_rate:  # pragma: no cover
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, expected {sample_rate}")
    return x


# timidity settings (one place): mono 16-bit at the corpus rate, reverb, chorus and
# noise shaping off (dry, deterministic), anti-aliasing of the patches on (they are
# sampled at ~31-44 kHz and played at 22050 Hz). -idv makes timidity name every
# instrument it loads, which is how a fallback is caught (below).
# --preserve-silence: timidity drops the leading silence by default, which put every
# render ~0.1-0.23 s early against its MIDI (the phrases are cut from the MIDI's times).
TIMIDITY_ARGS = ("-idv", "-Ow", "--preserve-silence", "--output-mono", "--output-16bit",
                 "--reverb=d", "--chorus=d", "--noise-shaping=0", "--anti-alias")


def render_timidity(midi_path, cfg, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Renders with timidity and the GUS patches of `cfg` only.

    Debian's timidity always reads /etc/timidity/timidity.cfg too, which maps every
    program to FluidR3_GM.sf2: a program the patch set lacks would silently sound
    as FluidR3. The corpora never ask for such a program (sources.py checks coverage
    first); if one slips through, timidity logs "Loading SF ..." and this fails."""
    require("timidity")
    with tempfile.TemporaryDirectory(prefix="timbrel-tm-") as tmp:
        out = Path(tmp) / "out.wav"
        cmd = ["timidity", "-c", str(cfg), *TIMIDITY_ARGS, "-s", str(sample_rate), "-o", str(out),
               str(midi_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        log = proc.stdout + proc.stderr
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"timidity failed ({proc.returncode}): {log.strip()[-500:]}")
        if "Loading SF" in log or "Init soundfonts" in log:
            lines = [l for l in log.splitlines() if "SF" in l or "soundfont" in l]
            raise RuntimeError(f"timidity fell back to a SoundFont for a program {cfg} lacks: "
                               + "; ".join(lines[:4]))
        x, sr = read_wav(out, mono=True)
    if sr != sample_rate:  # pragma: no cover
        raise RuntimeError(f"timidity wrote {sr} Hz, expected {sample_rate}")
    return x


def cut(x: np.ndarray, start_s: float, end_s: float, sample_rate: int = SAMPLE_RATE,
        fade_s: float = FADE_OUT_S) -> np.ndarray:
    """x[start:end] (zero-padded past the end) with a raised-cosine fade-out of fade_s."""
    a = int(round(start_s * sample_rate))
    b = int(round(end_s * sample_rate))
    seg = np.zeros(b - a, dtype=np.float32)
    avail = x[a:min(b, len(x))]
    seg[:len(avail)] = avail
    n = min(len(seg), int(round(fade_s * sample_rate)))
    if n > 0:
        seg[-n:] *= (0.5 + 0.5 * np.cos(np.pi * np.arange(1, n + 1) / n)).astype(np.float32)
    return seg


# --- voice-like inputs -------------------------------------------------------------

def espeak(text: str, voice: str, pitch: str = "medium", pitch_range: str = "0",
           rate: str = "x-slow") -> np.ndarray:
    """espeak-ng speech of `text` (SSML prosody; [[...]] is phoneme input), float32 22050 Hz."""
    require("espeak-ng")
    ssml = (f'<speak><prosody pitch="{pitch}" range="{pitch_range}" rate="{rate}">'
            f"{text}</prosody></speak>")
    with tempfile.TemporaryDirectory(prefix="timbrel-es-") as tmp:
        out = Path(tmp) / "v.wav"
        proc = subprocess.run(["espeak-ng", "-m", "-v", voice, "-w", str(out), ssml],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"espeak-ng failed: {proc.stderr.strip()[-300:]}")
        x, sr = read_wav(out)
    if sr != SAMPLE_RATE:
        x = sox_process(x, sr, ["rate", "-v", str(SAMPLE_RATE)], out_rate=SAMPLE_RATE)
    return x


def sox_process(x: np.ndarray, sample_rate: int, effects: list[str],
                out_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Runs a sox effects chain on float audio (no dither: deterministic)."""
    require("sox")
    with tempfile.TemporaryDirectory(prefix="timbrel-sox-") as tmp:
        src = Path(tmp) / "in.wav"
        dst = Path(tmp) / "out.wav"
        from scipy.io import wavfile
        wavfile.write(str(src), int(sample_rate), np.asarray(x, dtype=np.float32))
        cmd = ["sox", "-D", "-R", str(src), "-b", "32", "-e", "floating-point", "-r", str(out_rate),
               str(dst)] + list(effects)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"sox failed: {' '.join(cmd)}: {proc.stderr.strip()[-300:]}")
        y, _ = read_wav(dst)
    return y


def voice_item(text: str, voice: str, pitch: str, pitch_range: str, duration_s: float,
               bends: list[tuple[float, float, float]], peak: float = 0.5) -> np.ndarray:
    """espeak-ng text -> trimmed -> time-stretched (sox tempo, pitch kept) to
    about duration_s -> pitch bends (sox bend: (start_s, cents, length_s),
    start relative to the previous bend's end) -> peak-normalised."""
    x = espeak(text, voice, pitch=pitch, pitch_range=pitch_range)
    x = trim_silence(x, threshold_db=-50.0, frame=256, pad=256)
    if len(x) == 0:
        raise RuntimeError(f"espeak-ng produced silence for {text!r}")
    factor = (len(x) / SAMPLE_RATE) / duration_s
    effects = ["tempo", "-s", f"{factor:.4f}"] if abs(factor - 1.0) > 0.02 else []
    if bends:
        effects += ["bend"] + [f"{s:.3f},{c:.1f},{l:.3f}" for s, c, l in bends]
    if effects:
        x = sox_process(x, SAMPLE_RATE, effects)
    m = float(np.max(np.abs(x))) if len(x) else 0.0
    if m > 0:
        x = x * (peak / m)
    n = min(len(x), int(0.03 * SAMPLE_RATE))
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x.astype(np.float32)


def write_and_hash(path, x: np.ndarray) -> str:
    from .audio import sha256_file
    write_wav(path, x)
    return sha256_file(path)


def workers_default() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def render_midi_files(paths, font: str = DEFAULT_FONT, lead_s: float = 0.1,
                      gap_s: float = 0.5) -> list[np.ndarray]:
    """Renders several MIDI files in one fluidsynth run (the font is loaded once).

    Each file's events are laid end to end (all sound off and a reset of the
    controllers between them); file i's audio is cut from lead_s after its own
    start to its own end (mido's length), which is how the performance corpus
    cuts a phrase from its own .mid (phrase notes start at 0.1 s).
    """
    import mido
    from .midi import Timeline
    tl = Timeline()
    spans = []
    t0 = 0.0
    for path in paths:
        mid = mido.MidiFile(str(path))
        now = 0.0
        for msg in mid:                      # iteration yields delta seconds
            now += msg.time
            if msg.is_meta:
                continue
            t = t0 + now
            if msg.type == "note_on" and msg.velocity > 0:
                tl._add(t, 3, "note_on", msg.note, msg.velocity)
            elif msg.type in ("note_off", "note_on"):
                tl._add(t, 0, "note_off", msg.note)
            elif msg.type == "control_change":
                tl.cc(t, msg.control, msg.value, 1 if msg.control in (121, 101, 100, 6, 38) else 2)
            elif msg.type == "pitchwheel":
                tl.bend(t, msg.pitch)
            elif msg.type == "program_change":
                tl.program(t, msg.program)
        end = t0 + mid.length
        spans.append((t0 + lead_s, end))
        tl.all_sound_off(end)
        t0 = end + gap_s
    with tempfile.TemporaryDirectory(prefix="timbrel-many-") as tmp:
        mid_path = Path(tmp) / "many.mid"
        tl.save(mid_path, end_s=t0 + 0.5)
        x = render_midi(mid_path, font)
    return [cut(x, a, b) for a, b in spans]
