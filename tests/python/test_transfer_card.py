"""The transfer model card: octave choice, card merging, and a smoke evaluation
through the core's CLI with the golden (random-weight) model."""

import math
from pathlib import Path

import numpy as np
import pytest

from timbrel.eval import transfer_card as tc

REPO = Path(__file__).resolve().parents[2]
GOLDEN_MODEL = REPO / "tests" / "golden" / "vq" / "model.tmbl"


def test_auto_octaves_brings_the_median_f0_into_the_range():
    f0 = np.array([100.0, 110.0, 0.0, 105.0])
    voiced = np.array([True, True, False, True])
    # centre of 200-800 Hz is 400 Hz: two octaves above 105 Hz
    assert tc.auto_octaves(f0, voiced, [200.0, 800.0]) == 2
    assert tc.auto_octaves(f0 * 16, voiced, [200.0, 800.0]) == -2
    assert tc.auto_octaves(f0, np.zeros(4, bool), [200.0, 800.0]) == 0
    assert tc.auto_octaves(f0 / 100, voiced, [200.0, 800.0]) == 3  # clamped


def test_merge_card_replaces_only_its_section(tmp_path):
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# violin\n\n<!-- training:begin -->\ntrained\n<!-- training:end -->\n")
    first = tc.merge_card(card, f"{tc.BEGIN}\nold\n{tc.END}\n", "x")
    card.write_text(first)
    second = tc.merge_card(card, f"{tc.BEGIN}\nnew\n{tc.END}\n", "x")
    assert "trained" in second and "new" in second and "old" not in second
    assert second.count(tc.BEGIN) == 1


def quiet_golden_model(tmp_path):
    """The golden model about 25 dB quieter: its random weights reach +10-20 dBFS on the smoke
    voices, which the CLI's output guard limits or mutes (the evaluation needs its sound)."""
    from timbrel.tmbl import read_tmbl, write_tmbl
    m = read_tmbl(GOLDEN_MODEL)
    tensors = dict(m.tensors)
    tensors["gain.0.bias"] = tensors["gain.0.bias"] - 3.0
    return write_tmbl(tmp_path / "quiet.tmbl", m.family, m.name, m.metadata, m.graphs, tensors)


def test_smoke_evaluation_through_the_core(smoke_corpus, tmp_path):
    from timbrel.eval import classifier
    result = tc.evaluate(quiet_golden_model(tmp_path), str(smoke_corpus), voice=1, per_instrument=1,
                         classifier=classifier.load(), log=lambda *_: None)
    pairs = result["pairs"]
    assert {p["mode"] for p in pairs} == {"pitch", "noise"}
    assert all(p["finite"] for p in pairs)
    assert any(p["peak"] > 0 for p in pairs)
    # the random model still follows the pitch it is given in pitch mode
    errs = [p["f0_err_cents"] for p in pairs if p["mode"] == "pitch"
            and not math.isnan(p["f0_err_cents"])]
    assert errs, "no voiced output in pitch-following mode"
    section = tc.card_section(result, None, "cmd")
    assert section.startswith(tc.BEGIN) and "| pitch-following |" in section
