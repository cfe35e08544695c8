"""The corpus generator: instrument table, phrases, MIDI, smoke build, manifests, splits,
sources (coverage, independence, the held-out font), the sampler, augmentation, pack.

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python
"""

import csv
import json

import mido
import numpy as np
import pytest

from timbrel.data import build as B
from timbrel.data import phrases as PH
from timbrel.data import sources as S
from timbrel.data.audio import read_wav, sha256_file
from timbrel.data.bundle import load_bundle, pack
from timbrel.data.corpus import heldout_rows, read_manifest, select, training_rows
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
    assert list(notes[0])[:13] == list(B.NOTE_MANIFEST_COLUMNS)[:13]
    assert {r["instrument"] for r in notes} == set(NOTE_INSTRUMENTS)
    assert {r["source"] for r in notes} == {"fluidr3"}                  # SMOKE_SOURCES
    assert all(r["file"].startswith(f"notes/fluidr3/{r['instrument']}/") for r in notes)
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
    assert {r["source"] for r in voice} == {"espeak-ng"}


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
    assert sorted(other["built"]) == ["notes/fluidr3/flute", "performance/fluidr3/flute"]
    for unit in ("notes/fluidr3/flute", "performance/fluidr3/flute"):
        a = json.loads((smoke_corpus / unit / "unit.json").read_text())["files"]
        b = json.loads((tmp_path / "again" / unit / "unit.json").read_text())["files"]
        assert a == b


def test_changed_file_is_rebuilt(smoke_corpus, tmp_path):
    B.build(tmp_path, smoke=True, corpora=("notes",), instruments=["oboe"], workers=1,
            log=lambda *_: None)
    victim = next((tmp_path / "notes" / "fluidr3" / "oboe").glob("*.wav"))
    victim.write_bytes(victim.read_bytes()[:-100])
    report = B.build(tmp_path, smoke=True, corpora=("notes",), instruments=["oboe"], workers=1,
                     log=lambda *_: None)
    assert report["built"] == ["notes/fluidr3/oboe"]


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


# --- sources, coverage and the held-out font ------------------------------------------

def test_heldout_constant_and_split_helpers():
    assert S.HELDOUT_SOURCE == "timgm6mb" and S.HELDOUT_SOURCE in S.NEVER_TRAIN
    assert not set(S.NEVER_TRAIN) & set(S.TRAINING_SOURCES)
    assert set(S.NEVER_TRAIN) | set(S.TRAINING_SOURCES) == set(S.SOURCES)
    assert S.REFERENCE_SOURCE in S.TRAINING_SOURCES
    # the split helpers never give a held-out row `train`, and keep the planned split
    for source in S.NEVER_TRAIN:
        rows = [dict(dynamics=d, i=i) for d in DYNAMICS for i in range(40)]
        B._note_split(rows, np.random.default_rng(0), 0.2, source)
        assert {r["split"] for r in rows} == {"heldout"}
        assert sum(r["plan_split"] == "test" for r in rows) == 24
        rows = [dict(duration_s=float(d)) for d in np.random.default_rng(0).uniform(3, 25, 50)]
        B._phrase_split(rows, np.random.default_rng(1), 0.15, source)
        assert {r["split"] for r in rows} == {"heldout"}
        assert {r["plan_split"] for r in rows} == {"train", "test"}
    # the same draw gives a training source the same plan, with split = plan_split
    a = [dict(duration_s=float(d)) for d in np.random.default_rng(0).uniform(3, 25, 50)]
    b = [dict(r) for r in a]
    B._phrase_split(a, np.random.default_rng(1), 0.15, "freepats")
    B._phrase_split(b, np.random.default_rng(1), 0.15, S.HELDOUT_SOURCE)
    assert [r["split"] for r in a] == [r["plan_split"] for r in b]


def test_select_train_drops_heldout_rows_of_a_stale_manifest(tmp_path):
    """Even a manifest that (wrongly) says `train` for a held-out row cannot feed a trainer."""
    d = tmp_path / "performance"
    d.mkdir()
    with open(d / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["source", "instrument", "split", "plan_split", "file",
                                          "duration_s"])
        w.writeheader()
        for src in ("fluidr3", "freepats", "timgm6mb", "csound_gm"):
            for split in ("train", "test", "heldout"):
                w.writerow(dict(source=src, instrument="flute", split=split, plan_split="test",
                                file=f"{src}-{split}.wav", duration_s=1.0))
    rows = read_manifest(tmp_path, "performance", sources="all")
    assert {r["source"] for r in select(rows, "train")} == {"fluidr3", "freepats"}
    assert {r["source"] for r in training_rows(tmp_path, "performance")} == {"fluidr3", "freepats"}
    assert {r["source"] for r in training_rows(tmp_path, "performance", split="test")} == {
        "fluidr3", "freepats"}
    held = heldout_rows(tmp_path, "performance")
    assert {r["source"] for r in held} == set(S.NEVER_TRAIN) and {r["split"] for r in held} == {"heldout"}
    assert [r["source"] for r in heldout_rows(tmp_path, "performance", source="timgm6mb")] == ["timgm6mb"]
    with pytest.raises(ValueError):
        heldout_rows(tmp_path, "performance", source="fluidr3")
    # the default view is the reference source only (what every consumer read before)
    assert {r["source"] for r in read_manifest(tmp_path, "performance")} == {"fluidr3"}


