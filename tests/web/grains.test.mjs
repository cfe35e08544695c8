// End-to-end: the Grains panel in headless Chromium.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test --test-force-exit tests/web/grains.test.mjs
//
// Without a model (what this copy ships until one is trained):
// - the panel says "No grains model shipped" and the rest works: the grid by
//   keyboard (arrows move the one tab stop, Space switches a step, + and −
//   change its velocity), tracks added, the beat kept in the address
//   (#grains/<code>) and restored by opening that link, a damaged link and
//   a bad beat file refused in words, a beat saved as a file and opened again.
// With a model's header (a .tmbl holding only metadata; the core cannot play
// it): the grain map with its classes, a path drawn with the pointer, a
// foreign model file refused in words, and the audio engine's absence or
// refusal said in words while the grid keeps working.
// Screenshots: tests/web/output/grains-*.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, LOCAL_ONLY_ARGS, OUTPUT_DIR, coreHas, makeTempDir, recordErrors, startServer } from './harness.mjs';
import { crc32 } from '../../web/src/audio/model-file.js';
import { patternFromJson } from '../../web/src/grains/pattern.js';

const TIMEOUT = 60000;
const CLASSES = ['kick', 'snare', 'rim', 'clap', 'closed_hat', 'open_hat', 'tom', 'ride', 'crash', 'cowbell', 'tambourine', 'shaker', 'clave'];

// A .tmbl holding a header only (the panel reads the header; the core refuses it).
function tmbl(header) {
  const text = new TextEncoder().encode(JSON.stringify({ graphs: {}, tensors: [], ...header }));
  const start = Math.ceil((12 + text.length) / 16) * 16;
  const out = new Uint8Array(start + 4);
  out.set([0x54, 0x4d, 0x42, 0x4c], 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, 1, true);
  view.setUint32(8, text.length, true);
  out.set(text, 12);
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const headerModel = () => tmbl({
  family: 'grains',
  name: 'drums (header only)',
  metadata: {
    latent: 4,
    embedding: 8,
    classes: CLASSES,
    grain_map: {
      mean: [0, 0, 0, 0],
      axes: [[1, 0, 0, 0], [0, 1, 0, 0]],
      extent: [-2.5, 2.5, -2, 2],
      class_points: CLASSES.map((_, k) => [2 * Math.cos(k), 1.5 * Math.sin(1.7 * k)]),
    },
    onset_centroids: CLASSES.map(() => [0, 0, 0, 0]),
  },
});

let tmp;
let bare; // serves no grains model
let withHeader; // serves a header-only grains model
let browser;
let hasKernel = false;

// A models folder for the server: empty lists for the other panels, and the grains folder.
function modelsDir(name, grains) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'crossmodal'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.json'), '[]');
  fs.writeFileSync(path.join(dir, 'crossmodal', 'index.json'), '[]');
  if (grains) {
    fs.mkdirSync(path.join(dir, 'grains'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'grains', 'drums.tmbl'), grains);
    fs.writeFileSync(path.join(dir, 'grains', 'index.json'), JSON.stringify([{ id: 'drums', name: 'Drums', file: 'drums.tmbl' }]));
  }
  return dir;
}

before(async () => {
  tmp = makeTempDir();
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  hasKernel = await coreHas('GrainsKernel').catch(() => false);
  bare = await startServer({ modelsDir: modelsDir('bare', null) });
  withHeader = await startServer({ modelsDir: modelsDir('header', headerModel()) });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, '--autoplay-policy=no-user-gesture-required'] });
});

after(async () => {
  await browser?.close();
  await bare?.stop();
  await withHeader?.stop();
});

// Errors the page may log: the 404 of a missing models/grains/index.json is how "none shipped" reads.
const unexpected = (errors) => errors.filter((e) => !/status of 404/.test(e));

const stepState = (page, track, step) => page.evaluate(([k, s]) => {
  const b = document.querySelector(`#grains-grid [data-track="${k}"][data-step="${s}"]`);
  return { pressed: b.getAttribute('aria-pressed'), label: b.getAttribute('aria-label'), tab: b.tabIndex, focused: document.activeElement === b };
}, [track, step]);

