// Records the transfer engine's output (and the input it was given) from the
// shared sample ring the worklet fills. The main thread drains the ring on a timer
// into chunks; the audio thread never allocates or posts for the recording.

import { encodeWav, FORMAT } from './wav.js';

const POLL_MS = 100;
const SCRATCH_FRAMES = 8192;

export class Recorder {
  // reader: AudioRingReader; maxSeconds: the recording stops itself there.
  constructor(reader, sampleRate, { maxSeconds = 300 } = {}) {
    this.reader = reader;
    this.sampleRate = sampleRate;
    this.maxFrames = Math.round(maxSeconds * sampleRate);
    this.scratch = { input: new Float32Array(SCRATCH_FRAMES), output: new Float32Array(SCRATCH_FRAMES) };
    this.recording = false;
    this.timer = 0;
    this.onLimit = null; // called when maxSeconds is reached
    this.reset();
  }

  reset() {
    this.inputChunks = [];
    this.outputChunks = [];
    this.frames = 0;
    this.startFrame = 0;
    this.lapped = 0;
    this.marks = [];
  }

  get seconds() {
    return this.frames / this.sampleRate;
  }

  start() {
    this.reset();
    this.reader.skipToNow();
    this.startFrame = this.reader.readFrames;
    this.lappedAtStart = this.reader.lapped;
    this.recording = true;
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  poll() {
    if (!this.recording) return;
    this.reader.read(this.scratch, (input, output) => {
      const room = this.maxFrames - this.frames;
      if (room <= 0) return;
      const n = Math.min(room, input.length);
      this.inputChunks.push(input.slice(0, n));
      this.outputChunks.push(output.slice(0, n));
      this.frames += n;
    });
    this.lapped = this.reader.lapped - this.lappedAtStart;
    if (this.frames >= this.maxFrames) {
      this.stop();
      this.onLimit?.();
    }
  }

  // Notes an event (e.g. a model switch) at a ring frame, kept as a recording offset.
  mark(type, ringFrame, detail = {}) {
    if (!this.recording) return;
    this.marks.push({ type, frame: (ringFrame - this.startFrame) | 0, ...detail });
  }

  // Stops and returns the take: {sampleRate, input, output, lapped, marks}.
  stop() {
    if (!this.recording) return this.take;
    this.poll();
    this.recording = false;
    clearInterval(this.timer);
    this.timer = 0;
    const join = (chunks) => {
      const all = new Float32Array(this.frames);
      let offset = 0;
      for (const c of chunks) {
        all.set(c, offset);
        offset += c.length;
      }
      return all;
    };
    this.take = {
      sampleRate: this.sampleRate,
      input: join(this.inputChunks),
      output: join(this.outputChunks),
      lapped: this.lapped,
      marks: this.marks,
    };
    this.inputChunks = [];
    this.outputChunks = [];
    return this.take;
  }

  // The output of the last take as a WAV Blob.
  toWavBlob(format = FORMAT.PCM16, which = 'output') {
    if (!this.take) return null;
    const bytes = encodeWav([this.take[which]], this.sampleRate, format);
    return new Blob([bytes], { type: 'audio/wav' });
  }

  dispose() {
    this.recording = false;
    clearInterval(this.timer);
    this.timer = 0;
    this.reset();
    this.take = null;
  }
}
