// web/examples/: the engines as a small JavaScript API someone else's Web Audio
// app can import. voice-to-violin.html builds its own graph (its own
// AudioContext, microphone -> VoiceEngine -> speakers) in about 30 lines; with
// a 220 Hz fake microphone, the violin must play: a loud output whose pitch is
// the input's, one octave up (the example asks for +1).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BASE_ARGS, CHROMIUM, LOCAL_ONLY_ARGS, OUTPUT_DIR, REPO, coreHas, fakeMicArgs, makeSineWav, makeTempDir, recordErrors, startServer,
} from './harness.mjs';

const EXAMPLE = path.join(REPO, 'web', 'examples', 'voice-to-violin.html');
const EXAMPLE_JS = path.join(REPO, 'web', 'examples', 'voice-to-violin.js');
const hasKernel = await coreHas('VoiceKernel').catch(() => false);
const skip = !hasKernel ? 'no VoiceKernel in the core' : !fs.existsSync(path.join(REPO, 'models', 'violin', 'violin.tmbl')) ? 'no shipped violin' : false;

let server;
let tmp;

before(async () => {
  if (skip) return;
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  tmp = makeTempDir();
  server = await startServer();
});

after(async () => {
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the example is short and imports the engine, not the app', () => {
  const code = fs.readFileSync(EXAMPLE_JS, 'utf8');
  const lines = code.split('\n').filter((l) => l.trim()).length;
  assert.ok(lines <= 30, `voice-to-violin.js has ${lines} lines`);
  assert.match(code, /import \{ VoiceEngine \} from '..\/src\/voice\/voice-engine.js'/);
  assert.doesNotMatch(code, /main\.js|panel/);
  assert.match(fs.readFileSync(EXAMPLE, 'utf8'), /<script type="module" src="voice-to-violin.js">/);
});

test('voice-to-violin.html plays the microphone as a violin in its own graph', { skip, timeout: 120000 }, async () => {
  const wav = makeSineWav(tmp, { hz: 220, seconds: 10, rate: 48000, amplitude: 0.4 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, ...fakeMicArgs(wav)] });
  try {
    const page = await browser.newPage();
    const errors = recordErrors(page);
    await page.goto(`${server.url}examples/voice-to-violin.html`);
    await page.getByRole('button', { name: 'Start' }).click();
    await page.waitForFunction(() => document.getElementById('state').textContent === 'playing', null, { timeout: 30000 });
    // The test listens to the example's output with an analyser of its own.
    const heard = await page.evaluate(async () => {
      const { context, voice } = globalThis.example;
      const analyser = context.createAnalyser();
      analyser.fftSize = 8192;
      voice.connect(analyser);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const x = new Float32Array(analyser.fftSize);
      analyser.getFloatTimeDomainData(x);
      let energy = 0;
      for (const v of x) energy += v * v;
      // Autocorrelation pitch between 100 and 1000 Hz.
      const rate = context.sampleRate;
      let best = 0;
      let bestLag = 0;
      for (let lag = Math.floor(rate / 1000); lag <= Math.ceil(rate / 100); lag++) {
        let c = 0;
        for (let i = 0; i + lag < x.length; i++) c += x[i] * x[i + lag];
        if (c > best) {
          best = c;
          bestLag = lag;
        }
      }
      return { db: 10 * Math.log10(energy / x.length + 1e-12), hz: rate / bestLag, separateContext: context !== globalThis.timbrel?.audio };
    });
    console.log(`# the example's violin: ${heard.db.toFixed(1)} dBFS, ${heard.hz.toFixed(1)} Hz`);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'example-voice-to-violin.png') });
    assert.ok(heard.db > -40, `the violin sounds (${heard.db.toFixed(1)} dBFS)`);
    assert.ok(Math.abs(1200 * Math.log2(heard.hz / 440)) < 50, `pitch ${heard.hz.toFixed(1)} Hz is 220 Hz one octave up`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
