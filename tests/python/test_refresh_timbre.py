"""The figure refresher: tables land between their markers, and the shipped docs carry
the markers it writes between."""

from pathlib import Path

import pytest

from timbrel.eval import refresh_timbre as rt

REPO = Path(__file__).resolve().parents[2]


def test_splice_replaces_only_the_text_between_the_markers(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- t:begin -->\n| old |\n<!-- t:end -->\nprose after\n")
    assert rt.splice(doc, "t", "| a |\n|---|\n| 1 |\n")
    assert doc.read_text() == "intro\n<!-- t:begin -->\n| a |\n|---|\n| 1 |\n<!-- t:end -->\nprose after\n"
    assert not rt.splice(doc, "t", "| a |\n|---|\n| 1 |")  # same table: unchanged


def test_splice_refuses_a_file_without_markers(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="markers"):
        rt.splice(doc, "t", "| a |")
    assert doc.read_text() == "no markers here\n"


def test_table_of_takes_the_first_table_only():
    text = "Heading\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nafter\n| other |\n"
    assert rt.table_of(text) == "| a | b |\n|---|---|\n| 1 | 2 |"


def test_the_docs_hold_the_markers_and_the_catalog_names_every_card():
    for path, name in [(REPO / "models" / "README.md", "draw-quality"),
                       (REPO / "docs" / "measurements.md", "transfer-summary")]:
        text = path.read_text()
        assert f"<!-- {name}:begin -->" in text and f"<!-- {name}:end -->" in text, path
    ids = rt.timbre_models(REPO / "models")
    assert "violin" in ids and "voice" in ids
    for name in ids:
        assert (REPO / "models" / name / "MODEL_CARD.md").exists(), name
