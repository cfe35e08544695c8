// End-to-end: the Voice panel in headless Chromium. Chromium's fake microphone
// plays a voice-like phrase (generated here: sung vowel notes with glides, vibrato
// and silences); the real WebAssembly core's TransferKernel turns it into an
// instrument in the AudioWorklet; the page's recorder captures ~10 s, with a model
// switch in the middle, and the test checks what came out.
//
//   node --test tests/web/voice-transfer.test.mjs
//
// Models: the first two of models/index.json; while no model is shipped yet, the
// small random-weight test model tests/golden/vq/model.tmbl is served twice from
// a temporary models folder (web/serve.mjs --models-dir). Needs a core built with
// TransferKernel (build-wasm/web, or TIMBREL_CORE_DIR); a core without it fails.
// Screenshots and the recorded WAV go to tests/web/output/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BASE_ARGS,
  CHROMIUM,
  CORE_DIR,
  LOCAL_ONLY_ARGS,
  OUTPUT_DIR,
  REPO,
  coreHas,
  fakeMicArgs,
  isLocal,
  makeTempDir,
  recordErrors,
  recordRequests,
  startServer,
  writeWav,
} from './harness.mjs';
import { allFinite, frameDb, maxJump, pearson, rmsDb, shapeLsdDb, shapeSpectrum, voiceLikeSignal, writeVoiceLikeWav } from './signal.mjs';
import { decodeWav } from '../../web/src/audio/wav.js';
import { STATUS } from '../../web/src/worklet/audio-ring.js';

const TIMEOUT = 120000;
const RUN_SECONDS = 10;
const SWITCH_AT_SECONDS = 4.5;
const TEST_MODEL = path.join(REPO, 'tests', 'golden', 'vq', 'model.tmbl');

// A core without the binding is a broken build, not a reason to skip.
const hasKernel = await coreHas('VoiceKernel').catch(() => false);
test('the WebAssembly core has the VoiceKernel binding', () => {
  assert.ok(hasKernel, `${CORE_DIR}/timbrel-core.mjs has no VoiceKernel: rebuild the WebAssembly core`);
});
const skip = !hasKernel;

let server;
let tmp;
let voiceWav;
let models; // [{id, instrument}] as the page lists them

// A models folder with the test model under two ids, for when none is shipped.
function testModelsDir(dir) {
  const root = path.join(dir, 'models');
  const entries = ['test-a', 'test-b'].map((id, i) => {
    fs.mkdirSync(path.join(root, id), { recursive: true });
    fs.copyFileSync(TEST_MODEL, path.join(root, id, `${id}.tmbl`));
    fs.writeFileSync(
      path.join(root, id, 'MODEL_CARD.md'),
      `# Test model ${i + 1}\n\nRandom weights (tests/golden/vq/model.tmbl): it sounds like noise but exercises the whole path.\n\n- Data: none (parity test only)\n- Codebook usage: not measured\n`,
    );
    return {
      id,
      instrument: `test model ${'AB'[i]}`,
      file: `${id}/${id}.tmbl`,
      card: `${id}/MODEL_CARD.md`,
      f0_range_hz: [100, 800],
      quantized: true,
      size_bytes: fs.statSync(TEST_MODEL).size,
    };
  });
  fs.writeFileSync(path.join(root, 'index.json'), JSON.stringify(entries, null, 1));
  return root;
}

before(async () => {
  if (skip) return;
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  tmp = makeTempDir();
  voiceWav = writeVoiceLikeWav(tmp);
  const shipped = path.join(REPO, 'models', 'index.json');
  let modelsDir = null;
  const list = fs.existsSync(shipped) ? JSON.parse(fs.readFileSync(shipped, 'utf8')) : [];
  const shippedModels = Array.isArray(list) ? list : list.models ?? [];
  if (shippedModels.length >= 2) {
    models = shippedModels.slice(0, 2);
  } else {
    assert.ok(fs.existsSync(TEST_MODEL), `no models/index.json and no ${TEST_MODEL}`);
    modelsDir = testModelsDir(tmp);
    models = JSON.parse(fs.readFileSync(path.join(modelsDir, 'index.json'), 'utf8'));
    console.log('# models/index.json lists fewer than two models: serving the test model twice');
  }
  server = await startServer({ modelsDir });
});

after(async () => {
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function launch(args) {
  return chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, ...args] });
}

function floats(b64) {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(new Uint8Array(bytes).buffer);
}

