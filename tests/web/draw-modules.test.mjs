// Node unit tests of the Draw panel's DOM-free modules (no browser): curves,
// presets, axes and the target/measured comparison (web/src/draw-curves.js),
// and adding a descriptor table to a model file (web/src/tmbl.js), checked
// against the WebAssembly core's loader when it is built.
//
//   node --test tests/web/draw-modules.test.mjs

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DESCRIPTORS,
  HOP_SECONDS,
  MEASURE,
  PRESETS,
  ValueScale,
  compareMeasured,
  drawSegment,
  gainCurve,
  hopsFor,
  linearTicks,
  noteName,
  nudgeCurve,
  pearson,
  presetCurve,
  resampleCurve,
} from '../../web/src/draw/draw-curves.js';
import { crc32, readTmbl, withDescriptorTable } from '../../web/src/audio/model-file.js';
import { CORE_DIR, REPO, coreHas } from './harness.mjs';

describe('curves', () => {
  test('hops and the 2-10 s range', () => {
    assert.equal(hopsFor(4), 345);
    assert.equal(hopsFor(10), 861);
    assert.ok(Math.abs(HOP_SECONDS - 256 / 22050) < 1e-12);
  });

  test('presets stay in [low, high] and have their shape', () => {
    const n = hopsFor(4);
    for (const name of PRESETS) {
      const c = presetCurve(name, n, { low: 0.2, high: 0.8, seed: 5 });
      assert.equal(c.length, n);
      assert.ok(c.every((v) => v >= 0.2 - 1e-6 && v <= 0.8 + 1e-6), `${name} in range`);
    }
    const ramp = Array.from({ length: n }, (_, i) => i);
    assert.ok(pearson(ramp, presetCurve('rise', n)) > 0.999);
    assert.ok(pearson(ramp, presetCurve('fall', n)) < -0.999);
    assert.ok(presetCurve('flat', n).every((v) => Math.abs(v - 0.5) < 1e-6));
    // Seeded: the same seed, the same curve; another seed, another one.
    assert.deepEqual(presetCurve('random', n, { seed: 3 }), presetCurve('random', n, { seed: 3 }));
    assert.notDeepEqual(presetCurve('random', n, { seed: 3 }), presetCurve('random', n, { seed: 4 }));
    // Random is smooth: no jump bigger than a few % of the range per hop.
    const r = presetCurve('random', n, { seed: 9 });
    for (let i = 1; i < n; i++) assert.ok(Math.abs(r[i] - r[i - 1]) < 0.03);
    // Vibrato: rate in Hz over the hop clock (1.5 Hz: 6 cycles in 4 s).
    const v = presetCurve('vibrato', n, { rate: 1.5 });
    let crossings = 0;
    for (let i = 1; i < n; i++) if ((v[i - 1] - 0.5) * (v[i] - 0.5) < 0) crossings++;
    assert.ok(crossings >= 11 && crossings <= 13, `${crossings} crossings`);
    assert.throws(() => presetCurve('zigzag', n), /unknown preset/);
  });

  test('gain presets', () => {
    assert.ok(gainCurve('full', 10).every((g) => g === 1));
    const swell = gainCurve('swell', 101);
    assert.ok(swell[50] > 0.99 && swell[0] < 0.2);
    const fade = gainCurve('fade', 101);
    assert.equal(fade[0], 1);
    assert.equal(fade[100], 0);
  });

  test('drawing, nudging, stretching', () => {
    const c = new Float32Array(100).fill(0.5);
    assert.deepEqual(drawSegment(c, 10.4, 0, 20.2, 1), [11, 20]);
    assert.ok(c[11] < c[15] && c[15] < c[20]);
    assert.equal(c[10], 0.5);
    drawSegment(c, 40, 2, 30, -1); // backwards, clamped
    assert.equal(c[30], 0);
    assert.equal(c[40], 1);
    const flat = new Float32Array(100).fill(0.5);
    nudgeCurve(flat, 50, 0.1, 10);
    assert.ok(Math.abs(flat[50] - 0.6) < 1e-6 && flat[40] === 0.5 && flat[45] > 0.5);
    nudgeCurve(flat, 50, 5, 10);
    assert.equal(flat[50], 1);
    const s = resampleCurve(Float32Array.from([0, 1]), 5);
    assert.deepEqual(Array.from(s), [0, 0.25, 0.5, 0.75, 1]);
  });
});

