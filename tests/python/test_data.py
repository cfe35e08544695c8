"""The corpus generator: instrument table, phrases, MIDI, smoke build, manifests, splits, pack.

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python
"""

import csv
import json

import mido
import numpy as np
import pytest

from timbrel.data import build as B
from timbrel.data import phrases as PH
from timbrel.data.audio import read_wav, sha256_file
from timbrel.data.bundle import load_bundle, pack
from timbrel.data.corpus import read_manifest
from timbrel.data.instruments import (DYNAMICS, INSTRUMENTS, NOTE_INSTRUMENTS,
                                      PERFORMANCE_INSTRUMENTS, octave, pitch_class, pitch_name)
from timbrel.data.midi import Timeline

# DESIGN.md §4's General MIDI programs
GM = {"piano": 0, "violin": 40, "viola": 41, "cello": 42, "contrabass": 43, "trumpet": 56,
      "trombone": 57, "french_horn": 60, "alto_sax": 65, "oboe": 68, "english_horn": 69,
      "bassoon": 70, "clarinet": 71, "flute": 73}


def test_instrument_table():
    assert len(NOTE_INSTRUMENTS) == 12 and len(PERFORMANCE_INSTRUMENTS) == 13
    for name, program in GM.items():
        assert INSTRUMENTS[name].programs == (program,)
    assert INSTRUMENTS["voice"].programs == (52, 53)
    for inst in INSTRUMENTS.values():
        assert 21 <= inst.low < inst.high <= 108
    assert DYNAMICS == {"pp": 40, "mf": 80, "ff": 120}
    assert (pitch_name(60), pitch_class(61), octave(60), octave(59)) == ("C4", 1, 4, 3)


def test_phrases_are_seeded_and_in_range():
    for name in PERFORMANCE_INSTRUMENTS:
        inst = INSTRUMENTS[name]
        a = [PH.generate_phrase(np.random.default_rng(5), inst) for _ in range(1)][0]
        b = PH.generate_phrase(np.random.default_rng(5), inst)
        assert a.params() == b.params()
        assert [(n.onset, n.pitch) for n in a.notes] == [(n.onset, n.pitch) for n in b.notes]
        rng = np.random.default_rng(1)
        for _ in range(20):
            ph = PH.generate_phrase(rng, inst, max_duration=25.0)
            assert all(inst.low <= n.pitch <= inst.high for n in ph.notes)
            assert ph.duration <= 25.0 + 1e-6
            assert all(n.duration >= 0.08 - 1e-9 for n in ph.notes)


def test_phrase_kinds_articulations_and_vibrato():
    inst = INSTRUMENTS["violin"]
    rng = np.random.default_rng(3)
    phrases = [PH.generate_phrase(rng, inst) for _ in range(200)]
    assert {p.kind for p in phrases} == set(PH.KINDS)
    assert {p.articulation for p in phrases} == set(PH.ARTICULATIONS)
    assert {p.dynamic for p in phrases} == set(DYNAMICS)
    legato = [p for p in phrases if p.articulation == "legato" and p.kind != "long_tones"]
    overlaps = sum(a.onset + a.duration > b.onset
                   for p in legato for a, b in zip(p.notes, p.notes[1:]))
    assert overlaps > 0                           # legato notes overlap the next one
    vib = [p for p in phrases if p.vibrato_rate > 0]
    assert 0.4 < len(vib) / len(phrases) < 0.8    # violin's vibrato probability 0.6
    bends = PH.vibrato_bends(next(p for p in vib if p.kind == "long_tones"))
    values = np.array([b for _, b in bends])
    assert values.min() < 0 < values.max() and np.abs(values).max() <= PH.cents_to_bend(45) + 1
    curve = PH.expression_curve(next(p for p in phrases if p.expression == "crescendo"))
    assert curve[0][1] < curve[-1][1]


def test_midi_file_sets_bend_range_and_controllers(tmp_path):
    ph = PH.generate_phrase(np.random.default_rng(0), INSTRUMENTS["cello"])
    tl = Timeline()
    PH.schedule(tl, ph, 0.2)
    tl.save(tmp_path / "p.mid")
    msgs = [m for m in mido.MidiFile(tmp_path / "p.mid") if not m.is_meta]
    ccs = [(m.control, m.value) for m in msgs if m.type == "control_change"]
    i = ccs.index((101, 0))
    assert ccs[i:i + 4] == [(101, 0), (100, 0), (6, 2), (38, 0)]     # RPN 0: +-2 semitones
    assert any(c == 11 for c, _ in ccs)
    assert msgs[0].type == "program_change" and msgs[0].program == 42
    ons = [m for m in msgs if m.type == "note_on" and m.velocity > 0]
    assert len(ons) == len(ph.notes)


def test_note_split_is_stratified():
    rows = [dict(dynamics=d, i=i) for d in DYNAMICS for i in range(40)]
    B._note_split(rows, np.random.default_rng(0), 0.2)
    for d in DYNAMICS:
        assert sum(r["split"] == "test" for r in rows if r["dynamics"] == d) == 8


