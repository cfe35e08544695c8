"""The CLI's offline outputs pass the engines' output guard (core/include/timbrel/dsp/output_guard.h):
finite, inside [-1, 1], true peak at most -1 dBTP; a model whose output stays absurd is refused
(exit 1, nothing written). Before the guard, `transfer` wrote float WAVs with peaks of 3.9 or NaN
and exit 0, and the shipped models went past full scale on loud speech.

Needs the native build (`cmake --build build`) or TIMBREL_CLI.
"""

import subprocess

import numpy as np
import pytest

from timbrel.data.audio import read_wav
from timbrel.eval.core import REPO, cli_path
from timbrel.tmbl import read_tmbl, write_tmbl

CEILING = 0.891251 + 1e-4   # -1 dBTP (the WAV's 16-bit rounding on top)
VOICE = REPO / "web" / "assets" / "example-voice.wav"
GOLDEN_VQ = REPO / "tests" / "golden" / "vq" / "model.tmbl"


def model_with_gain_bias(tmp_path, bias, name):
    m = read_tmbl(GOLDEN_VQ)
    tensors = dict(m.tensors)
    tensors["gain.0.bias"] = np.full_like(tensors["gain.0.bias"], bias)
    return write_tmbl(tmp_path / f"{name}.tmbl", m.family, name, m.metadata, m.graphs, tensors)


def loud_voice(tmp_path, factor=4.0):
    """The example voice 12 dB louder and clipped: loud real speech."""
    from scipy.io import wavfile
    x, sr = read_wav(VOICE)
    y = np.clip(x * factor, -1.0, 1.0).astype(np.float32)
    path = tmp_path / "loud-voice.wav"
    wavfile.write(path, sr, y)
    return path


def transfer(voice, model, out):
    return subprocess.run([str(cli_path()), "transfer", str(voice), "--model", str(model),
                           "-o", str(out)], capture_output=True, text=True)


@pytest.mark.parametrize("name", ["flute", "trumpet", "clarinet", "alto_sax"])
def test_shipped_models_stay_inside_full_scale_on_loud_speech(tmp_path, name):
    out = tmp_path / f"{name}.wav"
    r = transfer(loud_voice(tmp_path), name, out)
    assert r.returncode == 0, r.stderr
    y, _ = read_wav(out)
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) <= CEILING


def test_a_loud_model_is_limited(tmp_path):
    """The golden model (random weights) peaks at +19 dBFS on the example voice, in bursts."""
    out = tmp_path / "loud.wav"
    r = transfer(VOICE, GOLDEN_VQ, out)
    assert r.returncode == 0, r.stderr
    assert "limited to -1 dBTP" in r.stderr
    y, _ = read_wav(out)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= CEILING


@pytest.mark.parametrize("bias", [20.0, 1e30])
def test_an_absurd_model_is_refused_and_nothing_written(tmp_path, bias):
    out = tmp_path / "absurd.wav"
    r = transfer(VOICE, model_with_gain_bias(tmp_path, bias, "absurd"), out)
    assert r.returncode == 1, r.stdout + r.stderr
    assert not out.exists()
    # +26 dB over the model, or so loud that its samples overflow to infinity.
    assert "the model produced invalid output" in r.stderr or "finite" in r.stderr, r.stderr
