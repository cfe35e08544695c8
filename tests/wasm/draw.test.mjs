// The WebAssembly build of descriptor-based synthesis (DrawKernel,
// wasm/draw_bindings.cpp), as the page's Worker and AudioWorklet drive it,
// against the native golden render of tests/golden/draw (written through the
// native tool by `python -m timbrel.golden --only draw`).
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORE_DIR = process.env.TIMBREL_CORE_DIR
  ? path.resolve(process.env.TIMBREL_CORE_DIR)
  : path.join(REPO, 'build-wasm', 'web');
const CORE_FILE = path.join(CORE_DIR, 'timbrel-core.mjs');
const GOLDEN = path.join(REPO, 'tests', 'golden', 'draw');
const VQ_MODEL = path.join(REPO, 'tests', 'golden', 'vq', 'model.tmbl');
const BLOCK = 128;

let core;
let modelBytes;
let meta;
let centroid; // one target per hop
let goldenOut; // the native render
let goldenCodes;

// A float32 WAV as the core writes it (RIFF, 'fmt ' then 'data').
function readFloatWav(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('latin1', 0, 4), 'RIFF');
  let at = 12;
  while (at + 8 <= b.length) {
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

before(async () => {
  assert.ok(fs.existsSync(CORE_FILE), `${CORE_FILE} not found: build it (cmake --build build-wasm) or set TIMBREL_CORE_DIR`);
  assert.ok(fs.existsSync(path.join(GOLDEN, 'model.tmbl')),
    'tests/golden/draw/ is missing: PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden --only draw');
  const { default: createTimbrelCore } = await import(pathToFileURL(CORE_FILE).href);
  core = await createTimbrelCore();
  modelBytes = new Uint8Array(fs.readFileSync(path.join(GOLDEN, 'model.tmbl')));
  meta = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'meta.json'), 'utf8'));
  centroid = Float32Array.from(fs.readFileSync(path.join(GOLDEN, 'centroid.csv'), 'utf8')
    .split('\n').filter((l) => l.trim()).map(Number));
  goldenOut = readFloatWav(path.join(GOLDEN, 'out.wav'));
  goldenCodes = fs.readFileSync(path.join(GOLDEN, 'codes.csv'), 'utf8').split('\n').slice(1)
    .filter((l) => l.trim()).map((l) => Number(l.split(',')[2]));
});

const pearson = (a, b) => {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
};

// The golden draw model (random weights) peaks at +17 dBFS, which the render's
// output guard (dsp/output_guard.h) mutes: a constant gain of 0.1 brings it to
// 0.7, under the guard's ceiling, so the render is the golden one times 0.1.
const GOLDEN_GAIN = 0.1;

// A kernel with the golden draw model and the generator's settings and curve.
function goldenKernel(rate = 22050, maxHops = 400) {
  const k = new core.DrawKernel(rate, BLOCK, maxHops);
  assert.equal(k.loadModel(modelBytes, false), '');
  k.setHysteresis(0.02);
  k.setSmoothing(1);
  assert.equal(k.setHops(meta.draw.hops), '');
  assert.equal(k.setTarget('centroid', centroid, 1), '');
  assert.equal(k.setGain(new Float32Array(meta.draw.hops).fill(GOLDEN_GAIN)), '');
  return k;
}

test('validateConfig explains a bad configuration', () => {
  assert.equal(core.DrawKernel.validateConfig(48000, 128, 2600), '');
  assert.match(core.DrawKernel.validateConfig(1000, 128, 2600), /1000 Hz/);
  assert.match(core.DrawKernel.validateConfig(48000, 128, 0), /max_hops/);
});

test('a model without a descriptor table: a clear error, or analysed on request', () => {
  const k = new core.DrawKernel(48000, BLOCK, 100);
  try {
    const bytes = new Uint8Array(fs.readFileSync(VQ_MODEL));
    assert.match(k.loadModel(bytes, false), /has no descriptor table.*timbrel\.export\.code_table/);
    assert.equal(k.hasModel(), false);
    assert.match(k.loadModel(new Uint8Array([1, 2, 3]), false), /truncated|magic/);
    assert.equal(k.loadModel(bytes, true), '');
    const table = JSON.parse(k.tableJson());
    assert.equal(k.codes(), 16);
    for (const mode of ['pitch', 'noise']) {
      for (const key of ['centroid_hz', 'bandwidth_hz', 'rolloff_hz', 'flatness', 'loudness_db', 'f0_hz', 'voiced_share']) {
        assert.equal(table[mode][key].length, 16, `${mode}.${key}`);
      }
    }
  } finally {
    k.delete();
  }
});

test('table, ranges and the 2D codebook map', () => {
  const k = goldenKernel();
  try {
    const table = JSON.parse(k.tableJson());
    const K = k.codes();
    assert.equal(K, meta.model.codes);
    const c = table.pitch.centroid_hz;
    const range = k.descriptorRange('centroid');
    assert.ok(Math.abs(range.min - Math.min(...c)) < 0.01 && Math.abs(range.max - Math.max(...c)) < 0.01,
      `centroid range ${JSON.stringify(range)}`);
    assert.deepEqual(k.descriptorRange('f0'), { min: 100, max: 1600 });
    assert.equal(k.descriptorRange('brightness'), null);
    assert.ok(k.setMode('noise'));
    const noise = k.descriptorRange('centroid');
    assert.ok(Math.abs(noise.max - Math.max(...table.noise.centroid_hz)) < 0.01);
    assert.ok(k.setMode('pitch'));
    assert.equal(k.setMode('loud'), false);
    const map = k.codebookMap();
    assert.ok(map instanceof Float32Array);
    assert.equal(map.length, 2 * K);
    assert.ok(map.every((v) => Number.isFinite(v) && Math.abs(v) <= 1));
    assert.ok(JSON.parse(k.modelInfo()).codes === K);
  } finally {
    k.delete();
  }
});

