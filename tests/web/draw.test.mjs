// End-to-end: the Draw panel in headless Chromium with the real WebAssembly
// core (DrawKernel in a Web Worker and in the AudioWorklet).
//
//   node --test tests/web/draw.test.mjs
//
// A rising brightness curve is drawn with real pointer events (the mouse across
// the canvas), rendered, and the centroid measured on the rendered audio must
// rise with it (Pearson r >= 0.9), both as the page shows it and measured again
// here (the downloaded WAV, through the same core under node). Loop mode: a
// falling curve drawn during a pass is what the next pass plays (measured on
// the worklet's output). The codebook map plays a clicked code; everything is
// reachable with the keyboard; the error states explain themselves.
//
// Models: the cello if shipped, else the first of models/index.json; without shipped models, the golden
// draw model (tests/golden/draw/model.tmbl, 24 codes with a table). Needs a
// core built with DrawKernel (build-wasm/web, or TIMBREL_CORE_DIR).
// Screenshots go to tests/web/output/draw-*.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import {
  BASE_ARGS,
  CHROMIUM,
  CORE_DIR,
  LOCAL_ONLY_ARGS,
  OUTPUT_DIR,
  REPO,
  coreHas,
  isLocal,
  makeTempDir,
  recordErrors,
  recordRequests,
  startServer,
} from './harness.mjs';
import { allFinite, pearson, rmsDb } from './signal.mjs';
import { decodeWav } from '../../web/src/audio/wav.js';
import { compareMeasured, hopsFor } from '../../web/src/draw/draw-curves.js';

const TIMEOUT = 60000;
const DRAW_MODEL = path.join(REPO, 'tests', 'golden', 'draw', 'model.tmbl');
const NO_TABLE_MODEL = path.join(REPO, 'tests', 'golden', 'vq', 'model.tmbl');

const hasKernel = await coreHas('DrawKernel').catch(() => false);
test('the WebAssembly core has the DrawKernel binding', () => {
  assert.ok(hasKernel, `${CORE_DIR}/timbrel-core.mjs has no DrawKernel: rebuild the WebAssembly core`);
});
const skip = !hasKernel;

let server;
let tmp;
let models;
let browser;

before(async () => {
  if (skip) return;
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  tmp = makeTempDir();
  const shipped = path.join(REPO, 'models', 'index.json');
  const list = fs.existsSync(shipped) ? JSON.parse(fs.readFileSync(shipped, 'utf8')) : [];
  models = Array.isArray(list) ? list : list.models ?? [];
  let modelsDir = null;
  // The page opens on its first model (alto sax when the shipped models are
  // there): the brightness checks run on that one, as a visitor meets it.
  if (!models.length) {
    modelsDir = path.join(tmp, 'models');
    fs.mkdirSync(path.join(modelsDir, 'golden'), { recursive: true });
    fs.copyFileSync(DRAW_MODEL, path.join(modelsDir, 'golden', 'golden.tmbl'));
    models = [{ id: 'golden', instrument: 'golden test', file: 'golden/golden.tmbl', quantized: true }];
    fs.writeFileSync(path.join(modelsDir, 'index.json'), JSON.stringify(models));
    console.log('# models/index.json lists no model: drawing with the golden draw model');
  }
  server = await startServer({ modelsDir });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS] });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function openDraw(context, hash = '#draw') {
  const page = await context.newPage();
  const errors = recordErrors(page);
  await page.goto(`${server.url}${hash}`);
  return { page, errors };
}

const modelLoaded = (page, id, timeout = 20000) =>
  page.waitForFunction((want) => document.getElementById('draw').dataset.model === want, id, { timeout });

// Draws through (seconds, shape in [0, 1]) points with the mouse: real pointer
// events on the canvas, from a little left of it to a little right of it.
async function drawStroke(page, shapeAt, { steps = 48, canvas = 'editor' } = {}) {
  await page.locator(canvas === 'editor' ? '#draw-canvas' : '#draw-gain').scrollIntoViewIfNeeded();
  const points = await page.evaluate(({ n, which, shapes }) => {
    const editor = which === 'editor' ? globalThis.timbrel.draw.editor : globalThis.timbrel.draw.gainEditor;
    return shapes.map((shape, i) => editor.clientPoint((i / (n - 1)) * editor.seconds, shape));
  }, { n: steps, which: canvas, shapes: Array.from({ length: steps }, (_, i) => shapeAt(i / (steps - 1))) });
  await page.mouse.move(points[0].x - 4, points[0].y);
  await page.mouse.down();
  for (const p of points) await page.mouse.move(p.x, p.y, { steps: 2 });
  const last = points[points.length - 1];
  await page.mouse.move(last.x + 4, last.y);
  await page.mouse.up();
}

