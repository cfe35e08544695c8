"""timbrel.eval.guard_report: what the output guard did to each model, read from the CLI."""

import json
import shutil

import pytest

from timbrel.eval import guard_report
from timbrel.eval.core import REPO

VIOLIN = REPO / "models" / "violin" / "violin.tmbl"  # under full scale on the example voice
FLUTE = REPO / "models" / "flute" / "flute.tmbl"  # exceeds full scale on the example voice


def test_the_cli_note_is_parsed():
    line = ("timbrel: note: peak 3.146 (+10.0 dBFS) limited to -1 dBTP: 1234 samples reduced "
            "(2.1 %; 1.5 % by more than 1 dB), by at most 9.3 dB")
    m = guard_report.NOTE.search(line)
    assert m and float(m[1]) == 3.146 and float(m[5]) == 1.5 and float(m[6]) == 9.3


def _index(tmp_path, model):
    (tmp_path / "m").mkdir()
    shutil.copy(model, tmp_path / "m" / "m.tmbl")
    (tmp_path / "index.json").write_text(json.dumps([{"id": "m", "file": "m/m.tmbl"}]))
    return tmp_path


@pytest.mark.skipif(not VIOLIN.exists(), reason="no shipped violin model")
def test_a_model_under_the_ceiling_is_untouched(tmp_path):
    rows = guard_report.measure(_index(tmp_path, VIOLIN))
    assert [r["input"] for r in rows] == ["as is", "+12 dB, clipped"]
    as_is = rows[0]
    assert as_is["max_reduction_db"] == 0.0 and as_is["output_peak"] == as_is["model_peak"] < 0.891
    assert "(untouched)" in guard_report.markdown(rows)


@pytest.mark.skipif(not FLUTE.exists(), reason="no shipped flute model")
def test_a_loud_model_is_limited_to_the_ceiling(tmp_path):
    rows = guard_report.measure(_index(tmp_path, FLUTE))
    for r in rows:
        assert r["model_peak"] > 1.0 and r["max_reduction_db"] > 1.0
        assert r["output_peak"] <= guard_report.GUARD_CEILING + 1e-3
