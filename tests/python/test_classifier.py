"""The reference instrument classifier: features, committed weights, smoke accuracy.

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python
"""

import json

import numpy as np
import pytest
import torch

from timbrel.data.corpus import load_audio, read_manifest
from timbrel.data.instruments import PERFORMANCE_INSTRUMENTS
from timbrel.eval import classifier as C
from timbrel.eval import features as F

torch.set_num_threads(2)


def test_framing_constants():
    assert (F.FRAME, F.FRAME_HOP, F.SUBFRAMES, F.SUBFRAME_STRIDE) == (4096, 2048, 13, 8)
    # the 13 log-mel columns of a frame tile exactly its 4096 samples
    assert (F.SUBFRAMES - 1) * F.HOP + F.N_FFT == F.FRAME
    assert F.frame_count(4095) == 0 and F.frame_count(4096) == 1 and F.frame_count(4096 + 2048) == 2


def test_log_mel_of_a_sine_peaks_in_its_band():
    sr = 22050
    t = np.arange(sr) / sr
    x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    lm = F.log_mel(torch.from_numpy(x))
    assert lm.shape == (1 + (sr - 1024) // 256, F.N_MELS)
    fb = F.mel_filterbank()
    k = int(round(1000 * 1024 / sr))
    assert int(lm.mean(0).argmax()) == int(fb[:, k].argmax())
    # level: the core's power convention, a sine of amplitude a has sum_k P = a^2 / 2,
    # most of it inside one band
    assert float(lm.max()) == pytest.approx(10 * np.log10(0.125), abs=1.5)


def test_frames_and_silence_mask():
    x = np.zeros(4096 * 3, dtype=np.float32)
    x[4096:8192] = 0.1 * np.random.default_rng(0).standard_normal(4096)
    patches, loud = F.frames(x)
    assert patches.shape == (5, 13, 64)
    # frames at 0, 2048, 4096, 6144, 8192: those touching the noise are loud
    assert loud.tolist() == [False, True, True, True, False]
    # -60 dBFS threshold: a sine at rms -59 dB counts, at -61 dB it does not
    t = np.arange(4096) / 22050
    for level, expect in ((-59.0, True), (-61.0, False)):
        amp = np.sqrt(2) * 10 ** (level / 20)
        assert F.frames((amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32))[1][0] == expect


def test_model_shapes_and_level_invariance():
    torch.manual_seed(0)
    m = C.FrameClassifier().eval()
    p = torch.randn(4, 13, 64) * 10 - 50
    out = m(p)
    assert out.shape == (4, 13)
    torch.testing.assert_close(m(p + 17.0), out)          # the patch mean is removed


def test_committed_weights_and_card():
    assert C.DEFAULT_WEIGHTS.exists(), "models/classifier/classifier.pt is missing"
    assert C.DEFAULT_WEIGHTS.stat().st_size <= 2_000_000
    clf = C.load()
    assert clf.labels == tuple(PERFORMANCE_INSTRUMENTS)
    metrics = json.loads((C.DEFAULT_DIR / "metrics.json").read_text())
    assert metrics["results"]["test"]["accuracy"] >= 0.85
    card = (C.DEFAULT_DIR / "MODEL_CARD.md").read_text()
    assert f"{metrics['results']['test']['accuracy']:.4f}" in card and "confusion" in card


def test_classifier_on_smoke_phrases(smoke_corpus):
    """Smoke phrases are fresh (their own seed stream): most must be recognised."""
    clf = C.load()
    rows = read_manifest(smoke_corpus, "performance")
    correct_majority, frames, hits = 0, 0, 0
    for r in rows:
        labels, loud = clf.predict(load_audio(smoke_corpus, r))
        assert loud.sum() >= 5
        lab = labels[loud]
        names, counts = np.unique(lab, return_counts=True)
        correct_majority += names[np.argmax(counts)] == r["instrument"]
        frames += len(lab)
        hits += int(np.sum(lab == r["instrument"]))
    assert correct_majority >= 10, f"{correct_majority}/13 phrases recognised"
    assert hits / frames >= 0.7


def test_training_step_runs_on_smoke_data(smoke_corpus):
    rows = read_manifest(smoke_corpus, "performance")[:3]
    mels, starts, labels = C._phrase_features(rows, smoke_corpus)
    assert len(starts) == len(labels) > 50 and mels.shape[1] == 64
    assert int(starts.max()) + F.SUBFRAMES <= mels.shape[0]
    model = C.FrameClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    pick = torch.randint(0, len(starts), (16,), generator=gen)
    patches = C._augment(mels[starts[pick][:, None] + torch.arange(F.SUBFRAMES)], gen)
    loss = torch.nn.functional.cross_entropy(model(patches), labels[pick])
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    s = C.score(model.eval(), [(load_audio(smoke_corpus, rows[0]), rows[0]["instrument"])])
    assert s["frames"] > 0 and len(s["confusion"]) == 13
