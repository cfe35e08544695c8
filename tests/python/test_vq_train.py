"""The VQ timbre trainer end to end on the smoke corpus: train a few steps, export, resume,
load the file back and render it (the CI smoke test of the timbre transfer issue)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from timbrel.export import read_tmbl
from timbrel.models.vq_timbre import VQTimbre
from timbrel.train import render as render_cli
from timbrel.train import vq as trainer
from timbrel.train.data import Excerpts, Source, f0_range
from timbrel.train.loss import spectral_loss


def test_spectral_loss_is_zero_for_equal_signals_and_scales():
    torch.manual_seed(0)
    x = torch.randn(2, 4096)
    assert float(spectral_loss(x, x)["loss"]) == 0.0
    r = spectral_loss(2 * x, x)
    assert float(r["log"]) == pytest.approx(5 * np.log(2), rel=1e-3)  # 5 sizes, |log 2| each


def test_excerpts_carry_context_and_pitch():
    audio = np.arange(10 * 256, dtype=np.float32) / 1000 + 0.1
    s = Source("a", audio, np.arange(11, dtype=np.float32) + 100, np.ones(11, np.float32))
    ex = Excerpts([s], hops=4, seed=0)
    for _ in range(5):
        a, f0, v = ex.batch(1)
        k = int(f0[0, 0]) - 100
        start = k * 256 - 768
        want = np.array([audio[i] if 0 <= i < len(audio) else 0.0 for i in range(start, start + 768 + 4 * 256)],
                        np.float32)
        np.testing.assert_array_equal(a[0], want)
        np.testing.assert_array_equal(f0[0], np.arange(k, k + 4) + 100)
    assert f0_range([s]) == [100.5, 109.5]


def test_smoke_training_exports_and_resumes(smoke_corpus, tmp_path):
    out = tmp_path / "models" / "violin"
    args = ["--smoke", "--instrument", "violin", "--out", str(out), "--data", str(smoke_corpus),
            "--cache", str(tmp_path / "cache"), "--onnx"]
    assert trainer.main(args + ["--steps", "2"]) == 0
    log = (tmp_path / "runs" / "violin" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,") and len(log) == 3
    assert trainer.main(args + ["--steps", "4"]) == 0  # resumes at step 2
    log = (tmp_path / "runs" / "violin" / "log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["1", "2", "3", "4"]
    f = read_tmbl(out / "violin.tmbl")
    assert list(f.graphs) == ["encoder", "quantizer", "decoder", "harmonic", "noise", "gain"]
    # float16 as models/ ships; the float32 export kept in the run folder, same metadata
    from timbrel.tmbl import stored_dtype
    f32 = read_tmbl(tmp_path / "runs" / "violin" / "violin.f32.tmbl")
    assert stored_dtype(f) == "f16" and stored_dtype(f32) == "f32" and f32.metadata == f.metadata
    m = f.metadata
    assert m["sample_rate"] == 22050 and m["window"] == 1024 and m["hop"] == 256
    assert m["synthesis_window"] == 512 and m["instrument"] == "violin" and m["quantized"] is True
    assert m["codes"] == 16 and m["latent"] == 8 and m["hidden"] == 24
    lo, hi = m["f0_range_hz"]
    assert 100 < lo < hi < 3000
    tr = m["training"]
    assert tr["steps"] == 4 and tr["corpus_minutes"] > 0 and 0 < tr["codebook_usage"] <= 1
    assert tr["perplexity"] >= 1 and set(tr["final_losses"]) >= {"loss", "linear", "log", "commitment"}
    assert (out / "violin.decoder.step.onnx").exists() and (out / "violin.encoder.onnx").exists()
    # The shipped models carry no ONNX: onnx_from_tmbl writes the same graphs from the .tmbl.
    from timbrel.export.onnx_from_tmbl import write_onnx
    regenerated = write_onnx(out / "violin.tmbl", tmp_path / "regenerated")
    assert sorted(p.name for p in regenerated) == sorted(p.name for p in out.glob("*.onnx"))
    for p in regenerated:
        assert p.read_bytes() == (out / p.name).read_bytes(), p.name
    assert "## Training" in (out / "MODEL_CARD.md").read_text()
    index = json.loads((tmp_path / "models" / "index.json").read_text())
    # how loud it plays the page's example clip, measured by the core (timbrel.eval.levels)
    level = index[0].pop("output_level_db")
    assert -90.0 < level < 10.0
    assert index == [{"id": "violin", "instrument": "violin", "file": "violin/violin.tmbl",
                      "card": "violin/MODEL_CARD.md", "f0_range_hz": [lo, hi], "quantized": True,
                      "descriptor_table": True, "size_bytes": (out / "violin.tmbl").stat().st_size}]
    # the drawing table is stored at export (the core's CLI is built here)
    table = m["descriptor_table"]
    assert len(table["pitch"]["centroid_hz"]) == 16 and len(table["noise"]["loudness_db"]) == 16
    # The baseline (no quantizer) beside it, and a render of the exported file.
    base = tmp_path / "models" / "violin-baseline"
    assert trainer.main(["--smoke", "--instrument", "violin", "--out", str(base), "--data", str(smoke_corpus),
                         "--cache", str(tmp_path / "cache"), "--steps", "1", "--no-vq"]) == 0
    fb = read_tmbl(base / "violin-baseline.tmbl")
    assert "quantizer" not in fb.graphs and fb.metadata["quantized"] is False
    assert [e["id"] for e in json.loads((tmp_path / "models" / "index.json").read_text())] == \
        ["violin", "violin-baseline"]
    src = sorted(smoke_corpus.glob("voice/**/*.wav"))[0]
    dst = tmp_path / "out.wav"
    assert render_cli.main([str(src), "--model", str(out / "violin.tmbl"), "--auto-octave",
                            "-o", str(dst)]) == 0
    from timbrel.data.audio import read_wav
    y, sr = read_wav(dst)
    x, _ = read_wav(src)
    assert sr == 22050 and len(y) == len(x) and np.all(np.isfinite(y))
    model = VQTimbre.from_tmbl(out / "violin.tmbl")
    assert model.quantized and model.codes == 16


def test_audio_dir_training(tmp_path):
    """--audio-dir: any WAV (here 44.1 kHz stereo) is resampled and trained on."""
    from scipy.io import wavfile
    folder = tmp_path / "mine"
    folder.mkdir()
    sr = 44100
    t = np.arange(int(1.5 * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 330 * t) * np.minimum(1, t * 10)
    wavfile.write(str(folder / "a.wav"), sr, np.stack([tone, tone], 1).astype(np.float32))
    wavfile.write(str(folder / "b.wav"), sr, (tone * 32767 * 0.5).astype(np.int16))
    out = tmp_path / "models" / "mine"
    assert trainer.main(["--smoke", "--audio-dir", str(folder), "--out", str(out), "--steps", "2",
                         "--cache", str(tmp_path / "cache")]) == 0
    f = read_tmbl(out / "mine.tmbl")
    assert f.metadata["instrument"] == "custom"
    lo, hi = f.metadata["f0_range_hz"]
    assert 320 < lo <= hi < 340
    assert "audio folder" in f.metadata["training"]["corpus"]


def test_tilt_batch_keeps_level_and_moves_brightness():
    t = np.arange(22050) / 22050
    x = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in range(1, 30)).astype(np.float32)
    audio = torch.from_numpy(np.stack([x, x, x]))

    def centroid(y):
        spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
        f = np.fft.rfftfreq(len(y), 1 / 22050)
        return float((spec * f).sum() / spec.sum())

    def tilted(limit, seed):
        return trainer.tilt_batch(audio, limit, torch.Generator().manual_seed(seed))

    y = tilted(20.0, 3)
    assert y.shape == audio.shape and y.dtype == audio.dtype
    for row in y.numpy():  # level kept (the conditioning's loudness stays true)
        assert abs(np.sqrt(np.mean(row ** 2)) / np.sqrt(np.mean(x ** 2)) - 1) < 1e-3
    centroids = [centroid(r) for r in y.numpy()]
    assert max(centroids) / min(centroids) > 1.2 and len(set(np.round(centroids))) == 3
    assert torch.equal(tilted(20.0, 3), y)  # seeded: a resumed run tilts the same
    assert not torch.equal(tilted(20.0, 4), y)
    np.testing.assert_allclose(tilted(0.0, 3).numpy(), audio.numpy(), atol=1e-5)  # no tilt
