// The WebAssembly build of the voice -> instrument engine, driven as the
// AudioWorklet drives it: 128-sample quanta at the device rate through the
// heap, the golden vq_timbre model (tests/golden/vq, from the PyTorch side)
// loaded from bytes.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readNpy } from './npy.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORE_DIR = process.env.TIMBREL_CORE_DIR
  ? path.resolve(process.env.TIMBREL_CORE_DIR)
  : path.join(REPO, 'build-wasm', 'web');
const CORE_FILE = path.join(CORE_DIR, 'timbrel-core.mjs');
const GOLDEN = path.join(REPO, 'tests', 'golden', 'vq');
const MODEL_FILE = path.join(GOLDEN, 'model.tmbl');
const BLOCK = 128;

let core;
let modelBytes;

before(async () => {
  assert.ok(fs.existsSync(CORE_FILE), `${CORE_FILE} not found: build it (cmake --build build-wasm) or set TIMBREL_CORE_DIR`);
  assert.ok(fs.existsSync(MODEL_FILE), `${MODEL_FILE} not found: the PyTorch side writes tests/golden/vq/`);
  const { default: createTimbrelCore } = await import(pathToFileURL(CORE_FILE).href);
  core = await createTimbrelCore();
  modelBytes = new Uint8Array(fs.readFileSync(MODEL_FILE));
});

// A voice-like harmonic tone.
const tone = (hz, amp = 0.4) => (t, rate) =>
  amp * (Math.sin((2 * Math.PI * hz * t) / rate) + 0.5 * Math.sin((4 * Math.PI * hz * t) / rate) +
    0.25 * Math.sin((6 * Math.PI * hz * t) / rate)) / 1.75;

// Runs `seconds` of signal through a kernel in 128-sample quanta, as the
// worklet does (views refreshed if the heap grows). onBlock(k, index) may
// change parameters or models between quanta.
function run(k, rate, signal, seconds, onBlock = null) {
  const total = Math.round(seconds * rate);
  const output = new Float32Array(total);
  for (let pos = 0, index = 0; pos < total; pos += BLOCK, index++) {
    if (onBlock) onBlock(k, index);
    const n = Math.min(BLOCK, total - pos);
    const heap = core.HEAPF32;
    const inAt = k.inputPtr() >> 2;
    for (let i = 0; i < n; i++) heap[inAt + i] = signal(pos + i, rate);
    k.process(n);
    const outAt = k.outputPtr() >> 2;
    output.set(core.HEAPF32.subarray(outAt, outAt + n), pos);
  }
  return output;
}

