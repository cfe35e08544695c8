// The WASM build of the inference engine against the PyTorch goldens
// (tests/golden/nn, written by scripts/timbrel/golden/nn.py), and its loader's
// errors surfacing as messages, not crashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readNpy } from './npy.mjs';

const coreDir = resolve(process.env.TIMBREL_CORE_DIR ?? 'build-wasm/web');
const goldenDir = resolve('tests/golden/nn');
const { default: createTimbrelCore } = await import(join(coreDir, 'timbrel-core.mjs'));
const core = await createTimbrelCore();

// Same tolerance as the native test: |a - b| <= 1e-5 + 1e-5 |b|.
function assertClose(got, want, label) {
  assert.equal(got.length, want.length, `${label}: length`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-5 + 1e-5 * Math.abs(want[i])));
  }
  assert.ok(worst <= 1, `${label}: worst error ${worst.toFixed(2)}x the tolerance`);
}

function runOffline(kernel, graph, input) {
  const [frames, channels] = input.shape;
  kernel.reserveSequence(frames * channels);
  new Float32Array(core.HEAPF32.buffer, kernel.sequenceInputPointer(), frames * channels).set(input.data);
  const outFrames = kernel.forward(graph, frames);
  assert.ok(outFrames >= 0, `${graph}: forward failed`);
  const size = kernel.outputSize(graph);
  return new Float32Array(core.HEAPF32.buffer, kernel.sequenceOutputPointer(), outFrames * size).slice();
}

test('kernels use wasm SIMD', () => {
  assert.equal(core.kernelPath(), 'wasm_simd128');
});

const cases = existsSync(goldenDir) ? readdirSync(goldenDir).filter((f) => f.endsWith('.tmbl')) : [];

test('golden cases exist', () => assert.ok(cases.length >= 10, `found ${cases.length}`));

for (const file of cases) {
  const name = file.replace(/\.tmbl$/, '');
  test(`${name}: WASM core matches PyTorch`, () => {
    const kernel = new core.ModelKernel();
    try {
      assert.equal(kernel.load(readFileSync(join(goldenDir, file))), '');
      for (const graph of kernel.graphNames().split(',')) {
        const prefix = join(goldenDir, `${name}.${graph}`);
        if (!existsSync(`${prefix}.input.npy`)) continue;
        const got = runOffline(kernel, graph, readNpy(`${prefix}.input.npy`));
        assertClose(got, readNpy(`${prefix}.output.npy`).data, `${name}.${graph}`);
      }
    } finally {
      kernel.delete();
    }
  });
}

test('a truncated or corrupted model is refused with a message and the old model stays', () => {
  const kernel = new core.ModelKernel();
  try {
    const good = readFileSync(join(goldenDir, cases[0]));
    assert.equal(kernel.load(good), '');
    assert.match(kernel.load(good.subarray(0, good.length - 100)), /truncated|checksum/);
    assert.match(kernel.load(Buffer.from('hello world, not a model')), /bad magic/);
    assert.ok(kernel.loaded());
    assert.ok(kernel.graphNames().length > 0);
  } finally {
    kernel.delete();
  }
});
