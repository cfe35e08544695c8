// The Draw panel's Web Worker: the same WebAssembly core as the worklet, used
// for the work that must not run on the audio thread or block the page:
// loading a model (and computing its descriptor table when the file has none),
// rendering drawn curves in chunks with progress, and measuring descriptors on
// audio (DrawKernel.measure).
//
// Messages (page -> worker), answered with the same token:
//   {type: 'load', token, bytes: ArrayBuffer, analyse: bool}
//       -> {type: 'analysing', token}  (only when the file has no table)
//       -> {type: 'loaded', token, error | info, table, map, ranges, codes,
//           patched: ArrayBuffer|null (the file with the computed table added), analyseMs}
//   {type: 'render', token, hops, target: {name, values: Float32Array}, gain, settings}
//       -> {type: 'progress', token, fraction} ... then
//       -> {type: 'rendered', token, error | audio, codes, frames, ms}
//       A newer render (or load) cancels an unfinished one ({type: 'rendered', cancelled: true}).
//   {type: 'measure', token, audio: Float32Array at 22050 Hz} -> {type: 'measured', token, frames}
// Before anything: {type: 'ready'} or {type: 'error', message} (core not loadable).

import { MAX_HOPS } from './draw-curves.js';
import { withDescriptorTable } from '../audio/model-file.js';

const CHUNK_HOPS = 24; // ~0.28 s of audio per slice: progress, and a new request can cut in
const RANGE_NAMES = ['centroid', 'f0', 'loudness', 'bandwidth'];

let core = null;
let kernel = null;
let rendering = null; // {token, cancelled}

// The handler is installed first and waits for the core: a message sent while
// the module still loads is not lost.
async function start() {
  try {
    const { default: createTimbrelCore } = await import('/core/timbrel-core.mjs');
    core = await createTimbrelCore();
    if (typeof core.DrawKernel !== 'function') throw new Error('this build of the WebAssembly core has no DrawKernel (rebuild the core)');
    const problem = core.DrawKernel.validateConfig(22050, 128, MAX_HOPS);
    if (problem) throw new Error(problem);
    kernel = new core.DrawKernel(22050, 128, MAX_HOPS);
    self.postMessage({ type: 'ready' });
  } catch (error) {
    self.postMessage({ type: 'error', message: error?.message || String(error) });
  }
}
const started = start();

const yieldToEvents = () => new Promise((resolve) => setTimeout(resolve, 0));

function cancelRender() {
  if (rendering) rendering.cancelled = true;
}

function load({ token, bytes, analyse }) {
  cancelRender();
  const data = new Uint8Array(bytes);
  let error = kernel.loadModel(data, false);
  let patched = null;
  let analyseMs = 0;
  if (error && analyse && /no descriptor table/.test(error)) {
    self.postMessage({ type: 'analysing', token });
    const t0 = performance.now();
    error = kernel.loadModel(data, true);
    analyseMs = performance.now() - t0;
    if (!error) {
      // The worklet gets the file with the table added, so it does not analyse
      // again on the audio thread. Checked here: the copy must load as it is.
      try {
        const copy = withDescriptorTable(data, kernel.tableJson());
        const check = new core.DrawKernel(22050, 128, 1);
        const problem = check.loadModel(new Uint8Array(copy), false);
        check.delete();
        if (!problem) patched = copy;
      } catch {
        patched = null; // the worklet will say the model needs a table
      }
    }
  }
  if (error) {
    self.postMessage({ type: 'loaded', token, error });
    return;
  }
  const ranges = {};
  for (const name of RANGE_NAMES) ranges[name] = kernel.descriptorRange(name);
  const message = {
    type: 'loaded',
    token,
    info: kernel.modelInfo(),
    table: kernel.tableJson(),
    map: kernel.codebookMap(),
    ranges,
    codes: kernel.codes(),
    patched,
    analyseMs,
  };
  self.postMessage(message, patched ? [message.map.buffer, patched] : [message.map.buffer]);
}

function applySettings(settings = {}) {
  if (Number.isFinite(settings.smoothing)) kernel.setSmoothing(settings.smoothing);
  if (Number.isFinite(settings.hysteresis)) kernel.setHysteresis(settings.hysteresis);
  if (typeof settings.mode === 'string') kernel.setMode(settings.mode);
}

async function render({ token, hops, target, gain, settings }) {
  cancelRender();
  const job = { token, cancelled: false };
  rendering = job;
  const t0 = performance.now();
  const fail = (error) => self.postMessage({ type: 'rendered', token, error });
  if (!kernel.hasModel()) return fail('no instrument is loaded yet');
  applySettings(settings);
  kernel.clearTargets();
  let problem = kernel.setHops(hops);
  if (!problem) problem = kernel.setTarget(target.name, target.values, 1);
  if (!problem && gain) problem = kernel.setGain(gain);
  if (!problem) problem = kernel.beginRender();
  if (problem) return fail(problem);
  self.postMessage({ type: 'progress', token, fraction: 0 });
  while (!kernel.renderSome(CHUNK_HOPS)) {
    self.postMessage({ type: 'progress', token, fraction: kernel.renderProgress() });
    await yieldToEvents();
    if (job.cancelled) {
      self.postMessage({ type: 'rendered', token, cancelled: true });
      return;
    }
  }
  rendering = null;
  const audio = kernel.renderResult();
  // A string: the output guard muted the render (the model's output was not sound).
  if (typeof audio === 'string') return fail(audio);
  const codes = kernel.renderedCodes();
  const frames = kernel.measure(audio);
  self.postMessage({ type: 'progress', token, fraction: 1 });
  self.postMessage(
    { type: 'rendered', token, audio, codes, frames, ms: performance.now() - t0 },
    [audio.buffer, codes.buffer, frames.buffer],
  );
}

self.onmessage = async (event) => {
  const data = event.data;
  await started;
  if (!data || !kernel) {
    if (data?.token) self.postMessage({ type: `${data.type === 'load' ? 'loaded' : data.type === 'measure' ? 'measured' : 'rendered'}`, token: data.token, error: 'the drawing engine is not running' });
    return;
  }
  try {
    if (data.type === 'load') load(data);
    else if (data.type === 'render') await render(data);
    else if (data.type === 'measure') {
      const frames = kernel.measure(data.audio);
      self.postMessage({ type: 'measured', token: data.token, frames }, [frames.buffer]);
    }
  } catch (error) {
    const type = data.type === 'load' ? 'loaded' : data.type === 'measure' ? 'measured' : 'rendered';
    self.postMessage({ type, token: data.token, error: `internal error: ${error?.message || error}` });
  }
};