const floats = (b64) => new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer);

const passesOf = (page) => page.evaluate(() => globalThis.timbrel.draw.passResults.map((p) => ({ ...p })));

async function waitForPass(page, version, timeout = 20000) {
  const handle = await page.waitForFunction(
    (v) => globalThis.timbrel.draw.passResults.find((p) => p.version === v) ?? null,
    version,
    { timeout, polling: 100 },
  );
  return handle.jsonValue();
}

describe('Draw panel', { skip }, () => {
  let context;
  let page;
  let errors;
  let requests;

  before(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    requests = recordRequests(context);
    ({ page, errors } = await openDraw(context));
  });

  after(async () => {
    await context?.close();
  });

  test('a drawn rising brightness curve renders to a sound whose centroid rises with it', { timeout: TIMEOUT }, async () => {
    assert.equal(await page.isVisible('#draw'), true, '#draw shows the Draw panel');
    assert.equal(await page.getAttribute('a[data-nav="draw"]', 'aria-current'), 'page');
    await page.locator('#draw .model-tile').first().click();
    await modelLoaded(page, models[0].id);
    await page.getByRole('radio', { name: 'Brightness' }).check();
    assert.equal(await page.textContent('#draw-duration-value'), '4 s');

    // A rising curve, drawn with the mouse (bottom left to top right).
    await drawStroke(page, (t) => 0.12 + 0.76 * t);
    const drawn = await page.evaluate(() => ({
      values: Array.from(globalThis.timbrel.draw.editor.values),
      target: Array.from(globalThis.timbrel.draw.editor.unitValues()),
      touched: globalThis.timbrel.draw.editor.touched,
      preset: globalThis.timbrel.draw.preset,
    }));
    assert.equal(drawn.touched, true);
    assert.equal(drawn.preset, null, 'a hand-drawn curve is no preset');
    assert.equal(drawn.values.length, hopsFor(4));
    const ramp = drawn.values.map((_, i) => i);
    assert.ok(pearson(ramp, drawn.values) > 0.99, 'the drawn curve rises');
    assert.ok(drawn.values[0] < 0.2 && drawn.values.at(-1) > 0.8, `drawn from ${drawn.values[0]} to ${drawn.values.at(-1)}`);

    // Render, watching the progress bar.
    await page.evaluate(() => {
      const out = document.getElementById('draw-progress-value');
      globalThis.progressSeen = [];
      new MutationObserver(() => globalThis.progressSeen.push(Number(out.dataset.percent))).observe(out, { attributes: true, attributeFilter: ['data-percent'] });
    });
    await page.getByRole('button', { name: 'Render sound' }).click();
    await page.waitForFunction(() => document.getElementById('draw').dataset.render === 'done', null, { timeout: 20000 });
    const progress = await page.evaluate(() => ({
      seen: globalThis.progressSeen,
      value: document.getElementById('draw-progress').value,
      state: document.getElementById('draw-progress-value').dataset.state,
      text: document.getElementById('draw-progress-value').textContent,
    }));
    console.log(`# progress values seen: ${progress.seen.join(' ')}`);
    assert.equal(progress.value, 100, 'the progress bar reaches 100 %');
    assert.equal(progress.state, 'done');
    assert.match(progress.text, /100 %/);
    assert.ok(progress.seen.every((v, i) => i === 0 || v >= progress.seen[i - 1]), 'progress never goes back');

    const render = await page.evaluate(() => globalThis.timbrel.draw.exportRender());
    const audio = floats(render.audio);
    assert.equal(audio.length, hopsFor(4) * 256);
    assert.ok(allFinite(audio), 'the rendered audio is finite');
    const level = rmsDb(audio);
    assert.ok(level > -45, `the rendered audio is not silent (${level.toFixed(1)} dBFS)`);
    console.log(`# rendered ${render.seconds} s at ${level.toFixed(1)} dBFS, ${new Set(render.codes).size} codes used; page: r ${render.r.toFixed(3)}, MAE ${render.mae.toFixed(1)} Hz over ${render.times.length} frames`);
    assert.ok(render.r >= 0.9, `the measured centroid follows the drawn curve (page r = ${render.r})`);
    assert.equal(Number(await page.getAttribute('#draw-r', 'data-r')).toFixed(3), render.r.toFixed(3), 'the page shows r');
    const silent = Number(await page.getAttribute('#draw-r', 'data-silent'));
    assert.ok(silent < 0.05, `the render does not go silent inside the axis offered (${(silent * 100).toFixed(1)} % silent frames)`);
    assert.equal(await page.isVisible('#draw-legend-measured'), true, 'the measured curve has a legend');
    assert.ok(pearson(render.times, render.measured) > 0.9, 'the measured centroid rises over time');

    // The WAV a visitor downloads, measured again here by the same core under node.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#draw-download').click()]);
    const wavPath = path.join(OUTPUT_DIR, 'draw-render.wav');
    await download.saveAs(wavPath);
    assert.match(download.suggestedFilename(), /^timbrel-draw-.+-brightness\.wav$/);
    const wav = decodeWav(fs.readFileSync(wavPath));
    assert.equal(wav.sampleRate, 22050);
    assert.equal(wav.channels[0].length, audio.length);
    const { default: createCore } = await import(pathToFileURL(path.join(CORE_DIR, 'timbrel-core.mjs')).href);
    const core = await createCore();
    const kernel = new core.DrawKernel(22050, 128, 900);
    const frames = kernel.measure(wav.channels[0]);
    kernel.delete();
    const node = compareMeasured(frames, Float32Array.from(render.target), 'centroid');
    console.log(`# node, from the downloaded WAV: centroid r ${node.r.toFixed(3)}, MAE ${node.mae.toFixed(1)} Hz`);
    assert.ok(node.r >= 0.9, `centroid of the downloaded WAV vs the drawn curve: r = ${node.r}`);

    // Play it through the AudioContext; the playhead runs.
    await page.getByRole('button', { name: 'Play' }).click();
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'render', null, { timeout: 10000 });
    await page.waitForFunction(() => globalThis.timbrel.draw.editor.playhead > 0.3, null, { timeout: 10000 });
    await page.locator('#draw-canvas').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'draw-render.png'), fullPage: true });
    await page.getByRole('button', { name: 'Stop' }).click();
    assert.equal(await page.getAttribute('#draw', 'data-mode'), 'idle');
  });

  test('loop: a curve redrawn during a pass is what the next pass plays', { timeout: TIMEOUT }, async () => {
    await page.locator('#draw-duration').fill('2');
    assert.equal(await page.textContent('#draw-duration-value'), '2 s');
    await page.getByRole('button', { name: 'Rise' }).click();
    await page.getByRole('button', { name: 'Loop' }).click();
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'loop', null, { timeout: 15000 });
    const rising = Number(await page.getAttribute('#draw', 'data-loop-version'));
    const first = await waitForPass(page, rising);
    console.log(`# loop pass ${first.index} (rising): r ${first.r.toFixed(3)}`);
    assert.ok(first.r >= 0.9, `a looped pass follows the rising curve (r = ${first.r})`);

    // Redraw (falling) while it loops, just after a pass began.
    await page.waitForFunction(() => {
      const engine = globalThis.timbrel.draw.engine;
      return engine.position > 10 && engine.position < 60;
    }, null, { timeout: 10000, polling: 'raf' });
    await drawStroke(page, (t) => 0.88 - 0.76 * t, { steps: 24 });
    await page.waitForFunction((v) => Number(document.getElementById('draw').dataset.loopVersion) > v, rising, { timeout: 5000 });
    const falling = Number(await page.getAttribute('#draw', 'data-loop-version'));
    const passAtCommit = await page.evaluate(() => Atomics.load(globalThis.timbrel.draw.engine.status, 4)); // DRAW.PASS_INDEX
    const next = await waitForPass(page, falling);
    console.log(`# redrawn during pass ${passAtCommit}; pass ${next.index} (falling): r ${next.r.toFixed(3)}`);
    assert.ok(next.index <= passAtCommit + 1, `the redraw is heard from the next pass (committed in pass ${passAtCommit}, first heard in ${next.index})`);
    assert.ok(next.r >= 0.9, `the next pass follows the falling curve (r = ${next.r})`);

    // The two passes, measured on the worklet's output, go opposite ways.
    const passes = await passesOf(page);
    const up = passes.find((p) => p.version === rising);
    const down = passes.find((p) => p.version === falling);
    const slope = (p) => pearson(p.times, p.measured);
    console.log(`# centroid over time: rising pass r(t) ${slope(up).toFixed(3)}, falling pass r(t) ${slope(down).toFixed(3)}`);
    assert.ok(slope(up) > 0.8 && slope(down) < -0.8, 'the measured centroid rises in the first pass and falls in the redrawn one');
    await page.waitForFunction(() => globalThis.timbrel.draw.editor.playhead > 0.2, null, { timeout: 5000 });
    await page.locator('#draw-canvas').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'draw-loop.png') });
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'idle');
  });

  test('the codebook map plays a clicked code, and a hovered one once sound is on', { timeout: TIMEOUT }, async () => {
    await page.locator('#draw-map').scrollIntoViewIfNeeded();
    const target = await page.evaluate(() => {
      const map = globalThis.timbrel.draw.map;
      // The loudest code (an audible one), and the code a click there reaches.
      const loud = globalThis.timbrel.draw.model.table.pitch.loudness_db;
      const code = loud.indexOf(Math.max(...loud));
      const p = map.clientPoint(code);
      return { ...p, code: map.codeAt(p.x, p.y) };
    });
    await page.mouse.click(target.x, target.y);
    await page.waitForFunction((c) => document.getElementById('draw').dataset.code === String(c), target.code, { timeout: 10000 });
    await page.waitForFunction(() => globalThis.timbrel.draw.engine.levelDb > -60, null, { timeout: 5000 });
    const heard = await page.evaluate(() => ({ level: globalThis.timbrel.draw.engine.levelDb, code: globalThis.timbrel.draw.engine.lastCode }));
    console.log(`# clicked code ${target.code}: output ${heard.level.toFixed(1)} dBFS, the kernel plays code ${heard.code}`);
    assert.equal(heard.code, target.code);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'draw-map.png') });

    // Hover another code: it plays too (sound is on now).
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'idle', null, { timeout: 5000 });
    const other = await page.evaluate((c) => {
      const map = globalThis.timbrel.draw.map;
      for (let k = 0; k < map.count; k++) {
        const p = map.clientPoint(k);
        const hit = map.codeAt(p.x, p.y);
        if (hit !== c && hit === k) return { ...p, code: k };
      }
      return null;
    }, target.code);
    await page.mouse.move(other.x, other.y, { steps: 3 });
    await page.waitForFunction((c) => document.getElementById('draw').dataset.code === String(c), other.code, { timeout: 5000 });
    await page.mouse.move(5, 5);
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'idle', null, { timeout: 5000 });

    // Keyboard: arrows move between codes, Enter plays the selected one.
    await page.locator('#draw-map').focus();
    const before = await page.evaluate(() => globalThis.timbrel.draw.map.selected);
    let selected = before;
    for (const key of ['ArrowDown', 'ArrowLeft', 'ArrowUp', 'ArrowRight']) {
      await page.keyboard.press(key);
      selected = await page.evaluate(() => globalThis.timbrel.draw.map.selected);
      if (selected !== before) break;
    }
    assert.notEqual(selected, before, 'the arrows move the selection');
    await page.keyboard.press('Enter');
    await page.waitForFunction((c) => document.getElementById('draw').dataset.code === String(c) && document.getElementById('draw').dataset.mode === 'code', selected, { timeout: 5000 });
    assert.match(await page.textContent('#draw-map-announce'), new RegExp(`Sound ${selected}`));
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'idle', null, { timeout: 5000 });
    assert.deepEqual(errors, [], 'no console errors');
    assert.deepEqual(requests.filter((u) => !isLocal(u)), [], 'no request may leave localhost');
  });
});

