"""Checks of the constant-Q contract, scripts/timbrel/cqt.py, and its golden files.

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python/test_cqt.py
"""

import math
from pathlib import Path

import numpy as np
import pytest

from timbrel import cqt, golden
from timbrel.golden import cqt as cqt_golden

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "cqt"
BIN_HZ = cqt.SAMPLE_RATE / cqt.WINDOW


def sine(freq, amplitude=0.3, seconds=0.5):
    t = np.arange(int(cqt.SAMPLE_RATE * seconds)) / cqt.SAMPLE_RATE
    return amplitude * np.sin(2 * np.pi * freq * t)


def test_bins_are_log_spaced_under_f_max():
    f = cqt.bin_frequencies()
    assert cqt.N_BINS == 409 and len(f) == 409
    assert f[0] == 30.0 and f[48] == pytest.approx(60.0)
    assert f[-1] < cqt.F_MAX < 30.0 * 2 ** (409 / 48)
    np.testing.assert_allclose(f[1:] / f[:-1], 2 ** (1 / 48))


def test_pooling_rows_sum_to_one_over_one_run_of_fft_bins():
    w = cqt.pooling_matrix()
    assert w.shape == (cqt.N_BINS, cqt.FFT_BINS)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(w >= 0)
    for row in w:
        nz = np.flatnonzero(row)
        assert len(nz) >= 1 and np.all(np.diff(nz) == 1)
    # Low rows interpolate between at most two FFT bins (plus an exact hit);
    # the top row spans its constant-Q width, 2 * 0.0145 * 10861 Hz / 10.77 Hz.
    assert np.count_nonzero(w[0]) <= 3
    assert np.count_nonzero(w[-1]) == 29


def test_low_rows_interpolate_linearly():
    # Bin 0 (30 Hz) lies between FFT bins 2 (21.5 Hz) and 3 (32.3 Hz).
    w = cqt.pooling_matrix()[0]
    frac = 30.0 / BIN_HZ - 2
    np.testing.assert_allclose(w[2:4], [1 - frac, frac], atol=1e-12)


@pytest.mark.parametrize("freq", [55.0, 110.0, 440.0, 1000.0, 3520.0, 8000.0])
def test_sine_lands_in_its_bin(freq):
    mag = cqt.cqt_magnitude(sine(freq))
    peak = int(np.argmax(mag[len(mag) // 2]))
    assert abs(peak - 48 * math.log2(freq / cqt.F_MIN)) <= 1.0


def test_stft_magnitude_scale_gives_a_bin_centred_sine_its_amplitude():
    k = 100
    mag = cqt.stft_magnitude(sine(k * BIN_HZ, amplitude=0.25))
    assert mag[len(mag) // 2, k] == pytest.approx(0.25, rel=1e-6)


def test_low_sine_keeps_its_amplitude_in_the_constant_q_bins():
    # Bin-centred (258 Hz): the nearest constant-Q bin is within half its
    # spacing (1.9 Hz, 0.17 FFT bin), where linear interpolation towards the
    # neighbour (Hann: half the peak) loses at most 0.17 * 0.5 = 9 %.
    mag = cqt.cqt_magnitude(sine(24 * BIN_HZ, amplitude=0.3))
    frame = mag[len(mag) // 2]
    assert 0.3 * 0.91 <= frame.max() <= 0.3
    k = int(np.argmax(frame))
    frac = abs(cqt.bin_frequencies()[k] / BIN_HZ - 24)
    assert frame.max() == pytest.approx(0.3 * (1 - frac) + 0.15 * frac, rel=1e-6)


def test_framing_is_the_core_stft_alignment():
    x = np.zeros(1000)
    x[0] = 1.0
    frames = cqt.frames(x)
    assert frames.shape == (4, cqt.WINDOW)  # ceil(1000 / 256)
    # Frame 0 covers [-(window - hop), hop): sample 0 sits at index window - hop.
    assert frames[0, cqt.WINDOW - cqt.HOP] == 1.0 and frames[0].sum() == 1.0
    assert frames[1, cqt.WINDOW - 2 * cqt.HOP] == 1.0
    assert cqt.frames(np.zeros(0)).shape == (0, cqt.WINDOW)


def test_silence_gives_zero_features():
    f = cqt.features(np.zeros(5000))
    assert f.shape == (20, cqt.N_BINS)
    assert np.all(f == 0.0)


def test_features_round_trip_and_clamp():
    m = np.geomspace(1e-7, 1.0, 50)
    np.testing.assert_allclose(cqt.from_features(cqt.to_features(m)), m, rtol=1e-9)
    assert np.all(cqt.from_features(np.array([-2.0, 0.0])) == 0.0)
    assert cqt.to_features(np.array([0.3]))[0] == pytest.approx(math.log1p(3000.0))


def test_torch_path_equals_numpy_path():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = np.concatenate([sine(440.0, 0.4), 0.05 * rng.standard_normal(4000)])
    frames = cqt.frames(x)
    want = cqt.features(x)
    got = cqt.torch_features(torch.as_tensor(frames, dtype=torch.float32)).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_back_projection_of_a_flat_cqt_is_flat_where_rows_read():
    w = cqt.pooling_matrix()
    read = w.sum(axis=0) > 0
    back = cqt.stft_magnitude_from_cqt(np.full(cqt.N_BINS, 0.2))
    np.testing.assert_allclose(back[read], 0.2, rtol=1e-12)
    assert np.all(back[~read] == 0.0)
    assert not read[0] and not read[-1]  # DC and the bins above ~11 kHz


def test_spectral_convergence():
    m = cqt.stft_magnitude(sine(440.0))
    assert cqt.spectral_convergence(m, m) == 0.0
    assert cqt.spectral_convergence(m, np.zeros_like(m)) == pytest.approx(1.0)


def test_golden_files_match_the_contract():
    for name in cqt_golden.SIGNAL_NAMES:
        x = np.load(GOLDEN / f"signal_{name}.npy")
        f = np.load(GOLDEN / f"features_{name}.npy")
        np.testing.assert_allclose(f, cqt.features(x.astype(np.float64)), atol=1e-5)
    assert np.abs(np.load(GOLDEN / "features_silence.npy")).max() == 0.0


def test_golden_files_reproduce(tmp_path):
    golden.write("cqt", tmp_path)  # floats within timbrel.golden.LAST_BITS (CPU-dependent sums)
    assert golden.differences(GOLDEN, tmp_path) == []