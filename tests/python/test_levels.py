"""timbrel.eval.levels: the loudness each voice model plays the reference clip at."""

import json
import shutil

import numpy as np
import pytest

from timbrel.eval import levels
from timbrel.eval.core import REPO

GOLDEN = REPO / "tests" / "golden" / "vq" / "model.tmbl"
VIOLIN = REPO / "models" / "violin" / "violin.tmbl"  # a trained model follows the input's loudness


def test_level_is_measured_and_repeatable():
    first = levels.output_level_db(GOLDEN)
    assert np.isfinite(first) and -90.0 < first < 10.0
    assert levels.output_level_db(GOLDEN) == pytest.approx(first, abs=1e-6)


@pytest.mark.skipif(not VIOLIN.exists(), reason="no shipped violin model")
def test_a_quieter_reference_reads_quieter(tmp_path):
    from scipy.io import wavfile
    rate, x = wavfile.read(levels.REFERENCE)
    quiet = tmp_path / "quiet.wav"
    wavfile.write(quiet, rate, (x.astype(np.float32) / 32768.0 * 0.25))  # -12 dB
    loud, soft = levels.output_level_db(VIOLIN), levels.output_level_db(VIOLIN, reference=quiet)
    assert soft < loud - 3.0, (loud, soft)


def test_index_gets_every_models_level(tmp_path):
    (tmp_path / "m").mkdir()
    shutil.copy(GOLDEN, tmp_path / "m" / "m.tmbl")
    (tmp_path / "index.json").write_text(json.dumps([{"id": "m", "file": "m/m.tmbl", "size_bytes": 1}]))
    entries = levels.update_levels(tmp_path)
    written = json.loads((tmp_path / "index.json").read_text())
    assert written == entries and np.isfinite(written[0]["output_level_db"])
    assert written[0]["size_bytes"] == 1  # the other fields are kept
