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
// With the core's GrainsKernel and a grains model (the trained one when
// models/grains/ ships it, else the golden test model tests/golden/grains/
// model_pp.tmbl: untrained weights of the contract's shapes, 3 classes):
// - playing the beat, each step starts exactly 15·rate/tempo frames after the
//   last (the worklet's step clock); the hits sound (level, hit count) and the
//   recording is a finite WAV within [-1, 1];
// - a track's name plays one hit, and "Keep this hit" holds its seed;
// - the path voice moves along the path and sounds;
// - beat-box with a fake microphone (bursts of noise) lists the onsets it
//   hears with the sound heard and the drum played; the kit's three selects
//   hold the model's defaults (kick, closed hat, snare on the shipped model),
//   and a drum picked there is what that sound plays next; a refused
//   microphone is said in words and the drum machine keeps playing.
// With a pitched model (the golden tests/golden/grains/model_pitched.tmbl,
// listed after the golden drum model as "instruments"):
// - switching to it swaps the drum beat for its default phrase (said in
//   words), and back again brings the beat back; the pitch selects, the
//   words ("instrument" for "drum") and the beat-box hint follow the model;
// - a track's pitch chosen by keyboard shows in its name ("Hat G5"), the
//   link keeps it, and the link opened anew loads the pitched model;
// - the hits sound, and the same kept hit at two pitches differs measurably
//   (its spectrum) while the same pitch twice does not; the path sends its pitch;
// - the layout on a desktop and a phone (screenshots grains-pitched-*.png).
// With the shipped pitched model (models/grains/instruments.tmbl, when listed):
// the flute track's kept hit recorded at C5 and at C6 is heard (the take's
// median autocorrelation f0 over its held part) within 50 cents of each note;
// screenshot grains-instruments.png.
// Screenshots: tests/web/output/grains-*.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, LOCAL_ONLY_ARGS, OUTPUT_DIR, REPO, coreHas, fakeMicArgs, makeTempDir, recordErrors, startServer, writeWav } from './harness.mjs';
import { floats } from './midi-harness.mjs';
import { allFinite, rmsDb, shapeLsdDb, shapeSpectrum } from './signal.mjs';
import { crc32 } from '../../web/src/audio/model-file.js';
import { patternFromJson } from '../../web/src/grains/pattern.js';

const TIMEOUT = 60000;
const SHIPPED = path.join(REPO, 'models', 'grains', 'index.json');
const GOLDEN = path.join(REPO, 'tests', 'golden', 'grains', 'model_pp.tmbl');
const GOLDEN_PITCHED = path.join(REPO, 'tests', 'golden', 'grains', 'model_pitched.tmbl');
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
let playable; // serves a model the core plays
let pitched; // serves the golden drum model, then the golden pitched one
let browser;
const hasKernel = await coreHas('GrainsKernel').catch(() => false);

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
  bare = await startServer({ modelsDir: modelsDir('bare', null) });
  withHeader = await startServer({ modelsDir: modelsDir('header', headerModel()) });
  if (hasKernel) {
    const shipped = fs.existsSync(SHIPPED) ? null : fs.readFileSync(GOLDEN);
    if (shipped) console.log('# no shipped grains model (models/grains/index.json): the golden test model plays');
    playable = await startServer({ modelsDir: shipped ? modelsDir('golden', shipped) : path.join(REPO, 'models') });
  }
  const both = modelsDir('pitched', fs.readFileSync(GOLDEN));
  fs.copyFileSync(GOLDEN_PITCHED, path.join(both, 'grains', 'instruments.tmbl'));
  fs.writeFileSync(path.join(both, 'grains', 'index.json'), JSON.stringify([
    { id: 'drums', name: 'Drums (golden)', file: 'drums.tmbl' },
    { id: 'instruments', name: 'Instruments (golden)', file: 'instruments.tmbl' },
  ]));
  pitched = await startServer({ modelsDir: both });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, '--autoplay-policy=no-user-gesture-required'] });
});

