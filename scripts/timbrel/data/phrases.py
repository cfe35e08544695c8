"""Seeded generator of monophonic performance phrases.

A phrase is one of five kinds, drawn with fixed weights:
  scale       major / natural minor / harmonic minor / pentatonic / chromatic,
              up, down, up-down or down-up, in even note values
  arpeggio    triads and sevenths over a short progression (I-IV-V-I style),
              spanning one to three octaves, even or triplet values
  walk        a random melodic walk on a scale (mostly steps, some leaps,
              reflected at the range limits), mixed note values
  long_tones  three to six sustained notes (1.5-4 s) with swells
  repeated    detached repeated-note figures on a few pitches
and has a tempo (60-150 BPM), a base dynamic (pp/mf/ff -> velocity, with
jitter and accents), an articulation (legato: next note starts 30 ms before
the previous ends; normal: 85 % of the inter-onset interval; detached: 50 %;
staccato: 30 %; or mixed per note), rests (a per-phrase probability), a CC11
expression shape (flat, crescendo, decrescendo, swell, dip, or a swell per
note) and, with the instrument's probability, vibrato: a pitch-bend sine of
4.5-6.5 Hz and 10-45 cents that fades in 0.1-0.35 s after each note onset
(bend range 2 semitones via RPN 0, set in midi.Timeline.reset).

Everything is drawn from the numpy Generator passed in, in a fixed order, so
a phrase is a pure function of (seed stream, instrument, options).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .instruments import DYNAMICS, Instrument
from .midi import Timeline, cents_to_bend

KINDS = ("scale", "arpeggio", "walk", "long_tones", "repeated")
KIND_WEIGHTS = (0.25, 0.2, 0.3, 0.13, 0.12)
ARTICULATIONS = ("legato", "normal", "detached", "staccato", "mixed")
ARTICULATION_WEIGHTS = (0.3, 0.25, 0.2, 0.1, 0.15)
GATE = {"normal": 0.85, "detached": 0.5, "staccato": 0.3}
LEGATO_OVERLAP_S = 0.03
MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "natural_minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "pentatonic": (0, 2, 4, 7, 9),
    "chromatic": tuple(range(12)),
}
CHORDS = {"major": (0, 4, 7), "minor": (0, 3, 7), "dom7": (0, 4, 7, 10),
          "min7": (0, 3, 7, 10), "dim7": (0, 3, 6, 9)}
EXPRESSIONS = ("flat", "crescendo", "decrescendo", "swell", "dip", "note_swells")
CONTROL_STEP_S = 0.04    # CC11 curve resolution
BEND_STEP_S = 0.02       # vibrato pitch-bend resolution


@dataclass
class Note:
    onset: float
    duration: float
    pitch: int
    velocity: int


@dataclass
class Phrase:
    kind: str
    tempo: float
    dynamic: str
    articulation: str
    expression: str
    vibrato_rate: float           # Hz, 0 = no vibrato
    vibrato_cents: float
    program: int
    expr_low: float = 64.0        # CC11 range of the expression shape
    expr_high: float = 127.0
    notes: list[Note] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return max((n.onset + n.duration for n in self.notes), default=0.0)

    def params(self) -> dict:
        return dict(kind=self.kind, tempo=round(self.tempo, 2), dynamic=self.dynamic,
                    articulation=self.articulation, expression=self.expression,
                    vibrato_rate=round(self.vibrato_rate, 3),
                    vibrato_cents=round(self.vibrato_cents, 2), program=self.program,
                    cc11_low=round(self.expr_low), cc11_high=round(self.expr_high),
                    notes=len(self.notes), low=min(n.pitch for n in self.notes),
                    high=max(n.pitch for n in self.notes), duration_s=round(self.duration, 3))


def _scale_pitches(root: int, mode: str, low: int, high: int) -> list[int]:
    steps = MODES[mode]
    return [p for p in range(low, high + 1) if (p - root) % 12 in steps]


def _bounce(index: int, n: int) -> int:
    """Reflects an index into [0, n-1]."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = index % period
    return i if i < n else period - i


def _pitches_scale(rng, inst: Instrument):
    mode = str(rng.choice(list(MODES)))
    root = int(rng.integers(0, 12))
    pool = _scale_pitches(root, mode, inst.low, inst.high)
    count = int(rng.integers(8, 22))
    direction = str(rng.choice(["up", "down", "updown", "downup"]))
    span = min(len(pool), int(rng.integers(6, 16)))
    start = int(rng.integers(0, max(1, len(pool) - span + 1)))
    seg = pool[start:start + span]
    if direction == "down":
        seg = seg[::-1]
    elif direction == "updown":
        seg = seg + seg[-2::-1]
    elif direction == "downup":
        seg = seg[::-1] + seg[1:]
    seq = [seg[i % len(seg)] for i in range(count)]
    value = float(rng.choice([0.25, 0.5, 0.5, 1.0]))
    return seq, [value] * len(seq)


