// The WebAssembly build of the Notes panel's engines (wasm/notes_bindings.cpp)
// as the page's Worker and AudioWorklet drive them: GmvaeNotes (load, info,
// sample, encode, transfer, map, decodeMel, renderNote, renderMel) and
// GmvaeNotesLive, with the oracle GMVAE of tests/golden/gmvae (its components'
// means decode to harmonic tones; pitch is checked natively too,
// tests/core/test_gmvae_synth.cpp).
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/notes.test.mjs
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { loadCore, repoBytes } from './core.mjs';

const RATE = 22050;
const PATCH = 43 * 256;

let core;
let oracle;

before(async () => {
  core = await loadCore();
  oracle = repoBytes('tests', 'golden', 'gmvae', 'oracle.tmbl');
});

const using = (make, body) => {
  const object = make();
  try {
    return body(object);
  } finally {
    object.delete();
  }
};

const stats = (y) => {
  let peak = 0;
  let energy = 0;
  for (const v of y) {
    assert.ok(Number.isFinite(v), 'finite samples');
    peak = Math.max(peak, Math.abs(v));
    energy += v * v;
  }
  return { peak, rms: Math.sqrt(energy / Math.max(1, y.length)) };
};

// f0 by autocorrelation over a 2048-sample frame at `at`: the lag of the highest
// normalised peak between 80 and 1000 Hz, refined by a parabola.
const autocorrelationF0 = (y, at) => {
  const n = 2048;
  const r = (lag) => {
    let s = 0;
    let e0 = 0;
    let e1 = 0;
    for (let i = 0; i < n; i++) {
      s += y[at + i] * y[at + i + lag];
      e0 += y[at + i] * y[at + i];
      e1 += y[at + i + lag] * y[at + i + lag];
    }
    return s / Math.sqrt(e0 * e1 + 1e-20);
  };
  const lo = Math.floor(RATE / 1000);
  const hi = Math.ceil(RATE / 80);
  const values = [];
  for (let lag = lo - 1; lag <= hi + 1; lag++) values[lag] = r(lag);
  let best = -1;
  for (let lag = lo; lag <= hi; lag++) {
    // The first peak within 0.9 of the highest avoids octave errors.
    if (values[lag] > values[lag - 1] && values[lag] >= values[lag + 1] && values[lag] > 0.8) {
      best = lag;
      break;
    }
  }
  assert.ok(best > 0, 'a periodic frame');
  const [a, b, c] = [values[best - 1], values[best], values[best + 1]];
  const shift = (a - c) / (2 * (a - 2 * b + c));
  return RATE / (best + shift);
};

test('GmvaeNotes: load, info and errors', () => {
  using(() => new core.GmvaeNotes(), (notes) => {
    assert.equal(notes.info(), 'null');
    assert.equal(notes.sample(0, 69, 0, 1).length, 0);
    assert.match(notes.lastError(), /no model loaded/);
    assert.match(notes.load(new Uint8Array([1, 2, 3])), /truncated|magic/);
    assert.match(notes.load('not bytes'), /no model bytes/);
    assert.match(notes.load(repoBytes('tests', 'golden', 'vq', 'model.tmbl')), /not 'gmvae'/);
    assert.equal(notes.load(oracle), '');
    assert.ok(notes.hasModel());
    const info = JSON.parse(notes.info());
    assert.deepEqual(info.instruments, ['oboe', 'french_horn', 'piano']);
    assert.equal(info.pitches.length, 12);
    assert.equal(info.frames, 43);
    assert.equal(info.melBins, 256);
    assert.equal(info.latent, 16);
    assert.equal(info.map.points.length, 36);
    assert.equal(info.brightness.dim, 3);
    assert.equal(notes.sample('tuba', 69, 0, 1).length, 0);
    assert.match(notes.lastError(), /instrument must be an instrument index 0-2 or name \(oboe, french_horn, piano\)/);
    assert.equal(notes.sample(0, 69, -1, 1).length, 0);
    assert.match(notes.lastError(), /spread/);
    assert.equal(notes.decodeMel(new Float32Array(5)).length, 0);
    assert.match(notes.lastError(), /a latent is 32 numbers/);
    assert.equal(notes.renderMel(new Float32Array(100), 1, 69).length, 0);
    assert.match(notes.lastError(), /11008/);
    assert.equal(notes.renderNote(new Float32Array(32), 99).length, 0);
    assert.match(notes.lastError(), /heldSeconds/);
  });
});

