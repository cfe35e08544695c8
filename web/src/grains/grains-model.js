// What the Grains panel reads from a grains model's file (family "grains",
// docs/grains.md "Metadata" and "Engine, bindings and page") before any
// audio runs: its drum classes (one-hot order), latent and embedding sizes,
// and the grain map (the plane of the training grains' first two principal
// axes: mean, axes, extent, each class's mean position) that the Paths card
// draws. The core checks the graphs and weights when the audio engine loads
// the file; this reads the header only, and refuses a foreign or damaged one
// in words. No DOM: runs in the page and under node.

import { readTmbl } from '../audio/model-file.js';

export const MODEL_FAMILY = 'grains';
// The drum corpus's classes (data/drums manifest.json, one-hot order): what the
// pattern editor offers before a model is loaded.
export const CORPUS_CLASSES = Object.freeze(['kick', 'snare', 'rim', 'clap', 'closed_hat', 'open_hat', 'tom', 'ride', 'crash', 'cowbell', 'tambourine', 'shaker', 'clave']);
export const MAX_CLASSES = 64;
export const MAX_LATENT = 1024;
export const MAX_EMBEDDING = 1024;

// An error shown to the visitor: title (what happened) and text (what to do).
export class GrainsModelError extends Error {
  constructor(title, text) {
    super(`${title} ${text}`);
    this.name = 'GrainsModelError';
    this.title = title;
    this.text = text;
  }
}

