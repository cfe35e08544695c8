"""Hand-computed cases for timbrel.eval.metrics (conventions of DESIGN.md §6).

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python
"""

import math

import numpy as np
import pytest

from timbrel.eval import metrics as M


def spectra(frames=3, bins=5, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 2.0, size=(frames, bins))


# --- LSD ---------------------------------------------------------------------

def test_lsd_identical_is_zero():
    P = spectra()
    assert M.lsd(P, P) == 0.0


def test_lsd_power_ratio_ten_is_ten_db():
    P = spectra()
    assert M.lsd(10.0 * P, P, eps=0.0) == pytest.approx(10.0, abs=1e-12)
    assert M.lsd(P, 10.0 * P, eps=0.0) == pytest.approx(10.0, abs=1e-12)


def test_lsd_mean_over_frames_of_rms_over_bins():
    # frame 0: ratios 10 and 1 -> sqrt((100 + 0)/2) = sqrt(50); frame 1: ratio 100 everywhere -> 20
    P = np.array([[10.0, 1.0], [100.0, 100.0]])
    Q = np.ones((2, 2))
    assert M.lsd(P, Q, eps=0.0) == pytest.approx((math.sqrt(50.0) + 20.0) / 2, abs=1e-12)


def test_lsd_audio_of_scaled_signal():
    x = np.random.default_rng(1).normal(0, 0.1, 4096)
    # amplitude sqrt(10) -> power x10 -> 10 dB in every bin (eps negligible at this level)
    assert M.lsd_audio(np.sqrt(10.0) * x, x, eps=0.0) == pytest.approx(10.0, abs=1e-9)
    assert M.lsd_audio(x, x) == 0.0


# --- ISD ---------------------------------------------------------------------

def test_isd_identical_is_zero():
    P = spectra()
    assert M.isd(P, P) == pytest.approx(0.0, abs=1e-15)


def test_isd_ratio_two():
    P = spectra(frames=4, bins=7)
    # P / P^ = 2 in every bin: 2 - ln 2 - 1 per bin, summed over 7 bins, mean over frames
    assert M.isd(2.0 * P, P, eps=0.0) == pytest.approx(7 * (1.0 - math.log(2.0)), rel=1e-12)
    # P / P^ = 1/2: 1/2 + ln 2 - 1 per bin
    assert M.isd(P, 2.0 * P, eps=0.0) == pytest.approx(7 * (math.log(2.0) - 0.5), rel=1e-12)


def test_isd_is_not_symmetric_and_nonnegative():
    P, Q = spectra(seed=1), spectra(seed=2)
    assert M.isd(P, Q) > 0 and M.isd(Q, P) > 0
    assert M.isd(P, Q) != pytest.approx(M.isd(Q, P))


# --- DTW ---------------------------------------------------------------------

def test_dtw_identical_is_zero():
    a = [0.0, 0.3, 1.0, 0.2]
    assert M.dtw_distance(a, a) == 0.0
    assert M.dtw(a, a) == (0.0, 4)


def test_dtw_offset_curve_hand_computed():
    # a = [0, 1, 2], b = [1, 2, 3]: the path (0,0) (1,0) (2,1) (2,2) costs 1 + 0 + 0 + 1 = 2
    # over 4 cells (every path starts and ends with cost 1, so 2 is the minimum): 0.5
    assert M.dtw([0, 1, 2], [1, 2, 3]) == (2.0, 4)
    assert M.dtw_distance([0, 1, 2], [1, 2, 3]) == pytest.approx(0.5)


def test_dtw_time_shift_absorbed():
    # b is a delayed by one frame: the warp matches it exactly
    a = [0, 0, 1, 1, 1]
    b = [0, 0, 0, 1, 1]
    assert M.dtw_distance(a, b) == 0.0


def test_dtw_single_mismatch():
    # [0, 1] vs [0, 3]: path (0,0) (1,1), cost 0 + 2 = 2 over 2 cells
    assert M.dtw_distance([0, 1], [0, 3]) == pytest.approx(1.0)


