// End-to-end: the Listen panel in headless Chromium, fed a 220 Hz sine through
// Chromium's fake microphone, analysed by the real WebAssembly core in the AudioWorklet.
//
//   npm run test:web        (needs build-wasm/web/timbrel-core.mjs, or TIMBREL_CORE_DIR)
//
// Screenshots go to tests/web/output/.

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
  fakeMicArgs,
  isLocal,
  makeSineWav,
  makeTempDir,
  netLogArgs,
  readNetLog,
  recordErrors,
  recordRequests,
  startServer,
  waitForSettledPitch,
} from './harness.mjs';

const TIMEOUT = 90000;
let server;
let tmp;
let sineWav;

before(async () => {
  assert.ok(
    fs.existsSync(path.join(CORE_DIR, 'timbrel-core.mjs')),
    `${CORE_DIR}/timbrel-core.mjs not found: build the WebAssembly core first or set TIMBREL_CORE_DIR`,
  );
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  tmp = makeTempDir();
  sineWav = makeSineWav(tmp, { hz: 220, seconds: 10, rate: 48000, amplitude: 0.5 });
  server = await startServer();
});

after(async () => {
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function launch(args) {
  return chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, ...args] });
}

const readout = (page, id, attr) => page.getAttribute(`#${id}`, attr);

describe('microphone granted (fake 220 Hz sine)', () => {
  let browser;
  before(async () => {
    browser = await launch(fakeMicArgs(sineWav));
  });
  after(async () => {
    await browser?.close();
  });

  test('Start shows 220 Hz, a plausible centroid, and stays on localhost', { timeout: TIMEOUT }, async () => {
    const netLog = path.join(tmp, 'net-log.json');
    const browser = await launch([...fakeMicArgs(sineWav), ...netLogArgs(netLog)]);
    try {
      await startAndMeasure(browser);
    } finally {
      await browser.close();
    }
    // Every request the page caused (the worklet's included) went to this machine.
    const pageRequests = readNetLog(netLog).filter((r) => r.initiator !== 'not an origin');
    assert.ok(pageRequests.some((r) => r.url.endsWith('/core/timbrel-core.mjs')), 'the worklet loaded the core from /core/');
    assert.ok(pageRequests.some((r) => r.url.endsWith('/src/worklet/listen-processor.js')));
    assert.deepEqual(pageRequests.filter((r) => !isLocal(r.url)), [], 'no page request may leave localhost');
  });

  async function startAndMeasure(browser) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const requests = recordRequests(context);
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}#listen`);

    assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true, 'page is cross-origin isolated');
    assert.equal(await page.locator('#status [data-kind="error"]').count(), 0, 'no error before start');

    await page.getByRole('button', { name: 'Start microphone' }).click();
    const hz = await waitForSettledPitch(page);
    console.log(`# f0 shown in the browser: ${hz} Hz (${await page.textContent('#f0-value')})`);
    assert.ok(Math.abs(hz / 220 - 1) < 0.02, `f0 ${hz} Hz should be within 2 % of 220 Hz`);
    assert.equal(await readout(page, 'f0-value', 'data-note'), 'A3');
    assert.match(await page.textContent('#f0-value'), /^2\d\d\.\d Hz · A3$/);

    const centroid = Number(await readout(page, 'centroid-value', 'data-hz'));
    assert.ok(centroid > 150 && centroid < 2000, `centroid ${centroid} Hz is plausible for a 220 Hz sine`);
    const level = Number(await readout(page, 'level-value', 'data-db'));
    assert.ok(level > -30 && level < 0, `input level ${level} dBFS`);
    const loudness = Number(await readout(page, 'loudness-value', 'data-db'));
    assert.ok(Number.isFinite(loudness) && loudness < level, `A-weighted loudness ${loudness} dB is below the level at 220 Hz`);

    const rate = Number(await readout(page, 'sample-rate', 'data-hz'));
    assert.ok([44100, 48000, 88200, 96000].includes(rate), `context sample rate ${rate}`);
    const latency = Number(await readout(page, 'latency-value', 'data-ms'));
    assert.ok(latency > 0 && latency < 200, `latency ${latency} ms`);
    assert.equal(await readout(page, 'source-value', 'data-source'), 'mic');

    // Monitoring can be switched on and off while running.
    await page.getByLabel(/Monitor output/).check();
    await page.waitForTimeout(300);
    await page.getByLabel(/Monitor output/).uncheck();

    // The spectrogram has drawn something other than its background.
    const lit = await page.evaluate(() => {
      const c = document.getElementById('spectrogram');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 120) n++;
      return n;
    });
    assert.ok(lit > 500, `spectrogram has bright pixels (${lit})`);

    await page.waitForTimeout(2000); // let the spectrogram fill a little for the screenshot
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'live-analysis.png'), fullPage: true });

    await page.getByRole('button', { name: 'Stop' }).click();
    assert.equal(await readout(page, 'source-value', 'data-source'), 'idle');
    assert.equal(await page.textContent('#f0-value'), '—');

    const remote = requests.filter((u) => !isLocal(u));
    assert.deepEqual(remote, [], 'no request may leave localhost');
    assert.deepEqual(errors, [], 'no console errors');
    await context.close();
  }

  test('phone width: layout fits, Start still works', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}#listen`);
    await page.getByRole('button', { name: 'Start microphone' }).tap();
    const hz = await waitForSettledPitch(page);
    assert.ok(Math.abs(hz / 220 - 1) < 0.02, `f0 ${hz} Hz`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'live-analysis-phone.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('keyboard: Start is reachable and operable with Tab and Enter', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${server.url}#listen`);
    let focused = '';
    for (let i = 0; i < 10 && focused !== 'start-button'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    assert.equal(focused, 'start-button', 'Tab reaches the Start button');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'focus is visible');
    await page.keyboard.press('Enter');
    const hz = await waitForSettledPitch(page);
    assert.ok(Math.abs(hz / 220 - 1) < 0.02, `f0 ${hz} Hz`);
    await context.close();
  });
});

