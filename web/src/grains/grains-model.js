// What the Grains panel reads from a grains model's file (family "grains",
// docs/grains.md "Metadata" and "Engine, bindings and page") before any
// audio runs: its classes (one-hot order: drums, or a pitched model's
// instruments), latent and embedding sizes, a pitched model's pitch code
// (the centres and width of its Gaussian bumps) and each class's trained
// pitch range, and the grain map (the plane of the training grains' first two
// principal axes: mean, axes, extent, each class's mean position) that the
// Paths card draws. The core checks the graphs and weights when the audio engine loads
// the file; this reads the header only, and refuses a foreign or damaged one
// in words. No DOM: runs in the page and under node.

import { noteName } from '../audio/midi-file.js';
import { readTmbl } from '../audio/model-file.js';

export const MODEL_FAMILY = 'grains';
// The drum corpus's classes (data/drums manifest.json, one-hot order): what the
// pattern editor offers before a model is loaded.
export const CORPUS_CLASSES = Object.freeze(['kick', 'snare', 'rim', 'clap', 'closed_hat', 'open_hat', 'tom', 'ride', 'crash', 'cowbell', 'tambourine', 'shaker', 'clave']);
export const MAX_CLASSES = 64;
export const MAX_LATENT = 1024;
export const MAX_EMBEDDING = 1024;
export const MAX_PITCH_CENTRES = 128; // the core's GrainsModel::kMaxPitchCentres
export const MAX_PITCH_WIDTH = 48; // semitones
export const PITCH_REACH = 12; // the pitch selects offer an octave beyond a class's trained range

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

// "C4 (60)".
export const pitchLabel = (midi) => `${noteName(midi)} (${midi})`;

// The options of a pitch select for a class trained on [lowest, typical,
// highest]: "typical (E4)" (value ""), then each note from an octave below
// the lowest to an octave above the highest, those outside the trained range
// marked; `current` (a note outside them all, from a link) is added.
export function pitchOptions([lo, typical, hi], current = null) {
  const first = Math.max(0, Math.ceil(lo) - PITCH_REACH);
  const last = Math.min(127, Math.floor(hi) + PITCH_REACH);
  const notes = [];
  for (let n = first; n <= last; n++) notes.push(n);
  if (current !== null && !notes.includes(current)) {
    notes.push(current);
    notes.sort((a, b) => a - b);
  }
  return [
    { value: '', text: `typical (${noteName(typical)})` },
    ...notes.map((n) => ({ value: String(n), text: n < lo || n > hi ? `${pitchLabel(n)}, outside its range` : pitchLabel(n) })),
  ];
}

