// Models prepared off the audio thread: the page's side of model-worker.js.
// prepare(bytes, family) resolves {image: ArrayBuffer, info (object)}: the
// flat image an engine's kernel adopts (Engine.loadModel) and the model's facts,
// or rejects with ModelLoadError and the core's reason (a damaged or foreign
// file is refused here, before anything reaches the worklet).

import { CoreWorkerClient } from './core-worker.js';
import { ModelLoadError } from './errors.js';

const WORKER_URL = new URL('./model-worker.js', import.meta.url);

export class ModelPreparer extends CoreWorkerClient {
  constructor() {
    super({ url: WORKER_URL, name: 'timbrel-models', engine: 'model loader' });
  }

  makeError(message) {
    return new ModelLoadError(message);
  }

  // bytes: ArrayBuffer (copied, the caller keeps it); family: 'vq_timbre' | 'crossmodal_vae'.
  async prepare(bytes, family) {
    const copy = bytes.slice(0);
    const reply = await this.call({ type: 'prepare', bytes: copy, family }, { transfer: [copy] });
    let info;
    try {
      info = reply.info ? JSON.parse(reply.info) : {};
    } catch {
      info = {}; // a model without facts still plays
    }
    return { image: reply.image, info };
  }
}

let shared = null;

// The page's one preparer, started on first use.
export function modelPreparer() {
  if (!shared) shared = new ModelPreparer();
  return shared;
}
