"""The neural granular model (timbrel.models.grains), its trainer and its card, on a
synthetic drum corpus written in the contract's layout (docs/grains.md)."""

import json
import math
import os
import signal

import numpy as np
import pytest
import torch
from torch import nn

from timbrel.models import grains as G
from timbrel.models.layers import Residual
from timbrel.train import grains as trainer
from timbrel.train.grains_data import CorpusError, load_split, read_manifest, write_synthetic_corpus

SMOKE = trainer.CONFIGS["smoke"]["model"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_synthetic_corpus(tmp_path_factory.mktemp("grains_corpus") / "data",
                                  per_split={"train": 2, "test": 1, "heldout": 1}, seed=3)


def smoke_model(classes=3, **kw):
    torch.manual_seed(0)
    return G.NeuralGranular(classes=classes, **{**SMOKE, **kw})


# --- synthesis -------------------------------------------------------------------------------

def test_one_shot_sizes():
    assert (G.GRAIN, G.HOP, G.BINS, G.GRAINS, G.SAMPLES) == (2048, 512, 1025, 65, 34816)
    assert G.samples_for(65) == 34816 and G.grains_for(34816) == 65 and G.grains_for(34817) == 66


def test_window_sum_is_two_inside_and_at_least_one_at_the_ends():
    a = G.grain_windows(65, torch.float64)
    assert (a[0, :1024] == 1).all() and (a[-1, 1024:] == 1).all()
    torch.testing.assert_close(a[1], G.hann(2048))
    W = G.ola_norm(65, torch.float64)
    assert W.shape == (34816,)
    assert float(W.min()) >= 1.0 - 1e-12 and float(W.max()) <= 2.0 + 1e-12
    torch.testing.assert_close(W[1536:-1536], torch.full((34816 - 3072,), 2.0, dtype=torch.float64))


def test_overlap_add_of_a_signals_own_grains_gives_it_back():
    x = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (2, 34816)))
    y = G.overlap_add(G.analysis_grains(x)) / G.ola_norm(65, torch.float64)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-12)


def test_unit_filter_without_post_processing_is_the_overlap_add_of_the_noise():
    g = 7
    noise = torch.from_numpy(np.random.default_rng(2).uniform(-1, 1, (2, g, 2048)))
    y = G.synthesize(torch.ones(2, g, 1025, dtype=torch.float64), noise, post=None)
    # reference: the contract's formula, one grain at a time
    a = G.grain_windows(g, torch.float64).numpy()
    L = G.samples_for(g)
    num, den = np.zeros((2, L)), np.zeros(L)
    for i in range(g):
        num[:, 512 * i:512 * i + 2048] += a[i] * noise[:, i].numpy()
        den[512 * i:512 * i + 2048] += a[i]
    np.testing.assert_allclose(y.numpy(), num / den, rtol=0, atol=1e-12)


def test_noise_filtering_multiplies_the_noise_spectrum_by_H():
    rng = np.random.default_rng(3)
    H = torch.from_numpy(rng.uniform(0, 3, (1, 2, 1025)))
    n = torch.from_numpy(rng.uniform(-1, 1, (1, 2, 2048)))
    y = G.filter_noise(H, n)
    torch.testing.assert_close(torch.fft.rfft(y, dim=-1), H * torch.fft.rfft(n, dim=-1))


def test_post_filter_is_one_causal_fir_and_starts_near_the_identity():
    torch.manual_seed(4)
    pf = G.PostFilter(channels=3, taps=16).double()
    x = torch.randn(2, 300, dtype=torch.float64)
    torch.testing.assert_close(pf(x), pf.multichannel(x))
    impulse = torch.zeros(1, 40, dtype=torch.float64)
    impulse[0, 5] = 1.0
    h = pf.taps().detach()
    want = torch.zeros(40, dtype=torch.float64)
    want[5:21] = h
    torch.testing.assert_close(pf(impulse)[0].detach(), want)
    assert abs(float(h[0]) - 1.0) < 0.01 and float(h[1:].abs().max()) < 0.01


