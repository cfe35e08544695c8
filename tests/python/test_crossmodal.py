"""Cross-modal VAE: the trainer (stop, resume, export) on the smoke corpus, the shipped
file's contract, its evaluation (Tables 1-2 and the PCA + MLP baseline), the ISD and
loose/strict conventions, and the constant-Q front end on a sine."""

import contextlib
import io
import json
import math
import signal

import numpy as np
import pytest

from timbrel import cqt
from timbrel.eval import crossmodal_card as cc

BASELINE_STEPS = 400


def test_isd_is_zero_for_identical_spectra_and_follows_the_formula_when_scaled():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 2.0, (7, cqt.N_BINS))
    assert cc.isd(x, x) == 0.0
    # (X + eps) / (X^ + eps) = 1 / c in every bin: ISD = 1/c + ln c - 1
    for c in (2.0, 0.5):
        estimate = c * (x + cqt.LOG_FLOOR) - cqt.LOG_FLOOR
        assert cc.isd(x, estimate) == pytest.approx(1.0 / c + math.log(c) - 1.0, rel=1e-9)
    assert cc.isd(x, 2 * x) > 0


def test_loose_counts_a_label_of_any_instrument_and_is_at_least_strict():
    # two slots (sax, violin): (pitch class, octave, dynamics) each
    true = np.array([[0, 4, 0, 4, 5, 2],
                     [7, 3, 1, 9, 4, 1]])
    predicted = np.array([[4, 5, 2, 0, 4, 0],    # the slots swapped: strict 0, loose 1
                          [7, 4, 0, 9, 4, 1]])   # slot 0 octave 4 is slot 1's; dyn 0 is nobody's
    acc = cc.family_accuracy(predicted, true)
    assert acc["pitch_class"]["strict"] == pytest.approx(0.5)
    assert acc["pitch_class"]["loose"] == pytest.approx(1.0)
    assert acc["octave"]["strict"] == pytest.approx(0.25)
    assert acc["octave"]["loose"] == pytest.approx(1.0)
    assert acc["dynamics"]["strict"] == pytest.approx(0.25)
    assert acc["dynamics"]["loose"] == pytest.approx(0.75)
    assert acc["dynamics"]["strict_per_slot"] == pytest.approx([0.0, 0.5])
    for family in cc.FAMILIES:
        assert acc[family]["loose"] >= acc[family]["strict"]
    # one instrument: loose is strict
    solo = cc.family_accuracy(true[:, :3], predicted[:, :3])
    assert all(solo[f]["loose"] == solo[f]["strict"] for f in cc.FAMILIES)
    with pytest.raises(ValueError, match="expected equal"):
        cc.family_accuracy(true[:, :4], predicted[:, :4])