def test_phrase_split_by_duration():
    rows = [dict(duration_s=float(d)) for d in np.random.default_rng(0).uniform(3, 25, 50)]
    B._phrase_split(rows, np.random.default_rng(1), 0.15)
    total = sum(r["duration_s"] for r in rows)
    test = sum(r["duration_s"] for r in rows if r["split"] == "test")
    assert 0.15 <= test / total < 0.15 + 25 / total
    assert {r["split"] for r in rows} == {"train", "test"}


# --- the smoke corpus ----------------------------------------------------------

def test_smoke_manifests(smoke_corpus):
    notes = read_manifest(smoke_corpus, "notes")
    assert list(notes[0])[:11] == list(B.NOTE_MANIFEST_COLUMNS)[:11]
    assert {r["instrument"] for r in notes} == set(NOTE_INSTRUMENTS)
    assert len(notes) == 5 * 12
    for r in notes:
        assert r["duration_s"] >= 1.5
        assert r["pitch_class"] == r["midi_pitch"] % 12 and r["octave"] == r["midi_pitch"] // 12 - 1
        assert r["velocity"] == DYNAMICS[r["dynamics"]]
    perf = read_manifest(smoke_corpus, "performance")
    assert sorted(r["instrument"] for r in perf) == sorted(PERFORMANCE_INSTRUMENTS)
    assert all(3.0 <= r["duration_s"] <= 6.5 for r in perf)
    assert {r["program"] for r in perf if r["instrument"] == "voice"} <= {52, 53}
    voice = read_manifest(smoke_corpus, "voice")
    assert len(voice) == 3 and {r["kind"] for r in voice} == {"vowels", "hums", "sirens"}


def test_smoke_files_match_checksums_and_format(smoke_corpus):
    manifest = json.loads((smoke_corpus / "manifest.json").read_text())
    files = {f: h for u in manifest["units"].values() for f, h in u["files"].items()}
    assert len(files) > 60
    for rel, digest in files.items():
        assert sha256_file(smoke_corpus / rel) == digest, rel
    x, sr = read_wav(smoke_corpus / next(f for f in files if f.endswith(".wav")))
    assert sr == 22050 and x.ndim == 1
    peaks = [float(np.abs(read_wav(smoke_corpus / f)[0]).max()) for f in files if f.endswith(".wav")]
    assert max(peaks) < 0.99 and min(peaks) > 0.01          # no clipping, nothing silent


def test_rebuild_skips_and_output_is_deterministic(smoke_corpus, tmp_path):
    report = B.build(smoke_corpus, smoke=True, workers=1, log=lambda *_: None)
    assert report["built"] == [] and len(report["skipped"]) == report["corpora"]["notes"]["units"] + 13 + 3
    # a fresh render of two units gives byte-identical files
    other = B.build(tmp_path / "again", smoke=True, corpora=("notes", "performance"),
                    instruments=["flute"], workers=1, log=lambda *_: None)
    assert sorted(other["built"]) == ["notes/flute", "performance/flute"]
    for unit in ("notes/flute", "performance/flute"):
        a = json.loads((smoke_corpus / unit / "unit.json").read_text())["files"]
        b = json.loads((tmp_path / "again" / unit / "unit.json").read_text())["files"]
        assert a == b


def test_changed_file_is_rebuilt(smoke_corpus, tmp_path):
    B.build(tmp_path, smoke=True, corpora=("notes",), instruments=["oboe"], workers=1,
            log=lambda *_: None)
    victim = next((tmp_path / "notes" / "oboe").glob("*.wav"))
    victim.write_bytes(victim.read_bytes()[:-100])
    report = B.build(tmp_path, smoke=True, corpora=("notes",), instruments=["oboe"], workers=1,
                     log=lambda *_: None)
    assert report["built"] == ["notes/oboe"]


def test_pack_splits_into_parts_and_round_trips(smoke_corpus, tmp_path):
    summary = pack(smoke_corpus, tmp_path / "bundle", corpora=("performance", "voice"),
                   max_mib=0.6, log=lambda *_: None)
    assert len(summary["parts"]) >= 3
    for part in summary["parts"]:
        size = sum(f.stat().st_size for f in (tmp_path / "bundle" / part["part"]).iterdir())
        assert size <= 0.6 * 2 ** 20
    items = load_bundle(tmp_path / "bundle")
    assert len(items) == 13 + 3
    perf = {r["file"]: r for r in read_manifest(smoke_corpus, "performance")}
    it = next(i for i in items if i["corpus"] == "performance")
    x, _ = read_wav(smoke_corpus / it["file"])
    np.testing.assert_array_equal(np.asarray(it["audio"]), np.round(x * 32768).astype(np.int16))
    assert it["split"] == perf[it["file"]]["split"]
    one = load_bundle(tmp_path / "bundle" / summary["parts"][0]["part"])
    assert 0 < len(one) < len(items)


def test_cli_entry_points(smoke_corpus, tmp_path, capsys):
    from timbrel.data.__main__ import main
    assert main(["report", "--data", str(smoke_corpus)]) == 0
    assert "| performance | 13 |" in capsys.readouterr().out
    assert main(["pack", "--data", str(smoke_corpus), "--out", str(tmp_path / "b"),
                 "--instruments", "flute,oboe", "--splits", "test"]) == 0
    with open(tmp_path / "b" / "bundle.json") as f:
        assert json.load(f)["parts"][0]["items"] == 2