def test_parity_noise_is_the_xorshift_stream_in_grain_order():
    n = G.parity_noise(2, 3)
    from timbrel.models.vq_timbre import xorshift32
    np.testing.assert_array_equal(n[1].reshape(-1).numpy(), xorshift32(3 * 2048, G.NOISE_SEED))


# --- the model -------------------------------------------------------------------------------

def test_shapes_and_non_negative_filters():
    m = smoke_model()
    x = torch.randn(2, 34816) * 0.1
    r = m(x, torch.tensor([0, 2]))
    assert r["mu"].shape == r["z"].shape == r["z_hat"].shape == (2, 65, 8)
    assert r["mu_e"].shape == (2, 8)
    assert r["out_grains"].shape == r["out_sequence"].shape == (2, 34816)
    H = m.filters(r["z"], m.one_hot(torch.tensor([0, 2]), 2, "cpu"))
    assert H.shape == (2, 65, 1025) and float(H.min()) >= 0
    assert m.render(x[0].numpy(), 1, "sequence").shape == (34816,)
    assert m.generate(label=2).shape == (34816,)
    meta = m.metadata(["a", "b", "c"])
    assert meta["grains"] == 65 and len(meta["post_filter"]) == SMOKE["pp_taps"]
    assert smoke_model(post_processing=False).metadata(["a", "b", "c"])["post_filter"] == []


def test_the_small_config_fits_the_real_time_budget():
    c = G.costs(G.NeuralGranular(classes=8, **trainer.CONFIGS["small"]["model"]))
    assert c["grain_decoder"] <= 500_000 and c["sequence_decoder_step"] <= 330_000


def _exported_modules(graph):
    """(top-level modules without the residuals, the residuals' bodies)."""
    top = [m for m in graph if not isinstance(m, Residual)]
    bodies = [list(m.body) for m in graph if isinstance(m, Residual)]
    return top, bodies


@pytest.mark.parametrize("name", ["grain_decoder", "sequence_decoder", "grain_encoder",
                                  "sequence_encoder", "embedding"])
def test_graphs_hold_only_modules_the_exporter_writes_plus_residual(name):
    from timbrel.export.graph import graph_to_ops
    graph = smoke_model().graphs()[name]
    top, bodies = _exported_modules(graph)
    graph_to_ops(top, name)           # raises UnsupportedModuleError on anything else
    for j, body in enumerate(bodies):
        graph_to_ops(body, f"{name}.residual{j}")
    if name == "grain_decoder":
        assert len(bodies) == SMOKE["blocks"] and isinstance(graph[-1], nn.Softplus)


def test_residual_adds_its_body_and_refuses_what_the_core_cannot_run():
    torch.manual_seed(5)
    r = Residual(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 4))
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(r(x), x + r.body[2](r.body[1](r.body[0](x))))
    with pytest.raises(ValueError):
        Residual(nn.Linear(4, 5))
    with pytest.raises(TypeError):
        Residual(nn.GRU(4, 4, batch_first=True))
    with pytest.raises(TypeError):
        Residual(nn.Conv1d(4, 4, 3, padding=1))


# --- the loss --------------------------------------------------------------------------------

