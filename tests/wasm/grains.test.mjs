// The WebAssembly build of the Grains panel's engine (wasm/grains_bindings.cpp)
// as the worklet drives it: GrainsKernel with the golden grains model
// (tests/golden/grains, written by PyTorch): the golden hit and path voice
// within the manifest's tolerance, a live hit on its sample, eight voices with
// the path and the beat-box (events, bounds), model images, hostile input.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/grains.test.mjs
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { loadCore, repoBytes, REPO } from './core.mjs';
import { defaultBeatboxKit } from '../../web/src/grains/grains-model.js';
import { readNpy } from './npy.mjs';

const GOLDEN = path.join(REPO, 'tests', 'golden', 'grains');
const manifest = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'manifest.json'), 'utf8'));
const golden = (name) => readNpy(path.join(GOLDEN, `${name}.npy`)).data;

let core;
let modelBytes;

before(async () => {
  core = await loadCore();
  modelBytes = repoBytes('tests', 'golden', 'grains', 'model_pp.tmbl');
});

const using = (body) => {
  const kernel = new core.GrainsKernel();
  try {
    return body(kernel);
  } finally {
    kernel.delete();
  }
};

// max |got - want| <= rel_to_peak max |want| + abs (the manifest's audio tolerance).
function assertClose(got, want, what) {
  const { rel_to_peak: rel, abs } = manifest.tolerances.audio;
  assert.ok(got.length >= want.length, `${what}: ${got.length} samples, expected ${want.length}`);
  let peak = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    peak = Math.max(peak, Math.abs(want[i]));
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
  }
  assert.ok(peak > 0, `${what}: silent golden`);
  assert.ok(worst <= rel * peak + abs, `${what}: max difference ${worst} over ${rel * peak + abs}`);
}

const kickIndex = () => golden('hit_condition').indexOf(1);

function setEmbedding(kernel, e) {
  core.HEAPF32.set(e, kernel.embeddingPtr() >> 2);
}

test('a pitched model: info lists its pitches; renderHit and trigger play the golden pitched hits', () => {
  const pitched = repoBytes('tests', 'golden', 'grains', 'model_pitched.tmbl');
  const { class: k, pitch, typical_pitch: typical } = manifest.pitched;
  using((kernel) => {
    assert.equal(kernel.prepare(22050, 128), '');
    assert.equal(kernel.load(pitched), '');
    const info = JSON.parse(kernel.info());
    assert.equal(info.pitched, true);
    assert.deepEqual(info.pitchCentres, manifest.pitched.centres);
    assert.equal(info.conditions, info.classes.length + info.pitchCentres.length);
    assert.equal(info.classPitches[k][1], typical);
    setEmbedding(kernel, golden('pitched_embedding'));
    assertClose(kernel.renderHit(k, k, 0, 0, 8, 1, true, pitch), golden('pitched_hit'), 'pitched renderHit');
    // -1 (and anything not a pitch: NaN) plays the class's typical pitch.
    assertClose(kernel.renderHit(k, k, 0, 0, 8, 1, true, -1), golden('pitched_hit_typical'), 'typical pitch');
    assertClose(kernel.renderHit(k, k, 0, 0, 8, 1, true, NaN), golden('pitched_hit_typical'), 'NaN pitch');
    const latency = kernel.latencySamples();
    const want = golden('pitched_hit');
    const out = new Float32Array(latency + want.length + 128);
    for (let at = 0; at < latency + want.length; at += 128) {
      if (at === 0) kernel.trigger(k, k, 0, 0, 8, 1, 0, true, pitch);
      kernel.process(128);
      out.set(core.HEAPF32.subarray(kernel.outputPtr() >> 2, (kernel.outputPtr() >> 2) + 128), at);
    }
    assertClose(out.subarray(latency), want, 'live pitched hit');
  });
  using((kernel) => {
    // A drum model ignores the pitch: the same hit at any pitch.
    assert.equal(kernel.prepare(22050, 128), '');
    assert.equal(kernel.load(modelBytes), '');
    assert.equal(JSON.parse(kernel.info()).pitched, false);
    const a = kernel.renderHit(0, 0, 0, 1, 5, 1, false, -1);
    const b = kernel.renderHit(0, 0, 0, 1, 5, 1, false, 72);
    assert.deepEqual(Array.from(a), Array.from(b));
  });
});

