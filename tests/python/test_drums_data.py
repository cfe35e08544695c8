"""The drum one-shot corpus (timbrel.data.drums): class mapping, one-shot cutting, a smoke
build (FluidR3 + TimGM6mb, which scripts/setup.sh installs), splits, idempotency, and the
optional Debian drum packages (skipped with the reason when they are not installed)."""

import dataclasses
import json
import wave

import numpy as np
import pytest

from timbrel.data import drum_classes as C
from timbrel.data import drums as D
from timbrel.data import sources as S
from timbrel.data.audio import sha256_file


def _needs(name):
    src = D.DRUM_SOURCES[name]
    return pytest.mark.skipif(src.locate() is None,
                              reason=f"Debian package {src.package} is not installed "
                                     f"(optional; {D.APT_COMMAND})")


# -- mapping ------------------------------------------------------------------------

def test_class_mapping_covers_each_class():
    gm = set(C.GM_NOTE_CLASSES.values())
    assert gm == set(C.CLASSES), "every class has GM keys"
    assert set(C.AVL_NOTE_CLASSES.values()) <= set(C.CLASSES)
    assert not set(C.AVL_NOTE_CLASSES) & set(C.AVL_DROPPED)
    assert {c for _, c in C.SONIC_PI_CLASSES} <= set(C.CLASSES)
    # the GM keys named in the issue
    for keys, cls in (((35, 36), "kick"), ((38, 40), "snare"), ((37,), "rim"), ((39,), "clap"),
                      ((42, 44), "closed_hat"), ((46,), "open_hat"),
                      ((41, 43, 45, 47, 48, 50), "tom"), ((51, 59, 53), "ride"),
                      ((49, 57, 52, 55), "crash"), ((56,), "cowbell")):
        assert all(C.GM_NOTE_CLASSES[k] == cls for k in keys), cls
    assert 58 not in C.GM_NOTE_CLASSES and 60 not in C.GM_NOTE_CLASSES
    table = C.class_table_markdown()
    assert all(f"| {c} |" in table for c in C.CLASSES)


@pytest.mark.parametrize("name, cls", [
    ("Pearl Kick", "kick"), ('Kick (Tama Superstar 22")', "kick"), ("BassDrum", "kick"),
    ("Snare Rimshot (Pearl Free Floating Maple 14x3.5)", "snare"), ("Snare1", "snare"),
    ("Rim Click (Pearl Free Floating Maple 14x3.5)", "rim"), ("Pearl Side Stick", "rim"),
    ("Hand Clap", "clap"), ("Sabian Hat Semi-Open", "open_hat"), ("Closed HH 2", "closed_hat"),
    ("VariBreaks Hat 1 Pd", "closed_hat"), ("Hard_Hse_OHH_1", "open_hat"),
    ("Hi-Hat Foot(L)", "closed_hat"), ("Tom Floor", "tom"), ("tomhi2", "tom"),
    ('Ride (Custom, Zagrebin 22")', "ride"), ("Ride Bell", "ride"), ("China Crash(L)", "crash"),
    ("Orchcrash(R)", "crash"), ("Zildjian Splash", "crash"), ("Cow Bell", "cowbell"),
    ("054_Tombourine", "tambourine"), ("Maraca", "shaker"), ("Rosewood Claves", "clave"),
    ("Crash/Ride (Paiste Rude Crash/Ride 18\")", None), ("Zildjian Splash Choke", None),
    ("Snare Roll", None), ("Sabian Hat Swish", None), ("Hi Hat Free", None), ("Timpani 3(L)", None),
    ("Paiste Bell", None), ("Conga 1", None), ("Finger Snaps", None)])
def test_classify_name(name, cls):
    assert C.classify_name(name)[0] == cls


def test_gm_keys_are_checked_against_sample_names():
    assert C.check_gm_note("tom", ["Low Flr Studio(L)", "Low Flr Studio(R)"]) == ""
    assert C.check_gm_note("kick", ["Filter Snap", "Sine Wave"]) == ""
    assert C.check_gm_note("ride", ["Orchcrash(L)"])              # orchestra kit's key 59
    assert C.check_gm_note("tom", ["Timpani 2(L)"])               # orchestra kit's toms
    assert C.check_gm_note("snare", ["Brush Swirl(L)"])
    assert C.check_gm_note("tom", ["Acoustic Tom", "Snare Verb"]) == ""


