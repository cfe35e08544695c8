// Switching instruments while the Voice panel streams from the microphone: ten
// switches through the shipped models, each prepared in a Worker and adopted by
// the worklet's kernel in slices (no model is parsed on the audio thread), with
// nothing lost: no lost render quanta, no kernel underruns, no non-finite
// output, and sound all along. The longest time any one step spends on the
// audio thread is measured by tests/bench/model_switch_bench.mjs.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BASE_ARGS, CHROMIUM, LOCAL_ONLY_ARGS, OUTPUT_DIR, REPO, coreHas, fakeMicArgs, makeTempDir, recordErrors, startServer,
} from './harness.mjs';
import { writeVoiceLikeWav } from './signal.mjs';
import { METER, STATUS } from '../../web/src/worklet/audio-ring.js';

const SWITCHES = 10;
const index = JSON.parse(fs.readFileSync(path.join(REPO, 'models', 'index.json'), 'utf8'));
const models = (Array.isArray(index) ? index : index.models).filter((m) => fs.existsSync(path.join(REPO, 'models', m.file)));
const hasKernel = await coreHas('VoiceKernel').catch(() => false);
const skip = !hasKernel ? 'no VoiceKernel in the core (voice-transfer.test.mjs fails on it)' : models.length < 2 ? 'fewer than two shipped models' : false;

let server;
let tmp;
let voiceWav;

before(async () => {
  if (skip) return;
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  tmp = makeTempDir();
  voiceWav = writeVoiceLikeWav(tmp);
  server = await startServer();
});

after(async () => {
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test(`${SWITCHES} model switches while streaming lose nothing`, { skip, timeout: 180000 }, async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, ...fakeMicArgs(voiceWav)] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}#voice`);
    await page.locator('#voice .model-tile').first().waitFor({ timeout: 15000 });
    await page.getByRole('button', { name: 'Start microphone' }).click();
    await page.waitForFunction(() => document.getElementById('voice').dataset.model, null, { timeout: 20000 });
    await page.getByRole('switch', { name: 'Sound on' }).check();
    const status = () => page.evaluate(() => Array.from(globalThis.timbrel.voice.engine.reader.status));
    const before = await status();
    const levels = [];
    let current = await page.evaluate(() => document.getElementById('voice').dataset.model);
    for (let i = 0; i < SWITCHES; i++) {
      const next = models[(models.findIndex((m) => m.id === current) + 1) % models.length].id;
      await page.locator(`#voice input[name="voice-model"][value="${next}"]`).check({ force: true });
      await page.waitForFunction((id) => document.getElementById('voice').dataset.model === id, next, { timeout: 20000 });
      // The loudest output over the next 1.2 s: the crossfade, then the new
      // instrument (the input's longest pause, at its loop point, is 0.8 s).
      levels.push(await page.evaluate(async (field) => {
        let loudest = -120;
        for (let i = 0; i < 24; i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          loudest = Math.max(loudest, globalThis.timbrel.voice.engine.reader.meter(field));
        }
        return loudest;
      }, METER.OUTPUT_DB));
      current = next;
    }
    const after = await status();
    const loads = after[STATUS.MODEL_LOADS] - before[STATUS.MODEL_LOADS];
    console.log(`# ${loads} models adopted while streaming; quanta ${after[STATUS.QUANTA] - before[STATUS.QUANTA]}, lost ${after[STATUS.LOST_QUANTA]}, underruns ${after[STATUS.UNDERRUNS]}`);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'voice-model-switch.png') });
    assert.equal(loads, SWITCHES, 'every switch reached the kernel');
    assert.equal(after[STATUS.LOST_QUANTA], 0, `lost quanta (last gap ${after[STATUS.LAST_GAP]} frames at quantum ${after[STATUS.LAST_GAP_QUANTUM]})`);
    assert.equal(after[STATUS.UNDERRUNS], before[STATUS.UNDERRUNS], 'kernel underruns');
    assert.equal(after[STATUS.NONFINITE_OUTPUTS], 0, 'non-finite output samples');
    console.log(`# output level after each switch (dBFS): ${levels.map((db) => db.toFixed(1)).join(', ')}`);
    assert.ok(levels.every((db) => db > -60), 'every instrument sounds after its switch');
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
  }
});
