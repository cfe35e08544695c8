// Times one decoder hop (the single-step ONNX graphs decoder_hop*.main.step.onnx
// in build/bench-models, written by `python3 -m timbrel.golden.nn --bench`: Linear 64 -> H, GRU H, Linear H -> 513, GRU state fed
// back each call) with onnxruntime-node and onnxruntime-web (WASM), one thread
// each. Prints one JSON line per engine and graph on stdout:
//   {"engine":"onnxruntime-node","graph":"decoder_hop","us":140.2,"median_us":...,"runs":2000,"threads":1}
// "us" is the mean wall time per session.run() call (tensor creation included).
//
//   node tests/bench/ort_bench.mjs [--runs 2000] [--warmup 200] [--golden build/bench-models]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '200' },
    golden: { type: 'string', default: 'build/bench-models' },
    graphs: { type: 'string', default: 'decoder_hop256,decoder_hop' },
  },
});
const runs = Math.max(2000, Number(values.runs));
const warmup = Number(values.warmup);
const goldenDir = resolve(values.golden);
const manifest = JSON.parse(readFileSync(join(goldenDir, 'manifest.json'), 'utf8'));

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.logLevel = 'error';
const engines = [
  { name: 'onnxruntime-node', ort: ortNode, options: { intraOpNumThreads: 1, interOpNumThreads: 1 } },
  { name: 'onnxruntime-web', ort: ortWeb, options: { executionProviders: ['wasm'] } },
];

async function bench(engine, caseName) {
  const g = manifest.cases[caseName].graphs.main;
  const { ort } = engine;
  const session = await ort.InferenceSession.create(join(goldenDir, g.step_onnx), engine.options);
  const channels = g.input_shape[1];
  const input = new ort.Tensor('float32', new Float32Array(channels).fill(0.1), [1, 1, channels]);
  let state = new ort.Tensor('float32', new Float32Array(g.state_size), [1, 1, g.state_size]);
  const step = async () => {
    const r = await session.run({ input, state });
    state = r.state_out;
    return r.output;
  };
  for (let i = 0; i < warmup; i++) await step();
  const times = new Float64Array(runs);
  const start = process.hrtime.bigint();
  let last = start;
  for (let i = 0; i < runs; i++) {
    await step();
    const now = process.hrtime.bigint();
    times[i] = Number(now - last) / 1e3;
    last = now;
  }
  const total = Number(process.hrtime.bigint() - start) / 1e3;
  await session.release?.();
  const sorted = Array.from(times).sort((a, b) => a - b);
  return {
    engine: engine.name,
    graph: caseName,
    us: +(total / runs).toFixed(2),
    median_us: +sorted[runs >> 1].toFixed(2),
    runs,
    threads: 1,
  };
}

for (const caseName of values.graphs.split(',')) {
  for (const engine of engines) {
    console.log(JSON.stringify(await bench(engine, caseName)));
  }
}
