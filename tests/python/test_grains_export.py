"""The grains family's model file (timbrel.export.grains; the contract held by
timbrel.tmbl.check_grains) and its golden files (tests/golden/grains, timbrel.golden.grains):
docs/grains.md "The grains model file" and "Golden files"."""

import copy
import re

import numpy as np
import pytest
import torch

from timbrel import golden, tmbl
from timbrel.export.grains import (AUDIBLE_DB, TARGET_PEAK_DB, audible_grains, export_grains,
                                   grain_statistics, output_gain_db)
from timbrel.export.graph import input_size
from timbrel.export.onnx_from_tmbl import graph_from_ops
from timbrel.golden import grains as GG
from timbrel.models import grains as G
from timbrel.tmbl import TmblError, read_tmbl, write_tmbl
from timbrel.train import grains as trainer
from timbrel.train.grains_data import _synthetic_hit, write_synthetic_corpus

ROOT = golden.GOLDEN_ROOT / "grains"
SMOKE = trainer.CONFIGS["smoke"]["model"]
CLASSES = ["kick", "snare", "hat"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = G.NeuralGranular(classes=3, **SMOKE).eval()
    rng = np.random.default_rng(1)
    audio = np.stack([_synthetic_hit(c, rng) for c in CLASSES for _ in range(3)])
    labels = np.repeat(np.arange(3), 3)
    stats = grain_statistics(model, audio, labels)
    path = export_grains(model, CLASSES, tmp_path_factory.mktemp("grains_export"), "smoke", stats,
                         {"note": "test"})
    return model, audio, labels, stats, path


# --- the exported file ------------------------------------------------------------------------

def test_file_holds_the_five_graphs_and_computes_what_the_model_does(exported):
    model, audio, _, _, path = exported
    f = read_tmbl(path)
    assert f.family == "grains" and f.name == "smoke"
    assert list(f.graphs) == list(G.NeuralGranular.graph_names)
    meta = f.metadata
    assert (meta["latent"], meta["embedding"], meta["grains"], meta["samples"]) == (8, 8, 65, 34816)
    assert meta["classes"] == CLASSES and meta["encoder_gain_folded"] is True
    assert meta["encoder_input_gain"] == 1000.0 and meta["training"]["note"] == "test"
    np.testing.assert_allclose(meta["post_filter"], model.post_filter.taps().detach().numpy(), rtol=1e-6)
    file_graphs = {g: graph_from_ops(ops, f.tensors, g) for g, ops in f.graphs.items()}
    # the encoder reads raw windowed grains: the gain is in its first weight
    raw = G.analysis_grains(torch.from_numpy(audio[:2]))[:, ::16].reshape(-1, 2048, 1)
    with torch.no_grad():
        want = model.grain_encoder(raw * model.encoder_input_gain)
        got = file_graphs["grain_encoder"](raw)
    assert float(raw.abs().max()) > 0.05
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(file_graphs["grain_encoder"](raw * 1000), want, atol=1e-3)
    torch.manual_seed(1)
    for name, graph in model.graphs().items():
        if name == "grain_encoder":
            continue
        x = torch.randn(2, 5, input_size(f.graphs[name], f.tensors))
        with torch.no_grad():
            torch.testing.assert_close(file_graphs[name](x), graph(x), rtol=0, atol=0)


def test_statistics_are_the_training_grains_posterior_means(exported):
    model, audio, labels, stats, path = exported
    meta = read_tmbl(path).metadata
    with torch.no_grad():
        x = torch.from_numpy(audio)
        mu, _ = model.encode_grains(x)
        mu_e, _ = model.encode_sequence(mu, model.one_hot(torch.from_numpy(labels), len(x), "cpu"))
    mu, mu_e = mu.double().numpy(), mu_e.double().numpy()
    for k in range(3):
        np.testing.assert_allclose(meta["onset_centroids"][k], mu[labels == k, 0].mean(0),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(meta["class_embeddings"][k], mu_e[labels == k].mean(0),
                                   rtol=1e-5, atol=1e-6)
    m = meta["grain_map"]
    axes, mean = np.array(m["axes"]), np.array(m["mean"])
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-6)
    keep = audible_grains(audio, AUDIBLE_DB)  # the map is made of the audible grains
    assert 0 < keep.sum() < keep.size
    grains = mu[keep]
    np.testing.assert_allclose(mean, grains.mean(0), rtol=1e-5, atol=1e-6)
    xy = (grains - mean) @ axes.T
    # the first axis carries the most variance of any direction in the plane's complement
    assert xy[:, 0].var() >= xy[:, 1].var() >= ((grains - mean) - xy @ axes).var(0).max() * 0.99
    x0, x1, y0, y1 = m["extent"]
    inside = np.mean((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))
    assert inside >= 0.99, inside
    assert stats["counts"]["grains"] == len(grains) and stats["counts"]["per_class"] == [3, 3, 3]
    for k in range(3):
        points = ((mu - mean) @ axes.T)[(labels == k)[:, None] & keep]
        np.testing.assert_allclose(m["class_points"][k], points.mean(0), rtol=1e-4, atol=1e-6)


def test_make_up_gain_brings_the_typical_hits_median_peak_to_the_target(exported):
    model, _, _, stats, path = exported
    gain = read_tmbl(path).metadata["output_gain_db"]
    assert gain == output_gain_db(model, stats["class_embeddings"]) and 0 <= gain <= 24
    peaks = [np.abs(model.generate(label=k, e=np.asarray(e))).max()
             for k, e in enumerate(stats["class_embeddings"])]
    after = np.median(20 * np.log10(peaks)) + gain
    assert abs(after - TARGET_PEAK_DB) < 0.1 or gain in (0.0, 24.0), after


def test_audible_grains_are_near_their_one_shots_peak():
    shot = np.zeros((2, 34816))
    shot[0, :4096] = 0.5                   # loud start, then digital silence
    shot[0, 4096:8192] = 0.5 * 10 ** (-40 / 20)  # 40 dB down: not audible
    shot[1, :] = 1e-5                      # -100 dBFS throughout: under the floor
    keep = audible_grains(shot, 30.0)
    assert keep[0, 0] and keep[0, 4] and not keep[0, 8] and not keep[0, 20]
    assert not keep[1].any()


def test_export_is_deterministic_and_refuses_a_class_without_one_shots(exported, tmp_path):
    model, audio, labels, stats, path = exported
    again = export_grains(model, CLASSES, tmp_path, "smoke", grain_statistics(model, audio, labels),
                          {"note": "test"})
    assert again.read_bytes() == path.read_bytes()
    with pytest.raises(ValueError, match=r"classes \[2\] have no training one-shots"):
        grain_statistics(model, audio[:6], labels[:6])


def _mutations():
    def drop(key):
        return lambda m, g, t: m.pop(key)

    def set_meta(key, value):
        return lambda m, g, t: m.__setitem__(key, value)

    def four_classes(m, g, t):
        m["classes"] = CLASSES + ["tom"]
        m["grain_map"]["class_points"].append([0.0, 0.0])
        m["onset_centroids"].append([0.0] * 8)
        m["class_embeddings"].append([0.0] * 8)

    def no_embedding_graph(m, g, t):
        g.pop("embedding")
        for k in [k for k in t if k.startswith("embedding.")]:
            t.pop(k)

    return {
        "no grain map": (drop("grain_map"), "metadata lacks 'grain_map'"),
        "one axis": (lambda m, g, t: m["grain_map"].__setitem__("axes", m["grain_map"]["axes"][:1]),
                     "'grain_map.axes' must hold 2 rows of 8 numbers"),
        "extent inverted": (lambda m, g, t: m["grain_map"].__setitem__("extent", [1.0, 0.0, 0.0, 1.0]),
                            "x0 < x1 and y0 < y1"),
        "centroids short": (lambda m, g, t: m["onset_centroids"].pop(),
                            "'onset_centroids' must hold 3 rows of 8 numbers (got 2 rows)"),
        "embedding huge": (lambda m, g, t: m["class_embeddings"][1].__setitem__(2, 1e9),
                           "'class_embeddings[1][2]' is 1000000000.0"),
        "gain folded?": (set_meta("encoder_gain_folded", "yes"),
                         "'encoder_gain_folded' must be true or false"),
        "seed zero": (lambda m, g, t: m["noise"].__setitem__("seed", 0), "'noise.seed' is 0"),
        "samples": (set_meta("samples", 34817), "65 grains overlap-add to 34816"),
        "grain length": (set_meta("grain", 1024), "'grain' is 1024; the contract's value is 2048"),
        "latent": (set_meta("latent", 9), "'grain_map.mean' must be a list of 9 numbers"),
        "classes twice": (set_meta("classes", ["kick", "kick", "hat"]), "names a class twice"),
        "taps without post-processing": (set_meta("post_processing", False),
                                         "'post_filter' must be empty when post_processing is false"),
        "window": (set_meta("window", "hann"), "'window' is 'hann'"),
        "make-up gain": (set_meta("output_gain_db", 40), "'output_gain_db' is 40"),
        "make-up gain text": (set_meta("output_gain_db", "loud"), "'output_gain_db' is 'loud'"),
        "no embedding graph": (no_embedding_graph, "no 'embedding' graph"),
        "decoder without softplus": (lambda m, g, t: g["grain_decoder"].pop(),
                                     "graph 'grain_decoder' ends with 'linear'"),
        "decoder input": (four_classes, "graph 'grain_decoder' takes 11 values per frame; the "
                                        "contract's input is 12"),
        "sequence decoder": (lambda m, g, t: g["sequence_decoder"].append({"op": "tanh"}),
                             "'sequence_decoder' must be exactly a gru then a linear"),
        "encoder frames": (lambda m, g, t: g["grain_encoder"][9].__setitem__("frames", 16),
                           "flatten): expects 16 frames, the op before gives 8"),
    }


MUTATIONS = _mutations()


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_malformed_files_are_refused_on_writing_and_reading(exported, tmp_path, monkeypatch, case):
    f = read_tmbl(exported[4])
    meta, graphs, tensors = copy.deepcopy(f.metadata), copy.deepcopy(f.graphs), dict(f.tensors)
    mutate, message = MUTATIONS[case]
    mutate(meta, graphs, tensors)
    with pytest.raises(TmblError, match=re.escape(message)):
        write_tmbl(tmp_path / "bad.tmbl", "grains", "bad", meta, graphs, tensors)
    with monkeypatch.context() as m:  # write it anyway: the reader must refuse it too
        m.setattr(tmbl, "check_family", lambda *a: None)
        write_tmbl(tmp_path / "bad.tmbl", "grains", "bad", meta, graphs, tensors)
    with pytest.raises(TmblError, match=re.escape(message)) as error:
        read_tmbl(tmp_path / "bad.tmbl")
    assert str(error.value).startswith("family 'grains': ")


def test_the_trainer_exports_at_the_end_and_from_a_checkpoint(tmp_path, capsys):
    corpus = write_synthetic_corpus(tmp_path / "data", per_split={"train": 2, "test": 1}, seed=3)
    runs, out = tmp_path / "runs", tmp_path / "models"
    args = ["--data", str(corpus), "--runs", str(runs), "--out", str(out), "--config", "smoke",
            "--batch", "3", "--bottom-epochs", "1", "--joint-epochs", "1"]
    assert trainer.main(args) == 0
    path = out / "smoke-pp.tmbl"
    assert f"wrote {path}" in capsys.readouterr().out
    f = read_tmbl(path)
    assert f.metadata["classes"] == ["kick", "snare", "hat"] and f.metadata["post_processing"]
    t = f.metadata["training"]
    assert t["epochs"] == {"bottom": 1, "joint": 1, "tune": 1} and t["variant"] == "VAE_fi+pp"
    assert t["statistics"]["one_shots"] == 6 and t["corpus"]["train"]["total"] == 6
    first = path.read_bytes()
    path.unlink()
    assert trainer.main(args + ["--export-only"]) == 0
    assert path.read_bytes() == first
    # a run whose joint stage has not run is not exported, and --export-only says why
    bottom = args + ["--name", "bottom-only", "--stage", "bottom"]
    assert trainer.main(bottom) == 0
    assert "not exported: the joint stage has 0 of 1 epochs" in capsys.readouterr().out
    assert trainer.main(bottom + ["--export-only"]) == 2
    assert "the joint stage has not run" in capsys.readouterr().err
    assert not (out / "bottom-only.tmbl").exists()
    assert trainer.main(args + ["--export-only", "--no-export"]) == 2


# --- the golden files -------------------------------------------------------------------------

def _within(got, want, tolerance):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    bound = tolerance["rel_to_peak"] * np.abs(want).max() + tolerance["abs"]
    worst = float(np.abs(got - want).max())
    assert worst <= bound, f"max |difference| {worst:.3g} > {bound:.3g}"


def test_golden_files_regenerate(tmp_path):
    golden.write("grains", tmp_path)  # floats within timbrel.golden.LAST_BITS
    assert golden.differences(ROOT, tmp_path) == []
    # three tiny models (drums with and without the post-filter, a pitched one) and their renders
    assert sum(p.stat().st_size for p in ROOT.iterdir()) < 1_500_000


def test_golden_renders_follow_from_the_files_alone():
    """The renders again, from the .tmbl files' graphs (rebuilt op by op) and metadata."""
    tol = GG.TOLERANCE
    load = lambda name: np.load(ROOT / f"{name}.npy")  # noqa: E731
    files = {v: read_tmbl(ROOT / f"model_{v}.tmbl") for v in ("pp", "fi")}

    def nets(v):
        f = files[v]
        return GG.Networks(graph_from_ops(f.graphs["sequence_decoder"], f.tensors, "sequence_decoder"),
                           graph_from_ops(f.graphs["grain_decoder"], f.tensors, "grain_decoder"))

    meta = files["pp"].metadata
    assert files["fi"].metadata["post_filter"] == [] and len(meta["post_filter"]) == 64
    seed, g = meta["noise"]["seed"], meta["grains"]
    hit, z = GG.render_hit(nets("pp"), load("hit_embedding"), load("hit_condition"), g,
                           meta["post_filter"], seed)
    _within(hit, load("hit_pp"), tol["audio"])
    _within(z, load("hit_z"), tol["latents"])
    hit_fi, _ = GG.render_hit(nets("fi"), load("hit_embedding"), load("hit_condition"), g, None, seed)
    _within(hit_fi, load("hit_fi"), tol["audio"])
    assert np.abs(hit - hit_fi).max() > 0.1 * np.abs(hit_fi).max()  # the FIR matters
    path = GG.render_grain_path(nets("pp"), load("grain_path_z"), load("grain_path_condition"),
                                meta["post_filter"], seed)
    _within(path, load("grain_path_pp"), tol["audio"])
    voice = GG.render_path(nets("pp"), load("path_xy"), meta["grain_map"]["mean"],
                           meta["grain_map"]["axes"], load("path_condition"), meta["post_filter"], seed)
    _within(voice, load("path_pp"), tol["audio"])
    f = files["pp"]
    encoder = graph_from_ops(f.graphs["grain_encoder"], f.tensors, "grain_encoder")
    with torch.no_grad():
        out = encoder(torch.from_numpy(load("encoder_grains")).reshape(4, 2048, 1)).reshape(4, -1).numpy()
    _within(out, load("encoder_output"), tol["encoder"])
    nearest, _ = GG.nearest_class(out[:, :8], meta["onset_centroids"])
    np.testing.assert_array_equal(nearest, load("encoder_nearest_class"))


def test_streamed_hit_is_the_models_offline_one_shot():
    """Hop-by-hop streaming (GG.stream) = NeuralGranular's batch synthesis of the same z^."""
    model = GG.build_model()
    e = torch.from_numpy(np.random.default_rng(2).standard_normal(8).astype(np.float32))[None]
    c = torch.tensor([[0.0, 0.3, 0.7]])
    with torch.no_grad():
        z = model.decode_sequence(e, c)
        H = model.filters(z, c).double()
        want = G.synthesize(H, G.parity_noise(1, 65), model.post_filter.double())[0].numpy()
    taps = model.post_filter.taps().detach().double().numpy()
    got, z_streamed = GG.render_hit(GG.Networks(model.sequence_decoder, model.grain_decoder),
                                    e[0].numpy(), c[0].numpy(), 65, taps, G.NOISE_SEED)
    np.testing.assert_allclose(z_streamed, z[0].numpy(), rtol=1e-5, atol=1e-6)
    assert got.shape == want.shape == (34816,)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    # the path voice's W = 2 and Hann ends: a constant grain stream without the ends
    flat = GG.stream(lambda t: np.ones(1025), 12, None, None, G.NOISE_SEED)
    noise = G.parity_noise(1, 12)[0].numpy()
    hann = GG.window(5, None)
    m = 512 * 6 + 100  # covered by grains 3..6
    want_m = sum(hann[m - 512 * i] * noise[i, m - 512 * i] for i in range(3, 7)) / 2
    assert abs(flat[m] - want_m) < 1e-12
