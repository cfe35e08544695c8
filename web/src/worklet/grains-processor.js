// AudioWorkletProcessor "timbrel-grains": the C++ core's neural granular drum
// engine (GrainsKernel, wasm/grains_bindings.cpp; engine/grain_synth.h;
// docs/grains.md "Engine, bindings and page") on the audio thread, with the
// drum machine's step clock (grains/step-clock.js), so that every hit starts
// on its sample, and the path voice's travelling point (grains/latent-path.js).
//
// Per block (at most maxBlock frames) process() only copies numbers:
//   input (mono mix) -> heap (recorded; fed to the onset detector while the
//     beat-box is on: kernel.pushInput)
//   the steps starting in the block -> kernel.trigger(..., frame offset, ...)
//     for every track whose step is on (velocity × the track's gain)
//   the path point -> kernel.setPath(...)
//   kernel.process(m) -> heap -> output, and [input, output] into the shared
//     ring (recorder, meters: audio-ring.js); the playhead, path point and
//     seeds into the status block (grains-status.js)
// Nothing is allocated in process(): the pattern, the path and the heap views
// are set in message handlers, between quanta.
//
// Messages (main -> worklet):
//   {type: 'model', token, image: ArrayBuffer}   (core-processor.js)
//   {type: 'pattern', pattern}   compilePattern()'s form (grains/pattern.js); a
//                                playing pattern changes at its next step
//   {type: 'play', step} {type: 'stop'}
//   {type: 'hit', classA, classB, mix, temperature, seed, gain, embedding, pitch}
//                                one hit at the start of the next block (an
//                                audition); seed 0: a fresh draw; pitch: a
//                                pitched model's MIDI note (-1 or absent: the
//                                class's typical). Replies
//                                {type: 'hit', token, seed}
//   {type: 'path', points: Float64Array (x, y pairs), speed, classIndex, gain, pitch}
//   {type: 'path-speed', speed} {type: 'path-stop'}
//   {type: 'beatbox', on, variation, gain}   the beat-box's hits (variation 0-2)
//   {type: 'voice', morph}   how much of the voice's own grain each beat-box hit
//       keeps: the kernel's morph (1: the class's hit, 0: the hit's attack on the voice's grain)
//   {type: 'kit', boom, tss, ka} the class each beat-box sound plays (a class
//                                index; -1: the model's default); kept across models
//   {type: 'events', token}      replies {type: 'events', token, events:
//                                [{seconds, slot, classIndex}]}: the beat-box's
//                                onsets since the last ask (seconds: in the
//                                kernel's input stream; slot: the sound heard,
//                                0 boom, 1 tss, 2 ka; classIndex: the class played)
//   {type: 'seed', seed}         the fresh draws' generator (tests)
//   {type: 'active', on} {type: 'dispose'}       (core-processor.js)
// Messages (worklet -> main):
//   {type: 'ready', sampleRate, maxBlock, latencySamples}
//   {type: 'model', token, error}
//   {type: 'error', message, sampleRate}          (once; the processor then outputs silence)

import createTimbrelCore from '/core/timbrel-core.mjs';
import { CoreProcessor } from './core-processor.js';
import { AudioRingWriter, STATUS } from './audio-ring.js';
import { GRAINS, SEED_SLOTS, grainsStatusViews } from './grains-status.js';
import { StepClock } from '../grains/step-clock.js';
import { Path, PathPlayer } from '../grains/latent-path.js';

const core = await createTimbrelCore();

const QUANTUM = 128;
const MAX_TRACKS = 8;
const STEPS = 16;
const METER_EVERY = 8; // quanta between meter updates
const LEVEL_SECONDS = 0.05;
const MAX_STEPS_PER_BLOCK = 8;
const NO_INPUT = []; // a node without its input connected (made once: nothing allocated per quantum)

