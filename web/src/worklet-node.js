// Starting one AudioWorkletNode that runs the C++ core: shared by the Listen,
// Voice and Draw engines. The processor posts {type: 'ready', ...} once its
// WebAssembly kernel exists, or {type: 'error', message, sampleRate} when the
// core refuses (for example an unsupported device rate).

// Thrown when the C++ core refuses to run (e.g. an unsupported sample rate).
export class CoreError extends Error {
  constructor(message, sampleRate) {
    super(message);
    this.name = 'CoreError';
    this.sampleRate = sampleRate;
  }
}

// Thrown when the worklet module (or the WASM core it imports) cannot be loaded.
export class EngineLoadError extends Error {
  constructor(message, cause) {
    super(message);
    this.name = 'EngineLoadError';
    this.cause = cause;
  }
}

// Loads the processor module, builds the node and waits for the core's
// 'ready' message. label names the engine in messages ("audio engine").
// isDisposed: the owner was disposed while the module loaded.
// Resolves {node, info}; the caller then sets node.port.onmessage.
export async function startWorkletNode(context, { url, name, options, label = 'audio engine',
  timeoutMs = 15000, isDisposed = () => false }) {
  try {
    await context.audioWorklet.addModule(url);
  } catch (error) {
    throw new EngineLoadError(
      `The ${label} could not be loaded. If you run Timbrel yourself, build the WebAssembly core first (emcmake cmake -B build-wasm && cmake --build build-wasm).`,
      error,
    );
  }
  if (isDisposed()) throw new EngineLoadError('stopped');
  const node = new AudioWorkletNode(context, name, options);
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new EngineLoadError(`The ${label} did not start in time. Reload the page and try again.`));
    }, timeoutMs);
    node.onprocessorerror = () => {
      clearTimeout(timer);
      reject(new EngineLoadError(`The ${label} stopped with an internal error. Reload the page and try again.`));
    };
    node.port.onmessage = (event) => {
      const data = event.data;
      if (data?.type === 'ready') {
        clearTimeout(timer);
        resolve(data);
      } else if (data?.type === 'error') {
        clearTimeout(timer);
        reject(new CoreError(data.message, data.sampleRate));
      }
    };
  });
  return { node, info };
}

// Mono in, mono out: the context mixes stereo sources down to one channel.
export const MONO_NODE_OPTIONS = {
  numberOfInputs: 1,
  numberOfOutputs: 1,
  outputChannelCount: [1],
  channelCount: 1,
  channelCountMode: 'explicit',
  channelInterpretation: 'speakers',
};

// Requests to a worklet that wait for its reply, by key (a token), each with a
// time limit so a silent worklet cannot leave a promise hanging.
export class PendingReplies {
  constructor() {
    this.requests = new Map(); // key -> {resolve, reject, timer}
  }

  // Calls send() and resolves the reply that settle(key) hands over; rejects
  // with timeoutError() when none comes within timeoutMs.
  wait(key, timeoutMs, timeoutError, send) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(key);
        reject(timeoutError());
      }, timeoutMs);
      this.requests.set(key, { resolve, reject, timer });
      send();
    });
  }

  // The waiting request for key ({resolve, reject}), no longer waited on; null if none.
  take(key) {
    const request = this.requests.get(key);
    if (!request) return null;
    this.requests.delete(key);
    clearTimeout(request.timer);
    return request;
  }

  rejectAll(error) {
    for (const request of this.requests.values()) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    this.requests.clear();
  }
}

// Tells the processor to free its kernel and detaches the node.
export function closeWorkletNode(node) {
  node.port.postMessage({ type: 'dispose' });
  node.port.onmessage = null;
  node.disconnect();
}
