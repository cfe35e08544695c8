// Sound for the MIDI and Transcribe panels, on the main thread.
//
// ClipPlayer: one AudioContext (device rate, never forced) that plays
//   Float32Array clips at 22050 Hz (renders, uploaded or recorded clips; the
//   context resamples) through an output gain, one at a time, with the
//   position for a playhead.
// NotesEngine: a ClipPlayer plus the "timbrel-notes" AudioWorkletNode (C++
//   LiveNoteKernel) for live playing: notes, the latent XY pad, morphs.
// Constructors must run inside a user gesture (click, key press): the context
// starts there.

import { CoreError, PendingReplies, closeWorkletNode, startWorkletNode } from './worklet-node.js';
import { playClip, stopClip } from './buffer-player.js';
import { NOTES, createNotesStatus, notesStatusViews } from './midi-status.js';

export const MODEL_RATE = 22050;
const PROCESSOR_URL = new URL('./worklet/notes-processor.js', import.meta.url);
const READY_TIMEOUT_MS = 15000;
const REPLY_TIMEOUT_MS = 20000;

export class ClipPlayer {
  constructor(AudioContextClass = globalThis.AudioContext) {
    this.context = new AudioContextClass({ latencyHint: 'interactive' });
    this.output = this.context.createGain();
    this.output.connect(this.context.destination);
    this.source = null;
    this.clip = null; // the Float32Array being played
    this.onBufferEnded = null;
    this.onStateChange = null; // (contextState) => void
    this.handleStateChange = () => this.onStateChange?.(this.context.state);
    this.context.addEventListener('statechange', this.handleStateChange);
    this.disposed = false;
  }

  get sampleRate() {
    return this.context.sampleRate;
  }

  get state() {
    return this.context.state;
  }

  resume() {
    return this.context.resume();
  }

  // Plays samples (at `rate`, 22050 Hz by default) once; resolves nothing, returns the duration.
  playBuffer(samples, rate = MODEL_RATE) {
    this.stopBuffer();
    const source = playClip(this.context, this.output, samples, rate, () => {
      if (this.source !== source) return;
      this.source = null;
      this.clip = null;
      this.onBufferEnded?.();
    });
    this.source = source;
    this.clip = samples;
    this.bufferStart = this.context.currentTime;
    return source.buffer.duration;
  }

  // Seconds into the clip being played, or -1.
  get bufferTime() {
    return this.source ? this.context.currentTime - this.bufferStart : -1;
  }

  stopBuffer() {
    const source = this.source;
    if (!source) return;
    this.source = null;
    this.clip = null;
    stopClip(source);
  }

  async dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.stopBuffer();
    this.context.removeEventListener('statechange', this.handleStateChange);
    try {
      await this.context.close();
    } catch {
      // already closed
    }
  }
}

export class NotesEngine extends ClipPlayer {
  constructor(AudioContextClass) {
    super(AudioContextClass);
    this.node = null;
    this.info = null;
    this.pending = new PendingReplies(); // token -> the model load waiting for its reply
    this.nextToken = 1;
    this.onCoreError = null; // (CoreError) => void, after start
    this.floats = null;
    this.ints = null;
  }

  async init() {
    const status = createNotesStatus();
    ({ node: this.node, info: this.info } = await startWorkletNode(this.context, {
      url: PROCESSOR_URL, name: 'timbrel-notes', label: 'live note engine', timeoutMs: READY_TIMEOUT_MS,
      options: { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1], processorOptions: { status, maxBlock: 128 } },
      isDisposed: () => this.disposed,
    }));
    ({ floats: this.floats, ints: this.ints } = notesStatusViews(status));
    this.node.port.onmessage = (event) => this.onMessage(event.data);
    this.node.connect(this.output);
    return this.info;
  }

  onMessage(data) {
    if (data?.type === 'model') {
      const request = this.pending.take(data.token);
      if (!request) return;
      if (data.error) request.reject(new Error(data.error));
      else request.resolve(data);
    } else if (data?.type === 'error') {
      const error = new CoreError(data.message, data.sampleRate);
      this.pending.rejectAll(error);
      this.onCoreError?.(error);
    }
  }

  post(message) {
    if (!this.disposed) this.node?.port.postMessage(message);
  }

  // A cross-modal .tmbl (ArrayBuffer; copied): resolves once the worklet holds it.
  loadModel(bytes) {
    if (!this.node) return Promise.reject(new Error('the live note engine is not running'));
    const token = this.nextToken++;
    const copy = bytes.slice(0);
    return this.pending.wait(token, REPLY_TIMEOUT_MS, () => new Error('the live note engine did not answer in time'), () =>
      this.node.port.postMessage({ type: 'model', token, bytes: copy }, [copy]),
    );
  }

  noteOn(pitch, velocity) {
    this.post({ type: 'on', pitch, velocity });
  }

  noteOff(pitch) {
    this.post({ type: 'off', pitch });
  }

  allNotesOff() {
    this.post({ type: 'all-off' });
  }

  setPad(x, y, on) {
    this.post({ type: 'pad', x, y, on });
  }

  setMorph({ pitchA, velocityA, pitchB, velocityB, position, on }) {
    this.post({ type: 'morph', pitchA, velocityA, pitchB, velocityB, position, on });
  }

  // The worklet's output level (dBFS, 50 ms RMS) and peak.
  get levelDb() {
    return this.floats ? this.floats[NOTES.LEVEL_DB] : -120;
  }

  get peak() {
    return this.floats ? this.floats[NOTES.PEAK] : 0;
  }

  get quanta() {
    return this.ints ? Atomics.load(this.ints, NOTES.QUANTA) : 0;
  }

  get noteOns() {
    return this.ints ? Atomics.load(this.ints, NOTES.NOTE_ONS) : 0;
  }

  // From a key press to the sound: the kernel's latency plus the device's buffers.
  get latencyMs() {
    if (!this.info) return NaN;
    const kernel = (this.info.latencySamples / this.info.sampleRate) * 1000;
    const base = Number.isFinite(this.context.baseLatency) ? this.context.baseLatency * 1000 : 0;
    const out = Number.isFinite(this.context.outputLatency) ? this.context.outputLatency * 1000 : 0;
    return kernel + base + out;
  }

  async dispose() {
    if (this.disposed) return;
    this.pending.rejectAll(new Error('stopped'));
    if (this.node) {
      closeWorkletNode(this.node);
      this.node = null;
    }
    await super.dispose();
  }
}
