// The WebAssembly build of the listen analyzer, loaded under node exactly as the
// AudioWorklet loads it: blocks of 128 samples at the device rate go in through
// the heap, analysis frames and the monitor signal come out.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// TIMBREL_CORE_DIR is taken relative to the current directory, as web/serve.mjs does.
const CORE_DIR = process.env.TIMBREL_CORE_DIR
  ? path.resolve(process.env.TIMBREL_CORE_DIR)
  : path.join(REPO, 'build-wasm', 'web');
const CORE_FILE = path.join(CORE_DIR, 'timbrel-core.mjs');

const BLOCK = 128;
const RATES = [44100, 48000];
// Field order of framePointer(), as in web/src/worklet/frame-ring.js.
const F = { RMS: 0, LOUDNESS: 1, CENTROID: 2, BANDWIDTH: 3, ROLLOFF: 4, FLATNESS: 5, F0: 6, CONF: 7, VOICED: 8 };

let core;

before(async () => {
  assert.ok(
    fs.existsSync(CORE_FILE),
    `${CORE_FILE} not found: build it (emcmake cmake -B build-wasm && cmake --build build-wasm) or set TIMBREL_CORE_DIR`,
  );
  const { default: createTimbrelCore } = await import(pathToFileURL(CORE_FILE).href);
  core = await createTimbrelCore();
});

