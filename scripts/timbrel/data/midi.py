"""Timed MIDI event lists written as Standard MIDI Files with mido.

Everything is scheduled in seconds on one channel (0). The file uses a fixed
tempo of 120 BPM at 960 ticks per beat (one tick = 0.52 ms), so converting
seconds to ticks is a rounding, identical on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TICKS_PER_BEAT = 960
TEMPO_US = 500_000                     # 120 BPM
SECONDS_PER_TICK = TEMPO_US / 1e6 / TICKS_PER_BEAT
PITCH_BEND_RANGE_SEMITONES = 2         # set through RPN 0 at every reset
CHANNEL = 0

# Order of simultaneous events: note-offs first, then controllers, then note-ons.
PRIO_OFF, PRIO_RESET, PRIO_CTRL, PRIO_ON = 0, 1, 2, 3


@dataclass
class Timeline:
    """(time_s, priority, kind, args) events; kind in note_on/note_off/cc/program/bend."""
    events: list = field(default_factory=list)
    end_s: float = 0.0

    def _add(self, t, prio, kind, *args):
        self.events.append((float(t), prio, len(self.events), kind, args))
        self.end_s = max(self.end_s, float(t))

    def note(self, onset_s, duration_s, pitch, velocity):
        self._add(onset_s, PRIO_ON, "note_on", int(pitch), int(velocity))
        self._add(onset_s + duration_s, PRIO_OFF, "note_off", int(pitch))

    def cc(self, t, control, value, prio=PRIO_CTRL):
        self._add(t, prio, "cc", int(control), int(max(0, min(127, value))))

    def bend(self, t, value, prio=PRIO_CTRL):
        """value: -8192..8191 (0 = centre)."""
        self._add(t, prio, "bend", int(max(-8192, min(8191, value))))

    def program(self, t, program):
        self._add(t, PRIO_RESET, "program", int(program))

    def reset(self, t, program, volume=100, expression=127):
        """Program, controllers, pan centre, pitch-bend range RPN, bend centre."""
        self.program(t, program)
        self.cc(t, 121, 0, PRIO_RESET)            # reset all controllers
        self.cc(t, 7, volume, PRIO_RESET)
        self.cc(t, 10, 64, PRIO_RESET)            # pan centre (the corpus is mono)
        self.cc(t, 11, expression, PRIO_RESET)
        for control, value in ((101, 0), (100, 0), (6, PITCH_BEND_RANGE_SEMITONES), (38, 0),
                               (101, 127), (100, 127)):   # RPN 0 = bend range, then RPN null
            self.cc(t, control, value, PRIO_RESET)
        self.bend(t, 0, PRIO_RESET)

    def all_sound_off(self, t):
        self.cc(t, 120, 0, PRIO_OFF)
        self.cc(t, 123, 0, PRIO_OFF)

    def save(self, path, end_s: float | None = None) -> None:
        import mido
        mid = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
        track = mido.MidiTrack()
        mid.tracks.append(track)
        track.append(mido.MetaMessage("set_tempo", tempo=TEMPO_US, time=0))
        last = 0
        for t, _prio, _seq, kind, args in sorted(self.events, key=lambda e: (round(e[0] / SECONDS_PER_TICK), e[1], e[2])):
            tick = int(round(t / SECONDS_PER_TICK))
            delta = tick - last
            last = tick
            if kind == "note_on":
                msg = mido.Message("note_on", channel=CHANNEL, note=args[0], velocity=args[1], time=delta)
            elif kind == "note_off":
                msg = mido.Message("note_off", channel=CHANNEL, note=args[0], velocity=0, time=delta)
            elif kind == "cc":
                msg = mido.Message("control_change", channel=CHANNEL, control=args[0], value=args[1], time=delta)
            elif kind == "bend":
                msg = mido.Message("pitchwheel", channel=CHANNEL, pitch=args[0], time=delta)
            elif kind == "program":
                msg = mido.Message("program_change", channel=CHANNEL, program=args[0], time=delta)
            else:  # pragma: no cover
                raise ValueError(kind)
            track.append(msg)
        end = max(self.end_s if end_s is None else end_s, self.end_s)
        end_tick = int(round(end / SECONDS_PER_TICK))
        track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - last)))
        mid.save(str(path))


def cents_to_bend(cents: float) -> int:
    return int(round(cents / (100.0 * PITCH_BEND_RANGE_SEMITONES) * 8192.0))
