// The engine base: what every panel's sound engine shares, in the Tone.js
// manner (an options object, connect(), dispose()) so that another Web Audio
// app can import an engine and use it in its own graph (web/examples/).
//
//   engine = new VoiceEngine(context, options)   // nothing runs yet
//   await engine.start()                         // worklet module, node, the core's 'ready'
//   source.connect(engine.input); engine.connect(context.destination)
//   engine.dispose()                             // frees the C++ kernel; the context stays
//
// An engine with a `static processor` runs that AudioWorkletProcessor (the C++
// core in WebAssembly, worklet/*-processor.js). The processor posts
// {type: 'ready', ...} once its kernel exists, or {type: 'error', message,
// sampleRate} when the core refuses (an unsupported device rate, a dead
// kernel): before start() resolved that rejects start(), after it, onError.
// Every engine can also play finished clips (renders, recordings) through its
// output: playBuffer().
//
// The AudioContext belongs to the caller (the page shares one: SharedAudio).

export const MODEL_RATE = 22050;

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

// Thrown when a kernel rejects a model; the previous model keeps playing.
export class ModelLoadError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

// Whether an error means the engine itself is gone (not one request failing).
export const isEngineFailure = (error) => error instanceof CoreError || error?.name === 'EngineLoadError';

// Mono in, mono out: the context mixes stereo sources down to one channel.
export const MONO_NODE_OPTIONS = Object.freeze({
  numberOfInputs: 1,
  numberOfOutputs: 1,
  outputChannelCount: [1],
  channelCount: 1,
  channelCountMode: 'explicit',
  channelInterpretation: 'speakers',
});

// No input, mono out: for engines that only make sound.
export const SOURCE_NODE_OPTIONS = Object.freeze({ numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });

// Requests to a worklet that wait for its reply, by key (a token), each with a
// time limit so a silent worklet cannot leave a promise hanging.
export class PendingReplies {
  constructor() {
    this.requests = new Map(); // key -> {resolve, reject, timer}
  }

  // Calls send() and resolves the reply that take(key) hands over; rejects
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

export class Engine {
  // {url, name, label}: the AudioWorkletProcessor this engine runs; null for none.
  static processor = null;
  // Default options; the constructor's options override them.
  static defaults = {};
  static readyTimeoutMs = 15000;
  static replyTimeoutMs = 20000;

  constructor(context, options = {}) {
    this.context = context;
    this.options = { ...this.constructor.defaults, ...options };
    this.output = context.createGain();
    this.node = null;
    this.info = null; // the processor's 'ready' message
    this.disposed = false;
    this.started = null;
    this.pending = new PendingReplies();
    this.nextToken = 1;
    this.clip = null; // {source, samples, start}: a clip being played
    this.onError = null; // (CoreError) => void, for failures after start
    this.onBufferEnded = null; // () => void, when a clip has played out
  }

  get label() {
    return this.constructor.processor?.label ?? 'audio engine';
  }

  get sampleRate() {
    return this.context.sampleRate;
  }

  get state() {
    return this.context.state;
  }

  // Loads the worklet and waits for the core; resolves the 'ready' message
  // ({} without a worklet). Safe to call more than once.
  start() {
    if (!this.started) this.started = this.startOnce();
    return this.started;
  }

  async startOnce() {
    const processor = this.constructor.processor;
    if (processor) {
      this.info = await this.startWorklet(processor);
      this.node.port.onmessage = (event) => this.handleMessage(event.data);
      if (this.node.numberOfOutputs > 0) this.node.connect(this.output);
    } else {
      this.info = {};
    }
    await this.onStart(this.info);
    return this.info;
  }