describe('the Grains panel without a model', () => {
  test('says no model is shipped; the grid works by keyboard; the beat lives in the link and in files', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${bare.url}#grains`);
    await page.locator('#grains-status [data-key="no-model"]').waitFor({ timeout: 10000 });
    assert.match(await page.locator('#grains-status').innerText(), /No grains model shipped yet/);
    assert.equal(await page.textContent('#grains-model-note'), 'No grains model shipped.');
    assert.equal(await page.locator('#grains-grid [role="row"]').count(), 5, 'a header row and four tracks');
    assert.equal(await page.locator('#grains-grid button[tabindex="0"]').count(), 1, 'one tab stop in the grid');

    // Keyboard: Tab into the grid lands on the tab stop (track 1, step 1); arrows, Space, + and −.
    await page.focus('#grains-swing');
    await page.keyboard.press('Tab');
    assert.deepEqual(await stepState(page, 0, 0), { pressed: 'true', label: 'Kick, step 1, 100 %', tab: 0, focused: true });
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    const before = await stepState(page, 1, 1);
    assert.equal(before.focused, true);
    assert.equal(before.pressed, 'false');
    await page.keyboard.press('Space');
    assert.equal((await stepState(page, 1, 1)).pressed, 'true');
    await page.keyboard.press('Minus');
    await page.keyboard.press('Minus');
    assert.equal((await stepState(page, 1, 1)).label, 'Snare, step 2, 60 %');
    await page.keyboard.press('Equal');
    assert.equal((await stepState(page, 1, 1)).label, 'Snare, step 2, 70 %');
    assert.equal((await stepState(page, 1, 1)).focused, true, 'focus stays on the step');
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('grains-track-name')), true, 'left of step 1: the track name');
    await page.keyboard.press('Space'); // selects it (and asks for a sound: no model, said)
    assert.match(await page.textContent('#grains-editor-name'), /^2, Snare/);

    // Another track, a morph and a kept hit; the address follows.
    await page.click('#grains-add-track');
    assert.equal(await page.locator('#grains-grid [role="row"]').count(), 6);
    await page.selectOption('#grains-class', 'clap');
    await page.selectOption('#grains-morph-to', 'snare');
    await page.click('#grains-grid [data-track="4"][data-step="3"]');
    await page.locator('#grains-tempo').fill('133');
    await page.waitForFunction(() => location.hash.startsWith('#grains/') && document.getElementById('grains').dataset.tracks === '5');
    await page.waitForTimeout(400);
    const hash = await page.evaluate(() => location.hash);
    assert.ok(hash.length < 400, `a short link (${hash.length} characters)`);

    // The link, opened in a new page, brings the same beat back.
    const other = await context.newPage();
    await other.goto(`${bare.url}${hash}`);
    await other.waitForFunction(() => document.getElementById('grains').dataset.tracks === '5');
    assert.equal(await other.evaluate(() => globalThis.timbrel.shell.current), 'grains');
    assert.equal((await stepState(other, 4, 3)).pressed, 'true');
    assert.match(await other.getAttribute('#grains-grid [data-track="4"][data-step="-1"]', 'title'), /Clap → snare 50 %/);
    assert.equal(await other.textContent('#grains-tempo-value'), '133 BPM');
    await other.close();

    // A damaged link: said in words, the default beat stays.
    const damaged = await context.newPage();
    await damaged.goto(`${bare.url}#grains/AQPo!!`);
    await damaged.locator('#grains-status [data-key="pattern-error"]').waitFor({ timeout: 10000 });
    assert.match(await damaged.locator('#grains-status [data-key="pattern-error"]').innerText(), /The beat in this link could not be read\..*characters a pattern code never has/s);
    assert.equal(await damaged.evaluate(() => document.getElementById('grains').dataset.tracks), '4');
    await damaged.close();

    // Saved as a file, read back by the module the page uses.
    const download = page.waitForEvent('download');
    await page.click('#grains-save-button');
    const file = await download;
    assert.equal(file.suggestedFilename(), 'timbrel-beat.json');
    const saved = patternFromJson(fs.readFileSync(await file.path(), 'utf8'));
    assert.equal(saved.tracks.length, 5);
    assert.equal(saved.tempo, 133);
    assert.deepEqual([saved.tracks[4].class, saved.tracks[4].morphTo, saved.tracks[4].morph], ['clap', 'snare', 0.5]);

    // A bad file is refused in words (the beat stays); a good one opens.
    const bad = path.join(tmp, 'bad-beat.json');
    fs.writeFileSync(bad, JSON.stringify({ ...saved, tempo: 999 }));
    await page.setInputFiles('#grains-file', bad);
    await page.locator('#grains-status [data-key="pattern-error"]').waitFor({ timeout: 5000 });
    assert.match(await page.locator('#grains-status [data-key="pattern-error"]').innerText(), /“bad-beat\.json” is not a beat this page can open\..*tempo must be a number from 40 to 240 BPM \(it is 999\)/s);
    assert.equal(await page.evaluate(() => document.getElementById('grains').dataset.tracks), '5');
    const good = path.join(tmp, 'four.json');
    fs.writeFileSync(good, JSON.stringify({ ...saved, tempo: 90, tracks: saved.tracks.slice(0, 4) }));
    await page.setInputFiles('#grains-file', good);
    await page.waitForFunction(() => document.getElementById('grains').dataset.tracks === '4');
    assert.equal(await page.textContent('#grains-tempo-value'), '90 BPM');
    assert.equal(await page.locator('#grains-status [data-key="pattern-error"]').count(), 0);

    await page.screenshot({ path: path.join(OUTPUT_DIR, 'grains-no-model.png'), fullPage: true });
    assert.deepEqual(unexpected(errors), []);
    await context.close();
  });

  test('fits a phone: the grid scrolls sideways, the track names stay', { timeout: TIMEOUT }, async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const errors = recordErrors(page);
    await page.goto(`${withHeader.url}#grains`);
    await page.waitForFunction(() => document.getElementById('grains').dataset.model === 'shipped:drums');
    const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, view: innerWidth }));
    assert.ok(widths.page <= widths.view, `no sideways scroll of the page (${widths.page} > ${widths.view})`);
    await page.evaluate(() => {
      document.querySelector('.grains-grid-scroll').scrollLeft = 400;
    });
    const name = await page.locator('#grains-grid [data-track="0"][data-step="-1"]').boundingBox();
    assert.ok(name.x >= 0 && name.x < 60, `the track name stays in view (x ${name.x})`);
    await page.locator('#grains-grid').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'grains-phone.png') });
    assert.deepEqual(unexpected(errors), []);
    await page.close();
  });
});