def _pitches_arpeggio(rng, inst: Instrument):
    key = int(rng.integers(0, 12))
    degrees = [(0, "major"), (5, "major"), (7, "dom7"), (9, "minor"), (2, "min7"), (11, "dim7")]
    n_chords = int(rng.integers(2, 5))
    seq = []
    value = float(rng.choice([0.25, 1 / 3, 0.5, 0.5]))
    for c in range(n_chords):
        offset, quality = degrees[0] if c == 0 else degrees[int(rng.integers(0, len(degrees)))]
        root = (key + offset) % 12
        tones = [p for p in range(inst.low, inst.high + 1) if (p - root) % 12 in CHORDS[quality]]
        octaves = int(rng.integers(1, 4))
        span = min(len(tones), octaves * len(CHORDS[quality]) + 1)
        start = int(rng.integers(0, max(1, len(tones) - span + 1)))
        seg = tones[start:start + span]
        pattern = str(rng.choice(["up", "down", "updown"]))
        if pattern == "down":
            seg = seg[::-1]
        elif pattern == "updown":
            seg = seg + seg[-2:0:-1]
        seq.extend(seg)
    return seq, [value] * len(seq)


def _pitches_walk(rng, inst: Instrument):
    mode = str(rng.choice(["major", "natural_minor", "harmonic_minor", "pentatonic"]))
    pool = _scale_pitches(int(rng.integers(0, 12)), mode, inst.low, inst.high)
    count = int(rng.integers(10, 26))
    index = int(rng.integers(0, len(pool)))
    steps = np.array([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5])
    probs = np.array([0.03, 0.04, 0.06, 0.12, 0.25, 0.25, 0.12, 0.06, 0.04, 0.03])
    seq, values = [], []
    for _ in range(count):
        seq.append(pool[_bounce(index, len(pool))])
        index = _bounce(index, len(pool)) + int(rng.choice(steps, p=probs))
        values.append(float(rng.choice([0.25, 0.5, 0.5, 0.75, 1.0, 1.0, 1.5, 2.0])))
    return seq, values


def _pitches_long(rng, inst: Instrument, tempo: float):
    count = int(rng.integers(3, 7))
    centre = int(rng.integers(inst.low + 2, inst.high - 1))
    seq = [int(np.clip(centre + rng.integers(-7, 8), inst.low, inst.high)) for _ in range(count)]
    beat = 60.0 / tempo
    values = [float(rng.uniform(1.5, 4.0)) / beat for _ in range(count)]
    return seq, values


def _pitches_repeated(rng, inst: Instrument):
    seq = []
    value = float(rng.choice([0.25, 0.5]))
    for _ in range(int(rng.integers(2, 5))):
        p = int(rng.integers(inst.low, inst.high + 1))
        seq.extend([p] * int(rng.integers(3, 7)))
    return seq, [value] * len(seq)


