// Hostile model files through the WebAssembly build (issue 12): each finding of
// the review refused with exactly the native build's message
// (tests/hostile/models/expected.json, checked natively by
// tests/core/test_model_limits.cpp), a file at the limits loaded in bounded
// time, and the page's reader (web/src/audio/model-file.js) refusing what
// the core refuses from the header alone.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/hostile_models.test.mjs
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { loadCore, REPO } from './core.mjs';
import { crc32, readTmbl, MODEL_LIMITS } from '../../web/src/audio/model-file.js';

const HOSTILE = path.join(REPO, 'tests', 'hostile', 'models');
const expected = JSON.parse(fs.readFileSync(path.join(HOSTILE, 'expected.json'), 'utf8'));

let core;
before(async () => {
  core = await loadCore();
});

// A .tmbl file from a header object and [name, shape, fill] tensors laid out in order.
// half: the tensors as float16 ones (each value 1.0, 0x3c00), their entries saying
// `dtype` ('f16' unless given: another one tells the readers a wrong size or type).
function tmbl(header, tensors = [], { half = false, dtype = half ? 'f16' : undefined } = {}) {
  const size = half ? 2 : 4;
  const entries = [];
  let offset = 0;
  for (const [name, shape] of tensors) {
    entries.push(dtype === undefined ? { name, shape, offset } : { name, shape, offset, dtype });
    offset += Math.ceil((shape.reduce((a, b) => a * b, 1) * size) / 16) * 16;
  }
  const text = new TextEncoder().encode(JSON.stringify({ ...header, tensors: header.tensors ?? entries }));
  const start = Math.ceil((12 + text.length) / 16) * 16;
  const out = new Uint8Array(start + offset + 4);
  out.set([0x54, 0x4d, 0x42, 0x4c], 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, 1, true);
  view.setUint32(8, text.length, true);
  out.set(text, 12);
  entries.forEach((e, i) => {
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (half) for (let j = 0; j < count; j++) view.setUint16(start + e.offset + 2 * j, 0x3c00, true);
    else new Float32Array(out.buffer, start + e.offset, count).fill(tensors[i][2] ?? 0.01);
  });
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const linear = (weight) => ({ op: 'linear', weight, bias: null });
const oneGraph = (ops) => ({ family: 'test', name: 'hostile', graphs: { main: ops } });

function loadError(bytes) {
  const kernel = new core.ModelKernel();
  try {
    return kernel.load(bytes);
  } finally {
    kernel.delete();
  }
}

test('every hostile file is refused with the native message', () => {
  const names = Object.keys(expected);
  assert.ok(names.length >= 10, `found ${names.length}`);
  for (const name of names) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(HOSTILE, name)));
    const prepared = core.prepareModel(bytes, 'vq_timbre');
    assert.equal(prepared.error, expected[name], name);
    assert.equal(prepared.image.length, 0, name);
    if (!expected[name].startsWith('vq_timbre model:')) assert.equal(loadError(bytes), expected[name], name);
  }
});

test('the module keeps working after the hostile files', () => {
  const good = new Uint8Array(fs.readFileSync(path.join(REPO, 'tests', 'golden', 'vq', 'model.tmbl')));
  const prepared = core.prepareModel(good, 'vq_timbre');
  assert.equal(prepared.error, '');
  assert.ok(prepared.image.length > 0);
});

test('a tensor many ops name, or many entries over one block, is refused before copying', () => {
  const shared = tmbl(oneGraph([1, 2, 3, 4, 5].map(() => linear('w'))), [['w', [2048, 2048]]]);
  assert.equal(loadError(shared), "model file: graph 'main' op 4: the ops' weights hold more than 16777216 values in all (limit; a tensor named twice counts twice)");
  const header = oneGraph([linear('t0')]);
  header.tensors = [0, 1, 2, 3, 4].map((i) => ({ name: `t${i}`, shape: [4096, 1024], offset: 0 }));
  const block = tmbl(header, []);
  const big = new Uint8Array(block.length + 4096 * 1024 * 4);
  big.set(block.subarray(0, block.length - 4));
  new DataView(big.buffer).setUint32(big.length - 4, crc32(big.subarray(0, big.length - 4)), true);
  assert.equal(loadError(big), 'model file: the tensors hold more than 16777216 values in all (limit)');
});

test('a file at the limits loads in bounded time, its oversized fusion skipped', () => {
  // 39 MB, 9.8 M weights; fusing its Linear->GRU pair would cost 8.6 G
  // multiply-adds (minutes here): over the fusion budget, it stays unfused.
  const bytes = tmbl(oneGraph([linear('a'), { op: 'gru', weight_ih: 'ih', weight_hh: 'hh', bias_ih: null, bias_hh: null }]),
    [['a', [2048, 2048]], ['ih', [2049, 2048]], ['hh', [2049, 683]]]);
  const start = performance.now();
  assert.equal(loadError(bytes), '');
  const seconds = (performance.now() - start) / 1000;
  assert.ok(seconds < 20, `took ${seconds.toFixed(1)} s`);
});

test("the page's reader holds the same limits", () => {
  assert.equal(MODEL_LIMITS.maxFileBytes, 64 * 1024 * 1024);
  for (const name of Object.keys(expected)) {
    if (expected[name].startsWith('vq_timbre model:')) continue; // the family's rule, not the file's
    const bytes = new Uint8Array(fs.readFileSync(path.join(HOSTILE, name)));
    // Rules that need the weights or the ops (a conv1d's dilation, a flatten) are the core's.
    if (/op \d+:/.test(expected[name])) continue;
    assert.throws(() => readTmbl(bytes), (e) => e.message === expected[name].replace(/^model file: /, ''), name);
  }
  const good = new Uint8Array(fs.readFileSync(path.join(REPO, 'tests', 'golden', 'vq', 'model.tmbl')));
  assert.equal(readTmbl(good).header.family, 'vq_timbre');
});

test('f16 tensors: the core and the page reader take them, and refuse another dtype alike', () => {
  const header = oneGraph([linear('w')]);
  const half = tmbl(header, [['w', [4, 8]]], { half: true });
  assert.equal(loadError(half), '');
  assert.doesNotThrow(() => readTmbl(half));
  // Read as f32 the same bytes are too few: truncated, in both readers.
  const asF32 = tmbl(header, [['w', [4, 8]]], { half: true, dtype: 'f32' });
  const message = "model file: truncated: tensor 'w' (128 bytes) lies outside the file's 64 bytes of tensor data";
  assert.equal(loadError(asF32), message);
  assert.throws(() => readTmbl(asF32), { message: message.replace('model file: ', '') });
  const bf16 = tmbl(header, [['w', [4, 8]]], { half: true, dtype: 'bf16' });
  assert.equal(loadError(bf16), 'model file: tensor \'w\' has dtype "bf16"; this engine reads "f32" and "f16"');
  assert.throws(() => readTmbl(bf16), { message: 'tensor \'w\' has dtype "bf16"; this engine reads "f32" and "f16"' });
});
