"""The evaluation's f0, loudness and descriptors come from the core's CLI; check that
they agree with the numpy reference (timbrel.dsp_reference) on rendered audio.

Needs the native build (`cmake --build build`, done by scripts/setup.sh) or TIMBREL_CLI.
Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python
"""

import numpy as np
import pytest

from timbrel import dsp_reference as ref
from timbrel.data.audio import read_wav
from timbrel.data.corpus import read_manifest
from timbrel.eval import core


def reference(x):
    d = ref.signal_descriptors(x, 22050.0, 1024, 256)
    y = ref.signal_yin(x, 22050.0, 1024, 256)
    return d, y


@pytest.mark.parametrize("instrument,dynamics", [("flute", "mf"), ("cello", "pp"), ("trumpet", "ff")])
def test_cli_matches_reference_on_a_rendered_note(smoke_corpus, instrument, dynamics):
    row = next(r for r in read_manifest(smoke_corpus, "notes")
               if r["instrument"] == instrument and r["dynamics"] == dynamics)
    path = smoke_corpus / row["file"]
    x, sr = read_wav(path)
    assert sr == 22050
    cli = core.analyse_file(path)
    d, y = reference(x.astype(np.float64))
    assert len(cli["time_s"]) == len(d) == 1 + (len(x) - 1024) // 256
    np.testing.assert_allclose(cli["time_s"], (np.arange(len(d)) * 256 + 512) / 22050, atol=1e-6)
    loud = d[:, 0] > -100.0                        # frames above the silence threshold
    assert loud.sum() > 0.8 * len(d)
    # levels in dB: the CSV keeps 4 decimals, the core computes in float32
    np.testing.assert_allclose(cli["rms_db"][loud], d[loud, 0], atol=2e-3)
    np.testing.assert_allclose(cli["loudness_db"][loud], d[loud, 1], atol=2e-3)
    np.testing.assert_allclose(cli["centroid_hz"][loud], d[loud, 2], rtol=1e-4, atol=2e-3)
    np.testing.assert_allclose(cli["bandwidth_hz"][loud], d[loud, 3], rtol=1e-4, atol=2e-3)
    # rolloff is a bin frequency: equal, or one bin off where the 85 % crossing is a tie in float32
    bin_hz = 22050 / 1024
    diff = np.abs(cli["rolloff_hz"][loud] - d[loud, 4])
    assert np.all(diff <= bin_hz + 1e-3) and np.mean(diff < 1e-3) > 0.98
    np.testing.assert_allclose(cli["flatness"][loud], d[loud, 5], atol=1e-5, rtol=1e-3)
    # YIN: voicing decisions agree on (almost) every frame, f0 where both voice
    voiced_ref = y[:, 2] > 0.5
    assert np.mean(cli["voiced"] == voiced_ref) > 0.98
    both = cli["voiced"] & voiced_ref
    assert both.sum() > 0.5 * len(d)
    np.testing.assert_allclose(cli["f0_hz"][both], y[both, 0], rtol=1e-3)
    expected = 440.0 * 2 ** ((row["midi_pitch"] - 69) / 12)
    assert abs(1200 * np.log2(np.median(cli["f0_hz"][both]) / expected)) < 25


def test_in_memory_analysis_equals_file_analysis(smoke_corpus):
    row = read_manifest(smoke_corpus, "performance")[0]
    x, _ = read_wav(smoke_corpus / row["file"])
    a = core.analyse(x)
    b = core.analyse_file(smoke_corpus / row["file"])
    for c in core.COLUMNS:
        np.testing.assert_array_equal(a[c], b[c])
    assert core.analyse(x) is a          # cached by content


def test_cli_location_is_configurable(monkeypatch, tmp_path):
    monkeypatch.setenv("TIMBREL_CLI", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="cmake --build build"):
        core.cli_path()
