"""The beat-box evaluation (timbrel.eval.beatbox) end to end through `timbrel grains beatbox`
on the golden grains model (random weights: its classes mean nothing, but detection and
timing come from the engine's onset detector and must hold whatever the class).

Needs the native build (`cmake --build build --target timbrel`) or TIMBREL_CLI, espeak-ng and sox.
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from timbrel import golden
from timbrel.eval import beatbox as B
from timbrel.eval.core import cli_path

MODEL = golden.GOLDEN_ROOT / "grains" / "model_pp.tmbl"

pytestmark = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                                reason="espeak-ng and sox synthesise the clip")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    keep = tmp_path_factory.mktemp("beatbox")
    r = B.evaluate(MODEL, cli_path(), count=24, rate=48000, keep=str(keep))
    r["_keep"] = keep
    return r


def test_timing_and_detection_hold_for_any_model(result):
    t, d = result["timing"], result["detection"]
    assert d["true"] == 24 and d["recall"] >= 0.95
    assert t["matched"] >= 23 and t["median_ms"] <= 5.0 and t["p95_ms"] <= B.TIMING_TARGET_MS
    assert t["passed"] and abs(t["mean_signed_ms"]) <= 5.0
    # espeak's two-part syllables ([p] then [f], [k] then the vowel) may add onsets, no more than one each
    assert d["precision"] >= 0.5


def test_classes_and_report(result):
    c = result["classes"]
    assert c["model_classes"] == ["kick", "snare", "hat"]
    assert sum(v["n"] for v in c["per_class"].values()) == result["timing"]["matched"]
    assert c["per_class"]["closed_hat"]["model_class"] == "hat"  # the default kit's tss
    assert c["kit"] == {"boom": "kick", "tss": "hat", "ka": "snare"}
    assert result["classifier"] == "sound" and result["set"] == "eval"
    assert "not on these clips" in result["tuning"]
    # The sounds are told apart by what they are made of, not by the model's weights: even the
    # random golden model's kit plays the intended drums (thresholds chosen on --set tune).
    assert c["overall"] >= 0.8
    for x in c["confusions"]:
        assert x["predicted"] != c["per_class"][x["intended"]]["model_class"]
    assert "not recorded" in result["sources"]["note"] and "espeak-ng" in result["sources"]["note"]
    json.dumps(result, default=str)
    # the clip and the truth are kept; the clip's onsets are where the truth says
    truth = json.loads((result["_keep"] / "truth.json").read_text())
    assert len(truth["onsets_s"]) == 24
    gaps = np.diff(truth["onsets_s"])
    assert gaps.min() >= 0.25 - 1e-3 and gaps.max() <= 0.6 + 1e-3
    assert "beat-box:" in B.summary(result)


def test_sox_bursts_alone_are_found_one_to_one(tmp_path):
    r = B.evaluate(MODEL, cli_path(), count=16, rate=22050, sources=["sox"], seed=3)
    assert r["detection"]["recall"] == 1.0 and r["detection"]["precision"] == 1.0
    assert r["timing"]["p95_ms"] <= 2.0
    assert r["sources"]["syllables"] == {} and "espeak" not in r["sources"]["note"]


def test_matching_is_one_to_one_nearest_first():
    assert B.match([1.0, 1.04], [1.03]) == [(1, 0)]
    assert B.match([1.0, 2.0], [1.06, 2.01, 2.02]) == [(1, 1)]
    assert B.match([], [1.0]) == []
    s = B.score([1.0, 2.0], ["boom", "sox-hat"], [{"time_s": 1.002, "class": "kick"},
                                                   {"time_s": 2.05, "class": "snare"},
                                                   {"time_s": 2.3, "class": "snare"}],
                ["kick", "snare", "hat"])
    assert s["detection"]["matched"] == 2 and s["detection"]["precision"] == pytest.approx(2 / 3)
    assert s["timing"]["median_ms"] == pytest.approx(26.0) and s["timing"]["max_ms"] == pytest.approx(50.0)
    assert not s["timing"]["passed"]
    assert s["classes"]["overall"] == 0.5
    assert s["classes"]["confusions"] == [{"intended": "closed_hat", "predicted": "snare", "count": 1,
                                           "share": 1.0}]
    assert s["classes"]["per_source"]["sox-hat"]["extra_onsets"] == 1


def test_ground_truth_onset_is_minus_30_db_of_the_peak():
    x = np.zeros(100)
    x[10] = 0.02      # -34 dB: below
    x[20] = 0.04      # -28 dB: the onset
    x[50] = -1.0
    assert B.onset_index(x) == 20


def test_refusals(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model"):
        B.evaluate(tmp_path / "none.tmbl", cli_path())
    with pytest.raises(ValueError, match="unknown source"):
        B.render_source("zzz", 22050, tmp_path)
    # the tool refuses a clip at an implausible rate and says why
    from scipy.io import wavfile
    wavfile.write(str(tmp_path / "low.wav"), 4000, (0.5 * np.sin(np.arange(4000))).astype(np.float32))
    p = subprocess.run([str(cli_path()), "grains", "beatbox", str(tmp_path / "low.wav"), "--model",
                        str(MODEL), "-o", str(tmp_path / "never.wav")], capture_output=True, text=True)
    assert p.returncode != 0 and "sample rate 4000 Hz; the beat-box takes 8000-192000 Hz" in p.stderr
    assert not (tmp_path / "never.wav").exists()


def test_grains_card_beatbox_section(result, tmp_path):
    from timbrel.eval import grains_card
    text = grains_card.beatbox_section({k: v for k, v in result.items() if k != "_keep"})
    assert text.startswith("## Beat-box")
    assert "not recorded" in text and "espeak-ng" in text and "| closed_hat | hat |" in text
    assert f"{result['timing']['median_ms']:.1f} ms" in text
    # --beatbox-json is read back as the section's source
    path = tmp_path / "bb.json"
    path.write_text(json.dumps({k: v for k, v in result.items() if k != "_keep"}))
    args = grains_card.argparse.Namespace(beatbox_json=str(path), model_file=None, binary=None)
    assert grains_card._beatbox(args)["count"] == 24


def test_tuning_set_is_apart_from_the_evaluation(tmp_path):
    eval_names, tune_names = B.source_names(["espeak", "sox"]), B.source_names(["espeak", "sox"], "tune")
    assert not set(eval_names) & set(tune_names)
    assert {n.partition("@")[0] for n in tune_names}.isdisjoint(B.SYLLABLES)
    assert all(B.intended_class(n) in B.SOUND_OF_CLASS for n in tune_names)
    r = B.evaluate(MODEL, cli_path(), count=12, rate=22050, which="tune", kit="snare,kick,hat")
    assert r["seed"] == B.TUNE_SEED and r["set"] == "tune" and "tuning set" in r["tuning"]
    assert r["classes"]["kit"] == {"boom": "snare", "tss": "kick", "ka": "hat"}
    assert r["classes"]["per_class"]["kick"]["model_class"] == "snare"
    with pytest.raises(ValueError):
        B.evaluate(MODEL, cli_path(), count=4, which="train")


def test_morph_evaluation_and_its_card_table(tmp_path, monkeypatch):
    """evaluate_morph on the golden model with a classifier trained on a synthetic corpus:
    the table's shape and that lower morphs change the hits (not what they sound like: the
    golden model's weights are random)."""
    from timbrel.eval import drum_classifier as dc
    from timbrel.eval import grains_card
    from timbrel.train.grains_data import write_synthetic_corpus
    corpus = write_synthetic_corpus(tmp_path / "data", per_split={"train": 3, "test": 1}, seed=5)
    real = dc.load_or_train  # one epoch is enough to label hits
    monkeypatch.setattr(dc, "load_or_train",
                        lambda root, runs, *a, **k: real(root, runs, epochs=1, log=lambda *x: None))
    with pytest.raises(ValueError, match="morphs must be within 0-1"):
        B.evaluate_morph(MODEL, corpus, tmp_path / "runs", (1.0, 1.5))
    r = B.evaluate_morph(MODEL, corpus, tmp_path / "runs", (1.0, 0.0), cli_path(), sources=("sox",))
    assert list(r["morphs"]) == ["1", "0"]
    one, zero = r["morphs"]["1"], r["morphs"]["0"]
    assert one["n"] == zero["n"] == len(B.BURSTS) + len(B.TUNE_BURSTS)
    assert 0.0 <= one["agreement"] <= 1.0 and one["shape_db_from_voice_median"] > 0
    assert [h["peak_dbfs"] for h in one["hits"]] != [h["peak_dbfs"] for h in zero["hits"]]
    assert all(h["class"] == g["class"] for h, g in zip(one["hits"], zero["hits"]))
    text = grains_card.morph_section(r)
    assert text.startswith("### Beat-box morph") and "| 0 |" in text and "Reading it:" in text
