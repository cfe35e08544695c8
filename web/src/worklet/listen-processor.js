// AudioWorkletProcessor "timbrel-listen": runs the C++ core's ListenKernel (the
// Listen panel's analysis) on the audio thread.
//
// Per render quantum, process() only copies numbers:
//   input -> WASM heap -> kernel.process(n) -> heap -> output (monitor, default gain 0)
//   each queued analysis frame -> SharedArrayBuffer ring (read by the page)
// Nothing is allocated in process(): heap views are made in the constructor and
// re-made only if the WASM memory grew (a cheap buffer identity check).
//
// Messages: main -> worklet {type: 'monitor', gain} (and the base's: dispose, active)
//           worklet -> main {type: 'ready', ...info} | {type: 'error', message} (once)

import createTimbrelCore from '/core/timbrel-core.mjs';
import { CoreProcessor } from './core-processor.js';
import { FrameRingWriter, FRAME_FIELDS } from './frame-ring.js';

// The core module is compiled synchronously (-sWASM_ASYNC_COMPILATION=0, -sSINGLE_FILE=1);
// the top-level await lets addModule() resolve only once it is ready.
const core = await createTimbrelCore();

const QUANTUM = 128;
// Monitor gain moves at most this much per quantum (~10 ms from 0 to 1 at 48 kHz):
// toggling monitoring does not click.
const GAIN_STEP = 0.035;

class ListenProcessor extends CoreProcessor {
  constructor(options) {
    super(core);
    this.targetGain = 0;
    this.gain = 0;

    const { ring } = options.processorOptions ?? {};
    try {
      const problem = core.ListenKernel.validateRate(sampleRate, QUANTUM);
      if (problem) throw new Error(problem);
      if (!(ring instanceof SharedArrayBuffer)) {
        throw new Error('no SharedArrayBuffer was given to the analyser (the page is not cross-origin isolated)');
      }
      this.ring = new FrameRingWriter(ring);
      this.kernel = new core.ListenKernel(sampleRate, QUANTUM);
      this.bins = this.kernel.spectrumSize();
      if (this.bins > this.ring.maxSpectrumBins) {
        throw new Error(`spectrum of ${this.bins} bins does not fit the ring buffer`);
      }
      this.ring.setSpectrumSize(this.bins);
      this.kernel.setMonitorGain(0);
      this.inputPtr = this.kernel.inputPointer();
      this.outputPtr = this.kernel.outputPointer();
      this.framePtr = this.kernel.framePointer();
      this.spectrumPtr = this.kernel.spectrumPointer();
      this.makeViews();
      this.port.postMessage({
        type: 'ready',
        sampleRate,
        latencySamples: this.kernel.latencySamples(),
        frameRateHz: this.kernel.frameRateHz(),
        modelRate: this.kernel.modelRate(),
        spectrumSize: this.bins,
        frameFields: FRAME_FIELDS,
      });
    } catch (error) {
      this.fail(error);
    }
  }

  makeViews() {
    super.makeViews();
    this.inputIndex = this.inputPtr >> 2;
    this.outputIndex = this.outputPtr >> 2;
    this.frameIndex = this.framePtr >> 2;
    this.spectrumIndex = this.spectrumPtr >> 2;
  }

  onMessage(data) {
    if (data.type === 'monitor') {
      const g = Number(data.gain);
      this.targetGain = Number.isFinite(g) ? Math.min(Math.max(g, 0), 4) : 0;
    }
  }

  render(inputs, output) {
    const kernel = this.kernel;
    this.refreshViews(); // memory grew
    const heap = this.heap;

    const input = inputs[0];
    const n = output.length > 0 ? output[0].length : input.length > 0 ? input[0].length : QUANTUM;
    this.copyInput(input, heap, this.inputIndex, 0, n);

    if (this.gain !== this.targetGain) {
      const d = this.targetGain - this.gain;
      this.gain = Math.abs(d) <= GAIN_STEP ? this.targetGain : this.gain + Math.sign(d) * GAIN_STEP;
      kernel.setMonitorGain(this.gain);
    }

    kernel.process(n);
    this.refreshViews();

    const outBase = this.outputIndex;
    const h = this.heap;
    for (let c = 0; c < output.length; c++) {
      const channel = output[c];
      for (let i = 0; i < n; i++) channel[i] = h[outBase + i];
    }

    while (kernel.popFrame()) {
      this.ring.write(this.heap, this.frameIndex, this.spectrumIndex, this.bins);
    }
    this.ring.tick();
    return true;
  }
}

registerProcessor('timbrel-listen', ListenProcessor);
