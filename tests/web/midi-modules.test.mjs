// Node unit tests of the MIDI and Transcribe panels' DOM-free parts (no
// browser): the MIDI writer and the example tune (read back by the
// WebAssembly core's parser when it is built), note names and symbols, the
// computer-key map, Web MIDI messages, the render report in words, the
// keyboard's placement, and the transcription helpers.
//
//   node --test tests/web/midi-modules.test.mjs

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DYNAMICS, dynamicsOf, hzFromMidi, melody, noteName, octaveOf, pitchSpan, writeMidi } from '../../web/src/audio/midi-file.js';
import { EXAMPLE_BPM, exampleMidi, exampleTracks } from '../../web/src/midi/midi-example.js';
import { COMPUTER_KEYS, isBlack, typingTarget } from '../../web/src/ui/keyboard.js';
import { parseMidiMessage, describeMidiError } from '../../web/src/audio/midi-input.js';
import { MidiFileError, describeReport, keyboardLow, readMidiFile } from '../../web/src/midi/midi-panel.js';
import { describeRecordError } from '../../web/src/transcribe/transcribe-audio.js';
import { describeRanges, instrumentLabel } from '../../web/src/midi/midi-catalog.js';
import { pitchView, timeTicks } from '../../web/src/ui/piano-roll.js';
import { FRAME, MOVING_PITCH, exampleMelody, framesToCurve, matchNotes, pitchChangeRate } from '../../web/src/transcribe/transcribe-panel.js';
import { CORE_DIR, REPO, coreHas } from './harness.mjs';

describe('notes and symbols', () => {
  test('note names, octaves (A0 = octave 0, C8 = octave 8) and frequencies', () => {
    assert.equal(noteName(60), 'C4');
    assert.equal(noteName(69), 'A4');
    assert.equal(noteName(61), 'C♯4');
    assert.equal(noteName(21), 'A0');
    assert.equal(octaveOf(21), 0);
    assert.equal(octaveOf(108), 8);
    assert.equal(octaveOf(59), 3);
    assert.ok(Math.abs(hzFromMidi(69) - 440) < 1e-9);
    assert.ok(Math.abs(hzFromMidi(57) - 220) < 1e-9);
  });

  test('velocity to the nearest dynamics class (ties to the softer)', () => {
    assert.deepEqual(DYNAMICS, ['pp', 'mf', 'ff']);
    assert.equal(dynamicsOf(1), 0);
    assert.equal(dynamicsOf(60), 0);
    assert.equal(dynamicsOf(61), 1);
    assert.equal(dynamicsOf(100), 1);
    assert.equal(dynamicsOf(101), 2);
    assert.equal(dynamicsOf(127), 2);
    assert.equal(dynamicsOf(70, [30, 60, 90]), 1);
  });
});

