"""The one table of instruments, General MIDI programs and ranges.

Ranges are each instrument's *usual* orchestral range in sounding MIDI pitch
(C4 = 60), from standard orchestration tables, trimmed a little at the extreme
top where the instrument is rarely played (and where FluidR3's samples are
stretched furthest). GM programs are 0-based, as DESIGN.md §4 lists them.

Dynamics (note corpus and performance phrases alike) are carried by MIDI
note-on velocity only: pp = 40, mf = 80, ff = 120, with CC7 (volume) fixed at
100 and CC11 (expression) at 127 for the note corpus. The performance corpus
additionally moves CC11 for crescendi/decrescendi. FluidR3's instruments map
velocity to both level and brightness (their velocity-to-filter modulators),
which is what "dynamics" means for the classifier and the cross-modal model.
"""

from __future__ import annotations

from dataclasses import dataclass

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# name -> MIDI velocity. State the choice once; everything else reads it here.
DYNAMICS = {"pp": 40, "mf": 80, "ff": 120}
VOLUME_CC7 = 100


@dataclass(frozen=True)
class Instrument:
    name: str
    programs: tuple[int, ...]   # GM programs (0-based); several = alternated per phrase
    low: int                    # lowest usual sounding MIDI pitch
    high: int                   # highest usual sounding MIDI pitch
    family: str
    vibrato: float = 0.6        # probability that a performance phrase uses vibrato

    @property
    def program(self) -> int:
        return self.programs[0]

    @property
    def pitches(self) -> range:
        return range(self.low, self.high + 1)


# name:            GM program(s)  low  high  family      (usual sounding range)
INSTRUMENTS: dict[str, Instrument] = {i.name: i for i in (
    Instrument("piano",        (0,),    21, 108, "keyboard", 0.0),  # A0-C8, all 88 keys
    Instrument("violin",       (40,),   55, 96,  "strings"),        # G3-C7
    Instrument("viola",        (41,),   48, 84,  "strings"),        # C3-C6
    Instrument("cello",        (42,),   36, 76,  "strings"),        # C2-E5
    Instrument("contrabass",   (43,),   28, 60,  "strings"),        # E1-C4 (sounding)
    Instrument("trumpet",      (56,),   55, 82,  "brass", 0.3),     # G3-Bb5 (Bb trumpet, sounding)
    Instrument("trombone",     (57,),   40, 72,  "brass", 0.3),     # E2-C5
    Instrument("french_horn",  (60,),   36, 77,  "brass", 0.3),     # C2-F5 (sounding)
    Instrument("alto_sax",     (65,),   49, 80,  "reeds"),          # Db3-Ab5 (sounding)
    Instrument("oboe",         (68,),   58, 91,  "reeds"),          # Bb3-G6
    Instrument("english_horn", (69,),   52, 81,  "reeds"),          # E3-A5 (sounding)
    Instrument("bassoon",      (70,),   34, 75,  "reeds"),          # Bb1-Eb5
    Instrument("clarinet",     (71,),   50, 91,  "reeds", 0.3),     # D3-G6 (Bb clarinet, sounding)
    Instrument("flute",        (73,),   60, 96,  "flutes"),         # C4-C7
    # Sung vowels: choir aahs (52) and voice oohs (53), alternated per phrase.
    Instrument("voice",        (52, 53), 48, 79, "voice", 0.7),     # C3-G5 (mixed choir)
)}

# The note corpus: the 12 instruments of the GMVAE paper's SOL subset (DESIGN.md §4).
NOTE_INSTRUMENTS = ("piano", "violin", "cello", "english_horn", "french_horn", "trombone",
                    "trumpet", "alto_sax", "bassoon", "clarinet", "flute", "oboe")

# The performance corpus: the VQ paper's 10 URMP/Phenicx instruments + trombone,
# alto sax and voice. Their order is the classifier's label order.
PERFORMANCE_INSTRUMENTS = ("violin", "viola", "cello", "contrabass", "flute", "oboe",
                           "clarinet", "bassoon", "french_horn", "trumpet", "trombone",
                           "alto_sax", "voice")


def pitch_name(midi: int) -> str:
    return f"{PITCH_CLASSES[midi % 12]}{midi // 12 - 1}"


def pitch_class(midi: int) -> int:
    return midi % 12


def octave(midi: int) -> int:
    """Scientific octave number (C4 = 60 is octave 4)."""
    return midi // 12 - 1