after(async () => {
  await browser?.close();
  await bare?.stop();
  await withHeader?.stop();
  await playable?.stop();
  await pitched?.stop();
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

// Samples every step the worklet reports ([count, ring frame]) for `ms`.
const watchSteps = (page, ms) => page.evaluate((duration) => new Promise((resolve) => {
  const engine = globalThis.timbrel.grains.engine;
  const seen = new Map();
  const timer = setInterval(() => {
    const last = engine.lastStep();
    if (last) seen.set(last.count, last.frame);
  }, 2);
  setTimeout(() => {
    clearInterval(timer);
    resolve([...seen.entries()].sort((a, b) => a[0] - b[0]));
  }, duration);
}), ms);

describe('the Grains panel playing', { skip: !hasKernel && 'the WebAssembly core has no GrainsKernel (rebuild it)' }, () => {
  test('steps on the sample, hits that sound, a recording, an audition kept, a path that moves', { timeout: TIMEOUT * 2 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${playable.url}#grains`);
    await page.waitForFunction(() => globalThis.timbrel.grains.model, null, { timeout: 20000 });
    await page.click('#grains-play-button');
    await page.waitForFunction(() => globalThis.timbrel.grains.engine?.stepsPlayed >= 2, null, { timeout: 20000 });
    const rate = await page.evaluate(() => globalThis.timbrel.grains.engine.sampleRate);
    const steps = (await watchSteps(page, 2500)).filter(([n]) => n > 0);
    assert.ok(steps.length >= 12, `${steps.length} steps seen`);
    const step = (15 * rate) / 100; // the default beat: 100 BPM, straight
    for (let i = 1; i < steps.length; i++) {
      const [n, frame] = steps[i];
      const [m, before] = steps[i - 1];
      if (n !== m + 1) continue; // a step the poll missed
      const gap = (frame - before) | 0;
      assert.ok(Math.abs(gap - step) <= 0.5, `step ${n} starts ${gap} frames after step ${m}, not ${step}`);
    }
    const playing = await page.evaluate(() => ({ level: globalThis.timbrel.grains.engine.levelDb, hits: globalThis.timbrel.grains.engine.hits, peak: globalThis.timbrel.grains.engine.peak }));
    console.log(`# playing: ${JSON.stringify(playing)} at ${rate} Hz`);
    assert.ok(playing.hits >= 12, `hits triggered (${playing.hits})`);
    assert.ok(playing.peak > 1e-4, `the hits sound (peak ${playing.peak})`);

    // A recording of the beat.
    await page.click('#grains-record-button');
    await page.waitForTimeout(1500);
    await page.click('#grains-record-button');
    await page.locator('#grains-download-row').waitFor({ state: 'visible' });
    assert.match(await page.getAttribute('#grains-download', 'download'), /^timbrel-beat-[\d-]+\.wav$/);
    const take = await page.evaluate(() => globalThis.timbrel.grains.exportTake());
    const out = floats(take.output);
    assert.ok(out.length >= 1.3 * take.sampleRate, `${out.length} samples recorded`);
    assert.ok(allFinite(out) && out.every((v) => Math.abs(v) <= 1), 'finite, within [-1, 1]');
    console.log(`# recording: ${(out.length / take.sampleRate).toFixed(2)} s at ${rmsDb(out).toFixed(1)} dBFS`);
    // The shipped model's make-up gain makes the beat as loud as a drum loop (-20 dBFS measured);
    // the golden test model has none and plays quieter.
    const floor = fs.existsSync(SHIPPED) ? -30 : -70;
    assert.ok(rmsDb(out) > floor, `the recording holds the beat (${rmsDb(out).toFixed(1)} dBFS, floor ${floor})`);
    await page.click('#grains-play-button');
    await page.waitForFunction(() => globalThis.timbrel.grains.mode === 'idle');

    // A track's name plays one hit; "Keep this hit" holds its seed.
    const hitsBefore = await page.evaluate(() => globalThis.timbrel.grains.engine.hits);
    await page.click('#grains-grid [data-track="1"][data-step="-1"]');
    await page.waitForFunction((n) => globalThis.timbrel.grains.engine.hits > n && document.getElementById('grains').dataset.lastHit, hitsBefore);
    const seed = Number(await page.evaluate(() => document.getElementById('grains').dataset.lastHit));
    await page.click('#grains-keep-button');
    assert.equal(await page.evaluate(() => globalThis.timbrel.grains.pattern.tracks[1].seed), seed);
    assert.match(await page.textContent('#grains-hit-note'), new RegExp(`number ${seed}`));

    // The path voice: its point moves and it sounds.
    await page.locator('#grains-map').scrollIntoViewIfNeeded();
    await page.click('#grains-path-button');
    await page.waitForFunction(() => globalThis.timbrel.grains.engine?.pathPoint, null, { timeout: 10000 });
    const a = await page.evaluate(() => globalThis.timbrel.grains.engine.pathPoint);
    await page.waitForTimeout(600);
    const b = await page.evaluate(() => globalThis.timbrel.grains.engine.pathPoint);
    assert.ok(Math.hypot(a.x - b.x, a.y - b.y) > 0, 'the path point moves');
    // Heard, not merely non-zero: the loudest meter reading over a second of the path.
    let level = -Infinity;
    for (let i = 0; i < 10; i++) {
      await page.waitForTimeout(100);
      level = Math.max(level, await page.evaluate(() => globalThis.timbrel.grains.engine.levelDb));
    }
    console.log(`# path: ${level.toFixed(1)} dBFS`);
    assert.ok(level > -50, `the path sounds (${level.toFixed(1)} dBFS)`);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'grains-playing.png'), fullPage: true });
    await page.click('#grains-path-button');
    await page.waitForFunction(() => globalThis.timbrel.grains.mode === 'idle');

    // Disposed: the processor frees its kernel, and the panel its engine.
    const disposed = await page.evaluate(async () => {
      const panel = globalThis.timbrel.grains;
      const port = panel.engine.node.port;
      const freed = new Promise((resolve) => {
        port.addEventListener('message', (e) => e.data?.type === 'disposed' && resolve(e.data.kernelFreed));
        setTimeout(() => resolve('no answer'), 5000);
      });
      panel.dispose();
      return { kernelFreed: await freed, engine: panel.engine };
    });
    assert.deepEqual(disposed, { kernelFreed: true, engine: null });
    assert.deepEqual(unexpected(errors), []);
    await context.close();
  });

  test('beat-box: a fake microphone\'s bursts are heard and played by the kit; a refused microphone is said', { timeout: TIMEOUT * 2 }, async () => {
    // Bursts of decaying noise, twice a second, at 48 kHz.
    const rate = 48000;
    const clicks = new Float32Array(rate * 8);
    let s = 12345;
    for (let start = rate / 4; start < clicks.length - rate / 4; start += rate / 2) {
      for (let i = 0; i < rate / 20; i++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        clicks[start + i] = 0.7 * Math.exp(-i / (rate / 100)) * ((s >>> 0) / 2147483648 - 1);
      }
    }
    const wav = path.join(tmp, 'bursts-48k.wav');
    writeWav(wav, clicks, rate);
    const mic = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, '--autoplay-policy=no-user-gesture-required', ...fakeMicArgs(wav)] });
    try {
      const page = await mic.newPage({ viewport: { width: 1280, height: 900 } });
      const errors = recordErrors(page);
      await page.goto(`${playable.url}#grains`);
      await page.waitForFunction(() => globalThis.timbrel.grains.model, null, { timeout: 20000 });
      // The kit: three labelled selects of the model's classes, its defaults chosen.
      const kitSelects = ['“Boom” plays', '“Tss” plays', '“Ka” plays'].map((name) => page.getByLabel(name, { exact: true }));
      const chosen = () => Promise.all(kitSelects.map((select) => select.evaluate((s) => s.selectedOptions[0]?.textContent)));
      assert.deepEqual(await chosen(), fs.existsSync(SHIPPED) ? ['Kick', 'Closed hat', 'Snare'] : ['Kick', 'Hat', 'Snare']);
      const classes = await page.evaluate(() => globalThis.timbrel.grains.classNames);
      for (const select of kitSelects) assert.equal(await select.locator('option').count(), classes.length);
      await page.check('#grains-beatbox');
      await page.waitForFunction(() => Number(document.getElementById('grains').dataset.onsets ?? 0) >= 3, null, { timeout: 20000 });
      const heard = await page.locator('#grains-onsets li').allInnerTexts();
      console.log(`# beat-box heard: ${heard.slice(0, 6).map((t) => t.replace(/\s+/g, ' ')).join(' | ')}`);
      assert.ok(heard.length >= 3);
      const drums = classes.map((c) => c.replace('_', ' ')).join('|');
      const item = new RegExp(`^“(Boom|Tss|Ka)”\\s*→?\\s*(played\\s+)?(${drums})\\s+\\d+\\.\\d s$`, 'i');
      for (const text of heard) assert.match(text, item);
      // Each sound played its kit's drum.
      const kit = await chosen();
      for (const text of heard) {
        const [, sound, , drum] = item.exec(text);
        assert.equal(drum.toLowerCase(), kit[['Boom', 'Tss', 'Ka'].indexOf(sound)].toLowerCase(), text);
      }
      // Onsets half a second apart, as the bursts.
      const times = heard.map((t) => Number(/([\d.]+) s$/.exec(t)[1])).reverse();
      for (let i = 1; i < times.length; i++) assert.ok(Math.abs(times[i] - times[i - 1] - 0.5) < 0.06, `onsets ${times[i - 1]} and ${times[i]} s`);
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'grains-beatbox.png') });
      // Another drum for the sound heard last: the next ones play it.
      const slot = await page.evaluate(() => globalThis.timbrel.grains.onsets[0].slot);
      const select = kitSelects[slot];
      const current = Number(await select.inputValue());
      const other = classes.includes('tom') ? classes.indexOf('tom') : (current + 1) % classes.length;
      assert.notEqual(other, current);
      await select.focus();
      await select.selectOption(String(other));
      const label = classes[other].replace('_', ' ');
      const picked = ({ slot, other }) => globalThis.timbrel.grains.onsets.some((o) => o.slot === slot && o.classIndex === other);
      await page.waitForFunction(picked, { slot, other }, { timeout: 20000 });
      const items = await page.locator('#grains-onsets li').allInnerTexts();
      const sound = ['Boom', 'Tss', 'Ka'][slot];
      assert.ok(items.some((text) => new RegExp(`^“${sound}”\\s*→?\\s*(played\\s+)?${label}\\s`, 'i').test(text)), `a “${sound}” played the ${label}: ${items.join(' | ')}`);
      // "Follow your voice": a labelled slider, keyboard-driven, sends the kernel its morph (1 - voice).
      const voice = page.locator('#grains-voice-morph');
      assert.equal(await voice.evaluate((el) => el.labels[0].textContent), 'Follow your voice');
      assert.equal(await page.locator('#grains-voice-morph-value').innerText(), 'none');
      await page.evaluate(() => {
        const engine = globalThis.timbrel.grains.engine;
        const post = engine.post.bind(engine);
        globalThis.voiceMessages = [];
        engine.post = (message, ...rest) => {
          if (message.type === 'voice') globalThis.voiceMessages.push(message.morph);
          return post(message, ...rest);
        };
      });
      await voice.focus();
      for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowRight');
      assert.equal(await page.locator('#grains-voice-morph-value').innerText(), '30 %');
      const sent = await page.evaluate(() => globalThis.voiceMessages);
      assert.ok(Math.abs(sent.at(-1) - 0.7) < 1e-9, `the morph sent: ${sent}`);
      await page.uncheck('#grains-beatbox');
      await page.waitForFunction(() => !globalThis.timbrel.grains.mic);

      // Refused: said in the beat-box card; the beat still plays.
      await page.evaluate(() => {
        navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
      });
      await page.click('#grains-beatbox'); // switched back off at once: not page.check()
      await page.locator('#grains-beatbox-status [data-key="mic-denied"]').waitFor({ timeout: 10000 });
      assert.match(await page.locator('#grains-beatbox-status').innerText(), /allow the microphone.*The drum machine and the paths work without it/s);
      assert.equal(await page.isChecked('#grains-beatbox'), false);
      await page.click('#grains-play-button');
      const before = await page.evaluate(() => globalThis.timbrel.grains.engine.stepsPlayed);
      await page.waitForFunction((n) => globalThis.timbrel.grains.engine.stepsPlayed > n + 4, before, { timeout: 10000 });
      await page.click('#grains-play-button');
      assert.deepEqual(unexpected(errors), []);
    } finally {
      await mic.close();
    }
  });
});

