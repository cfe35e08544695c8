// How long a model switch holds the audio thread: the page's own worklet
// processors (voice and midi) run under node (worklet-harness.mjs) at 48 kHz,
// streaming, while models are switched the way the page does it: the image is
// prepared off the audio thread (core.prepareModel, as the page's model Worker
// does), then handed over in a 'model' message and copied one 256 KiB slice
// per 'model-slice' message, one message between two render quanta, the last
// one adopting the model. Every process() call and message handler is timed;
// beside them, the old path: the whole .tmbl parsed by kernel.loadModel() in
// one handler. Goal: no single step over 1 ms (half a 128-frame quantum at 48 kHz).
//
//   TIMBREL_CORE_DIR=build-wasm/web node tests/bench/model_switch_bench.mjs [--switches N]

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { deliver, installWorkletScope, makeProcessor, quantum, takeSent } from './worklet-harness.mjs';
import { createAudioRing } from '../../web/src/worklet/audio-ring.js';
import { createNotesStatus } from '../../web/src/worklet/midi-status.js';

const RATE = 48000;
const QUANTUM = 128;
const GOAL_MS = 1;
const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const coreDir = path.resolve(process.env.TIMBREL_CORE_DIR ?? path.join(REPO, 'build-wasm', 'web'));
const switchesArg = process.argv.indexOf('--switches');
const SWITCHES = switchesArg > 0 ? Number(process.argv[switchesArg + 1]) : 10;
const RUNS = 5;

installWorkletScope({ coreDir, rate: RATE });
const { default: createCore } = await import(pathToFileURL(path.join(coreDir, 'timbrel-core.mjs')).href);
const core = await createCore();

function shippedModels(indexFile) {
  const raw = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  const list = Array.isArray(raw) ? raw : raw.models;
  return list.map((m) => path.join(path.dirname(indexFile), m.file)).filter((file) => fs.existsSync(file));
}

const max = (xs) => xs.reduce((a, b) => Math.max(a, b), 0);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

// Streams quanta through `processor` and switches models SWITCHES times.
// Returns the duration of every step, in order: {begin, slice, last, during}
// (the same steps in the same order on every run, so runs can be compared).
function runSwitches(processor, images, withInput) {
  const input = withInput ? [[new Float32Array(QUANTUM)]] : [[]];
  const outputs = [[new Float32Array(QUANTUM)]];
  let phase = 0;
  const step = () => {
    if (withInput) {
      const x = input[0][0];
      for (let i = 0; i < QUANTUM; i++) {
        x[i] = 0.3 * Math.sin(phase);
        phase += (2 * Math.PI * 220) / RATE;
      }
    }
    return quantum(processor, input, outputs);
  };
  const t = { begin: [], slice: [], last: [], during: [] };
  for (let i = 0; i < 100; i++) step();
  for (let s = 0; s < SWITCHES; s++) {
    const token = s + 1;
    const image = images[s % images.length].slice(0);
    t.begin.push(deliver(processor, { type: 'model', token, image }));
    let done = false;
    for (let guard = 0; !done && guard < 10000; guard++) {
      let next = false;
      for (const message of takeSent(processor)) {
        if (message.type === 'model-slice') next = true;
        if (message.type === 'model' && message.token === token) {
          if (message.error) throw new Error(`model refused: ${message.error}`);
          done = true;
        }
      }
      if (done) break;
      t.during.push(step());
      if (next) {
        const ms = deliver(processor, { type: 'model-slice', token });
        const adopted = processor.port.sent.some((m) => m.type === 'model' && m.token === token);
        (adopted ? t.last : t.slice).push(ms);
      }
    }
    if (!done) throw new Error('the model was never adopted');
    for (let i = 0; i < 200; i++) t.during.push(step());
    takeSent(processor);
    processor.port.onmessage({ data: { type: 'collect' } });
  }
  return t;
}

// Per step, the least time over the runs: the step's own cost, without what
// the rest of a shared machine (or a garbage collection) added to one run.
function leastPerStep(runs) {
  const out = {};
  for (const key of Object.keys(runs[0])) {
    out[key] = runs[0][key].map((_, i) => Math.min(...runs.map((r) => r[key][i] ?? Infinity)));
  }
  return out;
}

