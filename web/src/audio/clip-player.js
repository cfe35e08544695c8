// Plays a decoded clip (the shipped example or a visitor's file) into an engine's
// input, optionally in a loop. Nothing is heard directly: what is heard is the
// engine's output (its dry/wet control mixes the voice back in).

export const MAX_FILE_BYTES = 200 * 1024 * 1024;
// The longest clip played into an engine (README, "Reliability"; the CLI's limit too).
export const MAX_CLIP_SECONDS = 600;

export class BufferPlayer {
  constructor(context, buffer, { loop = true, label = 'clip' } = {}) {
    this.context = context;
    this.buffer = buffer;
    this.label = label;
    this.node = context.createBufferSource();
    this.node.buffer = buffer;
    this.node.loop = loop;
    this.onEnded = null;
    this.node.onended = () => this.onEnded?.();
    this.started = false;
  }

  get duration() {
    return this.buffer.duration;
  }

  setLoop(loop) {
    this.node.loop = loop;
  }

  start() {
    this.started = true;
    this.node.start();
  }

  dispose() {
    this.node.onended = null;
    if (this.started) {
      try {
        this.node.stop();
      } catch {
        // already stopped
      }
    }
    this.node.disconnect();
  }
}

// A visitor-friendly error for a file the browser cannot play.
export class AudioFileError extends Error {
  constructor(title, text) {
    super(`${title} ${text}`);
    this.name = 'AudioFileError';
    this.title = title;
    this.text = text;
  }
}

// Decodes a File/Blob with the context (which also resamples it to the context's rate).
export async function decodeAudioFile(context, file) {
  const name = file?.name || 'the file';
  if (!file || file.size === 0) throw new AudioFileError(`“${name}” is empty.`, 'Choose an audio file such as WAV, MP3, OGG or FLAC.');
  if (file.size > MAX_FILE_BYTES) {
    throw new AudioFileError(`“${name}” is too large.`, `Files up to ${MAX_FILE_BYTES / 1024 / 1024} MB can be played; cut a shorter piece.`);
  }
  if (/\.tmbl$/i.test(name)) {
    throw new AudioFileError(`“${name}” is an instrument model, not audio.`, 'Load it with “Load your own model” in the Instrument box.');
  }
  const bytes = await file.arrayBuffer();
  let buffer;
  try {
    buffer = await context.decodeAudioData(bytes);
  } catch {
    throw new AudioFileError(
      `“${name}” could not be decoded.`,
      'This browser could not read it as audio. Try a WAV, MP3, OGG, FLAC or M4A file.',
    );
  }
  if (!(buffer.length > 0) || buffer.duration < 0.05) {
    throw new AudioFileError(`“${name}” holds almost no audio.`, 'Choose a longer recording.');
  }
  if (buffer.duration > MAX_CLIP_SECONDS) {
    throw new AudioFileError(`“${name}” is ${Math.round(buffer.duration / 60)} minutes long.`, `Clips up to ${MAX_CLIP_SECONDS / 60} minutes can be played; cut a shorter piece.`);
  }
  return buffer;
}
