// The Draw panel's audio on the main thread: one AudioContext (device rate, never
// forced) with
//   - the "timbrel-draw" AudioWorkletNode (C++ DrawKernel): loops the drawn curve,
//     picking up a redrawn one at its next pass, and holds single codes for the
//     codebook map;
//   - playback of a finished render (an AudioBuffer at 22050 Hz; the context
//     resamples it).
// Both go through one output gain to the speakers. While looping, the worklet's
// output is read back from a shared sample ring, cut into passes (the worklet
// marks where each begins and which curve version it plays) and handed to
// onPass(pass) so the page can measure what each pass really sounded like.
// The constructor must run inside a user gesture (click): the context starts there.

import { CoreError, PendingReplies, closeWorkletNode, startWorkletNode } from './worklet-node.js';
import { playClip, stopClip } from './buffer-player.js';
import { MAX_HOPS, MODEL_RATE } from './draw-curves.js';
import { AudioRingReader, createAudioRing } from './worklet/audio-ring.js';
import { DRAW, DRAW_STATE, createDrawStatus, drawStatusView } from './worklet/draw-status.js';

const PROCESSOR_URL = new URL('./worklet/draw-processor.js', import.meta.url);
const READY_TIMEOUT_MS = 15000;
const REPLY_TIMEOUT_MS = 20000;
const POLL_MS = 80;
const SCRATCH_FRAMES = 8192;
const KEEP_SECONDS = 24; // of looped output kept for cutting passes (> 2 passes of 10 s)

export class DrawEngine {
  constructor(AudioContextClass = globalThis.AudioContext) {
    this.context = new AudioContextClass({ latencyHint: 'interactive' });
    this.output = this.context.createGain();
    this.output.connect(this.context.destination);
    this.node = null;
    this.reader = null;
    this.status = null;
    this.disposed = false;
    this.pending = new PendingReplies(); // token or curves:version -> the request waiting for its reply
    this.nextToken = 1;
    this.source = null; // AudioBufferSourceNode of a render being played
    this.onStateChange = null; // (contextState) => void
    this.onCoreError = null; // (CoreError) => void, after start
    this.onPass = null; // ({index, version, audio (Float32Array at the context rate), sampleRate}) => void
    this.onBufferEnded = null;
    this.handleStateChange = () => this.onStateChange?.(this.context.state);
    this.context.addEventListener('statechange', this.handleStateChange);
    this.pollTimer = 0;
    this.levelDb = -120;
    this.resetCapture();
  }

  get sampleRate() {
    return this.context.sampleRate;
  }

  get state() {
    return this.context.state;
  }

  async init() {
    const ring = createAudioRing();
    const status = createDrawStatus();
    ({ node: this.node, info: this.info } = await startWorkletNode(this.context, {
      url: PROCESSOR_URL, name: 'timbrel-draw', label: 'drawing engine', timeoutMs: READY_TIMEOUT_MS,
      options: {
        numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
        processorOptions: { ring, status, maxBlock: 128, maxHops: MAX_HOPS },
      },
      isDisposed: () => this.disposed,
    }));
    this.reader = new AudioRingReader(ring);
    this.status = drawStatusView(status);
    this.scratch = { input: new Float32Array(SCRATCH_FRAMES), output: new Float32Array(SCRATCH_FRAMES) };
    this.node.port.onmessage = (event) => this.onMessage(event.data);
    this.node.connect(this.output);
    this.pollTimer = setInterval(() => this.poll(), POLL_MS);
    return this.info;
  }

  onMessage(data) {
    if (data?.type === 'model' || data?.type === 'curves') {
      const key = data.type === 'model' ? data.token : `curves:${data.version}`;
      const request = this.pending.take(key);
      if (!request) return;
      if (data.error) request.reject(new Error(data.error));
      else request.resolve(data);
    } else if (data?.type === 'error') {
      const error = new CoreError(data.message, data.sampleRate);
      this.pending.rejectAll(error);
      this.onCoreError?.(error);
    }
  }

  request(key, message, transfer = []) {
    if (!this.node) return Promise.reject(new Error('the drawing engine is not running'));
    return this.pending.wait(key, REPLY_TIMEOUT_MS, () => new Error('the drawing engine did not answer in time'), () =>
      this.node.port.postMessage(message, transfer),
    );
  }

  post(message) {
    if (!this.disposed) this.node?.port.postMessage(message);
  }

  // A .tmbl file that carries its descriptor table (ArrayBuffer; copied).
  loadModel(bytes) {
    const token = this.nextToken++;
    const copy = bytes.slice(0);
    this.stopLoop();
    return this.request(token, { type: 'model', token, bytes: copy }, [copy]);
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

  // Plays a rendered Float32Array at 22050 Hz once.
  playBuffer(samples) {
    this.stopBuffer();
    this.stopLoop();
    const source = playClip(this.context, this.output, samples, MODEL_RATE, () => {
      if (this.source !== source) return;
      this.source = null;
      this.onBufferEnded?.();
    });
    this.source = source;
    this.bufferStart = this.context.currentTime;
    return source.buffer.duration;
  }

  // Seconds into the render being played, or -1.
  get bufferTime() {
    return this.source ? this.context.currentTime - this.bufferStart : -1;
  }

  stopBuffer() {
    const source = this.source;
    if (!source) return;
    this.source = null;
    stopClip(source);
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

  resume() {
    return this.context.resume();
  }

  async dispose() {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.pollTimer);
    this.pending.rejectAll(new Error('stopped'));
    this.stopBuffer();
    this.context.removeEventListener('statechange', this.handleStateChange);
    if (this.node) {
      closeWorkletNode(this.node);
      this.node = null;
    }
    this.reader = null;
    try {
      await this.context.close();
    } catch {
      // already closed
    }
  }
}