// The loaded model's id and kind, once it has settled.
const modelIs = (page, id) => page.waitForFunction((want) => document.getElementById('grains').dataset.model === `shipped:${want}`, id, { timeout: 20000 });
const trackNames = (page) => page.locator('#grains-grid .grains-track-name').allInnerTexts();

// The f0 (Hz) of a take: per 4096-sample frame whose level is within 12 dB of
// the loudest, the lag of the normalised autocorrelation's first peak above 0.6
// between 60 and 2000 Hz (parabolic interpolation); the median over those frames.
function takeF0(x, rate, size = 4096) {
  const levels = [];
  for (let s = 0; s + size <= x.length; s += size / 2) levels.push([s, rmsDb(x, s, s + size)]);
  const loudest = Math.max(...levels.map(([, db]) => db));
  const found = [];
  const minLag = Math.floor(rate / 2000);
  const maxLag = Math.ceil(rate / 60);
  for (const [s, db] of levels) {
    if (db < loudest - 12) continue;
    const r = new Float64Array(maxLag + 2);
    let e0 = 0;
    for (let i = 0; i < size - maxLag - 2; i++) e0 += x[s + i] * x[s + i];
    for (let lag = minLag; lag <= maxLag + 1; lag++) {
      let acc = 0;
      for (let i = 0; i < size - maxLag - 2; i++) acc += x[s + i] * x[s + i + lag];
      r[lag] = acc / (e0 || 1);
    }
    for (let lag = minLag + 1; lag <= maxLag; lag++) {
      if (r[lag] > 0.6 && r[lag] >= r[lag - 1] && r[lag] >= r[lag + 1]) {
        const d = (r[lag - 1] - r[lag + 1]) / (2 * (r[lag - 1] - 2 * r[lag] + r[lag + 1]) || 1);
        found.push(rate / (lag + d));
        break;
      }
    }
  }
  found.sort((a, b) => a - b);
  return found.length >= 3 ? found[Math.floor(found.length / 2)] : NaN;
}
const cents = (f, want) => 1200 * Math.log2(f / want);

