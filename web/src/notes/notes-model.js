// The note model's facts for the Notes panel (docs/gmvae.md): what its .tmbl
// header says (instruments, pitches, ranges, mixture means, the timbre map,
// the brightness dimension), checked and put in the shapes the panel draws,
// and the small computations the panel does itself: a latent's place on the
// map, the brightness dimension set, a morph between two instruments, the
// brightness (spectral centroid) of a decoded patch, a note's onset. No DOM:
// runs in the page, in workers and under node (tests/web/notes-modules.test.mjs).

import { readTmbl } from '../audio/model-file.js';
import { noteName } from '../audio/midi-file.js';

export const MODEL_RATE = 22050;
export const LATENT = 16; // z_pitch and z_timbre have 16 numbers each
export const MODEL_FAMILY = 'gmvae';

// A file the panel cannot use, in words for a visitor.
export class NotesModelError extends Error {
  constructor(title, text) {
    super(`${title} ${text}`);
    this.name = 'NotesModelError';
    this.title = title;
    this.text = text;
  }
}

const SPECIAL_NAMES = { english_horn: 'English horn', french_horn: 'French horn', alto_sax: 'Alto sax' };

// "french_horn" -> "French horn".
export function instrumentLabel(name) {
  const key = String(name ?? '');
  if (SPECIAL_NAMES[key]) return SPECIAL_NAMES[key];
  const words = key.replace(/[_-]+/g, ' ').trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : 'Instrument';
}

// A label inside a sentence: "oboe", "French horn".
export function inSentence(label) {
  return /^(English|French)\b/.test(label) ? label : label.charAt(0).toLowerCase() + label.slice(1);
}

// "a French horn", "an oboe".
export function withArticle(label) {
  const text = inSentence(label);
  return `${/^[aeiou]/i.test(text) ? 'an' : 'a'} ${text}`;
}

// One colour per instrument (the map's dots, the legend, the instrument tiles):
// families close in hue (strings red, brass orange-gold, reeds blue-violet,
// flute teal), each distinct from its neighbours, readable on white and on
// the dark theme.
const PALETTE = {
  piano: ['#3f3d56', '#c9c6e6'],
  violin: ['#d0312d', '#ff7b72'],
  cello: ['#8a3b12', '#e0915c'],
  english_horn: ['#7d3fc0', '#c49bff'],
  french_horn: ['#e07b00', '#ffb347'],
  trombone: ['#a17a00', '#e8c547'],
  trumpet: ['#c21e77', '#ff8cc6'],
  alto_sax: ['#5b8c00', '#a6d854'],
  bassoon: ['#2e6b3f', '#6fcf8a'],
  clarinet: ['#1f5fbf', '#79a8ff'],
  flute: ['#0f8a94', '#5fd6df'],
  oboe: ['#4b4bd6', '#a3a3ff'],
};
const FALLBACK = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#637939'];

export function instrumentColour(name, index = 0, dark = false) {
  const pair = PALETTE[name];
  if (pair) return pair[dark ? 1 : 0];
  return FALLBACK[((index % FALLBACK.length) + FALLBACK.length) % FALLBACK.length];
}

const isNumbers = (a, n) => Array.isArray(a) && (n === undefined || a.length === n) && a.every((v) => Number.isFinite(v));

