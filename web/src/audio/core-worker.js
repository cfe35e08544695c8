// Web Workers that run the C++ core (the Draw and MIDI renderers, the model
// preparer), from the page's side. A Worker posts {type: 'ready'} once its
// WebAssembly core exists, or {type: 'error', message} when it cannot start;
// then it answers each request's token: events on the way (e.g. {type:
// 'progress', token}) and one final reply ({token, error} or the result).

const START_TIMEOUT_MS = 20000;

// engine names the Worker in messages for a visitor ("note engine"). Returns
// {worker (null when none could be made), ready}: ready resolves once the core
// runs, after which the Worker's messages go to onMessage and an uncaught
// error in it to onCrash; it rejects with a message for a visitor.
export function startCoreWorker(url, { name, engine, onMessage, onCrash }) {
  let worker = null;
  const ready = new Promise((resolve, reject) => {
    try {
      worker = new Worker(url, { type: 'module', name });
    } catch (error) {
      reject(new Error(`this browser cannot start the ${engine} (module Web Workers): ${error.message}`));
      return;
    }
    const timer = setTimeout(() => reject(new Error(`the ${engine} did not start in time; reload the page`)), START_TIMEOUT_MS);
    worker.onerror = (event) => {
      clearTimeout(timer);
      event.preventDefault?.();
      reject(new Error(`the ${engine} could not be loaded (if you run Timbrel yourself, build the WebAssembly core first)`));
    };
    worker.onmessage = (event) => {
      const data = event.data;
      if (data?.type === 'ready') {
        clearTimeout(timer);
        worker.onmessage = (e) => onMessage(e.data);
        worker.onerror = (e) => {
          e.preventDefault?.();
          onCrash();
        };
        resolve();
      } else if (data?.type === 'error') {
        clearTimeout(timer);
        reject(new Error(data.message));
      }
    };
  });
  ready.catch(() => {});
  return { worker, ready };
}

// The page's side of such a Worker: started on the first call, one promise
// per request, events handed to the request's `on` callbacks by type.
export class CoreWorkerClient {
  // Message types that are events on the way, not a request's final reply.
  static events = ['progress'];

  // engine: the Worker's name in messages for a visitor.
  constructor({ url, name, engine }) {
    this.url = url;
    this.name = name;
    this.engine = engine;
    this.worker = null;
    this.ready = null;
    this.pending = new Map(); // token -> {resolve, reject, on}
    this.nextToken = 1;
    this.disposed = false;
  }

  // Resolves once the core runs in the Worker; rejects with a message for a visitor.
  start() {
    if (this.ready) return this.ready;
    ({ worker: this.worker, ready: this.ready } = startCoreWorker(this.url, {
      name: this.name,
      engine: this.engine,
      onMessage: (data) => this.onMessage(data),
      onCrash: () => this.onCrash(),
    }));
    return this.ready;
  }

  onCrash() {
    this.failAll(new Error(`the ${this.engine} stopped with an internal error; reload the page`));
  }

  onMessage(data) {
    const request = this.pending.get(data?.token);
    if (!request) return;
    if (this.constructor.events.includes(data.type)) {
      request.on[data.type]?.(data);
      return;
    }
    this.pending.delete(data.token);
    if (data.error) request.reject(this.makeError(data.error));
    else request.resolve(data);
  }

  // The error a request's refusal rejects with.
  makeError(message) {
    return new Error(message);
  }

  failAll(error) {
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }

  get busy() {
    return this.pending.size > 0;
  }

  // Posts {...message, token}; resolves the final reply. on: {eventType: (data) => void}.
  async call(message, { transfer = [], on = {} } = {}) {
    await this.start();
    if (this.disposed) throw this.stoppedError();
    const token = this.nextToken++;
    return new Promise((resolve, reject) => {
      this.pending.set(token, { resolve, reject, on });
      this.worker.postMessage({ ...message, token }, transfer);
    });
  }

  stoppedError() {
    return new Error('stopped');
  }

  // Drops the running Worker; the next call starts another.
  restart() {
    this.worker?.terminate();
    this.worker = null;
    this.ready = null;
  }

  dispose() {
    this.disposed = true;
    this.failAll(this.stoppedError());
    this.restart();
  }
}
