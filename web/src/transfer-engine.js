// The voice-to-instrument engine on the main thread: owns an AudioContext (device
// rate, never forced), the "timbrel-transfer" AudioWorkletNode and the shared
// status block + sample ring it writes.
//
//   source node -> AudioWorkletNode (C++ TransferKernel) -> destination (speakers, muted by default)
//                                   \-> shared ring [input, output] -> Recorder
//
// Models are fetched here (the worklet has no fetch) and passed by message; the
// worklet calls kernel.loadModel() between quanta and the kernel crossfades.
// The constructor must run inside a user gesture (click): the context starts there.

import { CoreError, MONO_NODE_OPTIONS, PendingReplies, closeWorkletNode, startWorkletNode } from './worklet-node.js';
import { AudioRingReader, createAudioRing } from './worklet/audio-ring.js';

const PROCESSOR_URL = new URL('./worklet/transfer-processor.js', import.meta.url);
const READY_TIMEOUT_MS = 15000;
const MODEL_TIMEOUT_MS = 20000;
// The kernel crossfades a new model in; the retired one is freed after that.
const COLLECT_AFTER_MS = [400, 1500];

// Thrown when the kernel rejects a model file; the previous model keeps playing.
export class ModelLoadError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

export class TransferEngine {
  constructor(AudioContextClass = globalThis.AudioContext) {
    this.context = new AudioContextClass({ latencyHint: 'interactive' });
    this.node = null;
    this.reader = null;
    this.info = null; // {sampleRate, latencySamples, maxBlock}
    this.latencySamples = NaN;
    this.disposed = false;
    this.pending = new PendingReplies(); // token -> the model load waiting for its reply
    this.nextToken = 1;
    this.timers = new Set();
    this.onStateChange = null; // (state) => void
    this.onCoreError = null; // (CoreError) => void, for errors after start
    this.handleStateChange = () => this.onStateChange?.(this.context.state);
    this.context.addEventListener('statechange', this.handleStateChange);
  }

  get sampleRate() {
    return this.context.sampleRate;
  }

  get state() {
    return this.context.state;
  }

  async init() {
    const ring = createAudioRing();
    ({ node: this.node, info: this.info } = await startWorkletNode(this.context, {
      url: PROCESSOR_URL, name: 'timbrel-transfer', timeoutMs: READY_TIMEOUT_MS,
      options: { ...MONO_NODE_OPTIONS, processorOptions: { ring, maxBlock: 128 } },
      isDisposed: () => this.disposed,
    }));
    this.reader = new AudioRingReader(ring);
    this.latencySamples = this.info.latencySamples;
    this.node.port.onmessage = (event) => this.onMessage(event.data);
    this.node.connect(this.context.destination);
    return this.info;
  }

  onMessage(data) {
    if (data?.type === 'model') {
      const request = this.pending.take(data.token);
      if (!request) return;
      if (data.error) {
        request.reject(new ModelLoadError(data.error));
        return;
      }
      this.latencySamples = data.latencySamples;
      let info = {};
      try {
        info = data.info ? JSON.parse(data.info) : {};
      } catch {
        info = {};
      }
      request.resolve({ info, ringFrame: data.ringFrame, latencySamples: data.latencySamples });
      for (const ms of COLLECT_AFTER_MS) this.later(ms, () => this.post({ type: 'collect' }));
    } else if (data?.type === 'error') {
      const error = new CoreError(data.message, data.sampleRate);
      this.pending.rejectAll(error);
      this.onCoreError?.(error);
    }
  }

  later(ms, fn) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
  }

  post(message, transfer) {
    if (!this.disposed) this.node?.port.postMessage(message, transfer ?? []);
  }

  // Sends a .tmbl file to the kernel. bytes: ArrayBuffer (copied, the caller keeps it).
  // Resolves {info, ringFrame, latencySamples}; rejects with ModelLoadError.
  loadModel(bytes) {
    if (!this.node) return Promise.reject(new ModelLoadError('the audio engine is not running'));
    const token = this.nextToken++;
    const copy = bytes.slice(0);
    return this.pending.wait(token, MODEL_TIMEOUT_MS, () => new ModelLoadError('the audio engine did not answer in time'), () =>
      this.post({ type: 'model', token, bytes: copy }, [copy]),
    );
  }

  setParams(values) {
    this.post({ type: 'params', values });
  }

  // Speakers only (0..1, ramped in the worklet); the recording is taken before it.
  setMonitorGain(gain) {
    this.post({ type: 'monitor', gain });
  }

  // The path's latency, in ms: what is included is listed, with each part.
  latency() {
    const rate = this.sampleRate;
    const coreMs = (this.latencySamples / rate) * 1000;
    const ctx = this.context;
    const baseMs = Number.isFinite(ctx.baseLatency) ? ctx.baseLatency * 1000 : NaN;
    const outputMs = Number.isFinite(ctx.outputLatency) ? ctx.outputLatency * 1000 : NaN;
    const parts = [coreMs, baseMs, outputMs].filter(Number.isFinite);
    return { coreMs, baseMs, outputMs, totalMs: parts.reduce((a, b) => a + b, 0) };
  }

  connectSource(sourceNode) {
    sourceNode.connect(this.node);
  }

  resume() {
    return this.context.resume();
  }

  suspend() {
    return this.context.suspend();
  }

  async dispose() {
    if (this.disposed) return;
    this.disposed = true;
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    this.pending.rejectAll(new ModelLoadError('stopped'));
    this.context.removeEventListener('statechange', this.handleStateChange);
    if (this.node) {
      closeWorkletNode(this.node);
      this.node = null;
    }
    this.reader = null;
    try {
      await this.context.close();
    } catch {
      // already closed
    }
  }
}
