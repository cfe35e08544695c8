"""Drum classes of the one-shot corpus and how every source's sounds map onto them.

Three ways in, one set of classes (CLASSES):

- General MIDI percussion keys (GM_NOTE_CLASSES): FluidR3, Freepats, TimGM6mb and csound's
  bank. A key is also checked against the names of the samples/patch it plays
  (`check_gm_note`): a kit whose key 59 plays "Orchcrash" or whose key 41 plays "Timpani"
  is not a ride or a tom there, and the key is dropped for that kit.
- avldrums' two SoundFonts are GM-like but not GM (key 48 is a hi-hat swish, 50/52/58 are
  choked cymbals, 64 a maraca): AVL_NOTE_CLASSES, read off their sample names.
- Recordings with names (hydrogen kits' instruments, layer files): `classify_name`, keyword
  rules over the name's words; anything it cannot place (or that it places in two classes)
  is skipped. Sonic Pi's samples: the explicit SONIC_PI_CLASSES table.

Only the standard library here (imported by the tests without numpy).
"""

from __future__ import annotations

import re

CLASSES = ("kick", "snare", "rim", "clap", "closed_hat", "open_hat", "tom", "ride", "crash",
           "cowbell", "tambourine", "shaker", "clave")

# GM percussion key -> class. Keys not listed are not in the corpus (GM_DROPPED says why).
GM_NOTE_CLASSES: dict[int, str] = {
    35: "kick", 36: "kick",
    37: "rim",
    38: "snare", 40: "snare",
    39: "clap",
    42: "closed_hat", 44: "closed_hat",            # 44: pedal hi-hat (foot-closed)
    46: "open_hat",
    41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom", 50: "tom",
    51: "ride", 53: "ride", 59: "ride",            # 53: ride bell
    49: "crash", 57: "crash", 52: "crash", 55: "crash",   # 52: Chinese cymbal, 55: splash
    56: "cowbell",
    54: "tambourine",
    69: "shaker", 70: "shaker", 82: "shaker",     # cabasa, maracas, shaker
    75: "clave",
}

GM_NOTE_NAMES: dict[int, str] = {
    27: "High Q", 28: "Slap", 29: "Scratch Push", 30: "Scratch Pull", 31: "Sticks",
    32: "Square Click", 33: "Metronome Click", 34: "Metronome Bell",
    35: "Acoustic Bass Drum", 36: "Bass Drum 1", 37: "Side Stick", 38: "Acoustic Snare",
    39: "Hand Clap", 40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi-Hat",
    43: "High Floor Tom", 44: "Pedal Hi-Hat", 45: "Low Tom", 46: "Open Hi-Hat",
    47: "Low-Mid Tom", 48: "Hi-Mid Tom", 49: "Crash Cymbal 1", 50: "High Tom",
    51: "Ride Cymbal 1", 52: "Chinese Cymbal", 53: "Ride Bell", 54: "Tambourine",
    55: "Splash Cymbal", 56: "Cowbell", 57: "Crash Cymbal 2", 58: "Vibraslap",
    59: "Ride Cymbal 2", 60: "Hi Bongo", 61: "Low Bongo", 62: "Mute Hi Conga",
    63: "Open Hi Conga", 64: "Low Conga", 65: "High Timbale", 66: "Low Timbale",
    67: "High Agogo", 68: "Low Agogo", 69: "Cabasa", 70: "Maracas", 71: "Short Whistle",
    72: "Long Whistle", 73: "Short Guiro", 74: "Long Guiro", 75: "Claves",
    76: "Hi Wood Block", 77: "Low Wood Block", 78: "Mute Cuica", 79: "Open Cuica",
    80: "Mute Triangle", 81: "Open Triangle", 82: "Shaker", 83: "Jingle Bell",
    84: "Bell Tree", 85: "Castanets", 86: "Mute Surdo", 87: "Open Surdo",
}

GM_DROPPED: dict[str, str] = {
    "27-34": "GS extras (high Q, slap, scratches, sticks, clicks, metronome): not drum-kit hits",
    "58": "vibraslap (a rattle, one per kit)",
    "60-68": "bongos, congas, timbales, agogos: hand percussion, fewer than 3 independent "
             "training sources outside the GM fonts",
    "71-74, 76-81, 83-87": "whistles, guiros, wood blocks, cuicas, triangles, jingle bell, "
                           "bell tree, castanets, surdos",
}

