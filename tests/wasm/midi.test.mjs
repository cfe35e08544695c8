// The WebAssembly build of the MIDI panel's engines (wasm/midi_bindings.cpp)
// as the page's Worker and AudioWorklet drive them: parseMidi, MidiRenderKernel
// (describe, renderMidi) and MidiKernel, with the golden random
// models of tests/golden/crossmodal (plumbing; pitch is checked natively with
// the oracle model, tests/core/test_midi_player.cpp). Renders are compared
// with the native core's through `build/core/timbrel render-midi`.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/
//   (TIMBREL_NATIVE_CLI: the native tool, default build/core/timbrel)
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { REPO, loadCore, repoBytes } from './core.mjs';

const NATIVE_CLI = process.env.TIMBREL_NATIVE_CLI
  ? path.resolve(process.env.TIMBREL_NATIVE_CLI)
  : path.join(REPO, 'build', 'core', 'timbrel');
const GOLDEN = path.join(REPO, 'tests', 'golden', 'crossmodal');
const SOLO_MODEL = path.join(GOLDEN, 'solo', 'model.tmbl');
const MIXTURE_MODEL = path.join(GOLDEN, 'mixture', 'model.tmbl');
const VQ_MODEL = path.join(REPO, 'tests', 'golden', 'vq', 'model.tmbl');
// A trained model (FluidR3 violin notes): what the page plays.
const VIOLIN_MODEL = path.join(REPO, 'models', 'crossmodal', 'violin', 'violin.tmbl');
const RATE = 22050;
const HOP = 256;
const BLOCK = 128;

let core;
let soloBytes;
let mixtureBytes;
let violinBytes;

before(async () => {
  core = await loadCore();
  soloBytes = repoBytes(SOLO_MODEL);
  mixtureBytes = repoBytes(MIXTURE_MODEL);
  violinBytes = repoBytes(VIOLIN_MODEL);
});

// --- Standard MIDI File bytes ---------------------------------------------------

const vlq = (value) => {
  const groups = [value & 0x7f];
  for (value >>>= 7; value; value >>>= 7) groups.push(0x80 | (value & 0x7f));
  return groups.reverse();
};
const u32 = (n) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const chunk = (type, body) => [...Buffer.from(type, 'latin1'), ...u32(body.length), ...body];
// events: [absolute tick, event bytes], in order; end of track appended.
const track = (events) => {
  const out = [];
  let last = 0;
  for (const [tick, bytes] of events) {
    out.push(...vlq(tick - last), ...bytes);
    last = tick;
  }
  return [...out, 0, 0xff, 0x2f, 0];
};
const smf = (format, division, tracks) => new Uint8Array([
  ...chunk('MThd', [0, format, 0, tracks.length, division >> 8, division & 255]),
  ...tracks.flatMap((t) => chunk('MTrk', track(t))),
]);
const name = (text) => [0xff, 0x03, text.length, ...Buffer.from(text, 'latin1')];

// Format 1, 480 ticks per quarter, 100 BPM (0.6 s per quarter): a tempo
// track, a melody (running status, velocity-0 note-offs) and a drum track.
const MULTI_TRACK = smf(1, 480, [
  [[0, name('Tempo')], [0, [0xff, 0x51, 3, 0x09, 0x27, 0xc0]]],
  [[0, name('Melody')], [0, [0x90, 60, 100]], [480, [64, 90]], [480, [60, 0]], [960, [64, 0]]],
  [[0, [0x99, 36, 110]], [240, [0x89, 36, 0]]],
]);

// Format 0 at 120 BPM: C4, E4, G4 of 0.5 s each, velocities 100, 80, 60.
const THREE_NOTES = smf(0, 480, [[
  [0, [0x90, 60, 100]], [480, [0x80, 60, 0]], [480, [0x90, 64, 80]], [960, [0x80, 64, 0]],
  [960, [0x90, 67, 60]], [1440, [0x80, 67, 0]],
]]);

// --- helpers -------------------------------------------------------------------------

function readFloatWav(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('latin1', 0, 4), 'RIFF');
  for (let at = 12; at + 8 <= b.length;) {
    const id = b.toString('latin1', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === 'data') {
      const out = new Float32Array(size / 4);
      for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(at + 8 + 4 * i);
      return out;
    }
    at += 8 + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

const rms = (x, from = 0, to = x.length) => {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, to - from));
};

