// End-to-end: the Notes panel in headless Chromium with the real WebAssembly
// core (GmvaeNotes in two Web Workers, the live GmvaeSynth in the AudioWorklet)
// and ONNX Runtime Web (its WebAssembly backend: headless Chromium offers no
// GPU adapter) running the decoder graph exported from the same model file.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test --test-force-exit tests/web/notes.test.mjs
//
// The model: models/gmvae/gmvae.tmbl when it is trained. Until then the page
// starts with an untrained model of the contract's sizes (tests/web/
// notes_fixture.py: its ONNX graphs exercise ONNX Runtime Web) and the pitch
// is checked on the core's golden test model (tests/golden/gmvae/oracle.tmbl,
// whose decoder is set by hand so that the components' means decode to tones),
// loaded as a visitor's own model file; the network's verdict on a transfer
// needs the trained model (skipped with a note). The ONNX graphs are
// build-onnx/gmvae/ when they were written from that very file, else written
// here by scripts/export-onnx.sh. TIMBREL_NOTES_UNTRAINED=1 takes the fixture
// and the golden model even when a trained model is there.
//
// - The panel opens: twelve instruments, the map with its legend; both batch
//   engines decode the same batch (notes per second in the panel's line) and
//   the whole map grid decoded by each agrees within ORT_TOLERANCE.
// - "Oboe, A4": the computer key plays it live from the worklet while held;
//   rendered offline, its f0 is within 20 cents of 440 Hz (trained model).
// - That note, saved as a WAV file and opened, moves to the French horn; the
//   network hears a French horn in the result (trained model).
// - Every note of the instrument: decoded as one batch, rendered, offered as a WAV.
// - Errors in words, the rest keeps working: a silent file, a file that is
//   no audio, a truncated and a foreign model, a refused microphone.
// Screenshots: tests/web/output/notes-*.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, CORE_DIR, LOCAL_ONLY_ARGS, OUTPUT_DIR, REPO, coreHas, isLocal, makeTempDir, recordErrors, recordRequests, startServer, writeWav } from './harness.mjs';
import { f0PerNote, floats } from './midi-harness.mjs';
import { allFinite, rmsDb } from './signal.mjs';
import { maxAbsDiff, tmblCrc } from '../../web/src/notes/notes-model.js';

// ONNX Runtime's decoded patches against the core's, on the scaled log-mel
// (-1..1, 160 dB): both run the same float32 weights; ONNX keeps the
// BatchNorm layers the core has folded, and the two sum in other orders.
export const ORT_TOLERANCE = 2e-3;
const TIMEOUT = 60000;
const SHIPPED = path.join(REPO, 'models', 'gmvae', 'gmvae.tmbl');

// The samples of a 16-bit mono WAV file (the shipped examples) as floats.
function readPcm16(file) {
  const bytes = fs.readFileSync(file);
  let at = 12;
  while (at + 8 <= bytes.length && bytes.toString('latin1', at, at + 4) !== 'data') at += 8 + bytes.readUInt32LE(at + 4);
  const size = bytes.readUInt32LE(at + 4);
  const out = new Float32Array(size / 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(at + 8 + 2 * i) / 32768;
  return out;
}
const ORACLE = path.join(REPO, 'tests', 'golden', 'gmvae', 'oracle.tmbl');

const hasCore = await coreHas('GmvaeNotes').catch(() => false);
test('the WebAssembly core has the GmvaeNotes binding', () => {
  assert.ok(hasCore, `${CORE_DIR}/timbrel-core.mjs has no GmvaeNotes: rebuild the WebAssembly core`);
});
const skip = !hasCore;

let tmp;
let server;
let browser;
let trained = false;
let modelFile;
let pitchModel = null; // a model file loaded by hand for the pitch check (no trained model yet)

// The served models/ (the note model; empty lists for the other panels) and onnx/.
function prepare() {
  const models = path.join(tmp, 'models');
  fs.mkdirSync(path.join(models, 'gmvae'), { recursive: true });
  fs.mkdirSync(path.join(models, 'crossmodal'), { recursive: true });
  fs.writeFileSync(path.join(models, 'index.json'), '[]');
  fs.writeFileSync(path.join(models, 'crossmodal', 'index.json'), '[]');
  modelFile = path.join(models, 'gmvae', 'gmvae.tmbl');
  trained = fs.existsSync(SHIPPED) && !process.env.TIMBREL_NOTES_UNTRAINED;
  if (trained) {
    fs.copyFileSync(SHIPPED, modelFile);
    const card = path.join(path.dirname(SHIPPED), 'MODEL_CARD.md');
    if (fs.existsSync(card)) fs.copyFileSync(card, path.join(models, 'gmvae', 'MODEL_CARD.md'));
  } else {
    console.log('# no trained model (models/gmvae/gmvae.tmbl, or TIMBREL_NOTES_UNTRAINED): an untrained model of the contract\'s sizes (tests/web/notes_fixture.py); the pitch on the golden test model');
    if (fs.existsSync(ORACLE)) pitchModel = ORACLE;
    execFileSync('/usr/bin/python3', [path.join(REPO, 'tests', 'web', 'notes_fixture.py'), path.join(models, 'gmvae')], {
      env: { ...process.env, PYTHONPATH: path.join(REPO, 'scripts') },
      stdio: 'inherit',
    });
  }
  const built = path.join(REPO, 'build-onnx');
  const source = path.join(built, 'gmvae', 'source.json');
  if (trained && fs.existsSync(source) && JSON.parse(fs.readFileSync(source, 'utf8')).crc32 === tmblCrc(fs.readFileSync(modelFile))) return { models, onnx: built };
  const onnx = path.join(tmp, 'onnx');
  execFileSync(path.join(REPO, 'scripts', 'export-onnx.sh'), [modelFile, path.join(onnx, 'gmvae')], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { models, onnx };
}

before(async () => {
  if (skip) return;
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  tmp = makeTempDir();
  const { models, onnx } = prepare();
  server = await startServer({ modelsDir: models, onnxDir: onnx });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS] });
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
});