def generate_phrase(rng: np.random.Generator, inst: Instrument, max_duration: float = 25.0,
                    kind: str | None = None) -> Phrase:
    """One phrase of at most max_duration seconds (notes past it are dropped)."""
    kind = kind or str(rng.choice(KINDS, p=KIND_WEIGHTS))
    tempo = float(rng.uniform(60.0, 150.0))
    dynamic = str(rng.choice(list(DYNAMICS)))
    articulation = str(rng.choice(ARTICULATIONS, p=ARTICULATION_WEIGHTS))
    expression = str(rng.choice(EXPRESSIONS))
    if kind == "long_tones":
        articulation = str(rng.choice(["legato", "normal"]))
        expression = "note_swells"
    vibrato = rng.uniform() < inst.vibrato
    vib_rate = float(rng.uniform(4.5, 6.5)) if vibrato else 0.0
    vib_cents = float(rng.uniform(10.0, 45.0)) if vibrato else 0.0
    rest_prob = float(rng.choice([0.0, 0.05, 0.1, 0.2]))
    program = int(inst.programs[int(rng.integers(0, len(inst.programs)))])

    if kind == "scale":
        pitches, values = _pitches_scale(rng, inst)
    elif kind == "arpeggio":
        pitches, values = _pitches_arpeggio(rng, inst)
    elif kind == "walk":
        pitches, values = _pitches_walk(rng, inst)
    elif kind == "long_tones":
        pitches, values = _pitches_long(rng, inst, tempo)
    else:
        pitches, values = _pitches_repeated(rng, inst)

    beat = 60.0 / tempo
    base_velocity = DYNAMICS[dynamic]
    phrase = Phrase(kind, tempo, dynamic, articulation, expression, vib_rate, vib_cents, program)
    t = 0.0
    slots = []   # (onset, ioi, pitch, velocity, rest_after)
    for i, (p, v) in enumerate(zip(pitches, values)):
        ioi = v * beat
        if t + min(ioi, 0.3) > max_duration:
            break
        accent = 8 if (i % 4 == 0) else 0
        vel = int(np.clip(base_velocity + accent + rng.integers(-6, 7), 1, 127))
        rest = float(rng.choice([0.5, 1.0, 2.0])) * beat if rng.uniform() < rest_prob else 0.0
        slots.append((t, ioi, int(p), vel, rest))
        t += ioi + rest
    for i, (onset, ioi, p, vel, rest) in enumerate(slots):
        art = articulation
        if art == "mixed":
            art = str(rng.choice(["legato", "normal", "detached", "staccato"]))
        nxt = slots[i + 1] if i + 1 < len(slots) else None
        if art == "legato":
            if nxt is not None and rest == 0.0 and nxt[2] != p:
                dur = ioi + LEGATO_OVERLAP_S
            else:
                dur = 0.95 * ioi
        else:
            dur = GATE[art] * ioi
        dur = max(dur, 0.08)
        if onset + dur > max_duration:
            dur = max(0.08, max_duration - onset)
        phrase.notes.append(Note(round(onset, 4), round(dur, 4), p, vel))
    # CC11 expression parameters, drawn here so the draw order is fixed
    phrase.expr_low = float(rng.uniform(60, 90))
    phrase.expr_high = float(rng.uniform(105, 127))
    return phrase


def expression_curve(phrase: Phrase):
    """[(time_s, CC11 value)] sampled every CONTROL_STEP_S over the phrase."""
    low, high = phrase.expr_low, phrase.expr_high
    dur = phrase.duration
    ts = np.arange(0.0, dur + CONTROL_STEP_S, CONTROL_STEP_S)
    x = ts / max(dur, 1e-6)
    shape = phrase.expression
    if shape == "flat":
        v = np.full_like(ts, high)
    elif shape == "crescendo":
        v = low + (high - low) * x
    elif shape == "decrescendo":
        v = high - (high - low) * x
    elif shape == "swell":
        v = low + (high - low) * np.sin(np.pi * x)
    elif shape == "dip":
        v = high - (high - low) * np.sin(np.pi * x)
    else:  # note_swells: each note rises and falls
        v = np.full_like(ts, low)
        for n in phrase.notes:
            inside = (ts >= n.onset) & (ts <= n.onset + n.duration)
            u = (ts[inside] - n.onset) / max(n.duration, 1e-6)
            v[inside] = low + (high - low) * np.sin(np.pi * u)
    return list(zip(ts.tolist(), np.round(v).astype(int).tolist()))


def vibrato_bends(phrase: Phrase):
    """[(time_s, bend value)]: per note a delayed, faded-in sine; 0 at each onset."""
    out = []
    if phrase.vibrato_rate <= 0:
        return out
    for n in phrase.notes:
        out.append((n.onset, 0))
        if n.duration < 0.3:
            continue
        delay = 0.1 + 0.25 * ((n.pitch * 7919) % 100) / 100.0   # deterministic per note
        ts = np.arange(n.onset + delay, n.onset + n.duration, BEND_STEP_S)
        if ts.size == 0:
            continue
        fade = np.clip((ts - n.onset - delay) / 0.2, 0.0, 1.0)
        cents = phrase.vibrato_cents * fade * np.sin(2 * np.pi * phrase.vibrato_rate * (ts - n.onset - delay))
        out.extend((float(t), cents_to_bend(c)) for t, c in zip(ts, cents))
    return out


def schedule(timeline: Timeline, phrase: Phrase, start_s: float) -> None:
    """Adds a phrase's reset, notes, CC11 curve and vibrato to a timeline at start_s."""
    curve = expression_curve(phrase)
    timeline.reset(start_s - 0.1, phrase.program, expression=curve[0][1] if curve else 127)
    last = None
    for t, v in curve:
        if v != last:
            timeline.cc(start_s + t, 11, v)
            last = v
    for t, b in vibrato_bends(phrase):
        timeline.bend(start_s + t, b)
    for n in phrase.notes:
        timeline.note(start_s + n.onset, n.duration, n.pitch, n.velocity)