def test_old_manifest_without_source_column_reads_as_fluidr3(tmp_path):
    d = tmp_path / "notes"
    d.mkdir()
    (d / "manifest.csv").write_text("instrument,program,split,file\nflute,73,train,notes/flute/a.wav\n")
    rows = read_manifest(tmp_path, "notes")
    assert rows[0]["source"] == "fluidr3" and rows[0]["plan_split"] == "train"


def _need(*names):
    missing = [n for n in names if S.SOURCES[n].locate() is None]
    if missing:
        pytest.skip(f"not installed: {missing} (scripts/setup.sh; `timbrel.data vendor`)")


def test_sf2_preset_tables_and_shared_samples():
    _need("timgm6mb", "fluidr3")
    gm = {p for i in INSTRUMENTS.values() for p in i.programs}
    for name in ("fluidr3", "timgm6mb"):
        assert gm <= set(S.declared_programs(name))        # full coverage of the corpora
    # TimGM6mb's viola plays the violin's samples (a limit for any judge on it)
    assert S.shared_samples("timgm6mb", [40, 41, 42]) == {40: [41], 41: [40], 42: []}
    assert S.shared_samples("fluidr3", [40, 41, 42]) == {40: [], 41: [], 42: []}


def test_freepats_coverage_and_no_silent_fallback(tmp_path):
    """Freepats lacks viola, contrabass and choir aahs; Debian's timidity would quietly
    play FluidR3 for them, which render_timidity refuses."""
    _need("freepats")
    from timbrel.data.render import render_midi
    declared = S.declared_programs("freepats")
    assert {41, 43, 52} & set(declared) == set()
    assert {0, 40, 42, 53, 56, 57, 60, 65, 68, 69, 70, 71, 73} <= set(declared)
    tl = Timeline()
    tl.reset(0.0, 41)
    tl.note(0.1, 0.5, 60, 80)
    tl.save(tmp_path / "viola.mid")
    with pytest.raises(RuntimeError, match="fell back"):
        render_midi(tmp_path / "viola.mid", "freepats")
    cov = S.probe_coverage("freepats", {41: 60, 73: 72})
    assert cov[41]["covered"] is False and cov[41]["declared"] is False
    assert cov[73]["covered"] is True and cov[73]["level_db"] > S.COVERAGE_FLOOR_DB


@pytest.mark.parametrize("source", ["fluidr3", "freepats"])
def test_a_render_keeps_the_midi_timing(tmp_path, source):
    """A note 0.5 s into the MIDI sounds 0.5 s into the render (timidity drops the leading
    silence unless told not to, which put the Freepats phrases 0.1-0.23 s early)."""
    _need(source)
    from timbrel.data.render import render_midi
    tl = Timeline()
    tl.reset(0.0, 73)
    tl.note(0.5, 0.5, 72, 100)
    tl.save(tmp_path / "late.mid")
    x = render_midi(tmp_path / "late.mid", source)
    env = np.sqrt(np.convolve(x.astype(np.float64) ** 2, np.ones(64) / 64, "same"))
    onset = np.argmax(env > 0.1 * env.max()) / 22050
    assert 0.48 <= onset <= 0.56, onset


def test_csound_bank_is_not_independent_of_the_heldout_font():
    """The reason csound_gm is in NEVER_TRAIN: identical PCM recordings. And no training
    source plays a held-out recording for any class of the classifier."""
    _need("timgm6mb", "csound_gm", "fluidr3", "freepats")
    assert len(S.pcm_overlap("csound_gm", S.HELDOUT_SOURCE)) > 100
    for src in S.SAME_SAMPLES_AS_HELDOUT:
        assert src in S.NEVER_TRAIN
    classes = sorted({p for n in PERFORMANCE_INSTRUMENTS for p in INSTRUMENTS[n].programs})
    for src in S.TRAINING_SOURCES:
        if S.SOURCES[src].kind == "samples":
            continue                                     # OGG recordings: never PCM-identical
        shared = {p: v for p, v in S.program_overlap(src, S.HELDOUT_SOURCE, classes).items() if v[0]}
        assert shared == {}, f"{src} plays held-out recordings for programs {shared}"


