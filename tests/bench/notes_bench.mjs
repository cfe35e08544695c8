// The Notes panel's batch: decoding N note latents of the shipped GMVAE
// (models/gmvae/gmvae.tmbl) into mel patches, by the core in WebAssembly (one
// patch at a time, as GmvaeNotes.decodeMel) and by ONNX Runtime (node and web,
// WASM backend, one thread) on the decoder graph written from the same .tmbl
// (build-onnx/gmvae/gmvae.decoder.onnx, scripts/export-onnx.sh), in batches.
// Same latents for all; prints one JSON line per engine:
//   {"engine":"core-wasm","batch":64,"notes_per_s":...,"us_per_note":...,"max_abs_diff":0}
// max_abs_diff: the largest difference of the engine's patches from the core's.
//
//   node tests/bench/notes_bench.mjs [--notes 64] [--rounds 5]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { REPO, loadCore, repoBytes } from '../wasm/core.mjs';

const { values } = parseArgs({
  options: { notes: { type: 'string', default: '64' }, rounds: { type: 'string', default: '5' } },
});
const notes = Math.max(1, Number(values.notes));
const rounds = Math.max(1, Number(values.rounds));
const onnxPath = join(REPO, 'build-onnx', 'gmvae', 'gmvae.decoder.onnx');
if (!existsSync(onnxPath)) {
  console.error(`${onnxPath} is missing: run scripts/export-onnx.sh`);
  process.exit(1);
}

const core = await loadCore();
const model = new core.GmvaeNotes();
const problem = model.load(repoBytes('models', 'gmvae', 'gmvae.tmbl'));
if (problem) throw new Error(problem);
const info = JSON.parse(model.info());
const latentSize = 2 * info.latent;
const patchSize = info.frames * info.melBins;

// Latents: every instrument in turn, pitches across its range, spread 0.5.
const latents = new Float32Array(notes * latentSize);
for (let i = 0; i < notes; i++) {
  const k = i % info.instruments.length;
  const [lo, hi] = info.instrumentRanges[k];
  const midi = lo + Math.floor(((hi - lo) * (i / notes)));
  latents.set(model.sample(k, midi, 0.5, i + 1), i * latentSize);
}

const reference = new Float32Array(notes * patchSize);
function coreRound() {
  for (let i = 0; i < notes; i++) {
    reference.set(model.decodeMel(latents.subarray(i * latentSize, (i + 1) * latentSize)), i * patchSize);
  }
}

function maxDiff(a, b) {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function timeRounds(run) {
  await run(); // warm-up
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) await run();
  return Number(process.hrtime.bigint() - start) / 1e3 / rounds; // us per round
}

const rows = [];
const coreUs = await timeRounds(async () => coreRound());
rows.push({ engine: 'core-wasm', backend: 'wasm-simd', us: coreUs, diff: 0 });

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.logLevel = 'error';
const bytes = readFileSync(onnxPath);
for (const [name, ort, options] of [
  ['onnxruntime-node', ortNode, { intraOpNumThreads: 1, interOpNumThreads: 1 }],
  ['onnxruntime-web', ortWeb, { executionProviders: ['wasm'] }],
]) {
  const session = await ort.InferenceSession.create(bytes, options);
  let out = null;
  const us = await timeRounds(async () => {
    const input = new ort.Tensor('float32', latents, [notes, 1, latentSize]);
    const result = await session.run({ [session.inputNames[0]]: input });
    out = result[session.outputNames[0]].data;
  });
  rows.push({ engine: name, backend: name === 'onnxruntime-node' ? 'cpu' : 'wasm', us, diff: maxDiff(out, reference) });
}

for (const r of rows) {
  console.log(JSON.stringify({
    engine: r.engine, backend: r.backend, batch: notes,
    notes_per_s: Number((notes / (r.us / 1e6)).toFixed(1)),
    us_per_note: Number((r.us / notes).toFixed(1)),
    max_abs_diff: Number(r.diff.toExponential(2)),
  }));
}
model.delete();
