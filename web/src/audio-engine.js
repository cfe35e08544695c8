// The live analysis engine on the main thread: owns the AudioContext (device rate,
// never forced), the "timbrel-analyzer" AudioWorkletNode and the shared frame ring.
//
//   source node -> AudioWorkletNode (C++ core) -> destination (monitor, gain 0 by default)
//
// create() must be called from a user gesture (click): the context starts there.

import { createFrameRingBuffer, FrameRingReader } from './worklet/frame-ring.js';

const PROCESSOR_URL = new URL('./worklet/analyzer-processor.js', import.meta.url);
const READY_TIMEOUT_MS = 10000;

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
    try {
      await this.context.audioWorklet.addModule(PROCESSOR_URL);
    } catch (error) {
      throw new EngineLoadError(
        'The audio engine could not be loaded. If you run Timbrel yourself, build the WebAssembly core first (emcmake cmake -B build-wasm && cmake --build build-wasm).',
        error,
      );
    }
    if (this.disposed) throw new EngineLoadError('stopped');
    const ring = createFrameRingBuffer();
    this.node = new AudioWorkletNode(this.context, 'timbrel-analyzer', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: 'explicit', // the context mixes stereo sources down to mono
      channelInterpretation: 'speakers',
      processorOptions: { ring },
    });
    this.reader = new FrameRingReader(ring);
    this.info = await this.waitForReady();
    this.node.port.onmessage = (event) => {
      if (event.data?.type === 'error') {
        this.onCoreError?.(new CoreError(event.data.message, event.data.sampleRate));
      }
    };
    this.node.connect(this.context.destination);
    return this.info;
  }

  waitForReady() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new EngineLoadError('The audio engine did not start in time. Reload the page and try again.'));
      }, READY_TIMEOUT_MS);
      this.node.onprocessorerror = () => {
        clearTimeout(timer);
        reject(new EngineLoadError('The audio engine stopped with an internal error. Reload the page and try again.'));
      };
      this.node.port.onmessage = (event) => {
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
