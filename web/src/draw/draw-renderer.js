// The page's side of the Draw panel's Worker (draw-worker.js): promises for
// loading a model, rendering drawn curves (with progress) and measuring audio.
// One render at a time: a new one cancels the last (its promise resolves
// {cancelled: true}).

import { startCoreWorker } from '../audio/core-worker.js';

const WORKER_URL = new URL('./draw-worker.js', import.meta.url);

export class DrawRenderer {
  constructor() {
    this.worker = null;
    this.pending = new Map(); // token -> {resolve, reject, onProgress, onAnalysing}
    this.nextToken = 1;
    this.ready = null;
    this.disposed = false;
  }

  // Resolves once the core runs in the Worker; rejects with a message for a visitor.
  start() {
    if (this.ready) return this.ready;
    ({ worker: this.worker, ready: this.ready } = startCoreWorker(WORKER_URL, {
      name: 'timbrel-draw',
      engine: 'drawing engine',
      onMessage: (data) => this.onMessage(data),
      onCrash: () => this.failAll(new Error('the drawing engine stopped with an internal error; reload the page')),
    }));
    return this.ready;
  }

  onMessage(data) {
    const request = this.pending.get(data?.token);
    if (!request) return;
    if (data.type === 'progress') {
      request.onProgress?.(data.fraction);
      return;
    }
    if (data.type === 'analysing') {
      request.onAnalysing?.();
      return;
    }
    this.pending.delete(data.token);
    if (data.error) request.reject(new Error(data.error));
    else request.resolve(data);
  }

  failAll(error) {
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }

  async call(message, { transfer = [], onProgress = null, onAnalysing = null } = {}) {
    await this.start();
    if (this.disposed) throw new Error('stopped');
    const token = this.nextToken++;
    return new Promise((resolve, reject) => {
      this.pending.set(token, { resolve, reject, onProgress, onAnalysing });
      this.worker.postMessage({ ...message, token }, transfer);
    });
  }

  // bytes: ArrayBuffer (copied). Resolves {info (object), table (object), map,
  // ranges, codes, patched, analyseMs}; rejects with the kernel's message.
  async load(bytes, { onAnalysing } = {}) {
    const copy = bytes.slice(0);
    const result = await this.call({ type: 'load', bytes: copy, analyse: true }, { transfer: [copy], onAnalysing });
    return { ...result, info: JSON.parse(result.info || '{}'), table: JSON.parse(result.table || '{}') };
  }

  // Resolves {audio, codes, frames, ms} or {cancelled: true}.
  render({ hops, name, values, gain, settings }, { onProgress } = {}) {
    return this.call(
      { type: 'render', hops, target: { name, values: Float32Array.from(values) }, gain: gain ? Float32Array.from(gain) : null, settings },
      { onProgress },
    );
  }

  // audio: Float32Array at 22050 Hz (copied). Resolves the measured frames.
  async measure(audio) {
    const copy = Float32Array.from(audio);
    const result = await this.call({ type: 'measure', audio: copy }, { transfer: [copy.buffer] });
    return result.frames;
  }

  dispose() {
    this.disposed = true;
    this.failAll(new Error('stopped'));
    this.worker?.terminate();
    this.worker = null;
  }
}
