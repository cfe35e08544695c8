"""timbrel.eval.phase_eval: file picking from the manifests, the table, and one run of
`timbrel phase-eval` (needs the native build, `cmake --build build`, or TIMBREL_CLI).

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python/test_phase_eval.py
"""

import csv

import numpy as np
import pytest

from timbrel.data.audio import write_wav
from timbrel.eval import phase_eval

NOTE_FIELDS = ["instrument", "midi_pitch", "dynamics", "split", "file"]
PERF_FIELDS = ["instrument", "phrase", "split", "file"]


def write_manifest(path, fields, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def test_picks_test_split_mf_middle_notes_and_first_phrases(tmp_path):
    notes = []
    for instrument, pitches in (("cello", range(36, 41)), ("violin", range(55, 60))):
        for p in pitches:
            for dyn, split in (("pp", "test"), ("mf", "test" if p % 2 else "train")):
                notes.append(dict(instrument=instrument, midi_pitch=p, dynamics=dyn, split=split,
                                  file=f"notes/{instrument}/{p}_{dyn}.wav"))
    write_manifest(tmp_path / "notes" / "manifest.csv", NOTE_FIELDS, notes)
    perf = [dict(instrument="cello", phrase=3, split="test", file="performance/cello/p3.wav"),
            dict(instrument="cello", phrase=1, split="train", file="performance/cello/p1.wav"),
            dict(instrument="cello", phrase=2, split="test", file="performance/cello/p2.wav"),
            dict(instrument="zither", phrase=0, split="test", file="performance/zither/p0.wav"),
            dict(instrument="violin", phrase=5, split="test", file="performance/violin/p5.wav")]
    write_manifest(tmp_path / "performance" / "manifest.csv", PERF_FIELDS, perf)

    picked = phase_eval.pick_notes(tmp_path, 5)
    # violin first (the papers' instruments lead), mf test notes only (odd pitches),
    # the middle one (violin 55/57/59; cello 37/39: the upper of two).
    assert [p.relative_to(tmp_path).as_posix() for p in picked] == [
        "notes/violin/57_mf.wav", "notes/cello/39_mf.wav"]
    assert len(phase_eval.pick_notes(tmp_path, 1)) == 1
    phrases = phase_eval.pick_performances(tmp_path, 3)
    assert [p.relative_to(tmp_path).as_posix() for p in phrases] == [
        "performance/violin/p5.wav", "performance/cello/p2.wav", "performance/zither/p0.wav"]


def test_missing_manifest_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="timbrel.data.build"):
        phase_eval.pick_notes(tmp_path, 2)


def test_table_means_per_method_corpus_and_magnitudes():
    def row(kind, method, sc, seconds):
        return dict(magnitudes=kind, method=method, spectral_convergence=str(sc),
                    seconds=str(seconds), audio_seconds="2.0")
    results = {"notes": [row("stft", "rtpghi", 0.1, 0.1), row("stft", "rtpghi", 0.3, 0.1),
                         row("cqt", "rtpghi", 0.5, 0.2), row("cqt", "rtpghi", 0.5, 0.2)],
               "performance": []}
    text = phase_eval.table(results)
    lines = text.splitlines()
    assert lines[0] == "| method | notes STFT | notes CQT back-proj. | compute s per s of audio |"
    assert lines[2].startswith("| RTPGHI, one frame look-ahead")
    assert "| 0.2000 (-14.0 dB) | 0.5000 (-6.0 dB) | 0.075 |" in lines[2]


def test_cli_phase_eval_on_a_tone(tmp_path):
    sr = 22050
    t = np.arange(sr) / sr
    x = 0.3 * sum(np.sin(2 * np.pi * h * 196.0 * t) / h for h in range(1, 6))
    path = tmp_path / "tone.wav"
    write_wav(path, x.astype(np.float32), sr)
    rows = phase_eval.run_file(path, iterations=10)
    got = {(r["magnitudes"], r["method"]): float(r["spectral_convergence"]) for r in rows}
    assert set(m for _, m in got) == set(phase_eval.METHOD_NOTES)
    assert len(got) == 2 * len(phase_eval.METHOD_NOTES)
    # A steady tone: RTPGHI alone is close, and Griffin-Lim from it closer still;
    # the constant-Q back-projection is not a consistent spectrogram, so it stays above.
    assert got[("stft", "rtpghi")] < 0.08
    assert got[("stft", "gl-rtpghi-fast")] < got[("stft", "rtpghi")]
    assert got[("stft", "gl-rtpghi-fast")] < got[("stft", "gl-zero")]
    assert got[("cqt", "rtpghi")] > got[("stft", "rtpghi")]
    assert all(float(r["audio_seconds"]) == pytest.approx(1.0) for r in rows)