// "closed_hat" -> "Closed hat".
export const classLabel = (name) => {
  const words = String(name).replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

// The beat-box's three vocal sounds, in the core's slot order (engine/grain_synth.h BeatboxSound).
export const BEATBOX_SOUNDS = Object.freeze([
  Object.freeze({ key: 'boom', label: '“Boom”' }),
  Object.freeze({ key: 'tss', label: '“Tss”' }),
  Object.freeze({ key: 'ka', label: '“Ka”' }),
]);

// The class names each sound plays by default, in order of preference: the
// core's engine::default_beatbox_kit (docs/grains.md "Beat-box kit").
const KIT_NAMES = {
  boom: ['kick', 'bass_drum', 'bd', 'tom'],
  tss: ['closed_hat', 'hat', 'hihat', 'hi_hat', 'open_hat', 'shaker', 'ride', 'cymbal'],
  ka: ['snare', 'clap', 'rim', 'rimshot', 'cowbell'],
};

// A model's default kit {boom, tss, ka} of class indices: per sound the first
// of its names the model has (not already in the kit), else the model's first
// class not yet in the kit (the first class when all are).
export function defaultBeatboxKit(classNames) {
  const kit = {};
  const used = () => Object.values(kit);
  for (const { key } of BEATBOX_SOUNDS) {
    const k = KIT_NAMES[key].map((n) => classNames.indexOf(n)).find((i) => i >= 0 && !used().includes(i));
    if (k !== undefined) kit[key] = k;
  }
  for (const { key } of BEATBOX_SOUNDS) {
    if (kit[key] !== undefined) continue;
    const free = classNames.findIndex((_, i) => !used().includes(i));
    kit[key] = free >= 0 ? free : 0;
  }
  return { boom: kit.boom, tss: kit.tss, ka: kit.ka };
}

const isNumbers = (v, n = null) => Array.isArray(v) && (n === null || v.length === n) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

// A point as [x, y] or {x, y} -> {x, y}, or null.
function point(p) {
  if (isNumbers(p, 2)) return { x: p[0], y: p[1] };
  if (p && typeof p === 'object' && Number.isFinite(p.x) && Number.isFinite(p.y)) return { x: p.x, y: p.y };
  return null;
}

// The grain map of the metadata, or {map: null, problem} when it is missing or malformed.
function readGrainMap(m, latent, classCount) {
  if (m === undefined || m === null) return { map: null, problem: 'the file has no grain map' };
  if (typeof m !== 'object') return { map: null, problem: 'its grain map is not an object' };
  if (!isNumbers(m.mean, latent)) return { map: null, problem: `its grain map’s mean is not ${latent} numbers` };
  if (!Array.isArray(m.axes) || m.axes.length !== 2 || !m.axes.every((a) => isNumbers(a, latent))) return { map: null, problem: `its grain map’s axes are not 2 × ${latent} numbers` };
  if (!isNumbers(m.extent, 4) || !(m.extent[0] < m.extent[1]) || !(m.extent[2] < m.extent[3])) return { map: null, problem: 'its grain map’s extent is not [x0, x1, y0, y1] with x0 < x1 and y0 < y1' };
  const points = Array.isArray(m.class_points) ? m.class_points.map(point) : [];
  if (points.length !== classCount || points.includes(null)) return { map: null, problem: `its grain map does not place each of the ${classCount} classes` };
  const [x0, x1, y0, y1] = m.extent;
  return { map: { mean: m.mean, axes: m.axes, extent: [[x0, x1], [y0, y1]], classPoints: points }, problem: '' };
}

// {name, classes: [{name, label, index}], latent, embedding, sampleRate,
// grainMap (null when the file has none: the Paths card says why in
// mapProblem), beatbox (whether it holds the onset centroids)}. Throws
// GrainsModelError.
export function describeGrainsModel(bytes, fileName = 'the file') {
  let file;
  try {
    file = readTmbl(bytes);
  } catch (error) {
    throw new GrainsModelError(`“${fileName}” is not a model this page can read.`, `${String(error.message).replace(/\.$/, '')}.`);
  }
  const { header } = file;
  if (header.family !== MODEL_FAMILY) {
    const kind = {
      vq_timbre: 'a voice-to-instrument model (Voice panel)',
      crossmodal_vae: 'a score model (MIDI panel)',
      gmvae: 'a note model (Notes panel)',
    }[header.family] ?? `a “${String(header.family).slice(0, 40)}” model`;
    throw new GrainsModelError(`“${fileName}” is ${kind}, not a grains model.`, 'The Grains panel plays neural granular drum models (family “grains”, docs/grains.md).');
  }
  const meta = header.metadata && typeof header.metadata === 'object' ? header.metadata : {};
  const missing = (what) => new GrainsModelError(`“${fileName}” lacks what the Grains panel needs.`, `Its metadata has no valid ${what} (docs/grains.md).`);
  const names = meta.classes;
  if (!Array.isArray(names) || names.length < 1 || names.length > MAX_CLASSES || !names.every((n) => typeof n === 'string' && /^[a-z0-9][a-z0-9_-]{0,31}$/.test(n))) {
    throw missing(`list of drum classes (1 to ${MAX_CLASSES} names such as “kick”)`);
  }
  if (new Set(names).size !== names.length) throw missing('list of drum classes (a name appears twice)');
  const latent = meta.latent;
  if (!Number.isInteger(latent) || latent < 1 || latent > MAX_LATENT) throw missing(`grain latent size (1-${MAX_LATENT})`);
  const embedding = meta.embedding;
  if (!Number.isInteger(embedding) || embedding < 1 || embedding > MAX_EMBEDDING) throw missing(`embedding size (1-${MAX_EMBEDDING})`);
  const { map, problem } = readGrainMap(meta.grain_map, latent, names.length);
  const centroids = meta.onset_centroids;
  return {
    name: typeof header.name === 'string' && header.name ? header.name.slice(0, 80) : 'grains',
    classes: names.map((name, index) => ({ name, label: classLabel(name), index })),
    classNames: names.slice(),
    latent,
    embedding,
    sampleRate: Number.isFinite(meta.sample_rate) ? meta.sample_rate : 22050,
    grainMap: map,
    mapProblem: problem,
    // The make-up gain the exporter measured (its typical hits to a -6 dBFS peak): linear, 1-16.
    outputGain: 10 ** (Math.min(24, Math.max(0, Number.isFinite(meta.output_gain_db) ? meta.output_gain_db : 0)) / 20),
    beatbox: Array.isArray(centroids) && centroids.length === names.length && centroids.every((c) => isNumbers(c, latent)),
  };
}

// The entries of models/grains/index.json ([{id, name, file, card}] or
// {models: [...]}), checked: a file name ending in .tmbl inside the folder.
export function readGrainsIndex(data) {
  const list = Array.isArray(data) ? data : Array.isArray(data?.models) ? data.models : null;
  if (!list) throw new Error('the grains model list (models/grains/index.json) holds no list of models');
  const safe = (v) => typeof v === 'string' && /^[\w-]+(\/[\w.-]+)*\.(tmbl|md)$/.test(v) && !v.includes('..');
  return list.slice(0, 64)
    .filter((e) => e && typeof e === 'object' && safe(e.file) && e.file.endsWith('.tmbl'))
    .map((e) => ({
      id: String(e.id ?? e.file.replace(/\.tmbl$/, '')).slice(0, 80),
      name: String(e.name ?? e.id ?? e.file.replace(/\.tmbl$/, '')).slice(0, 80),
      file: e.file,
      card: safe(e.card) && e.card.endsWith('.md') ? e.card : null,
    }));
}

// Class colours: hues a golden angle apart (neighbours in the class list, such
// as the closed and open hat, differ most), two lightnesses in turn; lighter on
// a dark theme.
export function classColour(index, count, dark = false) {
  const hue = Math.round(20 + index * 137.508) % 360;
  const light = index % 2 === 0 ? 0 : 8;
  return dark ? `hsl(${hue} 72% ${66 + light}%)` : `hsl(${hue} 64% ${38 + light}%)`;
}