// The power spectrum of a take's sound (frames weighted by their energy: the
// silence around a hit adds nothing), scaled to unit total.
function takeSpectrum(x, size = 2048) {
  const sum = new Float64Array(size / 2 + 1);
  for (let s = 0; s + size <= x.length; s += size / 2) {
    const energy = 10 ** (rmsDb(x, s, s + size) / 10);
    if (energy < 1e-12) continue;
    const p = shapeSpectrum(x, s, size);
    for (let k = 0; k < p.length; k++) sum[k] += energy * p[k];
  }
  const total = sum.reduce((a, b) => a + b, 0) || 1;
  return sum.map((v) => v / total);
}

// A desktop page on the Grains panel, switched from the default drum model to the
// instruments model (what the pitched-model tests start from).
async function openInstruments(url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = recordErrors(page);
  await page.goto(`${url}#grains`);
  await modelIs(page, 'drums');
  await page.selectOption('#grains-model-select', 'instruments');
  await modelIs(page, 'instruments');
  return { page, errors };
}

describe('the Grains panel with the shipped instruments model', {
  skip: (!hasKernel && 'the WebAssembly core has no GrainsKernel (rebuild it)') ||
    (!fs.existsSync(path.join(REPO, 'models', 'grains', 'instruments.tmbl')) && 'no shipped instruments model'),
}, () => {
  test('a flute hit recorded at C5 and at C6 is heard at those notes', { timeout: TIMEOUT * 2 }, async () => {
    const { page, errors } = await openInstruments(playable.url);
    const names = await trackNames(page);
    const flute = names.findIndex((n) => /^Flute/.test(n));
    assert.ok(flute >= 0, `the default phrase has a flute track: ${names.join(', ')}`);
    await page.click(`#grains-grid [data-track="${flute}"][data-step="-1"]`);
    await page.waitForFunction(() => document.getElementById('grains').dataset.lastHit);
    await page.click('#grains-keep-button');
    await page.waitForTimeout(1800);
    const rate = await page.evaluate(() => globalThis.timbrel.grains.engine.sampleRate);
    const take = async (action) => {
      await page.click('#grains-record-button');
      await action();
      await page.waitForTimeout(2000);
      await page.click('#grains-record-button');
      return floats((await page.evaluate(() => globalThis.timbrel.grains.exportTake())).output);
    };
    const heard = {};
    for (const [note, midi] of [['C5', 72], ['C6', 84]]) {
      const x = await take(() => page.selectOption('#grains-pitch', String(midi)));
      assert.ok(allFinite(x) && x.every((v) => Math.abs(v) <= 1), `${note}: finite, within [-1, 1]`);
      const want = 440 * 2 ** ((midi - 69) / 12);
      heard[note] = { f0: takeF0(x, rate), want, level: rmsDb(x) };
    }
    console.log(`# shipped instruments, flute: ${JSON.stringify(heard)}`);
    for (const [note, { f0, want }] of Object.entries(heard)) {
      assert.ok(Math.abs(cents(f0, want)) <= 50, `${note}: heard ${f0?.toFixed(1)} Hz for ${want.toFixed(1)} Hz (${cents(f0, want).toFixed(0)} cents)`);
    }
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'grains-instruments.png'), fullPage: true });
    assert.deepEqual(unexpected(errors), []);
    await page.close();
  });
});