// What a pitch select's hint says of `pitch` (null: the typical one) on a class.
export function pitchHint(name, [lo, typical, hi], pitch) {
  const what = `the ${classLabel(name).toLowerCase()}`;
  const trained = `${noteName(lo)} to ${noteName(hi)}`;
  if (pitch === null) return `At ${what}’s typical pitch, ${noteName(typical)} (it was trained from ${trained}).`;
  if (pitch < lo || pitch > hi) return `${noteName(pitch)} is ${pitch < lo ? 'below' : 'above'} the range ${what} was trained on (${trained}): the network guesses there, and it may not sound like ${what}.`;
  return `${noteName(pitch)}, inside the range ${what} was trained on (${trained}).`;
}

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
// class not yet in the kit (the first class when all are). A pitched model's
// (classPitches given): its instruments by typical pitch, the lowest for the
// low "boom", the highest for the hissing "tss", the middle one for "ka" (the
// page sends its kit, so the core's name-based default is not used there).
export function defaultBeatboxKit(classNames, classPitches = null) {
  if (Array.isArray(classPitches) && classPitches.length === classNames.length && classNames.length > 0) {
    const order = classNames.map((_, i) => i).sort((a, b) => classPitches[a][1] - classPitches[b][1] || a - b);
    const n = order.length;
    return { boom: order[0], tss: order[n - 1], ka: order[Math.floor(n / 2)] };
  }
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

// A pitched model's pitch metadata, checked as the core checks it
// (models/grains.cpp check_pitch): {pitched: false} without any, else
// {pitched: true, pitchCentres, pitchWidth, classPitches: [[lowest, typical,
// highest] MIDI per class]}; a malformed one: {problem} in words (the core
// would refuse the file, so the page does too).
function readPitch(meta, classCount) {
  const code = meta.pitch_conditioning;
  const rows = meta.class_pitches;
  if (code === undefined || code === null) {
    if (rows !== undefined && rows !== null) return { problem: 'pitch range per class (class_pitches) but no pitch code (pitch_conditioning)' };
    return { pitched: false, pitchCentres: null, pitchWidth: null, classPitches: null };
  }
  if (typeof code !== 'object' || Array.isArray(code)) return { problem: 'pitch code (pitch_conditioning is not an object {code, centres, width})' };
  if (code.code !== 'gaussian_bumps') return { problem: `pitch code (its kind is ${typeof code.code === 'string' ? `“${code.code.slice(0, 40)}”` : 'missing'}; this page knows “gaussian_bumps”)` };
  const centres = code.centres;
  if (!isNumbers(centres) || centres.length < 1 || centres.length > MAX_PITCH_CENTRES || !centres.every((m) => m >= 0 && m <= 127)) {
    return { problem: `pitch code (its centres must be 1 to ${MAX_PITCH_CENTRES} MIDI pitches from 0 to 127)` };
  }
  const width = code.width;
  if (typeof width !== 'number' || !Number.isFinite(width) || !(width > 0) || width > MAX_PITCH_WIDTH) {
    return { problem: `pitch code (its width must be a number of semitones above 0, at most ${MAX_PITCH_WIDTH})` };
  }
  if (!Array.isArray(rows) || rows.length !== classCount || !rows.every((r) => isNumbers(r, 3))) {
    return { problem: `pitch range per class (class_pitches must hold, for each of the ${classCount} classes, its lowest, typical and highest MIDI pitch)` };
  }
  const bad = rows.findIndex(([lo, mid, hi]) => !(lo >= 0 && lo <= mid && mid <= hi && hi <= 127));
  if (bad >= 0) return { problem: `pitch range per class (class ${bad + 1}’s is not MIDI pitches with 0 ≤ lowest ≤ typical ≤ highest ≤ 127)` };
  return { pitched: true, pitchCentres: centres.slice(), pitchWidth: width, classPitches: rows.map((r) => r.slice()) };
}

// {name, classes: [{name, label, index}], latent, embedding, sampleRate,
// pitched (a model of instruments whose hits take a pitch), pitchCentres,
// pitchWidth and classPitches ([[lowest, typical, highest] MIDI per class];
// all null for a drum model), grainMap (null when the file has none: the
// Paths card says why in mapProblem), beatbox (whether it holds the onset
// centroids)}. Throws GrainsModelError.
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
    throw missing(`list of drum classes or instruments (1 to ${MAX_CLASSES} names such as “kick” or “flute”)`);
  }
  if (new Set(names).size !== names.length) throw missing('list of drum classes or instruments (a name appears twice)');
  const latent = meta.latent;
  if (!Number.isInteger(latent) || latent < 1 || latent > MAX_LATENT) throw missing(`grain latent size (1-${MAX_LATENT})`);
  const embedding = meta.embedding;
  if (!Number.isInteger(embedding) || embedding < 1 || embedding > MAX_EMBEDDING) throw missing(`embedding size (1-${MAX_EMBEDDING})`);
  const pitch = readPitch(meta, names.length);
  if (pitch.problem) throw missing(pitch.problem);
  const { map, problem } = readGrainMap(meta.grain_map, latent, names.length);
  const centroids = meta.onset_centroids;
  return {
    name: typeof header.name === 'string' && header.name ? header.name.slice(0, 80) : 'grains',
    classes: names.map((name, index) => ({ name, label: classLabel(name), index })),
    classNames: names.slice(),
    latent,
    embedding,
    sampleRate: Number.isFinite(meta.sample_rate) ? meta.sample_rate : 22050,
    pitched: pitch.pitched,
    pitchCentres: pitch.pitchCentres,
    pitchWidth: pitch.pitchWidth,
    classPitches: pitch.classPitches,
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