async function openVoice(context) {
  const page = await context.newPage();
  const errors = recordErrors(page);
  await page.goto(`${server.url}#voice`);
  await page.locator('#voice .model-tile').first().waitFor({ timeout: 15000 });
  return { page, errors };
}

const modelLoaded = (page, id, timeout = 20000) =>
  page.waitForFunction((want) => document.getElementById('voice').dataset.model === want, id, { timeout });

describe('Voice panel, fake microphone singing', { skip }, () => {
  let browser;
  before(async () => {
    browser = await launch(fakeMicArgs(voiceWav));
  });
  after(async () => {
    await browser?.close();
  });

  test('the instrument follows the voice, sounds different, switches model without a click, loses nothing', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const requests = recordRequests(context);
    const { page, errors } = await openVoice(context);

    assert.equal(await page.isVisible('#voice'), true, '#voice shows the Voice panel');
    assert.equal(await page.isHidden('#listen'), true, 'the Listen panel is hidden');
    assert.equal(await page.locator('#voice .model-tile').count() >= 1, true);
    assert.equal(await page.locator('#voice .model-tile input').first().isChecked(), true, 'the first model is preselected');
    assert.equal(await page.getByRole('switch', { name: 'Sound on' }).isChecked(), false, 'the sound starts off');

    await page.getByRole('button', { name: 'Start microphone' }).click();
    await modelLoaded(page, models[0].id);
    await page.waitForFunction(() => document.getElementById('voice').dataset.mode === 'mic');
    await page.getByRole('switch', { name: 'Sound on' }).check();
    await page.waitForTimeout(1000); // the pipeline fills

    await page.getByRole('button', { name: 'Record' }).click();
    const t0 = Date.now();
    await page.waitForTimeout(SWITCH_AT_SECONDS * 1000);
    await page.locator(`#voice .model-tile[data-model="${models[1].id}"]`).click();
    await modelLoaded(page, models[1].id);
    await page.waitForTimeout(Math.max(0, 7000 - (Date.now() - t0)));
    await page.locator('#model-card summary').click().catch(() => {}); // open the card for the screenshot
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'voice-transfer.png'), fullPage: true });
    await page.waitForTimeout(Math.max(0, RUN_SECONDS * 1000 - (Date.now() - t0)));
    await page.getByRole('button', { name: 'Stop recording' }).click();

    // The download the visitor gets: a WAV of the output.
    const link = page.locator('#record-download');
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const wavPath = path.join(OUTPUT_DIR, 'voice-transfer-output.wav');
    await download.saveAs(wavPath);
    assert.match(download.suggestedFilename(), /^timbrel-.+\.wav$/);

    const take = await page.evaluate(() => globalThis.timbrel.voice.exportTake());
    const status = await page.evaluate(() => Array.from(globalThis.timbrel.voice.engine.reader.status));
    const latencySamples = await page.evaluate(() => globalThis.timbrel.voice.engine.latencySamples);
    const shownLatencyMs = Number(await page.getAttribute('#voice-latency-value', 'data-ms'));
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'voice-transfer-recorded.png'), fullPage: false });

    const rate = take.sampleRate;
    const input = floats(take.input);
    const output = floats(take.output);
    const wav = decodeWav(fs.readFileSync(wavPath));
    console.log(`# context ${rate} Hz, recorded ${(output.length / rate).toFixed(2)} s, core latency ${latencySamples} samples (${((latencySamples / rate) * 1000).toFixed(1)} ms), shown ${shownLatencyMs} ms`);

    // The WAV holds the recording: same rate and length, 16-bit rounding of the samples.
    assert.equal(wav.sampleRate, rate);
    assert.equal(wav.channels.length, 1);
    assert.equal(wav.channels[0].length, output.length);
    let wavError = 0;
    for (let i = 0; i < output.length; i++) {
      if (Math.abs(output[i]) < 1) wavError = Math.max(wavError, Math.abs(wav.channels[0][i] - output[i]));
    }
    assert.ok(wavError <= 0.5 / 32767 + 1e-7, `WAV samples match the recording to 16-bit rounding (max error ${wavError})`);

    // Length and integrity: ~10 s, nothing lost anywhere.
    assert.ok(output.length / rate > RUN_SECONDS - 1.5, `recorded ${output.length / rate} s`);
    assert.equal(take.lapped, 0, 'the recorder kept up with the ring');
    assert.equal(status[STATUS.LOST_QUANTA], 0, `lost quanta: ${status[STATUS.LOST_QUANTA]} (last gap ${status[STATUS.LAST_GAP]} frames)`);
    assert.equal(status[STATUS.UNDERRUNS], 0, 'kernel underruns');
    assert.equal(status[STATUS.OVERRUNS], 0, 'kernel overruns');
    assert.equal(status[STATUS.NONFINITE_OUTPUTS], 0, 'non-finite output samples');
    assert.ok(latencySamples > 0 && shownLatencyMs >= (latencySamples / rate) * 1000, 'the shown latency includes the core latency');

    // Non-silent and finite.
    assert.ok(allFinite(output), 'output is finite');
    const inDb = rmsDb(input);
    const outDb = rmsDb(output);
    console.log(`# input ${inDb.toFixed(1)} dBFS, output ${outDb.toFixed(1)} dBFS`);
    assert.ok(inDb > -40, `the fake microphone reached the kernel (${inDb.toFixed(1)} dBFS)`);
    assert.ok(outDb > -45, `output is not silent (${outDb.toFixed(1)} dBFS)`);

    // Follows the input's loudness: frame levels correlate once aligned by the latency.
    const L = latencySamples;
    const x = input.subarray(0, input.length - L);
    const y = output.subarray(L);
    const r = pearson(frameDb(x), frameDb(y));
    console.log(`# loudness correlation (frames of 2048, aligned by ${L} samples): r = ${r.toFixed(3)}`);
    assert.ok(r > 0.5, `output loudness follows the input (r = ${r.toFixed(3)})`);

    // Differs spectrally: spectral shapes of loud aligned frames, LSD in dB.
    const pairs = [];
    for (let s = 0; s + 2048 <= x.length; s += 2048) {
      if (rmsDb(x, s, s + 2048) > -35 && rmsDb(y, s, s + 2048) > -60) pairs.push([shapeSpectrum(x, s), shapeSpectrum(y, s)]);
    }
    assert.ok(pairs.length > 20, `enough loud frames (${pairs.length})`);
    const lsd = shapeLsdDb(pairs, { rate });
    console.log(`# spectral-shape LSD input vs output over ${pairs.length} frames: ${lsd.toFixed(1)} dB`);
    assert.ok(lsd > 5, `output differs spectrally from the input (LSD ${lsd.toFixed(1)} dB)`);

    // The model switch: the kernel crossfades, so no sample step near it is larger
    // than the largest one elsewhere in the take. A 25 % margin: with a noise-like
    // output (the random-weight test model) the largest step of a 0.3 s window
    // exceeds that of the other 9.7 s by chance a few times in a hundred, by more
    // than 25 % about never; a click on a trained model's harmonic output is a
    // step several times the waveform's own.
    const mark = take.marks.find((m) => m.type === 'model' && m.id === models[1].id);
    assert.ok(mark, `the switch to ${models[1].id} is marked in the take: ${JSON.stringify(take.marks)}`);
    const from = mark.frame;
    const to = mark.frame + Math.round(0.3 * rate) + L; // warm-up, crossfade and the path's latency
    const near = maxJump(output, from, to);
    const before = maxJump(output, Math.round(0.3 * rate), from);
    const afterIt = maxJump(output, to, output.length);
    const elsewhere = Math.max(before, afterIt);
    console.log(`# switch at ${(from / rate).toFixed(2)} s: max step near it ${near.toFixed(4)}, elsewhere ${elsewhere.toFixed(4)}`);
    assert.ok(near <= 1.25 * elsewhere, `no discontinuity at the switch (${near} > 1.25 × ${elsewhere})`);

    // The page shows what it heard.
    assert.equal(await page.getAttribute('#voice-lost', 'data-lost'), '0');
    assert.deepEqual(requests.filter((u) => !isLocal(u)), [], 'no request may leave localhost');
    assert.deepEqual(errors, [], 'no console errors');
    await context.close();
  });

  test('errors are explained and the current model keeps playing', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await openVoice(context);

    // Not a model at all: refused on the main thread.
    await page.setInputFiles('#model-file', { name: 'holiday.tmbl', mimeType: 'application/octet-stream', buffer: Buffer.from('definitely not a model file') });
    const modelError = page.locator('#voice-status [data-key="model-error"]');
    await modelError.waitFor({ timeout: 10000 });
    assert.match(await modelError.textContent(), /not a Timbrel model/);

    await page.getByRole('button', { name: 'Play example' }).click();
    await modelLoaded(page, models[0].id);
    await page.waitForFunction(() => document.getElementById('voice-source').dataset.source === 'example');
    await modelError.waitFor({ state: 'detached' });

    // A damaged model (right magic, truncated): the kernel's loader refuses it.
    const truncated = fs.readFileSync(TEST_MODEL).subarray(0, 4000);
    await page.setInputFiles('#model-file', { name: 'broken.tmbl', mimeType: 'application/octet-stream', buffer: truncated });
    await modelError.waitFor({ timeout: 10000 });
    const text = await modelError.textContent();
    console.log(`# truncated model: ${text}`);
    assert.match(text, /could not be loaded/);
    assert.match(text, /keeps playing/);
    assert.equal(await page.getAttribute('#voice-model-value', 'data-model'), models[0].id, 'the previous model still plays');
    assert.equal(await page.locator('#voice .model-tile input:checked').getAttribute('value'), models[0].id, 'the picker shows it again');
    assert.equal(await page.locator('#voice .model-tile[data-model^="file:"]').count(), 0, 'the refused file is not listed');
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'voice-errors.png'), fullPage: true });

    // Your own model that works: the test model itself.
    await page.setInputFiles('#model-file', { name: 'my-instrument.tmbl', mimeType: 'application/octet-stream', buffer: fs.readFileSync(TEST_MODEL) });
    await page.waitForFunction(() => document.getElementById('voice').dataset.model?.startsWith('file:my-instrument.tmbl'), null, { timeout: 20000 });
    assert.match(await page.textContent('#voice .model-tile[data-state="playing"]'), /my instrument/i);

    // A model dropped on the instrument card (drag and drop).
    await page.evaluate((bytes) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], 'dropped.tmbl', { type: 'application/octet-stream' }));
      const zone = document.getElementById('model-drop');
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, [...fs.readFileSync(TEST_MODEL)]);
    await page.waitForFunction(() => document.getElementById('voice').dataset.model?.startsWith('file:dropped.tmbl'), null, { timeout: 20000 });

    // An audio file the browser cannot decode.
    await page.setInputFiles('#voice-file', { name: 'song.mp3', mimeType: 'audio/mpeg', buffer: Buffer.alloc(5000, 7) });
    const fileError = page.locator('#voice-status [data-key="file-error"]');
    await fileError.waitFor({ timeout: 10000 });
    assert.match(await fileError.textContent(), /could not be decoded/);
    assert.equal(await page.getAttribute('#voice-source', 'data-source'), 'example', 'the example keeps playing');

    // An audio file that decodes: a second of the voice-like phrase.
    const rate = 22050;
    const wav = path.join(tmp, 'short.wav');
    writeWav(wav, voiceLikeSignal({ seconds: 2, rate }), rate);
    await page.setInputFiles('#voice-file', wav);
    await page.waitForFunction(() => document.getElementById('voice-source').dataset.source === 'file');
    assert.match(await page.textContent('#voice-source'), /short\.wav/);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'voice-own-model-and-file.png'), fullPage: true });

    await page.getByRole('button', { name: 'Stop' }).click();
    assert.equal(await page.getAttribute('#voice-source', 'data-source'), 'idle');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('phone width and keyboard: fits, and Tab/Enter/arrows operate it', { timeout: TIMEOUT }, async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const { page: small } = await openVoice(phone);
    await small.getByRole('button', { name: 'Play example' }).tap();
    await modelLoaded(small, models[0].id);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
    await small.waitForTimeout(1500);
    await small.screenshot({ path: path.join(OUTPUT_DIR, 'voice-phone.png'), fullPage: true });
    await phone.close();

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page } = await openVoice(context);
    // The model tiles are one radio group: Tab reaches it, arrows move the choice.
    let focused = '';
    for (let i = 0; i < 20 && focused !== 'voice-model'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.name ?? '');
    }
    assert.equal(focused, 'voice-model', 'Tab reaches the instrument picker');
    await page.keyboard.press('ArrowRight');
    const chosen = await page.evaluate(() => document.activeElement.value);
    assert.equal(chosen, models[1].id, 'ArrowRight chooses the next instrument');
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement.closest('.model-tile')).outlineStyle);
    assert.notEqual(ring, 'none', 'the focused tile shows a focus ring');
    // On to the microphone button, then Enter.
    for (let i = 0; i < 10 && focused !== 'voice-mic-button'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    assert.equal(focused, 'voice-mic-button');
    await page.keyboard.press('Enter');
    await modelLoaded(page, chosen);
    await page.waitForFunction(() => document.getElementById('voice').dataset.mode === 'mic');
    // Leaving the panel stops it (one microphone user at a time).
    await page.click('a[data-nav="listen"]');
    await page.waitForFunction(() => document.getElementById('voice').dataset.mode === 'idle');
    await context.close();
  });
});

