// ONNX Runtime (node native and web/WASM, one thread) against the PyTorch
// goldens: every ONNX graph in tests/golden/nn (written with the .tmbl files
// from the same weights by scripts/timbrel/golden/nn.py) reproduces
// <case>.<graph>.output.npy from <case>.<graph>.input.npy within the manifest's
// tolerance. Sequence graphs run once over [1, T, C]; step graphs run T times,
// feeding 'state_out' back as 'state' from zeros.
//
//   node --test tests/wasm/ort_parity.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { readNpy } from './npy.mjs';

const goldenDir = resolve('tests/golden/nn');
const manifest = JSON.parse(readFileSync(join(goldenDir, 'manifest.json'), 'utf8'));
const { abs: tolAbs, rel: tolRel } = manifest.tolerance;

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.logLevel = 'error';

const engines = [
  { name: 'onnxruntime-node', ort: ortNode, options: { intraOpNumThreads: 1, interOpNumThreads: 1 } },
  { name: 'onnxruntime-web', ort: ortWeb, options: { executionProviders: ['wasm'] } },
];

// Worst |got - want| / (abs + rel |want|); <= 1 passes.
function worstExcess(got, want) {
  assert.equal(got.length, want.length, 'output length');
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (tolAbs + tolRel * Math.abs(want[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

async function runSequence(ort, session, input) {
  const [frames, channels] = input.shape;
  const feeds = { input: new ort.Tensor('float32', input.data, [1, frames, channels]) };
  const { output } = await session.run(feeds);
  return output;
}

async function runSteps(ort, session, input, stateSize) {
  const [frames, channels] = input.shape;
  let state = new ort.Tensor('float32', new Float32Array(stateSize), [1, 1, stateSize]);
  const out = [];
  for (let t = 0; t < frames; t++) {
    const x = new ort.Tensor('float32', input.data.slice(t * channels, (t + 1) * channels), [1, 1, channels]);
    const r = await session.run({ input: x, state });
    out.push(...r.output.data);
    state = r.state_out;
  }
  return Float32Array.from(out);
}

const jobs = [];
for (const [caseName, entry] of Object.entries(manifest.cases)) {
  for (const [graph, g] of Object.entries(entry.graphs)) {
    if (g.onnx) jobs.push({ caseName, graph, g, file: g.onnx, step: false });
    if (g.step_onnx) jobs.push({ caseName, graph, g, file: g.step_onnx, step: true });
  }
}

test('the manifest lists ONNX graphs, sequence and step', () => {
  assert.ok(jobs.filter((j) => !j.step).length >= 20, `${jobs.length} graphs`);
  assert.ok(jobs.filter((j) => j.step).length >= 3, 'step graphs (GRU state carried)');
});

for (const job of jobs) {
  for (const engine of engines) {
    test(`${engine.name}: ${job.file} matches PyTorch`, async () => {
      const input = readNpy(join(goldenDir, job.g.input));
      const want = readNpy(join(goldenDir, job.g.output));
      assert.deepEqual(input.shape, job.g.input_shape);
      const session = await engine.ort.InferenceSession.create(join(goldenDir, job.file), engine.options);
      try {
        let got;
        if (job.step) {
          assert.deepEqual(session.inputNames.slice().sort(), ['input', 'state']);
          got = await runSteps(engine.ort, session, input, job.g.state_size);
        } else {
          assert.deepEqual(session.inputNames, ['input']);
          assert.deepEqual(session.outputNames, ['output']);
          const output = await runSequence(engine.ort, session, input);
          assert.deepEqual(output.dims, [1, ...job.g.output_shape]);
          got = output.data;
        }
        const worst = worstExcess(got, want.data);
        assert.ok(worst <= 1, `worst error ${worst.toFixed(3)}x the tolerance (abs ${tolAbs}, rel ${tolRel})`);
      } finally {
        await session.release?.();
      }
    });
  }
}
