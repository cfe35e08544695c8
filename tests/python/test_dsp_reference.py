"""Hand-computed checks of scripts/timbrel/dsp_reference.py and its golden files.

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from timbrel import dsp_reference as ref
from timbrel import golden
from timbrel.golden import dsp as golden_dsp

SR = 22050.0
N = 1024
BIN_HZ = SR / N
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "dsp"


def sine(freq, amplitude=1.0, n=N, phase=0.0, sr=SR):
    t = np.arange(n) / sr
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def harmonic_tone(f0, n=N, sr=SR, harmonics=5):
    t = np.arange(n) / sr
    return sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, harmonics + 1))


# --- window and STFT ---------------------------------------------------------

def test_hann_is_periodic():
    w = ref.hann(8)
    np.testing.assert_allclose(w, [0, 0.1464466, 0.5, 0.8535534, 1, 0.8535534, 0.5, 0.1464466],
                               atol=1e-7)


def test_stft_framing_full_frames_only():
    x = np.arange(1024 + 3 * 256 + 100, dtype=np.float64)
    X = ref.stft_frames(x, 1024, 256)
    assert X.shape == (4, 513)
    np.testing.assert_allclose(X[2], np.fft.rfft(x[512:1536] * ref.hann(1024)), rtol=1e-12)


# --- levels --------------------------------------------------------------------

@pytest.mark.parametrize("amplitude", [1.0, 0.5, 0.01])
def test_sine_rms_and_power_sum(amplitude):
    x = sine(47 * BIN_HZ, amplitude, phase=0.3)  # integer number of periods in the frame
    d = ref.spectral_descriptors(x, SR)
    assert d["rms_db"] == pytest.approx(20 * math.log10(amplitude) - 3.0103, abs=0.01)
    P = ref.power_spectrum(np.fft.rfft(x * ref.hann(N)), N)
    assert P.sum() == pytest.approx(amplitude ** 2 / 2, rel=1e-6)
    # 1012 Hz is ~0 dB A-weighted, so loudness ~ rms
    assert d["loudness_db"] == pytest.approx(d["rms_db"], abs=0.05)


def test_off_bin_sine_power_sum():
    P = ref.power_spectrum(np.fft.rfft(sine(1234.5, 0.3, phase=1.1) * ref.hann(N)), N)
    assert P.sum() == pytest.approx(0.3 ** 2 / 2, rel=0.01)


# IEC 61672-1 table; the nominal 31.5/250/2000/4000 Hz entries are given at the
# exact base-10 band centres 1000 * 10^(n/10) Hz.
@pytest.mark.parametrize("freq,expected_db", [
    (10 ** 1.5, -39.4), (100.0, -19.1), (10 ** 2.4, -8.6), (1000.0, 0.0),
    (10 ** 3.3, 1.2), (10 ** 3.6, 1.0), (10000.0, -2.5),
])
def test_a_weighting_matches_iec_61672_table(freq, expected_db):
    assert 20 * math.log10(ref.a_weighting_gain(freq)) == pytest.approx(expected_db, abs=0.1)


def test_a_weighting_is_one_at_1khz():
    assert ref.a_weighting_gain(1000.0) == pytest.approx(1.0, abs=1e-15)


def test_loudness_applies_a_weighting():
    x = sine(5 * BIN_HZ, 0.5)  # ~108 Hz, A ~ -18 dB
    d = ref.spectral_descriptors(x, SR)
    expected = d["rms_db"] + 20 * math.log10(ref.a_weighting_gain(5 * BIN_HZ))
    assert d["loudness_db"] == pytest.approx(expected, abs=0.3)


# --- spectral shape ------------------------------------------------------------

@pytest.mark.parametrize("k", [10, 93, 300])
def test_bin_centred_sine_centroid_and_rolloff(k):
    d = ref.spectral_descriptors(sine(k * BIN_HZ, 0.5), SR)
    assert d["centroid_hz"] == pytest.approx(k * BIN_HZ, abs=1e-6)
    # Hann leakage: powers 1/4, 1, 1/4 at k-1, k, k+1 -> 85 % reached at k+1
    assert abs(d["rolloff_hz"] - k * BIN_HZ) <= BIN_HZ + 1e-9
    # spread of magnitudes 1/2, 1, 1/2 at -1, 0, +1 bins: sqrt(1/2) bins
    assert d["bandwidth_hz"] == pytest.approx(math.sqrt(0.5) * BIN_HZ, rel=1e-6)
    assert d["flatness"] < 0.01


@pytest.mark.parametrize("low_share,expected_bin", [(0.86, 41), (0.84, 119)])
def test_rolloff_threshold_is_85_percent(low_share, expected_bin):
    # bin-centred sines at bins 40 and 120 share the power low_share : 1 - low_share;
    # each spreads 1/6, 4/6, 1/6 over its bins k-1, k, k+1.
    x = (sine(40 * BIN_HZ, math.sqrt(2 * low_share))
         + sine(120 * BIN_HZ, math.sqrt(2 * (1 - low_share))))
    assert ref.spectral_descriptors(x, SR)["rolloff_hz"] == pytest.approx(expected_bin * BIN_HZ)


def test_two_sines_centroid_weighted_by_magnitude():
    x = sine(40 * BIN_HZ, 0.75) + sine(120 * BIN_HZ, 0.25)
    d = ref.spectral_descriptors(x, SR)
    assert d["centroid_hz"] == pytest.approx((0.75 * 40 + 0.25 * 120) * BIN_HZ, rel=1e-6)


def test_white_noise_flatness_near_exp_minus_gamma():
    rng = np.random.default_rng(1)
    frames = ref.frame_signal(rng.standard_normal(64 * 256 + N), N, 256)
    flat = ref.descriptors_from_frames(frames, np.fft.rfft(frames * ref.hann(N)), SR)[:, 5]
    assert np.mean(flat) == pytest.approx(math.exp(-0.5772156649), abs=0.05)
    assert np.all(np.abs(flat - 0.5615) < 0.15)


def test_silence():
    d = ref.spectral_descriptors(np.zeros(N), SR)
    assert d["centroid_hz"] == 0.0
    assert d["bandwidth_hz"] == 0.0
    assert d["rolloff_hz"] == 0.0
    assert d["flatness"] == pytest.approx(1.0, abs=1e-9)
    assert d["rms_db"] == pytest.approx(-120.0)
    assert d["loudness_db"] == pytest.approx(-120.0)
    assert ref.yin(np.zeros(N)) == (0.0, 0.0, False)


def test_below_minus_100_dbfs_is_silent_above_is_not():
    quiet = ref.spectral_descriptors(sine(50 * BIN_HZ, 1e-5), SR)  # -103 dBFS
    assert quiet["centroid_hz"] == 0.0
    loud = ref.spectral_descriptors(sine(50 * BIN_HZ, 1e-4), SR)  # -83 dBFS
    assert loud["centroid_hz"] == pytest.approx(50 * BIN_HZ, abs=1e-6)


# --- YIN -----------------------------------------------------------------------

def test_yin_lags():
    assert ref.yin_lags(22050.0, 50.0, 2000.0) == (11, 441)


@pytest.mark.parametrize("f0", [60.0, 110.0, 440.0, 1000.0, 1500.0])
def test_yin_harmonic_tones(f0):
    est, confidence, voiced = ref.yin(0.5 * harmonic_tone(f0))
    assert voiced
    assert est == pytest.approx(f0, rel=0.005)
    assert confidence > 0.85


def test_yin_pure_sine():
    est, _, voiced = ref.yin(sine(233.08, 0.3, phase=0.7))
    assert voiced and est == pytest.approx(233.08, rel=0.005)


def test_yin_white_noise_unvoiced():
    rng = np.random.default_rng(20261122)
    for _ in range(5):
        f0, confidence, voiced = ref.yin(0.1 * rng.standard_normal(N))
        assert not voiced
        assert confidence < 0.85


def test_yin_cmnd_definition_on_small_case():
    x = np.array([1.0, 0.0, -1.0, 0.0, 1.0, 0.0])
    dp = ref.yin_cmnd(x, tau_max=2)  # W = 4
    d1 = (1 - 0) ** 2 + (0 + 1) ** 2 + (-1 - 0) ** 2 + (0 - 1) ** 2  # 4
    d2 = (1 + 1) ** 2 + 0 + (-1 - 1) ** 2 + 0  # 8
    np.testing.assert_allclose(dp, [1.0, d1 * 1 / d1, d2 * 2 / (d1 + d2)])


# --- helpers agree with the per-frame functions ---------------------------------

def test_signal_helpers_match_per_frame():
    sig = np.load(GOLDEN / "signal_harmonic.npy").astype(np.float64)
    frames = ref.frame_signal(sig, N, 256)
    desc = ref.signal_descriptors(sig, SR)
    pitch = ref.signal_yin(sig, SR)
    for m in (0, 17, len(frames) - 1):
        d = ref.spectral_descriptors(frames[m], SR)
        np.testing.assert_allclose(desc[m], [d[k] for k in ref.DESCRIPTOR_NAMES], rtol=1e-12)
        f0, c, v = ref.yin(frames[m])
        np.testing.assert_array_equal(pitch[m], [f0, c, float(v)])


# --- golden files ----------------------------------------------------------------

def test_golden_files_shapes_and_content():
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    frames = manifest["frames"]
    assert frames == 1 + (22050 - 1024) // 256
    for name in golden_dsp.SIGNAL_NAMES:
        sig = np.load(GOLDEN / f"signal_{name}.npy")
        assert sig.dtype == np.dtype("<f4") and sig.shape == (22050,)
        assert np.load(GOLDEN / f"descriptors_{name}.npy").shape == (frames, 6)
        assert np.load(GOLDEN / f"yin_{name}.npy").shape == (frames, 3)
    stft = np.load(GOLDEN / "stft_noise.npy")
    assert stft.dtype == np.dtype("<f4") and stft.shape == (frames, 513, 2)
    harmonic = np.load(GOLDEN / "yin_harmonic.npy")
    assert np.all(harmonic[:, 2] == 1.0)
    np.testing.assert_allclose(harmonic[:, 0], 233.08, rtol=0.005)
    assert np.all(np.load(GOLDEN / "yin_noise.npy")[:, 2] == 0.0)
    assert np.all(np.load(GOLDEN / "yin_silence.npy") == 0.0)


def test_golden_files_reproduce(tmp_path):
    # Float arrays within the last bits (timbrel.golden.LAST_BITS: numpy's SIMD sums
    # depend on the CPU), everything else byte for byte.
    golden.write("dsp", tmp_path)
    assert golden.differences(GOLDEN, tmp_path) == []


def test_yin_at_end_hears_the_frame_end():
    # First half 220 Hz, second half 330 Hz (dsp::YinConfig::estimate_at_end).
    frame = 0.3 * np.concatenate([harmonic_tone(220.0, 1024, harmonics=3)[:512],
                                  harmonic_tone(330.0, 1024, harmonics=3)[:512]])
    assert abs(ref.yin(frame)[0] / 220.0 - 1) < 0.02
    assert abs(ref.yin(frame, at_end=True)[0] / 330.0 - 1) < 0.02


def test_pitch_hold_matches_the_core_rules():
    hold = ref.PitchHold()
    assert hold.next(262.0, True) == (262.0, True)
    f0, voiced = hold.next(65.0, True)                    # one-hop octave error held
    assert abs(f0 - 262.0) < 1e-3 and voiced
    assert hold.next(263.0, True) == (263.0, True)
    assert hold.next(330.0, True) == (330.0, True)        # 4 semitones: passes
    assert abs(hold.next(660.0, True)[0] - 330.0) < 1e-3  # a real leap: one hop late...
    assert hold.next(661.0, True) == (661.0, True)        # ...then taken
    assert hold.next(0.0, False) == (0.0, False)          # no estimate: the run ends
    assert hold.next(110.0, True) == (110.0, True)


def test_pitch_hold_voicing_hysteresis_matches_the_core():
    # tests/core/test_yin.cpp, "PitchHold keeps a run voiced through dips of periodicity"
    hold = ref.PitchHold()
    assert hold.next(100.0, False, 0.7) == (100.0, False)  # a run needs YIN's threshold
    assert hold.next(100.0, True, 0.9) == (100.0, True)
    for f0 in (102.0, 104.0, 107.0, 110.0):
        assert hold.next(f0, False, 0.55) == (f0, True)
    f0, voiced = hold.next(740.0, False, 0.57)             # an octave slip: held
    assert voiced and abs(f0 - 110.0) < 1e-4
    assert hold.next(111.0, False, 0.6) == (111.0, True)
    assert hold.next(111.0, False, 0.3)[1]                 # bridged: 2 hops at most
    assert hold.next(500.0, False, 0.2)[1]
    assert hold.next(111.0, False, 0.3) == (111.0, False)
    assert hold.next(111.0, False, 0.7) == (111.0, False)  # over: threshold needed again
    assert hold.next(220.0, True, 0.9) == (220.0, True)
    assert hold.next(0.0, False, 0.0) == (0.0, False)      # silence ends a run at once
    assert hold.next(220.0, False, 0.8) == (220.0, False)
    assert hold.next(172.0, True, 0.9) == (172.0, True)    # f0/3 and f0/2 continue at 3x, 2x
    assert hold.next(58.0, False, 0.8) == (174.0, True)
    assert hold.next(87.5, False, 0.75) == (175.0, True)
    f0, voiced = hold.next(44.0, False, 0.75)               # 4 periods: bridged, not taken
    assert voiced and f0 == 175.0

def test_pitch_hold_keeps_a_noisy_glide_voiced():
    # A 150 -> 300 Hz glide, clean for 0.2 s, then in white noise: YIN's periodicity reads
    # ~0.75 (under its 0.85 threshold) and its fallback lag often spans 2 or 3 periods.
    sr = 22050
    t = np.arange(sr) / sr
    phase = 2 * np.pi * np.cumsum(150.0 * 2 ** t) / sr
    x = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6))
    x[int(0.2 * sr):] += 0.15 * np.random.default_rng(0).standard_normal(len(x) - int(0.2 * sr))
    hold = ref.PitchHold()
    raw, kept, errors = [], [], []
    for h in range(4, len(x) // 256):
        f0, confidence, voiced = ref.yin(x[h * 256 - 768:h * 256 + 256], at_end=True)
        f, v = hold.next(f0, voiced, confidence)
        if h * 256 > 0.25 * sr:
            truth = 150.0 * 2 ** ((h * 256 - 256) / sr)   # the glide near the frame's end
            raw.append(voiced)
            kept.append(v)
            errors.append(abs(12 * np.log2(f / truth)))
    assert np.mean(raw) < 0.1                 # YIN alone: the instrument would fall silent
    assert np.mean(kept) > 0.95
    assert np.median(errors) < 0.5            # and on the right octave (semitones)