test('a grains model loads (file and image) and describes itself', () => {
  using((kernel) => {
    assert.equal(kernel.prepare(48000, 128), '');
    assert.equal(kernel.hasModel(), false);
    assert.equal(kernel.info(), 'null');
    assert.equal(kernel.load(modelBytes), '');
    const info = JSON.parse(kernel.info());
    assert.deepEqual(info.classes, ['kick', 'snare', 'hat']);
    assert.deepEqual(kernel.classes(), ['kick', 'snare', 'hat']);
    assert.equal(info.grains, 65);
    assert.equal(info.samples, 34816);
    assert.equal(info.grainMap.axes.length, 2);
    assert.equal(info.grainMap.extent.length, 4);
    assert.equal(info.classEmbeddings.length, 3);
    assert.ok(kernel.latencySamples() > 1184, `latency ${kernel.latencySamples()}`);
  });
  using((kernel) => {
    assert.equal(kernel.prepare(44100, 128), '');
    const prepared = core.prepareModel(modelBytes, 'grains');
    assert.equal(prepared.error, '');
    assert.deepEqual(JSON.parse(prepared.info).classes, ['kick', 'snare', 'hat']);
    const at = kernel.beginImage(prepared.image.length);
    assert.ok(at > 0, kernel.error());
    core.HEAPU8.set(prepared.image, at);
    assert.equal(kernel.adoptImage(), '');
    assert.equal(kernel.hasModel(), true);
  });
});

test('hostile input: bad files and devices are refused in words, the kernel stays silent', () => {
  using((kernel) => {
    assert.match(kernel.prepare(44100.5, 128), /whole number/);
    assert.match(kernel.load(new Uint8Array([1, 2, 3])), /model file: truncated/);
    assert.match(kernel.load(repoBytes('tests', 'golden', 'gmvae', 'oracle.tmbl')), /not 'grains'/);
    assert.match(kernel.load('not bytes'), /no model bytes/);
    assert.equal(kernel.prepare(48000, 256), '');
    kernel.trigger(0, 0, 0, 1, 0, 1, 0, false, -1); // no model: ignored
    kernel.process(256);
    const out = core.HEAPF32.subarray(kernel.outputPtr() >> 2, (kernel.outputPtr() >> 2) + 256);
    assert.ok(out.every((v) => v === 0));
    assert.equal(kernel.renderHit(0, 0, 0, 1, 0, 1, false, -1).length, 0);
    assert.equal(kernel.lastError(), 'no model loaded');
  });
});

test('renderHit and the live kernel play the golden hit; the path voice is the golden path', () => {
  using((kernel) => {
    assert.equal(kernel.prepare(22050, 128), '');
    assert.equal(kernel.load(modelBytes), '');
    // A given embedding: the seed picks only the noise stream (seed mod 8); stream 0 is
    // xorshift32 from the model's noise seed, the golden's.
    const seed = 8;
    setEmbedding(kernel, golden('hit_embedding'));
    const hitPp = golden('hit_pp');
    const offline = kernel.renderHit(kickIndex(), kickIndex(), 0, 0, seed, 1, true, -1);
    assert.equal(offline.length, 34816);
    assertClose(offline, hitPp, 'renderHit');

    // Live: a trigger 40 frames into a block sounds latencySamples() later.
    const latency = kernel.latencySamples();
    const total = 40 + latency + hitPp.length;
    const out = new Float32Array(total + 128);
    for (let at = 0; at < total; at += 128) {
      if (at === 0) kernel.trigger(kickIndex(), kickIndex(), 0, 0, seed, 1, 40, true, -1);
      kernel.process(128);
      out.set(core.HEAPF32.subarray(kernel.outputPtr() >> 2, (kernel.outputPtr() >> 2) + 128), at);
    }
    assert.ok(out.subarray(0, 40 + latency).every((v) => v === 0), 'silent before the hit');
    assertClose(out.subarray(40 + latency), hitPp, 'live hit');
    assert.equal(JSON.parse(kernel.stats()).lateHits, 0);
  });
  using((kernel) => {
    assert.equal(kernel.prepare(22050, 512), '');
    assert.equal(kernel.load(modelBytes), '');
    const xy = golden('path_xy');
    const pathClass = golden('path_condition').indexOf(1);
    const out = new Float32Array(xy.length / 2 * 512);
    for (let t = 0; t < xy.length / 2; t++) {
      kernel.setPath(true, xy[2 * t], xy[2 * t + 1], pathClass, 1, -1);
      kernel.process(512);
      out.set(core.HEAPF32.subarray(kernel.outputPtr() >> 2, (kernel.outputPtr() >> 2) + 512), t * 512);
    }
    assertClose(out, golden('path_pp'), 'live path');
  });
});

