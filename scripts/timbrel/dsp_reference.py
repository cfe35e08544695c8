"""Reference implementation of Timbrel's per-frame DSP descriptors.

This module is the float64 reference for the C++ core: it implements exactly
the conventions documented in core/include/timbrel/dsp/descriptors.h and
core/include/timbrel/dsp/yin.h (same formulas, epsilons and thresholds).
The golden files in tests/golden/dsp/ are produced from it by
timbrel.golden.dsp, and the C++ Catch2 tests compare the core against them.

Everything is computed in float64 with numpy.
"""

from __future__ import annotations

import numpy as np

# --- constants shared with the C++ headers ---------------------------------

EPS = 1e-12                 # added inside the logs of rms/loudness/flatness
SILENCE_POWER = 1e-10       # sum_k P[k] (descriptors) or mean x^2 (YIN) below this: silent
ROLLOFF_FRACTION = 0.85

DESCRIPTOR_NAMES = (
    "rms_db",
    "loudness_db",
    "centroid_hz",
    "bandwidth_hz",
    "rolloff_hz",
    "flatness",
)

YIN_DEFAULTS = dict(sample_rate=22050.0, frame_size=1024, f0_min=50.0,
                    f0_max=2000.0, threshold=0.15)


# --- framing and STFT --------------------------------------------------------

def hann(n: int) -> np.ndarray:
    """Periodic Hann window w[i] = 0.5 - 0.5 cos(2 pi i / n)."""
    i = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * i / n)


def frame_signal(signal, window: int = 1024, hop: int = 256) -> np.ndarray:
    """Frames [M, window], frame m = signal[m*hop : m*hop+window].

    No centring or padding: only full frames are returned.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("signal must be 1-D")
    if len(x) < window:
        return np.zeros((0, window), dtype=np.float64)
    count = 1 + (len(x) - window) // hop
    view = np.lib.stride_tricks.sliding_window_view(x, window)[::hop]
    return np.ascontiguousarray(view[:count])


def stft_frames(signal, window: int = 1024, hop: int = 256) -> np.ndarray:
    """Hann-windowed rfft of every full frame: complex128 [M, window//2 + 1]."""
    frames = frame_signal(signal, window, hop)
    return np.fft.rfft(frames * hann(window), axis=-1)


def bin_frequencies(window: int, sample_rate: float) -> np.ndarray:
    """f_k = k sr / N for k = 0..N/2."""
    return np.arange(window // 2 + 1, dtype=np.float64) * sample_rate / window


def power_spectrum(spectrum, window: int) -> np.ndarray:
    """P[k] = c_k |X[k]|^2 / (N sum w^2), c_k = 1 at DC and Nyquist, else 2.

    With this scaling sum_k P[k] is the mean square of the windowed frame
    divided by mean w^2, so a sine of amplitude a gives ~a^2 / 2.
    """
    X = np.asarray(spectrum)
    bins = window // 2 + 1
    if X.shape[-1] != bins:
        raise ValueError(f"spectrum has {X.shape[-1]} bins, expected {bins}")
    c = np.full(bins, 2.0)
    c[0] = 1.0
    c[-1] = 1.0
    w = hann(window)
    scale = 1.0 / (window * np.sum(w * w))
    return c * (X.real ** 2 + X.imag ** 2) * scale


# --- A-weighting -------------------------------------------------------------

def _r_a(f):
    f = np.asarray(f, dtype=np.float64)
    f2 = f * f
    return (12194.0 ** 2 * f2 * f2) / (
        (f2 + 20.6 ** 2)
        * np.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2))
        * (f2 + 12194.0 ** 2)
    )


def a_weighting_gain(f):
    """A-weighting amplitude gain A(f) = R_A(f) / R_A(1000 Hz) (IEC 61672-1)."""
    return _r_a(f) / _r_a(1000.0)


# --- spectral descriptors ----------------------------------------------------

