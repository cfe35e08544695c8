// LONG TEST (about 75 s): the Voice panel runs for 60 s in headless Chromium
// from the fake microphone, recording all along, and must lose nothing: no lost
// render quanta in the worklet, no kernel underruns, no samples the recorder
// missed, no non-finite output (issue 5: "a 60 s run with no lost quanta"),
// and the output guard never muted the model, every recorded sample within
// -1 dBTP (issue 12).
//
//   node --test tests/web/voice-endurance.test.mjs
//   TIMBREL_ENDURANCE_SECONDS=300 node --test tests/web/voice-endurance.test.mjs
//       the 5-minute run (the recorder keeps its first 5 minutes)
//   TIMBREL_SKIP_LONG=1 skips it (e.g. for a quick local run of tests/web/).
//
// Models and core as in voice-transfer.test.mjs.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BASE_ARGS,
  CHROMIUM,
  LOCAL_ONLY_ARGS,
  OUTPUT_DIR,
  REPO,
  coreHas,
  fakeMicArgs,
  makeTempDir,
  recordErrors,
  startServer,
} from './harness.mjs';
import { writeVoiceLikeWav } from './signal.mjs';
import { GUARD_STATE, STATUS } from '../../web/src/worklet/audio-ring.js';

const SECONDS = Number(process.env.TIMBREL_ENDURANCE_SECONDS) || 60;
const RECORDER_LIMIT_S = 300; // the page's recorder stops at 5 minutes
const TEST_MODEL = path.join(REPO, 'tests', 'golden', 'vq', 'model.tmbl');

const hasKernel = await coreHas('VoiceKernel').catch(() => false);
const skip = process.env.TIMBREL_SKIP_LONG
  ? 'TIMBREL_SKIP_LONG is set'
  : hasKernel ? false : 'no VoiceKernel in the core (voice-transfer.test.mjs fails on it)';
if (skip) console.log(`# SKIPPED: ${skip}`);

let server;
let tmp;
let voiceWav;

before(async () => {
  if (skip) return;
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  tmp = makeTempDir();
  voiceWav = writeVoiceLikeWav(tmp);
  let modelsDir = null;
  if (!fs.existsSync(path.join(REPO, 'models', 'index.json'))) {
    modelsDir = path.join(tmp, 'models');
    fs.mkdirSync(path.join(modelsDir, 'test'), { recursive: true });
    fs.copyFileSync(TEST_MODEL, path.join(modelsDir, 'test', 'test.tmbl'));
    fs.writeFileSync(path.join(modelsDir, 'index.json'), JSON.stringify([
      { id: 'test', instrument: 'test model', file: 'test/test.tmbl', card: null, f0_range_hz: [100, 800], quantized: true, size_bytes: fs.statSync(TEST_MODEL).size },
    ]));
  }
  server = await startServer({ modelsDir });
});

after(async () => {
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test(`LONG: ${SECONDS} s of voice transfer from the microphone with nothing lost`, { skip, timeout: (SECONDS + 60) * 1000 }, async () => {
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
    await page.getByRole('button', { name: 'Record' }).click();
    const status = () => page.evaluate(() => Array.from(globalThis.timbrel.voice.engine.reader.status));
    const start = await status();
    const t0 = Date.now();
    for (let s = 10; s <= SECONDS; s += 10) {
      await page.waitForTimeout(Math.max(0, s * 1000 - (Date.now() - t0)));
      const now = await status();
      console.log(`# ${s} s: quanta ${now[STATUS.QUANTA] - start[STATUS.QUANTA]}, lost ${now[STATUS.LOST_QUANTA]}, underruns ${now[STATUS.UNDERRUNS]}, recorder laps ${now[STATUS.RECORD_LAPS]}`);
    }
    const stopRecording = page.getByRole('button', { name: 'Stop recording' });
    if (await stopRecording.count()) await stopRecording.click();
    const end = await status();
    // At 300 s the recorder stops by itself (its 5-minute limit) and finishes the take a
    // moment later: wait for it rather than read it before it exists.
    await page.waitForFunction(() => globalThis.timbrel.voice.recorder.take?.output, null, { timeout: 15000 });
    const take = await page.evaluate(() => {
      const t = globalThis.timbrel.voice.recorder.take;
      let bad = 0;
      let energy = 0;
      let peak = 0;
      for (const v of t.output) {
        if (!Number.isFinite(v)) bad++;
        else energy += v * v;
        if (Math.abs(v) > peak) peak = Math.abs(v);
      }
      return { seconds: t.output.length / t.sampleRate, lapped: t.lapped, bad, peak, db: 10 * Math.log10(energy / t.output.length + 1e-12) };
    });
    const rate = await page.evaluate(() => globalThis.timbrel.voice.engine.sampleRate);
    const quanta = end[STATUS.QUANTA] - start[STATUS.QUANTA];
    const expected = (take.seconds * rate) / 128;
    console.log(`# recorded ${take.seconds.toFixed(2)} s at ${rate} Hz (${take.db.toFixed(1)} dBFS, peak ${take.peak.toFixed(3)}); ${quanta} quanta for ~${expected.toFixed(0)} expected; lost ${end[STATUS.LOST_QUANTA]}, guard ${end[STATUS.GUARD]}`);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'voice-endurance.png') });

    assert.ok(take.seconds >= Math.min(SECONDS, RECORDER_LIMIT_S) - 1, `recorded ${take.seconds} s`);
    assert.equal(end[STATUS.LOST_QUANTA], 0, `lost quanta (last gap ${end[STATUS.LAST_GAP]} frames at quantum ${end[STATUS.LAST_GAP_QUANTUM]})`);
    assert.equal(end[STATUS.UNDERRUNS], 0, 'kernel underruns');
    assert.equal(end[STATUS.OVERRUNS], 0, 'kernel overruns');
    assert.equal(end[STATUS.NONFINITE_OUTPUTS], 0, 'non-finite output samples');
    assert.equal(take.lapped, 0, 'the recorder missed no samples');
    assert.equal(take.bad, 0);
    assert.notEqual(end[STATUS.GUARD], GUARD_STATE.MUTED, 'the output guard muted a shipped model');
    assert.ok(take.peak <= 0.8913, `recorded peak ${take.peak} above -1 dBTP`);
    assert.ok(take.db > -45, `output is not silent (${take.db.toFixed(1)} dBFS)`);
    // Every quantum of the wall-clock run was processed (the recording is as long as the run).
    if (SECONDS < RECORDER_LIMIT_S) assert.ok(Math.abs(quanta - expected) / expected < 0.05, `quanta ${quanta} vs ${expected}`);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
  }
});