describe('the Grains panel with a model\'s header', () => {
  test('the grain map shows the classes; a path is drawn with the pointer; refusals are said in words', { timeout: TIMEOUT }, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = recordErrors(page);
    await page.goto(`${withHeader.url}#grains`);
    await page.waitForFunction(() => document.getElementById('grains').dataset.model === 'shipped:drums');
    assert.equal(await page.locator('#grains-map-legend .legend-item').count(), 13);
    assert.match(await page.textContent('#grains-model-note'), /kick, snare, rim/);
    assert.match(await page.textContent('#grains-model-value'), /13 drum classes/);

    // A line by pointer: press at one end, release at the other.
    await page.check('input[name="grains-shape"][value="line"]');
    await page.locator('#grains-map').scrollIntoViewIfNeeded();
    const from = await page.evaluate(() => globalThis.timbrel.grains.map.clientPoint(-2, -1));
    const to = await page.evaluate(() => globalThis.timbrel.grains.map.clientPoint(2, 1));
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
    await page.mouse.move(to.x, to.y, { steps: 4 });
    await page.mouse.up();
    const line = await page.evaluate(() => {
      const p = globalThis.timbrel.grains.path;
      return { kind: p.kind, points: [...p.points], length: p.length };
    });
    assert.equal(line.kind, 'line');
    assert.ok(Math.abs(line.length - Math.hypot(4, 2)) < 0.05, `the line's length (${line.length})`);
    // Freehand: a wiggle.
    await page.check('input[name="grains-shape"][value="draw"]');
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    for (let i = 1; i <= 30; i++) await page.mouse.move(from.x + i * 8, from.y + 25 * Math.sin(i / 3));
    await page.mouse.up();
    assert.equal(await page.evaluate(() => globalThis.timbrel.grains.path.kind), 'freehand');
    assert.ok(Number(await page.evaluate(() => document.getElementById('grains').dataset.pathPoints)) > 10);
    // The keyboard moves it.
    const x0 = await page.evaluate(() => globalThis.timbrel.grains.path.points[0]);
    await page.focus('#grains-map');
    await page.keyboard.press('ArrowRight');
    const x1 = await page.evaluate(() => globalThis.timbrel.grains.path.points[0]);
    assert.ok(Math.abs(x1 - x0 - 0.025 * 5.5) < 1e-6, `moved right by a fortieth of the map (${x1 - x0})`);
    assert.match(await page.textContent('#grains-map-announce'), /Path moved/);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'grains-map.png') });

    // Play: the engine's absence (or the core's refusal of a header-only file) is said; the grid still works.
    await page.click('#grains-play-button');
    const key = hasKernel ? 'model-error' : 'core-error';
    await page.locator(`#grains-status [data-key="${key}"]`).waitFor({ timeout: 20000 });
    const said = await page.locator(`#grains-status [data-key="${key}"]`).innerText();
    assert.match(said, hasKernel ? /could not be loaded into the audio engine/ : /This build of Timbrel has no drum engine yet/);
    assert.equal(await page.getAttribute('#grains-play-button', 'aria-pressed'), 'false');
    await page.click('#grains-grid [data-track="3"][data-step="0"]');
    assert.equal((await stepState(page, 3, 0)).pressed, 'true');

    // A note model's file offered as a drum model: refused in words, the model before stays.
    const foreign = path.join(tmp, 'notes.tmbl');
    fs.writeFileSync(foreign, tmbl({ family: 'gmvae', name: 'notes', metadata: {} }));
    await page.setInputFiles('#grains-model-file', foreign);
    await page.locator('#grains-status [data-key="model-error"]').waitFor({ timeout: 5000 });
    assert.match(await page.locator('#grains-status [data-key="model-error"]').innerText(), /“notes\.tmbl” is a note model \(Notes panel\), not a grains model\..*The model loaded before stays/s);
    assert.equal(await page.evaluate(() => document.getElementById('grains').dataset.model), 'shipped:drums');
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'grains-header-model.png'), fullPage: true });
    assert.deepEqual(unexpected(errors), []);
    await page.close();
  });
});
