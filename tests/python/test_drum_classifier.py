"""The reference drum classifier (timbrel.eval.drum_classifier) and the grains card's class
agreement and model card (timbrel.eval.grains_card), on a tiny synthetic drum corpus."""

import json

import numpy as np
import pytest
import torch

from timbrel.eval import drum_classifier as dc
from timbrel.eval import grains_card
from timbrel.models import grains as G
from timbrel.train import grains as trainer
from timbrel.train.grains_data import load_split, write_synthetic_corpus

CLASSES = ("kick", "snare", "hat")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_synthetic_corpus(tmp_path_factory.mktemp("drum_clf") / "data", CLASSES,
                                  per_split={"train": 8, "test": 3, "heldout": 3}, seed=5)


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    logs = []
    clf = dc.load_or_train(corpus, runs, epochs=8, log=logs.append)
    return runs, clf, logs


def test_features_are_level_free_and_bounded():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, G.SAMPLES)) * np.exp(-np.arange(G.SAMPLES) / 3000)).astype(np.float32)
    f = dc.features(x)
    assert f.shape == (2, 1 + (G.SAMPLES - 1024) // 256, 64) == (2, 133, 64)
    assert float(f.max()) == pytest.approx(1.0) and float(f.min()) >= -1.0
    assert float(f.min()) == pytest.approx(-1.0)  # the decayed tail reaches the -80 dB floor
    torch.testing.assert_close(dc.features(x * 0.01), f, atol=1e-3, rtol=0)


def test_augmentation_is_seeded_and_shifts_within_the_range():
    x = torch.zeros(4, G.SAMPLES)
    x[:, 0] = 1.0  # an impulse at sample 0
    a = dc.augment_batch(x, torch.Generator().manual_seed(1))
    b = dc.augment_batch(x, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    assert a.shape == x.shape and torch.isfinite(a).all()
    onsets = (a.abs() > 1e-3 * a.abs().amax(1, keepdim=True)).float().argmax(1)
    # a leftward shift drops the impulse out of the window (nothing before the onset):
    # what stays lies at 0 .. +20 ms; the room only adds sound after the direct path
    assert int(onsets.max()) <= round(0.020 * 22050)


def test_score_counts_and_macro_f1():
    classes = ["a", "b", "c", "d"]
    true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 1, 2, 0])
    s = dc.score(pred, true, classes)
    assert s["accuracy"] == pytest.approx(6 / 8)
    assert s["confusion"][0] == [3, 1, 0, 0] and s["confusion"][2] == [1, 0, 1, 0]
    assert s["per_class"]["a"] == {"n": 4, "precision": 0.75, "recall": 0.75, "f1": 0.75}
    assert s["per_class"]["b"]["f1"] == pytest.approx(0.8)
    assert s["per_class"]["d"] == {"n": 0, "precision": None, "recall": None, "f1": None}
    # macro F1 over the classes present in true: a 0.75, b 0.8, c 2/3
    assert s["macro_f1"] == pytest.approx(round((0.75 + 0.8 + 2 / 3) / 3, 4))
    assert s["confusions"][0] == {"true": "c", "predicted": "a", "count": 1, "share": 0.5}
    assert {(c["true"], c["predicted"]) for c in s["confusions"]} == {("c", "a"), ("a", "b")}


def test_confusion_rows_name_what_plays_there():
    from timbrel.train.grains_data import DrumSet
    rows = [{"path": f"x{i}.wav", "source": "font", "kit": "Std", "gm_note": 52 if i < 3 else None,
             "instrument_name": "China" if i < 3 else None} for i in range(6)]
    data = DrumSet("heldout", np.zeros((6, 8), np.int16), np.array([0, 0, 0, 0, 1, 1]),
                   ["crash", "rim"], rows)
    out = dc.confusion_rows(np.array([1, 1, 1, 0, 1, 0]), data)
    assert out[0]["true"] == "crash" and out[0]["count"] == 3 and out[0]["share"] == 0.75
    assert out[0]["rows"] == {"font Std key 52: China": 3}
    assert out[1]["true"] == "rim" and out[1]["rows"] == {"font Std: x5.wav": 1}


def test_classifier_learns_the_synthetic_classes_and_is_reused(trained, corpus):
    runs, clf, logs = trained
    assert any("training the reference drum classifier" in l for l in logs)
    path = runs / dc.FOLDER / dc.WEIGHTS
    assert path.exists() and clf.classes == list(CLASSES)
    result = dc.evaluate(clf, corpus)
    # noise bursts, falling sines and high-passed noise: far apart even for 8 short epochs
    assert result["test"]["accuracy"] >= 0.66 and result["heldout"]["accuracy"] >= 0.66
    assert set(result["heldout_by_source"]) == {"synthetic"}
    assert isinstance(result["heldout"]["confusion_rows"], list)
    # the same config and corpus: loaded, not trained again, the same outputs
    again = []
    clf2 = dc.load_or_train(corpus, runs, epochs=8, log=again.append)
    assert again == []
    x = load_split(corpus, "test").batch(np.arange(3))
    torch.testing.assert_close(clf2.logits(x), clf.logits(x))
    with pytest.raises(ValueError, match="one-shots of 34816 samples"):
        clf.predict(x[:, :20000])
    # another config: trained again
    dc.load_or_train(corpus, runs, epochs=1, log=again.append)
    assert any("another config" in l for l in again)
    dc.save(clf, path)  # leave the 8-epoch one for the card test


