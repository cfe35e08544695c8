"""Writes the Standard MIDI File fixtures of tests/golden/midi (byte by byte, so
that they hold what the core's reader must handle: running status, note-on at
velocity 0 as note-off, a tempo change mid-song).

    PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only midi

two_tracks.mid: format 1, 480 ticks per quarter note. Track 0 "Tempo": 120 BPM,
then 150 BPM from tick 1920 (2.0 s). Track 1 "Violin": eight quarter notes
G4 A4 B4 C5 D5 C5 B4 G4 (67..74, velocity 90) written with running status and
velocity-0 note-offs: they start at 0, 0.5, 1.0, 1.5, 2.0, 2.4, 2.8, 3.2 s; the
song lasts 3.6 s.

truncated.mid: two_tracks.mid whose second track chunk claims 200 bytes,
more than the file holds.
"""

from __future__ import annotations

import struct
from pathlib import Path

DIVISION = 480
MELODY = (67, 69, 71, 72, 74, 72, 71, 67)
VELOCITY = 90


def vlq(value: int) -> bytes:
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


def chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack(">I", len(body)) + body


def meta(delta: int, kind: int, data: bytes) -> bytes:
    return vlq(delta) + bytes([0xFF, kind]) + vlq(len(data)) + data


def tempo(delta: int, bpm: float) -> bytes:
    return meta(delta, 0x51, struct.pack(">I", round(60e6 / bpm))[1:])


def tempo_track() -> bytes:
    return (meta(0, 0x03, b"Tempo") + tempo(0, 120) + meta(0, 0x58, bytes([4, 2, 24, 8]))
            + tempo(4 * DIVISION, 150) + meta(4 * DIVISION, 0x2F, b""))


def violin_track() -> bytes:
    body = meta(0, 0x03, b"Violin") + vlq(0) + bytes([0xC0, 40])   # program: violin
    body += vlq(0) + bytes([0x90, MELODY[0], VELOCITY])
    for i, pitch in enumerate(MELODY):
        if i > 0:
            body += vlq(0) + bytes([pitch, VELOCITY])             # running status note-on
        body += vlq(DIVISION) + bytes([pitch, 0])                 # velocity 0: note-off
    return body + meta(0, 0x2F, b"")


def two_tracks() -> bytes:
    header = chunk(b"MThd", struct.pack(">HHH", 1, 2, DIVISION))
    return header + chunk(b"MTrk", tempo_track()) + chunk(b"MTrk", violin_track())


def truncated() -> bytes:
    data = bytearray(two_tracks())
    second = 14 + 8 + len(tempo_track())
    assert data[second:second + 4] == b"MTrk"
    data[second + 4:second + 8] = struct.pack(">I", 200)
    return bytes(data)


SEED = None  # nothing random: every byte is written by hand


def generate(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    (out / "two_tracks.mid").write_bytes(two_tracks())
    (out / "truncated.mid").write_bytes(truncated())
    return {}