describe('the Grains panel with a pitched model', () => {
  test('switching models swaps beat and phrase; a pitch chosen by keyboard lives in the name and the link; desktop and phone layouts', { timeout: TIMEOUT * 2 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = recordErrors(page);
    await page.goto(`${pitched.url}#grains`);
    await modelIs(page, 'drums');
    assert.equal(await page.isVisible('#grains-model-select'), true, 'two models: a list');
    assert.equal(await page.isHidden('#grains-pitch-row'), true, 'no pitch for drums');
    assert.equal(await page.isHidden('#grains-path-pitch-row'), true);
    assert.equal(await page.textContent('#grains-model-title'), 'The drum model');
    assert.equal(await page.textContent('#grains-title'), 'Grains: a neural drum machine');
    const drumBeat = await trackNames(page);

    // To the instruments: the drum beat gives way to the model's phrase, said in words.
    await page.selectOption('#grains-model-select', 'instruments');
    await modelIs(page, 'instruments');
    assert.equal(await page.evaluate(() => document.getElementById('grains').dataset.pitched), 'true');
    assert.match(await page.locator('#grains-status [data-key="pattern-classes"]').innerText(), /plays instruments, not drums: here is a phrase of its own to start from\..*The beat you had is kept/s);
    assert.deepEqual(await trackNames(page), ['Kick C3', 'Snare E4', 'Snare G4', 'Hat G5', 'Hat E5', 'Hat C5', 'Hat D5']);
    assert.match(await page.textContent('#grains-model-value'), /3 instruments/);
    assert.equal(await page.textContent('#grains-model-title'), 'The instrument model');
    assert.equal(await page.textContent('#grains-title'), 'Grains: a neural instrument sequencer');
    assert.match(await page.textContent('#grains-variation-hint'), /blends two instruments into one sound/);
    assert.match(await page.textContent('#grains-beatbox-note'), /plays the instrument you pick for each, always at that instrument’s typical pitch/);
    assert.equal(await page.getByLabel('Instrument colour').count(), 1);
    assert.equal(await page.getAttribute('#grains-grid', 'aria-label'), 'Instrument pattern: a row per track, 16 steps');

    // Track 4, the hat's G5: its pitch select offers the typical pitch, an
    // octave either side of the trained range (70-88), and says where the note lies.
    await page.click('#grains-grid [data-track="3"][data-step="-1"]');
    assert.equal(await page.isVisible('#grains-pitch-row'), true);
    const pitch = page.locator('#grains-pitch');
    assert.equal(await pitch.evaluate((el) => el.labels[0].firstChild.textContent.trim()), 'Pitch', 'a labelled select');
    assert.equal(await pitch.inputValue(), '79');
    const options = await pitch.locator('option').allInnerTexts();
    assert.equal(options[0], 'typical (E5)');
    assert.equal(options[1], 'A♯3 (58), outside its range');
    assert.equal(options.at(-1), 'E7 (100), outside its range');
    assert.ok(options.includes('G5 (79)'));
    assert.match(await page.textContent('#grains-pitch-hint'), /^G5, inside the range the hat was trained on \(A♯4 to E6\)\.$/);
    // By keyboard: two notes up, then far above the range (a hint says so).
    await pitch.focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction(() => globalThis.timbrel.grains.pattern.tracks[3].pitch === 81);
    assert.equal((await trackNames(page))[3], 'Hat A5');
    assert.match(await page.textContent('#grains-editor-name'), /^4, Hat A5$/);
    assert.equal(await page.getAttribute('#grains-grid [data-track="3"][data-step="0"]', 'aria-label'), 'Hat A5, step 1, 90 %');
    await pitch.selectOption('98');
    assert.match(await page.textContent('#grains-pitch-hint'), /D7 is above the range the hat was trained on \(A♯4 to E6\): the network guesses there/);
    await pitch.selectOption('');
    assert.equal((await trackNames(page))[3], 'Hat', 'the typical pitch: no note in the name');
    await pitch.selectOption('81');

    // The path card: a pitch for the path's instrument.
    assert.equal(await page.isVisible('#grains-path-pitch-row'), true);
    await page.selectOption('#grains-path-class', '1');
    const pathPitch = page.locator('#grains-path-pitch');
    assert.equal(await pathPitch.locator('option').first().innerText(), 'typical (D♯4)');
    await pathPitch.selectOption('60');
    assert.match(await page.textContent('#grains-path-class-hint'), /at the pitch chosen\. C4, inside the range the snare was trained on \(G3 to A4\)\./);

    // Screenshots: the desktop layout, the whole panel and the track editor.
    await page.waitForTimeout(400); // the address follows the pattern
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'grains-pitched-desktop.png'), fullPage: true });
    await page.locator('#grains-editor').screenshot({ path: path.join(OUTPUT_DIR, 'grains-pitched-editor.png') });

    // The link keeps the pitch; opened in a new page it loads the pitched model (listed second).
    const hash = await page.evaluate(() => location.hash);
    const other = await context.newPage();
    const otherErrors = recordErrors(other);
    await other.goto(`${pitched.url}${hash}`);
    await modelIs(other, 'instruments');
    assert.equal(await other.inputValue('#grains-model-select'), 'instruments');
    assert.deepEqual(await trackNames(other), ['Kick C3', 'Snare E4', 'Snare G4', 'Hat A5', 'Hat E5', 'Hat C5', 'Hat D5']);
    assert.equal(await other.locator('#grains-status [data-key="pattern-classes"]').count(), 0, 'nothing swapped');
    assert.deepEqual(unexpected(otherErrors), []);
    await other.close();

    // Back to the drums: the beat comes back, the pitch controls go.
    await page.selectOption('#grains-model-select', 'drums');
    await modelIs(page, 'drums');
    assert.deepEqual(await trackNames(page), drumBeat);
    assert.match(await page.locator('#grains-status [data-key="pattern-classes"]').innerText(), /plays drums: the beat you made for drums is back\..*The phrase you had is kept/s);
    assert.equal(await page.isHidden('#grains-pitch-row'), true);
    assert.equal(await page.isHidden('#grains-path-pitch-row'), true);
    assert.equal(await page.textContent('#grains-model-title'), 'The drum model');
    assert.match(await page.textContent('#grains-path-class-hint'), /as the chosen drum would make them\.$/);
    // And the instruments again: the phrase as it was left.
    await page.selectOption('#grains-model-select', 'instruments');
    await modelIs(page, 'instruments');
    assert.equal((await trackNames(page))[3], 'Hat A5');
    assert.match(await page.locator('#grains-status [data-key="pattern-classes"]').innerText(), /the phrase you made for instruments is back/);
    assert.deepEqual(unexpected(errors), []);
    await context.close();

    // A phone: no sideways scroll of the page; the pitch select fits.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const phoneErrors = recordErrors(phone);
    await phone.goto(`${pitched.url}${hash}`);
    await modelIs(phone, 'instruments');
    await phone.click('#grains-grid [data-track="3"][data-step="-1"]');
    const widths = await phone.evaluate(() => ({ page: document.documentElement.scrollWidth, view: innerWidth }));
    assert.ok(widths.page <= widths.view, `no sideways scroll of the page (${widths.page} > ${widths.view})`);
    const box = await phone.locator('#grains-pitch').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `the pitch select fits (${box.x} + ${box.width})`);
    await phone.locator('#grains-editor').scrollIntoViewIfNeeded();
    await phone.screenshot({ path: path.join(OUTPUT_DIR, 'grains-pitched-phone.png') });
    await phone.locator('#grains-path-pitch-row').scrollIntoViewIfNeeded();
    await phone.screenshot({ path: path.join(OUTPUT_DIR, 'grains-pitched-phone-path.png') });
    assert.deepEqual(unexpected(phoneErrors), []);
    await phone.close();
  });

  test('the phrase sounds; a kept hit at two pitches differs, at one pitch twice it does not; the path sends its pitch', { timeout: TIMEOUT * 3, skip: !hasKernel && 'the WebAssembly core has no GrainsKernel (rebuild it)' }, async () => {
    const { page, errors } = await openInstruments(pitched.url);

    // The phrase plays: every pitched track's hits, and they sound.
    await page.click('#grains-play-button');
    await page.waitForFunction(() => globalThis.timbrel.grains.engine?.stepsPlayed >= 16, null, { timeout: 20000 });
    const playing = await page.evaluate(() => ({ hits: globalThis.timbrel.grains.engine.hits, peak: globalThis.timbrel.grains.engine.peak }));
    console.log(`# pitched phrase: ${JSON.stringify(playing)}`);
    assert.ok(playing.hits >= 14, `hits triggered (${playing.hits})`);
    assert.ok(playing.peak > 1e-4, `the hits sound (peak ${playing.peak})`);
    await page.click('#grains-play-button');
    await page.waitForFunction(() => globalThis.timbrel.grains.mode === 'idle');

    // Track 4 (the hat), its hit kept, heard at two pitches and at one of them again.
    await page.click('#grains-grid [data-track="3"][data-step="-1"]');
    await page.waitForFunction(() => document.getElementById('grains').dataset.lastHit);
    await page.click('#grains-keep-button');
    await page.waitForTimeout(1800);
    const take = async (action) => {
      await page.click('#grains-record-button');
      await action();
      await page.waitForTimeout(2000); // a hit lasts 1.58 s
      await page.click('#grains-record-button');
      const t = await page.evaluate(() => globalThis.timbrel.grains.exportTake());
      return floats(t.output);
    };
    const low = await take(() => page.selectOption('#grains-pitch', '70'));
    const high = await take(() => page.selectOption('#grains-pitch', '88'));
    const again = await take(() => page.click('#grains-try-button'));
    for (const [name, x] of [['A♯4', low], ['E6', high], ['E6 again', again]]) {
      assert.ok(allFinite(x), `${name}: finite`);
      assert.ok(rmsDb(x) > -90, `${name}: it sounds (${rmsDb(x).toFixed(1)} dBFS)`);
    }
    const [a, b, c] = [low, high, again].map((x) => takeSpectrum(x));
    const rate = await page.evaluate(() => globalThis.timbrel.grains.engine.sampleRate);
    const apart = shapeLsdDb([[a, b]], { rate, maxHz: 10000 });
    const same = shapeLsdDb([[b, c]], { rate, maxHz: 10000 });
    console.log(`# one kept hit: A♯4 vs E6 ${apart.toFixed(2)} dB apart; E6 twice ${same.toFixed(2)} dB (${rmsDb(low).toFixed(1)}, ${rmsDb(high).toFixed(1)}, ${rmsDb(again).toFixed(1)} dBFS)`);
    assert.ok(same < 1, `the same pitch twice sounds the same (${same.toFixed(2)} dB)`);
    assert.ok(apart > 3 * Math.max(same, 0.3), `two pitches sound different (${apart.toFixed(2)} dB vs ${same.toFixed(2)} dB)`);

    // The path: its pitch goes with the 'path' message; it sounds.
    await page.evaluate(() => {
      const engine = globalThis.timbrel.grains.engine;
      const post = engine.post.bind(engine);
      globalThis.pathMessages = [];
      engine.post = (message, ...rest) => {
        if (message.type === 'path') globalThis.pathMessages.push({ classIndex: message.classIndex, pitch: message.pitch });
        return post(message, ...rest);
      };
    });
    await page.selectOption('#grains-path-class', '2');
    await page.selectOption('#grains-path-pitch', '84');
    await page.click('#grains-path-button');
    await page.waitForFunction(() => globalThis.timbrel.grains.engine?.pathPoint, null, { timeout: 10000 });
    await page.selectOption('#grains-path-pitch', '');
    const sent = await page.evaluate(() => globalThis.pathMessages);
    assert.deepEqual(sent.slice(0, 1), [{ classIndex: 2, pitch: 84 }]);
    assert.deepEqual(sent.at(-1), { classIndex: 2, pitch: -1 }, 'the typical pitch: -1');
    let level = -Infinity;
    for (let i = 0; i < 8; i++) {
      await page.waitForTimeout(100);
      level = Math.max(level, await page.evaluate(() => globalThis.timbrel.grains.engine.levelDb));
    }
    console.log(`# pitched path: ${level.toFixed(1)} dBFS`);
    assert.ok(level > -90, `the path sounds (${level.toFixed(1)} dBFS)`);
    await page.click('#grains-path-button');
    await page.waitForFunction(() => globalThis.timbrel.grains.mode === 'idle');
    assert.deepEqual(unexpected(errors), []);
    await page.close();
  });
});
