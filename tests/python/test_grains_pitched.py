"""Pitched grains models (docs/grains.md "Pitched models"): the note corpus as one-shots, the
conditioning c = [one-hot instrument, pitch code], training, export and the card's measures,
on a small synthetic note corpus."""

import numpy as np
import pytest
import torch

from timbrel.eval import grains_notes
from timbrel.models import grains as G
from timbrel.tmbl import read_tmbl
from timbrel.train import grains as trainer
from timbrel.train.grains_data import CorpusError, NOTE_FADE_S, load_split, write_synthetic_notes


@pytest.fixture(scope="module")
def notes_root(tmp_path_factory):
    return write_synthetic_notes(tmp_path_factory.mktemp("notes-data"))


def test_notes_load_as_pitched_one_shots(notes_root):
    d = load_split(notes_root, "train", corpus="notes", cache=False)
    assert d.classes == ["flute", "cello"]
    assert d.audio.shape == (8, G.SAMPLES)
    assert sorted(set(d.pitch)) == [55.0, 60.0, 67.0, 72.0]
    # the fade: the last sample is silent, the one before the fade is not
    fade = int(NOTE_FADE_S * G.SAMPLE_RATE)
    assert np.all(d.audio[:, -1] == 0)
    assert np.all(np.abs(d.audio[:, -fade - 200:-fade]).max(1) > 100)
    assert load_split(notes_root, "heldout", corpus="notes").rows[0]["source"] == "other"


def test_a_short_note_is_refused_in_words(tmp_path):
    root = write_synthetic_notes(tmp_path)
    from timbrel.data.audio import write_wav
    write_wav(root / "notes/synthetic/flute/flute_055_train.wav", np.zeros(1000, np.float32))
    with pytest.raises(CorpusError, match="at least 34816 samples"):
        load_split(root, "train", corpus="notes", cache=False)


def test_pitch_code_and_condition():
    code = G.pitch_code([60.0, 61.5])
    assert code.shape == (2, len(G.PITCH_CENTRES))
    assert code[0, G.PITCH_CENTRES.index(60.0)] == pytest.approx(1.0)
    m = G.NeuralGranular(classes=2, latent=4, embedding=4, encoder_channels=(2, 4), encoder_dense=8,
                         hidden=8, blocks=1, seq_hidden=8, pp_taps=4, pp_channels=1,
                         pitch_centres=(48.0, 60.0, 72.0), pitch_width=6.0)
    assert m.conditions == 5 and m.pitched
    c = m.condition([1, 0], [60.0, 66.0])
    np.testing.assert_allclose(c[0], [0, 1, np.exp(-2), 1, np.exp(-2)], rtol=1e-6)
    np.testing.assert_allclose(c[1, 2:], np.exp(-0.5 * ((66.0 - np.array([48, 60, 72])) / 6) ** 2), rtol=1e-6)
    with pytest.raises(ValueError, match="pitched model needs"):
        m.one_hot(torch.tensor([0]), 1, "cpu")
    with pytest.raises(ValueError, match="give pitches"):
        m.condition([0])
    # the pitch changes what the sequence prior makes
    a = m.generate(label=0, pitch=48.0, seed=3)
    b = m.generate(label=0, pitch=84.0, seed=3)
    assert not np.allclose(a, b)


def test_train_export_and_card_on_synthetic_notes(notes_root, tmp_path, capsys):
    runs, out = tmp_path / "runs", tmp_path / "out"
    args = ["--data", str(notes_root), "--corpus", "notes", "--config", "smoke", "--runs", str(runs),
            "--out", str(out), "--name", "notes-smoke"]
    assert trainer.main(args) == 0
    f = read_tmbl(out / "notes-smoke.tmbl")  # check_grains holds the contract
    meta = f.metadata
    assert meta["classes"] == ["flute", "cello"]
    assert meta["pitch_conditioning"]["centres"] == list(G.PITCH_CENTRES)
    assert meta["class_pitches"] == [[55.0, 64.0, 72.0], [55.0, 64.0, 72.0]]
    assert meta["training"]["corpus"]["corpus"] == "notes"

    monkey_epochs = grains_notes.CLASSIFIER_EPOCHS
    grains_notes.CLASSIFIER_EPOCHS = 1
    try:
        r = grains_notes.evaluate(notes_root, runs, "notes-smoke", samples=1, pitches=2,
                                  temperatures=(1.0,), log=lambda *a: None)
    finally:
        grains_notes.CLASSIFIER_EPOCHS = monkey_epochs
    assert set(r["reconstruction"]) == {"test", "heldout"}
    assert r["reconstruction"]["test"]["grains"]["lsd"] > 0
    prior = r["prior"]["1"]
    assert prior["pitch"]["n"] == 2 * 2  # 2 instruments x 2 pitches x 1 draw
    assert set(prior["instrument_heard"]) == {"flute", "cello"}
    assert r["real_pitch"]["test"]["n"] == 2
    text = grains_notes.card_markdown(r, "the command")
    assert "the pitch asked, the pitch heard" in text and "| flute |" in text


def test_heard_f0_finds_a_tone_and_an_octave_error():
    t = np.arange(G.SAMPLES) / G.SAMPLE_RATE
    x = np.sin(2 * np.pi * 220.0 * t)
    assert grains_notes.cents(grains_notes.heard_f0(x, 220.0), 220.0) == pytest.approx(0, abs=10)
    s = grains_notes.pitch_summary([3.0, 1195.0, float("nan"), -40.0])
    assert s["within_50"] == 0.5 and s["octave_errors"] == 0.25 and s["voiced"] == 0.75