// ||got - want|| / ||want||
const relativeError = (got, want) => {
  let e = 0, n = 0;
  for (let i = 0; i < want.length; i++) {
    e += (got[i] - want[i]) ** 2;
    n += want[i] ** 2;
  }
  return Math.sqrt(e / n);
};

// render_song's output length (engine/note_synth.h): until the last key-up's
// frame or the song's end, plus the release (0.15 s) and one window (2048).
function expectedRenderLength(durationS, lastEndS) {
  const frameOf = (t) => Math.ceil((t * RATE + 768) / HOP);
  const lastFrameS = (frameOf(lastEndS) * HOP - 768) / RATE;
  return Math.ceil((Math.max(durationS, lastEndS, lastFrameS) + 0.15) * RATE) + 2048;
}

function withKernel(fn, bytes = soloBytes) {
  const k = new core.MidiRenderKernel();
  try {
    if (bytes) assert.equal(k.loadModel(bytes), '');
    return fn(k);
  } finally {
    k.delete();
  }
}

// The live kernel's output for `blocks` quanta, reading the heap view afresh
// (a model load can grow the memory).
function playLive(k, blocks) {
  const out = new Float32Array(blocks * BLOCK);
  for (let b = 0; b < blocks; b++) {
    k.process(BLOCK);
    const at = k.outputPtr() >> 2;
    out.set(core.HEAPF32.subarray(at, at + BLOCK), b * BLOCK);
  }
  return out;
}

// --- parseMidi ---------------------------------------------------------------------------

test('parseMidi reads a multi-track file: tempo, tracks, notes in seconds, drums flagged', () => {
  const song = core.parseMidi(MULTI_TRACK);
  assert.equal(song.error, '');
  assert.equal(song.format, 1);
  assert.equal(song.tracks, 3);
  assert.ok(Math.abs(song.tempoBpm - 100) < 1e-9, `tempo ${song.tempoBpm}`);
  assert.ok(Math.abs(song.durationS - 1.2) < 1e-9, `duration ${song.durationS}`);
  const simple = song.notes.map((n) => [n.track, n.channel, n.pitch, n.velocity, +n.start.toFixed(6), +n.end.toFixed(6), n.drum]);
  assert.deepEqual(simple, [
    [1, 0, 60, 100, 0, 0.6, false],
    [2, 9, 36, 110, 0, 0.3, true],
    [1, 0, 64, 90, 0.6, 1.2, false],
  ]);
  // An ArrayBuffer works as well as a Uint8Array.
  assert.equal(core.parseMidi(THREE_NOTES.buffer.slice(0)).notes.length, 3);
});

test('parseMidi explains a malformed file, and the module keeps working', () => {
  const truncated = MULTI_TRACK.subarray(0, MULTI_TRACK.length - 10);
  assert.match(core.parseMidi(truncated).error, /truncated file: chunk 'MTrk' at byte \d+ claims \d+ bytes, only \d+ remain/);
  assert.match(core.parseMidi(new Uint8Array([0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).error,
    /not a Standard MIDI File/);
  assert.match(core.parseMidi(new Uint8Array(0)).error, /no MIDI bytes/);
  assert.match(core.parseMidi(null).error, /no MIDI bytes/);
  assert.match(core.parseMidi('MThd').error, /no MIDI bytes/);
  for (let i = 0; i < 50; i++) assert.notEqual(core.parseMidi(truncated).error, '');
  assert.equal(core.parseMidi(MULTI_TRACK).error, '', 'a good file still parses after the errors');
});

// --- MidiRenderKernel ---------------------------------------------------------------------

test('loadModel explains bad files: truncated, wrong family, not bytes', () => {
  withKernel((k) => {
    assert.match(k.loadModel(soloBytes.subarray(0, 1000)), /truncated/);
    assert.match(k.loadModel(new Uint8Array(fs.readFileSync(VQ_MODEL))), /family is 'vq_timbre', not 'crossmodal_vae'/);
    assert.match(k.loadModel('not bytes'), /no model bytes/);
    assert.match(k.loadModel(null), /no model bytes/);
    assert.equal(k.hasModel(), false);
    assert.equal(k.describe(), null);
    assert.match(k.renderMidi(THREE_NOTES, {}, null).error, /no model loaded/);
    assert.equal(k.loadModel(soloBytes), '');
    assert.equal(k.hasModel(), true);
  }, null);
});

test('describe: instruments, ranges, and every training label on the XY pad', () => {
  const meta = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'meta.json'), 'utf8'));
  withKernel((k) => {
    const d = k.describe();
    assert.deepEqual(d.instruments, meta.cases.solo.instruments);
    assert.deepEqual(d.pitchRanges, meta.cases.solo.pitch_ranges);
    assert.deepEqual(d.dynamicsVelocity, [40, 80, 120]);
    const [lo, hi] = d.pitchRanges[0];
    assert.equal(d.points.length, (hi - lo + 1) * 3);
    assert.deepEqual(d.points.slice(0, 4).map((p) => [p.pitch, p.dynamics]), [[lo, 0], [lo, 1], [lo, 2], [lo + 1, 0]]);
    // The golden projection is the PCA over exactly these labels: its extent
    // is the points' bounding box.
    const [[xmin, xmax], [ymin, ymax]] = d.projection.extent;
    const xs = d.points.map((p) => p.x);
    const ys = d.points.map((p) => p.y);
    for (const [got, want] of [[Math.min(...xs), xmin], [Math.max(...xs), xmax], [Math.min(...ys), ymin], [Math.max(...ys), ymax]]) {
      assert.ok(Math.abs(got - want) < 1e-4, `points' bounding box ${got} vs extent ${want}`);
    }
  });
  withKernel((k) => {
    const d = k.describe();
    assert.deepEqual(d.instruments, ['alto_sax', 'violin']);
    assert.equal(d.pitchRanges.length, 2);
    for (const p of d.points) {
      assert.equal(p.pitches.length, 2);
      p.pitches.forEach((q, i) => assert.ok(q >= d.pitchRanges[i][0] && q <= d.pitchRanges[i][1]));
    }
  }, mixtureBytes);
});