@pytest.fixture(scope="module")
def multi_source(tmp_path_factory):
    """A tiny build from every installed source: flute (notes + a phrase), viola (a phrase),
    piano (notes: Salamander's only instrument)."""
    root = tmp_path_factory.mktemp("multi")
    report = B.build(root, smoke=True, sources=list(S.SOURCES), corpora=("notes", "performance"),
                     instruments=["flute", "viola", "piano"], workers=2, log=lambda *_: None)
    return root, report


def test_multi_source_build(multi_source):
    root, report = multi_source
    have = S.available()
    assert report["sources"] == have
    notes = read_manifest(root, "notes", sources="all")
    perf = read_manifest(root, "performance", sources="all")
    assert {r["source"] for r in perf} == set(have) - {"salamander"}
    for r in notes + perf:                     # per-source folders, held-out rows never train
        assert r["file"].startswith(f"{'notes' if 'midi_pitch' in r else 'performance'}/"
                                    f"{r['source']}/{r['instrument']}/")
        assert (r["split"] == "heldout") == (r["source"] in S.NEVER_TRAIN)
        assert r["split"] in ("heldout", r["plan_split"])
    # the same MIDI in every source: identical .mid files, identical planned splits
    phrases = {}
    for r in perf:
        phrases.setdefault((r["instrument"], r["phrase"]), []).append(r)
    for (inst, _), rs in phrases.items():
        assert len({sha256_file(root / r["midi"]) for r in rs}) == 1
        assert len({r["plan_split"] for r in rs}) == 1
        assert len({r["duration_s"] for r in rs}) == 1
    cov = json.loads((root / "coverage.json").read_text())["sources"]
    if "freepats" in have:
        assert cov["freepats"]["41"]["covered"] is False          # no viola patch ...
        assert not any(r["source"] == "freepats" and r["instrument"] == "viola" for r in perf)
        assert "performance/freepats/viola" not in report["units"]  # ... so no unit
    if "salamander" in have:
        assert {r["instrument"] for r in notes if r["source"] == "salamander"} == {"piano"}
        assert [p for p, c in cov["salamander"].items() if c["covered"]] == ["0"]
    # every file is non-silent (the build drops silent renders)
    for r in notes + perf:
        x, _ = read_wav(root / r["file"])
        assert np.abs(x).max() > 10 ** (B.SILENT_PEAK_DB / 20)


def test_timidity_and_sampler_renders_are_deterministic(multi_source, tmp_path):
    root, _ = multi_source
    units = [u for u in ("notes/freepats/flute", "notes/salamander/piano") if (root / u).exists()]
    if not units:
        pytest.skip("neither freepats nor the Salamander samples are installed")
    srcs = sorted({u.split("/")[1] for u in units})
    insts = sorted({u.split("/")[2] for u in units})
    B.build(tmp_path, smoke=True, sources=srcs, corpora=("notes",), instruments=insts, workers=1,
            log=lambda *_: None)
    for u in units:
        a = json.loads((root / u / "unit.json").read_text())["files"]
        b = json.loads((tmp_path / u / "unit.json").read_text())["files"]
        assert a == b


def test_building_one_source_keeps_the_others_in_the_manifest(multi_source, tmp_path):
    root, _ = multi_source
    import shutil
    shutil.copytree(root, tmp_path / "c")
    before = read_manifest(tmp_path / "c", "performance", sources="all")
    rep = B.build(tmp_path / "c", smoke=True, sources=["fluidr3"], corpora=("performance",),
                  instruments=["flute", "viola", "piano"], workers=1, log=lambda *_: None)
    assert rep["built"] == [] and rep["kept"]
    after = read_manifest(tmp_path / "c", "performance", sources="all")
    assert sorted(r["file"] for r in after) == sorted(r["file"] for r in before)


# --- the Salamander sampler, on synthetic recordings ------------------------------------

