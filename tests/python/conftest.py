"""Shared fixtures: the smoke corpus, rendered once per test session into a temp dir.

The smoke corpus (timbrel.data build --smoke: 5 notes per note-corpus
instrument, one ~5 s phrase per performance instrument, 3 voice-like inputs)
takes a few seconds with fluidsynth, espeak-ng and sox.
"""

import os

import pytest


@pytest.fixture(scope="session")
def smoke_corpus(tmp_path_factory):
    import torch
    torch.set_num_threads(2)
    from timbrel.data.build import build
    root = tmp_path_factory.mktemp("smoke_corpus")
    report = build(root, smoke=True, workers=2, log=lambda *_: None)
    assert not report["skipped"]
    return root


@pytest.fixture(scope="session")
def smoke_report(smoke_corpus):
    import json
    return json.loads((smoke_corpus / "build_report.json").read_text())


def pytest_report_header(config):
    return f"TIMBREL_CLI={os.environ.get('TIMBREL_CLI', '(default build/core/timbrel)')}"
