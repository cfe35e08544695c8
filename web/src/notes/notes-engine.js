// The Notes panel's engine: renders played through the output (playBuffer,
// from the engine base) and the "timbrel-notes" AudioWorkletNode (the C++
// core's live GMVAE synth, worklet/notes-processor.js) for notes played live:
// each key press carries the latent point [z_pitch, z_timbre] the panel chose
// (the instrument, variation, seed and brightness, or a point of the timbre
// map), and the synth decodes and plays it for as long as the key is held.
//
// Models: loadModel(bytes) of a gmvae .tmbl (the engine base: prepared off the
// audio thread, adopted between quanta).

import { Engine, MODEL_RATE, SOURCE_NODE_OPTIONS } from '../audio/engine.js';
import { NOTES, createNotesStatus, notesStatusViews } from '../worklet/midi-status.js';

export { MODEL_RATE };

export class NotesEngine extends Engine {
  static processor = {
    url: new URL('../worklet/notes-processor.js', import.meta.url),
    name: 'timbrel-notes',
    label: 'live note synthesizer',
  };
  static modelFamily = 'gmvae';
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

  loadModel(bytes, options) {
    this.allNotesOff();
    return super.loadModel(bytes, options);
  }

  // latent: Float32Array(32), [z_pitch, z_timbre] (copied).
  noteOn(pitch, velocity, latent) {
    this.post({ type: 'on', pitch, velocity, latent: Float32Array.from(latent) });
  }

  noteOff(pitch) {
    this.post({ type: 'off', pitch });
  }

  allNotesOff() {
    this.post({ type: 'all-off' });
  }

  get levelDb() {
    return this.floats ? this.floats[NOTES.LEVEL_DB] : -120;
  }

  get peak() {
    return this.floats ? this.floats[NOTES.PEAK] : 0;
  }

  get guardState() {
    return this.ints ? Atomics.load(this.ints, NOTES.GUARD) : 0;
  }

  get noteOns() {
    return this.ints ? Atomics.load(this.ints, NOTES.NOTE_ONS) : 0;
  }

  get latencyMs() {
    if (!this.info?.sampleRate) return NaN;
    const kernel = ((this.info.latencySamples ?? 0) / this.info.sampleRate) * 1000;
    const base = Number.isFinite(this.context.baseLatency) ? this.context.baseLatency * 1000 : 0;
    const out = Number.isFinite(this.context.outputLatency) ? this.context.outputLatency * 1000 : 0;
    return kernel + base + out;
  }
}
