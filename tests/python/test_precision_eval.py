"""timbrel.eval.precision's measures, on signals whose answer is known."""

from __future__ import annotations

import numpy as np

from timbrel.eval.precision import error_db, lsd_db


def test_error_and_lsd_of_known_differences():
    rng = np.random.default_rng(0)
    x = 0.3 * rng.standard_normal(22050)
    assert lsd_db(x, x) == 0.0
    assert error_db(x, x) >= 299  # no error: the floor, not a division by zero
    # 1 % of the signal added: 40 dB under it
    assert abs(error_db(x, x + 0.01 * x) - 40.0) < 0.1
    # the same spectrum 6 dB louder: LSD ~6.02 dB in every loud frame
    assert abs(lsd_db(x, 2 * x) - 20 * np.log10(2)) < 0.01
    # a waveform shifted in phase but not in spectrum: a large waveform error, a small LSD
    t = np.arange(22050) / 22050
    a, b = np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 440 * t)
    assert error_db(a, b) < 1 and lsd_db(a, b) < 0.5
    # silence in the reference: no frame to compare
    assert lsd_db(np.zeros(4096), x[:4096]) == 0.0