test('GmvaeNotes: sample oboe A4 and render it: finite, inside [-1, 1], at A4', () => {
  using(() => new core.GmvaeNotes(), (notes) => {
    assert.equal(notes.load(oracle), '');
    const info = JSON.parse(notes.info());
    const z = notes.sample('oboe', 69, 0, 1);
    assert.equal(z.length, 32);
    assert.equal(notes.lastError(), '');
    // Spread 0: the components' means.
    assert.deepEqual(Array.from(z.subarray(0, 16)), info.pitchMeans[info.pitches.indexOf(69)]);
    assert.deepEqual(Array.from(z.subarray(16)), info.timbreMeans[0]);
    assert.deepEqual(notes.sample(0, 69, 0, 1), z);  // index or name
    assert.equal(notes.pitchOf(69.4), 69);
    assert.equal(notes.pitchOf(20), 60);  // the nearest pitch component
    const drawn = notes.sample('oboe', 69, 0.5, 7);
    assert.deepEqual(notes.sample('oboe', 69, 0.5, 7), drawn);
    assert.notDeepEqual(notes.sample('oboe', 69, 0.5, 8), drawn);

    const y = notes.renderNote(z, 1.0);
    assert.equal(y.length, (86 + 13 - 1) * 256 + 1024);
    const { peak, rms } = stats(y);
    assert.ok(peak <= 1 && peak > 0.05, `peak ${peak}`);
    assert.ok(rms > 0.01, `rms ${rms}`);
    const hz = autocorrelationF0(y, Math.round(0.4 * RATE));
    assert.ok(Math.abs(1200 * Math.log2(hz / 440)) < 20, `${hz} Hz`);

    // The same note from its decoded patch (as ONNX Runtime would hand it over).
    const mel = notes.decodeMel(z);
    assert.equal(mel.length, PATCH);
    assert.ok(mel.every((v) => v >= -1 && v <= 1));
    assert.deepEqual(notes.renderMel(mel, 1.0, 69), y);  // at the latent's pitch: the same note
    assert.equal(notes.renderMel(mel, 1.0, 200).length, 0);
    assert.match(notes.lastError(), /MIDI pitch/);
    // RTPGHI alone: the same length and about the same level.
    assert.equal(notes.setIterations(1001), false);
    assert.equal(notes.setIterations(0), true);
    const quick = notes.renderNote(z, 1.0);
    assert.equal(quick.length, y.length);
    assert.ok(Math.abs(20 * Math.log10(stats(quick).rms / rms)) < 1.5);
  });
});