class GrainsProcessor extends CoreProcessor {
  constructor(options) {
    super(core);
    const { ring, status, maxBlock = QUANTUM } = options.processorOptions ?? {};
    this.maxBlock = Math.max(1, Math.min(QUANTUM, maxBlock | 0));
    this.quanta = 0;
    this.nonfinite = 0;
    this.outEnergy = 0;
    this.inEnergy = 0;
    this.peak = 0;
    this.decay = Math.exp(-QUANTUM / (LEVEL_SECONDS * sampleRate));
    this.latency = 0;
    // The pattern, preallocated at its largest (compilePattern()'s arrays are copied in).
    this.tracks = 0;
    this.classA = new Int32Array(MAX_TRACKS);
    this.classB = new Int32Array(MAX_TRACKS);
    this.mix = new Float32Array(MAX_TRACKS);
    this.pitch = new Float32Array(MAX_TRACKS).fill(-1); // a pitched model's MIDI note per track (-1: typical)
    this.temperature = new Float32Array(MAX_TRACKS);
    this.gain = new Float32Array(MAX_TRACKS);
    this.seeds = new Float64Array(MAX_TRACKS);
    this.velocities = new Float32Array(MAX_TRACKS * STEPS);
    this.hasEmbedding = new Uint8Array(MAX_TRACKS);
    this.embeddingSize = 0;
    this.embeddings = new Float32Array(0);
    this.stepOffsets = new Int32Array(MAX_STEPS_PER_BLOCK);
    this.stepIndices = new Int32Array(MAX_STEPS_PER_BLOCK);
    // The path voice.
    this.player = null;
    this.pathClass = 0;
    this.pathPitch = -1;
    this.pathGain = 1;
    this.makeup = 1; // the model's make-up gain (metadata output_gain_db)
    this.beatboxVariation = 0.5;
    this.beatboxGain = 1;
    this.point = { x: 0, y: 0 };
    this.beatbox = false;
    this.random = 0x9e3779b9; // the fresh draws' seeds (xorshift32)
    try {
      if (typeof core.GrainsKernel !== 'function') {
        throw new Error('this build of the WebAssembly core has no GrainsKernel (rebuild the core)');
      }
      if (!(ring instanceof SharedArrayBuffer) || !(status instanceof SharedArrayBuffer)) {
        throw new Error('no SharedArrayBuffer was given to the drum machine (the page is not cross-origin isolated)');
      }
      this.ring = new AudioRingWriter(ring);
      ({ ints: this.ints, floats: this.floats } = grainsStatusViews(status));
      Atomics.store(this.ints, GRAINS.STEP, -1);
      this.clock = new StepClock(Math.round(sampleRate));
      this.kernel = new core.GrainsKernel();
      // Its buffers are made here, once (a model's adoption keeps them): the
      // views are re-made only when the WASM memory grows.
      const problem = this.kernel.prepare(sampleRate, this.maxBlock);
      if (problem) throw new Error(problem);
      // A fresh draw varies around its classes' mean embedding: variation 0
      // is the typical hit of the class (or of the morph).
      this.kernel.setDrawAroundClassMean(true);
      this.makeViews();
      this.latency = this.kernelLatency();
      this.port.postMessage({ type: 'ready', sampleRate, maxBlock: this.maxBlock, latencySamples: this.latency });
    } catch (error) {
      this.fail(error);
    }
  }

  kernelLatency() {
    return typeof this.kernel.latencySamples === 'function' ? this.kernel.latencySamples() : 0;
  }

  makeViews() {
    super.makeViews();
    this.inputPtr = this.kernel.inputPtr();
    this.outputPtr = this.kernel.outputPtr();
    this.embeddingPtr = this.kernel.embeddingPtr();
    this.inputIndex = this.inputPtr >> 2;
    this.outputIndex = this.outputPtr >> 2;
    this.embeddingIndex = this.embeddingPtr >> 2;
  }