def test_sonic_pi_and_hydrogen_name_maps():
    assert C.sonic_pi_class("bd_haus") == "kick" and C.sonic_pi_class("elec_filt_snare") == "snare"
    assert C.sonic_pi_class("drum_cymbal_pedal") == "closed_hat"
    assert C.sonic_pi_class("drum_roll") is None and C.sonic_pi_class("loop_amen") is None
    kit = dict(name="k", instruments=[
        dict(name="Kick", layers=[dict(file="86335__zgump__tom-0105.wav", min=0, max=1)]),
        dict(name="Tom Hi", layers=[dict(file="tom_01.flac", min=0, max=0.5),
                                    dict(file="tom_02.flac", min=0.5, max=1)]),
        dict(name="Tom Mid", layers=[dict(file="tom_01.flac", min=0, max=1)]),
        dict(name="Snare Roll", layers=[dict(file="sr.flac", min=0, max=1)])])
    hits, skipped = D.hydrogen_hits(kit)
    assert [(h["cls"], h["file"], h["layer"]) for h in hits] == [("tom", "tom_01.flac", 0),
                                                                ("tom", "tom_02.flac", 1)]
    assert any("file name says tom" in s for s in skipped)
    assert any("excluded (roll)" in s for s in skipped)


# -- cutting ------------------------------------------------------------------------

def test_one_shot_onset_length_fade_and_padding():
    sr = 22050
    rng = np.random.default_rng(0)
    t = np.arange(3 * sr) / sr
    hit = (rng.standard_normal(len(t)) * np.exp(-t / 0.4)).astype(np.float32) * 0.5
    x = np.concatenate([1e-5 * rng.standard_normal(5000).astype(np.float32), hit])
    y, info = D.one_shot(x)
    assert len(y) == D.DRUM_SAMPLES == 34816 == 2048 + 64 * 512
    pre = int(round(D.ONSET_PRE_S * sr))
    assert info["onset"] == pre and info["truncated"]
    assert np.array_equal(y[pre:pre + 100], x[5000:5100])
    assert abs(y[-1]) < 1e-4 * np.max(np.abs(y))          # faded out
    short, info = D.one_shot(hit[:2000])           # starts at its onset: zeros in front
    assert info["onset"] == pre and not info["truncated"]
    assert not short[:pre].any() and not short[pre + 2000:].any()
    assert np.array_equal(short[pre:pre + 2000], hit[:2000])
    loud, _ = D._limit(np.array([0.5, -1.2, 0.3], np.float32))
    assert np.max(np.abs(loud)) <= 32767 / 32768
    silent, info = D.one_shot(np.zeros(100, np.float32))
    assert not silent.any()


# -- the smoke build ----------------------------------------------------------------

@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("drums_smoke")
    report = D.build(out, smoke=True, sources=["fluidr3", "timgm6mb"], workers=2,
                     log=lambda *_: None)
    manifest = json.loads((out / "drums" / "manifest.json").read_text())
    return out, report, manifest


def test_smoke_build_rows_and_wavs(smoke):
    out, report, m = smoke
    assert m["format"] == 1 and m["sample_rate"] == 22050 and m["samples"] == 34816
    assert m["classes"] == list(C.CLASSES)
    assert set(m["sources"]) == {"fluidr3", "timgm6mb"}
    assert m["sources"]["timgm6mb"]["role"] == "heldout"
    assert {"Standard", "TR-808"} <= set(m["sources"]["fluidr3"]["kits"])
    rows = m["rows"]
    keys = {(r["source"], r["kit"], r["gm_note"], r["velocity"]) for r in rows}
    assert len(keys) == len(rows)
    assert {r["gm_note"] for r in rows} == set(D.SMOKE_NOTES)
    assert {r["velocity"] for r in rows} == set(D.VELOCITIES)
    for r in rows:
        assert r["class"] == C.GM_NOTE_CLASSES[r["gm_note"]]
        assert r["split"] in ("train", "test", "heldout") and r["family"] and r["group"]
        assert r["instrument_name"]
    pre = int(round(D.ONSET_PRE_S * 22050))
    for r in rows:
        path = out / "drums" / r["path"]
        with wave.open(str(path)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == \
                (1, 2, 22050, 34816)
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
        peak = np.max(np.abs(x))
        assert abs(20 * np.log10(peak / 32768) - r["peak_dbfs"]) < 0.01
        onset = int(np.argmax(np.abs(x) >= peak * 10 ** (D.ONSET_REL_DB / 20)))
        assert abs(onset - pre) <= 1 and r["onset_ms"] == 2.0, r["path"]   # onset at 2 ms
        assert np.max(np.abs(x[:max(0, onset - 1)])) < peak * 10 ** (D.ONSET_REL_DB / 20)
        assert r["sha256"] == sha256_file(path)
    # velocity layers differ in level
    std = {r["velocity"]: r["peak_dbfs"] for r in rows
           if r["kit"] == "Standard" and r["source"] == "fluidr3" and r["gm_note"] == 38}
    assert std[40] < std[80] < std[120]


def test_smoke_heldout_rows_are_never_train(smoke):
    _, _, m = smoke
    for r in m["rows"]:
        if r["source"] in S.NEVER_TRAIN:
            assert r["split"] == "heldout" and r["family"] == "timgm6mb"
        else:
            assert r["split"] in ("train", "test")


def test_layers_of_one_note_stay_on_one_side(smoke):
    _, _, m = smoke
    sides = {}
    for r in m["rows"]:
        sides.setdefault((r["source"], r["kit"], r["gm_note"]), set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())
    groups = {}
    for r in m["rows"]:
        groups.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in groups.values())


