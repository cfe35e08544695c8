// The page's side of the Notes panel's two Workers:
// - NotesWorker (notes-worker.js): the WebAssembly core's GMVAE note model.
//   A job runs inside one call into the core, so cancel() terminates the
//   Worker; the next call starts a fresh one and loads the model into it again
//   from the bytes kept here.
// - OrtWorker (ort-worker.js): ONNX Runtime Web running the model's exported
//   decoder graph, the batch engine measured against the core.

import { CoreWorkerClient } from '../audio/core-worker.js';

const NOTES_URL = new URL('./notes-worker.js', import.meta.url);
const ORT_URL = new URL('./ort-worker.js', import.meta.url);

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export class NotesWorker extends CoreWorkerClient {
  constructor({ name = 'timbrel-notes' } = {}) {
    super({ url: NOTES_URL, name, engine: 'note engine' });
    this.modelBytes = null; // the model to have loaded (ArrayBuffer, ours)
    this.loadedModel = null; // the bytes the running Worker holds
  }

  onCrash() {
    super.onCrash();
    this.restart();
  }

  onMessage(data) {
    super.onMessage(data);
    if (data?.fatal) {
      this.failAll(new Error('the note engine had to restart after an internal error; try again'));
      this.restart();
    }
  }

  stoppedError() {
    return new CancelledError();
  }

  restart() {
    super.restart();
    this.loadedModel = null;
  }

  // Stops whatever runs: its promise rejects with CancelledError.
  cancel() {
    if (!this.pending.size) return false;
    this.failAll(new CancelledError());
    this.restart();
    return true;
  }

  // Loads a model (ArrayBuffer; copied) and resolves the core's info; rejects
  // with the core's reason (the model loaded before stays).
  async load(bytes) {
    const copy = bytes.slice(0);
    const result = await this.call({ type: 'load', bytes: copy }, { transfer: [copy] });
    this.modelBytes = bytes;
    this.loadedModel = bytes;
    return result.info ?? {};
  }

  async ensureModel() {
    if (!this.modelBytes) throw new Error('no note model is loaded yet');
    await this.start();
    if (this.loadedModel === this.modelBytes) return;
    const bytes = this.modelBytes;
    const copy = bytes.slice(0);
    await this.call({ type: 'load', bytes: copy }, { transfer: [copy] });
    this.loadedModel = bytes;
  }

  async job(message, { transfer = [], onProgress } = {}) {
    await this.ensureModel();
    return this.call(message, { transfer, on: { progress: (data) => onProgress?.(data.fraction) } });
  }

  // [{instrument, midi}] -> Float32Array(n x 32) sampled with spread w and seed.
  async sample(items, spread, seed) {
    return (await this.job({ type: 'sample', items, spread, seed })).latents;
  }

  // A note (Float32Array at 22050 Hz, its first sample the onset; copied) ->
  // {latent, heard: the instrument the model hears}.
  async encode(audio) {
    const copy = Float32Array.from(audio);
    return this.job({ type: 'encode', audio: copy }, { transfer: [copy.buffer] });
  }

  async transfer(latent, target, amount) {
    return this.job({ type: 'transfer', latent: Float32Array.from(latent), target, amount });
  }

  // Float32Array [x0, y0, x1, y1, ...] -> Float32Array(n x 16) of z_timbre.
  async mapPoints(points) {
    const copy = Float32Array.from(points);
    return (await this.job({ type: 'map', points: copy }, { transfer: [copy.buffer] })).timbres;
  }

  // The core as the batch engine: Float32Array(n x 32) -> {mels, ms}.
  async decode(latents, { onProgress } = {}) {
    const copy = Float32Array.from(latents);
    return this.job({ type: 'decode', latents: copy }, { transfer: [copy.buffer], onProgress });
  }

  // Latents (n x 32) rendered one after another: {audio, starts, ms}.
  async render(latents, { held = 1, gap = 0, onProgress } = {}) {
    const copy = Float32Array.from(latents);
    return this.job({ type: 'render', latents: copy, held, gap }, { transfer: [copy.buffer], onProgress });
  }

  // Decoded patches (count of them, one after another in mels, of the MIDI pitches
  // midis) to audio.
  async renderMels(mels, count, midis, { held = 1, gap = 0, iterations = 30, onProgress } = {}) {
    const copy = Float32Array.from(mels);
    return this.job({ type: 'renderMels', mels: copy, count, midis: Array.from(midis), held, gap, iterations }, { transfer: [copy.buffer], onProgress });
  }

  // The RMS of the model's own notes (the level it learned notes at).
  async reference() {
    return (await this.job({ type: 'reference' })).rms;
  }

  // The instrument the model hears in a rendered note.
  async verdict(audio) {
    const copy = Float32Array.from(audio);
    return (await this.job({ type: 'verdict', audio: copy }, { transfer: [copy.buffer] })).heard;
  }
}

export class OrtWorker extends CoreWorkerClient {
  constructor({ name = 'timbrel-onnxruntime' } = {}) {
    super({ url: ORT_URL, name, engine: 'ONNX Runtime engine' });
    this.session = null; // {backend, threads, batch, ...} once a graph is loaded
  }

  onCrash() {
    super.onCrash();
    this.restart();
    this.session = null;
  }

  // Loads the decoder graph at url; resolves {backend, threads, batch}.
  async load(url, { backend = 'auto' } = {}) {
    const reply = await this.call({ type: 'load', url: String(url), backend });
    this.session = { backend: reply.backend, threads: reply.threads, batch: reply.batch, url: String(url) };
    return this.session;
  }

  // Float32Array(n x 32) -> {mels, ms}.
  async decode(latents, { onProgress } = {}) {
    const copy = Float32Array.from(latents);
    return this.call({ type: 'decode', latents: copy }, { transfer: [copy.buffer], on: { progress: (data) => onProgress?.(data.fraction) } });
  }
}
