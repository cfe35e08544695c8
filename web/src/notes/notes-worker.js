// The Web Worker of the Notes panel: the WebAssembly core's GMVAE note model
// (GmvaeNotes, wasm/notes_bindings.cpp) off the page's thread. It samples
// latents, encodes a visitor's note, transfers it to another instrument,
// places map points in the timbre space, decodes latents to mel patches (the
// core's batch engine, measured against ONNX Runtime Web) and renders notes
// and patches to audio, through the output guard.
//
// Messages (page -> worker), answered with the same token ({token, error} on failure):
//   {type: 'load', bytes: ArrayBuffer}                       -> {info: object}
//   {type: 'sample', items: [{instrument, midi}], spread, seed} -> {latents: Float32Array(n x 32)}
//   {type: 'encode', audio: Float32Array}                    -> {latent, heard (instrument index)}
//   {type: 'transfer', latent, target, amount}               -> {latent, source (instrument index)}
//   {type: 'map', points: Float32Array(2n)}                  -> {timbres: Float32Array(n x 16)}
//   {type: 'decode', latents: Float32Array(n x 32)}          -> {mels: Float32Array(n x frames x bins), ms}
//   {type: 'render', latents, held: seconds, gap: seconds}   -> {audio: Float32Array, starts: [sample], ms}
//        (each latent a note held `held` s, `gap` s apart: one note, a morph, a scale)
//   {type: 'renderMels', mels, count, held, gap, iterations} -> {audio, starts, ms}
//   {type: 'verdict', audio}                                 -> {heard}: what the model hears in a render
//   {type: 'reference'}                                      -> {rms}: the level of the model's own notes
//        (the median RMS over the first 500 ms of each instrument's typical middle note)
// Events on the way: {type: 'progress', token, fraction}.
// Before anything: {type: 'ready'} or {type: 'error', message} (core not loadable).
// A reply with fatal: true means the core threw: the page replaces the Worker.

const LATENT_SIZE = 32;
const RATE = 22050;

let core = null;
let notes = null;
let info = null;

async function start() {
  try {
    const { default: createTimbrelCore } = await import('/core/timbrel-core.mjs');
    core = await createTimbrelCore();
    if (typeof core.GmvaeNotes !== 'function') throw new Error('this build of the WebAssembly core has no GmvaeNotes (rebuild the core)');
    notes = new core.GmvaeNotes();
    self.postMessage({ type: 'ready' });
  } catch (error) {
    self.postMessage({ type: 'error', message: error?.message || String(error) });
  }
}
const started = start();

// A Float32Array the core returned; an empty one is a refusal, whose reason
// is notes.lastError().
function floats(result, what) {
  if (!(result instanceof Float32Array) || result.length === 0) throw new Error(notes.lastError() || `${what} failed`);
  return result;
}

function instrument(result) {
  if (!(result >= 0)) throw new Error(notes.lastError() || 'no instrument');
  return result;
}

// The shared output guard (dsp/output_guard.h) over rendered audio; a muted
// render is refused in words.
function guarded(audio) {
  if (typeof core.guardOffline !== 'function') return audio;
  const out = core.guardOffline(audio, RATE);
  if (typeof out === 'string') throw new Error(`the model's sound was not fit to play and was muted (${out})`);
  return out;
}

function progress(token, every) {
  let last = -1;
  return (done, total) => {
    const pct = Math.floor((100 * done) / Math.max(1, total));
    if (pct - last < every && done < total) return;
    last = pct;
    self.postMessage({ type: 'progress', token, fraction: done / Math.max(1, total) });
  };
}

function load({ bytes }) {
  const error = notes.load(new Uint8Array(bytes));
  if (error) throw Object.assign(new Error(error), { refused: true });
  const text = notes.info();
  try {
    info = typeof text === 'string' ? JSON.parse(text) : text;
  } catch {
    info = {};
  }
  return { info };
}

function sample({ items, spread, seed }) {
  const out = new Float32Array(items.length * LATENT_SIZE);
  items.forEach(({ instrument, midi }, i) => {
    out.set(floats(notes.sample(instrument | 0, midi | 0, +spread, seed >>> 0), 'sampling'), i * LATENT_SIZE);
  });
  return { latents: out };
}

function encode({ audio }) {
  const latent = floats(notes.encode(audio), 'encoding the note');
  return { latent, heard: instrument(notes.nearestInstrument(latent)) };
}

function transfer({ latent, target, amount }) {
  const source = instrument(notes.nearestInstrument(latent));
  return { latent: floats(notes.transfer(latent, target | 0, +amount), 'the transfer'), source };
}

