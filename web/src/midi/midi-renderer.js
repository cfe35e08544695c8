// The page's side of the cross-modal Worker (midi-worker.js): promises for
// loading a model, parsing a MIDI file, rendering one to audio (with progress)
// and transcribing audio. One job at a time is expected by the panels; a job
// runs inside one call into the core, so cancel() terminates the Worker and
// the next call starts a fresh one (and loads the model into it again from
// the bytes kept here).

import { CoreWorkerClient } from '../audio/core-worker.js';

const WORKER_URL = new URL('./midi-worker.js', import.meta.url);

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export class CrossmodalWorker extends CoreWorkerClient {
  static events = ['progress', 'chunk'];

  constructor({ name = 'timbrel-crossmodal' } = {}) {
    super({ url: WORKER_URL, name, engine: 'note engine' });
    this.modelBytes = null; // the model to have loaded (ArrayBuffer, ours)
    this.loadedModel = null; // the bytes the running Worker holds
    this.description = null;
  }

  onCrash() {
    super.onCrash();
    this.restart();
  }

  onMessage(data) {
    super.onMessage(data);
    if (data?.fatal) {
      // The core threw inside this Worker: drop it (its other jobs with it).
      this.failAll(new Error('the note engine had to restart after an internal error; try again'));
      this.restart();
    }
  }

  stoppedError() {
    return new CancelledError();
  }

  // Drops the running Worker (its jobs end as cancelled); the next call starts another.
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

  // Resolves {samples: Float32Array at 22050 Hz, report, ms}. onChunk(samples,
  // offset): the samples as they are finished (before normalisation), to play
  // the render while it runs.
  async render(midi, options, { onProgress, onChunk } = {}) {
    await this.ensureModel();
    const copy = toArrayBuffer(midi);
    return this.call({ type: 'render', midi: copy, options, stream: !!onChunk }, {
      transfer: [copy],
      on: {
        progress: (data) => onProgress?.(data.fraction, data.stage),
        chunk: (data) => onChunk?.(data.samples, data.offset),
      },
    });
  }

  // audio: Float32Array at 22050 Hz (copied). Resolves {notes, frames, midi, summary, ms}.
  async transcribe(audio, { onProgress } = {}) {
    await this.ensureModel();
    const copy = Float32Array.from(audio);
    return this.call({ type: 'transcribe', audio: copy }, { transfer: [copy.buffer], on: { progress: (data) => onProgress?.(data.fraction, data.stage) } });
  }
}

// A copy of the bytes as an ArrayBuffer of its own (safe to transfer).
function toArrayBuffer(bytes) {
  if (bytes instanceof ArrayBuffer) return bytes.slice(0);
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return view.slice().buffer;
}