// The panel's view of a note model from its file's header (bytes of a .tmbl):
// {name, meta, instruments: [{name, label, range: [lo, hi]}], pitches,
//  pitchMeans, timbreMeans, map: {center, axes, points: [{x, y, instrument, midi}],
//  means: [{x, y}] (each component's mean on the map), extent}, brightness}.
// Throws NotesModelError naming what is missing or foreign.
export function describeNotesModel(bytes, fileName = 'the file') {
  let file;
  try {
    file = readTmbl(bytes);
  } catch (error) {
    throw new NotesModelError(`“${fileName}” is not a model this page can read.`, `${String(error.message).replace(/\.$/, '')}.`);
  }
  const { header } = file;
  if (header.family !== MODEL_FAMILY) {
    const kind = { vq_timbre: 'a voice-to-instrument model (Voice panel)', crossmodal_vae: 'a score model (MIDI panel)' }[header.family] ?? `a “${header.family}” model`;
    throw new NotesModelError(`“${fileName}” is ${kind}, not a note model.`, 'The Notes panel plays GMVAE note models (family “gmvae”).');
  }
  const meta = header.metadata ?? {};
  const missing = (what) => new NotesModelError(`“${fileName}” lacks what the Notes panel needs.`, `Its metadata has no valid ${what} (docs/gmvae.md).`);
  const names = meta.instruments;
  if (!Array.isArray(names) || !names.length || !names.every((n) => typeof n === 'string')) throw missing('instrument list');
  const latent = Number.isInteger(meta.latent) ? meta.latent : LATENT;
  const pitches = meta.pitches;
  if (!isNumbers(pitches) || !pitches.length) throw missing('pitch list');
  const ranges = Array.isArray(meta.instrument_ranges) && meta.instrument_ranges.length === names.length && meta.instrument_ranges.every((r) => isNumbers(r, 2))
    ? meta.instrument_ranges : names.map(() => [pitches[0], pitches[pitches.length - 1]]);
  const timbreMeans = meta.timbre_means;
  if (!Array.isArray(timbreMeans) || timbreMeans.length !== names.length || !timbreMeans.every((m) => isNumbers(m, latent))) throw missing('timbre components');
  const pitchMeans = meta.pitch_means;
  if (!Array.isArray(pitchMeans) || pitchMeans.length !== pitches.length || !pitchMeans.every((m) => isNumbers(m, latent))) throw missing('pitch components');
  const m = meta.map ?? {};
  if (!isNumbers(m.center, latent) || !Array.isArray(m.axes) || m.axes.length !== 2 || !m.axes.every((a) => isNumbers(a, latent))) throw missing('timbre map');
  const map = {
    center: m.center,
    axes: m.axes,
    residuals: m.residuals,
    points: (Array.isArray(m.points) ? m.points : [])
      .filter((p) => isNumbers(p) && p.length >= 3 && p[2] >= 0 && p[2] < names.length)
      .map(([x, y, instrument, midi]) => ({ x, y, instrument, midi })),
  };
  map.means = timbreMeans.map((z) => projectOnMap(map, z));
  map.extent = mapExtent([...map.points, ...map.means]);
  const b = meta.brightness;
  let brightness = null;
  if (b && Number.isInteger(b.dim) && b.dim >= 0 && b.dim < latent && Number.isFinite(b.low) && Number.isFinite(b.high) && b.low !== b.high) {
    // Which way is brighter: the slope's sign (else r's, else low -> high).
    const slope = Number(b.hz_per_unit);
    const r = Number(b.r);
    const up = Number.isFinite(slope) && slope !== 0 ? slope > 0 : Number.isFinite(r) && r !== 0 ? r > 0 : b.high > b.low;
    const lo = Math.min(b.low, b.high);
    const hi = Math.max(b.low, b.high);
    brightness = {
      dim: b.dim, r, low: b.low, high: b.high, hzPerUnit: slope,
      dull: up ? lo : hi, bright: up ? hi : lo, // the slider's left and right ends
    };
  }
  return {
    name: header.name || 'gmvae',
    meta,
    latent,
    frames: meta.frames ?? 43,
    melBins: meta.mel_bins ?? 256,
    instruments: names.map((name, i) => ({ name, label: instrumentLabel(name), range: ranges[i], index: i })),
    pitches,
    pitchMeans,
    timbreMeans,
    map,
    brightness,
  };
}

// The CRC-32 a .tmbl file ends with (its last 4 bytes), which names it for the
// ONNX graphs written from it (build-onnx/gmvae/source.json).
export function tmblCrc(bytes) {
  const view = bytes instanceof ArrayBuffer ? new DataView(bytes) : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(view.byteLength - 4, true);
}

// A z_timbre's place on the map: (x, y) = axes . (z - center).
export function projectOnMap(map, zt) {
  let x = 0;
  let y = 0;
  for (let i = 0; i < map.center.length; i++) {
    const d = zt[i] - map.center[i];
    x += map.axes[0][i] * d;
    y += map.axes[1][i] * d;
  }
  return { x, y };
}

// The z_timbre of a map point (docs/gmvae.md, the core's map_point): the plane
// point center + x axes[0] + y axes[1], plus a smooth blend of what the plane
// leaves out of each component's mean, sum_k w_k residuals[k] with
// w = softmax_k(-d_k^2 / 2), d_k the map distance to component k's mean.
export function mapPointTimbre(model, x, y) {
  const { center, axes, residuals, means } = model.map;
  const out = Float32Array.from(center, (c, i) => c + x * axes[0][i] + y * axes[1][i]);
  if (!Array.isArray(residuals) || residuals.length !== means.length) return out;
  const logits = means.map((m) => -((m.x - x) ** 2 + (m.y - y) ** 2) / 2);
  const top = Math.max(...logits);
  const weights = logits.map((l) => Math.exp(l - top));
  const total = weights.reduce((a, b) => a + b, 0);
  residuals.forEach((r, k) => {
    const w = weights[k] / total;
    for (let i = 0; i < out.length; i++) out[i] += w * r[i];
  });
  return out;
}

