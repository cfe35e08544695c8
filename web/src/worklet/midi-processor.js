// AudioWorkletProcessor "timbrel-midi": the C++ core's MidiKernel on the
// audio thread. It plays notes of a cross-modal model live (the MIDI panel's
// on-screen keyboard, computer keys and Web MIDI), a point of the latent XY
// pad, or a morph between two notes.
//
// Per render quantum, process() only copies numbers: kernel.process(n) ->
// heap -> output, and the output's level into the shared status block (the
// page's meter and the tests read it). Nothing is allocated in process():
// heap views are made in the constructor and re-made only if the WASM memory
// grew. Models are loaded in the message handler, between quanta.
//
// Messages (main -> worklet):
//   {type: 'model', token, image: ArrayBuffer}   (core-processor.js)
//   {type: 'on', pitch, velocity} {type: 'off', pitch} {type: 'all-off'}
//   {type: 'pad', x, y, on}
//   {type: 'morph', pitchA, velocityA, pitchB, velocityB, position, on}
//   {type: 'active', on} {type: 'dispose'}       (core-processor.js)
// Messages (worklet -> main):
//   {type: 'ready', sampleRate, maxBlock, latencySamples}
//   {type: 'model', token, error}
//   {type: 'error', message, sampleRate}          (once; the processor then outputs silence)

import createTimbrelCore from '/core/timbrel-core.mjs';
import { CoreProcessor } from './core-processor.js';
import { NOTES, notesStatusViews } from './midi-status.js';

const core = await createTimbrelCore();

const QUANTUM = 128;
const LEVEL_SECONDS = 0.05; // the meter's time constant

class MidiProcessor extends CoreProcessor {
  constructor(options) {
    super(core);
    this.energy = 0;
    this.quantumEnergy = 0;
    this.peak = 0;
    this.quanta = 0;
    this.nonfinite = 0;
    const { status, maxBlock = QUANTUM } = options.processorOptions ?? {};
    this.maxBlock = Math.max(1, maxBlock | 0);
    this.decay = Math.exp(-QUANTUM / (LEVEL_SECONDS * sampleRate));
    try {
      if (typeof core.MidiKernel !== 'function') {
        throw new Error('this build of the WebAssembly core has no MidiKernel (rebuild the core)');
      }
      if (!(status instanceof SharedArrayBuffer)) {
        throw new Error('no SharedArrayBuffer was given to the note engine (the page is not cross-origin isolated)');
      }
      ({ floats: this.levels, ints: this.counters } = notesStatusViews(status));
      this.kernel = new core.MidiKernel(sampleRate, this.maxBlock);
      // A configuration the core cannot play (e.g. the device rate) leaves it silent with a reason.
      const problem = this.kernel.error();
      if (problem) throw new Error(problem);
      this.outputPtr = this.kernel.outputPtr();
      this.makeViews();
      this.port.postMessage({ type: 'ready', sampleRate, maxBlock: this.maxBlock, latencySamples: this.kernel.latencySamples() });
    } catch (error) {
      this.fail(error);
    }
  }

  makeViews() {
    super.makeViews();
    this.outputPtr = this.kernel.outputPtr();
    this.outputIndex = this.outputPtr >> 2;
  }

  // A new model may move the kernel's output buffer.
  refreshViews() {
    if (this.core.HEAPF32.buffer !== this.heapBuffer || this.kernel.outputPtr() !== this.outputPtr) this.makeViews();
  }

  onMessage(data) {
    const kernel = this.kernel;
    switch (data.type) {
      case 'on':
        kernel.noteOn(data.pitch | 0, data.velocity | 0);
        Atomics.add(this.counters, NOTES.NOTE_ONS, 1);
        break;
      case 'off':
        kernel.noteOff(data.pitch | 0);
        break;
      case 'all-off':
        kernel.allNotesOff();
        break;
      case 'pad':
        kernel.setPad(+data.x, +data.y, !!data.on);
        break;
      case 'morph':
        kernel.setMorph(data.pitchA | 0, data.velocityA | 0, data.pitchB | 0, data.velocityB | 0, +data.position, !!data.on);
        break;
      default:
        break;
    }
  }

  // The meter: energy and peak of each block renderBlocks() plays.
  afterBlock(heap, base, m) {
    let energy = this.quantumEnergy;
    for (let i = 0; i < m; i++) {
      const v = heap[base + i];
      energy += v * v;
      const a = v < 0 ? -v : v;
      if (a > this.peak) this.peak = a;
    }
    this.quantumEnergy = energy;
  }

  render(inputs, output) {
    const n = output.length > 0 ? output[0].length : QUANTUM;
    this.quantumEnergy = 0;
    if (!this.renderBlocks(output, n)) return true;
    this.energy = this.decay * this.energy + (1 - this.decay) * (this.quantumEnergy / n);
    this.levels[NOTES.LEVEL_DB] = 10 * Math.log10(this.energy + 1e-12);
    this.levels[NOTES.PEAK] = this.peak;
    this.quanta++;
    Atomics.store(this.counters, NOTES.QUANTA, this.quanta);
    Atomics.store(this.counters, NOTES.NONFINITE, this.nonfinite);
    if (this.quanta % 8 === 0 && typeof this.kernel?.guardState === 'function') Atomics.store(this.counters, NOTES.GUARD, this.kernel.guardState());
    return true;
  }
}

registerProcessor('timbrel-midi', MidiProcessor);
