// The output guard in the page (core/include/timbrel/dsp/output_guard.h): the
// Voice panel plays the example through a model whose output is absurd (the
// golden test model with its gain head at softplus(20): near +40 dBFS), the
// kernel mutes it, and the panel's status says "The model produced invalid
// output; muted." Nothing reaches the speakers or the recording beyond -1 dBTP,
// and a shipped model, picked next, plays again and clears the message.
//
//   node --test tests/web/output-guard.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, CORE_DIR, LOCAL_ONLY_ARGS, OUTPUT_DIR, REPO, coreHas, recordErrors, startServer } from './harness.mjs';
import { GUARD_STATE, METER, STATUS } from '../../web/src/worklet/audio-ring.js';

const TIMEOUT = 120000;
const ABSURD_MODEL = path.join(REPO, 'tests', 'hostile', 'absurd_gain.tmbl');

const hasKernel = await coreHas('VoiceKernel').catch(() => false);
test('the WebAssembly core has the VoiceKernel binding', () => {
  assert.ok(hasKernel, `${CORE_DIR}/timbrel-core.mjs has no VoiceKernel: rebuild the WebAssembly core`);
});

let server;
before(async () => {
  if (!hasKernel) return;
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  server = await startServer({});
});
after(async () => {
  await server?.stop();
});

test('a model with absurd output is muted and the Voice panel says so; another model plays again', { skip: !hasKernel, timeout: TIMEOUT }, async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}#voice`);
    await page.locator('#voice .model-tile').first().waitFor({ timeout: 15000 });
    const first = await page.locator('#voice .model-tile input').first().getAttribute('value');
    await page.getByRole('button', { name: 'Play example' }).click();
    await page.waitForFunction((id) => document.getElementById('voice').dataset.model === id, first, { timeout: 20000 });

    await page.setInputFiles('#model-file', { name: 'absurd.tmbl', mimeType: 'application/octet-stream', buffer: fs.readFileSync(ABSURD_MODEL) });
    const message = page.locator('#voice-status [data-key="model-guard"]');
    await message.waitFor({ timeout: 20000 });
    const text = await message.textContent();
    console.log(`# absurd model: ${text}`);
    assert.match(text, /The model produced invalid output; muted\./);
    const status = () => page.evaluate(() => Array.from(globalThis.timbrel.voice.engine.reader.status));
    assert.equal((await status())[STATUS.GUARD], GUARD_STATE.MUTED);
    // The speakers' path: the kernel's output level (wet only, the default) is silence while muted.
    await page.waitForTimeout(500);
    const outDb = await page.evaluate((field) => globalThis.timbrel.voice.engine.reader.meter(field), METER.OUTPUT_DB);
    console.log(`# output level while muted: ${outDb} dBFS`);
    assert.ok(outDb <= -100, `output level ${outDb} dBFS while muted`);
    await page.locator('#voice-status').screenshot({ path: path.join(OUTPUT_DIR, 'voice-guard.png') });

    // A shipped model: the guard is reset with it, and the message goes.
    await page.locator(`#voice .model-tile input[value="${first}"]`).check({ force: true });
    await page.waitForFunction((id) => document.getElementById('voice').dataset.model === id, first, { timeout: 20000 });
    await message.waitFor({ state: 'detached', timeout: 10000 });
    assert.notEqual((await status())[STATUS.GUARD], GUARD_STATE.MUTED);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
  }
});