// [[x0, x1], [y0, y1]] holding every point with a margin of 8 %.
export function mapExtent(points) {
  if (!points.length) return [[-1, 1], [-1, 1]];
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const p of points) {
    x0 = Math.min(x0, p.x);
    x1 = Math.max(x1, p.x);
    y0 = Math.min(y0, p.y);
    y1 = Math.max(y1, p.y);
  }
  const grow = (lo, hi) => {
    const margin = 0.08 * Math.max(hi - lo, 1e-3);
    return [lo - margin, hi + margin];
  };
  return [grow(x0, x1), grow(y0, y1)];
}

// The centres of a cols x rows grid over the extent, row by row from the top:
// Float32Array [x0, y0, x1, y1, ...].
export function mapGrid(extent, cols, rows) {
  const [[x0, x1], [y0, y1]] = extent;
  const out = new Float32Array(cols * rows * 2);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[k++] = x0 + ((c + 0.5) / cols) * (x1 - x0);
      out[k++] = y1 - ((r + 0.5) / rows) * (y1 - y0);
    }
  }
  return out;
}

// A latent (Float32Array 32: z_pitch then z_timbre) with the brightness
// dimension of z_timbre set to value (a copy); value null leaves it.
export function withBrightness(latent, brightness, value) {
  const out = Float32Array.from(latent);
  if (brightness && Number.isFinite(value)) out[latent.length / 2 + brightness.dim] = value;
  return out;
}

// [z_pitch, z_timbre] as one Float32Array.
export function joinLatent(zp, zt) {
  const out = new Float32Array(zp.length + zt.length);
  out.set(zp, 0);
  out.set(zt, zp.length);
  return out;
}

// The z_timbre a fraction t of the way from instrument a's component mean to b's.
export function morphTimbre(model, a, b, t) {
  const za = model.timbreMeans[a];
  const zb = model.timbreMeans[b];
  return Float32Array.from(za, (v, i) => v + t * (zb[i] - v));
}

// The pitch component's mean of a MIDI note (the nearest trained pitch).
export function pitchMean(model, midi) {
  let best = 0;
  for (let i = 1; i < model.pitches.length; i++) {
    if (Math.abs(model.pitches[i] - midi) < Math.abs(model.pitches[best] - midi)) best = i;
  }
  return Float32Array.from(model.pitchMeans[best]);
}

// The instrument's middle note, a C or an A where it can (A4 for an oboe).
export function defaultPitch(range) {
  const [lo, hi] = range;
  if (lo <= 69 && hi >= 69) return 69;
  return Math.round((lo + hi) / 2);
}

// The first key (a C) of a keyboard of `keys` keys showing the instrument's
// range: the C at or below its lowest note, moved up while the keyboard's top
// lies far beyond its highest; a wide range (a piano) starts at C4.
export function keyboardLow([lo, hi], keys = 25) {
  let low = 12 * Math.floor(lo / 12);
  if (hi - lo + 1 > keys) {
    low = Math.max(low, Math.min(60, 12 * Math.floor((hi - keys + 1) / 12)));
    if (hi - lo >= 60) low = 60; // a piano: middle C
  }
  while (low + keys - 1 > 127) low -= 12;
  return Math.max(0, low);
}

// "A0 – C8".
export function rangeText([lo, hi]) {
  return `${noteName(lo)} – ${noteName(hi)}`;
}

// The HTK mel scale's band centres (Hz) of the model's features (docs/gmvae.md):
// 258 edges evenly spaced in mel between fmin and fmax, band b peaks at edge b + 1.
export function melBandCentres({ melBins = 256, fmin = 20, fmax = 11025 } = {}) {
  const mel = (f) => 2595 * Math.log10(1 + f / 700);
  const hz = (m) => 700 * (10 ** (m / 2595) - 1);
  const m0 = mel(fmin);
  const m1 = mel(fmax);
  const out = new Float32Array(melBins);
  for (let b = 0; b < melBins; b++) out[b] = hz(m0 + ((b + 1) * (m1 - m0)) / (melBins + 1));
  return out;
}