describe('axes', () => {
  test('linear and logarithmic scales round-trip and tick', () => {
    const lin = new ValueScale(947, 2332, { unit: 'Hz' });
    assert.ok(Math.abs(lin.toUnit(lin.toShape(1500)) - 1500) < 1e-9);
    assert.deepEqual(linearTicks(947, 2332, 6), [1000, 1250, 1500, 1750, 2000, 2250]);
    const log = new ValueScale(50, 1041, { log: true, unit: 'Hz' });
    assert.ok(Math.abs(log.toShape(Math.sqrt(50 * 1041)) - 0.5) < 1e-9);
    assert.deepEqual(log.ticks(), [50, 100, 200, 500, 1000]);
    assert.equal(lin.format(1500), '1.5 kHz');
    assert.equal(lin.format(999.6), '1000 Hz');
    assert.equal(new ValueScale(-90, -30, { unit: 'dB' }).format(-35.4), '−35 dB');
    assert.equal(noteName(440), 'A4');
    assert.equal(noteName(261.63), 'C4');
    assert.throws(() => new ValueScale(1, 1), /bad range/);
  });
});

describe('comparison', () => {
  // Frames as DrawKernel.measure() gives them, from a descriptor function of time.
  const frames = (seconds, fn, extra = {}) => {
    const out = [];
    for (let t = 0; t < seconds; t += HOP_SECONDS) {
      const f = new Array(MEASURE.STRIDE).fill(0);
      f[MEASURE.TIME] = t;
      f[MEASURE.LOUDNESS] = -30;
      f[MEASURE.VOICED] = 1;
      for (const [key, value] of Object.entries(fn(t))) f[MEASURE[key]] = value;
      Object.assign(f, extra);
      out.push(...f);
    }
    return Float32Array.from(out);
  };

  test('a descriptor that follows the target: r 1 and its error', () => {
    const hops = hopsFor(2);
    const target = Float32Array.from({ length: hops }, (_, i) => 1000 + i * 3);
    const m = frames(2, (t) => ({ CENTROID: 1000 + (t / HOP_SECONDS) * 3 + 20 }));
    const c = compareMeasured(m, target, 'centroid');
    assert.ok(c.r > 0.999, `r ${c.r}`);
    assert.ok(Math.abs(c.mae - 20) < 0.5, `mae ${c.mae}`);
    assert.ok(c.times[0] >= 0.05 && c.times.at(-1) <= 2 - 0.05, 'the edges are left out');
  });

  test('unvoiced and gated frames are left out, silent ones count as misses; a flat target has no r', () => {
    const hops = hopsFor(2);
    const target = new Float32Array(hops).fill(200);
    const m = frames(2, (t) => ({ F0: 200, VOICED: t > 1 ? 0 : 1 }));
    const c = compareMeasured(m, target, DESCRIPTORS.f0);
    assert.ok(c.times.every((t) => t <= 1));
    assert.ok(Number.isNaN(c.r));
    assert.equal(c.mae, 0);
    // Sound that goes silent halfway while the curve asks for sound: a miss.
    const quiet = frames(2, (t) => ({ CENTROID: 1500, LOUDNESS: t > 1 ? -100 : -30 }));
    const missed = compareMeasured(quiet, new Float32Array(hops).fill(1500), 'centroid');
    assert.ok(missed.times.some((t) => t > 1.1), 'silent frames are kept');
    assert.ok(missed.silentShare > 0.4 && missed.silentShare < 0.6, `silent share ${missed.silentShare}`);
    assert.ok(missed.mae > 600, `a silent frame is far from the target: mae ${missed.mae}`);
    const ramp = Float32Array.from({ length: hops }, (_, i) => 1000 + i * 5);
    const followsThenStops = frames(2, (t) => ({ CENTROID: 1000 + (t / HOP_SECONDS) * 5, LOUDNESS: t > 1.2 ? -100 : -30 }));
    assert.ok(compareMeasured(followsThenStops, ramp, 'centroid').r < 0.5, 'going silent cannot read as very close');
    // Silence that the volume curve asks for is left out.
    const gain = Float32Array.from({ length: hops }, (_, i) => (i < hops / 2 ? 1 : 0));
    const gated = compareMeasured(quiet, new Float32Array(hops).fill(1500), 'centroid', { gain });
    assert.ok(gated.times.every((t) => t < 1.01));
  });

  test('a drawn loudness is expected with the volume curve added', () => {
    const hops = hopsFor(2);
    const target = new Float32Array(hops).fill(-40);
    const gain = new Float32Array(hops).fill(0.5);
    const m = frames(2, () => ({ LOUDNESS: -40 + 20 * Math.log10(0.5) }));
    const c = compareMeasured(m, target, 'loudness', { gain });
    assert.ok(c.mae < 1e-3, `mae ${c.mae}`);
  });
});

