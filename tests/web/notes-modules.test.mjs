// The Notes panel's pure module (web/src/notes/notes-model.js) under node:
// reading a note model's header (and refusing foreign or damaged files in
// words), the map's geometry (projection, map points, the grid), the keyboard's
// range, the brightness of a decoded patch, a recorded note's onset, and the
// batch engines' figures.
//
//   node --test tests/web/notes-modules.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../../web/src/audio/model-file.js';
import {
  NotesModelError, defaultPitch, describeNotesModel, fasterEngine, findOnset, levelTo, rmsOf, formatRate, instrumentColour, instrumentLabel,
  joinLatent, keyboardLow, mapExtent, mapGrid, mapPointTimbre, maxAbsDiff, melBandCentres, melCentroidHz, morphTimbre,
  notesPerSecond, pitchMean, projectOnMap, tmblCrc, withArticle, withBrightness,
} from '../../web/src/notes/notes-model.js';

// A .tmbl file with this header and no tensors (the panel reads only the header).
function tmbl(header) {
  const text = new TextEncoder().encode(JSON.stringify({ graphs: {}, tensors: [], ...header }));
  const start = Math.ceil((12 + text.length) / 16) * 16;
  const out = new Uint8Array(start + 4);
  out.set([0x54, 0x4d, 0x42, 0x4c], 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, 1, true);
  view.setUint32(8, text.length, true);
  out.set(text, 12);
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const L = 4; // a small latent for the tests
const unit = (i, scale = 1) => Array.from({ length: L }, (_, j) => (j === i ? scale : 0));

function metadata(overrides = {}) {
  // Three instruments whose means sit on the map's axes (x: dim 0, y: dim 1)
  // and off it (dim 2): their residuals carry that part.
  const timbreMeans = [[4, 0, 1, 0], [0, 4, -1, 0], [-4, -4, 0, 2]];
  return {
    latent: L,
    frames: 2,
    mel_bins: 3,
    pitches: [60, 61, 62],
    instruments: ['oboe', 'french_horn', 'piano'],
    instrument_ranges: [[58, 91], [34, 77], [21, 108]],
    pitch_means: [unit(0), unit(1), unit(2)],
    timbre_means: timbreMeans,
    map: {
      center: [0, 0, 0, 0],
      axes: [unit(0), unit(1)],
      points: [[4, 0, 0, 60], [0, 4, 1, 61], [-4, -4, 2, 62], [1, 1, 7, 60]],
      residuals: timbreMeans.map((m) => [0, 0, m[2], m[3]]),
    },
    brightness: { dim: 3, r: 0.8, low: -2, high: 2, hz_per_unit: 300 },
    ...overrides,
  };
}

const model = (meta = metadata(), family = 'gmvae') => tmbl({ family, name: 'test notes', metadata: meta });

test('names and articles read as words', () => {
  assert.equal(instrumentLabel('french_horn'), 'French horn');
  assert.equal(instrumentLabel('alto_sax'), 'Alto sax');
  assert.equal(instrumentLabel('oboe'), 'Oboe');
  assert.equal(withArticle('Oboe'), 'an oboe');
  assert.equal(withArticle('French horn'), 'a French horn');
  assert.equal(withArticle('English horn'), 'an English horn');
  assert.notEqual(instrumentColour('oboe', 11), instrumentColour('flute', 10));
  assert.notEqual(instrumentColour('oboe', 11, false), instrumentColour('oboe', 11, true), 'a lighter colour on the dark theme');
});

test('a note model\'s header: instruments, ranges, the map with each component\'s mean on it, brightness', () => {
  const d = describeNotesModel(model());
  assert.equal(d.name, 'test notes');
  assert.deepEqual(d.instruments.map((i) => i.label), ['Oboe', 'French horn', 'Piano']);
  assert.deepEqual(d.instruments[1].range, [34, 77]);
  assert.equal(d.map.points.length, 3, 'a point of an instrument the model does not have is dropped');
  assert.deepEqual(d.map.means.map((m) => [m.x, m.y]), [[4, 0], [0, 4], [-4, -4]]);
  assert.deepEqual(d.brightness, { dim: 3, r: 0.8, low: -2, high: 2, hzPerUnit: 300, dull: -2, bright: 2 });
  // A dimension that darkens as it grows: the slider runs the other way.
  const falling = describeNotesModel(model(metadata({ brightness: { dim: 2, r: -0.99, low: -3.25, high: 3.1, hz_per_unit: -258 } }))).brightness;
  assert.deepEqual([falling.dull, falling.bright], [3.1, -3.25]);
  const [[x0, x1], [y0, y1]] = d.map.extent;
  assert.ok(x0 < -4 && x1 > 4 && y0 < -4 && y1 > 4, 'the extent holds every point and mean');
});

test('foreign, damaged and incomplete files are refused in words', () => {
  const refused = (bytes, pattern) => assert.throws(() => describeNotesModel(bytes, 'x.tmbl'), (e) => e instanceof NotesModelError && pattern.test(`${e.title} ${e.text}`));
  refused(model(metadata(), 'crossmodal_vae'), /score model \(MIDI panel\), not a note model/);
  refused(model(metadata(), 'vq_timbre'), /voice-to-instrument model/);
  const bytes = model();
  refused(bytes.subarray(0, bytes.length - 9), /not a model this page can read/);
  refused(new TextEncoder().encode('RIFF....WAVEfmt '), /does not start with “TMBL”/);
  const damaged = Uint8Array.from(bytes);
  damaged[20] ^= 1;
  refused(damaged, /damaged \(CRC mismatch\)/);
  refused(model(metadata({ map: undefined })), /no valid timbre map/);
  refused(model(metadata({ timbre_means: [[1, 2, 3, 4]] })), /no valid timbre components/);
  refused(model(metadata({ instruments: [] })), /no valid instrument list/);
  // No brightness entry: the model still plays, without the slider.
  assert.equal(describeNotesModel(model(metadata({ brightness: undefined }))).brightness, null);
  assert.equal(tmblCrc(bytes), new DataView(bytes.buffer).getUint32(bytes.length - 4, true));
});

test('map points: the plane point plus the nearest components\' off-plane parts', () => {
  const d = describeNotesModel(model());
  // At a component's mean, far from the others: its own mean, off-plane part included.
  const at = mapPointTimbre(d, 4, 0);
  for (let i = 0; i < L; i++) assert.ok(Math.abs(at[i] - d.timbreMeans[0][i]) < 1e-3, `dim ${i}: ${at[i]}`);
  // Half-way between two: the plane point and a blend of both residuals.
  const mid = mapPointTimbre(d, 2, 2);
  assert.ok(Math.abs(mid[0] - 2) < 1e-6 && Math.abs(mid[1] - 2) < 1e-6);
  assert.ok(Math.abs(mid[2]) < 0.05, 'the two residuals (+1 and -1) cancel half-way');
  const p = projectOnMap(d.map, at);
  assert.ok(Math.abs(p.x - 4) < 1e-3 && Math.abs(p.y) < 1e-3);
  const grid = mapGrid([[0, 4], [0, 2]], 4, 2);
  assert.deepEqual(Array.from(grid), [0.5, 1.5, 1.5, 1.5, 2.5, 1.5, 3.5, 1.5, 0.5, 0.5, 1.5, 0.5, 2.5, 0.5, 3.5, 0.5], 'row by row from the top');
  assert.deepEqual(mapExtent([]), [[-1, 1], [-1, 1]]);
});

test('latents: brightness, morphs, pitch components', () => {
  const d = describeNotesModel(model());
  const z = joinLatent(Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8));
  assert.deepEqual(Array.from(z), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(Array.from(withBrightness(z, d.brightness, 1.5)), [1, 2, 3, 4, 5, 6, 7, 1.5], 'z_timbre[dim] set');
  assert.deepEqual(Array.from(withBrightness(z, d.brightness, null)), Array.from(z), 'null: as sampled');
  assert.deepEqual(Array.from(morphTimbre(d, 0, 1, 0.5)), [2, 2, 0, 0]);
  assert.deepEqual(Array.from(pitchMean(d, 61)), unit(1));
  assert.deepEqual(Array.from(pitchMean(d, 90)), unit(2), 'the nearest trained pitch');
});

test('the keyboard shows the instrument\'s range', () => {
  assert.equal(keyboardLow([58, 91]), 60, 'oboe: C4 - C6 (A4 in view)');
  assert.equal(keyboardLow([21, 108]), 60, 'piano: middle C');
  assert.equal(keyboardLow([34, 77]), 48, 'French horn: C3 - C5');
  assert.equal(keyboardLow([60, 72]), 60, 'a narrow range from its C');
  assert.equal(keyboardLow([110, 127]), 96, 'never past MIDI 127');
  assert.equal(defaultPitch([58, 91]), 69);
  assert.equal(defaultPitch([21, 50]), 36);
});

test('the brightness of a patch is its magnitude-weighted centroid over the mel bands', () => {
  const centres = melBandCentres({ melBins: 256 });
  assert.ok(centres[0] > 20 && centres[255] < 11025 && centres[128] > centres[127]);
  const frames = 43;
  const patch = new Float32Array(frames * 256).fill(-1); // the floor: -100 dB
  for (let t = 0; t < frames; t++) patch[t * 256 + 100] = 1; // one band at the top
  const hz = melCentroidHz(patch, { frames, melBins: 256, dbMin: -100, dbMax: 60, centres });
  assert.ok(Math.abs(hz - centres[100]) < 1, `${hz} Hz, band 100 at ${centres[100]} Hz`);
  const higher = patch.slice();
  for (let t = 0; t < frames; t++) higher[t * 256 + 200] = 0.5;
  assert.ok(melCentroidHz(higher, { frames, melBins: 256, centres }) > hz, 'energy higher up: brighter');
});

test('a recorded note\'s onset; a silent clip is said to be silent', () => {
  const rate = 22050;
  const x = new Float32Array(rate);
  for (let i = Math.round(0.5 * rate); i < rate; i++) x[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / rate);
  for (let i = 0; i < x.length; i++) x[i] += 1e-5 * Math.sin(i); // a faint floor
  const onset = findOnset(x, rate);
  assert.equal(onset.silent, false);
  assert.ok(onset.start / rate <= 0.5 && onset.start / rate > 0.497, `onset at ${onset.start / rate} s: within 3 ms before the note`);
  assert.equal(findOnset(new Float32Array(rate)).silent, true);
  assert.equal(findOnset(new Float32Array(rate).fill(1e-4)).silent, true, 'under -60 dBFS');
});

test('a note is levelled to the network\'s level over its first half second', () => {
  const rate = 22050;
  const x = Float32Array.from({ length: rate }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 220 * i) / rate));
  const { samples, gainDb } = levelTo(x, 0.01);
  assert.ok(Math.abs(rmsOf(samples, 0, rate / 2) - 0.01) < 1e-6);
  assert.ok(Math.abs(gainDb - 20 * Math.log10(0.01 / (0.5 / Math.SQRT2))) < 1e-3);
  assert.equal(levelTo(new Float32Array(10), 0.01).gainDb, 0, 'silence stays');
});

test('the batch engines\' figures', () => {
  assert.equal(notesPerSecond(48, 100), 480);
  assert.equal(formatRate(480.4), '480 notes/s');
  assert.equal(formatRate(12.34), '12.3 notes/s');
  assert.equal(formatRate(0), '—');
  assert.deepEqual(fasterEngine([{ engine: 'core', rate: 100 }, { engine: 'ort', rate: 300 }]), { engine: 'ort', rate: 300 });
  assert.deepEqual(fasterEngine([{ engine: 'core', rate: 100 }, null]), { engine: 'core', rate: 100 });
  assert.equal(fasterEngine([null]), null);
  assert.equal(maxAbsDiff([1, 2, 3], [1, 2.5, 3]), 0.5);
  assert.equal(maxAbsDiff([1, NaN], [1, 2]), Infinity, 'a NaN is no agreement');
  assert.equal(maxAbsDiff([1], [1, 2]), Infinity);
});
