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
// Models never reach the audio thread as files: loadModel(bytes) has the
// core check and lay the file out in a Worker (model-preparer.js), then
// hands the processor the flat image, which its kernel copies in slices of
// at most 256 KiB, one per message, and adopts (worklet/core-processor.js).
//
// The AudioContext belongs to the caller (the page shares one: SharedAudio).

import { CoreError, EngineLoadError, ModelLoadError } from './errors.js';
import { modelPreparer } from './model-preparer.js';

export const MODEL_RATE = 22050;

export { CoreError, EngineLoadError, ModelLoadError, isEngineFailure } from './errors.js';

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
  // The model family its kernel plays ('vq_timbre' | 'crossmodal_vae'); null for none.
  static modelFamily = null;
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
    this.modelId = null; // what useModel() last loaded
    this.modelQueue = Promise.resolve();
    this.clip = null; // {source, samples, start}: a clip being played
    this.onError = null; // (CoreError) => void, for failures after start
    this.onBufferEnded = null; // () => void, when a clip has played out
  }

  // The core's output guard (GUARD_STATE in worklet/audio-ring.js): 2 when the
  // model's output was not sound and is muted. Engines with a kernel override it.
  get guardState() {
    return 0;
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
    let node;
    try {
      node = new AudioWorkletNode(this.context, name, this.nodeOptions());
    } catch (error) {
      // The module loaded but registered no processor: its code failed to run.
      throw new EngineLoadError(`The ${this.label} could not start its audio code (${error.message}). Reload the page and try again.`, error);
    }
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
    } else if (data?.type === 'model-slice') {
      // The kernel copied a slice of a model image: the next one, in its own message.
      if (this.pending.requests.has(data.token)) this.post({ type: 'model-slice', token: data.token });
    } else if (data?.type === 'model') {
      this.settle(data.token, data, (message) => new ModelLoadError(message));
    } else {
      this.onMessage(data);
    }
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

  // Loads a model into the kernel (subclasses: loadModel(bytes)) unless it
  // already holds `id`; loads run one after another. Resolves the reply, or
  // null when nothing had to be loaded.
  useModel(id, bytes) {
    const load = this.modelQueue.catch(() => {}).then(async () => {
      if (this.modelId === id) return null;
      const reply = await this.loadModel(bytes);
      this.modelId = id;
      return reply;
    });
    this.modelQueue = load;
    return load;
  }

  // A .tmbl file (ArrayBuffer; copied, the caller keeps it) for the kernel:
  // prepared off the audio thread, then adopted between quanta. Resolves the
  // processor's reply plus `info` (the model's facts); rejects with
  // ModelLoadError (the previous model keeps playing).
  // extra: more fields of the 'model' message (e.g. the voice model's gainDb).
  async loadModel(bytes, { preparer = modelPreparer(), ...extra } = {}) {
    const family = this.constructor.modelFamily;
    if (!family) throw new ModelLoadError(`the ${this.label} plays no model`);
    const { image, info } = await preparer.prepare(bytes, family);
    return { ...(await this.loadImage(image, extra)), info };
  }

  // A prepared image (ArrayBuffer, transferred) to the processor.
  loadImage(image, extra = {}) {
    if (!this.node || this.disposed) return Promise.reject(new ModelLoadError(`the ${this.label} is not running`));
    const token = this.token();
    return this.request(token, { ...extra, type: 'model', token, image }, [image]);
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
    const stream = this.playStream(rate, { lead: 0 });
    stream.push(samples, 0);
    stream.end();
    return samples.length / rate;
  }

  // Plays samples that arrive in pieces, a render heard while it runs:
  // push(samples, offset) in order (offset in samples from the start), end()
  // after the last. Playback starts `lead` seconds after the first piece; a
  // piece that arrives too late to play on time delays what follows (counted
  // in `late`). Samples are kept inside [-1, 1] (a render's pieces come before
  // its normalisation). onBufferEnded once all has played.
  playStream(rate = MODEL_RATE, { lead = 0.3 } = {}) {
    this.stopBuffer();
    const clip = { sources: new Set(), start: NaN, rate, lead, ended: false, late: 0 };
    this.clip = clip;
    const engine = this;
    return {
      push: (samples, offset) => this.pushClip(clip, samples, offset),
      end: () => {
        clip.ended = true;
        this.clipEnded(clip);
      },
      get late() {
        return clip.late;
      },
      // Stopped (stopBuffer(), another clip): later pieces are dropped.
      get stopped() {
        return engine.clip !== clip;
      },
    };
  }

  pushClip(clip, samples, offset) {
    if (this.clip !== clip || !samples.length) return;
    const now = this.context.currentTime;
    if (!Number.isFinite(clip.start)) clip.start = now + clip.lead - offset / clip.rate;
    let at = clip.start + offset / clip.rate;
    if (at < now) {
      clip.late++;
      clip.start += now - at;
      at = now;
    }
    const buffer = this.context.createBuffer(1, samples.length, clip.rate);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) data[i] = Math.max(-1, Math.min(1, samples[i]));
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output);
    source.onended = () => {
      clip.sources.delete(source);
      this.clipEnded(clip);
    };
    clip.sources.add(source);
    source.start(at);
  }

  clipEnded(clip) {
    if (this.clip !== clip || !clip.ended || clip.sources.size > 0) return;
    this.clip = null;
    this.onBufferEnded?.();
  }

  // Seconds into the clip being played (negative before it starts), or -1.
  get bufferTime() {
    return this.clip && Number.isFinite(this.clip.start) ? this.context.currentTime - this.clip.start : -1;
  }

  stopBuffer() {
    const clip = this.clip;
    if (!clip) return;
    this.clip = null;
    for (const source of clip.sources) {
      source.onended = null;
      try {
        source.stop();
      } catch {
        // already stopped
      }
      source.disconnect();
    }
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