# avldrums.lv2's Black Pearl and Red Zeppelin SoundFonts (bank 0, preset 0): key -> class,
# from their sample names (e.g. "42-SabianRockHatCl-1"; the maraca samples, named
# "64-Maraca-1..5", sit on key 61).
AVL_NOTE_CLASSES: dict[int, str] = {
    36: "kick", 37: "rim", 38: "snare", 39: "clap", 40: "snare",   # 40: snare edge
    41: "tom", 43: "tom", 45: "tom", 47: "tom",                      # 43/47: tom edge
    42: "closed_hat", 44: "closed_hat", 46: "open_hat",              # 46: semi-open
    49: "crash", 55: "crash", 57: "crash",                           # 55: splash
    51: "ride", 53: "ride", 59: "ride",                              # 53: bell, 59: shank
    54: "tambourine", 56: "cowbell", 61: "shaker",                   # 61: maraca ("64-Maraca-1")
}
AVL_DROPPED = {48: "hi-hat swish", 50: "crash choke", 52: "ride choke", 58: "crash choke",
               60: "Paiste 2002 22\" (crash or china: the name does not say)"}

# Sonic Pi's samples (map by file name; first match wins). Everything else there is
# ambient, bass, loops, tabla, synth blips, vinyl, ...: not a drum-kit one-shot.
SONIC_PI_CLASSES: tuple[tuple[str, str], ...] = (
    (r"^bd_", "kick"), (r"^drum_bass_", "kick"), (r"^drum_heavy_kick$", "kick"),
    (r"^elec_(soft|hollow)_kick$", "kick"),
    (r"^sn_", "snare"), (r"^drum_snare_", "snare"), (r"^elec_(\w+_)?snare$", "snare"),
    (r"^drum_cymbal_(closed|pedal)$", "closed_hat"), (r"^drum_cymbal_open$", "open_hat"),
    (r"^drum_cymbal_(hard|soft)$", "crash"), (r"^drum_splash_", "crash"),
    (r"^drum_tom_", "tom"), (r"^elec_fuzz_tom$", "tom"),
    (r"^drum_cowbell$", "cowbell"),
)


SONIC_PI_TABLE = {"kick": "bd_\\*, drum_bass_hard/soft, drum_heavy_kick, elec_soft_kick, elec_hollow_kick",
                  "snare": "sn_\\*, drum_snare_hard/soft, elec_snare, elec_hi/mid/lo/filt_snare",
                  "closed_hat": "drum_cymbal_closed, drum_cymbal_pedal",
                  "open_hat": "drum_cymbal_open",
                  "crash": "drum_cymbal_hard/soft, drum_splash_hard/soft",
                  "tom": "drum_tom_hi/mid/lo_hard/soft, elec_fuzz_tom", "cowbell": "drum_cowbell"}


def sonic_pi_class(stem: str) -> str | None:
    for pattern, cls in SONIC_PI_CLASSES:
        if re.search(pattern, stem):
            return cls
    return None


# -- names -> classes --------------------------------------------------------------

# Words that make a name *not* a plain hit of the class its other words name
# ("Snare Roll", "Crash Choke", "Hat Swish"), or a different instrument that
# shares a GM key in some kits (orchestra kits play timpani on the toms' keys).
EXCLUDE_WORDS = ("choke", "choked", "swish", "roll", "swirl", "ocean", "timpani", "timp",
                 "taiko", "castanet", "castanets", "conga", "bongo", "agogo", "cuica",
                 "whistle", "guiro", "triangle", "woodblock", "vibraslap", "applause",
                 "scratch", "metronome", "djembe", "cajon", "timbale")
HAT_WORDS = ("hat", "hh", "hihat", "hhat", "chh", "ohh")
CLOSED_WORDS = ("closed", "close", "cl", "clsd", "pedal", "ped", "pd", "foot", "chh", "tight")
OPEN_WORDS = ("open", "opened", "op", "semi", "semiopen", "half", "ohh")


def words(text: str) -> list[str]:
    """Lower-case words of a name: camelCase, letter/digit and punctuation boundaries split
    ("SabianHatClosed-Med" -> sabian hat closed med, "Crsh 1(L)" -> crsh 1 l)."""
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    s = re.sub(r"([A-Za-z])(\d)", r"\1 \2", s)
    s = re.sub(r"(\d)([A-Za-z])", r"\1 \2", s)
    return [w for w in re.split(r"[^a-z0-9]+", s.lower()) if w]