describe('Voice panel, controls reach the kernel', { skip }, () => {
  test('all voice (dry/wet 0): the output is the input, delayed by the reported latency', { timeout: TIMEOUT }, async () => {
    const browser = await launch(fakeMicArgs(voiceWav));
    try {
      const context = await browser.newContext();
      const { page, errors } = await openVoice(context);
      await page.locator('#voice-drywet').fill('0');
      assert.equal(await page.textContent('#voice-drywet-value'), '100 % voice');
      await page.locator('#voice-gate').fill('-100');
      assert.equal(await page.textContent('#voice-gate-value'), 'off');
      await page.getByRole('radio', { name: '+1' }).check(); // transposes the wet path only
      await page.getByRole('button', { name: 'Start microphone' }).click();
      await modelLoaded(page, models[0].id);
      await page.waitForTimeout(500);
      await page.getByRole('button', { name: 'Record' }).click();
      await page.waitForTimeout(2500);
      await page.getByRole('button', { name: 'Stop recording' }).click();
      const take = await page.evaluate(() => globalThis.timbrel.voice.exportTake());
      const L = await page.evaluate(() => globalThis.timbrel.voice.engine.latencySamples);
      const input = floats(take.input);
      const output = floats(take.output);
      let err = 0;
      let peak = 0;
      for (let i = L + 4800; i < output.length; i++) {
        err = Math.max(err, Math.abs(output[i] - input[i - L]));
        peak = Math.max(peak, Math.abs(input[i - L]));
      }
      console.log(`# dry path: max |out[n] - in[n - ${L}]| = ${err.toExponential(2)} (input peak ${peak.toFixed(3)})`);
      assert.ok(peak > 0.05, 'the input was not silent');
      assert.ok(err < 1e-3 * Math.max(peak, 1), `the dry output is the delayed input (max error ${err})`);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});

describe('Voice panel, failures', { skip }, () => {
  test('a suspended AudioContext offers a Resume button', { timeout: TIMEOUT }, async () => {
    const browser = await launch(fakeMicArgs(voiceWav));
    try {
      const context = await browser.newContext();
      await context.addInitScript(() => {
        const Native = globalThis.AudioContext;
        globalThis.AudioContext = class extends Native {
          constructor(options) {
            super(options);
            this.blockedResumes = 1;
            super.suspend();
          }
          resume() {
            if (this.blockedResumes-- > 0) return Promise.resolve();
            return super.resume();
          }
        };
      });
      const { page, errors } = await openVoice(context);
      await page.getByRole('button', { name: 'Start microphone' }).click();
      const message = page.locator('#voice-status [data-key="suspended"]');
      await message.waitFor({ timeout: 15000 });
      await page.getByRole('button', { name: 'Resume audio' }).click();
      await message.waitFor({ state: 'detached', timeout: 10000 });
      await modelLoaded(page, models[0].id);
      await page.waitForFunction(() => Number(document.getElementById('voice-out-value').dataset.db) > -60, null, { timeout: 10000 });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  test('a denied microphone is explained; the example still plays', { timeout: TIMEOUT }, async () => {
    const browser = await launch(['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
    try {
      const context = await browser.newContext({ permissions: [] });
      const { page } = await openVoice(context);
      await page.getByRole('button', { name: 'Start microphone' }).click();
      const message = page.locator('#voice-status [data-key="mic-denied"]');
      await message.waitFor({ timeout: 15000 });
      assert.match(await message.textContent(), /Microphone access is blocked/);
      await page.getByRole('button', { name: 'Play example' }).click();
      await page.waitForFunction(() => document.getElementById('voice-source').dataset.source === 'example');
      await modelLoaded(page, models[0].id);
    } finally {
      await browser.close();
    }
  });

  test('an unsupported device sample rate is explained', { timeout: TIMEOUT }, async () => {
    const browser = await launch(fakeMicArgs(voiceWav));
    try {
      const context = await browser.newContext();
      await context.addInitScript(() => {
        const Native = globalThis.AudioContext;
        globalThis.AudioContext = class extends Native {
          constructor(options = {}) {
            super({ ...options, sampleRate: 3000 });
          }
        };
      });
      const { page, errors } = await openVoice(context);
      await page.getByRole('button', { name: 'Start microphone' }).click();
      const message = page.locator('#voice-status [data-key="core-error"]');
      await message.waitFor({ timeout: 15000 });
      const text = await message.textContent();
      assert.match(text, /cannot run on this audio device/);
      assert.match(text, /3000 Hz/);
      assert.equal(await page.getAttribute('#voice-source', 'data-source'), 'idle');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