describe('.tmbl descriptor table', () => {
  const file = path.join(REPO, 'tests', 'golden', 'vq', 'model.tmbl');

  test('CRC-32 as zlib', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });

  test('reads the header, refuses damage, adds a table', () => {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const { header } = readTmbl(bytes);
    assert.equal(header.family, 'vq_timbre');
    assert.equal(header.metadata.descriptor_table, undefined);
    const damaged = bytes.slice();
    damaged[damaged.length - 20] ^= 1;
    assert.throws(() => readTmbl(damaged), /CRC/);
    assert.throws(() => readTmbl(new Uint8Array(40)), /not a Timbrel model/);
    const table = { version: 1, reference: { f0_hz: 300 }, pitch: {}, noise: {} };
    const out = new Uint8Array(withDescriptorTable(bytes, JSON.stringify(table)));
    const back = readTmbl(out);
    assert.deepEqual(back.header.metadata.descriptor_table, table);
    assert.equal(back.dataStart % 16, 0);
    assert.deepEqual(out.subarray(back.dataStart, back.dataEnd), bytes.subarray(readTmbl(bytes).dataStart, bytes.length - 4));
  });

  test('the core loads a file with the table the core computed, without analysing it again', async (t) => {
    if (!(await coreHas('DrawKernel'))) {
      t.skip(`no DrawKernel in ${CORE_DIR}`);
      return;
    }
    const { default: create } = await import(pathToFileURL(path.join(CORE_DIR, 'timbrel-core.mjs')).href);
    const core = await create();
    const bytes = new Uint8Array(fs.readFileSync(file));
    const a = new core.DrawKernel(22050, 128, 200);
    const b = new core.DrawKernel(22050, 128, 200);
    try {
      assert.match(a.loadModel(bytes, false), /no descriptor table/);
      assert.equal(a.loadModel(bytes, true), '');
      const patched = new Uint8Array(withDescriptorTable(bytes, a.tableJson()));
      assert.equal(b.loadModel(patched, false), '', 'the patched file loads as it is');
      assert.equal(b.tableJson(), a.tableJson());
      const range = a.descriptorRange('centroid');
      const curve = Float32Array.from({ length: 100 }, (_, i) => range.min + ((range.max - range.min) * i) / 99);
      for (const k of [a, b]) {
        assert.equal(k.setHops(100), '');
        assert.equal(k.setTarget('centroid', curve, 1), '');
      }
      assert.deepEqual(Array.from(a.render()), Array.from(b.render()), 'the same sound');
    } finally {
      a.delete();
      b.delete();
    }
  });
});