  async startWorklet({ url, name }) {
    try {
      await this.context.audioWorklet.addModule(url);
    } catch (error) {
      throw new EngineLoadError(
        `The ${this.label} could not be loaded. If you run Timbrel yourself, build the WebAssembly core first (scripts/setup.sh).`,
        error,
      );
    }
    if (this.disposed) throw new EngineLoadError('stopped');
    const node = new AudioWorkletNode(this.context, name, this.nodeOptions());
    this.node = node;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new EngineLoadError(`The ${this.label} did not start in time. Reload the page and try again.`));
      }, this.constructor.readyTimeoutMs);
      node.onprocessorerror = () => {
        clearTimeout(timer);
        const error = new EngineLoadError(`The ${this.label} stopped with an internal error. Reload the page and try again.`);
        reject(error);
        if (this.info) this.fail(error);
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
  }

  // The AudioWorkletNode's options (subclasses add processorOptions).
  nodeOptions() {
    return { ...MONO_NODE_OPTIONS };
  }

  // After the node exists and before start() resolves: shared buffers, readers.
  async onStart() {}

  // A message from the processor other than 'error'.
  onMessage() {}

  handleMessage(data) {
    if (data?.type === 'error') {
      this.fail(new CoreError(data.message, data.sampleRate));
      return;
    }
    this.onMessage(data);
  }

  fail(error) {
    this.pending.rejectAll(error);
    this.onError?.(error);
  }

  // Where sources connect (the worklet's input).
  get input() {
    return this.node;
  }

  connect(destination, ...rest) {
    this.output.connect(destination, ...rest);
    return this;
  }

  toDestination() {
    return this.connect(this.context.destination);
  }

  disconnect(...args) {
    this.output.disconnect(...args);
    return this;
  }

  post(message, transfer = []) {
    if (!this.disposed) this.node?.port.postMessage(message, transfer);
  }

  // Posts a message and resolves the processor's reply for key (settle(key, data)).
  request(key, message, transfer = []) {
    if (!this.node || this.disposed) return Promise.reject(new Error(`the ${this.label} is not running`));
    return this.pending.wait(key, this.constructor.replyTimeoutMs, () => new Error(`the ${this.label} did not answer in time`), () =>
      this.node.port.postMessage(message, transfer),
    );
  }

  // Hands a processor's reply to the request waiting for key: rejected with
  // makeError(data.error) when it carries one. False when nobody waited.
  settle(key, data, makeError = (message) => new Error(message)) {
    const request = this.pending.take(key);
    if (!request) return false;
    if (data.error) request.reject(makeError(data.error));
    else request.resolve(data);
    return true;
  }

  token() {
    return this.nextToken++;
  }

  // The panel that owns this engine is shown (true) or left (false): a resting
  // processor outputs silence without running its kernel.
  setActive(on) {
    this.post({ type: 'active', on: !!on });
  }

  // ---------- finished clips ----------

  // Plays mono samples (at `rate`, the model rate by default) once through the
  // output; returns the duration in seconds.
  playBuffer(samples, rate = MODEL_RATE) {
    this.stopBuffer();
    const buffer = this.context.createBuffer(1, Math.max(1, samples.length), rate);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output);
    const clip = { source, samples, start: this.context.currentTime };
    source.onended = () => {
      if (this.clip !== clip) return;
      this.clip = null;
      this.onBufferEnded?.();
    };
    source.start();
    this.clip = clip;
    return buffer.duration;
  }

  // The samples being played, or null.
  get playingClip() {
    return this.clip?.samples ?? null;
  }

  // Seconds into the clip being played, or -1.
  get bufferTime() {
    return this.clip ? this.context.currentTime - this.clip.start : -1;
  }

  stopBuffer() {
    const clip = this.clip;
    if (!clip) return;
    this.clip = null;
    clip.source.onended = null;
    try {
      clip.source.stop();
    } catch {
      // already stopped
    }
    clip.source.disconnect();
  }

  // Frees the kernel and detaches everything; the context is the caller's.
  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.pending.rejectAll(new Error('stopped'));
    this.stopBuffer();
    if (this.node) {
      this.node.port.postMessage({ type: 'dispose' });
      this.node.port.onmessage = null;
      this.node.onprocessorerror = null;
      this.node.disconnect();
      this.node = null;
    }
    this.output.disconnect();
    this.onDispose();
  }

  // Subclasses release their own resources (timers, readers).
  onDispose() {}
}
