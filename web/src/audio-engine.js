// The live analysis engine on the main thread: owns the AudioContext (device rate,
// never forced), the "timbrel-analyzer" AudioWorkletNode and the shared frame ring.
//
//   source node -> AudioWorkletNode (C++ core) -> destination (monitor, gain 0 by default)
//
// create() must be called from a user gesture (click): the context starts there.

import { createFrameRingBuffer, FrameRingReader } from './worklet/frame-ring.js';
import { CoreError, MONO_NODE_OPTIONS, startWorkletNode } from './worklet-node.js';

export { CoreError, EngineLoadError } from './worklet-node.js';

const PROCESSOR_URL = new URL('./worklet/analyzer-processor.js', import.meta.url);
const READY_TIMEOUT_MS = 10000;

export class AnalyzerEngine {
  // Synchronous part: call inside the click handler so the context may start.
  constructor(AudioContextClass = globalThis.AudioContext) {
    this.context = new AudioContextClass({ latencyHint: 'interactive' });
    this.node = null;
    this.reader = null;
    this.info = null;
    this.disposed = false;
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

  // Loads the worklet + core and builds the graph. Resolves with the core's info.
  async init() {
    const ring = createFrameRingBuffer();
    ({ node: this.node, info: this.info } = await startWorkletNode(this.context, {
      url: PROCESSOR_URL, name: 'timbrel-analyzer', timeoutMs: READY_TIMEOUT_MS,
      options: { ...MONO_NODE_OPTIONS, processorOptions: { ring } }, isDisposed: () => this.disposed,
    }));
    this.reader = new FrameRingReader(ring);
    this.node.port.onmessage = (event) => {
      if (event.data?.type === 'error') {
        this.onCoreError?.(new CoreError(event.data.message, event.data.sampleRate));
      }
    };
    this.node.connect(this.context.destination);
    return this.info;
  }

  // Monitor path latency: the core's resampling round trip plus the output device.
  get latencyMs() {
    if (!this.info) return NaN;
    const core = (this.info.latencySamples / this.info.sampleRate) * 1000;
    const base = Number.isFinite(this.context.baseLatency) ? this.context.baseLatency * 1000 : 0;
    return core + base;
  }

  connectSource(sourceNode) {
    sourceNode.connect(this.node);
  }

  setMonitorGain(gain) {
    this.node?.port.postMessage({ type: 'monitor', gain });
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
    this.context.removeEventListener('statechange', this.handleStateChange);
    if (this.node) {
      this.node.port.postMessage({ type: 'dispose' });
      this.node.port.onmessage = null;
      this.node.disconnect();
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