  modelReply() {
    this.ring.add(STATUS.MODEL_LOADS, 1);
    this.latency = this.kernelLatency();
    return { latencySamples: this.latency };
  }

  // ---------- messages (between quanta) ----------

  onMessage(data) {
    switch (data.type) {
      case 'pattern':
        this.setPattern(data.pattern);
        break;
      case 'play':
        this.clock.start(Number.isInteger(data.step) ? data.step : 0);
        Atomics.store(this.ints, GRAINS.STEP, -1);
        Atomics.store(this.ints, GRAINS.PLAYING, 1);
        break;
      case 'stop':
        this.clock.stop();
        Atomics.store(this.ints, GRAINS.PLAYING, 0);
        break;
      case 'hit':
        this.audition(data);
        break;
      case 'path':
        this.setPath(data);
        break;
      case 'path-speed':
        if (this.player && Number.isFinite(data.speed)) this.player.setSpeed(Math.max(0, Math.min(1000, data.speed)));
        break;
      case 'path-stop':
        this.player = null;
        this.kernel.setPath(false, 0, 0, this.pathClass, 0, this.pathPitch);
        Atomics.store(this.ints, GRAINS.PATH_ON, 0);
        break;
      case 'beatbox':
        this.beatbox = !!data.on;
        this.beatboxVariation = clamp(data.variation ?? 0.5, 0, 2);
        this.beatboxGain = clamp(data.gain ?? 1, 0, 1);
        if (this.beatbox) this.kernel.setBeatbox(true, this.beatboxVariation, this.beatboxGain * this.makeup);
        Atomics.store(this.ints, GRAINS.BEATBOX_ON, this.beatbox ? 1 : 0);
        break;
      case 'voice':
        this.kernel.setBeatboxMorph(clamp(data.morph ?? 1, 0, 1));
        break;
      case 'kit':
        this.kernel.setBeatboxKit(kitClass(data.boom), kitClass(data.tss), kitClass(data.ka));
        break;
      case 'events':
        this.port.postMessage({ type: 'events', token: data.token, events: this.drainEvents() });
        break;
      case 'makeup':
        // Times a track's gain (<= 1) this stays within the core's bound of 8 per hit.
        this.makeup = clamp(Number.isFinite(data.gain) ? data.gain : 1, 0, 8);
        if (this.beatbox) this.kernel.setBeatbox(true, this.beatboxVariation, this.beatboxGain * this.makeup);
        break;
      case 'seed':
        this.random = (Number(data.seed) >>> 0) || 1;
        this.kernel.setSeed(this.random); // the beat-box's own hits
        break;
      default:
        break;
    }
  }

  setPattern(p) {
    if (!p || !(p.classA instanceof Int32Array) || !(p.velocities instanceof Float32Array)) return;
    const tracks = Math.max(0, Math.min(MAX_TRACKS, p.tracks | 0));
    const size = Math.max(0, p.embeddingSize | 0);
    if (size !== this.embeddingSize) {
      this.embeddingSize = size;
      this.embeddings = new Float32Array(MAX_TRACKS * size);
    }
    this.classA.set(p.classA.subarray(0, MAX_TRACKS));
    this.classB.set(p.classB.subarray(0, MAX_TRACKS));
    this.mix.set(p.mix.subarray(0, MAX_TRACKS));
    if (p.pitch instanceof Float32Array) this.pitch.set(p.pitch.subarray(0, MAX_TRACKS));
    else this.pitch.fill(-1);
    this.temperature.set(p.temperature.subarray(0, MAX_TRACKS));
    this.gain.set(p.gain.subarray(0, MAX_TRACKS));
    this.seeds.set(p.seed.subarray(0, MAX_TRACKS));
    this.velocities.set(p.velocities.subarray(0, MAX_TRACKS * STEPS));
    this.hasEmbedding.set(p.hasEmbedding.subarray(0, MAX_TRACKS));
    if (size > 0 && p.embeddings instanceof Float32Array && p.embeddings.length === MAX_TRACKS * size) this.embeddings.set(p.embeddings);
    else this.hasEmbedding.fill(0);
    this.tracks = tracks;
    this.clock.retime(p.tempo, p.swing);
  }

