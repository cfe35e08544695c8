// The Draw panel's engine:
//   - the "timbrel-draw" AudioWorkletNode (C++ DrawKernel): loops the drawn curve,
//     picking up a redrawn one at its next pass, and holds single codes for the
//     codebook map;
//   - playback of a finished render (playBuffer, from the engine base).
// Both go through the engine's output. While looping, the worklet's output is
// read back from a shared sample ring, cut into passes (the worklet marks where
// each begins and which curve version it plays) and handed to onPass(pass) so
// the page can measure what each pass really sounded like.

import { Engine, SOURCE_NODE_OPTIONS } from '../audio/engine.js';
import { AudioRingReader, createAudioRing } from '../worklet/audio-ring.js';
import { DRAW, DRAW_STATE, createDrawStatus, drawStatusView } from '../worklet/draw-status.js';
import { MAX_HOPS } from './draw-curves.js';

const POLL_MS = 80;
const SCRATCH_FRAMES = 8192;
const KEEP_SECONDS = 24; // of looped output kept for cutting passes (> 2 passes of 10 s)

export class DrawEngine extends Engine {
  static processor = {
    url: new URL('../worklet/draw-processor.js', import.meta.url),
    name: 'timbrel-draw',
    label: 'drawing engine',
  };
  static modelFamily = 'vq_timbre';
  static defaults = { maxBlock: 128, maxHops: MAX_HOPS };

  constructor(context, options) {
    super(context, options);
    this.ring = createAudioRing();
    this.statusBuffer = createDrawStatus();
    this.reader = null;
    this.status = null;
    this.onPass = null; // ({index, version, audio (Float32Array at the context rate), sampleRate}) => void
    this.pollTimer = 0;
    this.levelDb = -120;
    this.resetCapture();
  }

  nodeOptions() {
    return {
      ...SOURCE_NODE_OPTIONS,
      processorOptions: { ring: this.ring, status: this.statusBuffer, maxBlock: this.options.maxBlock, maxHops: this.options.maxHops },
    };
  }

  async onStart() {
    this.reader = new AudioRingReader(this.ring);
    this.status = drawStatusView(this.statusBuffer);
    this.scratch = { input: new Float32Array(SCRATCH_FRAMES), output: new Float32Array(SCRATCH_FRAMES) };
    this.pollTimer = setInterval(() => this.poll(), POLL_MS);
  }

  onMessage(data) {
    if (data?.type === 'curves') this.settle(`curves:${data.version}`, data);
  }

  // A .tmbl file that carries its descriptor table (ArrayBuffer; copied): the
  // loop stops first (it played the old instrument).
  loadModel(bytes, options) {
    this.stopLoop();
    return super.loadModel(bytes, options);
  }

  // Curves for the next pass (or the next play): resolves once committed.
  setCurves({ version, hops, name, values, gain }) {
    return this.request(`curves:${version}`, {
      type: 'curves',
      version,
      hops,
      name,
      values: Float32Array.from(values),
      gain: gain ? Float32Array.from(gain) : null,
    });
  }

  setSettings(settings) {
    this.post({ type: 'settings', ...settings });
  }

  // ---------- transport ----------

  get drawState() {
    return this.status ? Atomics.load(this.status, DRAW.STATE) : DRAW_STATE.STOPPED;
  }

  get position() {
    return this.status ? Atomics.load(this.status, DRAW.POSITION) : 0;
  }

  get guardState() {
    return this.status ? Atomics.load(this.status, DRAW.GUARD) : 0;
  }

  get lastCode() {
    return this.status ? Atomics.load(this.status, DRAW.LAST_CODE) : -1;
  }

  playLoop() {
    this.stopBuffer();
    this.resetCapture();
    this.capturing = true;
    this.awaitingPlay = true;
    this.reader?.skipToNow();
    this.post({ type: 'play', loop: true });
  }

  // Ends the loop at the end of the current pass (false) or now (true).
  stopLoop(now = true) {
    this.capturing = false;
    if (now) this.post({ type: 'stop' });
    else this.post({ type: 'loop', loop: false });
  }