test('renderMidi: three notes give the right length, a report and monotonic progress to 1', () => {
  withKernel((k) => {
    for (const phase of ['griffin-lim', 'rtpghi']) {
      const calls = [];
      const r = k.renderMidi(THREE_NOTES, { phase, iterations: 5 }, (fraction, stage) => calls.push([fraction, stage]));
      assert.equal(r.error, '');
      assert.ok(r.samples instanceof Float32Array);
      assert.equal(r.samples.length, expectedRenderLength(1.5, 1.5), phase);
      assert.ok(r.samples.every(Number.isFinite));
      assert.ok(rms(r.samples) > 0, 'the notes sound');
      assert.equal(r.report.notes, 3);
      assert.equal(r.report.notesRendered, 3);
      assert.equal(r.report.drumNotesSkipped, 0);
      assert.equal(r.report.peakVoices, 1);
      assert.ok(Math.abs(r.report.durationS - r.samples.length / RATE) < 1e-9);
      assert.ok(calls.length >= 3, `${calls.length} progress calls`);
      for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] >= calls[i - 1][0], `progress went back: ${JSON.stringify(calls)}`);
      assert.ok(calls.every(([f]) => f >= 0 && f <= 1));
      assert.deepEqual(calls.at(-1), [1, 'done']);
      assert.equal(calls.filter(([f]) => f === 1).length, 1, '1 only at the end');
      const stages = new Set(calls.map(([, s]) => s));
      assert.ok(stages.has('frames'));
      assert.equal(stages.has('phase'), phase === 'griffin-lim');
    }
    // Drums are skipped and counted; no progress function is fine.
    const r = k.renderMidi(MULTI_TRACK, {}, undefined);
    assert.equal(r.error, '');
    assert.equal(r.report.drumNotesSkipped, 1);
    assert.equal(r.report.notesRendered, 2);
    assert.equal(r.samples.length, expectedRenderLength(1.2, 1.2));
  });
});

test('renderMidi explains bad options and bad files', () => {
  withKernel((k) => {
    const bad = (options) => k.renderMidi(THREE_NOTES, options, null).error;
    assert.match(bad({ interpolation: 'spline' }), /unknown interpolation 'spline' \(known: none, linear, cubic\)/);
    assert.match(bad({ phase: 'magic' }), /unknown phase method 'magic'/);
    assert.match(bad({ iterations: 5000 }), /iterations must be a whole number within 0-1000/);
    assert.match(bad({ temperature: -1 }), /temperature/);
    assert.match(bad({ temperature: 'hot' }), /option 'temperature' must be a number/);
    assert.match(bad({ seed: 1.5 }), /seed must be a whole number/);
    assert.match(bad({ instrument: 1 }), /instrument must be -1 \(by track\) or an instrument index 0-0/);
    assert.match(bad('fast'), /options must be an object/);
    assert.match(k.renderMidi(THREE_NOTES.subarray(0, 30), {}, null).error, /^the MIDI file: truncated/);
    assert.equal(bad({ instrument: 0, seed: 0 }), '');
  });
});