function median(values) {
  assert.ok(values.length > 0, 'median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

// Deterministic PRNG (mulberry32).
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sine = (hz, amp = 0.5) => (t, rate) => amp * Math.sin((2 * Math.PI * hz * t) / rate);
const harmonics = (hz, amps) => (t, rate) =>
  amps.reduce((sum, a, i) => sum + a * Math.sin((2 * Math.PI * hz * (i + 1) * t) / rate), 0);

// Runs `seconds` of signal(t, rate) through a kernel as the worklet does.
// Returns {frames: [{t, v: number[9]}], input, output, kernelInfo}.
function run(rate, signal, { seconds = 1, gain = null, keepSpectrum = false } = {}) {
  const k = new core.ListenKernel(rate, BLOCK);
  try {
    if (gain !== null) k.setMonitorGain(gain);
    const total = Math.round(seconds * rate);
    const input = new Float32Array(total);
    const output = new Float32Array(total);
    for (let i = 0; i < total; i++) input[i] = signal(i, rate);
    const frames = [];
    const bins = k.spectrumSize();
    let heap = core.HEAPF32;
    for (let pos = 0; pos < total; pos += BLOCK) {
      const n = Math.min(BLOCK, total - pos);
      if (core.HEAPF32.buffer !== heap.buffer) heap = core.HEAPF32;
      heap.set(input.subarray(pos, pos + n), k.inputPointer() >> 2);
      k.process(n);
      heap = core.HEAPF32;
      output.set(heap.subarray(k.outputPointer() >> 2, (k.outputPointer() >> 2) + n), pos);
      while (k.popFrame()) {
        heap = core.HEAPF32;
        const fp = k.framePointer() >> 2;
        const frame = { t: (pos + n) / rate, v: Array.from(heap.subarray(fp, fp + 9)) };
        if (keepSpectrum) {
          const sp = k.spectrumPointer() >> 2;
          frame.spectrum = Array.from(heap.subarray(sp, sp + bins));
        }
        frames.push(frame);
      }
    }
    const info = {
      latency: k.latencySamples(),
      frameRate: k.frameRateHz(),
      modelRate: k.modelRate(),
      bins,
    };
    return { frames, input, output, info };
  } finally {
    k.delete();
  }
}

// Frames once the analysis window is full of signal (skips the start-up transient).
const settled = (frames, after = 0.2) => frames.filter((f) => f.t >= after);

test('ListenKernel.validateRate accepts device rates and explains a bad one', () => {
  const bad = core.ListenKernel.validateRate(1000, BLOCK);
  assert.equal(typeof bad, 'string');
  assert.ok(bad.length > 0, 'a 1000 Hz device must be refused with a message');
  assert.equal(core.ListenKernel.validateRate(44100, BLOCK), '');
  assert.equal(core.ListenKernel.validateRate(48000, BLOCK), '');
});

test('kernel reports its geometry', () => {
  const k = new core.ListenKernel(48000, BLOCK);
  try {
    assert.equal(k.spectrumSize(), 513);
    assert.equal(k.modelRate(), 22050);
    assert.ok(Math.abs(k.frameRateHz() - 86.13) < 0.01, `frame rate ${k.frameRateHz()}`);
    assert.ok(k.latencySamples() > 0 && k.latencySamples() < 48000 * 0.1, `latency ${k.latencySamples()}`);
    for (const p of [k.inputPointer(), k.outputPointer(), k.framePointer(), k.spectrumPointer()]) {
      assert.equal(p % 4, 0, 'pointers are float-aligned');
      assert.ok(p > 0 && p < core.HEAPF32.buffer.byteLength);
    }
  } finally {
    k.delete();
  }
});

for (const rate of RATES) {
  test(`${rate} Hz: ~86 frames per second of input`, () => {
    const { frames, info } = run(rate, sine(220));
    assert.ok(Math.abs(frames.length - info.frameRate) <= 2, `${frames.length} frames in 1 s`);
  });

  test(`${rate} Hz: 220 Hz sine -> f0 within 1 %, rms -9.03 dB`, () => {
    const { frames } = run(rate, sine(220, 0.5));
    const s = settled(frames);
    const voiced = s.filter((f) => f.v[F.VOICED] === 1);
    assert.ok(voiced.length >= 0.9 * s.length, `${voiced.length}/${s.length} frames voiced`);
    const f0 = median(voiced.map((f) => f.v[F.F0]));
    assert.ok(Math.abs(f0 / 220 - 1) < 0.01, `median f0 ${f0} Hz`);
    const rms = median(s.map((f) => f.v[F.RMS]));
    assert.ok(Math.abs(rms - 20 * Math.log10(0.5 / Math.SQRT2)) < 0.5, `rms ${rms} dB`);
  });

  test(`${rate} Hz: 3-harmonic tone at 330 Hz -> f0 within 1 %`, () => {
    const { frames } = run(rate, harmonics(330, [0.4, 0.25, 0.15]));
    const voiced = settled(frames).filter((f) => f.v[F.VOICED] === 1);
    assert.ok(voiced.length > 40, `${voiced.length} voiced frames`);
    const f0 = median(voiced.map((f) => f.v[F.F0]));
    assert.ok(Math.abs(f0 / 330 - 1) < 0.01, `median f0 ${f0} Hz`);
  });

  test(`${rate} Hz: 1 kHz sine -> centroid within 5 %, spectrum peak at 1 kHz`, () => {
    const { frames, info } = run(rate, sine(1000, 0.5), { keepSpectrum: true });
    const s = settled(frames);
    const centroid = median(s.map((f) => f.v[F.CENTROID]));
    assert.ok(Math.abs(centroid / 1000 - 1) < 0.05, `centroid ${centroid} Hz`);
    const last = s[s.length - 1].spectrum;
    const peak = last.indexOf(Math.max(...last));
    const peakHz = (peak * info.modelRate) / 2 / (info.bins - 1);
    assert.ok(Math.abs(peakHz - 1000) < 25, `spectrum peak at ${peakHz} Hz`);
    assert.ok(last.every(Number.isFinite), 'spectrum values are finite dB');
  });

  test(`${rate} Hz: monitor gain 1 reproduces the input after latencySamples()`, () => {
    const { input, output, info } = run(rate, sine(440, 0.5), { gain: 1 });
    const L = info.latency;
    const start = Math.round(0.2 * rate);
    let xy = 0;
    let xx = 0;
    let yy = 0;
    for (let i = start; i + L < input.length; i++) {
      const x = input[i];
      const y = output[i + L];
      xy += x * y;
      xx += x * x;
      yy += y * y;
    }
    const r = xy / Math.sqrt(xx * yy);
    assert.ok(r > 0.99, `correlation ${r} at lag ${L}`);
    const gainRatio = Math.sqrt(yy / xx);
    assert.ok(Math.abs(gainRatio - 1) < 0.05, `output/input level ${gainRatio}`);
  });

  test(`${rate} Hz: monitor gain 0 (the default) outputs silence`, () => {
    for (const gain of [null, 0]) {
      const { output } = run(rate, sine(440, 0.5), { gain });
      assert.ok(output.every((v) => v === 0), `gain ${gain}: output must be all zeros`);
    }
  });

  test(`${rate} Hz: white noise is mostly unvoiced`, () => {
    const rnd = random(1234 + rate);
    const { frames } = run(rate, () => 0.6 * (rnd() - 0.5));
    const s = settled(frames);
    const voiced = s.filter((f) => f.v[F.VOICED] === 1).length;
    assert.ok(voiced < 0.2 * s.length, `${voiced}/${s.length} noise frames voiced`);
    const flatness = median(s.map((f) => f.v[F.FLATNESS]));
    assert.ok(flatness > 0.3, `noise flatness ${flatness}`);
  });
}

test('silence gives a very low level and no pitch', () => {
  const { frames } = run(48000, () => 0);
  const s = settled(frames);
  assert.ok(s.every((f) => f.v[F.RMS] < -100), 'silent frames are below -100 dB');
  assert.ok(s.every((f) => f.v[F.VOICED] === 0), 'silence is unvoiced');
});

test('blocks shorter than 128 samples are accepted', () => {
  const k = new core.ListenKernel(44100, BLOCK);
  try {
    let t = 0;
    let frames = 0;
    for (const n of [1, 7, 64, 127, 128, 3]) {
      for (let rep = 0; rep < 200; rep++) {
        const heap = core.HEAPF32;
        const p = k.inputPointer() >> 2;
        for (let i = 0; i < n; i++) heap[p + i] = 0.5 * Math.sin((2 * Math.PI * 220 * t++) / 44100);
        k.process(n);
        while (k.popFrame()) frames++;
      }
    }
    const expected = (t / 44100) * k.frameRateHz();
    assert.ok(Math.abs(frames - expected) <= 3, `${frames} frames for ${t} samples (expected ~${expected.toFixed(1)})`);
  } finally {
    k.delete();
  }
});