def test_sampler_pitch_level_and_release(tmp_path):
    """Sine 'recordings' at A4 and C5 (every third key, as Salamander): a note between them
    is the nearest one re-pitched by a semitone; velocity sets the level; note-off decays."""
    from scipy.io import wavfile
    from timbrel.data import sampler
    sr = 22050
    t = np.arange(int(3.0 * sr)) / sr
    folder = tmp_path / "samples"
    folder.mkdir()
    for name, midi in (("A4", 69), ("C5", 72)):
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        wavfile.write(str(folder / f"{name}v10.wav"), sr, (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32))
    assert S.salamander_samples(folder) == {69: folder / "A4v10.wav", 72: folder / "C5v10.wav"}
    tl = Timeline()
    tl.reset(0.0, 0)
    tl.note(0.1, 1.0, 70, 120)        # A#4: A4 up one semitone
    tl.note(1.6, 1.0, 71, 40)         # B4: C5 down one semitone, pp
    tl.save(tmp_path / "n.mid", end_s=3.0)
    x = sampler.render(tmp_path / "n.mid", folder)

    def peak_hz(seg):
        w = np.hanning(len(seg))
        spec = np.abs(np.fft.rfft(seg * w, 1 << 18))
        k = int(np.argmax(spec))
        a, b, c = np.log(spec[k - 1:k + 2])
        return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (1 << 18)

    for (a, b), midi in (((0.3, 1.0), 70), ((1.8, 2.5), 71)):
        f = peak_hz(x[int(a * sr):int(b * sr)])
        want = 440.0 * 2 ** ((midi - 69) / 12)
        assert abs(1200 * np.log2(f / want)) < 1.0                  # 89/84 is 0.1 cent sharp
    rms = lambda a, b: 10 * np.log10(np.mean(x[int(a * sr):int(b * sr)] ** 2) + 1e-30)
    assert rms(0.3, 1.0) - rms(1.8, 2.5) == pytest.approx(40 * np.log10(3), abs=0.3)   # (120/40)^2
    # released at 1.1 s: -8.69 dB per time constant (80 ms), so ~24 dB down 0.2-0.25 s later
    assert rms(0.9, 1.0) - rms(1.3, 1.35) == pytest.approx(8.69 * 0.225 / sampler.RELEASE_TAU_S, abs=3)
    assert rms(0.0, 0.09) < -100                                   # nothing before the note


# --- room and microphone augmentation --------------------------------------------------

def test_augmentation_room_tilt_noise_gain():
    import torch
    from timbrel.train import augment as A
    gen = torch.Generator().manual_seed(0)
    # room responses decay by 60 dB over the drawn RT60, with the drawn DRR
    h = A.room_responses(gen, 3, rt60=[0.1, 0.3, 0.6], drr_db=[0.0, 6.0, 12.0]).numpy()
    for row, rt, drr in zip(h, (0.1, 0.3, 0.6), (0.0, 6.0, 12.0)):
        assert row[0] == 1.0
        assert A.measured_rt60(row) == pytest.approx(rt, rel=0.1)
        assert 10 * np.log10(1.0 / np.sum(row[1:] ** 2)) == pytest.approx(drr, abs=1e-6)
    # tilt: +6 dB per decade above 1 kHz, -6 dB a decade below
    x = torch.randn(1, 1 << 16, generator=gen) * 0.05
    cfg = A.AugmentConfig(p_room=0, p_noise=0, p_tilt=1, tilt_db_per_decade=(6.0, 6.0), gain_db=(0, 0))
    y = A.augment(x, gen, cfg)[0].numpy()
    ratio = np.abs(np.fft.rfft(y)) ** 2 / (np.abs(np.fft.rfft(x[0].numpy())) ** 2 + 1e-20)
    f = np.fft.rfftfreq(1 << 16, 1 / 22050)
    for fc, db in ((100, -6.0), (1000, 0.0), (10000, 6.0)):
        band = (f > 0.9 * fc) & (f < 1.1 * fc)
        assert 10 * np.log10(ratio[band].mean()) == pytest.approx(db, abs=0.3)
    # noise floor: SNR within the drawn -60..-35 dB
    sine = torch.sin(2 * np.pi * 440 * torch.arange(22050) / 22050)[None].repeat(64, 1) * 0.3
    cfg = A.AugmentConfig(p_room=0, p_tilt=0, p_noise=1, gain_db=(0, 0))
    y, prm = A.augment(sine, gen, cfg, return_params=True)
    noise_db = 10 * np.log10(((y - sine) ** 2).mean(1) / (sine ** 2).mean(1)).numpy()
    np.testing.assert_allclose(noise_db, prm["noise_db"].numpy(), atol=0.5)
    assert noise_db.min() >= -61 and noise_db.max() <= -34
    # gain, then never above 0.99
    cfg = A.AugmentConfig(p_room=0, p_tilt=0, p_noise=0)
    y, prm = A.augment(sine, gen, cfg, return_params=True)
    got = 20 * np.log10(y.abs().amax(1) / sine.abs().amax(1)).numpy()
    want = np.minimum(prm["gain_db"].numpy(), 20 * np.log10(0.99 / 0.3))
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert float(y.abs().max()) <= 0.99 + 1e-6