  playCode(code) {
    this.stopBuffer();
    this.capturing = false;
    this.post({ type: 'code', code });
  }

  stopCode() {
    if (this.drawState === DRAW_STATE.CODE) this.post({ type: 'stop' });
  }

  // A finished render (at the model rate), once; ends a loop.
  playBuffer(samples, rate) {
    this.stopLoop();
    return super.playBuffer(samples, rate);
  }

  stopAll() {
    this.stopBuffer();
    this.stopLoop();
  }

  // ---------- looped passes, read back from the ring ----------

  resetCapture() {
    this.capturing = false;
    this.awaitingPlay = false;
    this.chunks = []; // [{frame (ring frame of its first sample), data}]
    this.seenPass = -1;
    this.seenPlays = this.status ? Atomics.load(this.status, DRAW.PLAYS) : 0;
    this.passStarts = new Map(); // index -> {frame, version}
    this.finished = []; // complete passes waiting for their last samples
  }

  poll() {
    if (!this.reader || this.disposed) return;
    let energy = 0;
    let count = 0;
    const capturing = this.capturing;
    this.reader.read(this.scratch, (input, output, frame) => {
      for (let i = 0; i < output.length; i++) energy += output[i] * output[i];
      count += output.length;
      if (capturing) this.chunks.push({ frame, data: output.slice() });
    });
    // The worklet's output level over the last poll (dBFS, RMS).
    if (count > 0) this.levelDb = 10 * Math.log10(energy / count + 1e-12);
    if (!capturing) return;
    const keep = KEEP_SECONDS * this.sampleRate;
    let total = this.chunks.reduce((n, c) => n + c.data.length, 0);
    while (total > keep && this.chunks.length > 1) total -= this.chunks.shift().data.length;

    // The pass that began last; a pass is complete once the next one began.
    const status = this.status;
    const plays = Atomics.load(status, DRAW.PLAYS);
    const index = Atomics.load(status, DRAW.PASS_INDEX);
    const frame = Atomics.load(status, DRAW.PASS_FRAME);
    const version = Atomics.load(status, DRAW.PASS_VERSION);
    if (Atomics.load(status, DRAW.PASS_INDEX) !== index) return; // changed while reading: next time
    if (this.awaitingPlay) {
      if (plays === this.seenPlays) return; // the play message is not handled yet
      this.awaitingPlay = false;
      this.seenPlays = plays;
    }
    if (index !== this.seenPass) {
      this.passStarts.set(index, { frame, version });
      this.seenPass = index;
      const previous = this.passStarts.get(index - 1);
      if (previous) {
        this.passStarts.delete(index - 1);
        this.finished.push({ index: index - 1, version: previous.version, from: previous.frame, to: frame });
      }
    }
    // Passes whose audio has fully arrived in the ring are cut and handed on.
    const last = this.chunks[this.chunks.length - 1];
    const written = last ? (last.frame + last.data.length) | 0 : 0;
    while (this.finished.length && ((written - this.finished[0].to) | 0) >= 0) {
      const pass = this.finished.shift();
      const audio = this.cut(pass.from, pass.to);
      if (audio) this.onPass?.({ index: pass.index, version: pass.version, audio, sampleRate: this.sampleRate });
    }
  }

  // The samples of ring frames [from, to), or null when some are no longer held.
  cut(from, to) {
    const length = (to - from) | 0;
    if (length <= 0) return null;
    const out = new Float32Array(length);
    let filled = 0;
    for (const { frame, data } of this.chunks) {
      const start = (from - frame) | 0;
      const a = Math.max(0, start);
      const b = Math.min(data.length, start + length);
      if (b > a) {
        out.set(data.subarray(a, b), a - start);
        filled += b - a;
      }
    }
    return filled === length ? out : null;
  }

  onDispose() {
    clearInterval(this.pollTimer);
    this.reader = null;
  }
}