// The old path: the whole file parsed in one message handler.
function oldLoad(makeKernel, files) {
  const kernel = makeKernel();
  const times = [];
  for (const file of files) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const t0 = performance.now();
    const error = kernel.loadModel(bytes);
    times.push(performance.now() - t0);
    if (error) throw new Error(`${file}: ${error}`);
    if (typeof kernel.collect === 'function') kernel.collect();
  }
  kernel.delete();
  return times;
}

const rows = [];
async function bench({ label, file, name, options, family, files, withInput, makeKernel }) {
  const images = files.map((f) => {
    const result = core.prepareModel(new Uint8Array(fs.readFileSync(f)), family);
    if (result.error) throw new Error(`${f}: ${result.error}`);
    return result.image.slice().buffer;
  });
  const runs = [];
  const olds = [];
  for (let r = 0; r < RUNS; r++) {
    const processor = await makeProcessor(file, name, options());
    const ready = takeSent(processor).find((m) => m.type === 'ready' || m.type === 'error');
    if (ready?.type !== 'ready') throw new Error(`${name} did not start: ${ready?.message}`);
    runs.push(runSwitches(processor, images, withInput));
    processor.port.onmessage({ data: { type: 'dispose' } });
    olds.push(oldLoad(makeKernel, files));
  }
  const t = leastPerStep(runs);
  const old = olds[0].map((_, i) => Math.min(...olds.map((o) => o[i])));
  const worst = Math.max(max(t.begin), max(t.slice), max(t.last), max(t.during));
  if (process.env.TIMBREL_BENCH_DEBUG) {
    const top = (xs) => [...xs].sort((a, b) => b - a).slice(0, 6).map((x) => x.toFixed(2)).join(' ');
    console.log(label, 'begin', top(t.begin), '| slice', top(t.slice), '| last', top(t.last), '| during', top(t.during), '| old', top(old));
  }
  rows.push({
    label,
    models: files.length,
    mib: (max(images.map((i) => i.byteLength)) / 1048576).toFixed(1),
    old: max(old).toFixed(2),
    begin: max(t.begin).toFixed(3),
    slice: max(t.slice).toFixed(3),
    last: max(t.last).toFixed(3),
    during: `${median(t.during).toFixed(3)} / ${max(t.during).toFixed(3)}`,
    worst: worst.toFixed(3),
    goal: worst < GOAL_MS ? 'yes' : 'NO',
  });
}

await bench({
  label: 'voice (vq_timbre)',
  file: 'voice-processor.js',
  name: 'timbrel-voice',
  options: () => ({ processorOptions: { ring: createAudioRing(1 << 14), maxBlock: QUANTUM } }),
  family: 'vq_timbre',
  files: shippedModels(path.join(REPO, 'models', 'index.json')),
  withInput: true,
  makeKernel: () => new core.VoiceKernel(RATE, QUANTUM),
});
await bench({
  label: 'midi (crossmodal_vae)',
  file: 'midi-processor.js',
  name: 'timbrel-midi',
  options: () => ({ processorOptions: { status: createNotesStatus(), maxBlock: QUANTUM } }),
  family: 'crossmodal_vae',
  files: shippedModels(path.join(REPO, 'models', 'crossmodal', 'index.json')),
  withInput: false,
  makeKernel: () => new core.MidiKernel(RATE, QUANTUM),
});

console.log(`Model switches on the audio thread (${SWITCHES} per engine, 48 kHz, WebAssembly under node; ms):`);
console.log('');
console.log('| engine | models | largest image MiB | before: loadModel in one handler | model message (beginImage + 1st slice) | slice message | last slice + adoptImage | process() while switching, median / max | longest step | < 1 ms |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) {
  console.log(`| ${r.label} | ${r.models} | ${r.mib} | ${r.old} | ${r.begin} | ${r.slice} | ${r.last} | ${r.during} | ${r.worst} | ${r.goal} |`);
}
console.log('');
console.log(`Each step's time is the least over ${RUNS} identical runs (its own cost, without the noise of a shared machine); the table gives the longest of those per kind of step.`);