def _fake_run(runs, name, post, classes):
    torch.manual_seed(3 if post else 4)
    model = G.NeuralGranular(classes=len(classes), post_processing=post,
                             **trainer.CONFIGS["smoke"]["model"])
    d = runs / f"grains-{name}"
    d.mkdir(parents=True)
    torch.save({"model": model.state_dict(), "model_config": model.config(), "classes": list(classes),
                "state": {"bottom_epochs": 1, "joint_epochs": 1, "step": 6, "seconds": 2.0},
                "config": {"bottom_epochs": 2, "joint_epochs": 1}}, d / "checkpoint.pt")
    return model


def test_prior_samples_are_the_engines_hits():
    torch.manual_seed(0)
    model = G.NeuralGranular(classes=3, **trainer.CONFIGS["smoke"]["model"]).eval()
    y = grains_card.prior_samples(model, 1, 3, 0.5)
    assert y.shape == (3, G.SAMPLES) and y.dtype == torch.float32
    torch.testing.assert_close(grains_card.prior_samples(model, 1, 3, 0.5), y)
    # row i is the hit of e_i = 0.5 N(0, I) (the card's seeded draw) as generate() makes it
    rng = np.random.default_rng([grains_card.PRIOR_SEED, 1, 500])
    e = 0.5 * rng.standard_normal((3, model.embedding))
    for i in range(3):
        hit = model.generate(1, e=e[i])
        np.testing.assert_allclose(y[i].numpy(), hit, rtol=0, atol=1e-6 * np.abs(hit).max())
    assert not torch.allclose(y[0], y[1])


def test_prior_agreement_shares_and_bar():
    torch.manual_seed(0)
    model = G.NeuralGranular(classes=3, **trainer.CONFIGS["smoke"]["model"]).eval()

    class Constant:  # labels everything as class 0
        def predict(self, audio):
            return np.zeros(len(audio), np.int64)

    class Obedient:  # labels each call's samples as the class being sampled (calls go in order)
        calls = 0

        def predict(self, audio):
            out = np.full(len(audio), self.calls % 3)
            self.calls += 1
            return out

    r = grains_card.prior_agreement(model, Constant(), list(CLASSES), n=2, temperatures=(1.0,))
    assert r["1"]["share"] == {"kick": 1.0, "snare": 0.0, "hat": 0.0}
    assert r["1"]["mean"] == pytest.approx(1 / 3, abs=1e-4) and r["1"]["passed"] is False
    assert r["1"]["confusion"][1] == [2, 0, 0] and set(r["1"]["peak_dbfs_median"]) == set(CLASSES)
    r = grains_card.prior_agreement(model, Obedient(), list(CLASSES), n=2, temperatures=(1.0, 0.5))
    assert set(r) == {"1", "0.5"} and all(v["mean"] == 1.0 and v["passed"] for v in r.values())


def test_card_json_and_model_card(trained, corpus, tmp_path):
    runs, clf, _ = trained
    for name, post in (("tiny-fi", False), ("tiny-pp", True)):
        _fake_run(runs, name, post, CLASSES)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "tiny-pp.tmbl").write_bytes(b"x" * 1234)
    out = tmp_path / "card.json"
    md = tmp_path / "MODEL_CARD.md"
    assert grains_card.main(["--data", str(corpus), "--runs", str(runs), "--names", "tiny-fi", "tiny-pp",
                             "--out", str(out), "--samples", "2", "--temperatures", "1", "0.5",
                             "--exports", str(exports), "--classifier-epochs", "8",
                             "--write-card", str(md)]) == 0
    r = json.loads(out.read_text())
    assert r["classifier"]["info"]["config"]["epochs"] == 8  # the cached classifier, not retrained
    assert r["classifier"]["test"]["items"] == 9 and r["corpus"]["counts"]["train"]["kick"] == 8
    for variant, name in (("VAE_fi", "tiny-fi"), ("VAE_fi+pp", "tiny-pp")):
        e = r["models"][variant][name]
        assert set(e["prior"]) == {"1", "0.5"}
        assert e["prior"]["1"]["samples_per_class"] == 2
        assert set(e["prior"]["1"]["share"]) == set(CLASSES)
        k = e["splits"]["heldout"]["grains"]["classified"]
        assert 0 <= k["accuracy"] <= 1 and 0 <= k["agreement"] <= 1 and set(k["recall"]) == set(CLASSES)
        assert "classified" in e["splits"]["test"]["sequence"]
        assert e["costs"]["grain_decoder"] > 0 and e["planned_epochs"] == {"bottom": 2, "joint": 1, "tune": 0}
    assert r["models"]["VAE_fi+pp"]["tiny-pp"]["tmbl"]["size_bytes"] == 1234
    assert r["models"]["VAE_fi"]["tiny-fi"]["tmbl"] is None
    text = md.read_text()
    for section in ("## What it is", "## Data and sources", "## Sizes and real-time arithmetic",
                    "## Reconstruction beside the thesis's Table 1", "## The reference drum classifier",
                    "## Hits from the sequence prior", "## Resynthesis judged by the classifier",
                    "## Limits"):
        assert section in text
    assert "| VAE_fi | thesis (8 Drums) | test | grains | 2.65 | 0.52 |" in text
    assert "| VAE_fi+pp | thesis (8 Drums) | test | grains | 2.79 | 0.52 |" in text
    assert "VAE_fi+pp T=0.5" in text and "| **mean** |" in text
    assert "unfinished" in text and "scored before its training finished" in text
    assert f"{r['classifier']['heldout']['accuracy']:.3f}" in text
    # the card again from the JSON alone: the same text
    md2 = tmp_path / "again.md"
    assert grains_card.main(["--runs", str(runs), "--out", str(out), "--from-json",
                             "--write-card", str(md2)]) == 0
    assert md2.read_text() == text
