"""The Python reader (timbrel.tmbl) holds the core's limits on what a .tmbl header states:
the hostile files of tests/hostile/models that the core refuses from the header alone
are refused here with the core's words (tests/core/test_model_limits.cpp)."""

import json
import re
from pathlib import Path

import pytest

from timbrel.tmbl import LIMITS, TmblError, json_depth_problem, read_tmbl

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "hostile" / "models"
EXPECTED = json.loads((HOSTILE / "expected.json").read_text())
HEADER_LEVEL = sorted(name for name, message in EXPECTED.items()
                      if message.startswith("model file: ") and not re.search(r"op \d+:", message))


def test_limits_match_the_core():
    text = (ROOT / "core" / "include" / "timbrel" / "nn" / "model_limits.h").read_text()
    assert "kMaxJsonDepth = 32;" in text and LIMITS["max_json_depth"] == 32
    assert "kMaxDimension = 65536;" in text and LIMITS["max_dimension"] == 65536
    assert LIMITS["max_parameters"] == 1 << 24 and "kMaxParameters = std::uint64_t(1) << 24;" in text


@pytest.mark.parametrize("name", HEADER_LEVEL)
def test_hostile_file_refused_with_the_core_message(name):
    with pytest.raises(TmblError) as error:
        read_tmbl(HOSTILE / name)
    assert str(error.value) == EXPECTED[name].removeprefix("model file: ")


def test_depth_scan_skips_strings():
    assert json_depth_problem(b'{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == ""
    assert json_depth_problem(b"[" * 33).startswith("header JSON nests deeper than 32 levels")


def test_shipped_like_model_still_reads():
    model = read_tmbl(ROOT / "tests" / "golden" / "vq" / "model.tmbl")
    assert model.family == "vq_timbre"


def test_residual_limits_match_the_core(tmp_path):
    text = (ROOT / "core" / "include" / "timbrel" / "nn" / "model_limits.h").read_text()
    assert "kMaxResidualBody = 16;" in text and LIMITS["max_residual_body"] == 16
    # A residual's body ops count towards max_layers, with the core's message
    # (tests/core/test_model_limits.cpp: 1 linear and 61 residuals of 16 ReLUs).
    from timbrel.tmbl import write_tmbl
    import numpy as np
    body = [{"op": "relu"}] * 16
    ops = [{"op": "linear", "weight": "w", "bias": None}] + [{"op": "residual", "ops": body}] * 61
    path = write_tmbl(tmp_path / "many.tmbl", "test", "many", {}, {"main": ops}, {"w": np.ones((4, 4))})
    with pytest.raises(TmblError) as error:
        read_tmbl(path)
    assert str(error.value) == "the graphs hold 1038 ops in all, more than the limit of 1024"
    read_tmbl(write_tmbl(tmp_path / "fewer.tmbl", "test", "fewer", {}, {"main": ops[:-1]},
                         {"w": np.ones((4, 4))}))