test('render equals the native golden render (tests/golden/draw/out.wav) within its tolerance', () => {
  const k = goldenKernel();
  try {
    const y = k.render();
    assert.ok(y instanceof Float32Array, `render returned ${y}`);
    assert.equal(y.length, meta.draw.hops * 256);
    assert.deepEqual(Array.from(k.renderedCodes()), goldenCodes, 'same code per hop');
    let peak = 0, worst = 0;
    for (let i = 0; i < goldenOut.length; i++) {
      peak = Math.max(peak, Math.abs(GOLDEN_GAIN * goldenOut[i]));
      worst = Math.max(worst, Math.abs(y[i] - GOLDEN_GAIN * goldenOut[i]));
    }
    const tolerance = meta.tolerance.rel_to_peak * peak + meta.tolerance.abs;
    assert.ok(worst <= tolerance, `max |wasm - native| ${worst} > ${tolerance}`);
    console.log(`# draw golden: max |wasm - native| ${worst.toExponential(2)} (tolerance ${tolerance.toExponential(2)})`);

    // In pieces, with progress, as a Worker does: the same samples.
    assert.equal(k.beginRender(), '');
    const progress = [];
    while (!k.renderSome(40)) progress.push(k.renderProgress());
    assert.deepEqual(Array.from(k.renderResult()), Array.from(y));
    assert.ok(progress.length >= 3 && progress.every((p, i) => p > 0 && p < 1 && (i === 0 || p > progress[i - 1])));
    assert.equal(k.renderProgress(), 1);
  } finally {
    k.delete();
  }
});

test('the rendered centroid follows the drawn curve (measured by the core in WASM)', () => {
  const k = goldenKernel();
  try {
    const y = k.render();
    const frames = k.measure(y);
    assert.equal(frames.length % 8, 0);
    const target = [], got = [];
    for (let i = 0; i < frames.length; i += 8) {
      const time = frames[i];
      if (time < 0.1 || time > 1.9) continue;
      const hop = time * 22050 / 256;
      const a = Math.floor(hop), f = hop - a;
      target.push(centroid[a] + (centroid[Math.min(a + 1, centroid.length - 1)] - centroid[a]) * f);
      got.push(frames[i + 1]);
    }
    const r = pearson(target, got);
    assert.ok(r >= 0.9, `centroid r ${r}`);
    assert.ok(Math.abs(r - meta.measured_centroid_r) < 0.01, `r ${r} vs native ${meta.measured_centroid_r}`);
  } finally {
    k.delete();
  }
});

test('curve errors name the problem', () => {
  const k = new core.DrawKernel(22050, BLOCK, 50);
  try {
    assert.match(k.render(), /no model loaded/);
    assert.equal(k.loadModel(modelBytes, false), '');
    assert.match(k.render(), /no curves/);
    assert.match(k.setTarget('brightness', centroid, 1), /unknown descriptor 'brightness'/);
    assert.match(k.setTarget('centroid', centroid, 1), /centroid: a curve holds 1..50 values, got 173/);
    assert.match(k.setTarget('centroid', new Float32Array(10), 0), /weight/);
    assert.match(k.setHops(0), /hops must lie in 1..50/);
    assert.equal(k.setTarget('centroid', null, 1), '');
  } finally {
    k.delete();
  }
});

test('48 kHz streaming: loops the committed curve, picks up a redrawn one, auditions codes', () => {
  const rate = 48000;
  const k = new core.DrawKernel(rate, BLOCK, 400);
  try {
    assert.equal(k.loadModel(modelBytes, false), '');
    const table = JSON.parse(k.tableJson()).pitch.centroid_hz;
    const low = Math.min(...table), high = Math.max(...table);
    assert.equal(k.setHops(40), '');
    assert.equal(k.setTarget('centroid', new Float32Array(40).fill(low), 1), '');
    assert.equal(k.commit(), '');
    k.setLoop(true);
    k.play();
    assert.equal(k.state(), 'playing');
    const out = new Float32Array(BLOCK * 600); // 1.6 s: 40 hops = 0.46 s per pass
    const codes = [];
    for (let b = 0; b < 600; b++) {
      if (b === 50) { // redrawn during the first pass: heard from the second
        assert.equal(k.setTarget('centroid', new Float32Array(40).fill(high), 1), '');
        assert.equal(k.commit(), '');
      }
      k.process(BLOCK);
      const at = k.outputPtr() >> 2;
      out.set(core.HEAPF32.subarray(at, at + BLOCK), b * BLOCK);
      codes.push(k.lastCode());
    }
    assert.ok(out.every(Number.isFinite));
    assert.ok(k.passes() >= 3, `${k.passes()} passes`);
    const first = codes[20], later = codes[590];
    assert.ok(table[later] > table[first], `code ${first} (${table[first]} Hz) then ${later} (${table[later]} Hz)`);
    let energy = 0;
    for (const v of out) energy += v * v;
    assert.ok(energy > 1, `energy ${energy}`);

    k.playCode(3);
    for (let b = 0; b < 10; b++) k.process(BLOCK);
    assert.equal(k.state(), 'code');
    assert.equal(k.lastCode(), 3);
    k.stop();
    for (let b = 0; b < 20; b++) k.process(BLOCK);
    assert.equal(k.state(), 'stopped');
    const at = k.outputPtr() >> 2;
    assert.ok(core.HEAPF32.subarray(at, at + BLOCK).every((v) => v === 0), 'silent after stop');
  } finally {
    k.delete();
  }
});
