// AudioWorkletProcessor "timbrel-notes": the C++ core's live GMVAE note synth
// (GmvaeNotesLive, wasm/notes_bindings.cpp; engine/gmvae_synth.h) on the audio
// thread. The Notes panel's keyboard, computer keys, Web MIDI and timbre map
// start notes here, each with the latent point to play; a note is decoded at
// note-on, continues while held and fades out on release; voices are summed
// and their phase rebuilt once per hop (RTPGHI), through the output guard.
//
// Per render quantum, process() only copies numbers: kernel.process(n) ->
// heap -> output, and the output's level into the shared status block (the
// page's meter and the tests read it). Nothing is allocated in process().
// Latents reach the kernel in the message handler, between quanta, through
// its latent buffer in the heap.
//
// Messages (main -> worklet):
//   {type: 'model', token, image: ArrayBuffer}   (core-processor.js)
//   {type: 'on', pitch, velocity, latent: Float32Array(32)}
//   {type: 'off', pitch} {type: 'all-off'}
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
const LEVEL_SECONDS = 0.05;
const LATENT_SIZE = 32;

class NotesProcessor extends CoreProcessor {
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
      if (typeof core.GmvaeNotesLive !== 'function') {
        throw new Error('this build of the WebAssembly core has no GmvaeNotesLive (rebuild the core)');
      }
      if (!(status instanceof SharedArrayBuffer)) {
        throw new Error('no SharedArrayBuffer was given to the note synthesizer (the page is not cross-origin isolated)');
      }
      ({ floats: this.levels, ints: this.counters } = notesStatusViews(status));
      this.kernel = new core.GmvaeNotesLive(sampleRate, this.maxBlock);
      const problem = this.kernel.error();
      if (problem) throw new Error(problem);
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
    this.latentIndex = this.kernel.latentPtr() >> 2;
  }

  refreshViews() {
    if (this.core.HEAPF32.buffer !== this.heapBuffer || this.kernel.outputPtr() !== this.outputPtr) this.makeViews();
  }

  onMessage(data) {
    const kernel = this.kernel;
    switch (data.type) {
      case 'on': {
        const latent = data.latent;
        if (!(latent instanceof Float32Array) || latent.length !== LATENT_SIZE) break;
        this.refreshViews();
        this.heap.set(latent, this.latentIndex);
        kernel.noteOn(data.pitch | 0, data.velocity | 0); // decodes the latent now
        Atomics.add(this.counters, NOTES.NOTE_ONS, 1);
        break;
      }
      case 'off':
        kernel.noteOff(data.pitch | 0);
        break;
      case 'all-off':
        kernel.allNotesOff();
        break;
      default:
        break;
    }
  }

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
    if (this.quanta % 8 === 0) Atomics.store(this.counters, NOTES.GUARD, this.kernel.guardState());
    return true;
  }
}

registerProcessor('timbrel-notes', NotesProcessor);