test('renderMidi equals the native core (timbrel render-midi) for the same song and options', () => {
  assert.ok(fs.existsSync(NATIVE_CLI), `${NATIVE_CLI} not found: build it (cmake --build build --target timbrel) or set TIMBREL_NATIVE_CLI`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timbrel-crossmodal-'));
  try {
    const song = path.join(dir, 'three.mid');
    fs.writeFileSync(song, THREE_NOTES);
    // RTPGHI is the same arithmetic on both sides (to float rounding; the trained
    // violin's sharper spectra, with more bins near zero where RTPGHI's log-magnitude
    // gradients amplify rounding, reach 5e-4: measured 2026-12-02 after its retrain).
    // Griffin-Lim takes the phase of the STFT of its own output, which
    // amplifies rounding wherever that STFT is near zero: one iteration is
    // compared (after 30, x86 and WebAssembly differ by 16-75 %).
    const cases = [
      [SOLO_MODEL, soloBytes, { phase: 'rtpghi' }, 1e-5],
      [SOLO_MODEL, soloBytes, { phase: 'rtpghi', temperature: 0.5, seed: 99, interpolation: 'linear' }, 1e-5],
      [SOLO_MODEL, soloBytes, { phase: 'griffin-lim', iterations: 1, interpolation: 'none' }, 5e-3],
      [VIOLIN_MODEL, violinBytes, { phase: 'rtpghi' }, 1e-3],
      [VIOLIN_MODEL, violinBytes, { phase: 'rtpghi', temperature: 0.5, seed: 7 }, 1e-3],
      [VIOLIN_MODEL, violinBytes, { phase: 'griffin-lim', iterations: 1 }, 5e-3],
    ];
    for (const [model, bytes, options, tolerance] of cases) {
      withKernel((k) => {
        const out = path.join(dir, 'out.wav');
        const args = ['render-midi', song, '--model', model, '-o', out];
        for (const [key, value] of Object.entries(options)) args.push(`--${key}`, String(value));
        execFileSync(NATIVE_CLI, args, { stdio: 'pipe' });
        const native = readFloatWav(out);
        const wasm = k.renderMidi(THREE_NOTES, options, null);
        assert.equal(wasm.error, '');
        assert.equal(wasm.samples.length, native.length);
        const error = relativeError(wasm.samples, native);
        assert.ok(error < tolerance, `${path.basename(model)} ${JSON.stringify(options)}: relative error ${error}`);
      }, bytes);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('renderMidi with a mixture model says it plays in unison', () => {
  withKernel((k) => {
    const r = k.renderMidi(THREE_NOTES, { phase: 'rtpghi', instrument: 1 }, null);
    assert.equal(r.error, '');
    assert.equal(r.report.mixturePlayedInUnison, true);
    assert.equal(r.samples.length, expectedRenderLength(1.5, 1.5));
  }, mixtureBytes);
});

// --- MidiKernel ---------------------------------------------------------------------

test('MidiKernel: sound after noteOn, near-silence after noteOff and the release', () => {
  const k = new core.MidiKernel(48000, BLOCK);
  try {
    assert.equal(k.error(), '');
    assert.equal(k.maxBlock(), BLOCK);
    assert.equal(k.latencySamples(), 2786);
    assert.equal(k.minLatencySamples(), 2508);
    assert.equal(k.maxLatencySamples(), 3065);
    assert.ok(playLive(k, 50).every((v) => v === 0), 'silent without a model');
    assert.equal(k.loadModel(soloBytes), '');
    k.noteOn(70, 100);
    const held = playLive(k, 190); // 0.5 s
    assert.equal(k.soundingVoices(), 1);
    k.noteOff(70);
    const released = playLive(k, 190);
    assert.ok(held.every(Number.isFinite) && released.every(Number.isFinite));
    const level = rms(held, 100 * BLOCK);
    assert.ok(level > 1e-6, `level ${level}`);
    // 150 ms release + the synthesis tail + latency: quiet after 0.3 s.
    assert.ok(rms(released, 115 * BLOCK) < 1e-3 * level, `after release ${rms(released, 115 * BLOCK)} vs ${level}`);
    assert.equal(k.soundingVoices(), 0);

    // The XY pad and the morph sound while on.
    k.setPad(0, 0, true);
    const pad = playLive(k, 100);
    assert.ok(rms(pad, 50 * BLOCK) > 1e-6, 'pad');
    k.setPad(0, 0, false);
    k.setMorph(60, 80, 72, 80, 0.5, true);
    const morph = playLive(k, 100);
    assert.ok(rms(morph, 50 * BLOCK) > 1e-6, 'morph');
    k.setMorph(60, 80, 72, 80, 0.5, false);
    assert.ok(rms(playLive(k, 200), 120 * BLOCK) < 1e-3 * level, 'pad and morph off: silence');

    // allNotesOff releases everything held.
    k.noteOn(60, 90);
    k.noteOn(64, 90);
    playLive(k, 20);
    assert.equal(k.soundingVoices(), 2);
    k.allNotesOff();
    playLive(k, 200);
    assert.equal(k.soundingVoices(), 0);
    assert.equal(k.setInterpolation('linear'), true);
    assert.equal(k.setInterpolation('spline'), false);
  } finally {
    k.delete();
  }
});

test('MidiKernel: a bad configuration or model is explained, never thrown', () => {
  const bad = new core.MidiKernel(1000, BLOCK);
  try {
    assert.match(bad.error(), /1000 Hz/);
    assert.match(bad.loadModel(soloBytes), /1000 Hz/);
    bad.noteOn(60, 100);
    bad.process(BLOCK);
    const at = bad.outputPtr() >> 2;
    assert.equal(core.HEAPF32[at], 0);
    assert.equal(bad.latencySamples(), 0);
  } finally {
    bad.delete();
  }
  const k = new core.MidiKernel(44100, BLOCK);
  try {
    assert.match(k.loadModel(new Uint8Array(fs.readFileSync(VQ_MODEL))), /vq_timbre/);
    assert.match(k.loadModel(soloBytes.subarray(0, 100)), /truncated/);
    assert.equal(k.hasModel(), false);
    assert.equal(k.loadModel(mixtureBytes), '');
    k.noteOn(65, 100);
    assert.ok(rms(playLive(k, 150), 80 * BLOCK) > 1e-6, 'a mixture model plays too');
  } finally {
    k.delete();
  }
});

// f0 by autocorrelation: the first lag (between 1 ms and 10 ms) whose
// normalised autocorrelation comes within 5 % of the best, refined by a parabola.
function autocorrelationF0(x, rate) {
  const lo = Math.floor(rate / 1000), hi = Math.ceil(rate / 100);
  const r = new Float64Array(hi + 2);
  let energy = 0;
  for (let i = 0; i < x.length - hi - 1; i++) energy += x[i] * x[i];
  for (let lag = lo - 1; lag <= hi + 1; lag++) {
    let s = 0;
    for (let i = 0; i < x.length - hi - 1; i++) s += x[i] * x[i + lag];
    r[lag] = s / energy;
  }
  let best = -Infinity;
  for (let lag = lo; lag <= hi; lag++) best = Math.max(best, r[lag]);
  for (let lag = lo; lag <= hi; lag++) {
    if (r[lag] >= 0.95 * best && r[lag] >= r[lag - 1] && r[lag] >= r[lag + 1]) {
      const d = (r[lag - 1] - r[lag + 1]) / (2 * (r[lag - 1] - 2 * r[lag] + r[lag + 1]));
      return rate / (lag + (Number.isFinite(d) ? d : 0));
    }
  }
  return NaN;
}

test('MidiKernel with the trained violin at 48 kHz: notes at their pitch', () => {
  const k = new core.MidiKernel(48000, BLOCK);
  try {
    assert.equal(k.loadModel(violinBytes), '');
    for (const pitch of [62, 69, 74]) {
      k.noteOn(pitch, 100);
      const out = playLive(k, 190); // 0.5 s
      k.noteOff(pitch);
      playLive(k, 150);
      const f0 = autocorrelationF0(out.subarray(Math.round(0.2 * 48000)), 48000);
      const want = 440 * 2 ** ((pitch - 69) / 12);
      const cents = 1200 * Math.log2(f0 / want);
      assert.ok(Math.abs(cents) < 20, `MIDI ${pitch}: f0 ${f0.toFixed(2)} Hz, ${cents.toFixed(1)} cents`);
    }
  } finally {
    k.delete();
  }
});