const notes = (page, fn, arg) => page.evaluate(fn, arg);
const dataset = (page, key) => page.evaluate((k) => document.getElementById('notes').dataset[k] ?? null, key);
const waitFor = (page, key, values, timeout = 30000) =>
  page.waitForFunction(([k, v]) => v.includes(document.getElementById('notes').dataset[k]), [key, values], { timeout, polling: 100 });
// A copy peaking at 0.5.
function normalised(x) {
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  return peak > 0 ? x.map((v) => (0.5 * v) / peak) : x;
}
const levelOf = (page) => page.evaluate(() => globalThis.timbrel.notes.engine?.levelDb ?? -120);

describe('Notes panel', { skip }, () => {
  let context;
  let page;
  let errors;
  let requests;
  let oboe; // the rendered oboe A4: {audio: Float32Array, sampleRate}

  before(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    requests = recordRequests(context);
    page = await context.newPage();
    errors = recordErrors(page);
    await page.goto(`${server.url}#notes`);
    await waitFor(page, 'instrument', ['oboe'], 60000).catch(async (error) => {
      throw new Error(`the note model did not load: ${await page.textContent('#notes-status')} ${await page.textContent('#notes-instruments-note')} ${errors.join(' | ')}`, { cause: error });
    });
  });

  after(async () => {
    await context?.close();
  });

  test('opens with the instruments and the map; both batch engines decode the map and agree', { timeout: TIMEOUT }, async () => {
    assert.equal(await page.getAttribute('a[data-nav="notes"]', 'aria-current'), 'page');
    assert.equal(await page.locator('#notes-instruments input[type="radio"]').count(), 12);
    assert.equal(await page.locator('#notes-map-legend .legend-item').count(), 12);
    await waitFor(page, 'heat', ['done', 'error'], 45000);
    assert.equal(await dataset(page, 'heat'), 'done', await page.textContent('#notes-every-status'));
    const engines = await notes(page, () => globalThis.timbrel.notes.exportEngines());
    assert.equal(engines.ortState, 'ready', `ONNX Runtime Web: ${engines.ortError}`);
    assert.equal(engines.backend, 'wasm', 'headless Chromium has no GPU adapter: the WebAssembly backend');
    assert.ok(engines.core.rate > 0 && engines.ort.rate > 0);
    assert.ok(engines.parity.maxDiff < ORT_TOLERANCE, `the measured batch: ${engines.parity.maxDiff}`);
    const line = await page.textContent('#notes-engines');
    assert.match(line, /the core \(WebAssembly\): [\d.,]+ notes\/s · ONNX Runtime Web \(WebAssembly, \d threads?\): [\d.,]+ notes\/s/);
    console.log(`# batch decoding of ${engines.core.n} notes: core ${engines.core.rate.toFixed(1)} notes/s, ONNX Runtime Web (wasm) ${engines.ort.rate.toFixed(1)} notes/s; using ${engines.choice}; max difference ${engines.parity.maxDiff.toExponential(2)}`);

    // The whole map grid with each engine: the same patches, the same shading.
    const both = await notes(page, async () => {
      const panel = globalThis.timbrel.notes;
      const core = await panel.shadeMap({ engine: 'core' });
      const coreMels = core.mels;
      const coreValues = Array.from(core.values);
      const ort = await panel.shadeMap({ engine: 'ort' });
      let diff = 0;
      for (let i = 0; i < coreMels.length; i++) diff = Math.max(diff, Math.abs(coreMels[i] - ort.mels[i]) || 0);
      return { n: coreMels.length, diff, coreValues, ortValues: Array.from(ort.values), coreMs: core.ms, ortMs: ort.ms };
    });
    assert.equal(both.n, 24 * 16 * 43 * 256);
    assert.ok(both.diff < ORT_TOLERANCE, `the map grid: ${both.diff}`);
    const hzDiff = maxAbsDiff(both.coreValues, both.ortValues);
    assert.ok(hzDiff < 5, `the shading (spectral centroid) differs by ${hzDiff} Hz`);
    console.log(`# map grid (384 notes): core ${both.coreMs.toFixed(0)} ms, ONNX Runtime Web ${both.ortMs.toFixed(0)} ms; max patch difference ${both.diff.toExponential(2)}, centroid ${hzDiff.toFixed(3)} Hz`);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'notes-start.png'), fullPage: true });
  });

  test('oboe, A4: played live while the key is held, rendered offline at 440 Hz', { timeout: TIMEOUT }, async () => {
    if (pitchModel) {
      // The golden model, as a visitor's own file: its means decode to tones.
      const before = await dataset(page, 'model');
      await page.setInputFiles('#notes-model-file', pitchModel);
      await page.waitForFunction((id) => document.getElementById('notes').dataset.model !== id, before, { timeout: 15000 });
      assert.match(await page.textContent('#notes-engines'), /a model of your own is decoded by the core/);
    }
    await page.getByRole('radio', { name: /^Oboe/ }).check();
    await waitFor(page, 'instrument', ['oboe']);
    assert.equal(await page.textContent('#notes-octave-value'), 'C4 – C6');
    // A4 is the H key on a keyboard from C4.
    await page.keyboard.down('h');
    const live = await page.waitForFunction(() => {
      const panel = globalThis.timbrel.notes;
      if ((panel.engine?.levelDb ?? -120) > -75) return 'sounding'; // silence is -120
      return document.querySelector('#notes-live-status [data-key="core-error"]') ? 'no-synth' : false;
    }, null, { timeout: 20000, polling: 50 }).then((h) => h.jsonValue());
    if (live === 'sounding') {
      console.log(`# live: oboe A4 sounding from the worklet (${(await levelOf(page)).toFixed(1)} dBFS), latency ${await page.textContent('#notes-latency')}`);
      await page.waitForTimeout(600);
      assert.ok((await levelOf(page)) > -75, 'still sounding while held');
      assert.equal(await dataset(page, 'lastNote'), '69');
      await page.keyboard.up('h');
      await page.waitForFunction(() => (globalThis.timbrel.notes.engine?.levelDb ?? -120) < -90, null, { timeout: 5000, polling: 50 });
    } else {
      await page.keyboard.up('h');
      console.log(`# no live synth in this core: ${await page.textContent('#notes-live-status')}`);
    }
    // The instrument's and the pitch's typical note (variation 0).
    await page.locator('#notes-spread').fill('0');
    await page.getByRole('button', { name: 'Render A4' }).click();
    await waitFor(page, 'render', ['done', 'error']);
    assert.equal(await dataset(page, 'render'), 'done', await page.textContent('#notes-live-status'));
    const note = await notes(page, () => globalThis.timbrel.notes.exportNote());
    assert.equal(note.midi, 69);
    assert.equal(note.instrument, 'oboe');
    const audio = floats(note.audio);
    oboe = { audio, sampleRate: note.sampleRate };
    assert.ok(allFinite(audio));
    // Held (the decoded 500 ms included), then the 150 ms release.
    assert.ok(audio.length >= (note.held + 0.1) * note.sampleRate, `${audio.length} samples for ${note.held} s held`);
    // The pitch of the note as it is, at a level YIN hears (the model's notes may be quiet).
    const [f0] = await f0PerNote(normalised(audio), [{ pitch: 69, start: 0.1, end: note.held }]);
    console.log(`# oboe A4 rendered: f0 ${f0.hz.toFixed(1)} Hz (${f0.cents.toFixed(1)} cents), voiced ${(100 * f0.voiced).toFixed(0)} %, level ${rmsDb(audio).toFixed(1)} dBFS RMS`);
    if (trained || pitchModel) assert.ok(Math.abs(f0.cents) < 20, `f0 ${f0.hz} Hz is ${f0.cents.toFixed(1)} cents from 440 Hz`);
    else console.log('# no trained or golden model: the pitch is not checked');
    const download = page.waitForEvent('download');
    await page.click('#notes-download');
    assert.match((await download).suggestedFilename(), /^timbrel-oboe-A4-seed\d+\.wav$/);

    // The map plays the timbre under the pointer at the chosen note.
    await page.locator('#notes-map').scrollIntoViewIfNeeded();
    const at = await notes(page, () => {
      const panel = globalThis.timbrel.notes;
      const mean = panel.model.description.map.means[panel.instrument];
      return panel.map.clientPoint(mean.x, mean.y);
    });
    await page.mouse.move(at.x, at.y);
    await page.mouse.down();
    assert.notEqual(await dataset(page, 'map'), 'off');
    await page.mouse.move(at.x + 60, at.y + 30, { steps: 4 });
    await page.mouse.up();
    assert.equal(await dataset(page, 'map'), 'off');
  });

  test('a note moves to the French horn', { timeout: TIMEOUT }, async () => {
    assert.ok(oboe, 'the oboe note of the test before');
    // The trained model gets a recording it never heard (the held-out sample set's oboe
    // A4, shipped as a transfer example); the fixture model its own note.
    const recorded = path.join(REPO, 'models', 'gmvae', 'examples', 'oboe_A4.wav');
    const source = trained ? { audio: readPcm16(recorded), sampleRate: 22050 } : oboe;
    const wav = path.join(tmp, 'oboe-a4.wav');
    const padded = new Float32Array(source.audio.length + 4410);
    padded.set(source.audio, 4410); // 0.2 s of silence before the onset
    writeWav(wav, padded, source.sampleRate);
    await page.setInputFiles('#notes-file', wav);
    await page.waitForFunction(() => document.getElementById('notes').dataset.heard, null, { timeout: 15000 });
    const heardBefore = await dataset(page, 'heard');
    assert.match(await page.textContent('#notes-source-facts'), /from its onset, 0\.[12]\d s in/);
    await page.selectOption('#notes-target', { label: 'French horn' });
    await page.getByRole('button', { name: 'Transfer and play' }).click();
    await waitFor(page, 'transfer', ['done', 'error']);
    assert.equal(await dataset(page, 'transfer'), 'done', await page.textContent('#notes-transfer-status'));
    const t = await notes(page, () => globalThis.timbrel.notes.exportTransfer());
    assert.equal(t.target, 'french_horn');
    const audio = floats(t.audio);
    assert.ok(allFinite(audio) && rmsDb(audio) > -60);
    const [f0] = await f0PerNote(normalised(audio), [{ pitch: 69, start: 0.1, end: audio.length / t.sampleRate - 0.3 }]);
    console.log(`# transfer: the network heard ${heardBefore} in the ${trained ? 'recorded held-out' : 'sampled'} oboe note, ${t.heardAfter} after moving it to the French horn; f0 ${f0.hz.toFixed(1)} Hz (${f0.cents.toFixed(1)} cents from A4)`);
    assert.match(await page.textContent('#notes-transfer-result'), /→ French horn\. Listening to the result, the network hears/);
    if (trained) {
      assert.equal(heardBefore, 'oboe');
      assert.equal(t.heardAfter, 'french_horn', 'the network hears a French horn in the transferred note');
    }
    await page.locator('.notes-transfer-card').screenshot({ path: path.join(OUTPUT_DIR, 'notes-transfer.png') });
  });

  test('every note of the instrument: one batch decoded by the faster engine, each note rendered', { timeout: TIMEOUT }, async () => {
    const name = await page.evaluate(() => {
      const p = globalThis.timbrel.notes;
      return p.model.description.instruments[p.instrument].label.toLowerCase();
    });
    await page.getByRole('button', { name: `Render every note of the ${name}` }).click();
    await waitFor(page, 'every', ['done', 'error', 'cancelled'], 50000);
    assert.equal(await dataset(page, 'every'), 'done', await page.textContent('#notes-every-status'));
    const every = await notes(page, () => {
      const e = globalThis.timbrel.notes.every;
      return { count: e.pitches.length, seconds: e.samples.length / 22050, engine: e.engine, decodeMs: e.decodeMs, ms: e.ms, lo: e.pitches[0], hi: e.pitches.at(-1) };
    });
    const range = await notes(page, () => {
      const p = globalThis.timbrel.notes;
      return p.model.description.instruments[p.instrument].range;
    });
    assert.deepEqual([every.lo, every.hi], range);
    assert.ok(every.seconds > every.count * 0.6, `${every.seconds} s for ${every.count} notes`);
    assert.match(await page.textContent('#notes-progress-value'), new RegExp(`${every.count} notes, .* decoded by`));
    assert.match(await page.getAttribute('#notes-every-download', 'download'), /^timbrel-\w+-every-note\.wav$/);
    console.log(`# every note: ${every.count} notes decoded by ${every.engine} in ${every.decodeMs.toFixed(0)} ms, rendered in ${(every.ms / 1000).toFixed(1)} s (${every.seconds.toFixed(1)} s of sound)`);
  });

  test('errors are said in words and the rest keeps working', { timeout: TIMEOUT }, async () => {
    const silent = path.join(tmp, 'silent.wav');
    writeWav(silent, new Float32Array(22050), 22050);
    await page.setInputFiles('#notes-file', silent);
    await page.locator('#notes-transfer-status [data-key="source-error"]').waitFor({ timeout: 10000 });
    assert.match(await page.textContent('#notes-transfer-status'), /“silent\.wav” is silent\..*The note loaded before stays\./);
    await page.setInputFiles('#notes-file', { name: 'notes.wav', mimeType: 'audio/wav', buffer: Buffer.from('these are words, not sound') });
    await page.waitForFunction(() => /could not be decoded/.test(document.getElementById('notes-transfer-status').textContent), null, { timeout: 10000 });

    const model = await dataset(page, 'model');
    const bytes = fs.readFileSync(modelFile);
    await page.setInputFiles('#notes-model-file', { name: 'cut.tmbl', mimeType: 'application/octet-stream', buffer: bytes.subarray(0, bytes.length >> 1) });
    await page.waitForFunction(() => /“cut\.tmbl” is not a model this page can read/.test(document.getElementById('notes-status').textContent), null, { timeout: 10000 });
    assert.match(await page.textContent('#notes-status'), /truncated|damaged.*The model loaded before stays\./);
    const foreign = path.join(REPO, 'tests', 'golden', 'crossmodal', 'solo', 'model.tmbl');
    if (fs.existsSync(foreign)) {
      await page.setInputFiles('#notes-model-file', foreign);
      await page.waitForFunction(() => /is a score model \(MIDI panel\), not a note model/.test(document.getElementById('notes-status').textContent), null, { timeout: 10000 });
    }
    assert.equal(await dataset(page, 'model'), model, 'the model loaded before stays');
    await page.locator('#notes-status').screenshot({ path: path.join(OUTPUT_DIR, 'notes-model-error.png') });

    await page.evaluate(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    await page.getByRole('button', { name: 'Record a note' }).click();
    await page.locator('#notes-transfer-status [data-key="mic-denied"]').waitFor({ timeout: 10000 });
    assert.match(await page.textContent('#notes-transfer-status'), /Microphone access is blocked/);

    // Still working: a note renders, a transfer runs.
    await page.getByRole('button', { name: 'Render A4' }).click();
    await waitFor(page, 'render', ['done', 'error']);
    assert.equal(await dataset(page, 'render'), 'done');
    await page.getByRole('button', { name: 'Transfer and play' }).click();
    await waitFor(page, 'transfer', ['done', 'error']);
    assert.equal(await dataset(page, 'transfer'), 'done');
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'notes-after-errors.png'), fullPage: true });

    const unexpected = errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e));
    assert.deepEqual(unexpected, [], 'no errors in the console');
    const away = requests.filter((u) => !isLocal(u));
    assert.deepEqual(away, [], 'nothing leaves this machine');
  });
});
