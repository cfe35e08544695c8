// The WebAssembly build of the Transcribe panel's engine (wasm/transcribe_bindings.cpp)
// as the page's Worker drives it: TranscribeKernel (describe, transcribe) with
// the golden random models of tests/golden/crossmodal (plumbing; transcription
// quality is measured natively, tests/core/test_transcriber.cpp).
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { loadCore, repoBytes } from './core.mjs';

const RATE = 22050;
const HOP = 256;

let core;
let soloBytes;
let mixtureBytes;

before(async () => {
  core = await loadCore();
  soloBytes = repoBytes('tests', 'golden', 'crossmodal', 'solo', 'model.tmbl');
  mixtureBytes = repoBytes('tests', 'golden', 'crossmodal', 'mixture', 'model.tmbl');
});

// Node 20 can deadlock at the end of a test file (gdb: the main thread in
// NodePlatform::DrainTasks waits for a concurrent TurboFan job that waits for a
// garbage collection only the main thread can run), and this short file hit it
// often under `node --test`: a moment with the event loop alive lets such jobs
// finish first (scripts/test.sh also passes --no-concurrent-recompilation,
// which removes the cause).
after(() => new Promise((resolve) => setTimeout(resolve, 1000)));

function withKernel(fn, bytes = soloBytes) {
  const k = new core.TranscribeKernel();
  try {
    if (bytes) assert.equal(k.loadModel(bytes), '');
    return fn(k);
  } finally {
    k.delete();
  }
}

test('loadModel explains bad files: truncated, wrong family, not bytes', () => {
  withKernel((k) => {
    assert.match(k.loadModel(soloBytes.subarray(0, 1000)), /truncated/);
    assert.match(k.loadModel(repoBytes('tests', 'golden', 'vq', 'model.tmbl')), /family is 'vq_timbre', not 'crossmodal_vae'/);
    assert.match(k.loadModel('not bytes'), /no model bytes/);
    assert.match(k.loadModel(null), /no model bytes/);
    assert.equal(k.hasModel(), false);
    assert.equal(k.describe(), null);
    assert.match(k.transcribe(new Float32Array(100)).error, /no model loaded/);
    assert.equal(k.loadModel(soloBytes), '');
    assert.equal(k.hasModel(), true);
  }, null);
});

test('describe equals MidiRenderKernel.describe for the same model', () => {
  for (const bytes of [soloBytes, mixtureBytes]) {
    const midi = new core.MidiRenderKernel();
    try {
      assert.equal(midi.loadModel(bytes), '');
      withKernel((k) => assert.deepEqual(k.describe(), midi.describe()), bytes);
    } finally {
      midi.delete();
    }
  }
});

test('transcribe: frames on the hop grid, the gate follows the tone, .mid bytes read back', () => {
  // 0.3 s silence, 0.6 s of A4 at -13 dBFS RMS, 0.3 s silence.
  const x = new Float32Array(Math.round(1.2 * RATE));
  const on = Math.round(0.3 * RATE), off = Math.round(0.9 * RATE);
  for (let i = on; i < off; i++) x[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / RATE);
  withKernel((k) => {
    const t = k.transcribe(x);
    assert.equal(t.error, '');
    assert.ok(t.frames instanceof Float32Array);
    assert.equal(t.frames.length % 5, 0);
    const count = t.frames.length / 5;
    const time = (i) => t.frames[5 * i];
    for (let i = 0; i < count; i++) {
      assert.ok(Math.abs(time(i) - (i * HOP - 768) / RATE) < 1e-6, `frame ${i} at ${time(i)} s`);
      const [pitch, dynamics, confidence, active] = t.frames.subarray(5 * i + 1, 5 * i + 5);
      assert.ok(active === 0 || active === 1);
      assert.equal(pitch === -1, active === 0, `frame ${i}: pitch ${pitch}, active ${active}`);
      assert.ok(dynamics >= 0 && dynamics <= 2 && confidence >= 0 && confidence <= 1);
    }
    // Frames run until every sample has been a window centre.
    assert.ok(time(count - 1) * RATE >= x.length - 1 - 1e-3 && time(count - 2) * RATE < x.length - 1);
    // Active where the tone is (the level window is 1024 samples wide).
    for (let i = 0; i < count; i++) {
      const centre = time(i) * RATE;
      if (centre > on + 600 && centre < off - 600) assert.equal(t.frames[5 * i + 4], 1, `frame ${i} inside the tone`);
      if (centre < on - 600 || centre > off + 600) assert.equal(t.frames[5 * i + 4], 0, `frame ${i} outside the tone`);
    }
    assert.equal(t.slots.length, 1);
    assert.ok(t.notes.length >= 1, t.summary);
    for (const n of t.notes) assert.ok(n.start >= 0.25 && n.end <= 0.97 && n.start < n.end, JSON.stringify(n));
    // The .mid holds the same notes (times on a 960-per-second tick grid).
    assert.ok(t.midi instanceof Uint8Array);
    const back = core.parseMidi(t.midi);
    assert.equal(back.error, '');
    assert.equal(back.notes.length, t.notes.length);
    back.notes.forEach((n, i) => {
      assert.equal(n.pitch, t.notes[i].pitch);
      assert.equal(n.velocity, t.notes[i].velocity);
      assert.ok(Math.abs(n.start - t.notes[i].start) <= 0.5 / 960 + 1e-9);
      assert.ok(Math.abs(n.end - t.notes[i].end) <= 0.5 / 960 + 1e-9);
    });
  });
});

test('transcribe: silence gives no notes and says why; bad audio is explained', () => {
  withKernel((k) => {
    const t = k.transcribe(new Float32Array(RATE));
    assert.equal(t.error, '');
    assert.equal(t.notes.length, 0);
    assert.match(t.summary, /no notes/);
    assert.equal(core.parseMidi(t.midi).notes.length, 0);
    assert.match(k.transcribe(new Float32Array(0)).error, /empty/);
    const nan = new Float32Array(1000);
    nan[123] = NaN;
    assert.match(k.transcribe(nan).error, /sample 123 is not a finite number/);
    assert.match(k.transcribe(undefined).error, /expected a Float32Array/);
  });
});

test('transcribe with a mixture model: one frame array per instrument slot', () => {
  withKernel((k) => {
    const x = new Float32Array(RATE);
    for (let i = 0; i < x.length; i++) x[i] = 0.3 * Math.sin((2 * Math.PI * 330 * i) / RATE);
    const t = k.transcribe(x);
    assert.equal(t.error, '');
    assert.equal(t.instruments, 2);
    assert.equal(t.slots.length, 2);
    assert.deepEqual(t.frames, t.slots[0]);
    assert.equal(t.slots[1].length, t.slots[0].length);
    assert.deepEqual(new Set(t.notes.map((n) => n.channel)), new Set([0, 1]));
  }, mixtureBytes);
});