describe('MIDI writing', () => {
  test('a file of known bytes: header, tempo track, note events with delta times', () => {
    const bytes = writeMidi([{ name: 'A', channel: 2, notes: [{ pitch: 60, velocity: 100, start: 0, end: 0.5 }] }], { bpm: 120, division: 480 });
    const text = (a, b) => String.fromCharCode(...bytes.slice(a, b));
    assert.equal(text(0, 4), 'MThd');
    assert.deepEqual([...bytes.slice(8, 14)], [0, 1, 0, 2, 1, 224], 'format 1, 2 tracks, 480 ticks per quarter');
    assert.equal(text(14, 18), 'MTrk');
    // Tempo 500000 us per quarter (120 BPM).
    assert.deepEqual([...bytes.slice(22, 29)], [0, 0xff, 0x51, 3, 0x07, 0xa1, 0x20]);
    const second = 14 + 8 + 11; // after the header and the 11-byte tempo track
    assert.equal(text(second, second + 4), 'MTrk');
    const body = [...bytes.slice(second + 8)];
    // Name, then note-on at 0, note-off 480 ticks (0.5 s) later: 480 = 0x83 0x60.
    assert.deepEqual(body.slice(0, 4), [0, 0xff, 0x03, 1]);
    assert.deepEqual(body.slice(5), [0, 0x92, 60, 100, 0x83, 0x60, 0x82, 60, 0, 0, 0xff, 0x2f, 0]);
  });

  test('bad notes are refused with the value named', () => {
    assert.throws(() => writeMidi([{ notes: [{ pitch: 128, start: 0, end: 1 }] }]), /pitch 128 is not 0-127/);
    assert.throws(() => writeMidi([{ notes: [{ pitch: 60, velocity: 0, start: 0, end: 1 }] }]), /velocity 0 is not 1-127/);
    assert.throws(() => writeMidi([{ notes: [{ pitch: 60, start: 1, end: 1 }] }]), /times 1-1 s are not a note/);
    assert.throws(() => writeMidi([{ channel: 16, notes: [] }]), /channel 16 is not 0-15/);
    assert.throws(() => writeMidi([], { bpm: 0 }), /tempo 0 BPM/);
  });

  test('melody(): beats to seconds with a small gap; rests', () => {
    const notes = melody([[60, 1], [null, 1], [64, 2, 100]], { bpm: 60, velocity: 70, gap: 0.1 });
    assert.deepEqual(notes, [
      { pitch: 60, velocity: 70, start: 0, end: 0.9 },
      { pitch: 64, velocity: 100, start: 2, end: 3.9 },
    ]);
    assert.deepEqual(pitchSpan(notes), [60, 64]);
    assert.equal(pitchSpan([]), null);
  });

  test('the example tune: two tracks, 8 bars, every note in C4-G5', () => {
    const tracks = exampleTracks();
    assert.equal(tracks.length, 2);
    const [tune, harmony] = tracks;
    assert.equal(tune.notes.length, 30);
    assert.deepEqual(tune.notes.slice(0, 4).map((n) => noteName(n.pitch)), ['E5', 'E5', 'F5', 'G5'], 'Ode to Joy begins E E F G');
    const beats = 32;
    const end = Math.max(...[...tune.notes, ...harmony.notes].map((n) => n.end));
    assert.ok(Math.abs(end - (beats * 60) / EXAMPLE_BPM) < 0.05, `8 bars of 4/4 at ${EXAMPLE_BPM} BPM end at ${end} s`);
    const [lo, hi] = pitchSpan([...tune.notes, ...harmony.notes]);
    assert.ok(lo >= 60 && hi <= 79, `range ${noteName(lo)}-${noteName(hi)}`);
    for (const track of tracks) {
      for (let i = 1; i < track.notes.length; i++) assert.ok(track.notes[i].start >= track.notes[i - 1].end, 'each track is monophonic');
    }
  });

  test('the core parses the example tune back to the same notes', async () => {
    assert.ok(await coreHas('MidiRenderKernel'), `${CORE_DIR}/timbrel-core.mjs has no MidiRenderKernel: rebuild the WebAssembly core`);
    const { default: createCore } = await import(pathToFileURL(path.join(CORE_DIR, 'timbrel-core.mjs')).href);
    const core = await createCore();
    const song = core.parseMidi(exampleMidi());
    assert.equal(song.error, '');
    assert.equal(song.format, 1);
    assert.equal(song.tracks, 3);
    assert.ok(Math.abs(song.tempoBpm - EXAMPLE_BPM) < 0.01);
    const want = exampleTracks().flatMap((t, i) => t.notes.map((n) => ({ ...n, track: i + 1, channel: t.channel })));
    assert.equal(song.notes.length, want.length);
    const tick = 60 / EXAMPLE_BPM / 480;
    for (const w of want) {
      const got = song.notes.find((n) => n.track === w.track && n.pitch === w.pitch && Math.abs(n.start - w.start) <= tick);
      assert.ok(got, `note ${noteName(w.pitch)} at ${w.start.toFixed(3)} s of track ${w.track}`);
      assert.ok(Math.abs(got.end - w.end) <= tick);
      assert.equal(got.velocity, w.velocity);
      assert.equal(got.channel, w.channel);
      assert.equal(got.drum, false);
    }
    // A file cut short is refused with a message, not an abort.
    const parseError = (bytes) => {
      try {
        return core.parseMidi(bytes).error;
      } catch (error) {
        assert.fail(`parseMidi threw ${error} (an uncaught C++ exception in the WebAssembly build) instead of returning an error message`);
      }
    };
    assert.match(parseError(exampleMidi().slice(0, 60)), /\S/);
    const golden = fs.readFileSync(path.join(REPO, 'tests', 'golden', 'midi', 'truncated.mid'));
    assert.match(parseError(new Uint8Array(golden)), /\S/);
  });
});