test('eight voices, the path and the beat-box at 48 kHz: events, bounds, any block size', () => {
  const rate = 48000;
  const clicksAt = [4800, 40000, 81000];
  const input = new Float32Array(rate * 3);
  let s = 12345;
  for (const c of clicksAt) {
    for (let i = 0; i < 1400; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      input[c + i] += 0.6 * ((s >>> 8) / 8388608 - 1) * Math.exp(-i / 290);
    }
  }
  const run = (block) =>
    using((kernel) => {
      assert.equal(kernel.prepare(rate, 517), '');
      assert.equal(kernel.load(modelBytes), '');
      kernel.setSeed(7);
      const out = new Float32Array(input.length);
      const events = [];
      for (let at = 0; at < input.length; at += block) {
        const n = Math.min(block, input.length - at);
        core.HEAPF32.set(input.subarray(at, at + n), kernel.inputPtr() >> 2);
        kernel.pushInput(n);
        // A hit every 2000 frames on its frame, whatever the block.
        for (let f = Math.ceil(at / 2000) * 2000; f < at + n && f < 16000; f += 2000) {
          kernel.trigger(f / 2000 % 3, (f / 2000 + 1) % 3, 0.25, 1, 0, 0.5, f - at, false, -1);
        }
        if (at === 0) kernel.setPath(true, 0.02, -0.02, 1, 0.5, -1);
        kernel.process(n);
        out.set(core.HEAPF32.subarray(kernel.outputPtr() >> 2, (kernel.outputPtr() >> 2) + n), at);
        events.push(...kernel.drainEvents());
      }
      const stats = JSON.parse(kernel.stats());
      return { out, events, stats, guard: kernel.guardState() };
    });
  const a = run(128);
  const b = run(517);
  assert.equal(a.stats.hits, 8 + clicksAt.length);
  assert.equal(a.stats.lateHits, 0);
  assert.equal(a.stats.peakVoices, 8);
  assert.equal(a.events.length, clicksAt.length);
  a.events.forEach((e, i) => {
    assert.ok(Math.abs(e.frame - clicksAt[i]) < 0.015 * rate, `onset ${i} at ${e.frame}, click at ${clicksAt[i]}`);
    assert.ok(Math.abs(e.time - e.frame / rate) < 2 / rate);
    assert.ok(e.classIndex >= 0 && e.classIndex < 3);
    assert.ok(e.slot >= 0 && e.slot < 3);
  });
  let energy = 0;
  for (const v of a.out) {
    assert.ok(Number.isFinite(v) && Math.abs(v) <= 1, `sample ${v}`);
    energy += v * v;
  }
  assert.ok(energy > 1, `energy ${energy}`);
  assert.deepEqual(b.events, a.events);
  let worst = 0;
  for (let i = 0; i < a.out.length; i++) worst = Math.max(worst, Math.abs(a.out[i] - b.out[i]));
  assert.equal(worst, 0, 'blocks of 128 and 517 frames give the same output');
});

