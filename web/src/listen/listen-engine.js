// The Listen panel's engine: the "timbrel-listen" AudioWorkletNode (the C++
// ListenKernel: level, loudness, pitch, centroid and a spectrum per hop) and
// the shared frame ring it writes.
//
//   source node -> input (worklet) -> output (the monitor: the core's resampled
//   copy of the input, gain 0 by default) -> wherever it is connected
//
// Options: {monitorGain: 0..4}.

import { Engine } from '../audio/engine.js';
import { createFrameRingBuffer, FrameRingReader } from '../worklet/frame-ring.js';

export class ListenEngine extends Engine {
  static processor = {
    url: new URL('../worklet/listen-processor.js', import.meta.url),
    name: 'timbrel-listen',
    label: 'analyser',
  };
  static defaults = { monitorGain: 0 };
  static readyTimeoutMs = 10000;

  constructor(context, options) {
    super(context, options);
    this.ring = createFrameRingBuffer();
    this.reader = null;
  }

  nodeOptions() {
    return { ...super.nodeOptions(), processorOptions: { ring: this.ring } };
  }

  async onStart() {
    this.reader = new FrameRingReader(this.ring);
    this.setMonitorGain(this.options.monitorGain);
  }

  // Monitor path latency: the core's resampling round trip plus the output device.
  get latencyMs() {
    if (!this.info?.sampleRate) return NaN;
    const core = (this.info.latencySamples / this.info.sampleRate) * 1000;
    const base = Number.isFinite(this.context.baseLatency) ? this.context.baseLatency * 1000 : 0;
    return core + base;
  }

  setMonitorGain(gain) {
    this.post({ type: 'monitor', gain });
  }

  onDispose() {
    this.reader = null;
  }
}
