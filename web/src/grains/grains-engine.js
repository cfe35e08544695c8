// The Grains panel's engine: the "timbrel-grains" AudioWorkletNode (the C++
// core's neural granular drum engine, worklet/grains-processor.js), the
// shared sample ring it writes ([input, output] frames: the recorder, the
// meters) and its status block (the playhead, the path point, the seeds).
//
//   microphone -> input (worklet: the beat-box's onset detector) -> output
//                                \-> shared ring [input, output] -> Recorder
//
//   engine.setPattern(compilePattern(pattern, classes, embedding))
//   engine.play() / engine.stop()
//   engine.hit({classA, classB, mix, temperature, seed, gain, embedding, pitch}) -> {seed}
//   engine.setPath({points, speed, classIndex, gain, pitch}) / engine.stopPath()
//     pitch: a pitched model's MIDI note (-1: the class's typical; drum models ignore it)
//   engine.setBeatbox(true); await engine.events() -> [{seconds, slot, classIndex}]
//   engine.setBeatboxKit({boom, tss, ka}) the class each beat-box sound plays (-1: default)
//   engine.setBeatboxMorph(morph) 1: the drum's own hits; lower: toward the voice's grain
//
// Models: loadModel(bytes) of a grains .tmbl (the engine base: prepared off
// the audio thread, adopted between quanta).

import { Engine, MONO_NODE_OPTIONS } from '../audio/engine.js';
import { AudioRingReader, METER, STATUS, createAudioRing } from '../worklet/audio-ring.js';
import { GRAINS, createGrainsStatus, grainsStatusViews } from '../worklet/grains-status.js';

// A MIDI note for the worklet: a number 0-127, else -1 (null: the typical pitch).
const pitchOf = (pitch) => (typeof pitch === 'number' && Number.isFinite(pitch) && pitch >= 0 ? Math.min(127, pitch) : -1);

export class GrainsEngine extends Engine {
  static processor = {
    url: new URL('../worklet/grains-processor.js', import.meta.url),
    name: 'timbrel-grains',
    label: 'drum machine',
  };
  static modelFamily = 'grains';
  static defaults = { maxBlock: 128 };

  constructor(context, options) {
    super(context, options);
    this.ring = createAudioRing();
    this.statusBuffer = createGrainsStatus();
    this.reader = null;
    this.ints = null;
    this.floats = null;
  }

  nodeOptions() {
    return { ...MONO_NODE_OPTIONS, processorOptions: { ring: this.ring, status: this.statusBuffer, maxBlock: this.options.maxBlock } };
  }

  async onStart() {
    this.reader = new AudioRingReader(this.ring);
    ({ ints: this.ints, floats: this.floats } = grainsStatusViews(this.statusBuffer));
  }

  onMessage(data) {
    if (data?.type === 'events' || data?.type === 'hit') this.settle(`${data.type}:${data.token}`, data);
  }

  // compilePattern()'s form; its arrays are handed over (the caller makes new ones).
  setPattern(compiled) {
    const arrays = ['classA', 'classB', 'mix', 'pitch', 'temperature', 'gain', 'seed', 'velocities', 'embeddings', 'hasEmbedding'];
    this.post({ type: 'pattern', pattern: compiled }, arrays.filter((k) => compiled[k]).map((k) => compiled[k].buffer));
  }

  play(step = 0) {
    this.post({ type: 'play', step });
  }

  stop() {
    this.post({ type: 'stop' });
  }

  // One hit now; resolves {seed} (the draw's seed: keep it to hear the same hit again).
  hit({ classA, classB = -1, mix = 0, temperature = 1, seed = 0, gain = 1, embedding = null, pitch = -1 }) {
    const token = this.token();
    return this.request(`hit:${token}`, { type: 'hit', token, classA, classB, mix, temperature, seed, gain, embedding: embedding ? Float32Array.from(embedding) : null, pitch: pitchOf(pitch) });
  }