test('the beat-box kit: each sound heard plays the class the kit gives it', () => {
  const rate = 48000;
  const burstsAt = [4800, 30000, 55000];
  const input = new Float32Array(rate * 2);
  let s = 4242;
  for (const c of burstsAt) {
    for (let i = 0; i < 1400; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      input[c + i] += 0.6 * ((s >>> 8) / 8388608 - 1) * Math.exp(-i / 290);
    }
  }
  const SOUNDS = ['boom', 'tss', 'ka'];
  const run = (kit, morph = null) =>
    using((kernel) => {
      assert.equal(kernel.prepare(rate, 128), '');
      assert.equal(kernel.load(modelBytes), '');
      if (kit) kernel.setBeatboxKit(...kit);
      if (morph !== null) kernel.setBeatboxMorph(morph);
      kernel.setSeed(11);
      const events = [];
      const out = new Float32Array(input.length);
      for (let at = 0; at < input.length; at += 128) {
        const n = Math.min(128, input.length - at);
        core.HEAPF32.set(input.subarray(at, at + n), kernel.inputPtr() >> 2);
        kernel.pushInput(n);
        kernel.process(n);
        out.set(core.HEAPF32.subarray(kernel.outputPtr() >> 2, (kernel.outputPtr() >> 2) + n), at);
        events.push(...kernel.drainEvents());
      }
      return { events, out, kit: JSON.parse(kernel.info()).beatboxKit };
    });
  // The default kit of kick, snare, hat: kick, hat, snare.
  const plain = run(null);
  assert.deepEqual(plain.kit, { boom: 0, tss: 2, ka: 1 });
  assert.equal(plain.events.length, burstsAt.length);
  for (const e of plain.events) {
    assert.ok(Number.isInteger(e.slot) && e.slot >= 0 && e.slot < 3, `slot ${e.slot}`);
    assert.equal(e.classIndex, plain.kit[SOUNDS[e.slot]], `a ${SOUNDS[e.slot]} plays its kit class`);
  }
  // Every sound on another class: the same sounds are heard, each plays its new class.
  const moved = run([1, 0, 2]);
  assert.deepEqual(moved.kit, { boom: 1, tss: 0, ka: 2 });
  assert.deepEqual(moved.events.map((e) => e.slot), plain.events.map((e) => e.slot));
  for (const e of moved.events) {
    assert.equal(e.classIndex, moved.kit[SOUNDS[e.slot]]);
    assert.notEqual(e.classIndex, plain.kit[SOUNDS[e.slot]]);
  }
  let diff = 0;
  for (let i = 0; i < input.length; i++) diff = Math.max(diff, Math.abs(moved.out[i] - plain.out[i]));
  assert.ok(diff > 1e-3, `another class sounds different (max difference ${diff})`);
  // The morph toward the voice: the same sounds heard and classes played, other hits;
  // 1 (and anything not a number) is the class's own hit.
  const voiced = run(null, 0.3);
  assert.deepEqual(voiced.events, plain.events);
  let moveBy = 0;
  for (let i = 0; i < input.length; i++) moveBy = Math.max(moveBy, Math.abs(voiced.out[i] - plain.out[i]));
  assert.ok(moveBy > 1e-4, `a morph of 0.3 moves the hits (max difference ${moveBy})`);
  assert.deepEqual(run(null, 1).out, plain.out);
  assert.deepEqual(run(null, Number.NaN).out, plain.out);
  // -1 and anything not a class of the model take the default.
  assert.deepEqual(run([-1, 99, 0.5]).kit, plain.kit);
  assert.deepEqual(run([2, Number.NaN, -1]).kit, { boom: 2, tss: 2, ka: 1 });
  // The page's default kit (grains-model.js) is the core's, on the golden and the shipped model.
  assert.deepEqual(defaultBeatboxKit(['kick', 'snare', 'hat']), plain.kit);
  const shipped = path.join(REPO, 'models', 'grains', 'drums.tmbl');
  if (fs.existsSync(shipped)) {
    using((kernel) => {
      assert.equal(kernel.load(new Uint8Array(fs.readFileSync(shipped))), '');
      assert.deepEqual(JSON.parse(kernel.info()).beatboxKit, defaultBeatboxKit(kernel.classes()));
    });
  }
});

test('encodeClip and renderGrains resynthesise a recorded hit', () => {
  using((kernel) => {
    assert.equal(kernel.load(modelBytes), '');
    const hit = golden('hit_pp');
    const clip = kernel.encodeClip(hit);
    assert.equal(clip.grains, 65);
    assert.equal(clip.mu.length, 65 * 8);
    assert.equal(clip.muE.length, 8);
    assert.ok(clip.onsetClass >= 0 && clip.onsetClass < 3);
    const y = kernel.renderGrains(clip.mu, clip.onsetClass, clip.onsetClass, 0, 0, -1);
    assert.equal(y.length, 34816);
    assert.ok(y.every(Number.isFinite));
    assert.equal(kernel.encodeClip(new Float32Array(0)), null);
    assert.match(kernel.lastError(), /encodeClip needs samples/);
    assert.equal(kernel.renderGrains(new Float32Array(3), 0, 0, 0, 0, -1).length, 0);
    assert.match(kernel.lastError(), /grains x latent = 520/);
  });
});
