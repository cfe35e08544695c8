"""Descriptor drawing from the Python side: storing a model's descriptor table
(timbrel.export.code_table) and the drawing evaluation (timbrel.eval.draw_quality),
both through the core's tool.

Needs the native build (`cmake --build build`) or TIMBREL_CLI.
Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python/test_draw.py
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from timbrel.eval import core, draw_quality
from timbrel.export import code_table
from timbrel.tmbl import read_tmbl

GOLDEN = core.REPO / "tests" / "golden"


def test_code_table_stores_the_table_and_keeps_the_model(tmp_path):
    model = tmp_path / "model.tmbl"
    shutil.copyfile(GOLDEN / "vq" / "model.tmbl", model)
    before = read_tmbl(model)
    assert "descriptor_table" not in before.metadata
    # Without a table, `timbrel draw` says how to add one.
    curve = tmp_path / "c.csv"
    curve.write_text("time_s,value\n0,1000\n0.5,3000\n")
    draw = [str(core.cli_path()), "draw", "--model", str(model), "--target", f"centroid={curve}",
            "-o", str(tmp_path / "out.wav")]
    proc = subprocess.run(draw, capture_output=True, text=True)
    assert proc.returncode != 0 and "timbrel.export.code_table" in proc.stderr

    assert code_table.main([str(model)]) == 0
    after = read_tmbl(model)
    table = after.metadata["descriptor_table"]
    assert table["version"] == 1
    codes = before.metadata["codes"]
    for mode in ("pitch", "noise"):
        for key in ("centroid_hz", "bandwidth_hz", "rolloff_hz", "flatness", "loudness_db",
                    "f0_hz", "voiced_share"):
            assert len(table[mode][key]) == codes, (mode, key)
    # Reference: the geometric centre of f0_range_hz, loud 0.3 (code_analysis.h).
    low, high = before.metadata["f0_range_hz"]
    assert table["reference"]["f0_hz"] == pytest.approx(np.sqrt(low * high), abs=0.01)
    assert table["reference"]["loudness"] == 0.3
    code_table.check_same_model(GOLDEN / "vq" / "model.tmbl", model)
    # Deterministic: a second run writes the same bytes.
    first = model.read_bytes()
    assert code_table.main([str(model)]) == 0
    assert model.read_bytes() == first
    # Now the tool draws with it.
    proc = subprocess.run(draw, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.wav").stat().st_size == 44 + 4 * round(0.5 * 22050)


def test_code_table_keeps_a_float16_file_float16(tmp_path):
    from timbrel.tmbl import repack, stored_dtype
    model = tmp_path / "model.tmbl"
    repack(GOLDEN / "vq" / "model.tmbl", model, "f16")
    size = model.stat().st_size
    table, _ = code_table.analyse_codes(model)
    code_table.with_table(model, table)
    after = read_tmbl(model)
    assert stored_dtype(after) == "f16" and "descriptor_table" in after.metadata
    assert model.stat().st_size < size + len(json.dumps(table)) + 64  # not widened to f32
    code_table.check_same_model(tmp_path / "model.tmbl", model)


def test_code_table_refuses_a_table_of_the_wrong_size(tmp_path):
    model = tmp_path / "model.tmbl"
    shutil.copyfile(GOLDEN / "vq" / "model.tmbl", model)
    table, _ = code_table.analyse_codes(model)
    table["noise"]["flatness"] = table["noise"]["flatness"][:-1]
    with pytest.raises(ValueError, match="noise.flatness has 15 entries, the model has 16 codes"):
        code_table.with_table(model, table)
    assert "descriptor_table" not in read_tmbl(model).metadata  # untouched


def test_draw_quality_on_the_golden_draw_model(tmp_path):
    model = GOLDEN / "draw" / "model.tmbl"
    out = tmp_path / "eval"
    # (The golden model plays under the CLI's limiter since 2026-12-03; before, it peaked
    # near +17 dBFS and this test drew it with a gain of 0.1.)
    assert draw_quality.main(["--models", str(model), "--seconds", "2", "--random", "1",
                              "--out", str(out)]) == 0
    report = json.loads((out / "draw_quality.json").read_text())
    result = report["models"]["test"]["descriptors"]
    assert set(result) == {"centroid", "f0", "loudness", "bandwidth"}
    for d, x in result.items():
        assert [c["kind"] for c in x["curves"]] == ["ramp up", "ramp down", "random 1"]
        assert all(c["frames"] > 100 for c in x["curves"]), d
        assert x["r_min"] >= 0.9, (d, x["r_min"])  # the goal, on a model built to reach it
        assert x["goal_met"]
    assert result["f0"]["mae"] < 20.0
    table = (out / "draw_quality.md").read_text()
    assert "| test | centroid |" in table and "goal r >= 0.9" in table


def test_draw_quality_curves_stay_inside_the_range():
    rng = np.random.default_rng(0)
    for kind, t, v in draw_quality.curves(200.0, 800.0, 3.0, 2, rng, log=True):
        assert t[0] == 0.0 and t[-1] == 3.0
        assert v.min() >= 200.0 - 1e-9 and v.max() <= 800.0 + 1e-9, kind
    kinds = [k for k, _, _ in draw_quality.curves(0.0, 1.0, 1.0, 2, rng)]
    assert kinds == ["ramp up", "ramp down", "random 1", "random 2"]


def test_loudness_curves_start_no_lower_than_the_cores_axis():
    # The core's kLoudnessAxisFloorDb: a drawn loudness never asks for silence.
    loud = list(np.linspace(-80.0, -30.0, 21))
    meta = {"descriptor_table": {"pitch": {"loudness_db": loud, "centroid_hz": [1000.0] * 21}}}
    low, high = draw_quality.target_range(meta, "loudness")
    assert low == draw_quality.LOUDNESS_FLOOR_DB == -57.0
    assert high == pytest.approx(np.percentile(loud, 95))
    quiet = {"descriptor_table": {"pitch": {"loudness_db": [-75.0, -70.0, -65.0],
                                            "centroid_hz": [1000.0] * 3}}}
    assert draw_quality.target_range(quiet, "loudness")[0] < -57.0  # an all-quiet model keeps its range
