"""Transcription metrics (timbrel.eval.transcription) on hand-made note lists, the MIDI
reader, and the whole evaluation through the core CLI on the smoke corpus (golden random
models: plumbing, not accuracy).

Run: cd /work/main && PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python/test_transcription_eval.py
"""

import math

import numpy as np
import pytest

from timbrel.eval import transcription as T
from timbrel.eval.core import REPO

N = T.Note


def test_note_matching_needs_equal_pitch_and_onset_within_50_ms():
    ref = [N(60, 0.0, 0.4), N(62, 0.5, 0.9), N(64, 1.0, 1.4)]
    est = [N(60, 0.03, 0.4), N(62, 0.56, 0.9), N(76, 1.0, 1.4), N(64, 1.01, 1.3), N(65, 1.5, 2.0)]
    assert T.match_notes(ref, est) == [(0, 0), (2, 3)]
    s = T.note_scores(ref, est)
    assert (s["matched"], s["reference"], s["estimate"]) == (2, 3, 5)
    assert s["precision"] == pytest.approx(0.4)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))


def test_dynamics_agreement_compares_velocity_classes_of_matched_notes():
    assert [T.dynamics_class(v) for v in (1, 40, 59, 60, 61, 100, 101, 127)] == [0, 0, 0, 0, 1, 1, 2, 2]
    ref = [N(60, 0.0, 0.4, velocity=44), N(62, 0.5, 0.9, velocity=112), N(64, 1.0, 1.4, velocity=80)]
    est = [N(60, 0.0, 0.4, velocity=40), N(62, 0.5, 0.9, velocity=80), N(64, 1.3, 1.4, velocity=80)]
    s = T.note_scores(ref, est)
    assert (s["matched"], s["same_dynamics"]) == (2, 1)   # the unmatched third does not count
    assert T.note_scores(ref, est, dynamics_velocity=(20, 50, 100))["same_dynamics"] == 2


def test_onset_tolerance_is_inclusive():
    ref = [N(60, 1.0, 2.0)]
    assert T.note_scores(ref, [N(60, 1.05, 2.0)])["matched"] == 1
    assert T.note_scores(ref, [N(60, 0.95, 2.0)])["matched"] == 1
    assert T.note_scores(ref, [N(60, 1.051, 2.0)])["matched"] == 0
    assert T.note_scores(ref, [N(60, 1.2, 2.0)], onset_tolerance=0.25)["matched"] == 1


def test_matching_is_maximum_not_greedy():
    # B is nearest to X, but only the matching A-X, B-Y uses both estimates.
    a, b = N(60, 0.0, 0.5), N(60, 0.05, 0.5)
    x, y = N(60, 0.03, 0.5), N(60, 0.09, 0.5)
    for ref in ([a, b], [b, a]):
        for est in ([x, y], [y, x]):
            assert len(T.match_notes(ref, est)) == 2
    # Each note is used once: two estimates at one reference onset give one match.
    assert T.note_scores([a], [x, N(60, 0.01, 0.5)])["matched"] == 1


def test_scores_without_notes_are_zero_not_nan():
    assert T.prf(0, 0, 0) == (0.0, 0.0, 0.0)
    s = T.note_scores([N(60, 0.0, 1.0)], [])
    assert (s["precision"], s["recall"], s["f1"]) == (0.0, 0.0, 0.0)
    s = T.note_scores([], [N(60, 0.0, 1.0)])
    assert (s["precision"], s["recall"], s["f1"]) == (0.0, 0.0, 0.0)
    assert T.note_scores([N(60, 0.0, 1.0)], [N(60, 0.0, 1.0)])["f1"] == 1.0


def test_frame_scores_count_octave_errors_and_skip_overlaps():
    hop = 0.01
    # Reference C4 over [0, 1) and, overlapping it on [0.9, 1.0), D4 until 1.5.
    ref = [N(60, 0.0, 1.0), N(62, 0.9, 1.5)]
    # Estimate: an octave too high for 0.3 s, right for 0.5 s, silent for 0.1 s, then D4
    # a semitone too low for 0.25 s and right for the rest.
    est = [N(72, 0.0, 0.3), N(60, 0.3, 0.8), N(61, 1.0, 1.25), N(62, 1.25, 1.5)]
    s = T.frame_scores(ref, est, 1.5, hop)
    # One reference note sounds on [0, 0.9) and [1.0, 1.5): 90 + 50 frames.
    assert s["frames"] == 140
    assert s["pitch"] == 50 + 25
    assert s["octave_error"] == 30
    assert s["pitch_class"] == 30 + 50 + 25
    assert s["voiced"] == 80 + 50
    assert s["frame_pitch_accuracy"] == pytest.approx(75 / 140)
    assert s["octave_error_rate"] == pytest.approx(30 / 140)
    assert s["pitch_class_accuracy"] == pytest.approx(105 / 140)
    assert s["voicing_recall"] == pytest.approx(130 / 140)
    assert math.isnan(T.frame_scores([], est, 1.0, hop)["frame_pitch_accuracy"])


def test_note_intervals_are_half_open_on_the_frame_grid():
    times = T.frame_times(0.05, 0.01)
    assert len(times) == 5
    assert T.sounding([N(60, 0.01, 0.03)], times) == [[], [60], [60], [], []]


def test_raw_labels_take_the_nearest_frame_and_silence_inactive_ones():
    frames = {"time_s": np.array([0.0, 0.1, 0.2, 0.3]), "active": np.array([1, 1, 0, 1.0]),
              "pitch_0": np.array([60, 62, 64, 65.0])}
    times = np.array([0.0, 0.04, 0.06, 0.19, 0.31, 0.5])
    assert T.raw_label_pitches(frames, 0, times) == [[60], [60], [62], [], [65], [65]]