def test_augmentation_is_seeded_and_keep_matches_the_full_convolution():
    import torch
    from timbrel.train import augment as A
    x = torch.randn(4, 4096 + A.context_for(), generator=torch.Generator().manual_seed(1)) * 0.1
    a = A.augment(x, torch.Generator().manual_seed(7))
    b = A.augment(x, torch.Generator().manual_seed(7))
    c = A.augment(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and A.augment(x[0], torch.Generator().manual_seed(7)).shape == x[0].shape
    # keep=4096: only the frame after the room's context, from a shorter FFT, same result
    cfg = A.AugmentConfig(p_room=1, p_tilt=1, p_noise=0, gain_db=(0, 0), peak=1e9)
    full = A.augment(x.double(), torch.Generator().manual_seed(3), cfg)[:, -4096:]
    kept = A.augment(x.double(), torch.Generator().manual_seed(3), cfg, keep=4096)
    assert kept.shape == (4, 4096)
    assert float((full - kept).abs().max()) < 1e-3 * float(full.abs().max())
    y = A.augment_np(x[0].numpy(), np.random.default_rng(0))
    assert y.dtype == np.float32 and y.shape == (x.shape[1],)


def test_performance_variation_shift_vibrato_tremolo():
    """The player's variations (augment.PERFORMANCE): a shifted sine lands on the drawn pitch,
    a vibrato swings by the drawn depth, a tremolo by the drawn level; off by default."""
    import torch
    from scipy.signal import hilbert
    from timbrel.train import augment as A
    assert A.DEFAULT.p_shift == A.DEFAULT.p_vibrato == A.DEFAULT.p_tremolo == 0.0
    sr = 22050
    t = torch.arange(3 * sr, dtype=torch.float64) / sr
    sine = (0.3 * torch.sin(2 * np.pi * 440 * t))[None].repeat(6, 1)
    quiet = dict(p_room=0.0, p_tilt=0.0, p_noise=0.0, gain_db=(0.0, 0.0), peak=1e9)
    gen = torch.Generator().manual_seed(2)

    def f0_of(seg):
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 1 << 19))
        k = int(np.argmax(spec))
        a, b, c = np.log(spec[k - 1:k + 2])
        return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (1 << 19)

    y, prm = A.augment(sine, gen, A.AugmentConfig(p_shift=1.0, **quiet), return_params=True)
    for row, cents in zip(y.numpy(), prm["shift_cents"].numpy()):
        assert abs(cents) <= 100.0
        assert 1200 * np.log2(f0_of(row[-sr:]) / 440) == pytest.approx(cents, abs=0.5)
    y, prm = A.augment(sine, gen, A.AugmentConfig(p_vibrato=1.0, vibrato_hz=(5.0, 5.0), **quiet),
                       return_params=True)
    for row, depth in zip(y.numpy(), prm["vibrato_cents"].numpy()):
        # instantaneous frequency from the analytic phase
        inst = np.diff(np.unwrap(np.angle(hilbert(row[sr // 2:-sr // 2])))) * sr / (2 * np.pi)
        swing = 1200 * np.log2(np.percentile(inst, 99) / np.percentile(inst, 1)) / 2
        assert swing == pytest.approx(depth, rel=0.15, abs=1.0)
    y, prm = A.augment(sine, gen, A.AugmentConfig(p_tremolo=1.0, tremolo_hz=(4.0, 4.0), **quiet),
                       return_params=True)
    for row, db in zip(y.numpy(), prm["tremolo_db"].numpy()):
        env = np.abs(hilbert(row))[sr // 2:-sr // 2]
        assert 20 * np.log10(env.max() / env.min()) == pytest.approx(db, abs=0.2)


def test_pack_all_sources(multi_source, tmp_path):
    from timbrel.data.__main__ import main
    root, _ = multi_source
    assert main(["pack", "--data", str(root), "--out", str(tmp_path / "b"), "--instruments", "flute",
                 "--sources", "all"]) == 0
    items = load_bundle(tmp_path / "b")
    have = set(S.available()) - {"salamander"}
    assert {i["source"] for i in items} == have
    for i in items:                       # one array per source (the reference keeps old names)
        assert (i["source"] in i["array"]) == (i["source"] != "fluidr3")
        assert (i["split"] == "heldout") == (i["source"] in S.NEVER_TRAIN)
