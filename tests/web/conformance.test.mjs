// The page's shared skeleton, checked the same way for every engine and panel:
// - every engine (web/src/*/*-engine.js) starts on a context, connects, rests,
//   and disposes cleanly (its processor frees its C++ kernel; dispose twice is
//   harmless; nothing answers after it), and a second one starts after it;
// - every panel starts a sound, stops it, rests when left (the page suspends the
//   device, without a false "Audio is paused" warning on return), and disposes
//   its engine; the whole page makes one AudioContext;
// - meanwhile every request the page, its Workers and worklets make is
//   same-origin (Chromium's net log sees them all), and the server's
//   Content-Security-Policy reports no violation.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, LOCAL_ONLY_ARGS, OUTPUT_DIR, coreHas, makeTempDir, netLogArgs, readNetLog, recordErrors, startServer } from './harness.mjs';

const TIMEOUT = 240000;
const hasCore = await coreHas('VoiceKernel').catch(() => false);
test('the WebAssembly core is built', () => assert.ok(hasCore, 'build the WebAssembly core first (scripts/setup.sh)'));

let server;
let browser;

before(async () => {
  if (!hasCore) return;
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, '--autoplay-policy=no-user-gesture-required'] });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// Counts the AudioContexts the page makes, and records CSP violations.
const countContexts = () => {
  globalThis.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => globalThis.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  const Native = globalThis.AudioContext;
  globalThis.audioContextsMade = 0;
  globalThis.AudioContext = class extends Native {
    constructor(options) {
      super(options);
      globalThis.audioContextsMade++;
    }
  };
};

