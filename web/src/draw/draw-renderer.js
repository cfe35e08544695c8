// The page's side of the Draw panel's Worker (draw-worker.js): promises for
// loading a model, rendering drawn curves (with progress) and measuring audio.
// One render at a time: a new one cancels the last (its promise resolves
// {cancelled: true}).

import { CoreWorkerClient } from '../audio/core-worker.js';

const WORKER_URL = new URL('./draw-worker.js', import.meta.url);

export class DrawRenderer extends CoreWorkerClient {
  static events = ['progress', 'analysing'];

  constructor() {
    super({ url: WORKER_URL, name: 'timbrel-draw', engine: 'drawing engine' });
  }

  // bytes: ArrayBuffer (copied). Resolves {info (object), table (object), map,
  // ranges, codes, patched, analyseMs}; rejects with the kernel's message.
  async load(bytes, { onAnalysing } = {}) {
    const copy = bytes.slice(0);
    const result = await this.call({ type: 'load', bytes: copy, analyse: true }, { transfer: [copy], on: { analysing: () => onAnalysing?.() } });
    return { ...result, info: JSON.parse(result.info || '{}'), table: JSON.parse(result.table || '{}') };
  }

  // Resolves {audio, codes, frames, ms} or {cancelled: true}.
  render({ hops, name, values, gain, settings }, { onProgress } = {}) {
    return this.call(
      { type: 'render', hops, target: { name, values: Float32Array.from(values) }, gain: gain ? Float32Array.from(gain) : null, settings },
      { on: { progress: (data) => onProgress?.(data.fraction) } },
    );
  }

  // audio: Float32Array at 22050 Hz (copied). Resolves the measured frames.
  async measure(audio) {
    const copy = Float32Array.from(audio);
    const result = await this.call({ type: 'measure', audio: copy }, { transfer: [copy.buffer] });
    return result.frames;
  }
}