def test_dtw_f0_scaling_and_voicing():
    f = 220.0 * 2 ** (np.arange(6) / 12)           # a rising semitone line
    v = np.ones(6, bool)
    # the same contour an octave up scales to the same [0, 1] line: 0
    assert M.dtw_f0(f, v, 2 * f, v) == 0.0
    # unvoiced frames are dropped before the warp
    g = np.concatenate([[0, 0], f])
    assert M.dtw_f0(f, v, g, np.r_[False, False, v]) == 0.0
    # too few voiced frames -> NaN
    assert math.isnan(M.dtw_f0(f, np.zeros(6, bool), f, v))
    # rising vs falling line of 3 frames, scaled to [0, .5, 1] vs [1, .5, 0]: every path
    # starts at |0 - 1| = 1 and ends at |1 - 0| = 1; the diagonal adds |.5 - .5| = 0,
    # any other path adds at least .5 + .5. So 2 over 3 cells.
    up = 220.0 * 2 ** (np.arange(3) / 12)
    assert M.dtw_f0(up, np.ones(3, bool), up[::-1], np.ones(3, bool)) == pytest.approx(2 / 3)


def test_dtw_loudness_floor_and_scaling():
    a = np.array([-120.0, -40.0, -20.0])
    b = np.array([-80.0, -40.0, -20.0])
    # floored at -80 both are [-80, -40, -20] -> identical
    assert M.dtw_loudness(a, b) == 0.0
    # a 10 dB level offset disappears in the [0, 1] scaling
    c = np.array([-60.0, -40.0, -20.0])
    assert M.dtw_loudness(c, c - 10.0) == 0.0


def test_minmax():
    np.testing.assert_allclose(M.minmax([2, 4, 6]), [0, 0.5, 1])
    np.testing.assert_allclose(M.minmax([3, 3]), [0, 0])


# --- f0 error, tracking, transfer -----------------------------------------

def test_f0_error_cents():
    ref = np.array([100.0, 200.0, 300.0, 400.0])
    est = ref * 2 ** (np.array([0, 100, -50, 1200]) / 1200)
    voiced_ref = np.array([1, 1, 1, 0], bool)
    voiced_est = np.array([1, 1, 1, 1], bool)
    # frames voiced in both: errors 0, 100, 50 cents -> median 50
    assert M.f0_error_cents(ref, voiced_ref, est, voiced_est) == pytest.approx(50.0)
    assert math.isnan(M.f0_error_cents(ref, np.zeros(4, bool), est, voiced_est))


def test_pearson_and_mae():
    t = np.arange(10.0)
    assert M.pearson_r(t, 3 * t + 2) == pytest.approx(1.0)
    assert M.pearson_r(t, -t) == pytest.approx(-1.0)
    assert M.descriptor_tracking(t, t + 5) == {"r": pytest.approx(1.0), "mae": 5.0}
    # x = [1, 2, 3], y = [1, 3, 2]: centred [-1, 0, 1] and [-1, 1, 0], sum of products 1,
    # sums of squares 2 and 2 -> r = 1 / 2
    assert M.pearson_r([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert M.mae([1, 2, 3], [1, 3, 2]) == pytest.approx(2 / 3)
    assert math.isnan(M.pearson_r([1, 1, 1], [1, 2, 3]))


def test_transfer_accuracy():
    labels = ["violin", "flute", "violin", "violin", "cello"]
    assert M.transfer_accuracy(labels, "violin") == pytest.approx(3 / 5)
    assert M.transfer_accuracy(labels, "violin", mask=[1, 1, 0, 0, 1]) == pytest.approx(1 / 3)
    assert M.transfer_accuracy([2, 2, 1, 2], 2) == pytest.approx(0.75)
    assert math.isnan(M.transfer_accuracy([], "violin"))