def descriptors_from_frames(frames, spectra, sample_rate: float) -> np.ndarray:
    """Descriptors of many frames: float64 [M, 6] in DESCRIPTOR_NAMES order.

    frames: raw frames [M, N]; spectra: their Hann-windowed rfft [M, N/2+1].
    """
    x = np.atleast_2d(np.asarray(frames, dtype=np.float64))
    window = x.shape[-1]
    P = np.atleast_2d(power_spectrum(spectra, window))
    M = np.abs(np.atleast_2d(spectra))  # magnitude |X[k]|
    f = bin_frequencies(window, sample_rate)

    out = np.zeros((x.shape[0], len(DESCRIPTOR_NAMES)), dtype=np.float64)
    out[:, 0] = 10.0 * np.log10(np.mean(x * x, axis=-1) + EPS)
    out[:, 1] = 10.0 * np.log10(np.sum(a_weighting_gain(f) ** 2 * P, axis=-1) + EPS)

    Peps = P + EPS
    out[:, 5] = np.exp(np.mean(np.log(Peps), axis=-1)) / np.mean(Peps, axis=-1)

    total = np.sum(P, axis=-1)
    for m in range(x.shape[0]):
        if total[m] < SILENCE_POWER:
            continue  # silent: centroid, bandwidth, rolloff stay 0
        mag_sum = np.sum(M[m])
        centroid = np.sum(f * M[m]) / mag_sum
        out[m, 2] = centroid
        out[m, 3] = np.sqrt(np.sum((f - centroid) ** 2 * M[m]) / mag_sum)
        cumulative = np.cumsum(P[m])  # sequential, as a C++ loop would
        k = int(np.argmax(cumulative >= ROLLOFF_FRACTION * total[m]))
        out[m, 4] = f[k]
    return out


def spectral_descriptors(frame, sample_rate: float, spectrum=None) -> dict:
    """Descriptors of one raw frame (N samples) as a dict keyed by DESCRIPTOR_NAMES.

    spectrum defaults to the Hann-windowed rfft of the frame.
    """
    x = np.asarray(frame, dtype=np.float64)
    if spectrum is None:
        spectrum = np.fft.rfft(x * hann(len(x)))
    row = descriptors_from_frames(x[None, :], np.asarray(spectrum)[None, :], sample_rate)[0]
    return dict(zip(DESCRIPTOR_NAMES, (float(v) for v in row)))


def signal_descriptors(signal, sample_rate: float, window: int = 1024,
                       hop: int = 256) -> np.ndarray:
    """Descriptors [M, 6] over the stft_frames framing of a signal."""
    return descriptors_from_frames(frame_signal(signal, window, hop),
                                   stft_frames(signal, window, hop), sample_rate)


# --- YIN ---------------------------------------------------------------------

def yin_lags(sample_rate: float, f0_min: float, f0_max: float) -> tuple[int, int]:
    """(tau_min, tau_max) = (floor(sr / f0_max), ceil(sr / f0_min))."""
    return int(np.floor(sample_rate / f0_max)), int(np.ceil(sample_rate / f0_min))


def yin_cmnd(frame, tau_max: int) -> np.ndarray:
    """d'(tau) for tau = 0..tau_max (index 0 unused, set to 1).

    d(tau) = sum_{j=0}^{W-1} (x[j] - x[j+tau])^2 with W = N - tau_max;
    d'(tau) = d(tau) tau / sum_{j=1}^{tau} d(j), and 1 where that sum is 0.
    """
    x = np.asarray(frame, dtype=np.float64)
    W = len(x) - tau_max
    if W <= 0:
        raise ValueError("frame_size must exceed tau_max")
    taus = np.arange(1, tau_max + 1)
    lagged = np.lib.stride_tricks.sliding_window_view(x, W)[1:tau_max + 1]
    diff = x[:W][None, :] - lagged
    d = np.sum(diff * diff, axis=-1)
    cumulative = np.cumsum(d)
    dprime = np.ones(tau_max + 1)
    nz = cumulative != 0.0
    dprime[1:][nz] = d[nz] * taus[nz] / cumulative[nz]
    return dprime