  nextSeed() {
    let s = this.random;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.random = s >>> 0;
    return this.random;
  }

  audition(data) {
    const classA = data.classA | 0;
    const classB = Number.isInteger(data.classB) && data.classB >= 0 ? data.classB : classA;
    const seed = Number.isInteger(data.seed) && data.seed > 0 ? data.seed >>> 0 : this.nextSeed();
    const embedding = data.embedding instanceof Float32Array && data.embedding.length === this.embeddingSize && this.embeddingSize > 0 ? data.embedding : null;
    if (embedding) {
      this.refreshViews();
      this.heap.set(embedding, this.embeddingIndex);
    }
    this.kernel.trigger(classA, classB, classB === classA ? 0 : clamp01(data.mix), clamp(data.temperature, 0, 2), seed, clamp01(data.gain) * this.makeup, 0, embedding !== null, pitchOf(data.pitch));
    Atomics.add(this.ints, GRAINS.HITS, 1);
    this.port.postMessage({ type: 'hit', token: data.token, seed });
  }

  setPath(data) {
    let path;
    try {
      path = new Path(data.points);
    } catch {
      return; // the page checks its paths; a bad one is ignored
    }
    const speed = Number.isFinite(data.speed) ? Math.max(0, Math.min(1000, data.speed)) : 1;
    if (this.player) {
      this.player.setPath(path);
      this.player.setSpeed(speed);
    } else {
      this.player = new PathPlayer(path, { speed });
    }
    this.pathClass = data.classIndex | 0;
    this.pathPitch = pitchOf(data.pitch);
    this.pathGain = clamp01(data.gain) * this.makeup;
    Atomics.store(this.ints, GRAINS.PATH_ON, 1);
  }

  // The beat-box's onsets as [{seconds, slot, classIndex}] (the kernel's
  // drainEvents() makes JS objects: called here, between quanta).
  drainEvents() {
    const events = [];
    for (const e of this.kernel.drainEvents()) {
      if (Number.isInteger(e.classIndex) && Number.isInteger(e.slot) && Number.isFinite(e.time)) events.push({ seconds: e.time, slot: e.slot, classIndex: e.classIndex });
    }
    Atomics.add(this.ints, GRAINS.ONSETS, events.length);
    return events;
  }

  // ---------- the audio thread ----------

  // While resting, the playhead stays where it was.
  render(inputs, output) {
    const kernel = this.kernel;
    const input = inputs[0] ?? NO_INPUT;
    const n = output.length > 0 ? output[0].length : QUANTUM;
    for (let offset = 0; offset < n; offset += this.maxBlock) {
      const m = Math.min(this.maxBlock, n - offset);
      this.refreshViews();
      let heap = this.heap;
      this.copyInput(input, heap, this.inputIndex, offset, m);
      try {
        if (this.beatbox) kernel.pushInput(m);
        this.triggerSteps(kernel, m);
        if (this.player) {
          this.player.advance(m / sampleRate, this.point);
          kernel.setPath(true, this.point.x, this.point.y, this.pathClass, this.pathGain, this.pathPitch);
        }
        kernel.process(m);
      } catch (error) {
        this.fail(error);
        for (let c = 0; c < output.length; c++) output[c].fill(0);
        return true;
      }
      this.refreshViews();
      heap = this.heap;
      const inBase = this.inputIndex;
      const outBase = this.outputIndex;
      let outEnergy = 0;
      let inEnergy = 0;
      for (let i = 0; i < m; i++) {
        let v = heap[outBase + i];
        if (v - v !== 0) {
          heap[outBase + i] = v = 0; // NaN or Inf never reaches the speakers or the recording
          this.nonfinite++;
        }
        outEnergy += v * v;
        const a = v < 0 ? -v : v;
        if (a > this.peak) this.peak = a;
        const x = heap[inBase + i];
        inEnergy += x * x;
      }
      this.outEnergy = this.decay * this.outEnergy + (1 - this.decay) * (outEnergy / m);
      this.inEnergy = this.decay * this.inEnergy + (1 - this.decay) * (inEnergy / m);
      this.ring.write(heap, inBase, outBase, m);
      for (let c = 0; c < output.length; c++) {
        const channel = output[c];
        for (let i = 0; i < m; i++) channel[offset + i] = heap[outBase + i];
      }
    }
    this.quanta++;
    if (this.player) {
      this.floats[GRAINS.PATH_X] = this.point.x;
      this.floats[GRAINS.PATH_Y] = this.point.y;
    }
    if (this.quanta % METER_EVERY === 0) this.publish(kernel);
    return true;
  }