describe('engines', { skip: !hasCore }, () => {
  test('every engine starts, connects, rests and disposes cleanly', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}#listen`);
    const results = await page.evaluate(async () => {
      const modules = {
        ListenEngine: '/src/listen/listen-engine.js',
        VoiceEngine: '/src/voice/voice-engine.js',
        DrawEngine: '/src/draw/draw-engine.js',
        MidiEngine: '/src/midi/midi-engine.js',
        TranscribeEngine: '/src/transcribe/transcribe-engine.js',
        GrainsEngine: '/src/grains/grains-engine.js',
      };
      const ctx = new AudioContext();
      const out = [];
      for (const [name, url] of Object.entries(modules)) {
        const Engine = (await import(url))[name];
        const row = { name };
        for (let round = 0; round < 2; round++) {
          const engine = new Engine(ctx);
          const info = await engine.start();
          row.started = typeof info === 'object' && info !== null;
          row.sameInfo = (await engine.start()) === info; // start() is idempotent
          row.connects = engine.connect(ctx.destination) === engine;
          engine.setActive(false);
          engine.setActive(true);
          const port = engine.node?.port ?? null;
          row.worklet = port !== null;
          const freed = port
            ? new Promise((resolve) => {
              port.addEventListener('message', (e) => e.data?.type === 'disposed' && resolve(e.data.kernelFreed));
              setTimeout(() => resolve('no answer'), 5000);
            })
            : Promise.resolve(null);
          engine.dispose();
          engine.dispose();
          row.kernelFreed = await freed;
          row.nodeGone = engine.node === null;
          row.requestAfter = await engine.request('x', { type: 'nothing' }).then(() => 'answered', (e) => e.message);
          engine.setActive(false); // a no-op, not an error
        }
        out.push(row);
      }
      await ctx.close();
      return out;
    });
    console.log(`# engines: ${results.map((r) => `${r.name}${r.worklet ? '' : ' (no worklet)'}`).join(', ')}`);
    for (const r of results) {
      assert.ok(r.started && r.sameInfo, `${r.name} starts once`);
      assert.ok(r.connects, `${r.name}.connect() returns the engine`);
      if (r.worklet) assert.equal(r.kernelFreed, true, `${r.name}'s processor freed its kernel`);
      assert.ok(r.nodeGone, `${r.name} let its node go`);
      assert.match(r.requestAfter, /not running/, `${r.name} answers nothing after dispose`);
    }
    assert.deepEqual(results.filter((r) => r.worklet).map((r) => r.name), ['ListenEngine', 'VoiceEngine', 'DrawEngine', 'MidiEngine', 'GrainsEngine']);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

// Per panel: how to start a sound and how to stop it, through the page.
const PANELS = [
  {
    name: 'voice',
    start: async (page) => {
      // The model list is there; the model itself loads once the engine runs (after this click).
      await page.waitForFunction(() => !document.getElementById('voice-example-button').disabled, null, { timeout: 30000 });
      await page.click('#voice-example-button');
    },
    stop: (page) => page.click('#voice-stop-button'),
  },
  { name: 'listen', start: (page) => page.click('#example-button'), stop: (page) => page.click('#stop-button') },
  {
    name: 'draw',
    start: async (page) => {
      await page.waitForFunction(() => document.getElementById('draw').dataset.model, null, { timeout: 30000 });
      await page.click('#draw-loop-button');
    },
    stop: (page) => page.click('#draw-stop-button'),
  },
  {
    name: 'midi',
    start: async (page) => {
      await page.waitForFunction(() => globalThis.timbrel.midi.model, null, { timeout: 30000 });
      await page.locator('#midi-keyboard').scrollIntoViewIfNeeded();
      await page.keyboard.down('a');
    },
    stop: (page) => page.keyboard.up('a'),
  },
  {
    name: 'transcribe',
    start: async (page) => {
      await page.waitForFunction(() => globalThis.timbrel.transcribe.model, null, { timeout: 30000 });
      await page.click('#transcribe-example-button');
      await page.waitForFunction(() => document.getElementById('transcribe').dataset.clip === 'example', null, { timeout: 60000 });
      await page.click('#transcribe-play-clip');
    },
    stop: (page) => page.click('#transcribe-stop-button'),
  },
  {
    name: 'grains',
    start: async (page) => {
      await page.waitForFunction(() => document.getElementById('grains').dataset.model, null, { timeout: 30000 });
      await page.click('#grains-play-button');
    },
    stop: (page) => page.click('#grains-play-button'),
  },
];

// page.waitForFunction, but a timeout names what was awaited and shows the
// page's state: the panel, its mode, the audio state and the status messages.
async function waitFor(page, what, fn, arg, timeout) {
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (error) {
    const state = await page.evaluate(() => ({
      panel: globalThis.timbrel.shell.current,
      mode: globalThis.timbrel[globalThis.timbrel.shell.current]?.mode,
      audio: globalThis.timbrel.audio.state,
      status: [...document.querySelectorAll('[data-key]')].map((e) => `${e.dataset.key}: ${e.textContent.trim().slice(0, 160)}`),
    })).catch((e) => `(page state unreadable: ${e.message})`);
    throw new Error(`${what}: not within ${timeout} ms; page: ${JSON.stringify(state)}`, { cause: error });
  }
}

// Starts and stops every panel in one page of `browser`; checks the shared context,
// disposal and the CSP.
async function checkPanels(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(countContexts);
  const page = await context.newPage();
  const errors = recordErrors(page);
  await page.goto(server.url);
  const first = await page.evaluate(() => globalThis.timbrel.shell.current);
  assert.equal(first, 'voice', 'the page opens on the headline feature');

  for (const panel of PANELS) {
    await page.click(`a[data-nav="${panel.name}"]`);
    await panel.start(page);
    await waitFor(page, `${panel.name}: plays`, (name) => globalThis.timbrel[name].mode !== 'idle' && globalThis.timbrel[name].engine, panel.name, 30000);
    await waitFor(page, `${panel.name}: the audio runs`, () => globalThis.timbrel.audio.state === 'running', null, 30000);
    await panel.stop(page);
    await waitFor(page, `${panel.name}: stops`, (name) => globalThis.timbrel[name].mode === 'idle', panel.name, 10000);
    // Left: the panel's sound and engine rest, and so does the device.
    await page.click('a[data-nav="listen"]');
    if (panel.name === 'listen') await page.click('a[data-nav="voice"]');
    await waitFor(page, `${panel.name}: the device rests when left`, () => globalThis.timbrel.audio.state === 'suspended', null, 10000);
    // Back: no warning that the browser paused the audio (the page did).
    await page.click(`a[data-nav="${panel.name}"]`);
    await page.waitForTimeout(300);
    const warned = await page.locator(`#${panel.name} [data-key="suspended"]`).count();
    assert.equal(warned, 0, `${panel.name}: no "Audio is paused" warning after returning`);
  }

  const shared = await page.evaluate(() => {
    const panels = ['voice', 'listen', 'draw', 'midi', 'transcribe', 'grains'].map((n) => globalThis.timbrel[n]);
    const contexts = new Set(panels.map((p) => p.engine?.context).filter(Boolean));
    return { engines: panels.filter((p) => p.engine).length, contexts: contexts.size, made: globalThis.audioContextsMade };
  });
  assert.deepEqual(shared, { engines: 6, contexts: 1, made: 1 }, 'six engines on the page\'s one AudioContext');
  await page.screenshot({ path: path.join(OUTPUT_DIR, 'conformance.png') });

  const disposed = await page.evaluate(() => {
    const names = ['voice', 'listen', 'draw', 'midi', 'transcribe', 'grains'];
    for (const n of names) globalThis.timbrel[n].dispose();
    return names.map((n) => globalThis.timbrel[n].engine);
  });
  assert.deepEqual(disposed, [null, null, null, null, null, null], 'every panel let its engine go');
  assert.deepEqual(await page.evaluate(() => globalThis.cspViolations), [], 'the Content-Security-Policy reports no violation');
  assert.deepEqual(errors, []);
  await context.close();
}

describe('panels', { skip: !hasCore }, () => {
  test('every panel starts and stops a sound, rests when left, and disposes its engine; same-origin only, no CSP violation', { timeout: TIMEOUT * 2 }, async () => {
    const netLog = path.join(makeTempDir(), 'net-log.json');
    const logged = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, '--autoplay-policy=no-user-gesture-required', ...netLogArgs(netLog)],
    });
    // Closed whatever happens: a browser left open keeps the test process alive.
    try {
      await checkPanels(logged);
    } finally {
      await logged.close();
    }
    const origin = new URL(server.url).origin;
    const requests = readNetLog(netLog).filter((r) => r.initiator !== 'not an origin');
    console.log(`# ${requests.length} requests from the page, its Workers and worklets`);
    assert.ok(requests.some((r) => r.url.endsWith('/core/timbrel-core.mjs')), 'the net log saw the core being loaded');
    assert.deepEqual(requests.filter((r) => !r.url.startsWith(`${origin}/`) && !/^(blob|data):/.test(r.url)).map((r) => r.url), [],
      'every request is same-origin');
  });
});
