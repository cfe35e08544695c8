// The Voice panel's engine: the "timbrel-voice" AudioWorkletNode (the C++
// VoiceKernel: voice -> instrument timbre transfer) and the shared status block
// + sample ring it writes.
//
//   source node -> input (worklet) -> output (speakers; gain 0 until monitorGain)
//                                  \-> shared ring [input, output] -> Recorder
//
// Options: {monitorGain: 0..1 (ramped in the worklet; the recording is taken
// before it), params: the VoiceKernel's settings (mode, octaves, inputGainDb,
// gateDb, dryWet, outputGainDb, seed)}. Models come by loadModel(bytes) (the
// engine base); the kernel crossfades the new one in and the page frees the
// old one after that.

import { Engine } from '../audio/engine.js';
import { AudioRingReader, STATUS, createAudioRing } from '../worklet/audio-ring.js';

// The kernel crossfades a new model in; the retired one is freed after that.
const COLLECT_AFTER_MS = [400, 1500];

export class VoiceEngine extends Engine {
  static processor = {
    url: new URL('../worklet/voice-processor.js', import.meta.url),
    name: 'timbrel-voice',
    label: 'voice engine',
  };
  static modelFamily = 'vq_timbre';
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

  later(ms, fn) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
  }

  // A .tmbl file (ArrayBuffer; copied, the caller keeps it): prepared off the
  // audio thread, then crossfaded in by the kernel; the old model is freed a
  // little later. options.gainDb: the model's own level (it keeps it through
  // the crossfade). Resolves {info, ringFrame, latencySamples}; rejects with
  // ModelLoadError (the previous model keeps playing).
  async loadModel(bytes, options) {
    const reply = await super.loadModel(bytes, options);
    this.latencySamples = reply.latencySamples;
    for (const ms of COLLECT_AFTER_MS) this.later(ms, () => this.post({ type: 'collect' }));
    return { info: reply.info, ringFrame: reply.ringFrame, latencySamples: reply.latencySamples };
  }

  setParams(values) {
    this.post({ type: 'params', values });
  }

  // Speakers only (0..1, ramped in the worklet); the recording is taken before it.
  get guardState() {
    return this.reader ? this.reader.get(STATUS.GUARD) : 0;
  }

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