  // points: x, y pairs (a Path's points); speed in map units per second.
  setPath({ points, speed, classIndex, gain = 1, pitch = -1 }) {
    this.post({ type: 'path', points: Float64Array.from(points), speed, classIndex, gain, pitch: pitchOf(pitch) });
  }

  setPathSpeed(speed) {
    this.post({ type: 'path-speed', speed });
  }

  stopPath() {
    this.post({ type: 'path-stop' });
  }

  setBeatbox(on) {
    this.post({ type: 'beatbox', on: !!on });
  }

  // How much each beat-box hit is its drum's (1) rather than the voice's own
  // encoded grain (0): the kernel's morph.
  setBeatboxMorph(morph) {
    this.post({ type: 'voice', morph: Number.isFinite(morph) ? Math.min(1, Math.max(0, morph)) : 1 });
  }

  // The class index each beat-box sound plays ("boom", "tss", "ka"); -1 or
  // left out: the model's default (the worklet checks them).
  setBeatboxKit({ boom = -1, tss = -1, ka = -1 } = {}) {
    this.post({ type: 'kit', boom, tss, ka });
  }

  // The beat-box's onsets since the last call: [{seconds (in the input
  // stream), slot (the sound heard: 0 boom, 1 tss, 2 ka), classIndex (the class played)}].
  async events() {
    const token = this.token();
    const reply = await this.request(`events:${token}`, { type: 'events', token });
    return reply.events ?? [];
  }

  // The model's make-up gain (linear), applied to hits, the path and the beat-box.
  setOutputGain(gain) {
    this.post({ type: 'makeup', gain });
  }

  setSeed(seed) {
    this.post({ type: 'seed', seed });
  }

  // ---------- what the worklet shares ----------

  get playing() {
    return this.ints ? Atomics.load(this.ints, GRAINS.PLAYING) === 1 : false;
  }

  // The step that started last (-1: none since play).
  get step() {
    return this.ints ? Atomics.load(this.ints, GRAINS.STEP) : -1;
  }

  get stepsPlayed() {
    return this.ints ? Atomics.load(this.ints, GRAINS.STEPS_PLAYED) : 0;
  }

  // {count, step, frame} of the step that started last, read consistently
  // (count: steps since the processor began; frame: its ring frame); null
  // when the worklet was writing them (ask again).
  lastStep() {
    if (!this.ints) return null;
    const seq = Atomics.load(this.ints, GRAINS.STEP_SEQ);
    if (seq & 1) return null;
    const count = Atomics.load(this.ints, GRAINS.STEPS_PLAYED);
    const step = Atomics.load(this.ints, GRAINS.STEP);
    const frame = Atomics.load(this.ints, GRAINS.STEP_FRAME);
    return Atomics.load(this.ints, GRAINS.STEP_SEQ) === seq ? { count, step, frame } : null;
  }

  get hits() {
    return this.ints ? Atomics.load(this.ints, GRAINS.HITS) : 0;
  }

  // Track k's last hit's seed (uint32).
  lastSeed(k) {
    return this.ints ? Atomics.load(this.ints, GRAINS.LAST_SEED + k) >>> 0 : 0;
  }

  get pathPoint() {
    return this.floats && this.ints && Atomics.load(this.ints, GRAINS.PATH_ON) === 1
      ? { x: this.floats[GRAINS.PATH_X], y: this.floats[GRAINS.PATH_Y] }
      : null;
  }

  get levelDb() {
    return this.reader ? this.reader.meter(METER.OUTPUT_DB) : -120;
  }

  get inputDb() {
    return this.reader ? this.reader.meter(METER.INPUT_DB) : -120;
  }

  get peak() {
    return this.floats ? this.floats[GRAINS.PEAK] : 0;
  }

  get guardState() {
    return this.reader ? this.reader.get(STATUS.GUARD) : 0;
  }

  onDispose() {
    this.reader = null;
  }
}