def test_log_frequency_bank_is_linear_below_and_log_spaced_above():
    for n, bands in ((128, 40), (2048, 88)):
        b = trainer.log_frequency_bank(n)
        assert b.shape == (bands, n // 2 + 1)
        np.testing.assert_allclose(b.sum(1), 1.0)
        np.testing.assert_array_equal(b[:17, :17], np.eye(17))
        assert ((b > 0).sum(0) <= 2).all() and ((b > 0).sum(1) >= 1).all()


def test_spectral_distance_and_kl():
    x = torch.randn(2, 34816) * 0.1
    assert float(trainer.spectral_distance(x, x)["loss"]) == 0.0
    d = trainer.spectral_distance(0.5 * x, x)
    # a 6 dB drop moves every unfloored log power by ln 4: the loss stays below 10 ln 4
    assert 0 < float(d["loss"]) < 10 * math.log(4) and float(d["logfreq"]) > 0
    from torch.distributions import Normal, kl_divergence
    mu, lv = torch.tensor([[0.3, -1.0]]), torch.tensor([[-0.5, 0.2]])
    want = kl_divergence(Normal(mu, torch.exp(0.5 * lv)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(trainer.kl_normal(mu, lv), want)


def test_loss_decreases_on_the_synthetic_corpus(corpus):
    data = load_split(corpus, "train", cache=False)
    x = torch.from_numpy(data.batch(np.arange(4)))
    labels = torch.from_numpy(data.label[:4])
    m = smoke_model()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    seen = []
    for _ in range(12):
        out = trainer.losses(m, x, labels, "bottom", 0.0, 0.0)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        seen.append(float(out["spec"]))
    assert np.mean(seen[-3:]) < 0.9 * np.mean(seen[:3]), seen
    out = trainer.losses(m, x, labels, "joint", 0.01, 0.01)
    assert set(out) >= {"loss", "spec", "spec_grains", "kl_z", "kl_e", "latent_mse"}
    assert float(out["latent_mse"]) > 0 and float(out["kl_e"]) > 0


# --- data ------------------------------------------------------------------------------------

def test_the_corpus_contract_is_checked(corpus, tmp_path):
    m = read_manifest(corpus)
    assert m["classes"] == ["kick", "snare", "hat"]
    assert read_manifest(corpus / "drums")["classes"] == m["classes"]
    train = load_split(corpus, "train", cache=False)
    assert train.audio.shape == (6, 34816) and train.audio.dtype == np.int16
    assert train.counts() == {"kick": 2, "snare": 2, "hat": 2}
    with pytest.raises(CorpusError, match="no drum corpus"):
        read_manifest(tmp_path)
    bad = tmp_path / "bad"
    write_synthetic_corpus(bad, classes=("kick",), per_split={"train": 1})
    from timbrel.data.audio import write_wav
    write_wav(bad / "drums" / "synthetic/kick/train-000.wav", np.zeros(1000))
    with pytest.raises(CorpusError, match="exactly 34816"):
        load_split(bad, "train", cache=False)


# --- the trainer and the card ---------------------------------------------------------------

def _args(corpus, runs, *extra):
    # batch 2: three steps per epoch of the six training one-shots
    return ["--data", str(corpus), "--runs", str(runs), "--out", str(runs / "model"),
            "--config", "smoke", "--batch", "2", "--no-export", *extra]


def _log(runs, name):
    lines = (runs / f"grains-{name}" / "log.csv").read_text().strip().splitlines()
    return [dict(zip(lines[0].split(","), l.split(","))) for l in lines[1:]]


def test_trainer_needs_a_finished_bottom_stage(corpus, tmp_path, capsys):
    # (the export: tests/python/test_grains_export.py)
    assert trainer.main(_args(corpus, tmp_path, "--stage", "joint")) == 2
    assert "run --stage bottom" in capsys.readouterr().err
    assert trainer.main(_args(corpus, tmp_path, "--stage", "tune")) == 2
    assert "run --stage bottom" in capsys.readouterr().err


def test_tune_batches_draw_every_class_alike():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    for balance, expected in ((0.0, [0.9, 0.09, 0.01]), (1.0, [1 / 3] * 3)):
        p = trainer.sampling_weights(labels, 3, balance)
        assert p.sum() == pytest.approx(1.0)
        assert [p[labels == c].sum() for c in range(3)] == pytest.approx(expected)


def test_smoke_training_resumes_stops_on_sigterm_and_feeds_the_card(corpus, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    # 1. the bottom stage alone, one epoch
    assert trainer.main(_args(corpus, runs, "--stage", "bottom", "--bottom-epochs", "1")) == 0
    ck = torch.load(runs / "grains-smoke-pp" / "checkpoint.pt")
    assert ck["state"]["bottom_epochs"] == 1 and ck["state"]["joint_epochs"] == 0
    steps = ck["state"]["step"]
    # 2. a SIGTERM during the next epoch: the checkpoint is written, the epoch not counted
    real = trainer.losses

    def stopping(*a, **k):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **k)

    monkeypatch.setattr(trainer, "losses", stopping)
    assert trainer.main(_args(corpus, runs, "--bottom-epochs", "2", "--joint-epochs", "1")) == 0
    monkeypatch.setattr(trainer, "losses", real)
    ck = torch.load(runs / "grains-smoke-pp" / "checkpoint.pt")
    assert ck["state"]["bottom_epochs"] == 1 and ck["state"]["step"] == steps + 1
    # 3. the same command continues: bottom epoch 2, then the joint and tune stages
    assert trainer.main(_args(corpus, runs, "--bottom-epochs", "2", "--joint-epochs", "1")) == 0
    rows = _log(runs, "smoke-pp")
    assert [(r["stage"], r["epoch"]) for r in rows] == [("bottom", "1"), ("bottom", "2"),
                                                        ("joint", "1"), ("tune", "1")]
    assert int(rows[-1]["step"]) == 4 * steps + 1
    assert float(rows[-1]["lr"]) == pytest.approx(trainer.CONFIGS["smoke"]["tune_lr"])
    info = json.loads((runs / "grains-smoke-pp" / "training.json").read_text())
    assert info["epochs"] == {"bottom": 2, "joint": 1, "tune": 1} and info["variant"] == "VAE_fi+pp"
    assert info["corpus"]["train"]["total"] == 6 and info["corpus"]["heldout"]["kick"] == 1
    assert set(info["losses"]) == {"bottom", "joint", "tune"} and info["seconds"] > 0
    # a tune stage alone on a finished run adds epochs to it (--stage tune)
    assert trainer.main(_args(corpus, runs, "--bottom-epochs", "2", "--joint-epochs", "1",
                              "--tune-epochs", "2", "--stage", "tune")) == 0
    assert [(r["stage"], r["epoch"]) for r in _log(runs, "smoke-pp")][-1] == ("tune", "2")
    # 4. the variant without post-processing, every stage in one go
    assert trainer.main(_args(corpus, runs, "--post-processing", "off")) == 0
    assert [r["stage"] for r in _log(runs, "smoke-fi")] == ["bottom", "joint", "tune"]
    # 5. the card: both variants, both splits, both paths
    from timbrel.eval import grains_card
    out = tmp_path / "card.json"
    assert grains_card.main(["--data", str(corpus), "--runs", str(runs), "--names", "smoke-fi",
                             "smoke-pp", "--out", str(out), "--classifier-epochs", "2",
                             "--samples", "2"]) == 0
    card = json.loads(out.read_text())
    for variant, name in (("VAE_fi", "smoke-fi"), ("VAE_fi+pp", "smoke-pp")):
        for split in ("test", "heldout"):
            sc = card["models"][variant][name]["splits"][split]
            assert sc["items"] == 3
            for path in ("grains", "sequence"):
                assert sc[path]["rmse"] > 0 and 0 < sc[path]["lsd"] < 20 and sc[path]["lsd_db"] > 0
    assert card["thesis"]["VAE_fi"] == {"rmse": 2.65, "lsd": 0.52}
    b = card["baselines"]["test"]
    assert b["oracle"]["lsd"] < b["silence"]["lsd"]


def test_card_metrics_conventions():
    from timbrel.eval.grains_card import spectrogram_metrics
    x = torch.randn(3, 34816, dtype=torch.float64) * 0.1
    m = spectrogram_metrics(x, x)
    assert float(m["rmse"].abs().max()) == 0 and float(m["lsd"].abs().max()) == 0
    # a uniform power ratio r in every bin above the floor gives LSD ~ |ln r|
    m = spectrogram_metrics(x * 10, x)
    assert abs(float(m["lsd"].mean()) - math.log(100)) < 0.05