  // The steps starting in the next m frames: one hit per track whose step is on.
  triggerSteps(kernel, m) {
    const count = this.clock.advance(m, this.stepOffsets, this.stepIndices);
    for (let i = 0; i < count; i++) {
      const step = this.stepIndices[i];
      const offset = this.stepOffsets[i];
      for (let k = 0; k < this.tracks; k++) {
        const velocity = this.velocities[k * STEPS + step];
        if (!(velocity > 0)) continue;
        const seed = this.seeds[k] > 0 ? this.seeds[k] : this.nextSeed();
        const useEmbedding = this.hasEmbedding[k] === 1;
        if (useEmbedding) {
          const heap = this.heap;
          const base = this.embeddingIndex;
          const from = k * this.embeddingSize;
          for (let j = 0; j < this.embeddingSize; j++) heap[base + j] = this.embeddings[from + j];
        }
        const classA = this.classA[k];
        const classB = this.classB[k] >= 0 ? this.classB[k] : classA;
        kernel.trigger(classA, classB, this.mix[k], this.temperature[k], seed, velocity * this.gain[k] * this.makeup, offset, useEmbedding, this.pitch[k]);
        this.ints[GRAINS.LAST_SEED + (k < SEED_SLOTS ? k : 0)] = seed | 0;
        Atomics.add(this.ints, GRAINS.HITS, 1);
      }
      Atomics.add(this.ints, GRAINS.STEP_SEQ, 1);
      Atomics.store(this.ints, GRAINS.STEP_FRAME, (this.ring.frames + offset) | 0);
      Atomics.store(this.ints, GRAINS.STEP, step);
      Atomics.add(this.ints, GRAINS.STEPS_PLAYED, 1);
      Atomics.add(this.ints, GRAINS.STEP_SEQ, 1);
    }
  }

  publish(kernel) {
    const ring = this.ring;
    ring.count(STATUS.QUANTA, this.quanta);
    ring.count(STATUS.NONFINITE_OUTPUTS, this.nonfinite);
    if (typeof kernel.guardState === 'function') ring.count(STATUS.GUARD, kernel.guardState());
    this.floats[GRAINS.PEAK] = this.peak;
    ring.setMeters(10 * Math.log10(this.inEnergy + 1e-12), 10 * Math.log10(this.outEnergy + 1e-12), 0, 0, this.latency);
  }
}

function clamp(v, lo, hi) {
  const x = Number(v);
  return x >= lo ? (x <= hi ? x : hi) : lo; // NaN -> lo
}

const clamp01 = (v) => clamp(v, 0, 1);

// A kit entry: a class index (whole, 0-127), else -1 (the model's default).
const kitClass = (v) => (Number.isInteger(v) && v >= 0 && v < 128 ? v : -1);

// A pitched model's MIDI note (0-127), or -1: the class's typical pitch.
const pitchOf = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(127, v) : -1);

registerProcessor('timbrel-grains', GrainsProcessor);