// YIN f0 of the voiced frames, through the core's own listen analyzer (resamples to 22050 Hz).
function outputF0(signal, rate) {
  const a = new core.ListenKernel(rate, BLOCK);
  const f0 = [];
  try {
    for (let pos = 0; pos + BLOCK <= signal.length; pos += BLOCK) {
      core.HEAPF32.set(signal.subarray(pos, pos + BLOCK), a.inputPointer() >> 2);
      a.process(BLOCK);
      while (a.popFrame()) {
        const v = core.HEAPF32.subarray(a.framePointer() >> 2, (a.framePointer() >> 2) + 9);
        if (v[8] === 1) f0.push(v[6]);
      }
    }
  } finally {
    a.delete();
  }
  return f0;
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const rms = (x, from = 0, to = x.length) => {
  let e = 0;
  for (let i = from; i < to; i++) e += x[i] * x[i];
  return Math.sqrt(e / Math.max(1, to - from));
};

test('validateRate accepts device rates and explains a bad one', () => {
  assert.equal(core.VoiceKernel.validateRate(48000), '');
  assert.equal(core.VoiceKernel.validateRate(44100), '');
  assert.equal(core.VoiceKernel.validateRate(22050), '');
  assert.match(core.VoiceKernel.validateRate(1000), /1000 Hz/);
});

test('48 kHz: a tone in 128-sample quanta -> finite, non-silent output; latency, meters and f0 reported', () => {
  const rate = 48000;
  const k = new core.VoiceKernel(rate, BLOCK);
  try {
    assert.equal(k.modelInfo(), '', 'no model yet');
    assert.equal(k.loadModel(modelBytes), '');
    const info = JSON.parse(k.modelInfo());
    for (const key of ['instrument', 'name', 'codes', 'latent', 'hidden', 'f0_range_hz', 'quantized', 'training']) {
      assert.ok(key in info, `modelInfo() has ${key}`);
    }
    const latency = k.latencySamples();
    assert.equal(latency, 1679, 'latency at 48 kHz (see voice_transfer.cpp for the sum)');
    assert.ok(k.latencyMs() < 60);
    const out = run(k, rate, tone(220), 2.0);
    assert.ok(out.every(Number.isFinite), 'output finite');
    const level = rms(out, rate, 2 * rate);
    assert.ok(level > 1e-3, `output rms ${level}`);
    assert.ok(k.inputLevelDb() > -20 && k.inputLevelDb() < 0, `input level ${k.inputLevelDb()} dB`);
    assert.ok(k.outputLevelDb() > -80, `output level ${k.outputLevelDb()} dB`);
    assert.ok(k.lastVoiced());
    assert.ok(Math.abs(k.lastF0() / 220 - 1) < 0.01, `last f0 ${k.lastF0()}`);
    assert.equal(k.underruns(), 0);
    assert.equal(k.nonfiniteInputs(), 0);
  } finally {
    k.delete();
  }
});

for (const octaves of [0, 1]) {
  test(`48 kHz, octaves ${octaves}: the output follows the input's f0`, () => {
    const rate = 48000;
    const k = new core.VoiceKernel(rate, BLOCK);
    try {
      assert.equal(k.loadModel(modelBytes), '');
      k.setOctaves(octaves);
      const out = run(k, rate, tone(220), 2.0);
      const f0 = outputF0(out.subarray(Math.round(0.5 * rate)), rate);
      assert.ok(f0.length > 50, `${f0.length} voiced output frames`);
      const m = median(f0);
      const cents = 1200 * Math.log2(m / (220 * 2 ** octaves));
      assert.ok(Math.abs(cents) < 10, `median output f0 ${m} Hz (${cents.toFixed(1)} cents)`);
    } finally {
      k.delete();
    }
  });
}

test('a corrupt model gives an error string and the current model keeps playing', () => {
  const rate = 44100;
  const k = new core.VoiceKernel(rate, BLOCK);
  try {
    assert.equal(k.loadModel(modelBytes), '');
    run(k, rate, tone(220), 0.5);
    const truncated = modelBytes.subarray(0, modelBytes.length - 100);
    assert.match(k.loadModel(truncated), /truncated|checksum/);
    const flipped = modelBytes.slice();
    flipped[flipped.length >> 1] ^= 0x5a;
    assert.match(k.loadModel(flipped), /checksum mismatch/);
    assert.match(k.loadModel(new TextEncoder().encode('no model here, sorry')), /bad magic/);
    assert.match(k.loadModel(null), /truncated/);
    assert.equal(k.loadModel(modelBytes.buffer), '', 'an ArrayBuffer works too');
    assert.ok(k.hasModel());
    const out = run(k, rate, tone(220), 1.0);
    assert.ok(rms(out, rate >> 1) > 1e-3, 'still playing');
    assert.ok(out.every(Number.isFinite));
  } finally {
    k.delete();
  }
});

test('parameters, a model switch and NaN input while playing', () => {
  const rate = 48000;
  const k = new core.VoiceKernel(rate, BLOCK);
  try {
    assert.equal(k.loadModel(modelBytes), '');
    const out = run(k, rate, (t, r) => (t >= 30000 && t < 30010 ? NaN : tone(300)(t, r)), 3.0, (kernel, i) => {
      if (i === 100) kernel.setMode('noise');
      if (i === 150) assert.equal(kernel.setMode('pitch'), true);
      if (i === 160) assert.equal(kernel.setMode('trumpet'), false);
      if (i === 200) kernel.setInputGainDb(-6);
      if (i === 250) kernel.setGateDb(-50);
      if (i === 300) kernel.setDryWet(0.5);
      if (i === 350) kernel.setOutputGainDb(-3);
      if (i === 400) kernel.setSeed(0x9e3779b9);
      if (i === 500) assert.equal(kernel.loadModel(modelBytes), '');  // switch (crossfade)
      if (i === 800) kernel.collect();
    });
    assert.equal(k.mode(), 'pitch');
    assert.equal(k.nonfiniteInputs(), 10);
    assert.ok(out.every(Number.isFinite), 'output finite');
    assert.ok(rms(out, 2 * rate, 3 * rate) > 1e-3, 'playing after the switch');
    assert.equal(k.switching(), false);
    assert.equal(k.underruns(), 0);
    assert.equal(k.overruns(), 0);
  } finally {
    k.delete();
  }
});

test('dry path: no model, fully dry = the input delayed by latencySamples()', () => {
  const rate = 44100;
  const k = new core.VoiceKernel(rate, BLOCK);
  try {
    k.setDryWet(0);
    const input = tone(440);
    const out = run(k, rate, input, 0.5);
    const L = k.latencySamples();
    let worst = 0;
    for (let i = L; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - Math.fround(input(i - L, rate))));
    assert.ok(worst < 1e-6, `max |out - delayed input| ${worst}`);
  } finally {
    k.delete();
  }
});

