// The short version of the long runs (tests/wasm/endurance.mjs): a few seconds
// of every engine's WebAssembly build with the shipped models and hostile
// input (NaN bursts, +40 dB jumps, DC, a full-scale square, silence): output
// finite and inside [-1, 1], nothing muted, the module's heap unchanged.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/endurance.test.mjs
//   node tests/wasm/endurance.mjs 1800      # the long run: 30 minutes per engine
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { loadCore } from './core.mjs';
import { ENGINES, runEngine } from './endurance.mjs';

const SECONDS = Number(process.env.TIMBREL_WASM_ENDURANCE_SECONDS ?? 13);

let core;
before(async () => {
  core = await loadCore();
});

for (const name of ENGINES) {
  test(`${name}: ${SECONDS} s of hostile input stream through the WASM build, heap unchanged`, () => {
    const r = runEngine(core, name, SECONDS);
    assert.equal(r.outsideOrNonFinite, 0, `${name}: samples outside [-1, 1] or non-finite`);
    assert.equal(r.mutedQuanta, 0, `${name}: the guard muted a shipped model`);
    assert.equal(r.wasmGrowthBytes, 0, `${name}: the module's heap grew`);
    assert.ok(r.peak <= 0.8913 + 1e-4, `${name}: peak ${r.peak} above -1 dBTP`);
  });
}
