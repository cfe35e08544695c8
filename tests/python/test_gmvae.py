"""The GMVAE's features (timbrel.mel), its losses, and its trainer on the smoke corpus."""

import json
import math

import numpy as np
import pytest
import torch

from timbrel import mel
from timbrel.models.gmvae import GMVAE
from timbrel.train import gmvae as trainer
from timbrel.train.gmvae_data import rows_for


def test_mel_triangles_sum_to_one_between_the_outer_centres():
    bank = mel.filterbank()
    edges = mel.mel_to_hz(np.linspace(mel.hz_to_mel(mel.FMIN), mel.hz_to_mel(mel.FMAX), mel.MEL_BINS + 2))
    freqs = np.arange(mel.BINS) * mel.SAMPLE_RATE / mel.WINDOW
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    assert bank.shape == (mel.MEL_BINS, mel.BINS)
    np.testing.assert_allclose(bank.sum(0)[inside], 1.0, atol=1e-9)
    assert (bank.sum(1) > 0).all(), "every band sees at least one bin"


@pytest.mark.parametrize("hz", [220.0, 1000.0, 4000.0])
def test_a_sine_peaks_in_the_band_centred_nearest_its_frequency(hz):
    t = np.arange(mel.SAMPLE_RATE) / mel.SAMPLE_RATE
    db = mel.mel_db(0.5 * np.sin(2 * np.pi * hz * t))
    centres = mel.mel_to_hz(np.linspace(mel.hz_to_mel(mel.FMIN), mel.hz_to_mel(mel.FMAX),
                                        mel.MEL_BINS + 2))[1:-1]
    peak = int(np.argmax(db[20]))
    assert abs(peak - int(np.argmin(np.abs(centres - hz)))) <= 1
    assert db[0, peak] < db[20, peak], "frame 0 is centred on the onset: half its window is silence"


def test_scaling_round_trips_inside_the_range_and_clamps_outside():
    db = np.array([-200.0, -57.0, 0.0, 43.0, 90.0])
    x = mel.scale(db, -57.0, 43.0)
    np.testing.assert_allclose(x, [-1.0, -1.0, 0.14, 1.0, 1.0])
    np.testing.assert_allclose(mel.unscale(x[1:4], -57.0, 43.0), db[1:4], atol=1e-9)


def test_the_inverse_of_white_noise_is_flat():
    noise = np.random.default_rng(1).standard_normal(4 * mel.SAMPLE_RATE) * 0.1
    db = mel.mel_db(noise, frames=300)
    mags = mel.magnitudes(mel.scale(db, -100.0, 60.0), -100.0, 60.0)
    power = (mags[20:280, 20:1000] ** 2).mean(0)  # 200 Hz - 10.8 kHz, after the onset
    level_db = 10 * np.log10(power.reshape(-1, 20).mean(1))  # in 215 Hz groups
    assert level_db.max() - level_db.min() < 1.5, "flat within 1.5 dB (peak-1 triangles without the per-bin share tilt it by 8 dB)"


def test_kl_matches_torch_distributions():
    from torch.distributions import Normal, kl_divergence
    mu, logvar = torch.tensor([[0.3, -1.0]]), torch.tensor([[-0.5, 0.2]])
    mean = torch.tensor([[1.0, 0.5]])
    for log_sigma in (-2.0, 0.0):
        want = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)),
                             Normal(mean, torch.full_like(mean, math.exp(log_sigma)))).sum(-1)
        torch.testing.assert_close(trainer.kl_to(mu, logvar, mean, log_sigma), want)


def test_the_mixture_posterior_of_a_component_mean_is_that_component():
    model = GMVAE(mel=8, frames=5, channels=6, dense=7, latent=4, pitches=3, instruments=5).eval()
    logits = model.timbre_logits(model.timbre_means.detach())
    assert logits.argmax(-1).tolist() == list(range(5))


def test_training_splits_never_hold_the_heldout_font(smoke_corpus):
    for split in ("train", "test"):
        assert {r["source"] for r in rows_for(smoke_corpus / "full" if (smoke_corpus / "full").exists()
                                              else smoke_corpus, split)} <= {"fluidr3", "freepats", "salamander"}


@pytest.fixture(scope="module")
def trained(smoke_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("gmvae")
    data = smoke_corpus / "smoke" if (smoke_corpus / "smoke").exists() else smoke_corpus
    common = ["--config", "smoke", "--data", str(data), "--runs", str(out / "runs"),
              "--out", str(out / "model"), "--name", "gm"]
    assert trainer.main(common + ["--epochs", "1", "--no-export"]) == 0
    first = (out / "runs" / "gmvae-gm" / "log.csv").read_text().strip().splitlines()
    assert trainer.main(common + ["--epochs", "2"]) == 0
    return out, first


def test_the_trainer_resumes_and_exports_a_file_meeting_the_contract(trained):
    out, first = trained
    log = (out / "runs" / "gmvae-gm" / "log.csv").read_text().strip().splitlines()
    assert len(first) == 2 and len(log) == 3, "the second run continued at epoch 2"
    from timbrel.tmbl import read_tmbl
    f = read_tmbl(out / "model" / "gm.tmbl")
    assert f.family == "gmvae"
    m = f.metadata
    assert len(m["pitch_means"]) == len(m["pitches"]) and len(m["timbre_means"]) == len(m["instruments"])
    assert all(len(v) == m["latent"] for v in m["pitch_means"] + m["timbre_means"])
    assert m["db_max"] - m["db_min"] == trainer.DB_RANGE
    assert len(m["map"]["axes"]) == 2 and len(m["map"]["residuals"]) == len(m["instruments"])
    assert all(0 <= p[2] < len(m["instruments"]) for p in m["map"]["points"])
    b = m["brightness"]
    assert 0 <= b["dim"] < m["latent"] and -1 <= b["r"] <= 1 and b["low"] < b["high"]
    assert (b["r"] >= 0) == (b["hz_per_unit"] >= 0) or abs(b["r"]) < 0.3
    training = json.loads((out / "model" / "training.json").read_text())
    assert training["epochs"] == 2


def test_the_harmonic_comb_keeps_the_power_and_peaks_on_the_harmonics():
    w = mel.harmonic_weights(440.0)
    assert w.mean() == pytest.approx(1.0, abs=0.05)
    spacing = 440.0 * mel.WINDOW / mel.SAMPLE_RATE
    peaks = [int(round(h * spacing)) for h in range(1, 20)]
    troughs = [int(round((h + 0.5) * spacing)) for h in range(1, 20)]
    assert w[peaks].min() > 15 * w[troughs].max()  # 1.05 / 0.05 = 21
    np.testing.assert_array_equal(mel.harmonic_weights(30.0), 1.0)  # too low: flat
