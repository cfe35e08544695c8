// AudioWorkletProcessor "timbrel-draw": runs the C++ core's DrawKernel on the
// audio thread, for the Draw panel's loop mode and for auditioning single codes
// of the codebook map.
//
// Per render quantum, process() only copies numbers:
//   kernel.process(n) -> heap -> output (speakers) and the shared sample ring
//   (the page measures each looped pass from it); counters into the status block.
// Nothing is allocated in process(): heap views are made in the constructor and
// re-made only if the WASM memory grew; the state is tracked here as numbers
// (kernel.state() returns a string, so it is not called in process()).
//
// Messages (main -> worklet), handled between quanta:
//   {type: 'model', token, image: ArrayBuffer}    (core-processor.js): the model
//                                                 must carry its descriptor table (the
//                                                 page's Worker adds one when missing)
//   {type: 'curves', version, hops, name, values: Float32Array, gain: Float32Array|null}
//                                                 setHops + setTarget + setGain + commit:
//                                                 a loop picks them up at its next pass
//   {type: 'play', loop} {type: 'loop', loop} {type: 'stop'} {type: 'code', code}
//   {type: 'settings', smoothing, hysteresis}
//   {type: 'active', on} {type: 'dispose'}        (core-processor.js)
// Messages (worklet -> main):
//   {type: 'ready', sampleRate, maxBlock}
//   {type: 'model', token, error, codes}
//   {type: 'curves', version, error}
//   {type: 'error', message, sampleRate}          (once; the processor then outputs silence)

import createTimbrelCore from '/core/timbrel-core.mjs';
import { CoreProcessor } from './core-processor.js';
import { AudioRingWriter } from './audio-ring.js';
import { DRAW, DRAW_STATE, drawStatusView } from './draw-status.js';

const core = await createTimbrelCore();

const QUANTUM = 128;
const MODEL_RATE = 22050;
const HOP = 256;

class DrawProcessor extends CoreProcessor {
  constructor(options) {
    super(core);
    this.state = DRAW_STATE.STOPPED;
    this.loop = false;
    this.passes = 0;
    this.committedVersion = 0;
    this.quanta = 0;
    this.nonfinite = 0;

    const { ring, status, maxBlock = QUANTUM, maxHops = 900 } = options.processorOptions ?? {};
    this.maxBlock = Math.max(1, maxBlock | 0);
    // The kernel's output lags its hop counter by about one hop (the synth's
    // delay), at the device rate: where a pass's audio begins in the ring.
    this.hopDelay = Math.round((HOP * sampleRate) / MODEL_RATE);
    try {
      if (typeof core.DrawKernel !== 'function') {
        throw new Error('this build of the WebAssembly core has no DrawKernel (rebuild the core)');
      }
      if (!(ring instanceof SharedArrayBuffer) || !(status instanceof SharedArrayBuffer)) {
        throw new Error('no SharedArrayBuffer was given to the drawing engine (the page is not cross-origin isolated)');
      }
      const problem = core.DrawKernel.validateConfig(sampleRate, this.maxBlock, maxHops);
      if (problem) throw new Error(problem);
      this.ring = new AudioRingWriter(ring);
      this.status = drawStatusView(status);
      this.kernel = new core.DrawKernel(sampleRate, this.maxBlock, maxHops);
      this.outputPtr = this.kernel.outputPtr();
      this.makeViews();
      this.port.postMessage({ type: 'ready', sampleRate, maxBlock: this.maxBlock });
    } catch (error) {
      this.fail(error);
    }
  }

  makeViews() {
    super.makeViews();
    this.outputIndex = this.outputPtr >> 2;
  }

  setState(state) {
    this.state = state;
    Atomics.store(this.status, DRAW.STATE, state);
  }

  // A pass begins: where its audio starts in the ring, and which curves it plays.
  markPass(index) {
    Atomics.store(this.status, DRAW.PASS_FRAME, (this.ring.frames + this.hopDelay) | 0);
    Atomics.store(this.status, DRAW.PASS_VERSION, this.committedVersion);
    Atomics.store(this.status, DRAW.PASS_INDEX, index);
  }

  modelReply() {
    this.setState(DRAW_STATE.STOPPED);
    return { codes: this.kernel.codes() };
  }

  onMessage(data) {
    const kernel = this.kernel;
    switch (data.type) {
      case 'curves': {
        kernel.clearTargets();
        let error = kernel.setHops(data.hops | 0);
        if (!error) error = kernel.setTarget(String(data.name), data.values, 1);
        if (!error && data.gain) error = kernel.setGain(data.gain);
        if (!error) error = kernel.commit();
        if (!error) {
          this.committedVersion = data.version | 0;
          Atomics.store(this.status, DRAW.COMMITTED_VERSION, this.committedVersion);
        }
        this.port.postMessage({ type: 'curves', version: data.version, error: error || '' });
        break;
      }
      case 'play':
        this.loop = !!data.loop;
        kernel.setLoop(this.loop);
        kernel.play();
        this.passes = 0;
        Atomics.add(this.status, DRAW.PLAYS, 1);
        Atomics.store(this.status, DRAW.PASSES, 0);
        this.markPass(0);
        this.setState(kernel.hasModel() ? DRAW_STATE.PLAYING : DRAW_STATE.STOPPED);
        break;
      case 'loop':
        this.loop = !!data.loop;
        kernel.setLoop(this.loop);
        break;
      case 'stop':
        kernel.stop();
        this.setState(DRAW_STATE.STOPPED);
        break;
      case 'code':
        kernel.playCode(data.code | 0);
        this.setState(kernel.hasModel() ? DRAW_STATE.CODE : DRAW_STATE.STOPPED);
        break;
      case 'settings':
        if (Number.isFinite(data.smoothing)) kernel.setSmoothing(data.smoothing);
        if (Number.isFinite(data.hysteresis)) kernel.setHysteresis(data.hysteresis);
        break;
      default:
        break;
    }
  }

  // What the speakers get also goes to the ring, where the page measures each pass.
  afterBlock(heap, base, m) {
    this.ring.write(heap, base, base, m);
  }

  render(inputs, output) {
    const kernel = this.kernel;
    const n = output.length > 0 ? output[0].length : QUANTUM;
    if (!this.renderBlocks(output, n)) return true;

    if (this.state === DRAW_STATE.PLAYING) {
      const passes = kernel.passes();
      if (passes !== this.passes) {
        this.passes = passes;
        Atomics.store(this.status, DRAW.PASSES, passes);
        if (this.loop) this.markPass(passes);
        else this.setState(DRAW_STATE.STOPPED); // played once: the kernel fades out
      }
      Atomics.store(this.status, DRAW.POSITION, kernel.position());
    }
    if (this.state !== DRAW_STATE.STOPPED) Atomics.store(this.status, DRAW.LAST_CODE, kernel.lastCode());
    this.quanta++;
    Atomics.store(this.status, DRAW.QUANTA, this.quanta);
    Atomics.store(this.status, DRAW.NONFINITE, this.nonfinite);
    if (this.quanta % 8 === 0 && typeof kernel.guardState === 'function') Atomics.store(this.status, DRAW.GUARD, kernel.guardState());
    return true;
  }
}

registerProcessor('timbrel-draw', DrawProcessor);
