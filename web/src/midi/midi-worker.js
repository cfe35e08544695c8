// The Web Worker of the MIDI and Transcribe panels: the WebAssembly core's
// cross-modal kernels off the page's thread. It parses MIDI files (the core's
// parser), renders them to audio with the MidiRenderKernel (symbols -> latent
// -> spectra -> phase, with progress), and transcribes audio to notes with the
// TranscribeKernel (made, and given the model, on the first transcription).
//
// Messages (page -> worker), answered with the same token:
//   {type: 'load', token, bytes: ArrayBuffer}     -> {type: 'loaded', token, error | description}
//   {type: 'parse', token, bytes: ArrayBuffer}    -> {type: 'parsed', token, error | song}
//   {type: 'render', token, midi: ArrayBuffer, options, stream}
//        -> {type: 'progress', token, fraction, stage} ... -> {type: 'rendered', token, error | samples, report, ms}
//        with stream: also {type: 'chunk', token, offset, samples} as the samples
//        are finished (before normalisation: the page plays the render while it runs)
//   {type: 'transcribe', token, audio: Float32Array at 22050 Hz}
//        -> {type: 'progress', token, fraction: null} -> {type: 'transcribed', token, error | notes, frames, midi, summary, ms}
// Before anything: {type: 'ready'} or {type: 'error', message} (core not loadable).
// A render or transcription runs to its end inside one call into the core:
// the page cancels one by terminating this Worker and starting another. A
// reply with fatal: true means the core threw: the page replaces the Worker.

let core = null;
let kernel = null; // MidiRenderKernel
let transcriber = null; // TranscribeKernel, once needed
let modelBytes = null; // the loaded model, for the transcriber

async function start() {
  try {
    const { default: createTimbrelCore } = await import('/core/timbrel-core.mjs');
    core = await createTimbrelCore();
    for (const name of ['MidiRenderKernel', 'TranscribeKernel', 'parseMidi']) {
      if (typeof core[name] !== 'function') throw new Error(`this build of the WebAssembly core has no ${name} (rebuild the core)`);
    }
    kernel = new core.MidiRenderKernel();
    self.postMessage({ type: 'ready' });
  } catch (error) {
    self.postMessage({ type: 'error', message: error?.message || String(error) });
  }
}
const started = start();

const REPLY = { load: 'loaded', parse: 'parsed', render: 'rendered', transcribe: 'transcribed' };

function progress(token) {
  let last = -1;
  return (fraction, stage) => {
    // The core may report often: forward whole percents only.
    const pct = Math.floor(Math.min(1, Math.max(0, Number(fraction) || 0)) * 100);
    if (pct === last) return;
    last = pct;
    self.postMessage({ type: 'progress', token, fraction: pct / 100, stage: String(stage ?? '') });
  };
}

function load({ token, bytes }) {
  const model = new Uint8Array(bytes);
  const error = kernel.loadModel(model);
  if (error) return self.postMessage({ type: 'loaded', token, error });
  modelBytes = model;
  transcriber?.delete();
  transcriber = null;
  self.postMessage({ type: 'loaded', token, description: kernel.describe() });
}

// The TranscribeKernel holding the loaded model.
function transcribeKernel() {
  if (!transcriber) {
    if (!modelBytes) throw new Error('no model is loaded');
    const next = new core.TranscribeKernel();
    const error = next.loadModel(modelBytes);
    if (error) {
      next.delete();
      throw new Error(error);
    }
    transcriber = next;
  }
  return transcriber;
}

function parse({ token, bytes }) {
  const song = core.parseMidi(new Uint8Array(bytes));
  if (song?.error) return self.postMessage({ type: 'parsed', token, error: song.error });
  self.postMessage({ type: 'parsed', token, song });
}

function render({ token, midi, options, stream }) {
  const t0 = performance.now();
  const settings = { ...(options ?? {}) };
  if (stream) {
    settings.onChunk = (samples, offset) => self.postMessage({ type: 'chunk', token, offset, samples }, [samples.buffer]);
  }
  const result = kernel.renderMidi(new Uint8Array(midi), settings, progress(token));
  if (result?.error) return self.postMessage({ type: 'rendered', token, error: result.error });
  const samples = result.samples;
  self.postMessage({ type: 'rendered', token, samples, report: result.report ?? null, ms: performance.now() - t0 }, [samples.buffer]);
}

function transcribe({ token, audio }) {
  const t0 = performance.now();
  // The core transcribes a clip in one call and reports no progress: the page
  // shows an indeterminate bar (fraction null) until the answer.
  self.postMessage({ type: 'progress', token, fraction: null, stage: 'listening' });
  const result = transcribeKernel().transcribe(audio);
  if (result?.error) return self.postMessage({ type: 'transcribed', token, error: result.error });
  const { frames, midi } = result;
  self.postMessage(
    { type: 'transcribed', token, notes: result.notes, frames, midi, summary: result.summary ?? '', ms: performance.now() - t0 },
    [frames.buffer, midi.buffer],
  );
}

self.onmessage = async (event) => {
  const data = event.data;
  await started;
  const reply = REPLY[data?.type];
  if (!reply) return;
  if (!kernel) {
    self.postMessage({ type: reply, token: data.token, error: 'the cross-modal engine is not running' });
    return;
  }
  try {
    if (data.type === 'load') load(data);
    else if (data.type === 'parse') parse(data);
    else if (data.type === 'render') render(data);
    else transcribe(data);
  } catch (error) {
    // Something in the core threw (a C++ exception unwinds through the
    // WebAssembly frames as a bare number): its state is not to be trusted
    // any more, so the page starts a fresh Worker for the next job.
    const detail = error instanceof Error ? error.message : `the WebAssembly core stopped with an internal error (${String(error)})`;
    self.postMessage({ type: reply, token: data.token, error: detail, fatal: true });
  }
};