@pytest.mark.parametrize("k", [250, 300, 360])
def test_cqt_features_of_a_sine_peak_at_its_bin(k):
    f = cqt.F_MIN * 2 ** (k / cqt.BINS_PER_OCTAVE)
    t = np.arange(cqt.SAMPLE_RATE // 2) / cqt.SAMPLE_RATE
    feats = cqt.features(0.3 * np.sin(2 * np.pi * f * t))
    middle = feats[len(feats) // 2]
    assert int(np.argmax(middle)) == k
    # the same frame through the evaluation's per-frame front end
    frame = cqt.frames(0.3 * np.sin(2 * np.pi * f * t))[len(feats) // 2]
    np.testing.assert_allclose(cc.frame_features(frame[None])[0], middle, atol=1e-9)


def test_a_low_sine_peaks_within_two_bins():
    # below ~740 Hz the pooling interpolates between FFT bins (10.8 Hz apart), so the
    # peak lands on the constant-Q bin nearest the FFT bin nearest the sine
    k = 100
    f = cqt.F_MIN * 2 ** (k / cqt.BINS_PER_OCTAVE)
    t = np.arange(cqt.SAMPLE_RATE // 2) / cqt.SAMPLE_RATE
    feats = cqt.features(0.3 * np.sin(2 * np.pi * f * t))
    assert abs(int(np.argmax(feats[len(feats) // 2])) - k) <= 2


def test_dynamics_shift_relabels_and_scales_by_the_level_step():
    from timbrel.train import crossmodal
    rng = np.random.default_rng(0)
    x = rng.uniform(1.0, 8.0, (400, cqt.N_BINS)).astype(np.float32)
    y = np.stack([rng.integers(0, 12, 400), rng.integers(0, 9, 400), rng.integers(0, 3, 400)], 1)

    def batches_with(p):  # only the augmentation's state (no frames needed)
        b = crossmodal.Batches.__new__(crossmodal.Batches)
        b.rng, b.dynamics_shift_p = np.random.default_rng(1), p
        return b

    batches = batches_with(0.5)
    x2, y2 = batches.shift_dynamics(x, y)
    assert np.array_equal(y[:, :2], y2[:, :2])  # pitch untouched
    moved = y2[:, 2] != y[:, 2]
    assert 0.2 < moved.mean() < 0.45  # half of the frames drew a dynamic, 2/3 of them another
    steps = y2[:, 2] - y[:, 2]
    gain_db = 20 * np.log10(cqt.from_features(x2).sum(1) / cqt.from_features(x).sum(1))
    np.testing.assert_allclose(gain_db, steps * crossmodal.DYNAMICS_STEP_DB, atol=1e-3)
    off = batches_with(0.0)  # nothing changes
    assert all(a is b for a, b in zip(off.shift_dynamics(x, y), (x, y)))


# ----------------------------------------------------------------------------- trained


def _train(argv):
    from timbrel.train import crossmodal
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = crossmodal.main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def trained(smoke_corpus, tmp_path_factory):
    """A solo model trained 2 epochs with a stop after the first and a resume, and a
    mixture model, both in one index."""
    from timbrel.train import crossmodal
    work = tmp_path_factory.mktemp("crossmodal")
    index = work / "models" / "index.json"

    def args(instrument, name):
        return ["--instrument", instrument, "--out", str(work / "models" / name), "--config", "smoke",
                "--data", str(smoke_corpus), "--runs", str(work / "runs"), "--index", str(index),
                "--threads", "1", "--device", "cpu"]

    original_epoch = crossmodal.Batches.epoch

    def epoch_then_stop(self):
        yield from original_epoch(self)
        crossmodal._on_signal(signal.SIGTERM, None)  # as a SIGTERM during the first epoch

    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        crossmodal.Batches.epoch = epoch_then_stop
        stopped = _train(args("violin", "violin"))
        crossmodal.Batches.epoch = original_epoch
        crossmodal._stop = False
        resumed = _train(args("violin", "violin"))
        mixture = _train(args("alto_sax,violin", "sax_violin"))
    finally:
        crossmodal.Batches.epoch = original_epoch
        crossmodal._stop = False
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    return dict(work=work, index=index, root=smoke_corpus, stopped=stopped, resumed=resumed,
                mixture=mixture, solo=work / "models" / "violin" / "violin.tmbl",
                mix=work / "models" / "sax_violin" / "sax_violin.tmbl", cache=work / "cache")


def test_trainer_stops_resumes_and_exports(trained):
    code, out = trained["stopped"]
    assert code == 0 and "stopped; rerun to resume" in out
    code, out = trained["resumed"]
    assert code == 0 and "resumed from" in out and "at epoch 1" in out and "wrote" in out
    log = (trained["work"] / "runs" / "crossmodal-violin" / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log[1:]] == ["1", "2"]
    assert trained["mixture"][0] == 0
    entries = json.loads(trained["index"].read_text())
    assert sorted(e["id"] for e in entries) == ["sax_violin", "violin"]


@pytest.mark.parametrize("which,instruments", [("solo", ["violin"]), ("mix", ["alto_sax", "violin"])])
def test_exported_file_meets_the_contract(trained, which, instruments):
    from timbrel.tmbl import read_tmbl
    f = read_tmbl(trained[which])
    m = f.metadata
    assert f.family == "crossmodal_vae"
    assert m["n_bins"] == 409 and m["latent"] == 32 and m["instruments"] == instruments
    assert m["octaves"] == list(range(9)) and m["dynamics"] == ["pp", "mf", "ff"]
    assert len(m["pitch_ranges"]) == len(instruments)
    proj = m["latent_projection"]
    assert len(proj["mean"]) == 32 and len(proj["axes"]) == 2 and all(len(a) == 32 for a in proj["axes"])
    assert len(proj["extent"]) == 2 and all(lo < hi for lo, hi in proj["extent"])
    model = cc.load_model(trained[which])
    assert model.groups == (12, 9, 3) * len(instruments)
    symbols = 24 * len(instruments)
    assert f.tensors[f.graphs["symbol_encoder"][0]["weight"]].shape[1] == symbols
    assert f.tensors[f.graphs["symbol_decoder"][-1]["weight"]].shape[0] == symbols
    assert f.tensors[f.graphs["signal_decoder"][-1]["weight"]].shape[0] == 409


def test_numpy_forward_pass_matches_the_trained_pytorch_model(trained):
    import torch
    from timbrel.models.crossmodal_vae import CrossmodalVAE
    ck = torch.load(trained["work"] / "runs" / "crossmodal-violin" / "checkpoint.pt", map_location="cpu",
                    weights_only=False)  # holds the numpy rng state too
    net = CrossmodalVAE(signal_hidden=ck["config"]["signal_hidden"],
                        symbol_hidden=ck["config"]["symbol_hidden"]).eval()
    net.load_state_dict(ck["model"])
    model = cc.load_model(trained["solo"])
    rng = np.random.default_rng(1)
    inputs = {"signal_encoder": rng.uniform(0, 8, (5, 409)), "signal_decoder": rng.normal(size=(5, 32)),
              "symbol_encoder": rng.integers(0, 2, (5, 24)).astype(float),
              "symbol_decoder": rng.normal(size=(5, 32))}
    for graph, x in inputs.items():
        with torch.no_grad():
            want = getattr(net, graph)(torch.as_tensor(x, dtype=torch.float32)).numpy()
        np.testing.assert_allclose(model.run(graph, x), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_load_model_refuses_files_outside_the_contract(trained, tmp_path):
    from timbrel.tmbl import read_tmbl, write_tmbl
    f = read_tmbl(trained["solo"])

    def rewrite(family=f.family, metadata=f.metadata, graphs=f.graphs, tensors=f.tensors):
        path = tmp_path / "bad.tmbl"
        write_tmbl(path, family, f.name, metadata, graphs, tensors)
        return path

    with pytest.raises(ValueError, match="family is 'vq_timbre'"):
        cc.load_model(rewrite(family="vq_timbre"))
    with pytest.raises(ValueError, match="metadata n_bins is 256"):
        cc.load_model(rewrite(metadata={**f.metadata, "n_bins": 256}))
    graphs = {**f.graphs, "symbol_decoder": f.graphs["symbol_decoder"] + [{"op": "flatten"}]}
    with pytest.raises(ValueError, match="op 'flatten' is not supported"):
        cc.load_model(rewrite(graphs=graphs))
    # a mixture model's symbol graphs (48 wide) under a solo model's metadata
    with pytest.raises(ValueError, match="symbol_encoder"):
        cc.load_model(rewrite(metadata={**f.metadata, "instruments": ["alto_sax", "violin"]}))
    graphs = {k: v for k, v in f.graphs.items() if k != "signal_decoder"}
    tensors = {k: v for k, v in f.tensors.items() if not k.startswith("signal_decoder")}
    with pytest.raises(ValueError, match="graph 'signal_decoder' is missing"):
        cc.load_model(rewrite(graphs=graphs, tensors=tensors))


def _in_unit(table):
    return all(0.0 <= table[f][k] <= 1.0 for f in cc.FAMILIES for k in ("strict", "loose"))


def test_solo_evaluation_gives_numbers_in_range_and_a_card(trained):
    result = cc.evaluate(trained["solo"], str(trained["root"]), baseline_steps=BASELINE_STEPS,
                         cache_dir=trained["cache"], log=lambda *_: None)
    assert result["instruments"] == ["violin"] and result["test"]["notes"] == 1
    assert result["items"] == result["test"]["frames"] > 50
    for path in ("reconstruction", "symbol_to_signal"):
        t = result["table1"][path]
        assert 0.0 < t["isd"] < 50.0 and math.isfinite(t["mse"]) and t["mse"] > 0
    for path in ("symbol_to_symbol", "signal_to_symbol"):
        table = result["table2"][path]
        assert _in_unit(table)
        # one instrument: loose is strict
        assert all(table[f]["loose"] == table[f]["strict"] for f in cc.FAMILIES)
    base = result["baseline"]
    assert _in_unit(base["signal_to_symbol"]) and base["hidden"] == 16 and base["components"] == 32
    # the baseline learns its (4-note) training set
    assert min(base["train_accuracy"][f]["strict"] for f in cc.FAMILIES) >= 0.9
    # one test note, whose (pitch, dynamics) the smoke split keeps out of training
    assert result["split"]["violin"] == {"test_labels": 1, "test_labels_in_train": 0,
                                         "test_pitches": 1, "test_pitches_in_train": 0}
    card = trained["work"] / "models" / "violin" / "MODEL_CARD.md"
    for _ in range(2):
        cc.write_card(result, card, "cmd")
    text = card.read_text()
    assert text.count(cc.BEGIN) == 1 and text.count(cc.END) == 1
    assert "<!-- training:begin -->" in text and "| ISD, reconstruction" in text
    assert "0 of 1 test labels" in text and "| 0.104 |" in text  # the paper's violin ISD


def test_mixture_evaluation_strict_and_loose_and_the_summary(trained, capsys):
    result = cc.evaluate(trained["mix"], str(trained["root"]), mixtures=300, baseline_steps=BASELINE_STEPS,
                         train_mixtures=600, cache_dir=trained["cache"], log=lambda *_: None)
    assert result["items"] == 300 and result["test"]["notes"] == [1, 1]
    for path in ("symbol_to_symbol", "signal_to_symbol"):
        table = result["table2"][path]
        assert _in_unit(table)
        assert all(table[f]["loose"] >= table[f]["strict"] for f in cc.FAMILIES)
        assert all(len(table[f]["strict_per_slot"]) == 2 for f in cc.FAMILIES)
    assert result["baseline"]["train_items"] == 600
    assert all(0 < result["table1"][p]["isd"] < 50 for p in ("reconstruction", "symbol_to_signal"))
    section = cc.card_section(result, "cmd")
    assert "pitch class (loose)" in section and "Sax+Vn" in section

    capsys.readouterr()
    code = cc.main(["--summary", "--write-card", "--index", str(trained["index"]), "--data",
                    str(trained["root"]), "--mixtures", "300", "--baseline-steps", str(BASELINE_STEPS),
                    "--baseline-mixtures", "600", "--cache-dir", str(trained["cache"])])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("baseline: cached") == 2  # both baselines came from the cache
    readme = (trained["index"].parent / "README.md").read_text()
    assert readme.count(cc.SUMMARY_BEGIN) == 1
    rows = [line for line in readme.splitlines() if line.startswith(("| violin", "| sax_violin"))]
    assert len(rows) == 3  # violin, sax_violin strict and loose
    card = (trained["work"] / "models" / "sax_violin" / "MODEL_CARD.md").read_text()
    assert card.count(cc.BEGIN) == 1 and "<!-- training:begin -->" in card


@pytest.mark.parametrize("which", ["solo", "mix"])
def test_onnx_graphs_come_back_from_the_tmbl(trained, which, tmp_path):
    """Only the .tmbl is shipped; onnx_from_tmbl rebuilds the module, checks that it
    exports back to the same bytes, and writes the four graphs."""
    from timbrel.export.onnx_from_tmbl import write_onnx
    written = write_onnx(trained[which], tmp_path)
    stem = trained[which].stem
    assert sorted(p.name for p in written) == sorted(
        f"{stem}.{g}.onnx" for g in ("signal_decoder", "signal_encoder", "symbol_decoder", "symbol_encoder"))
    assert all(p.stat().st_size > 1000 for p in written)
