// AudioWorkletProcessor "timbrel-voice": runs the C++ core's VoiceKernel
// (the Voice panel: voice -> instrument timbre transfer) on the audio thread.
//
// Per render quantum, process() only copies numbers:
//   input (mono mix) -> WASM heap -> kernel.process(n) -> heap
//     -> shared ring [input, output] (recorder) and -> output × monitor gain (speakers)
//   every METER_EVERY quanta: meters and counters into the shared status block
// Nothing is allocated in process(): heap views are made in the constructor and
// re-made only if the WASM memory grew (a cheap buffer identity check).
//
// Messages (main -> worklet), handled between quanta, where allocation is allowed:
//   {type: 'model', token, image: ArrayBuffer}   (core-processor.js) the old model
//                                                keeps playing until the new one
//                                                crossfades in (the kernel's job)
//   {type: 'params', values: {mode, octaves, inputGainDb, gateDb, dryWet, outputGainDb, seed}}
//   {type: 'monitor', gain}                      speakers only; the recording is unaffected
//   {type: 'collect'}                            frees retired models (kernel.collect())
//   {type: 'active', on} {type: 'dispose'}       (core-processor.js)
// Messages (worklet -> main):
//   {type: 'ready', sampleRate, latencySamples, maxBlock}
//   {type: 'model', token, error, latencySamples, ringFrame}
//   {type: 'error', message, sampleRate}          (once; the processor then outputs silence)

import createTimbrelCore from '/core/timbrel-core.mjs';
import { CoreProcessor } from './core-processor.js';
import { AudioRingWriter, STATUS } from './audio-ring.js';

// The core module is compiled synchronously (-sWASM_ASYNC_COMPILATION=0, -sSINGLE_FILE=1);
// the top-level await lets addModule() resolve only once it is ready.
const core = await createTimbrelCore();

const QUANTUM = 128;
const METER_EVERY = 8; // quanta between meter updates (~21 ms at 48 kHz)
// Monitor gain moves linearly over one quantum, at most this much per quantum
// (~10 ms from 0 to 1 at 48 kHz): switching the speakers on or off does not click.
const GAIN_STEP = 0.035;

const SETTERS = {
  mode: 'setMode',
  octaves: 'setOctaves',
  inputGainDb: 'setInputGainDb',
  gateDb: 'setGateDb',
  dryWet: 'setDryWet',
  outputGainDb: 'setOutputGainDb',
  seed: 'setSeed',
};

class VoiceProcessor extends CoreProcessor {
  constructor(options) {
    super(core);
    this.targetGain = 0;
    this.gain = 0;
    this.nextFrame = -1;
    this.hadInput = false;
    this.quanta = 0;
    this.lost = 0;
    this.nonfiniteOut = 0;

    const { ring, maxBlock = QUANTUM } = options.processorOptions ?? {};
    this.maxBlock = Math.max(1, maxBlock | 0);
    try {
      if (typeof core.VoiceKernel !== 'function') {
        throw new Error('this build of the WebAssembly core has no VoiceKernel (rebuild the core)');
      }
      // A bad configuration would abort inside the kernel's constructor: checked first.
      const problem = core.VoiceKernel.validateRate(sampleRate);
      if (problem) throw new Error(problem);
      if (!(ring instanceof SharedArrayBuffer)) {
        throw new Error('no SharedArrayBuffer was given to the voice engine (the page is not cross-origin isolated)');
      }
      this.ring = new AudioRingWriter(ring);
      this.kernel = new core.VoiceKernel(sampleRate, this.maxBlock);
      this.inputPtr = this.kernel.inputPtr();
      this.outputPtr = this.kernel.outputPtr();
      this.makeViews();
      this.latency = this.kernel.latencySamples();
      this.port.postMessage({ type: 'ready', sampleRate, latencySamples: this.latency, maxBlock: this.maxBlock });
    } catch (error) {
      this.fail(error);
    }
  }

  makeViews() {
    super.makeViews();
    this.inputIndex = this.inputPtr >> 2;
    this.outputIndex = this.outputPtr >> 2;
  }

  onMessage(data) {
    if (data.type === 'monitor') {
      const g = Number(data.gain);
      this.targetGain = Number.isFinite(g) ? Math.min(Math.max(g, 0), 1) : 0;
    } else if (data.type === 'params') {
      this.setParams(this.kernel, data.values ?? {});
    }
  }