describe('Draw panel without a mouse, and on a phone', { skip }, () => {
  test('Tab reaches every control; presets, the keyboard cursor and Enter make a sound', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await openDraw(context);
    await modelLoaded(page, models[0].id);
    const reached = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || !el.closest('#draw')) return '';
        return el.id || (el.name ? `${el.name}:${el.value}` : '') || el.dataset.preset || el.dataset.gain || el.textContent.trim();
      }));
    }
    const want = ['draw-model-0', 'draw-model-file', 'draw-descriptor:centroid', 'draw-duration', 'rise', 'fall', 'vibrato', 'random', 'flat', 'draw-canvas', 'full', 'draw-gain', 'draw-render-button', 'draw-play-button', 'draw-loop-button', 'draw-map'];
    for (const name of want) {
      assert.ok(reached.some((r) => r.startsWith(name)), `Tab reaches ${name} (reached: ${reached.filter(Boolean).join(', ')})`);
    }
    const ring = await page.evaluate(() => {
      document.getElementById('draw-canvas').focus();
      return getComputedStyle(document.getElementById('draw-canvas')).outlineStyle;
    });
    assert.notEqual(ring, 'none', 'a focused canvas shows a focus ring');

    // Presets with Enter; the descriptor with the arrows of its radio group.
    await page.locator('[data-preset="fall"]').focus();
    await page.keyboard.press('Enter');
    const fall = await page.evaluate(() => Array.from(globalThis.timbrel.draw.editor.values));
    assert.ok(fall[0] > fall.at(-1), 'the Fall preset falls');
    await page.locator('input[name="draw-descriptor"][value="centroid"]').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#draw', 'data-descriptor'), 'f0', 'ArrowRight chooses Pitch');
    assert.match(await page.textContent('#draw-curve-name'), /pitch/);

    // The curve cursor: arrows move it and raise the curve around it.
    await page.locator('#draw-canvas').focus();
    const at = (hop) => page.evaluate((h) => globalThis.timbrel.draw.editor.values[h], hop);
    await page.keyboard.press('End');
    for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowLeft');
    const cursor = await page.evaluate(() => globalThis.timbrel.draw.editor.cursor);
    const before = await at(cursor);
    await page.keyboard.press('Shift+ArrowUp');
    await page.keyboard.press('ArrowUp');
    const after = await at(cursor);
    assert.ok(after > before + 0.1, `ArrowUp raises the curve at the cursor (${before} -> ${after})`);
    await page.waitForFunction(() => /Pitch curve at \d/.test(document.getElementById('draw-announce').textContent));

    // Render with Enter on the button.
    await page.locator('#draw-render-button').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('draw').dataset.render === 'done', null, { timeout: 20000 });
    const render = await page.evaluate(() => globalThis.timbrel.draw.exportRender());
    console.log(`# keyboard-drawn pitch curve: f0 r ${render.r.toFixed(3)}, MAE ${render.mae.toFixed(1)} Hz`);
    assert.ok(render.r >= 0.9, `the measured pitch follows the curve (r = ${render.r})`);
    await page.locator('#draw-canvas').focus();
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'draw-keyboard.png'), fullPage: true });

    // Loop with Enter; leaving the panel stops it.
    await page.locator('#draw-loop-button').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'loop', null, { timeout: 15000 });
    await page.click('a[data-nav="listen"]');
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'idle');
    await page.waitForFunction(() => globalThis.timbrel.draw.engine.state === 'suspended');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('fits a phone and draws with a finger', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const { page, errors } = await openDraw(context);
    await modelLoaded(page, models[0].id);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
    // A finger stroke: touch pointer events dispatched on the canvas.
    await page.locator('#draw-canvas').scrollIntoViewIfNeeded();
    await page.evaluate(() => {
      const editor = globalThis.timbrel.draw.editor;
      const canvas = editor.canvas;
      const fire = (type, seconds, shape) => {
        const p = editor.clientPoint(seconds, shape);
        canvas.dispatchEvent(new PointerEvent(type, { pointerId: 7, pointerType: 'touch', isPrimary: true, clientX: p.x, clientY: p.y, bubbles: true, cancelable: true, buttons: 1 }));
      };
      fire('pointerdown', 0, 0.5);
      for (let i = 1; i <= 40; i++) fire('pointermove', (i / 40) * editor.seconds, 0.5 + 0.4 * Math.sin((i / 40) * 2 * Math.PI));
      fire('pointerup', editor.seconds, 0.5);
    });
    const values = await page.evaluate(() => Array.from(globalThis.timbrel.draw.editor.values));
    const quarter = values[Math.round(values.length / 4)];
    assert.ok(quarter > 0.8, `the finger stroke is drawn (value at a quarter: ${quarter})`);
    await page.getByRole('button', { name: 'Render sound' }).tap();
    await page.waitForFunction(() => document.getElementById('draw').dataset.render === 'done', null, { timeout: 20000 });
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'draw-phone.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('Draw panel errors', { skip }, () => {
  test('no models, a model without a table, a failed render, a suspended AudioContext', { timeout: TIMEOUT }, async () => {
    // No models installed.
    let context = await browser.newContext();
    await context.route('**/models/index.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '[]' }));
    let { page, errors } = await openDraw(context);
    const none = page.locator('#draw-status [data-key="no-models"]');
    await none.waitFor({ timeout: 10000 });
    assert.match(await none.textContent(), /No instruments are installed/);
    assert.equal(await page.isDisabled('#draw-render-button'), true, 'nothing to render without a model');
    assert.deepEqual(errors, []);
    await context.close();

    // A model file without a descriptor table: analysed in the Worker, then it draws and loops.
    context = await browser.newContext();
    const first = models[0];
    await context.route(`**/models/${first.file}`, (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: fs.readFileSync(NO_TABLE_MODEL) }));
    ({ page, errors } = await openDraw(context));
    const analysed = page.locator('#draw-status [data-key="analysed"]');
    await analysed.waitFor({ timeout: 20000 });
    assert.match(await analysed.textContent(), /were measured in/);
    await modelLoaded(page, first.id);
    await page.getByRole('button', { name: 'Render sound' }).click();
    await page.waitForFunction(() => document.getElementById('draw').dataset.render === 'done', null, { timeout: 20000 });
    await page.getByRole('button', { name: 'Loop' }).click();
    await page.waitForFunction(() => document.getElementById('draw').dataset.mode === 'loop', null, { timeout: 15000 });
    await page.waitForFunction(() => globalThis.timbrel.draw.engine.levelDb > -90, null, { timeout: 5000 });
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'draw-analysed.png') });

    // A render the core refuses: the message names the problem.
    await page.evaluate(() => {
      const renderer = globalThis.timbrel.draw.renderer;
      const render = renderer.render.bind(renderer);
      renderer.render = (curves, options) => render({ ...curves, hops: 100000 }, options);
    });
    await page.getByRole('button', { name: 'Render sound' }).click();
    const failed = page.locator('#draw-audio-status [data-key="render-error"]');
    await failed.waitFor({ timeout: 10000 });
    assert.match(await failed.textContent(), /could not be rendered.*hops must lie in 1\.\.900/);
    assert.equal(await page.textContent('#draw-progress-value'), 'failed');
    assert.deepEqual(errors, []);
    await context.close();

    // The browser keeps the AudioContext suspended: a Resume button.
    context = await browser.newContext();
    await context.addInitScript(() => {
      const Native = globalThis.AudioContext;
      globalThis.AudioContext = class extends Native {
        constructor(options) {
          super(options);
          this.blockedResumes = 2;
          super.suspend();
        }
        resume() {
          if (this.blockedResumes-- > 0) return Promise.resolve();
          return super.resume();
        }
      };
    });
    ({ page, errors } = await openDraw(context));
    await modelLoaded(page, first.id);
    await page.getByRole('button', { name: 'Loop' }).click();
    const suspended = page.locator('#draw-audio-status [data-key="suspended"]');
    await suspended.waitFor({ timeout: 15000 });
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'draw-suspended.png') });
    await page.getByRole('button', { name: 'Resume audio' }).click();
    await suspended.waitFor({ state: 'detached', timeout: 10000 });
    await page.waitForFunction(() => globalThis.timbrel.draw.engine.levelDb > -60, null, { timeout: 10000 });
    assert.deepEqual(errors, []);
    await context.close();
  });
});