def test_idempotent_rebuild_writes_nothing_new(smoke):
    out, _, _ = smoke
    wavs = sorted((out / "drums").glob("*/*/*.wav"))
    before = {p: p.stat().st_mtime_ns for p in wavs}
    manifest = (out / "drums" / "manifest.json").read_bytes()
    mtime = (out / "drums" / "manifest.json").stat().st_mtime_ns
    again = D.build(out, smoke=True, sources=["fluidr3", "timgm6mb"], workers=1, log=lambda *_: None)
    assert again["built"] == [] and len(again["skipped"]) == len(again["units"])
    assert not again["manifest_changed"]
    assert (out / "drums" / "manifest.json").read_bytes() == manifest
    assert (out / "drums" / "manifest.json").stat().st_mtime_ns == mtime
    assert {p: p.stat().st_mtime_ns for p in sorted((out / "drums").glob("*/*/*.wav"))} == before


def test_report_cli(smoke, capsys):
    from timbrel.data.__main__ import main
    out, _, _ = smoke
    assert main(["drums", "--report", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| class | fluidr3 | timgm6mb | all |" in text and "| kick |" in text


def test_missing_package_gives_the_apt_command(tmp_path, monkeypatch, capsys):
    gone = dataclasses.replace(D.DRUM_SOURCES["hydrogen"], path=str(tmp_path / "nowhere"))
    monkeypatch.setitem(D.DRUM_SOURCES, "hydrogen", gone)
    with pytest.raises(D.MissingDrumSources) as e:
        D.build(tmp_path, sources=["hydrogen"], log=lambda *_: None)
    assert "hydrogen-drumkits" in str(e.value) and "apt-get install" in str(e.value)
    from timbrel.data.__main__ import main
    assert main(["drums", "--sources", "fluidr3", "hydrogen", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sudo apt-get install -y --no-install-recommends hydrogen-drumkits" in err
    assert not (tmp_path / "drums" / "manifest.json").exists()
    assert "hydrogen-drumkits" in D.APT_COMMAND and "sonic-pi-samples" in D.APT_COMMAND \
        and "avldrums.lv2-soundfont" in D.APT_COMMAND


# -- splits ---------------------------------------------------------------------------

def _fake_rows():
    rows = []
    for kit in range(40):
        for note, cls in ((36, "kick"), (38, "snare")):
            for v in D.VELOCITIES:
                rows.append(dict(path=f"fluidr3/k{kit}/{note}_{v}.wav", source="fluidr3",
                                 kit=f"K{kit}", gm_note=note, velocity=v, instrument_name="",
                                 recordings=[f"fluidr3:s{kit}_{note}"], **{"class": cls}))
    for k in range(3):
        rows.append(dict(path=f"timgm6mb/k{k}/36.wav", source="timgm6mb", kit=f"T{k}",
                         gm_note=36, velocity=80, instrument_name="", recordings=[],
                         **{"class": "kick"}))
    return rows


def test_assign_splits_groups_fraction_and_heldout_links():
    rows = _fake_rows()
    # K0's kick and K1's kick share a sample; K2's snare is the held-out font's recording
    rows[0]["recordings"].append("fluidr3:s1_36")
    link = (next(i for i, r in enumerate(rows) if r["kit"] == "K2" and r["gm_note"] == 38),
            len(rows) - 1, 0.999)
    summary = D.assign_splits(rows, [link], seed=1)
    assert summary["heldout_by_link"] == 3
    by = {}
    for r in rows:
        by.setdefault((r["kit"], r["gm_note"]), set()).add(r["split"])
    assert all(len(s) == 1 for s in by.values())
    assert by[("K0", 36)] == by[("K1", 36)]
    assert by[("K2", 38)] == {"heldout"}
    assert all(r["split"] == "heldout" for r in rows if r["source"] == "timgm6mb")
    for cls in ("kick", "snare"):
        rs = [r for r in rows if r["class"] == cls and r["source"] == "fluidr3"
              and r["split"] != "heldout"]
        test = sum(r["split"] == "test" for r in rs)
        assert abs(test - 0.15 * len(rs)) <= 3, (cls, test, len(rs))
    again = _fake_rows()
    again[0]["recordings"].append("fluidr3:s1_36")
    D.assign_splits(again, [link], seed=1)
    assert [r["split"] for r in again] == [r["split"] for r in rows]


# -- the optional Debian drum packages -----------------------------------------------

@_needs("hydrogen")
@_needs("sonic_pi")
@_needs("avldrums")
def test_optional_sources_smoke(tmp_path):
    rep = D.build(tmp_path, smoke=True, sources=["avldrums", "hydrogen", "sonic_pi"], workers=2,
                  log=lambda *_: None)
    m = json.loads((tmp_path / "drums" / "manifest.json").read_text())
    by = {}
    for r in m["rows"]:
        by.setdefault(r["source"], []).append(r)
    assert set(by) == {"avldrums", "hydrogen", "sonic_pi"}
    assert all(r["velocity"] is None and r["gm_note"] is None and r["instrument_name"]
               for s in ("hydrogen", "sonic_pi") for r in by[s])
    assert all(r["velocity"] in D.VELOCITIES and r["family"] == "macarthur" for r in by["avldrums"])
    assert all(r["family"].startswith("hydrogen:") or r["family"] == "macarthur"
               for r in by["hydrogen"])
    assert rep["sources"]["hydrogen"]["version"] not in ("", "not installed")


@_needs("hydrogen")
@_needs("avldrums")
def test_avl_black_pearl_shares_hydrogen_black_pearl_recordings():
    """The finding behind FAMILY_OF: avldrums' Black Pearl plays hydrogen's Black Pearl
    hi-hat recordings sample for sample (and Gimme A Hand's clap), not its kick."""
    from timbrel.data.sources import _sf2_pcm
    pcm = _sf2_pcm(S.SF2_DIR / "Black_Pearl_4_LV2.sf2")
    h2 = D.HYDROGEN_DIR / "The Black Pearl 1.0"

    def corr(a, b):
        a = np.asarray(a, np.float64)[:4096]
        b = np.asarray(b, np.float64)[:8192]
        c = np.correlate(b, a, "valid") / (np.linalg.norm(a) + 1e-12)
        norms = np.sqrt(np.convolve(b * b, np.ones(len(a)), "valid")) + 1e-12
        return float(np.max(c / norms))

    def decoded(path):
        return D.decode_file(path, 44100)

    hat = corr(pcm["42-SabianRockHatCl-3"] / 32768.0, decoded(h2 / "SabianHatClosed-Hard.wav"))
    clap = corr(pcm["39-HandClap-3"] / 32768.0,
                decoded(D.HYDROGEN_DIR / "Gimme A Hand 1.0" / "HandClap-Med.wav"))
    kick = max(corr(pcm["36-Pearl22Kick-4"] / 32768.0, decoded(h2 / f"PearlKick-{v}.wav"))
               for v in ("Softest", "Soft", "Med", "Hard", "Hardest"))
    assert hat > 0.999 and clap > 0.999 and kick < 0.9
    assert D.family_of("avldrums", "Black_Pearl_4pc") == D.family_of("hydrogen", "The Black Pearl 1.0") \
        == D.family_of("hydrogen", "Gimme A Hand 1.0") == D.family_of("avldrums", "Red_Zeppelin_4pc")