test('GmvaeNotes: encode, nearest instrument, transfer, map, brightness', () => {
  using(() => new core.GmvaeNotes(), (notes) => {
    assert.equal(notes.load(oracle), '');
    const info = JSON.parse(notes.info());
    const y = notes.renderNote(notes.sample('piano', 64, 0, 1), 0.5);
    const z = notes.encode(y);
    assert.equal(z.length, 32);
    assert.ok(z.every(Number.isFinite));
    assert.equal(notes.encode(new Float32Array(0)).length, 0);
    const source = notes.nearestInstrument(z);
    assert.ok(source >= 0 && source < 3);
    assert.equal(notes.nearestInstrument(z.subarray(16)), source);
    // The oracle's encoders are random: the transfer's arithmetic is checked on z, the
    // nearest component on a sampled oboe note.
    const moved = notes.transfer(z, 'french_horn', 1);
    assert.deepEqual(moved.subarray(0, 16), z.subarray(0, 16));  // z_pitch kept
    for (let d = 0; d < 16; d++) {
      const want = z[16 + d] + info.timbreMeans[1][d] - info.timbreMeans[source][d];
      assert.ok(Math.abs(moved[16 + d] - want) < 1e-5);
    }
    const oboe = notes.sample('oboe', 62, 0.3, 2);
    assert.equal(notes.nearestInstrument(oboe), 0);
    assert.equal(notes.nearestInstrument(notes.transfer(oboe, 'french_horn', 1)), 1);
    assert.equal(notes.nearestInstrument(notes.transfer(oboe, 2, 1)), 2);
    assert.deepEqual(notes.transfer(z, 1, 0), z);
    // A component mean's map coordinates map back to it (the oracle's residuals are 0).
    const [x, yy] = notes.mapCoordinates(info.timbreMeans[2]);
    assert.deepEqual([x, yy].map((v) => Math.round(v * 1e4) / 1e4), info.map.means[2].map((v) => Math.round(v * 1e4) / 1e4));
    const zt = notes.mapPoint(x, yy);
    assert.equal(zt.length, 16);
    zt.forEach((v, d) => assert.ok(Math.abs(v - info.timbreMeans[2][d]) < 1e-4));
    const bright = notes.setBrightness(moved, 9);
    assert.equal(bright[16 + info.brightness.dim], info.brightness.high);
  });
});

test('GmvaeNotesLive: heap views, notes at 48 kHz and hops at 22050 Hz', () => {
  using(() => new core.GmvaeNotesLive(48000, 128), (live) => {
    assert.equal(live.error(), '');
    assert.equal(live.loadModel(oracle), '');
    assert.ok(live.hasModel());
    using(() => new core.GmvaeNotes(), (notes) => {
      assert.equal(notes.load(oracle), '');
      core.HEAPF32.set(notes.sample('oboe', 69, 0, 1), live.latentPtr() >> 2);
    });
    live.noteOn(69, 100);
    assert.equal(live.soundingVoices(), 1);
    const out = [];
    for (let q = 0; q < 400; q++) {  // 1.07 s
      if (q === 300) live.noteOff(69);
      live.process(128);
      const at = live.outputPtr() >> 2;
      out.push(...core.HEAPF32.subarray(at, at + 128));
    }
    const { peak, rms } = stats(out);
    assert.ok(peak <= 1 && rms > 0.005, `peak ${peak}, rms ${rms}`);
    assert.equal(live.soundingVoices(), 0);
    // (1280 + the upsampler's 128) x 48000 / 22050, plus up to one device hop of backlog.
    assert.ok(live.minLatencySamples() >= 3000 && live.maxLatencySamples() < 3700);
    assert.equal(live.guardState() === 2, false);
    // A patch handed over decoded, played at the model's rate.
    const mel = core.HEAPF32.subarray(live.melPtr() >> 2, (live.melPtr() >> 2) + PATCH);
    mel.fill(-1);
    for (let m = 0; m < 43; m++) mel[m * 256 + 120] = 0.5;
    live.noteOnMel(60, 100);
    let energy = 0;
    for (let h = 0; h < 40; h++) {
      live.processHop();
      const at = live.hopPtr() >> 2;
      for (const v of core.HEAPF32.subarray(at, at + 256)) energy += v * v;
    }
    assert.ok(energy > 0);
    assert.equal(live.hopLatencySamples(), 1280);
  });
  using(() => new core.GmvaeNotesLive(1000, 128), (live) => {
    assert.match(live.error(), /8000/);
    live.process(128);  // silent, no abort
  });
});

test('prepareModel(bytes, "gmvae"): the live synth adopts the image', () => {
  const p = core.prepareModel(oracle, 'gmvae');
  assert.equal(p.error, '');
  assert.deepEqual(JSON.parse(p.info).instruments, ['oboe', 'french_horn', 'piano']);
  using(() => new core.GmvaeNotesLive(48000, 128), (live) => {
    const at = live.beginImage(p.image.length);
    assert.ok(at > 0);
    core.HEAPU8.set(p.image, at);
    assert.equal(live.adoptImage(), '');
    assert.ok(live.hasModel());
  });
});
