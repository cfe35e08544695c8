// The shipped instrument models: models/index.json (written by the trainer), each
// entry {id, instrument, file, card, f0_range_hz, quantized, size_bytes} with paths
// relative to models/. Fetches model bytes (cached) and model cards on the main
// thread. A visitor's own file is checked by the core (in a Worker) when it is
// dropped, before it becomes a tile: a damaged or foreign file is refused then.

import { MODEL_LIMITS } from './model-file.js';
import { modelPreparer } from './model-preparer.js';

export const MODELS_URL = new URL('../../models/', import.meta.url);
// The core's file-size limit (models/README.md, "Limits"), checked before a file is read.
export const MAX_MODEL_BYTES = MODEL_LIMITS.maxFileBytes;

// Thrown for a file that is not a Timbrel model; message written for a visitor.
export class ModelFileError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModelFileError';
  }
}

// A .wav path inside the models folder, or null (an index is data, not a URL list).
function relativeWav(value) {
  return typeof value === 'string' && /^[\w-]+(\/[\w.-]+)*\.wav$/.test(value) && !value.includes('..') ? value : null;
}

function normaliseEntry(raw, index) {
  if (!raw || typeof raw !== 'object' || typeof raw.file !== 'string') return null;
  const id = String(raw.id ?? raw.file.replace(/\.tmbl$/i, '') ?? `model-${index}`);
  const range = Array.isArray(raw.f0_range_hz) && raw.f0_range_hz.length === 2 && raw.f0_range_hz.every(Number.isFinite)
    ? [Number(raw.f0_range_hz[0]), Number(raw.f0_range_hz[1])]
    : null;
  return {
    id,
    instrument: String(raw.instrument ?? raw.name ?? id),
    file: raw.file,
    card: typeof raw.card === 'string' ? raw.card : null,
    f0RangeHz: range,
    quantized: raw.quantized ?? null,
    sizeBytes: Number.isFinite(raw.size_bytes) ? raw.size_bytes : null,
    // How loud it plays the page's example clip (timbrel.eval.levels), for evening out.
    outputLevelDb: Number.isFinite(raw.output_level_db) ? raw.output_level_db : null,
    // A short example (timbrel.eval.examples): the same sung phrase through every model.
    example: relativeWav(raw.example),
    exampleInput: relativeWav(raw.example_input),
    source: 'shipped',
  };
}

// Resolves [entries] (possibly empty). Rejects only on a malformed index.
export async function fetchModelIndex(baseUrl = MODELS_URL) {
  const response = await fetch(new URL('index.json', baseUrl));
  if (response.status === 404) return [];
  if (!response.ok) throw new Error(`the model list could not be downloaded (HTTP ${response.status})`);
  let data;
  try {
    data = await response.json();
  } catch {
    throw new Error('the model list (models/index.json) is not valid JSON');
  }
  const list = Array.isArray(data) ? data : Array.isArray(data?.models) ? data.models : null;
  if (!list) throw new Error('the model list (models/index.json) holds no list of models');
  return list.map(normaliseEntry).filter(Boolean).map((entry) => ({ ...entry, baseUrl: String(baseUrl) }));
}

// Quick checks before the bytes go to the audio thread (the kernel checks everything).
export function checkModelBytes(bytes, name = 'the file') {
  if (bytes.byteLength > MAX_MODEL_BYTES) {
    throw new ModelFileError(`${name} is ${(bytes.byteLength / 1048576).toFixed(0)} MB; models up to ${MAX_MODEL_BYTES / 1048576} MB can be loaded.`);
  }
  const head = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
  if (bytes.byteLength < 16 || String.fromCharCode(...head) !== 'TMBL') {
    throw new ModelFileError(`${name} is not a Timbrel model (.tmbl): it does not start with “TMBL”. Train one with the scripts and export it, or pick a shipped instrument.`);
  }
}

export class ModelCatalog {
  // family: the kernel family its models belong to ('vq_timbre' | 'crossmodal_vae').
  constructor(baseUrl = MODELS_URL, { family = 'vq_timbre', preparer = null } = {}) {
    this.baseUrl = baseUrl;
    this.family = family;
    this.preparer = preparer;
    this.bytes = new Map(); // id -> Promise<ArrayBuffer>
    this.cards = new Map(); // id -> Promise<string>
  }

  async list() {
    return fetchModelIndex(this.baseUrl);
  }

  // ArrayBuffer of a shipped model (cached; failed downloads are retried next time).
  fetchBytes(entry) {
    let promise = this.bytes.get(entry.id);
    if (!promise) {
      promise = (async () => {
        const response = await fetch(new URL(entry.file, entry.baseUrl ?? this.baseUrl));
        if (!response.ok) throw new ModelFileError(`the ${entry.instrument} model could not be downloaded (HTTP ${response.status})`);
        const bytes = await response.arrayBuffer();
        checkModelBytes(bytes, `The ${entry.instrument} model`);
        return bytes;
      })();
      promise.catch(() => this.bytes.delete(entry.id));
      this.bytes.set(entry.id, promise);
    }
    return promise;
  }

  // A user's own file (File/Blob) becomes an entry whose bytes are already here,
  // once the core has checked it; rejects with the reason otherwise.
  async addFile(file) {
    if (file.size > MAX_MODEL_BYTES) {
      throw new ModelFileError(`“${file.name}” is ${(file.size / 1048576).toFixed(0)} MB; models up to ${MAX_MODEL_BYTES / 1048576} MB can be loaded.`);
    }
    const bytes = await file.arrayBuffer();
    checkModelBytes(bytes, `“${file.name}”`);
    await (this.preparer ?? modelPreparer()).prepare(bytes, this.family);
    const id = `file:${file.name}:${file.size}:${Date.now()}`;
    const entry = {
      id,
      instrument: file.name.replace(/\.tmbl$/i, ''),
      file: file.name,
      card: null,
      f0RangeHz: null,
      quantized: null,
      sizeBytes: file.size,
      source: 'file',
    };
    this.bytes.set(id, Promise.resolve(bytes));
    return entry;
  }

  forget(entry) {
    this.bytes.delete(entry.id);
  }

  // The model card's Markdown text, or '' when there is none.
  fetchCard(entry) {
    if (!entry.card) return Promise.resolve('');
    let promise = this.cards.get(entry.id);
    if (!promise) {
      promise = (async () => {
        const response = await fetch(new URL(entry.card, entry.baseUrl ?? this.baseUrl));
        return response.ok ? response.text() : '';
      })().catch(() => '');
      this.cards.set(entry.id, promise);
    }
    return promise;
  }

  dispose() {
    this.bytes.clear();
    this.cards.clear();
  }
}