describe('keyboard and Web MIDI', () => {
  test('the letter rows play a chromatic scale from A (white keys on A S D F ..., black on W E T Y U ...)', () => {
    const offsets = Object.values(COMPUTER_KEYS);
    assert.deepEqual(offsets, Array.from({ length: 18 }, (_, i) => i), 'one key per semitone, in order');
    const white = ['KeyA', 'KeyS', 'KeyD', 'KeyF', 'KeyG', 'KeyH', 'KeyJ', 'KeyK', 'KeyL', 'Semicolon', 'Quote'];
    const black = ['KeyW', 'KeyE', 'KeyT', 'KeyY', 'KeyU', 'KeyO', 'KeyP'];
    for (const code of white) assert.equal(isBlack(60 + COMPUTER_KEYS[code]), false, `${code} is a white key`);
    for (const code of black) assert.equal(isBlack(60 + COMPUTER_KEYS[code]), true, `${code} is a black key`);
  });

  test('typing into fields is left alone; sliders and buttons are not fields', () => {
    assert.equal(typingTarget({ tagName: 'INPUT', type: 'number' }), true);
    assert.equal(typingTarget({ tagName: 'INPUT', type: 'text' }), true);
    assert.equal(typingTarget({ tagName: 'SELECT' }), true);
    assert.equal(typingTarget({ tagName: 'TEXTAREA' }), true);
    assert.equal(typingTarget({ tagName: 'INPUT', type: 'range' }), false);
    assert.equal(typingTarget({ tagName: 'INPUT', type: 'radio' }), false);
    assert.equal(typingTarget({ tagName: 'BUTTON' }), false);
    assert.equal(typingTarget(null), false);
  });

  test('MIDI messages: note-on, note-on velocity 0 and note-off, all notes off; others ignored', () => {
    assert.deepEqual(parseMidiMessage([0x90, 60, 100]), { type: 'on', pitch: 60, velocity: 100, channel: 0 });
    assert.deepEqual(parseMidiMessage([0x93, 61, 0]), { type: 'off', pitch: 61, velocity: 0, channel: 3 });
    assert.deepEqual(parseMidiMessage([0x80, 62, 64]), { type: 'off', pitch: 62, velocity: 0, channel: 0 });
    assert.equal(parseMidiMessage([0xb0, 123, 0]).type, 'all-off');
    assert.equal(parseMidiMessage([0xb0, 7, 100]), null, 'a volume change plays nothing');
    assert.equal(parseMidiMessage([0xf8]), null, 'clock');
    assert.equal(describeMidiError({ name: 'NotSupportedError' }).key, 'midi-unsupported');
    assert.equal(describeMidiError({ name: 'NotAllowedError' }).key, 'midi-denied');
    assert.match(describeMidiError(new Error('boom')).text, /^boom\. /);
  });

  test('the keyboard starts on a C inside the instrument’s range', () => {
    assert.equal(keyboardLow(null), 60);
    assert.equal(keyboardLow([55, 96]), 60, 'violin');
    assert.equal(keyboardLow([60, 96]), 60, 'flute');
    assert.equal(keyboardLow([49, 81]), 60, 'alto sax: C4-C6 reaches past A5 a little');
    assert.equal(keyboardLow([21, 108]), 60, 'piano: middle C');
    assert.equal(keyboardLow([36, 60]), 36, 'a low instrument keeps its own range');
  });
});

