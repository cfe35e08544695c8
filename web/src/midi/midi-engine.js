// The MIDI panel's engine: renders played through the output (playBuffer, from
// the engine base) and the "timbrel-midi" AudioWorkletNode (the C++ MidiKernel)
// for live playing: notes, the latent XY pad, morphs between two notes.
//
// Options: {maxBlock: 128}. Models: loadModel(bytes) of a cross-modal .tmbl (the engine base).

import { Engine, MODEL_RATE, SOURCE_NODE_OPTIONS } from '../audio/engine.js';
import { NOTES, createNotesStatus, notesStatusViews } from '../worklet/midi-status.js';

export { MODEL_RATE };

export class MidiEngine extends Engine {
  static processor = {
    url: new URL('../worklet/midi-processor.js', import.meta.url),
    name: 'timbrel-midi',
    label: 'live note engine',
  };
  static modelFamily = 'crossmodal_vae';
  static defaults = { maxBlock: 128 };

  constructor(context, options) {
    super(context, options);
    this.statusBuffer = createNotesStatus();
    this.floats = null;
    this.ints = null;
  }

  nodeOptions() {
    return { ...SOURCE_NODE_OPTIONS, processorOptions: { status: this.statusBuffer, maxBlock: this.options.maxBlock } };
  }

  async onStart() {
    ({ floats: this.floats, ints: this.ints } = notesStatusViews(this.statusBuffer));
  }

  // A cross-modal .tmbl (ArrayBuffer; copied): resolves once the worklet holds
  // it. Held notes end first (they belong to the old instrument).
  loadModel(bytes, options) {
    this.allNotesOff();
    return super.loadModel(bytes, options);
  }

  noteOn(pitch, velocity) {
    this.post({ type: 'on', pitch, velocity });
  }

  noteOff(pitch) {
    this.post({ type: 'off', pitch });
  }

  allNotesOff() {
    this.post({ type: 'all-off' });
  }

  setPad(x, y, on) {
    this.post({ type: 'pad', x, y, on });
  }

  setMorph({ pitchA, velocityA, pitchB, velocityB, position, on }) {
    this.post({ type: 'morph', pitchA, velocityA, pitchB, velocityB, position, on });
  }

  // The worklet's output level (dBFS, 50 ms RMS) and peak.
  get levelDb() {
    return this.floats ? this.floats[NOTES.LEVEL_DB] : -120;
  }

  get peak() {
    return this.floats ? this.floats[NOTES.PEAK] : 0;
  }

  get quanta() {
    return this.ints ? Atomics.load(this.ints, NOTES.QUANTA) : 0;
  }

  get guardState() {
    return this.ints ? Atomics.load(this.ints, NOTES.GUARD) : 0;
  }

  get noteOns() {
    return this.ints ? Atomics.load(this.ints, NOTES.NOTE_ONS) : 0;
  }

  // From a key press to the sound: the kernel's latency plus the device's buffers.
  get latencyMs() {
    if (!this.info?.sampleRate) return NaN;
    const kernel = (this.info.latencySamples / this.info.sampleRate) * 1000;
    const base = Number.isFinite(this.context.baseLatency) ? this.context.baseLatency * 1000 : 0;
    const out = Number.isFinite(this.context.outputLatency) ? this.context.outputLatency * 1000 : 0;
    return kernel + base + out;
  }
}