def yin(frame, sample_rate: float = 22050.0, f0_min: float = 50.0,
        f0_max: float = 2000.0, threshold: float = 0.15, at_end: bool = False):
    """YIN pitch of one raw frame: (f0_hz, confidence, voiced).

    at_end: YIN on the frame reversed, so that the estimate describes the frame's
    last samples rather than its first (dsp::YinConfig::estimate_at_end)."""
    x = np.asarray(frame, dtype=np.float64)
    if at_end:
        x = x[::-1]
    if np.mean(x * x) < SILENCE_POWER:
        return 0.0, 0.0, False
    tau_min, tau_max = yin_lags(sample_rate, f0_min, f0_max)
    dp = yin_cmnd(x, tau_max)

    search = dp[tau_min:tau_max + 1]
    under = np.flatnonzero(search < threshold)
    if under.size:
        tau = tau_min + int(under[0])
        while tau + 1 <= tau_max and dp[tau + 1] < dp[tau]:
            tau += 1
        voiced = True
    else:
        tau = tau_min + int(np.argmin(search))  # first minimum on ties
        voiced = False

    refined = float(tau)
    if tau - 1 >= 1 and tau + 1 <= tau_max:
        y0, y1, y2 = dp[tau - 1], dp[tau], dp[tau + 1]
        curvature = y0 - 2.0 * y1 + y2
        if curvature > 0.0:
            offset = 0.5 * (y0 - y2) / curvature
            refined = tau + min(1.0, max(-1.0, offset))

    f0 = sample_rate / refined
    confidence = min(1.0, max(0.0, 1.0 - dp[tau]))
    return float(f0), float(confidence), voiced


class PitchHold:
    """dsp::PitchHold, rule for rule (core/include/timbrel/dsp/yin.h).

    Leaps: a voiced f0 more than jump semitones from the last voiced one is held for one
    hop (the last f0 is reported) unless the next hop confirms the leap (within confirm
    semitones of it). Voicing hysteresis: after a voiced hop, a hop YIN calls unvoiced
    stays voiced when its f0, or 2 or 3 times it (max_multiple: in noise YIN's best lag often
    spans several periods), lies within continue_semitones of the last f0 taken with
    confidence >= continue_confidence (that f0 is taken), or, up to bridge_hops hops in a
    row, with the last f0 held; a hop without an estimate (f0 0) or more failing hops
    end the run."""

    def __init__(self, jump_semitones: float = 7.0, confirm_semitones: float = 1.0,
                 continue_semitones: float = 1.0, continue_confidence: float = 0.5,
                 bridge_hops: int = 2, max_multiple: int = 3):
        self.jump, self.confirm = jump_semitones, confirm_semitones
        self.continue_semitones = continue_semitones
        self.continue_confidence = float(np.float32(continue_confidence))
        self.bridge_hops = bridge_hops
        self.max_multiple = max_multiple
        self.reset()

    def reset(self) -> None:
        self.last = None      # the last f0 taken, while the run goes on
        self.pending = None
        self.bridged = 0

    def next(self, f0: float, voiced: bool, confidence: float = 1.0) -> tuple[float, bool]:
        """(f0, voiced) to use for this hop."""
        f0_32 = float(np.float32(f0))  # the core keeps these in float

        def semis(a, b):
            return abs(12.0 * np.log2(a / b))
        if not voiced or not f0 > 0.0:
            if self.last is not None and f0_32 > 0.0:
                self.pending = None
                if float(np.float32(confidence)) >= self.continue_confidence:
                    for k in range(1, max(1, self.max_multiple) + 1):
                        candidate = float(np.float32(f0_32 * k))
                        if semis(candidate, self.last) <= self.continue_semitones:
                            self.bridged = 0
                            self.last = candidate
                            return (f0 if k == 1 else candidate), True
                if self.bridged < self.bridge_hops:
                    self.bridged += 1
                    return self.last, True
            self.reset()
            return f0, False
        self.bridged = 0
        leap = self.last is not None and semis(f0_32, self.last) > self.jump
        confirmed = self.pending is not None and semis(f0_32, self.pending) <= self.confirm
        if not leap or confirmed:
            self.last, self.pending = f0_32, None
            return f0, True
        self.pending = f0_32
        return self.last, True


def signal_yin(signal, sample_rate: float = 22050.0, frame_size: int = 1024,
               hop: int = 256, f0_min: float = 50.0, f0_max: float = 2000.0,
               threshold: float = 0.15) -> np.ndarray:
    """YIN over the stft_frames framing: float64 [M, 3] (f0_hz, confidence, voiced 1/0)."""
    frames = frame_signal(signal, frame_size, hop)
    out = np.zeros((frames.shape[0], 3), dtype=np.float64)
    for m, frame in enumerate(frames):
        f0, conf, voiced = yin(frame, sample_rate, f0_min, f0_max, threshold)
        out[m] = (f0, conf, 1.0 if voiced else 0.0)
    return out