describe('files and the microphone, in words', () => {
  const fakeFile = (name, bytes) => ({ name, size: bytes.length, arrayBuffer: async () => Uint8Array.from(bytes).buffer });

  test('a MIDI file is read as bytes; empty, huge and model files are refused before parsing', async () => {
    assert.deepEqual([...(await readMidiFile(fakeFile('a.mid', [77, 84, 104, 100])))], [77, 84, 104, 100]);
    await assert.rejects(readMidiFile(fakeFile('empty.mid', [])), (e) => e instanceof MidiFileError && /“empty\.mid” is empty/.test(e.title));
    await assert.rejects(readMidiFile({ name: 'big.mid', size: 5e6, arrayBuffer: async () => new ArrayBuffer(0) }), /too large for a MIDI file/);
    await assert.rejects(readMidiFile(fakeFile('flute.tmbl', [84])), /an instrument model, not a score/);
  });

  test('microphone failures say what to do on this panel', () => {
    const denied = describeRecordError({ name: 'NotAllowedError' });
    assert.equal(denied.key, 'mic-denied');
    assert.match(denied.text, /^To record your instrument, allow the microphone.*press Record again\. Meanwhile you can use the example phrase/);
    assert.match(describeRecordError({ name: 'NotFoundError' }).text, /^Plug in a microphone/);
    assert.match(describeRecordError(new Error('odd failure.')).text, /^odd failure\. Meanwhile/);
  });
});

describe('report and ranges in words', () => {
  test('the core’s render report', () => {
    const lines = describeReport({
      notes: 46, drumNotesSkipped: 1, notesRendered: 45, notesTransposed: 3, voicesStolen: 0, peakVoices: 2,
      frames: 1300, durationS: 15.2, peak: 1.3, normalised: true, gain: 0.685,
    });
    assert.deepEqual(lines, [
      '45 notes played of the 46 in the file, 15.2 s of sound.',
      'Up to 2 notes at once (2 voices, mixed before the phase is rebuilt).',
      '3 notes outside the instrument’s range moved by octaves into it (outlined on the piano roll).',
      '1 drum note (channel 10) skipped: no instrument here plays drums.',
      'The mix would have clipped, so it was turned down by 3.3 dB.',
    ]);
    assert.deepEqual(describeReport({ notes: 1, notesRendered: 1, peakVoices: 1, notesTransposed: 0, somethingNew: 2.5 }), [
      '1 note played.',
      'One note at a time (one voice).',
      'No note had to be moved: all lie in the instrument’s range.',
      'something new: 2.50',
    ]);
    assert.deepEqual(describeReport(null), []);
    // The output guard's limiter: said when it acted, silent (no raw "limited: 0") when not.
    assert.deepEqual(describeReport({ notes: 1, notesRendered: 1, durationS: 2, limited: 0 }), ['1 note played, 2.0 s of sound.']);
    assert.deepEqual(describeReport({ notes: 1, notesRendered: 1, durationS: 2, limited: 441 }), [
      '1 note played, 2.0 s of sound.',
      'The limiter softened 441 samples (1.0 % of the sound) to keep it under full scale.',
    ]);
  });

  test('instrument names and ranges', () => {
    assert.equal(instrumentLabel(['alto_sax', 'violin']), 'alto sax + violin');
    assert.equal(describeRanges(['violin'], [[55, 96]]), 'G3 – C7');
    assert.equal(describeRanges(['alto_sax', 'violin'], [[49, 81], [55, 96]]), 'alto sax C♯3 – A5, violin G3 – C7');
  });
});