def test_midi_reader_handles_tempo_velocity_zero_and_fifo(tmp_path):
    import mido
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))   # 60 BPM: 1 s/beat
    track.append(mido.Message("note_on", note=60, velocity=90, time=240))  # 0.5 s
    track.append(mido.Message("note_on", note=60, velocity=70, time=240))  # 1.0 s, same pitch
    track.append(mido.Message("note_on", note=60, velocity=0, time=480))   # 2.0 s: ends the first
    track.append(mido.Message("note_off", note=60, velocity=0, time=240))  # 2.5 s: the second
    track.append(mido.Message("note_on", note=64, velocity=50, channel=1, time=0))
    track.append(mido.MetaMessage("end_of_track", time=480))               # 3.5 s: 64 still on
    path = tmp_path / "t.mid"
    mid.save(str(path))
    notes = T.read_midi_notes(path, offset_s=0.1)
    assert [(n.pitch, n.velocity, n.channel) for n in notes] == [(60, 90, 0), (60, 70, 0), (64, 50, 1)]
    np.testing.assert_allclose([(n.start, n.end) for n in notes],
                               [(0.4, 1.9), (0.9, 2.4), (2.4, 3.4)], atol=1e-9)


def test_reference_notes_line_up_with_the_corpus_audio(smoke_corpus):
    """The phrase offset: the first reference onset is where the phrase's audio starts."""
    from timbrel.data.audio import read_wav
    row = T.test_phrases(smoke_corpus, "violin")[0]
    notes = T.read_midi_notes(smoke_corpus / row["midi"], T.PHRASE_START_S)
    x, sr = read_wav(smoke_corpus / row["file"])
    first = np.flatnonzero(np.abs(x) > 1e-3)[0] / sr
    assert notes[0].start == pytest.approx(0.0, abs=1e-3)
    assert first < 0.05                               # sound within 50 ms of the first note-on


@pytest.fixture(scope="module")
def golden():
    return REPO / "tests" / "golden" / "crossmodal"


def check_result(result, phrases, slots):
    assert result["phrases"] == phrases
    assert len(result["per_slot"]) == slots
    s = result["summary"]
    assert s["reference"] > 0
    for key in ("precision", "recall", "f1", "frame_pitch_accuracy", "pitch_class_accuracy",
                "octave_error_rate", "voicing_recall", "raw_label_accuracy", "dynamics_agreement"):
        assert 0.0 <= s[key] <= 1.0, key
    row = T.table_row(result)
    assert row.startswith("| model.tmbl |") and row.count("|") == T.TABLE_HEADER.splitlines()[0].count("|")


def test_evaluation_runs_the_core_on_a_solo_phrase(smoke_corpus, golden, tmp_path):
    result = T.evaluate(golden / "solo" / "model.tmbl", smoke_corpus, keep=tmp_path)
    check_result(result, 1, 1)
    assert result["instrument"] == "violin"
    row = T.test_phrases(smoke_corpus, "violin")[0]
    assert result["summary"]["reference"] == int(row["notes"])
    assert (tmp_path / "violin_p0000.transcribed.mid").exists()
    estimate = T.read_midi_notes(tmp_path / "violin_p0000.transcribed.mid")
    assert result["summary"]["estimate"] == len(estimate)


def test_evaluation_of_a_mixture_scores_each_slot_against_its_instrument(smoke_corpus, golden):
    result = T.evaluate(golden / "mixture" / "model.tmbl", smoke_corpus)
    check_result(result, 1, 2)
    assert [r["instrument"] for r in result["per_slot"]] == ["alto_sax", "violin"]
    # The mixture lasts as long as the shorter phrase; notes starting after it do not count.
    from timbrel.data.audio import read_wav
    rows = [T.test_phrases(smoke_corpus, name)[0] for name in ("alto_sax", "violin")]
    cut = min(len(read_wav(smoke_corpus / r["file"])[0]) for r in rows) / 22050
    expected = [sum(n.start < cut for n in T.read_midi_notes(smoke_corpus / r["midi"], T.PHRASE_START_S))
                for r in rows]
    assert expected[0] > 0 and expected[1] > 0
    assert [r["reference"] for r in result["per_slot"]] == expected
    assert result["audio_s"] == pytest.approx(cut, abs=0.01)


def test_piano_material_is_rerendered_from_the_phrase_midi(smoke_corpus, tmp_path):
    import mido
    cello = list(mido.MidiFile(str(smoke_corpus / T.test_phrases(smoke_corpus, "cello")[0]["midi"])))
    assert {m.program for m in cello if m.type == "program_change"} == {42}
    assert sum(m.type == "pitchwheel" for m in cello) > 10       # vibrato to drop
    items = T.piano_items(smoke_corpus, ["cello", "violin"], tmp_path, None)
    assert [i.wav.name for i in items] == ["piano_cello_p0000.wav", "piano_violin_p0000.wav"]
    from timbrel.data.audio import read_wav
    for item in items:
        x, sr = read_wav(item.wav)
        assert sr == 22050 and np.max(np.abs(x)) > 0.01
        assert item.duration_s == pytest.approx(len(x) / sr)
        messages = list(mido.MidiFile(str(item.wav.with_suffix(".mid"))))
        assert {m.program for m in messages if m.type == "program_change"} == {0}
        assert not any(m.type == "pitchwheel" for m in messages)
    original = T.read_midi_notes(smoke_corpus / T.test_phrases(smoke_corpus, "violin")[0]["midi"],
                                 T.PHRASE_START_S)
    assert [(n.pitch, n.start) for n in items[1].reference[0]] == [(n.pitch, n.start) for n in original]