function mapPoints({ points }) {
  const n = points.length / 2;
  const timbres = new Float32Array(n * 16);
  for (let i = 0; i < n; i++) timbres.set(floats(notes.mapPoint(points[2 * i], points[2 * i + 1]), 'the map point'), i * 16);
  return { timbres };
}

function decode({ token, latents }) {
  const n = latents.length / LATENT_SIZE;
  const t0 = performance.now();
  const report = progress(token, 10);
  let mels = null;
  for (let i = 0; i < n; i++) {
    const mel = floats(notes.decodeMel(latents.subarray(i * LATENT_SIZE, (i + 1) * LATENT_SIZE)), 'decoding');
    if (!mels) mels = new Float32Array(n * mel.length);
    mels.set(mel, i * mel.length);
    report(i + 1, n);
  }
  return { mels: mels ?? new Float32Array(0), ms: performance.now() - t0 };
}

// Notes one after another, `gap` seconds apart; renderOne(i) -> Float32Array.
function sequence(token, count, gap, renderOne) {
  const t0 = performance.now();
  const report = progress(token, 5);
  const parts = [];
  const starts = [];
  let length = 0;
  const gapSamples = Math.round(gap * RATE);
  for (let i = 0; i < count; i++) {
    const audio = renderOne(i);
    starts.push(length);
    parts.push(audio);
    length += audio.length + (i < count - 1 ? gapSamples : 0);
    report(i + 1, count);
  }
  const audio = new Float32Array(length);
  parts.forEach((part, i) => audio.set(part, starts[i]));
  return { audio: guarded(audio), starts, ms: performance.now() - t0 };
}

function render({ token, latents, held, gap = 0 }) {
  const n = latents.length / LATENT_SIZE;
  return sequence(token, n, gap, (i) => floats(notes.renderNote(latents.subarray(i * LATENT_SIZE, (i + 1) * LATENT_SIZE), +held), 'rendering'));
}

// iterations: Griffin-Lim rounds after RTPGHI (fewer for long batches; 30 by default).
// midis: each patch's pitch (the core lays its spectrum on that pitch's harmonics).
function renderMels({ token, mels, count, midis, held, gap = 0, iterations = 30 }) {
  const size = mels.length / count;
  notes.setIterations(iterations);
  try {
    return sequence(token, count, gap, (i) => floats(notes.renderMel(mels.subarray(i * size, (i + 1) * size), +held, midis[i] | 0), 'rendering'));
  } finally {
    notes.setIterations(30);
  }
}

function verdict({ audio }) {
  const latent = floats(notes.encode(audio), 'encoding the render');
  return { heard: instrument(notes.nearestInstrument(latent)) };
}

function reference() {
  const names = info?.instruments ?? [];
  const ranges = info?.instrumentRanges ?? [];
  const levels = names.map((_, k) => {
    const [lo, hi] = ranges[k] ?? [60, 72];
    const z = floats(notes.sample(k, Math.round((lo + hi) / 2), 0, 1), 'sampling');
    const audio = floats(notes.renderNote(z, 0.5), 'rendering');
    const n = Math.min(audio.length, Math.round(0.5 * RATE));
    let e = 0;
    for (let i = 0; i < n; i++) e += audio[i] * audio[i];
    return Math.sqrt(e / Math.max(1, n));
  }).sort((a, b) => a - b);
  // Without the model's make-up gain (output_gain_db): the level the network learned.
  const makeUp = 10 ** ((info?.outputGainDb ?? 0) / 20);
  return { rms: levels.length ? levels[levels.length >> 1] / makeUp : 0 };
}

const JOBS = { load, reference, sample, encode, transfer, map: mapPoints, decode, render, renderMels, verdict };

// The transferable buffers of a reply.
function buffers(result) {
  return Object.values(result).filter((v) => v instanceof Float32Array).map((v) => v.buffer);
}

self.onmessage = async (event) => {
  const data = event.data;
  await started;
  const job = JOBS[data?.type];
  if (!job) return;
  if (!notes) {
    self.postMessage({ type: 'done', token: data.token, error: 'the note engine is not running' });
    return;
  }
  let result;
  try {
    result = job(data);
  } catch (error) {
    if (error instanceof Error) {
      // A refusal in words (a foreign model, a silent clip): the core is fine.
      self.postMessage({ type: 'done', token: data.token, error: error.message });
      return;
    }
    // Something in the core threw (a C++ exception unwinds through the
    // WebAssembly frames as a bare number): the page starts a fresh Worker.
    self.postMessage({ type: 'done', token: data.token, error: `the WebAssembly core stopped with an internal error (${String(error)})`, fatal: true });
    return;
  }
  self.postMessage({ type: 'done', token: data.token, ...result }, buffers(result));
};