// The brightness of a decoded patch (scaled log-mel, frames x bins, time-major):
// its spectral centroid in Hz, each band weighted by its magnitude (the square
// root of its power), over the frames from `fromFrame` on (after the attack, as
// the model's brightness analysis measures it).
export function melCentroidHz(patch, { frames = 43, melBins = 256, dbMin = -100, dbMax = 60, centres = null, fromFrame = 10 } = {}) {
  const f = centres ?? melBandCentres({ melBins });
  let num = 0;
  let den = 0;
  const span = dbMax - dbMin;
  for (let t = Math.min(fromFrame, frames - 1); t < frames; t++) {
    const row = t * melBins;
    for (let b = 0; b < melBins; b++) {
      const db = ((patch[row + b] + 1) / 2) * span + dbMin;
      const magnitude = 10 ** (db / 20);
      num += magnitude * f[b];
      den += magnitude;
    }
  }
  return den > 0 ? num / den : 0;
}

// Where a recorded note starts: the first 10 ms frame whose level comes within
// 30 dB of the clip's loudest frame, then, inside it and the frame before, the
// first sample reaching half that frame level's amplitude, less 1 ms (the
// network reads a note from its onset: 20 ms early already changes what it
// hears). Returns {start (sample), peak, silent (nothing above -60 dBFS)}.
export function findOnset(samples, rate = MODEL_RATE) {
  const size = Math.max(1, Math.round(rate * 0.01));
  let loudest = 0;
  const energies = [];
  for (let s = 0; s < samples.length; s += size) {
    let e = 0;
    const end = Math.min(samples.length, s + size);
    for (let i = s; i < end; i++) e += samples[i] * samples[i];
    e /= end - s;
    energies.push(e);
    if (e > loudest) loudest = e;
  }
  let peak = 0;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
  if (peak < 0.001 || loudest <= 0) return { start: 0, peak, silent: true };
  const threshold = loudest * 1e-3; // -30 dB
  const first = energies.findIndex((e) => e >= threshold);
  const amplitude = 0.5 * Math.sqrt(threshold);
  const from = Math.max(0, (first - 1) * size);
  const to = Math.min(samples.length, (first + 1) * size);
  let at = first * size;
  for (let i = from; i < to; i++) {
    if (Math.abs(samples[i]) >= amplitude) {
      at = i;
      break;
    }
  }
  return { start: Math.max(0, at - Math.round(rate * 0.001)), peak, silent: false };
}

// RMS of samples[from, from + length).
export function rmsOf(samples, from = 0, length = samples.length) {
  const end = Math.min(samples.length, from + length);
  let e = 0;
  for (let i = from; i < end; i++) e += samples[i] * samples[i];
  return end > from ? Math.sqrt(e / (end - from)) : 0;
}

// A note brought to the level the network learned notes at: a copy scaled so
// that the RMS of its first `seconds` equals `target` (the network hears
// instruments differently at other levels). Returns {samples, gainDb}.
export function levelTo(samples, target, { seconds = 0.5, rate = MODEL_RATE } = {}) {
  const rms = rmsOf(samples, 0, Math.round(seconds * rate));
  if (!(rms > 0) || !(target > 0)) return { samples: Float32Array.from(samples), gainDb: 0 };
  const gain = target / rms;
  return { samples: Float32Array.from(samples, (v) => v * gain), gainDb: 20 * Math.log10(gain) };
}

// Notes per second from a count and milliseconds, for the engines' line.
export function notesPerSecond(count, ms) {
  return ms > 0 ? (1000 * count) / ms : 0;
}

// "1 234 notes/s" rounded to what matters.
export function formatRate(rate) {
  if (!Number.isFinite(rate) || rate <= 0) return '—';
  const value = rate >= 100 ? Math.round(rate) : rate >= 10 ? Math.round(rate * 10) / 10 : Math.round(rate * 100) / 100;
  return `${value.toLocaleString('en-GB')} notes/s`;
}

// The faster of measured engines ([{engine, rate}, ...]); null when none ran.
export function fasterEngine(results) {
  const ran = results.filter((r) => r && Number.isFinite(r.rate) && r.rate > 0);
  if (!ran.length) return null;
  return ran.reduce((a, b) => (b.rate > a.rate ? b : a));
}

// The largest absolute difference between two arrays of equal length.
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
