// The page's side of the cross-modal Worker (midi-worker.js): promises for
// loading a model, parsing a MIDI file, rendering one to audio (with progress)
// and transcribing audio. One job at a time is expected by the panels; a job
// runs inside one call into the core, so cancel() terminates the Worker and
// the next call starts a fresh one (and loads the model into it again from
// the bytes kept here).

import { startCoreWorker } from '../audio/core-worker.js';

const WORKER_URL = new URL('./midi-worker.js', import.meta.url);

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export class CrossmodalWorker {
  constructor({ name = 'timbrel-crossmodal' } = {}) {
    this.name = name;
    this.worker = null;
    this.ready = null;
    this.pending = new Map(); // token -> {resolve, reject, onProgress}
    this.nextToken = 1;
    this.modelBytes = null; // the model to have loaded (ArrayBuffer, ours)
    this.loadedModel = null; // the bytes the running Worker holds
    this.description = null;
    this.disposed = false;
  }

  // Resolves once the core runs in a Worker; rejects with a message for a visitor.
  start() {
    if (this.ready) return this.ready;
    ({ worker: this.worker, ready: this.ready } = startCoreWorker(WORKER_URL, {
      name: this.name,
      engine: 'note engine',
      onMessage: (data) => this.onMessage(data),
      onCrash: () => {
        this.failAll(new Error('the note engine stopped with an internal error; reload the page'));
        this.restart();
      },
    }));
    return this.ready;
  }

  onMessage(data) {
    const request = this.pending.get(data?.token);
    if (!request) return;
    if (data.type === 'progress') {
      request.onProgress?.(data.fraction, data.stage);
      return;
    }
    this.pending.delete(data.token);
    if (data.error) request.reject(new Error(data.error));
    else request.resolve(data);
    if (data.fatal) {
      // The core threw inside this Worker: drop it (its other jobs with it).
      this.failAll(new Error('the note engine had to restart after an internal error; try again'));
      this.restart();
    }
  }

  failAll(error) {
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }

  // Drops the running Worker (its jobs end as cancelled); the next call starts another.
  restart() {
    this.worker?.terminate();
    this.worker = null;
    this.ready = null;
    this.loadedModel = null;
  }

  // Stops whatever runs: its promise rejects with CancelledError.
  cancel() {
    if (!this.pending.size) return false;
    this.failAll(new CancelledError());
    this.restart();
    return true;
  }

  get busy() {
    return this.pending.size > 0;
  }

  async call(message, { transfer = [], onProgress = null } = {}) {
    await this.start();
    if (this.disposed) throw new CancelledError();
    const token = this.nextToken++;
    return new Promise((resolve, reject) => {
      this.pending.set(token, { resolve, reject, onProgress });
      this.worker.postMessage({ ...message, token }, transfer);
    });
  }

  // Loads a model (ArrayBuffer; copied) and resolves its description
  // (kernel.describe()); rejects with the core's message. A refused model
  // leaves the previous one loaded.
  async load(bytes) {
    const copy = bytes.slice(0);
    const result = await this.call({ type: 'load', bytes: copy }, { transfer: [copy] });
    this.modelBytes = bytes;
    this.loadedModel = bytes;
    this.description = result.description;
    return result.description;
  }

  // The model of the last load, in this Worker (after a cancel, loaded again).
  async ensureModel() {
    if (!this.modelBytes) throw new Error('no instrument is loaded yet');
    await this.start();
    if (this.loadedModel === this.modelBytes) return;
    const bytes = this.modelBytes;
    const copy = bytes.slice(0);
    await this.call({ type: 'load', bytes: copy }, { transfer: [copy] });
    this.loadedModel = bytes;
  }

  // Resolves the core's parse of a MIDI file (Uint8Array or ArrayBuffer);
  // rejects with its message for a malformed file.
  async parse(bytes) {
    const copy = toArrayBuffer(bytes);
    const result = await this.call({ type: 'parse', bytes: copy }, { transfer: [copy] });
    return result.song;
  }

  // Resolves {samples: Float32Array at 22050 Hz, report, ms}.
  async render(midi, options, { onProgress } = {}) {
    await this.ensureModel();
    const copy = toArrayBuffer(midi);
    return this.call({ type: 'render', midi: copy, options }, { transfer: [copy], onProgress });
  }

  // audio: Float32Array at 22050 Hz (copied). Resolves {notes, frames, midi, summary, ms}.
  async transcribe(audio, { onProgress } = {}) {
    await this.ensureModel();
    const copy = Float32Array.from(audio);
    return this.call({ type: 'transcribe', audio: copy }, { transfer: [copy.buffer], onProgress });
  }

  dispose() {
    this.disposed = true;
    this.failAll(new CancelledError());
    this.restart();
  }
}

// A copy of the bytes as an ArrayBuffer of its own (safe to transfer).
function toArrayBuffer(bytes) {
  if (bytes instanceof ArrayBuffer) return bytes.slice(0);
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return view.slice().buffer;
}
