"""timbrel.eval.evaluate end to end on the smoke corpus, with identity and shell converters.

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python
"""

import json
import sys

import numpy as np
import pytest

from timbrel.eval import converters, evaluate

TARGETS = ["flute", "violin", "voice"]


@pytest.fixture(scope="module")
def identity_result(smoke_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_identity")
    res = evaluate.evaluate("identity", smoke_corpus, TARGETS, per_instrument=1, voice=3,
                            out=out, log=lambda *_: None)
    return res, out


def test_identity_evaluation(identity_result):
    res, out = identity_result
    assert res["sources"] == {"instrument": 13, "voice": 3}
    assert len(res["pairs"]) == 16 * 3
    for p in res["pairs"]:
        # identity: output = input, so every tracking metric is exactly perfect
        assert p["dtw_loudness"] == 0.0
        assert p["dtw_f0"] in (0.0, None)
        assert p["f0_err_cents"] in (0.0, None)
        if p["instrument"] == p["target"]:
            assert p["lsd"] == 0.0
        else:
            assert p["lsd"] is None
    rows = res["summary"]["per_target"]
    for t in TARGETS:
        assert rows[t]["lsd"] == 0.0 and rows[t]["dtw_loudness"] == 0.0
        # identity keeps the source instrument: other instruments are rarely "converted"
        assert rows[t]["acc_instr"] < 0.3
        assert rows[t]["acc_self"] >= 0.5
    assert set(res["summary"]["average"]) == set(evaluate.COLUMNS)
    saved = json.loads((out / "evaluation.json").read_text())
    assert saved["summary"] == json.loads(json.dumps(res["summary"]))
    md = (out / "evaluation.md").read_text()
    assert "| flute |" in md and "| **average** |" in md and "transfer acc" in md


def test_shell_converter_matches_identity(smoke_corpus, identity_result):
    res, _ = identity_result
    conv = converters.make_converter(f"{sys.executable} -c \"import shutil,sys; "
                                     "shutil.copy(sys.argv[1], sys.argv[2])\" {input} {output}")
    assert isinstance(conv, converters.ShellConverter)
    sources = evaluate.gather_sources(smoke_corpus, per_instrument=1, voice=0,
                                      instruments=["flute"])
    y = conv(sources[0]["audio"], "flute")
    np.testing.assert_array_equal(y, sources[0]["audio"])
    from timbrel.eval.classifier import load
    pair = evaluate.evaluate_pair(sources[0], "flute", y, load())
    ref = next(p for p in res["pairs"] if p["source"] == sources[0]["id"] and p["target"] == "flute")
    assert pair == ref


def test_function_converter_changes_the_metrics(smoke_corpus):
    sources = evaluate.gather_sources(smoke_corpus, per_instrument=1, voice=0,
                                      instruments=["cello"])
    half = converters.make_converter(lambda a, t: 0.5 * a)
    from timbrel.eval.classifier import load
    p = evaluate.evaluate_pair(sources[0], "cello", half(sources[0]["audio"], "cello"), load())
    # 6.02 dB in every bin well above the eps floor (1e-10), less where both sit near it
    assert 1.0 < p["lsd"] <= 20 * np.log10(2) + 1e-6
    assert p["dtw_loudness"] < 0.02           # the [0, 1] scaling removes the level change
    assert p["f0_err_cents"] < 1.0


def test_converter_specs():
    assert converters.make_converter("identity").name == "identity"
    assert isinstance(converters.make_converter("numpy:negative"), converters.FunctionConverter)
    with pytest.raises(ValueError):
        converters.make_converter("no placeholders here")
    with pytest.raises(ValueError):
        converters.ShellConverter("cp {input} out.wav")
