// The Voice panel's engine: the "timbrel-voice" AudioWorkletNode (the C++
// VoiceKernel: voice -> instrument timbre transfer) and the shared status block
// + sample ring it writes.
//
//   source node -> input (worklet) -> output (speakers; gain 0 until monitorGain)
//                                  \-> shared ring [input, output] -> Recorder
//
// Options: {monitorGain: 0..1 (ramped in the worklet; the recording is taken
// before it), params: the VoiceKernel's settings (mode, octaves, inputGainDb,
// gateDb, dryWet, outputGainDb, seed)}. Models come by loadModel(bytes); the
// kernel crossfades the new one in and the page frees the old one after that.

import { Engine, ModelLoadError } from '../audio/engine.js';
import { AudioRingReader, createAudioRing } from '../worklet/audio-ring.js';

// The kernel crossfades a new model in; the retired one is freed after that.
const COLLECT_AFTER_MS = [400, 1500];

export class VoiceEngine extends Engine {
  static processor = {
    url: new URL('../worklet/voice-processor.js', import.meta.url),
    name: 'timbrel-voice',
    label: 'voice engine',
  };
  static defaults = { monitorGain: 0, params: {}, maxBlock: 128 };

  constructor(context, options) {
    super(context, options);
    this.ring = createAudioRing();
    this.reader = null;
    this.latencySamples = NaN;
    this.timers = new Set();
  }

  nodeOptions() {
    return { ...super.nodeOptions(), processorOptions: { ring: this.ring, maxBlock: this.options.maxBlock } };
  }

  async onStart(info) {
    this.reader = new AudioRingReader(this.ring);
    this.latencySamples = info.latencySamples;
    this.setParams(this.options.params);
    this.setMonitorGain(this.options.monitorGain);
  }

  onMessage(data) {
    if (data?.type !== 'model') return;
    if (!data.error) this.latencySamples = data.latencySamples;
    const settled = this.settle(data.token, data, (message) => new ModelLoadError(message));
    if (settled && !data.error) {
      for (const ms of COLLECT_AFTER_MS) this.later(ms, () => this.post({ type: 'collect' }));
    }
  }

  later(ms, fn) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
  }

  // Sends a .tmbl file to the kernel. bytes: ArrayBuffer (copied, the caller keeps it).
  // Resolves {info, ringFrame, latencySamples}; rejects with ModelLoadError.
  async loadModel(bytes) {
    if (!this.node) throw new ModelLoadError('the voice engine is not running');
    const token = this.token();
    const copy = bytes.slice(0);
    const reply = await this.request(token, { type: 'model', token, bytes: copy }, [copy]);
    let info;
    try {
      info = reply.info ? JSON.parse(reply.info) : {};
    } catch {
      info = {}; // a model card without facts
    }
    return { info, ringFrame: reply.ringFrame, latencySamples: reply.latencySamples };
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

  onDispose() {
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    this.reader = null;
  }
}
