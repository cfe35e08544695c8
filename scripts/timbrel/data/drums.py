"""The drum one-shot corpus for the neural granular drum machine (`python -m timbrel.data drums`).

Every hit is one labelled WAV: 22050 Hz mono int16, DRUM_SAMPLES = 34816 samples (65
grains of 2048 at hop 512, 1.58 s), onset at ONSET_PRE_S (2 ms) from the start, cut with
a 20 ms fade-out when the sound is longer, zero-padded when it is shorter (zeros in
front too when a recording starts less than 2 ms before its onset).

Sources (DRUM_SOURCES; scripts/timbrel/data/README.md has the table):
  GM percussion kits (channel 10, SoundFont bank 128) of FluidR3, TimGM6mb and csound's
  bank, rendered by fluidsynth; Freepats' drumset 0 through timidity; avldrums.lv2's two
  SoundFont kits (bank 0, their own key map); hydrogen-drumkits' recordings (each kit's
  drumkit.xml names its instruments and layer files) and Sonic Pi's drum samples, decoded
  by sox. GM kits are played at velocities 40, 80 and 120, so multi-layer kits give
  their layers; hydrogen kits give every layer file.

Independence: TimGM6mb and csound's bank (which shares its recordings) are never trained
on: every row of them, and every row that plays one of their recordings, is `heldout`.
The other rows are split ~85/15 per class (each family towards its share first) by
groups that never straddle the split: the velocity layers of one kit's one note (or one
hydrogen instrument), every row playing the same SoundFont sample or file, and every row
whose first 2048 samples after the onset correlate >= LINK_CORR with another's (the same
recording reached through two packages: avldrums' SoundFonts and hydrogen's Black Pearl /
Gimme A Hand kits share hi-hats, splash, clap, tambourine and maraca recordings).
Families (FAMILY_OF) name the kits that share recordings, for leave-one-family-out use.

Renders: each hit alone, 44100 Hz (fluidsynth at 22050 Hz aliases cymbals), decimated by
sox with headroom (sox clips at full scale); recordings decoded by sox the same way.

Layout under <out>/drums/: <source>/<kit>/*.wav and unit.json (as in build.py: a unit
whose parameters and files match is skipped), manifest.json, build_report.json.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import struct
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import render
from . import sources as S
from .audio import SAMPLE_RATE, read_wav, sha256_file, to_int16
from .build import DEFAULT_SEED, SILENT_PEAK_DB, Unit, _sha_cached, unit_is_built
from .drum_classes import (AVL_DROPPED, AVL_NOTE_CLASSES, CLASSES, GM_NOTE_CLASSES,
                           check_gm_note, class_table_markdown, classify_name, sonic_pi_class)

DRUMS_VERSION = 1           # part of every unit's parameters: bump to re-render
CORPUS = "drums"
MANIFEST_FORMAT = 1

GRAIN, HOP, GRAINS = 2048, 512, 65
DRUM_SAMPLES = GRAIN + (GRAINS - 1) * HOP          # 34816 samples, 1.579 s at 22050 Hz
VELOCITIES = (40, 80, 120)
DECODE_HEADROOM_DB = 6      # sox resamples recordings this much lower (it clips at full scale)
RENDER_RATE = 44100         # SoundFonts and patches are rendered here, then sox decimates to
                            # 22050 Hz: fluidsynth at 22050 aliases the cymbals' 11-22 kHz
ONSET_REL_DB = -30.0        # the onset: first sample within 30 dB of the hit's peak
ONSET_PRE_S = 0.002         # kept before the onset
END_REL_DB = -60.0          # the sound's end: last sample within 60 dB of the peak
FADE_OUT_S = 0.02           # raised-cosine fade at the end of a hit longer than the window
HIT_HOLD_S = 1.8            # note-on to note-off (longer than the window)
HIT_CUT_S = 1.95            # all-sound-off after the note-on; the render is cut there
HIT_LEAD_S = 0.02           # the cut starts this long before the note-on
HIT_SLOT_S = 2.15           # note-on spacing in a kit's MIDI file
TEST_FRACTION = 0.15
LINK_SAMPLES = 2048         # compared after the onset to find one recording in two places
LINK_LAG = 64               # +- samples searched (one recording's onset found 1.5 ms apart
                            # through fluidsynth and through sox happens)
LINK_CORR = 0.98
LINK_SPECTRUM = 0.95        # candidate pairs: cosine of their log spectra
KIT_PROGRAMS_EXCLUDED = {56: "SFX set (sound effects)", 127: "CM-64/32 set (MT-32 key map)"}

SMOKE_NOTES = (36, 38, 39, 42, 46, 51)
SMOKE_KIT_PROGRAMS = (0, 25)  # a GM SoundFont's Standard and TR-808 kits
SMOKE_ITEMS = 6             # hydrogen instruments / Sonic Pi files in a smoke build

HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")
SONIC_PI_DIR = Path("/usr/share/sonic-pi/samples")
FREEPATS_DIR = Path("/usr/share/midi/freepats")
AVL_FONTS = ("Black_Pearl_4_LV2.sf2", "Red_Zeppelin_4_LV2.sf2")


@dataclass(frozen=True)
class DrumSource:
    name: str
    kind: str            # sf2_gm (fluidsynth, channel 10), gus_gm (timidity), sf2_avl, hydrogen, sonic_pi
    package: str         # the Debian package
    path: str
    title: str
    family: str          # independence family of its kits (hydrogen: per kit, FAMILY_OF)
    optional: bool       # not installed by scripts/setup.sh (its default list)

    @property
    def role(self) -> str:
        return "heldout" if self.name in S.NEVER_TRAIN else "training"

    def locate(self) -> Path | None:
        p = Path(self.path)
        if self.kind == "sf2_avl":
            return p if all((p / f).exists() for f in AVL_FONTS) else None
        if self.kind == "hydrogen":
            return p if p.is_dir() and any(p.glob("*/drumkit.xml")) else None
        if self.kind == "sonic_pi":
            return p if p.is_dir() and any(p.glob("drum_*.flac")) else None
        return p if p.exists() else None


DRUM_SOURCES: dict[str, DrumSource] = {s.name: s for s in (
    DrumSource("fluidr3", "sf2_gm", "fluid-soundfont-gm", S.SOURCES["fluidr3"].path,
               "Fluid (R3) GM: every drum kit (bank 128)", "fluidr3", False),
    DrumSource("freepats", "gus_gm", "freepats", S.SOURCES["freepats"].path,
               "Freepats drumset 0 (GUS patches, timidity)", "freepats", False),
    DrumSource("avldrums", "sf2_avl", "avldrums.lv2-soundfont", str(S.SF2_DIR),
               "AVL Drumkits: Black Pearl 4pc, Red Zeppelin 4pc (Glen MacArthur)", "macarthur", True),
    DrumSource("hydrogen", "hydrogen", "hydrogen-drumkits", str(HYDROGEN_DIR),
               "Hydrogen's drum kits (recordings, drumkit.xml)", "hydrogen", True),
    DrumSource("sonic_pi", "sonic_pi", "sonic-pi-samples", str(SONIC_PI_DIR),
               "Sonic Pi's drum samples (freesound.org, CC0)", "sonic_pi", True),
    DrumSource("timgm6mb", "sf2_gm", "timgm6mb-soundfont", S.SOURCES["timgm6mb"].path,
               "TimGM6mb drum kits", "timgm6mb", False),
    DrumSource("csound_gm", "sf2_gm", "csound-soundfont", S.SOURCES["csound_gm"].path,
               "csound GM GS bank drum kits (shares TimGM6mb's recordings)", "timgm6mb", False),
)}
OPTIONAL_PACKAGES = tuple(s.package for s in DRUM_SOURCES.values() if s.optional)
APT_COMMAND = "sudo apt-get install -y --no-install-recommends " + " ".join(OPTIONAL_PACKAGES)

# Independence families that span sources or kits (measured: the build's `links`, see the
# README). Glen MacArthur recorded hydrogen's "The Black Pearl 1.0" and "Gimme A Hand 1.0"
# and avldrums' two kits: the SoundFonts reuse the hydrogen kits' hi-hats, splash, clap,
# tambourine and maraca recordings sample for sample.
# Emiliano Grilli's three Millo kits share their cowbell recording.
FAMILY_OF = {("hydrogen", "The Black Pearl 1.0"): "macarthur",
             ("hydrogen", "Gimme A Hand 1.0"): "macarthur",
             ("hydrogen", "Millo-Drums_v.1"): "hydrogen:millo",
             ("hydrogen", "Millo_MultiLayered2"): "hydrogen:millo",
             ("hydrogen", "Millo_MultiLayered3"): "hydrogen:millo"}


class MissingDrumSources(RuntimeError):
    pass


def family_of(source: str, kit: str) -> str:
    if (source, kit) in FAMILY_OF:
        return FAMILY_OF[(source, kit)]
    if source == "hydrogen":
        return f"hydrogen:{kit}"
    return DRUM_SOURCES[source].family


@functools.lru_cache(maxsize=None)
def package_version(package: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                             text=True, timeout=20)
        return out.stdout.strip() or "not installed"
    except Exception:  # pragma: no cover
        return "unknown"


def missing_message(names) -> str:
    lines = ["drum source(s) not installed: " + ", ".join(
        f"{n} (Debian package {DRUM_SOURCES[n].package})" for n in names)]
    pk = " ".join(DRUM_SOURCES[n].package for n in names)
    lines.append(f"install them with:\n  sudo apt-get install -y --no-install-recommends {pk}")
    lines.append("or build the installed ones only, e.g. --sources " + " ".join(
        n for n in DRUM_SOURCES if n not in names and DRUM_SOURCES[n].locate() is not None))
    return "\n".join(lines)


def check_sources(names) -> None:
    """Raises MissingDrumSources (with the apt-get command) if a named source is missing."""
    missing = [n for n in names if DRUM_SOURCES[n].locate() is None]
    if missing:
        raise MissingDrumSources(missing_message(missing))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


# -- SoundFont key zones ------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def sf2_key_zones(path) -> dict:
    """{(bank, program): {name, zones: [(key lo, key hi, vel lo, vel hi, sample, zone sig)]}}.

    The zone signature (preset global + zone generators and modulators, instrument index)
    says when two presets play a key identically: same signature at a key and velocity
    = the same render (FluidR3's 31 kits share most of their keys)."""
    data = Path(path).read_bytes()
    pdta = {}
    for cid, off, n in S._riff_chunks(data, 12, len(data)):
        if cid == b"LIST" and data[off:off + 4] == b"pdta":
            for sid, soff, m in S._riff_chunks(data, off + 4, off + n):
                pdta[sid.decode("latin-1")] = data[soff:soff + m]

    def recs(name, fmt):
        size = struct.calcsize(fmt)
        raw = pdta[name]
        return [struct.unpack(fmt, raw[i:i + size]) for i in range(0, len(raw) - size + 1, size)]

    phdr, pbag, pgen = recs("phdr", "<20sHHHIII"), recs("pbag", "<HH"), recs("pgen", "<HH")
    inst, ibag, igen = recs("inst", "<20sH"), recs("ibag", "<HH"), recs("igen", "<HH")
    shdr = recs("shdr", "<20sIIIIIBbHH")
    pmod = pdta.get("pmod", b"")
    names = [s[0].split(b"\0")[0].decode("latin-1") for s in shdr]

    def rng(gens, op):
        for o, a in gens:
            if o == op:
                return a & 0xFF, a >> 8
        return 0, 127

    def zone(bags, gens_tab, b):
        return [tuple(g) for g in gens_tab[bags[b][0]:bags[b + 1][0]]]

    out = {}
    for k in range(len(phdr) - 1):
        pname, prog, bank, bag = phdr[k][:4]
        zones, glob_sig = [], ()
        for b in range(bag, phdr[k + 1][3]):
            gens = zone(pbag, pgen, b)
            mods = pmod[pbag[b][1] * 10:pbag[b + 1][1] * 10]
            if not gens or gens[-1][0] != 41:
                if b == bag:                       # global zone
                    glob_sig = (tuple(gens), mods)
                continue
            i = gens[-1][1]
            pk, pv = rng(gens, 43), rng(gens, 44)
            sig = (glob_sig, tuple(g for g in gens if g[0] not in (43, 44)), mods, i)
            for ib in range(inst[i][1], inst[i + 1][1]):
                igens = zone(ibag, igen, ib)
                if not igens or igens[-1][0] != 53:
                    continue
                ik, iv = rng(igens, 43), rng(igens, 44)
                lo, hi = max(pk[0], ik[0]), min(pk[1], ik[1])
                vlo, vhi = max(pv[0], iv[0]), min(pv[1], iv[1])
                if lo <= hi and vlo <= vhi:
                    zones.append((lo, hi, vlo, vhi, names[igens[-1][1]],
                                  hashlib.sha1(repr(sig).encode()).hexdigest()[:16]))
        out[(bank, prog)] = dict(name=pname.split(b"\0")[0].decode("latin-1"), zones=zones)
    return out


def key_samples(zones, key: int, vel: int | None = None) -> list[str]:
    return sorted({z[4] for z in zones if z[0] <= key <= z[1]
                   and (vel is None or z[2] <= vel <= z[3])})


def key_signature(zones, key: int, vel: int) -> tuple:
    return tuple(sorted({z[5] for z in zones if z[0] <= key <= z[1] and z[2] <= vel <= z[3]}))


def recording_name(sample: str) -> str:
    """A stereo pair's two samples are one recording: "Std Kick(L)" -> "Std Kick"."""
    return re.sub(r"\s*\((L|R)\)?$", "", sample).strip()


def gus_drumset(cfg, drumset: int = 0) -> dict[int, str]:
    """{key: patch file} of a timidity configuration's drumset (following `source`)."""
    out: dict[int, str] = {}
    section = None
    for raw in Path(cfg).read_text(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        w = line.split()
        if w[0] == "source" and len(w) > 1:
            out.update(gus_drumset(w[1], drumset))
        elif w[0] in ("bank", "drumset"):
            section = (w[0], int(w[1]))
        elif section == ("drumset", drumset) and re.fullmatch(r"\d+", w[0]) and len(w) > 1:
            out[int(w[0])] = w[1]
    return out


# -- hydrogen and Sonic Pi ----------------------------------------------------------

def hydrogen_kits(root=HYDROGEN_DIR) -> list[dict]:
    """[{name, folder, author, instruments: [{name, layers: [{file, min, max}]}]}] from every
    drumkit.xml (both the layered format and the older one-file-per-instrument one)."""
    kits = []
    for xml in sorted(Path(root).glob("*/drumkit.xml")):
        t = ET.parse(xml).getroot()
        m = re.match(r"\{.*\}", t.tag)
        ns = m.group(0) if m else ""
        insts = []
        for ins in t.iter(ns + "instrument"):
            layers = [dict(file=l.findtext(ns + "filename"),
                           min=float(l.findtext(ns + "min") or 0), max=float(l.findtext(ns + "max") or 1))
                      for l in ins.findall(ns + "layer") if l.findtext(ns + "filename")]
            if not layers and ins.findtext(ns + "filename"):
                layers = [dict(file=ins.findtext(ns + "filename"), min=0.0, max=1.0)]
            insts.append(dict(name=(ins.findtext(ns + "name") or "").strip(), layers=layers))
        kits.append(dict(name=(t.findtext(ns + "name") or xml.parent.name).strip(), folder=xml.parent.name,
                         author=(t.findtext(ns + "author") or "").strip(), instruments=insts))
    return kits


def hydrogen_hits(kit: dict) -> tuple[list[dict], list[str]]:
    """The kit's mapped layers [{instrument, class, layer, file, min, max}] and what was
    skipped (with why). A layer file whose own name says another class is skipped; a file
    already taken by an earlier instrument of the kit is not repeated."""
    hits, skipped, seen = [], [], set()
    for ins in kit["instruments"]:
        if not ins["layers"]:
            continue
        cls, why = classify_name(ins["name"])
        if cls is None:
            skipped.append(f"{ins['name'] or '(no name)'}: {why}")
            continue
        for j, lay in enumerate(ins["layers"]):
            fcls, _ = classify_name(Path(lay["file"]).stem)
            if fcls and fcls != cls:
                skipped.append(f"{ins['name']} layer {lay['file']}: file name says {fcls}")
                continue
            if lay["file"] in seen:
                continue
            seen.add(lay["file"])
            hits.append(dict(instrument=ins["name"], cls=cls, layer=j, file=lay["file"],
                             min=lay["min"], max=lay["max"]))
    return hits, skipped


def sonic_pi_uploaders(root=SONIC_PI_DIR) -> dict[str, str]:
    """{sample name: freesound uploader} from the samples' README."""
    out = {}
    readme = Path(root) / "README.md"
    if readme.exists():
        for m in re.finditer(r"`:(\w+)`\s*-\s*https?://(?:www\.)?freesound\.org/people/([^/]+)/",
                             readme.read_text(errors="replace")):
            out[m.group(1)] = m.group(2).replace("%20", " ")
    return out


# -- audio --------------------------------------------------------------------------

def one_shot(x: np.ndarray, n: int = DRUM_SAMPLES, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, dict]:
    """x trimmed to ONSET_PRE_S before its onset (first sample within ONSET_REL_DB of the
    peak; zeros in front when the recording starts closer to its onset, so the onset is
    always at ONSET_PRE_S) and fixed to n samples: a FADE_OUT_S raised-cosine fade if it
    sounds longer, zeros if shorter. Returns (float32 audio, {onset: index of the onset in the output, length_s:
    the sound's length from the cut start to its end (last sample within END_REL_DB of the
    peak), truncated: whether that end lies beyond the window})."""
    x = np.asarray(x, dtype=np.float32)
    out = np.zeros(n, dtype=np.float32)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0.0:
        return out, dict(onset=0, length_s=0.0, truncated=False)
    on = int(np.argmax(np.abs(x) >= peak * 10.0 ** (ONSET_REL_DB / 20.0)))
    pre = int(round(ONSET_PRE_S * sample_rate))
    start = on - pre                   # < 0: the recording starts less than 2 ms before its
    lead = max(0, -start)              # onset; zeros make up the rest
    start = max(0, start)
    seg = x[start:start + n - lead]
    out[lead:lead + len(seg)] = seg
    end = int(np.flatnonzero(np.abs(x) >= peak * 10.0 ** (END_REL_DB / 20.0))[-1]) + 1
    truncated = end - start + lead > n
    if truncated:
        m = int(round(FADE_OUT_S * sample_rate))
        out[-m:] *= (0.5 + 0.5 * np.cos(np.pi * np.arange(1, m + 1) / m)).astype(np.float32)
    return out, dict(onset=on - start + lead, length_s=round((end - start + lead) / sample_rate, 4),
                     truncated=bool(truncated))


def decay_s(x: np.ndarray, drop_db: float = 40.0, sample_rate: int = SAMPLE_RATE) -> float:
    """Seconds from the start until the 10 ms rms envelope stays drop_db below its maximum."""
    f = 220
    m = len(x) // f
    if m == 0:
        return 0.0
    e = 10 * np.log10(np.mean(np.asarray(x[:m * f], np.float64).reshape(m, f) ** 2, axis=1) + 1e-20)
    loud = np.flatnonzero(e >= e.max() - drop_db)
    return round(float((loud[-1] + 1) * f / sample_rate), 3)


def decode_file(path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any file sox reads (FLAC, WAV, AIFF) -> float32 mono at sample_rate ((L + R) / 2).
    sox clips at full scale even to a float file: the resampling runs DECODE_HEADROOM_DB
    lower and the level is restored here (a recording at 0 dBFS may then exceed 1.0)."""
    render.require("sox")
    with tempfile.TemporaryDirectory(prefix="timbrel-dr-") as tmp:
        dst = Path(tmp) / "d.wav"
        cmd = ["sox", "-D", "-R", str(path), "-e", "floating-point", "-b", "32", str(dst),
               "gain", f"-{DECODE_HEADROOM_DB}", "rate", "-v", str(sample_rate)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"sox failed on {path}: {proc.stderr.strip()[-300:]}")
        x, sr = read_wav(dst, mono=True)
    return (x * np.float32(10.0 ** (DECODE_HEADROOM_DB / 20.0))).astype(np.float32)


def _rechannel(mid_path, channel: int) -> None:
    """Moves every channel message of a Timeline's file (channel 0) to `channel`."""
    import mido
    mid = mido.MidiFile(str(mid_path))
    for track in mid.tracks:
        for i, msg in enumerate(track):
            if not msg.is_meta and hasattr(msg, "channel"):
                track[i] = msg.copy(channel=channel)
    mid.save(str(mid_path))


# -- planning -------------------------------------------------------------------------

def _source_files_sha(files) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(str(f).encode())
        h.update(_sha_cached(f).encode())
    return h.hexdigest()


def _common(seed, smoke, src: DrumSource) -> dict:
    return dict(version=DRUMS_VERSION, seed=int(seed), smoke=bool(smoke), sample_rate=SAMPLE_RATE,
                samples=DRUM_SAMPLES, onset_rel_db=ONSET_REL_DB, onset_pre_s=ONSET_PRE_S,
                fade_out_s=FADE_OUT_S, source=src.name, package=src.package,
                package_version=package_version(src.package))


def plan_gm_kits(src: DrumSource, seed: int, smoke: bool) -> tuple[list[Unit], list[str]]:
    """One unit per drum kit of a GM SoundFont (bank 128) or of Freepats' drumset 0; keys
    whose zones repeat an earlier kit's exactly (same samples, same generators) are left
    out of the later kit (`skipped`)."""
    where = src.locate()
    units = []
    tool = "timidity" if src.kind == "gus_gm" else "fluidsynth"
    base = dict(_common(seed, smoke, src), tool=render.tool_version(tool),
                gain=render.FLUIDSYNTH_GAIN, render_rate=RENDER_RATE, headroom_db=DECODE_HEADROOM_DB,
                velocities=list(VELOCITIES),
                hold_s=HIT_HOLD_S,
                cut_s=HIT_CUT_S, lead_s=HIT_LEAD_S, slot_s=HIT_SLOT_S)
    wanted = [n for n in sorted(GM_NOTE_CLASSES) if not smoke or n in SMOKE_NOTES]
    if src.kind == "gus_gm":
        pats = gus_drumset(where, 0)
        files = [Path(where)] + [FREEPATS_DIR / pats[k] for k in sorted(pats)
                                 if (FREEPATS_DIR / pats[k]).exists()]
        hits, skipped = [], []
        for note in wanted:
            cls = GM_NOTE_CLASSES[note]
            if note not in pats:
                continue
            stem = Path(pats[note]).stem
            why = check_gm_note(cls, [stem])
            if why:
                skipped.append(f"key {note}: {why}")
                continue
            hits.append(dict(note=note, cls=cls, samples={str(v): [stem] for v in VELOCITIES},
                             recordings=[f"freepats:{pats[note]}"]))
        units.append(Unit(CORPUS, "drumset_0", dict(
            base, kit="drumset 0", kit_program=0, channel=9, render_with=src.name,
            source_sha256=_source_files_sha(files), tool_args=list(render.TIMIDITY_ARGS),
            hits=hits, skipped=skipped), src.name))
        return units, []
    font = sf2_key_zones(str(where))
    sha = _sha_cached(where)
    kits = sorted(k for k in font if k[0] == 128 and k[1] not in KIT_PROGRAMS_EXCLUDED)
    if smoke:
        kits = [k for k in kits if k[1] in SMOKE_KIT_PROGRAMS]
    seen: dict[tuple, str] = {}
    for bank, prog in kits:
        kit = font[(bank, prog)]
        zones = kit["zones"]
        hits, skipped = [], []
        for note in wanted:
            cls = GM_NOTE_CLASSES[note]
            samples = key_samples(zones, note)
            if not samples:
                continue
            why = check_gm_note(cls, samples)
            if why:
                skipped.append(f"key {note}: {why}")
                continue
            sig = (note,) + tuple(key_signature(zones, note, v) for v in VELOCITIES)
            if sig in seen:
                skipped.append(f"key {note}: same zones as kit {seen[sig]}")
                continue
            seen[sig] = kit["name"]
            hits.append(dict(note=note, cls=cls,
                             samples={str(v): key_samples(zones, note, v) for v in VELOCITIES},
                             recordings=sorted({f"{src.name}:{recording_name(s)}" for s in samples})))
        units.append(Unit(CORPUS, slug(kit["name"]), dict(
            base, kit=kit["name"], kit_bank=bank, kit_program=prog, channel=9,
            render_with=src.name, source_sha256=sha, hits=hits, skipped=skipped), src.name))
    excluded = [f"{font[k]['name']} (bank {k[0]} program {k[1]}): {KIT_PROGRAMS_EXCLUDED[k[1]]}"
                for k in sorted(font) if k[0] == 128 and k[1] in KIT_PROGRAMS_EXCLUDED]
    return units, excluded


def plan_avl(src: DrumSource, seed: int, smoke: bool) -> list[Unit]:
    units = []
    base = dict(_common(seed, smoke, src), tool=render.tool_version("fluidsynth"),
                gain=render.FLUIDSYNTH_GAIN, render_rate=RENDER_RATE, headroom_db=DECODE_HEADROOM_DB,
                velocities=list(VELOCITIES),
                hold_s=HIT_HOLD_S,
                cut_s=HIT_CUT_S, lead_s=HIT_LEAD_S, slot_s=HIT_SLOT_S)
    for fname in AVL_FONTS[:1] if smoke else AVL_FONTS:
        path = Path(src.path) / fname
        font = sf2_key_zones(str(path))
        (bank, prog), kit = sorted(font.items())[0]
        hits, skipped = [], []
        for note in sorted(set(AVL_NOTE_CLASSES) | set(AVL_DROPPED)):
            if smoke and note not in SMOKE_NOTES:
                continue
            samples = key_samples(kit["zones"], note)
            if note in AVL_DROPPED:
                skipped.append(f"key {note}: {AVL_DROPPED[note]} ({', '.join(samples[:1])})")
                continue
            if not samples:
                continue
            hits.append(dict(note=note, cls=AVL_NOTE_CLASSES[note],
                             samples={str(v): key_samples(kit["zones"], note, v) for v in VELOCITIES},
                             recordings=sorted({f"avldrums:{s}" for s in samples})))
        units.append(Unit(CORPUS, slug(kit["name"]), dict(
            base, kit=kit["name"], kit_bank=bank, kit_program=prog, channel=0,
            render_with=str(path), source_sha256=_sha_cached(path), hits=hits,
            skipped=skipped), src.name))
    return units


def plan_hydrogen(src: DrumSource, seed: int, smoke: bool) -> list[Unit]:
    units = []
    root = Path(src.path)
    for kit in hydrogen_kits(root):
        hits, skipped = hydrogen_hits(kit)
        folder = root / kit["folder"]
        skipped += [f"{h['instrument']} layer {h['file']}: file missing" for h in hits
                    if not (folder / h["file"]).is_file()]
        hits = [h for h in hits if (folder / h["file"]).is_file()]
        if smoke:
            hits = [h for h in hits if h["layer"] == 0][:SMOKE_ITEMS]
        for h in hits:
            h["sha256"] = _sha_cached(folder / h["file"])
        units.append(Unit(CORPUS, slug(kit["name"]), dict(
            _common(seed, smoke, src), tool=render.tool_version("sox"),
            decode=["rate", "-v", DECODE_HEADROOM_DB], kit=kit["name"],
            folder=kit["folder"], author=kit["author"],
            xml_sha256=_sha_cached(folder / "drumkit.xml"), hits=hits, skipped=skipped),
            src.name))
        if smoke:
            break
    return units


def plan_sonic_pi(src: DrumSource, seed: int, smoke: bool) -> list[Unit]:
    root = Path(src.path)
    who = sonic_pi_uploaders(root)
    hits, skipped = [], []
    for f in sorted(root.glob("*.flac")):
        cls = sonic_pi_class(f.stem)
        if cls is None:
            if f.stem.startswith(("drum_", "elec_", "perc_", "bd_", "sn_")):
                skipped.append(f"{f.stem}: not a class")
            continue
        hits.append(dict(instrument=f.stem, cls=cls, file=f.name, kit=f"freesound:{who[f.stem]}"
                         if f.stem in who else f.stem.split("_")[0], sha256=_sha_cached(f)))
    if smoke:
        hits = hits[:SMOKE_ITEMS]
    return [Unit(CORPUS, "samples", dict(_common(seed, smoke, src), tool=render.tool_version("sox"),
                                         decode=["rate", "-v", DECODE_HEADROOM_DB],
                                         kit="samples", hits=hits, skipped=skipped), src.name)]


def plan(sources, seed: int = DEFAULT_SEED, smoke: bool = False) -> tuple[list[Unit], dict]:
    units, excluded = [], {}
    for name in sources:
        src = DRUM_SOURCES[name]
        if src.kind in ("sf2_gm", "gus_gm"):
            u, ex = plan_gm_kits(src, seed, smoke)
            units += u
            if ex:
                excluded[name] = ex
        elif src.kind == "sf2_avl":
            units += plan_avl(src, seed, smoke)
        elif src.kind == "hydrogen":
            units += plan_hydrogen(src, seed, smoke)
        else:
            units += plan_sonic_pi(src, seed, smoke)
    return units, excluded


# -- rendering units ----------------------------------------------------------------

FULL_SCALE = 32767.0 / 32768.0


def _limit(y: np.ndarray) -> tuple[np.ndarray, float]:
    """A hit whose peak lies beyond int16 full scale (a recording normalised to 0 dBFS and
    then resampled overshoots) is scaled to just under it; returns (audio, gain in dB)."""
    peak = float(np.max(np.abs(y)))
    if peak <= FULL_SCALE:
        return y, 0.0
    return (y * (FULL_SCALE / peak)).astype(np.float32), round(20 * np.log10(FULL_SCALE / peak), 3)


def _row(unit: Unit, rel: str, y: np.ndarray, info: dict, **fields) -> dict:
    q = to_int16(y)
    peak = float(np.max(np.abs(q.astype(np.int32)))) / 32768.0
    clipped = int(np.count_nonzero(np.abs(y) > 1.0))      # samples clipped by the int16 conversion
    rms = float(np.sqrt(np.mean((q.astype(np.float64) / 32768.0) ** 2)))
    row = dict(path=rel, source=unit.source, kit=unit.params["kit"])
    row["class"] = fields.pop("cls")
    row.update(fields)
    return dict(row,
                peak_dbfs=round(20 * np.log10(peak), 2) if peak > 0 else -120.0,
                rms_dbfs=round(20 * np.log10(rms), 2) if rms > 0 else -120.0,
                onset_ms=round(1000.0 * info["onset"] / SAMPLE_RATE, 2),
                length_s=info["length_s"], truncated=info["truncated"], decay_s=decay_s(y),
                clipped=clipped, gain_db=info.get("gain_db", 0.0))


def _render_gm(unit: Unit, out: Path) -> list[tuple[dict, np.ndarray]]:
    from .midi import PRIO_OFF, Timeline
    p = unit.params
    d = out / unit.key
    tl = Timeline()
    tl.reset(0.0, p["kit_program"])
    slots = []
    t = 0.25
    for h in p["hits"]:
        for v in p["velocities"]:
            tl.note(t, p["hold_s"], h["note"], v)
            # all sound off (CC 120) alone: fluidsynth lets a voice ring on when CC 123
            # (all notes off, Timeline.all_sound_off's second message) follows at the same tick
            tl.cc(t + p["cut_s"], 120, 0, PRIO_OFF)
            slots.append((h, v, t))
            t += p["slot_s"]
    if not slots:
        return []
    mid = d / "hits.mid"
    tl.save(mid, end_s=t + 0.5)
    _rechannel(mid, p["channel"])
    x = render.render_midi(mid, p["render_with"], p["gain"], sample_rate=p["render_rate"])
    if p["render_rate"] != SAMPLE_RATE:               # (sox clips at full scale: headroom)
        g = np.float32(10.0 ** (-DECODE_HEADROOM_DB / 20.0))
        x = render.sox_process(x * g, p["render_rate"], ["rate", "-v", str(SAMPLE_RATE)]) / g
    items = []
    for h, v, s in slots:
        seg = render.cut(x, s - p["lead_s"], s + p["cut_s"], fade_s=0.0)
        y, info = one_shot(seg)
        y, info["gain_db"] = _limit(y)
        rel = f"{unit.source}/{unit.name}/{h['note']:03d}_{h['cls']}_v{v:03d}.wav"
        items.append((_row(unit, rel, y, info, cls=h["cls"], gm_note=h["note"], velocity=v,
                           instrument_name=", ".join(h["samples"][str(v)]), layer=None,
                           recordings=h["recordings"]), y))
    return items


def _render_files(unit: Unit, out: Path) -> list[tuple[dict, np.ndarray]]:
    p = unit.params
    folder = (Path(DRUM_SOURCES[unit.source].path) / p["folder"]) if unit.source == "hydrogen" \
        else Path(DRUM_SOURCES[unit.source].path)
    items, names = [], set()
    for h in p["hits"]:
        y, info = one_shot(decode_file(folder / h["file"]))
        y, info["gain_db"] = _limit(y)
        stem = slug(h["instrument"]) + (f"_{h['layer']:02d}" if "layer" in h else "")
        while stem in names:
            stem += "_b"
        names.add(stem)
        rel = f"{unit.source}/{unit.name}/{stem}.wav"
        rec = f"{unit.source}:{p.get('folder', '')}/{h['file']}"
        row = _row(unit, rel, y, info, cls=h["cls"], gm_note=None, velocity=None,
                   instrument_name=h["instrument"], layer=h.get("layer"), recordings=[rec])
        if unit.source == "sonic_pi":
            row["kit"] = h["kit"]
        if "min" in h:
            row["layer_velocity"] = [h["min"], h["max"]]
        items.append((row, y))
    return items


def build_drum_unit(args) -> dict:
    out, unit, force = args
    out = Path(out)
    t0 = time.time()
    if not force:
        rec = unit_is_built(out, unit)
        if rec is not None:
            return dict(rec, status="skipped", seconds=round(time.time() - t0, 3))
    d = out / unit.key
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    kind = DRUM_SOURCES[unit.source].kind
    items = _render_gm(unit, out) if kind in ("sf2_gm", "gus_gm", "sf2_avl") else _render_files(unit, out)
    rows, files, dropped, seen = [], {}, [], {}
    for row, y in items:
        if row["peak_dbfs"] < SILENT_PEAK_DB:
            dropped.append(f"{row['path']} (silent: peak {row['peak_dbfs']} dBFS)")
            continue
        digest = hashlib.sha256(to_int16(y).tobytes()).hexdigest()
        if digest in seen:                   # e.g. two keys of one kit playing one sample alike
            dropped.append(f"{row['path']} (identical to {seen[digest]})")
            continue
        seen[digest] = row["path"]
        path = out / CORPUS / row["path"]
        row["sha256"] = files[f"{CORPUS}/{row['path']}"] = render.write_and_hash(path, y)
        rows.append(row)
    if (d / "hits.mid").exists():
        files[f"{unit.key}/hits.mid"] = sha256_file(d / "hits.mid")
    rec = dict(corpus=CORPUS, name=unit.name, source=unit.source, params=unit.params,
               params_hash=unit.params_hash, files=files, rows=rows, dropped=dropped,
               skipped=unit.params.get("skipped", []),
               audio_seconds=round(len(rows) * DRUM_SAMPLES / SAMPLE_RATE, 3),
               bytes=sum((out / f).stat().st_size for f in files),
               render_seconds=round(time.time() - t0, 3))
    (d / "unit.json").write_text(json.dumps(rec, indent=1))
    return dict(rec, status="built", seconds=rec["render_seconds"])


# -- groups, links, families, splits --------------------------------------------------

class _UF:
    def __init__(self, n):
        self.p = list(range(n))

    def find(self, i):
        while self.p[i] != i:
            self.p[i] = self.p[self.p[i]]
            i = self.p[i]
        return i

    def union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a != b:
            self.p[max(a, b)] = min(a, b)


def _item_key(r: dict) -> tuple:
    return (r["source"], r["kit"], r["gm_note"] if r["gm_note"] is not None else r["instrument_name"])


def _heads(drums: Path, rows: list[dict]) -> np.ndarray:
    """(rows, LINK_SAMPLES + 2 LINK_LAG) float64: each one-shot's start (onset at ONSET_PRE_S)."""
    n = LINK_SAMPLES + 2 * LINK_LAG
    out = np.zeros((len(rows), n))
    for i, r in enumerate(rows):
        x, _ = read_wav(drums / r["path"])
        out[i, :min(n, len(x))] = x[:n]
    return out


def _spectra(heads: np.ndarray, bands: int = 128) -> np.ndarray:
    """Unit-norm, mean-removed log magnitude spectra (bands) of the heads' first LINK_SAMPLES:
    a shift of a few ms barely changes them, so they find the candidate pairs."""
    w = np.hanning(LINK_SAMPLES)
    mag = np.abs(np.fft.rfft(heads[:, :LINK_SAMPLES] * w, axis=1))[:, 1:]
    mag = mag[:, :mag.shape[1] // bands * bands].reshape(len(heads), bands, -1).mean(axis=2)
    s = np.log(mag + 1e-9)
    s -= s.mean(axis=1, keepdims=True)
    return s / (np.linalg.norm(s, axis=1, keepdims=True) + 1e-12)


def pcm_links(drums: Path, rows: list[dict]) -> list[tuple[int, int, float]]:
    """(i, j, correlation) for rows of different kit-notes (or instruments) of one class
    whose first LINK_SAMPLES after the onset correlate >= LINK_CORR at some shift within
    +-LINK_LAG: one recording reached twice (another package, kit or key; a level-scaled
    copy). Candidates first: pairs whose log spectra agree (cosine >= LINK_SPECTRUM); then
    the normalised cross-correlation of i's window with every shifted window of j."""
    heads = _heads(drums, rows)
    spectra = _spectra(heads)
    L, lag = LINK_SAMPLES, LINK_LAG
    nfft = 1 << int(np.ceil(np.log2(2 * L + 2 * lag)))
    win = heads[:, lag:lag + L]
    fa = np.conj(np.fft.rfft(win / (np.linalg.norm(win, axis=1, keepdims=True) + 1e-12), nfft, axis=1))
    fb = np.fft.rfft(heads, nfft, axis=1)
    c2 = np.concatenate([np.zeros((len(heads), 1)), np.cumsum(heads * heads, axis=1)], axis=1)
    energy = np.sqrt(c2[:, L:L + 2 * lag + 1] - c2[:, :2 * lag + 1]) + 1e-12   # (n, 2 lag + 1)
    links = []
    by_class: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_class.setdefault(r["class"], []).append(i)
    for cls, idx in by_class.items():
        idx = np.asarray(idx)
        sim = spectra[idx] @ spectra[idx].T
        key = [_item_key(rows[i]) for i in idx]
        for a_ in range(len(idx)):
            cand = [b_ for b_ in np.flatnonzero(sim[a_] >= LINK_SPECTRUM)
                    if b_ > a_ and key[b_] != key[a_]]
            if not cand:
                continue
            i, js = idx[a_], idx[cand]
            corr = np.fft.irfft(fa[i] * fb[js], nfft, axis=1)[:, :2 * lag + 1] / energy[js]
            best = corr.max(axis=1)
            for j, c in zip(js, best):
                if c >= LINK_CORR:
                    links.append((int(i), int(j), round(float(c), 4)))
    return links


def assign_splits(rows: list[dict], links=(), seed: int = DEFAULT_SEED,
                  fraction: float = TEST_FRACTION) -> dict:
    """Sets `family`, `group` and `split` of every row (in place); returns a summary.

    Groups (union-find): one kit's one key or one instrument (its velocity layers), one
    recording (`recordings`: a SoundFont sample, a patch or a file), and `links`. A group
    with a row of a never-trained source is `heldout` entirely. The others, per class (a
    group counts for the class, and the family, most of its rows have), in the order of
    sha256(seed, group): first each family's groups go to test while that brings the
    family's test rows closer to fraction x its rows; then, the families interleaved
    (every family's first group, then every family's second, ...), while that brings the
    class's test rows closer to round(fraction x rows): small families, whose share is
    less than half a group, get their turn too. The rest is train."""
    uf = _UF(len(rows))
    first: dict = {}
    for i, r in enumerate(rows):
        for k in [("item",) + _item_key(r)] + [("rec", x) for x in r.get("recordings", [])]:
            if k in first:
                uf.union(first[k], i)
            else:
                first[k] = i
    for i, j, *_ in links:
        uf.union(i, j)
    members: dict[int, list[int]] = {}
    for i in range(len(rows)):
        members.setdefault(uf.find(i), []).append(i)
    for r in rows:
        r["family"] = family_of(r["source"], r["kit"])
    heldout_by_link = 0
    strata: dict[str, dict[str, list[tuple[str, list[int]]]]] = {}
    for root, idx in members.items():
        gkey = min(rows[i]["path"] for i in idx)
        for i in idx:
            rows[i]["group"] = gkey
        if any(rows[i]["source"] in S.NEVER_TRAIN for i in idx):
            for i in idx:
                heldout_by_link += rows[i]["source"] not in S.NEVER_TRAIN
                rows[i]["split"] = "heldout"
            continue
        counts: dict[tuple, int] = {}
        for i in idx:
            k = (rows[i]["class"], rows[i]["family"])
            counts[k] = counts.get(k, 0) + 1
        cls, fam = max(sorted(counts), key=lambda k: counts[k])
        strata.setdefault(cls, {}).setdefault(fam, []).append((gkey, idx))

    def rank(g):
        return hashlib.sha256(f"{seed}:{g[0]}".encode()).hexdigest()

    def fill(groups, test, quota, chosen):
        """Adds groups (in order) to `chosen` while each brings `test` closer to `quota`."""
        for gkey, idx in groups:
            if gkey not in chosen and test < quota and abs(test + len(idx) - quota) < abs(test - quota):
                chosen.add(gkey)
                test += len(idx)
        return test

    for cls in sorted(strata):
        fams = {f: sorted(gs, key=rank) for f, gs in sorted(strata[cls].items())}
        chosen: set = set()
        test = 0
        for f, gs in fams.items():          # each family towards its own share
            test += fill(gs, 0, fraction * sum(len(idx) for _, idx in gs), chosen)
        total = sum(len(idx) for gs in fams.values() for _, idx in gs)
        order = sorted(((j, rank(g), g) for gs in fams.values() for j, g in enumerate(gs)),
                       key=lambda e: e[:2])  # then the class's share, families interleaved
        fill([g for _, _, g in order], test, int(round(fraction * total)), chosen)
        for gs in fams.values():
            for gkey, idx in gs:
                for i in idx:
                    rows[i]["split"] = "test" if gkey in chosen else "train"
    return dict(groups=len(members), heldout_by_link=heldout_by_link,
                largest_group=max((len(v) for v in members.values()), default=0))


def kit_links(rows: list[dict], links) -> list[dict]:
    """Pairs of kits that share recordings (PCM links), with the classes and counts."""
    pairs: dict[tuple, dict] = {}
    for i, j, c in links:
        a, b = rows[i], rows[j]
        ka, kb = (a["source"], a["kit"]), (b["source"], b["kit"])
        if ka == kb:
            continue
        key = tuple(sorted([ka, kb]))
        e = pairs.setdefault(key, dict(a=f"{key[0][0]}:{key[0][1]}", b=f"{key[1][0]}:{key[1][1]}",
                                       links=0, classes=set(), items=set(), min_corr=1.0))
        e["links"] += 1
        e["classes"].add(a["class"])
        e["items"].add((a["gm_note"] or a["instrument_name"]))
        e["min_corr"] = min(e["min_corr"], c)
    out = []
    for key, e in sorted(pairs.items()):
        fa, fb = family_of(*key[0]), family_of(*key[1])
        out.append(dict(a=e["a"], b=e["b"], links=e["links"], classes=sorted(e["classes"]),
                        items=len(e["items"]), min_corr=e["min_corr"], same_family=fa == fb))
    return out


# -- the build ------------------------------------------------------------------------

def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def build(out=None, sources=None, smoke: bool = False, seed: int = DEFAULT_SEED,
          workers: int | None = None, force: bool = False, log=print) -> dict:
    """Renders (or completes) <out>/drums/ and writes its manifest and build report.

    out: the data folder (default $TIMBREL_DATA/full, smoke: $TIMBREL_DATA/smoke).
    sources: names from DRUM_SOURCES (default: all, smoke: fluidr3); a missing one raises
    MissingDrumSources with the apt-get command."""
    out = Path(out) if out is not None else (S.smoke_root() if smoke else S.full_root())
    t0 = time.time()
    wanted = list(sources) if sources else (["fluidr3"] if smoke else list(DRUM_SOURCES))
    unknown = [n for n in wanted if n not in DRUM_SOURCES]
    if unknown:
        raise ValueError(f"unknown drum source(s) {unknown}; known: {list(DRUM_SOURCES)}")
    wanted = [n for n in DRUM_SOURCES if n in wanted]
    check_sources(wanted)
    drums = out / CORPUS
    drums.mkdir(parents=True, exist_ok=True)
    units, excluded_kits = plan(wanted, seed, smoke)
    workers = max(1, workers or render.workers_default())
    jobs = [(str(out), u, force) for u in units]
    results: dict[str, dict] = {}
    order = sorted(range(len(jobs)), key=lambda i: -len(units[i].params["hits"]))

    def show(i, r):
        log(f"  {r['status']:7s} {units[i].key:44s} {len(r['rows']):4d} hits {r['seconds']:6.1f} s")

    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {i: pool.submit(build_drum_unit, jobs[i]) for i in order}
            for i in order:
                results[units[i].key] = r = futures[i].result()
                show(i, r)
    else:
        for i in order:
            results[units[i].key] = r = build_drum_unit(jobs[i])
            show(i, r)

    # units of earlier builds into the same folder (other sources) stay in the manifest
    records = {u.key: results[u.key] for u in units}
    kept = []
    for rec_path in sorted(drums.glob("*/*/unit.json")):
        key = rec_path.parent.relative_to(out).as_posix()
        if key in records:
            continue
        try:
            rec = json.loads(rec_path.read_text())
        except json.JSONDecodeError:
            continue
        prm = rec.get("params", {})
        if (prm.get("version") != DRUMS_VERSION or prm.get("seed") != int(seed)
                or prm.get("smoke") != bool(smoke) or rec.get("source") not in DRUM_SOURCES
                or not all((out / f).exists() for f in rec.get("files", {}))):
            continue
        records[key] = dict(rec, status="kept", seconds=0.0)
        kept.append(key)
    src_order = list(DRUM_SOURCES)
    keys = sorted(records, key=lambda k: (src_order.index(records[k]["source"]),
                                          records[k]["params"].get("kit_program", 0), k))
    rows, duplicates = [], []
    seen: dict[tuple, str] = {}
    for k in keys:
        for r in records[k]["rows"]:
            r = dict(r)
            dkey = (r["source"], r["sha256"])
            if dkey in seen:                   # a kit variant playing a key exactly like another
                duplicates.append(f"{r['path']} = {seen[dkey]}")
                continue
            seen[dkey] = r["path"]
            rows.append(r)
    tl = time.time()
    links = pcm_links(drums, rows)
    link_seconds = round(time.time() - tl, 1)
    summary = assign_splits(rows, links, seed)

    row_fields = ("path", "source", "family", "kit", "class", "gm_note", "velocity",
                  "instrument_name", "split", "peak_dbfs", "rms_dbfs", "sha256", "group", "layer",
                  "onset_ms", "decay_s", "truncated")
    sources_info = {}
    for n in wanted + [records[k]["source"] for k in kept]:
        if n in sources_info:
            continue
        src = DRUM_SOURCES[n]
        sources_info[n] = dict(package=src.package, version=package_version(src.package),
                               title=src.title, role=src.role, path=src.path,
                               kits=sorted({r["kit"] for r in rows if r["source"] == n}),
                               families=sorted({r["family"] for r in rows if r["source"] == n}))
    manifest = dict(format=MANIFEST_FORMAT, sample_rate=SAMPLE_RATE, samples=DRUM_SAMPLES,
                    grain=GRAIN, hop=HOP, classes=list(CLASSES), seed=int(seed), smoke=bool(smoke),
                    version=DRUMS_VERSION, sources=sources_info,
                    rows=[{f: r.get(f) for f in row_fields} for r in rows])
    manifest_changed = _write_if_changed(drums / "manifest.json",
                                         json.dumps(manifest, indent=1, sort_keys=False) + "\n")

    report = dict(out=str(out), smoke=bool(smoke), seed=int(seed), workers=workers,
                  wall_seconds=round(time.time() - t0, 1), link_seconds=link_seconds,
                  sources=sources_info, apt_command=APT_COMMAND,
                  built=[k for k, r in results.items() if r["status"] == "built"],
                  skipped=[k for k, r in results.items() if r["status"] == "skipped"], kept=kept,
                  manifest_changed=manifest_changed, files=len(rows),
                  bytes=sum(records[k]["bytes"] for k in keys),
                  render_seconds=round(sum(records[k]["render_seconds"] for k in keys), 1),
                  counts=count_table(rows), stats=class_stats(rows), splits=summary,
                  dropped=[d for k in keys for d in records[k]["dropped"]],
                  duplicates=len(duplicates), duplicate_examples=duplicates[:10],
                  skipped_mappings={k: records[k].get("skipped", []) for k in keys
                                    if records[k].get("skipped")},
                  excluded_kits=excluded_kits, kit_links=kit_links(rows, links),
                  units={k: dict(status=records[k]["status"], hits=len(records[k]["rows"]),
                                 seconds=records[k]["seconds"]) for k in keys})
    # the timing of the last build that rendered something (a re-run that only skips would
    # report skip times)
    prev_path = drums / "build_report.json"
    prev = json.loads(prev_path.read_text()) if prev_path.exists() else {}
    report["last_render"] = (dict(wall_seconds=report["wall_seconds"], workers=workers,
                                  render_seconds=report["render_seconds"],
                                  built=len(report["built"]), skipped=len(report["skipped"]),
                                  kept=len(kept))
                             if report["built"] else prev.get("last_render"))
    prev_path.write_text(json.dumps(report, indent=1))
    return report


def count_table(rows) -> dict:
    """{class: {source: {train, test, heldout}}}."""
    out: dict = {}
    for r in rows:
        c = out.setdefault(r["class"], {}).setdefault(r["source"], {})
        c[r["split"]] = c.get(r["split"], 0) + 1
    return {c: out[c] for c in CLASSES if c in out}


def class_stats(rows) -> dict:
    """Per class: rows, median/min/max peak and rms (dBFS), onset (ms), decay (s), truncated."""
    out = {}
    for c in CLASSES:
        rs = [r for r in rows if r["class"] == c]
        if not rs:
            continue
        pk = np.array([r["peak_dbfs"] for r in rs])
        rm = np.array([r["rms_dbfs"] for r in rs])
        on = np.array([r["onset_ms"] for r in rs])
        dc = np.array([r["decay_s"] for r in rs])
        out[c] = dict(rows=len(rs), peak_median=round(float(np.median(pk)), 1),
                      peak_min=round(float(pk.min()), 1), peak_max=round(float(pk.max()), 1),
                      rms_median=round(float(np.median(rm)), 1), onset_ms_max=round(float(on.max()), 2),
                      decay_median=round(float(np.median(dc)), 2),
                      truncated=round(float(np.mean([r["truncated"] for r in rs])), 2),
                      clipped_rows=int(sum(r.get("clipped", 0) > 0 for r in rs)))
    return out


# -- report -----------------------------------------------------------------------------

BEGIN, END = "<!-- drums-measured:begin -->", "<!-- drums-measured:end -->"


def report_markdown(report: dict) -> str:
    srcs = [n for n in DRUM_SOURCES if n in report["sources"]]
    lr = report.get("last_render") or dict(wall_seconds=report["wall_seconds"],
                                           workers=report["workers"],
                                           render_seconds=report["render_seconds"],
                                           built=len(report["built"]),
                                           skipped=len(report["skipped"]), kept=len(report["kept"]))
    lines = [f"Measured by `timbrel.data drums` ({'smoke' if report['smoke'] else 'full'} build, "
             f"seed {report['seed']}), from `drums/build_report.json`: {report['files']} one-shots, "
             f"{report['bytes'] / 2**20:.0f} MiB. The last build that rendered took "
             f"{lr['wall_seconds']:.0f} s wall-clock with {lr['workers']} workers on this 2-core "
             f"machine ({lr['built']} units built, {lr['skipped']} skipped; "
             f"{lr['render_seconds']:.0f} s of rendering summed over units); finding the shared "
             f"recordings takes {report['link_seconds']:.0f} s.", "",
             "One-shots per class and source (train / test / heldout):", "",
             "| class | " + " | ".join(srcs) + " | all |", "|---" * (len(srcs) + 2) + "|"]
    totals = {n: {} for n in srcs + ["all"]}
    for c, per in report["counts"].items():
        cells = []
        allc = {}
        for n in srcs:
            d = per.get(n, {})
            for s, v in d.items():
                allc[s] = allc.get(s, 0) + v
                totals[n][s] = totals[n].get(s, 0) + v
                totals["all"][s] = totals["all"].get(s, 0) + v
            cells.append(_split_cell(d))
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {_split_cell(allc)} |")
    lines.append("| **all** | " + " | ".join(_split_cell(totals[n]) for n in srcs + ["all"]) + " |")
    lines += ["", "Sources: " + "; ".join(
        f"`{n}` {s['package']} {s['version']} ({s['role']}; {len(s['kits'])} kit"
        f"{'s' if len(s['kits']) != 1 else ''} with hits)" for n, s in report["sources"].items()) + "."]
    lines += ["", "Per class (peak and rms over the 1.58 s clip, dBFS; onset: the first sample within "
                  "30 dB of the peak; decay: until the 10 ms rms stays 40 dB under its maximum; "
                  "truncated: share of hits that sound (within 60 dB of their peak) past the clip; "
                  "clipped: hits with samples beyond full scale):", "",
              "| class | rows | peak median (min..max) | rms median | onset max (ms) | decay median (s) "
              "| truncated | clipped |", "|---|---|---|---|---|---|---|---|"]
    for c, s in report["stats"].items():
        lines.append(f"| {c} | {s['rows']} | {s['peak_median']} ({s['peak_min']}..{s['peak_max']}) | "
                     f"{s['rms_median']} | {s['onset_ms_max']} | {s['decay_median']} | "
                     f"{s['truncated']} | {s['clipped_rows']} |")
    sp = report["splits"]
    lines += ["", f"Split groups: {sp['groups']} (largest {sp['largest_group']} rows: the held-out "
                  f"fonts' shared recordings); {sp['heldout_by_link']} rows of training sources are "
                  f"`heldout` because they play a held-out font's recording. Identical renders left "
                  f"out: {report['duplicates']} (kit variants playing a key exactly like an earlier "
                  f"kit); dropped as silent: {sum('silent' in d for d in report['dropped'])}."]
    kl = report.get("kit_links") or []
    def src(k):
        return k.split(":")[0]

    held = [e for e in kl if src(e["a"]) in S.NEVER_TRAIN and src(e["b"]) in S.NEVER_TRAIN]
    shown = [e for e in kl if e not in held and (src(e["a"]) != src(e["b"]) or src(e["a"]) == "hydrogen"
                                                 or not e["same_family"])]
    summed: dict[str, list] = {}
    for e in kl:
        if e not in shown:
            summed.setdefault("held-out fonts (" + ", ".join(n for n in S.NEVER_TRAIN) + ")"
                              if e in held else src(e["a"]), []).append(e)
    if kl:
        lines += ["", f"Kits sharing recordings (one-shots of one class whose first {LINK_SAMPLES} "
                      f"samples after the onset correlate >= {LINK_CORR} within +-{LINK_LAG} samples; "
                      f"every such pair is in one split group):", "",
                  "| kit | kit | linked pairs | keys/instruments | classes | min corr | same family |",
                  "|---|---|---|---|---|---|---|"]
        for e in shown:
            lines.append(f"| {e['a']} | {e['b']} | {e['links']} | {e['items']} | "
                         f"{', '.join(e['classes'])} | {e['min_corr']} | "
                         f"{'yes' if e['same_family'] else '**no**'} |")
        for who, es in summed.items():
            lines.append(f"| {who}: {len(es)} pair{'s' if len(es) != 1 else ''} of their kits | | "
                         f"{sum(e['links'] for e in es)} | "
                         f"{sum(e['items'] for e in es)} | "
                         f"{', '.join(sorted({c for e in es for c in e['classes']}))} | "
                         f"{min(e['min_corr'] for e in es)} | yes |")
    lines += ["", "Class mapping (from `drum_classes.py`):", "", class_table_markdown()]
    return "\n".join(lines)


def _split_cell(d: dict) -> str:
    if not d:
        return "-"
    return " / ".join(str(d.get(s, 0)) for s in ("train", "test", "heldout"))


def write_readme(text: str, readme: Path) -> bool:
    body = readme.read_text()
    if BEGIN not in body or END not in body:
        raise RuntimeError(f"{readme} has no {BEGIN} ... {END} section")
    head, rest = body.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    return True