describe('piano roll and transcription helpers', () => {
  test('a moving pitch (speech, glides) is told from held notes', () => {
    // frames: [time, pitch, dynamics, confidence, active] per frame
    const frames = (pitches) => Float32Array.from(pitches.flatMap((p, i) => [i / 86, p, 1, 0.9, p > 0 ? 1 : 0]));
    const held = [...Array(40).fill(60), ...Array(40).fill(64), ...Array(10).fill(0), ...Array(40).fill(67)];
    const moving = Array.from({ length: 130 }, (_, i) => 60 + Math.round(4 * Math.sin(i / 2)));
    const a = pitchChangeRate(frames(held));
    const b = pitchChangeRate(frames(moving));
    assert.equal(a.active, 120);
    assert.ok(a.rate < MOVING_PITCH, `held notes: ${a.rate}`);
    assert.ok(b.rate > MOVING_PITCH, `moving pitch: ${b.rate}`);
    assert.deepEqual(pitchChangeRate(new Float32Array(0)), { active: 0, rate: 0 });
  });

  test('the rows shown: the notes with a margin, at least 14 semitones; ranges when there are no notes', () => {
    assert.deepEqual(pitchView([{ pitch: 60 }, { pitch: 64 }]), { lo: 55, hi: 69 });
    assert.deepEqual(pitchView([{ pitch: 40 }, { pitch: 90 }]), { lo: 38, hi: 92 });
    assert.deepEqual(pitchView([{ pitch: 36, drum: true }], [[55, 96]]), { lo: 53, hi: 98 });
    assert.deepEqual(timeTicks(14.5, 10), [0, 2, 4, 6, 8, 10, 12, 14]);
    assert.deepEqual(timeTicks(3, 10), [0, 0.5, 1, 1.5, 2, 2.5, 3]);
    // A file's numbers never set the work: 4.5e10 s (a 107-byte MIDI file) once built 75 million ticks.
    const huge = timeTicks(4.5e10, 10);
    assert.ok(huge.length <= 11 && huge.length >= 2, `${huge.length} ticks`);
    assert.equal(huge[0], 0);
    assert.ok(huge.at(-1) <= 4.5e10);
    assert.equal(timeTicks(3600, 10).length, 7); // 10-minute steps
    assert.deepEqual(timeTicks(Infinity, 10), [0]);
    assert.deepEqual(timeTicks(NaN, 10), [0]);
  });

  test('frames to curves: closed gate and no pitch are gaps', () => {
    const frames = Float32Array.from([
      0.01, 72, 1, 0.9, 1,
      0.02, -1, 0, 0, 0,
      0.03, 74, 2, 0.5, 1,
      0.04, 74, 2, 0.4, 0,
    ]);
    assert.equal(FRAME.STRIDE, 5);
    const curve = framesToCurve(frames);
    assert.deepEqual(Array.from(curve.times).map((t) => Number(t.toFixed(2))), [0.01, 0.02, 0.03, 0.04]);
    assert.deepEqual(Array.from(curve.pitch).map((p) => (Number.isNaN(p) ? null : p)), [72, null, 74, null]);
    assert.ok(Math.abs(curve.confidence[0] - 0.9) < 1e-6 && Number.isNaN(curve.confidence[1]));
  });

  test('matching transcribed notes to the notes a clip was played from: pitch and onset, one to one', () => {
    const reference = [{ pitch: 72, start: 0, end: 1 }, { pitch: 74, start: 1, end: 2 }, { pitch: 76, start: 2, end: 3 }, { pitch: 76, start: 3, end: 4 }];
    const found = [
      { pitch: 72, start: 0.05, end: 0.95 }, // right
      { pitch: 75, start: 1.02, end: 1.9 }, // wrong pitch
      { pitch: 76, start: 2.04, end: 3.9 }, // two repeated notes merged: matches the first only
    ];
    assert.deepEqual(matchNotes(reference, found), { matched: 2, total: 4, extra: 1 });
    assert.deepEqual(matchNotes(reference, [{ pitch: 72, start: 0.3, end: 1 }]), { matched: 0, total: 4, extra: 1 }, 'a late onset does not match');
    assert.deepEqual(matchNotes(reference, []), { matched: 0, total: 4, extra: 0 });
  });

  test('the example phrase moves by octaves into the instrument’s range', () => {
    const span = (notes) => pitchSpan(notes);
    assert.deepEqual(span(exampleMelody(null)), [72, 79]);
    assert.deepEqual(span(exampleMelody([55, 96])), [72, 79], 'violin: as written');
    assert.deepEqual(span(exampleMelody([36, 67])), [60, 67], 'a low instrument: an octave down');
    assert.deepEqual(span(exampleMelody([84, 108])), [84, 91], 'a high one: an octave up');
  });
});