def _classes_of(ws: list[str]) -> set[str]:
    found = set()
    joined = " ".join(ws)
    has = set(ws)
    if has & {"kick", "kik", "bassdrum", "bd"} or "bass drum" in joined:
        found.add("kick")
    if any(w.startswith("snare") or w in ("snr", "sn", "sd") for w in ws):
        found.add("snare")
    if has & {"stick", "sidestick", "rim", "rimclick"}:
        found.add("rim")
    if any(w.startswith("clap") for w in ws) or "handclap" in has:
        found.add("clap")
    if has & set(HAT_WORDS):
        closed = bool(has & set(CLOSED_WORDS))
        opened = bool(has & set(OPEN_WORDS))
        if closed != opened:
            found.add("closed_hat" if closed else "open_hat")
    if any((w.startswith("tom") and not w.startswith("tomb")) or w == "tm" for w in ws):
        found.add("tom")
    if has & {"ride", "rd", "cup"}:
        found.add("ride")
    if any("crash" in w or w in ("crsh", "splash", "china", "chinese") for w in ws):
        found.add("crash")
    if "cowbell" in has or "cow bell" in joined:
        found.add("cowbell")
    if any(w.startswith(("tambourin", "tamborin", "tombourin")) or w == "tamb" for w in ws):
        found.add("tambourine")
    if any(k in w for w in ws for k in ("maraca", "shake", "cabasa")):
        found.add("shaker")
    if any(w.startswith("clave") for w in ws):
        found.add("clave")
    # a snare hit on the rim ("Snare Rimshot") is a snare; a bell on the ride is the ride
    if "snare" in found:
        found.discard("rim")
    if "crash" in found and "ride" in found:
        return {"crash", "ride"}          # "Crash/Ride": ambiguous
    return found


def classify_name(text: str) -> tuple[str | None, str]:
    """(class, "") or (None, why): the class a name's words say, if exactly one."""
    ws = words(text)
    bad = [w for w in ws if w in EXCLUDE_WORDS]
    if bad:
        return None, f"excluded ({bad[0]})"
    found = _classes_of(ws)
    if not found:
        return None, "unmapped"
    if len(found) > 1:
        return None, "ambiguous (" + "/".join(sorted(found)) + ")"
    return found.pop(), ""


def check_gm_note(cls: str, sample_names) -> str:
    """"" if the sample/patch names a GM key plays agree with the key's class, else why not.
    A name that names no class (e.g. "Low Flr Studio", "Filter Snap") does not object;
    an excluded word ("Timpani", "Brush Swirl") or another class ("Orchcrash" on 59) does."""
    named = set()
    for name in sample_names:
        c, why = classify_name(re.sub(r"\((L|R)\)?$", "", name).strip())
        if why.startswith("excluded"):
            return f"sample '{name}' {why}"
        if c:
            named.add(c)
    if named and cls not in named:
        return f"samples name {'/'.join(sorted(named))}: " + ", ".join(sorted(set(sample_names)))
    return ""


def class_table_markdown() -> str:
    """The README's mapping table, from the dicts above."""
    def keys(d, cls):
        return ", ".join(str(k) for k in sorted(k for k, c in d.items() if c == cls)) or "-"
    lines = ["| class | GM keys (FluidR3, Freepats, TimGM6mb, csound) | avldrums keys | "
             "Sonic Pi files | hydrogen instrument names (keywords) |", "|---|---|---|---|---|"]
    kw = {"kick": "kick, bass drum, bd", "snare": "snare, snr, sn, sd (also snare rimshot)",
          "rim": "stick, side stick, rim (without snare)", "clap": "clap",
          "closed_hat": "hat/hh + closed/cl/pedal/pd/foot, chh",
          "open_hat": "hat/hh + open/op/semi/half, ohh", "tom": "tom\\*, tm",
          "ride": "ride, rd, cup", "crash": "crash, crsh, splash, china",
          "cowbell": "cowbell", "tambourine": "tambourine", "shaker": "maraca, shake(r), cabasa",
          "clave": "clave"}
    for cls in CLASSES:
        gm = ", ".join(f"{k} {GM_NOTE_NAMES[k]}" for k in sorted(GM_NOTE_CLASSES)
                       if GM_NOTE_CLASSES[k] == cls)
        sp = SONIC_PI_TABLE.get(cls, "-")
        lines.append(f"| {cls} | {gm} | {keys(AVL_NOTE_CLASSES, cls)} | {sp} | {kw[cls]} |")
    return "\n".join(lines)