const GOLDEN_CASES = [
  ['out_pitch.npy', 'pitch', 0],
  ['out_pitch_up1.npy', 'pitch', 1],
  ['out_noise.npy', 'noise', 0],
];
for (const [file, mode, octaves] of GOLDEN_CASES) {
  test(`WASM render matches the PyTorch golden ${file}`, (t) => {
    if (!fs.existsSync(path.join(GOLDEN, file))) {
      t.skip(`${file} not written yet`);
      return;
    }
    const meta = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'meta.json'), 'utf8'));
    const seed = meta.noise_seed ?? 0x9e3779b9;
    const rel = meta.tolerance?.rel_to_peak ?? 1e-4;
    const abs = meta.tolerance?.abs ?? 0;
    const input = readNpy(path.join(GOLDEN, 'input.npy')).data;
    const pitch = readNpy(path.join(GOLDEN, 'pitch.npy')).data;
    // renderTransfer ends in the output guard (its random-weight model peaks at +10 dBFS):
    // the same guard on the PyTorch render.
    const want = core.guardOffline(readNpy(path.join(GOLDEN, file)).data, 22050);
    assert.ok(want instanceof Float32Array, `guardOffline: ${want}`);
    const got = core.renderTransfer(modelBytes, input, pitch, mode, octaves, seed);
    assert.ok(got instanceof Float32Array, `renderTransfer: ${got}`);
    assert.equal(got.length, want.length);
    let peak = 0;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      peak = Math.max(peak, Math.abs(want[i]));
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
    }
    assert.ok(worst <= abs + rel * peak, `${file}: max error ${worst}, peak ${peak}`);
  });
}

test('renderTransfer explains bad arguments', () => {
  assert.match(core.renderTransfer(new Uint8Array([1, 2, 3]), new Float32Array(10), null, 'pitch', 0, 1), /truncated/);
  assert.match(core.renderTransfer(modelBytes, new Float32Array(10), null, 'banjo', 0, 1), /mode must be/);
  const y = core.renderTransfer(modelBytes, new Float32Array(1000), undefined, 'noise', 0, 1);
  assert.equal(y.length, 1000);
});

test('a NaN/Inf burst is a gap of silence to the engine; one window later the level is back; guard state reported', () => {
  const rate = 48000;
  const violin = new Uint8Array(fs.readFileSync(path.join(REPO, 'models', 'violin', 'violin.tmbl')));
  const from = Math.round(0.8 * rate);
  const to = from + Math.round(0.02 * rate);
  const sing = tone(220, 0.5);
  const burst = (t, r) => (t >= from && t < to ? (t % 2 ? Number.NaN : Infinity) : sing(t, r));
  const gap = (t, r) => (t >= from && t < to ? 0 : sing(t, r));
  const render = (signal) => {
    const k = new core.VoiceKernel(rate, BLOCK);
    try {
      assert.equal(k.loadModel(violin), '');
      k.reset(); // the switch-in crossfade finished at once
      const out = run(k, rate, signal, 2.0);
      return { out, latency: k.latencySamples(), guard: k.guardState() };
    } finally {
      k.delete();
    }
  };
  const a = render(burst);
  const b = render(gap);
  const clean = render(sing);
  assert.ok(a.out.every((v) => Number.isFinite(v) && Math.abs(v) <= 1), 'finite and inside [-1, 1]');
  assert.deepEqual(a.out, b.out, 'the burst is exactly a gap of silence');
  assert.notEqual(a.guard, 2, 'not muted');
  const back = to + a.latency + Math.ceil((1024 * rate) / 22050); // one analysis window later
  const level = (x) => Math.sqrt(x.subarray(back, back + rate / 2).reduce((s, v) => s + v * v, 0) / (rate / 2));
  const db = 20 * Math.log10(level(a.out) / level(clean.out));
  assert.ok(level(clean.out) > 1e-3 && Math.abs(db) < 1, `level after the burst ${db.toFixed(2)} dB from the clean run`);
});