describe('microphone denied', () => {
  let browser;
  before(async () => {
    // A device exists but every permission prompt is answered "block".
    browser = await launch(['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
  });
  after(async () => {
    await browser?.close();
  });

  test('a friendly message appears and the example clip still plays', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: [] });
    const requests = recordRequests(context);
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}#listen`);
    await page.getByRole('button', { name: 'Start microphone' }).click();

    const message = page.locator('#status [data-key="mic-denied"]');
    await message.waitFor({ timeout: 15000 });
    assert.match(await message.textContent(), /Microphone access is blocked/);
    assert.match(await message.textContent(), /example clip/);
    assert.equal(await page.getAttribute('#status', 'aria-live'), 'polite');
    assert.equal(await readout(page, 'source-value', 'data-source'), 'idle');

    await page.getByRole('button', { name: 'Play example' }).click();
    await page.waitForFunction(() => document.getElementById('source-value').dataset.source === 'example');
    // The clip glides A3 -> E4 and back: the pitch readout must show it.
    const hz = await waitForSettledPitch(page, { stableReads: 2, tolerance: 0.05 });
    assert.ok(hz > 150 && hz < 450, `example pitch ${hz} Hz`);
    const level = Number(await readout(page, 'level-value', 'data-db'));
    assert.ok(level > -40, `example level ${level} dBFS`);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'mic-denied-example.png'), fullPage: true });

    assert.deepEqual(requests.filter((u) => !isLocal(u)), []);
    assert.deepEqual(errors.filter((e) => !/Permission denied|NotAllowedError/i.test(e)), []);
    await context.close();
  });
});

describe('other failures are explained', () => {
  let browser;
  before(async () => {
    browser = await launch(fakeMicArgs(sineWav));
  });
  after(async () => {
    await browser?.close();
  });

  test('no microphone (NotFoundError)', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
    });
    const page = await context.newPage();
    await page.goto(`${server.url}#listen`);
    await page.getByRole('button', { name: 'Start microphone' }).click();
    const message = page.locator('#status [data-key="mic-missing"]');
    await message.waitFor({ timeout: 15000 });
    assert.match(await message.textContent(), /No microphone was found/);
    assert.equal(await page.isEnabled('#example-button'), true);
    await context.close();
  });

  test('page not cross-origin isolated', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext();
    // Serve the page without its COOP/COEP headers.
    await context.route(server.url, async (route) => {
      const response = await route.fetch();
      const headers = { ...response.headers() };
      delete headers['cross-origin-opener-policy'];
      delete headers['cross-origin-embedder-policy'];
      await route.fulfill({ response, headers });
    });
    const page = await context.newPage();
    await page.goto(`${server.url}#listen`);
    assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), false);
    const message = page.locator('#status [data-key="not-isolated"]');
    await message.waitFor();
    assert.match(await message.textContent(), /cross-origin isolated/);
    assert.equal(await page.isDisabled('#start-button'), true);
    await context.close();
  });

  test('a suspended AudioContext offers a Resume button', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext();
    // Simulate a browser autoplay policy: the context starts suspended and the
    // page's own first resume() is ignored; the Resume button's click works.
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
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}#listen`);
    await page.getByRole('button', { name: 'Start microphone' }).click();
    const message = page.locator('#status [data-key="suspended"]');
    await message.waitFor({ timeout: 15000 });
    assert.match(await message.textContent(), /paused/);
    await page.getByRole('button', { name: 'Resume audio' }).click();
    await message.waitFor({ state: 'detached', timeout: 10000 });
    const hz = await waitForSettledPitch(page);
    assert.ok(Math.abs(hz / 220 - 1) < 0.02, `f0 ${hz} Hz after resuming`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the core refuses an unsupported sample rate', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext();
    // Force a context rate the core rejects (the page itself never forces a rate).
    await context.addInitScript(() => {
      const Native = globalThis.AudioContext;
      globalThis.AudioContext = class extends Native {
        constructor(options = {}) {
          super({ ...options, sampleRate: 3000 });
        }
      };
    });
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}#listen`);
    await page.getByRole('button', { name: 'Start microphone' }).click();
    const message = page.locator('#status [data-key="core-error"]');
    await message.waitFor({ timeout: 15000 });
    const text = await message.textContent();
    assert.match(text, /cannot run on this audio device/);
    assert.match(text, /3000 Hz/);
    assert.equal(await readout(page, 'source-value', 'data-source'), 'idle');
    assert.deepEqual(errors, []);
    await context.close();
  });
});
