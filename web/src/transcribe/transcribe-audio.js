// Audio for the Transcribe panel: files decoded and resampled to the model
// rate (22050 Hz, mono) with an OfflineAudioContext, and microphone takes
// recorded with MediaRecorder (the browser's own encoder: nothing runs on the
// audio thread for it) and decoded the same way.

import { AudioFileError, MAX_FILE_BYTES } from '../audio/clip-player.js';
import { MicInput, describeMicError } from '../audio/microphone.js';

export const MODEL_RATE = 22050;
export const MAX_CLIP_SECONDS = 300;
export const MAX_RECORD_SECONDS = 60;

const Offline = () => globalThis.OfflineAudioContext ?? globalThis.webkitOfflineAudioContext;

// Mono at 22050 Hz from an AudioBuffer at any rate (channels averaged; the
// OfflineAudioContext's resampler does the rate).
export async function toModelRate(buffer) {
  const channels = buffer.numberOfChannels;
  let mono;
  if (channels === 1) mono = buffer.getChannelData(0);
  else {
    mono = new Float32Array(buffer.length);
    for (let c = 0; c < channels; c++) {
      const data = buffer.getChannelData(c);
      for (let i = 0; i < mono.length; i++) mono[i] += data[i] / channels;
    }
  }
  if (buffer.sampleRate === MODEL_RATE) return Float32Array.from(mono);
  const length = Math.max(1, Math.round((mono.length * MODEL_RATE) / buffer.sampleRate));
  const offline = new (Offline())(1, length, MODEL_RATE);
  const source = offline.createBufferSource();
  const copy = offline.createBuffer(1, mono.length, buffer.sampleRate);
  copy.copyToChannel(mono, 0);
  source.buffer = copy;
  source.connect(offline.destination);
  source.start();
  const out = await offline.startRendering();
  return out.getChannelData(0).slice();
}

// Decodes encoded audio bytes (any format the browser reads) at their own rate.
async function decodeBytes(bytes) {
  // A context at a common rate only decodes: decodeAudioData resamples to its
  // context's rate, so the model rate itself is used and no second pass is needed.
  const context = new (Offline())(1, 1, MODEL_RATE);
  return context.decodeAudioData(bytes);
}

// A visitor's audio File -> {samples: Float32Array at 22050 Hz, seconds, sourceRate}.
export async function decodeClip(file) {
  const name = file?.name || 'the file';
  if (!file || file.size === 0) throw new AudioFileError(`“${name}” is empty.`, 'Choose an audio file such as WAV, MP3, OGG or FLAC.');
  if (file.size > MAX_FILE_BYTES) throw new AudioFileError(`“${name}” is too large.`, `Files up to ${MAX_FILE_BYTES / 1048576} MB can be read; cut a shorter piece.`);
  if (/\.(mid|midi|kar|smf)$/i.test(name)) throw new AudioFileError(`“${name}” is a MIDI file, not a recording.`, 'Play it in the MIDI panel, or choose an audio file here.');
  if (/\.tmbl$/i.test(name)) throw new AudioFileError(`“${name}” is an instrument model, not audio.`, 'Load it with “Load your own model” in step 1.');
  let buffer;
  try {
    buffer = await decodeBytes(await file.arrayBuffer());
  } catch {
    throw new AudioFileError(`“${name}” could not be decoded.`, 'This browser could not read it as audio. Try a WAV, MP3, OGG, FLAC or M4A file.');
  }
  return checkClip(name, await toModelRate(buffer));
}

export function checkClip(name, samples) {
  const seconds = samples.length / MODEL_RATE;
  if (seconds < 0.25) throw new AudioFileError(`“${name}” holds almost no audio.`, 'Choose a recording of at least a second.');
  if (seconds > MAX_CLIP_SECONDS) throw new AudioFileError(`“${name}” is ${Math.round(seconds / 60)} minutes long.`, `Clips up to ${MAX_CLIP_SECONDS / 60} minutes can be transcribed; cut a shorter piece.`);
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = Math.abs(samples[i]);
    if (v > peak) peak = v;
  }
  return { samples, seconds, peak };
}

// One microphone take: open() asks for the microphone (rejects with the
// getUserMedia error, for describeMicError), start() records, stop() resolves
// the take at 22050 Hz. levelDb reads the input level for a meter.
export class MicRecorder {
  constructor(context) {
    this.context = context;
    this.mic = null;
    this.recorder = null;
    this.chunks = [];
    this.analyser = null;
    this.scratch = null;
    this.startedAt = 0;
    this.onLimit = null;
  }

  static get available() {
    return typeof globalThis.MediaRecorder === 'function' && !!globalThis.navigator?.mediaDevices?.getUserMedia;
  }

  async open() {
    this.mic = await MicInput.open(this.context);
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 2048;
    this.scratch = new Float32Array(this.analyser.fftSize);
    this.mic.node.connect(this.analyser);
  }

  start() {
    this.chunks = [];
    this.recorder = new MediaRecorder(this.mic.stream);
    this.recorder.ondataavailable = (event) => {
      if (event.data?.size) this.chunks.push(event.data);
    };
    this.stopped = new Promise((resolve) => {
      this.recorder.onstop = () => resolve();
    });
    this.recorder.start(250);
    this.startedAt = performance.now();
    this.limitTimer = setTimeout(() => this.onLimit?.(), MAX_RECORD_SECONDS * 1000);
  }

  get seconds() {
    return this.recorder ? (performance.now() - this.startedAt) / 1000 : 0;
  }

  get levelDb() {
    if (!this.analyser) return -120;
    this.analyser.getFloatTimeDomainData(this.scratch);
    let e = 0;
    for (const v of this.scratch) e += v * v;
    return 10 * Math.log10(e / this.scratch.length + 1e-12);
  }

  // Ends the take: resolves {samples, seconds, peak} at 22050 Hz.
  async stop() {
    clearTimeout(this.limitTimer);
    const recorder = this.recorder;
    if (!recorder) throw new Error('nothing is being recorded');
    if (recorder.state !== 'inactive') recorder.stop();
    await this.stopped;
    this.close();
    const blob = new Blob(this.chunks, { type: recorder.mimeType || 'audio/webm' });
    this.chunks = [];
    let buffer;
    try {
      buffer = await decodeBytes(await blob.arrayBuffer());
    } catch {
      throw new AudioFileError('The recording could not be decoded.', 'This browser recorded in a format it cannot read back. Record a WAV file with another program and open it here.');
    }
    return checkClip('The recording', await toModelRate(buffer));
  }

  close() {
    clearTimeout(this.limitTimer);
    if (this.recorder && this.recorder.state !== 'inactive') {
      try {
        this.recorder.stop();
      } catch {
        // already stopped
      }
    }
    this.analyser?.disconnect();
    this.analyser = null;
    this.mic?.dispose();
    this.mic = null;
  }
}

// describeMicError's titles, with what to do next said for this panel.
export function describeRecordError(error) {
  const message = describeMicError(error);
  const instead = 'Meanwhile you can use the example phrase or open an audio file.';
  const text = {
    'mic-denied': `To record your instrument, allow the microphone for this page (the microphone or lock icon in the address bar), then press Record again. ${instead}`,
    'mic-missing': `Plug in a microphone or headset and press Record again. ${instead}`,
    'mic-busy': `Another application may be using it, or the system blocked it. Close other apps that record sound and press Record again. ${instead}`,
    'mic-unsupported': `This browser does not let web pages record sound here. ${instead}`,
  }[message.key] ?? `${String(error?.message || error).replace(/\.$/, '')}. ${instead}`;
  return { ...message, text };
}