  // The model's own level (its 'model' message's gainDb) goes with it.
  adoptImage(message) {
    this.kernel.setNextModelGainDb(Number.isFinite(message.gainDb) ? message.gainDb : 0);
    return super.adoptImage(message);
  }

  // Every message is also a moment to free models the kernel has crossfaded out.
  receive(data) {
    super.receive(data);
    if (this.kernel && !this.failed) this.kernel.collect();
  }

  modelReply() {
    const kernel = this.kernel;
    this.ring.add(STATUS.MODEL_LOADS, 1);
    this.latency = kernel.latencySamples();
    return {
      latencySamples: this.latency,
      ringFrame: this.ring.frames, // the first frame the new model contributes to
    };
  }

  setParams(kernel, values) {
    for (const key in SETTERS) {
      if (!(key in values)) continue;
      const value = values[key];
      const setter = kernel[SETTERS[key]];
      if (typeof setter !== 'function') continue;
      if (key === 'mode') setter.call(kernel, String(value));
      else if (Number.isFinite(Number(value))) setter.call(kernel, Number(value));
    }
  }

  // While resting, nothing is lost: the frame counter starts afresh.
  silence(output) {
    this.nextFrame = -1;
    return super.silence(output);
  }

  render(inputs, output) {
    const kernel = this.kernel;
    const input = inputs[0];
    const n = output.length > 0 ? output[0].length : input.length > 0 ? input[0].length : QUANTUM;

    // Lost quanta: a block of another size, or a jump in the context's frame counter
    // while a source was connected (with nothing connected, the browser may skip
    // calling process(); nothing is lost then).
    if (n !== QUANTUM) this.lost++;
    if (this.nextFrame >= 0 && currentFrame !== this.nextFrame && this.hadInput && input.length > 0) {
      const gap = currentFrame - this.nextFrame;
      this.lost += Math.max(1, Math.round(Math.abs(gap) / QUANTUM));
      this.ring.count(STATUS.LAST_GAP, gap);
      this.ring.count(STATUS.LAST_GAP_QUANTUM, this.quanta);
    }
    this.nextFrame = currentFrame + n;
    this.hadInput = input.length > 0;

    const from = this.gain;
    const to = this.targetGain === from ? from
      : Math.abs(this.targetGain - from) <= GAIN_STEP ? this.targetGain
        : from + Math.sign(this.targetGain - from) * GAIN_STEP;
    this.gain = to;

    for (let offset = 0; offset < n; offset += this.maxBlock) {
      const m = Math.min(this.maxBlock, n - offset);
      this.refreshViews(); // memory grew
      let heap = this.heap;
      this.copyInput(input, heap, this.inputIndex, offset, m);

      try {
        kernel.process(m);
      } catch (error) {
        this.fail(error);
        for (let c = 0; c < output.length; c++) output[c].fill(0);
        return true;
      }
      this.refreshViews();
      heap = this.heap;

      const outBase = this.outputIndex;
      for (let i = 0; i < m; i++) {
        const v = heap[outBase + i];
        if (v - v !== 0) {
          heap[outBase + i] = 0; // NaN or Inf never reaches the speakers or the recording
          this.nonfiniteOut++;
        }
      }
      this.ring.write(heap, this.inputIndex, outBase, m);
      const step = (to - from) / n;
      for (let c = 0; c < output.length; c++) {
        const channel = output[c];
        for (let i = 0; i < m; i++) channel[offset + i] = heap[outBase + i] * (from + step * (offset + i));
      }
    }

    this.quanta++;
    if (this.quanta % METER_EVERY === 0) this.publish(kernel);
    return true;
  }

  publish(kernel) {
    const ring = this.ring;
    ring.count(STATUS.QUANTA, this.quanta);
    ring.count(STATUS.LOST_QUANTA, this.lost);
    ring.count(STATUS.UNDERRUNS, kernel.underruns());
    if (typeof kernel.overruns === 'function') ring.count(STATUS.OVERRUNS, kernel.overruns());
    ring.count(STATUS.NONFINITE_INPUTS, kernel.nonfiniteInputs());
    ring.count(STATUS.NONFINITE_OUTPUTS, this.nonfiniteOut);
    if (typeof kernel.guardState === 'function') ring.count(STATUS.GUARD, kernel.guardState());
    ring.setMeters(kernel.inputLevelDb(), kernel.outputLevelDb(), kernel.lastF0(), kernel.lastVoiced() ? 1 : 0, this.latency);
  }
}

registerProcessor('timbrel-voice', VoiceProcessor);
