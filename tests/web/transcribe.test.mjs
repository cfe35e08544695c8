// End-to-end: the Transcribe panel in headless Chromium with the real
// WebAssembly core (CrossmodalKernel in a Web Worker).
//
//   node --test tests/web/transcribe.test.mjs
//
// The example phrase (the example tune's melody rendered by the model itself)
// transcribes to the notes it was rendered from: the pitch sounding at the
// middle of at least 80 % of them is the note's. The same phrase saved as a
// 44.1 kHz WAV and opened with the file input (decoded and resampled to
// 22050 Hz by the page) does too. The .mid download holds the notes shown
// (read back by the core's parser); the notes play back through the model. A
// refused microphone is explained; a fake one records a take that can be
// transcribed. Needs a trained model for the pitch checks (models/crossmodal/).
// Screenshots: tests/web/output/transcribe-*.png.

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
  coreHas,
  fakeMicArgs,
  isLocal,
  makeSineWav,
  makeTempDir,
  recordErrors,
  recordRequests,
  writeWav,
} from './harness.mjs';
import { arpeggio, closeFixture, loadCore, midiBytes, openFixture } from './midi-harness.mjs';
import { matchNotes } from '../../web/src/transcribe/transcribe-panel.js';
import { noteName } from '../../web/src/audio/midi-file.js';

const TIMEOUT = 120000;

const hasKernel = await coreHas('MidiRenderKernel').catch(() => false);
test('the WebAssembly core has the MidiRenderKernel binding', () => {
  assert.ok(hasKernel, `${CORE_DIR}/timbrel-core.mjs has no MidiRenderKernel: rebuild the WebAssembly core`);
});
const skip = !hasKernel;

const fixture = {};
let server;
let tmp;
let model;
let browser;

before(async () => {
  if (skip) return;
  try {
    await openFixture(fixture);
  } finally {
    ({ server, tmp, model, browser } = fixture);
  }
});

after(() => closeFixture(fixture));

async function openTranscribe(context, b = browser) {
  const page = await (context ?? b).newPage();
  const errors = recordErrors(page);
  await page.goto(`${server.url}#transcribe`);
  await page.waitForFunction((id) => document.getElementById('transcribe').dataset.model === id, model.id, { timeout: 30000 });
  return { page, errors };
}

const transcribed = (page, timeout = 60000) =>
  page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('transcribe').dataset.transcribe), null, { timeout, polling: 200 });

function describeMatch(result) {
  const { matched, total } = matchNotes(result.reference, result.notes);
  const found = result.notes.map((n) => noteName(n.pitch)).join(' ');
  const want = result.reference.map((n) => noteName(n.pitch)).join(' ');
  return { matched, total, text: `${matched}/${total} reference notes matched; found: ${found}; played: ${want}` };
}

describe('Transcribe panel', { skip }, () => {
  let context;
  let page;
  let errors;
  let requests;
  let phrase; // the example phrase's audio at 22050 Hz, for the file test

  before(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    requests = recordRequests(context);
    ({ page, errors } = await openTranscribe(context));
  });

  after(async () => {
    await context?.close();
  });

  test('the example phrase transcribes to the notes it was rendered from; the .mid download holds them', { timeout: TIMEOUT }, async () => {
    assert.equal(await page.isDisabled('#transcribe-button'), true, 'nothing to transcribe before a clip');
    await page.getByRole('button', { name: 'Example phrase' }).click();
    await page.waitForFunction(() => document.getElementById('transcribe').dataset.clip === 'example', null, { timeout: 60000 });
    assert.match(await page.textContent('#transcribe-clip-facts'), /Ode to Joy/);
    await page.getByRole('button', { name: 'Transcribe', exact: true }).click();
    await transcribed(page);
    assert.equal(await page.getAttribute('#transcribe', 'data-transcribe'), 'done', await page.textContent('#transcribe-run-status'));
    assert.equal(await page.evaluate(() => document.getElementById('transcribe-progress').value), 100);
    const result = await page.evaluate(() => globalThis.timbrel.transcribe.exportResult());
    const match = describeMatch(result);
    console.log(`# example phrase (${result.seconds.toFixed(1)} s, transcribed in ${result.ms.toFixed(0)} ms): ${match.text}`);
    assert.ok(result.frames.length / 5 > 80 * result.seconds, 'about 86 frames per second');
    assert.match(await page.textContent('#transcribe-summary'), /notes? found/);
    assert.ok(model.trained, 'the pitch check needs a trained cross-modal model in models/crossmodal/ (none is shipped)');
    assert.ok(match.matched >= 0.8 * match.total, `pitch sequence: ${match.text}`);
    assert.equal(await page.getAttribute('#transcribe', 'data-matched'), `${match.matched}/${match.total}`, 'the page says how many notes it found');
    await page.locator('#transcribe .midi-roll-card').screenshot({ path: path.join(OUTPUT_DIR, 'transcribe-example.png') });

    // The .mid download: the core reads back the notes shown.
    assert.equal(await page.isVisible('#transcribe-download'), true, 'the .mid download is offered');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#transcribe-download').click()]);
    assert.match(download.suggestedFilename(), /^timbrel-example-notes\.mid$/);
    const file = path.join(OUTPUT_DIR, 'transcribe-example.mid');
    await download.saveAs(file);
    const core = await loadCore();
    const song = core.parseMidi(new Uint8Array(fs.readFileSync(file)));
    assert.equal(song.error, '');
    assert.deepEqual(song.notes.map((n) => n.pitch), result.notes.map((n) => n.pitch));
    for (const [i, n] of song.notes.entries()) assert.ok(Math.abs(n.start - result.notes[i].start) < 0.01, `note ${i} starts at ${result.notes[i].start} s`);

    // The notes played back through the model; the clip itself.
    await page.getByRole('button', { name: 'Play the notes' }).click();
    await page.waitForFunction(() => document.getElementById('transcribe').dataset.mode === 'notes', null, { timeout: 60000 });
    await page.waitForFunction(() => globalThis.timbrel.transcribe.roll.playhead > 0.3, null, { timeout: 10000 });
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('button', { name: 'Play the clip' }).click();
    await page.waitForFunction(() => document.getElementById('transcribe').dataset.mode === 'clip');
    phrase = await page.evaluate(() => Array.from(globalThis.timbrel.transcribe.clip.samples));
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'transcribe-page.png'), fullPage: true });
  });

  test('the same phrase as a 44.1 kHz WAV file: decoded, resampled, transcribed alike', { timeout: TIMEOUT }, async () => {
    assert.ok(phrase?.length, 'the first test made the phrase');
    // Upsampled here by linear interpolation (the page resamples it back to 22050 Hz).
    const up = new Float32Array(phrase.length * 2);
    for (let i = 0; i < up.length; i++) {
      const x = i / 2;
      const a = Math.floor(x);
      const b = Math.min(phrase.length - 1, a + 1);
      up[i] = phrase[a] + (phrase[b] - phrase[a]) * (x - a);
    }
    const wav = path.join(tmp, 'phrase.wav');
    writeWav(wav, up, 44100);
    const reference = await page.evaluate(() => globalThis.timbrel.transcribe.clip.reference);
    await page.setInputFiles('#transcribe-file', wav);
    await page.waitForFunction(() => document.getElementById('transcribe').dataset.clip === 'file', null, { timeout: 20000 });
    const facts = await page.textContent('#transcribe-clip-facts');
    const seconds = Number(/Length([\d.]+) s/.exec(facts)?.[1]);
    assert.ok(Math.abs(seconds - phrase.length / 22050) < 0.1, `the clip is as long as the phrase (${seconds} s)`);
    await page.getByRole('button', { name: 'Transcribe', exact: true }).click();
    await transcribed(page);
    const result = await page.evaluate(() => globalThis.timbrel.transcribe.exportResult());
    const match = describeMatch({ ...result, reference });
    console.log(`# the phrase as a 44.1 kHz file: ${match.text}`);
    assert.ok(match.matched >= 0.8 * match.total, `pitch sequence from the file: ${match.text}`);

    // Another phrase, rendered otherwise (the arpeggio, RTPGHI phase, variation 1,
    // another seed) through the model in the page's Worker: transcribed back too.
    const notes = arpeggio(model.pitchRange);
    const rendered = await page.evaluate(async (bytes) => {
      const result = await globalThis.timbrel.transcribe.worker.render(Uint8Array.from(bytes), { temperature: 1, interpolation: 'linear', phase: 'rtpghi', iterations: 0, seed: 99 });
      return Array.from(result.samples);
    }, [...midiBytes(notes)]);
    const other = path.join(tmp, 'arpeggio.wav');
    writeWav(other, Float32Array.from(rendered), 22050);
    await page.setInputFiles('#transcribe-file', other);
    await page.waitForFunction(() => document.getElementById('transcribe-clip-facts').textContent.includes('arpeggio.wav'), null, { timeout: 20000 });
    await page.getByRole('button', { name: 'Transcribe', exact: true }).click();
    await transcribed(page);
    const arp = describeMatch({ ...(await page.evaluate(() => globalThis.timbrel.transcribe.exportResult())), reference: notes });
    console.log(`# an arpeggio rendered with RTPGHI at variation 1: ${arp.text}`);
    assert.ok(arp.matched >= 0.8 * arp.total, `pitch sequence of the arpeggio: ${arp.text}`);

    // A file that is no audio: a clear message, the clip stays.
    await page.setInputFiles('#transcribe-file', { name: 'song.mid', mimeType: 'audio/midi', buffer: Buffer.from('MThd') });
    const message = page.locator('#transcribe-status [data-key="clip-error"]');
    await message.waitFor({ timeout: 10000 });
    assert.match(await message.textContent(), /“song\.mid” is a MIDI file, not a recording\..*The clip loaded before stays/);
    await page.setInputFiles('#transcribe-file', { name: 'noise.wav', mimeType: 'audio/wav', buffer: Buffer.from('RIFF....WAVEjunk') });
    await page.waitForFunction(() => /noise\.wav” could not be decoded/.test(document.querySelector('#transcribe-status [data-key="clip-error"]')?.textContent ?? ''));
    assert.equal(await page.getAttribute('#transcribe', 'data-clip'), 'file');
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((u) => !isLocal(u)), [], 'no request may leave localhost');
  });

  test('a refused microphone is explained', { timeout: TIMEOUT }, async () => {
    const ctx = await browser.newContext();
    await ctx.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    const { page: p, errors: e } = await openTranscribe(ctx);
    await p.getByRole('button', { name: 'Record' }).click();
    const denied = p.locator('#transcribe-status [data-key="mic-denied"]');
    await denied.waitFor({ timeout: 10000 });
    assert.match(await denied.textContent(), /Microphone access is blocked\. To record your instrument, allow the microphone.*press Record again/);
    assert.equal(await p.getAttribute('#transcribe-record-button', 'aria-pressed'), 'false');
    await p.locator('#transcribe-status').screenshot({ path: path.join(OUTPUT_DIR, 'transcribe-mic-denied.png') });
    assert.deepEqual(e, []);
    await ctx.close();
  });
});

describe('Transcribe panel with a microphone', { skip }, () => {
  test('a fake microphone records a take that transcribes', { timeout: TIMEOUT }, async () => {
    // The microphone plays a steady tone at the model's lowest octave's A (or the nearest A inside its range).
    const dir = makeTempDir();
    const a = 12 * Math.ceil((model.pitchRange[0] - 9) / 12) + 9;
    const hz = 440 * 2 ** ((a - 69) / 12);
    const wav = makeSineWav(dir, { hz: Math.round(hz), seconds: 10, rate: 48000, amplitude: 0.3 });
    const micBrowser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS, ...fakeMicArgs(wav)] });
    try {
      const { page, errors } = await openTranscribe(null, micBrowser);
      await page.getByRole('button', { name: 'Record' }).click();
      await page.waitForFunction(() => document.getElementById('transcribe').dataset.mic === 'recording', null, { timeout: 10000 });
      await page.waitForFunction(() => Number(document.getElementById('transcribe-record-meter').getAttribute('aria-valuenow')) > -40, null, { timeout: 10000 });
      await page.waitForTimeout(2000);
      await page.getByRole('button', { name: 'Stop recording' }).click();
      await page.waitForFunction(() => document.getElementById('transcribe').dataset.clip === 'mic', null, { timeout: 20000 });
      const seconds = await page.evaluate(() => globalThis.timbrel.transcribe.clip.seconds);
      const peak = await page.evaluate(() => globalThis.timbrel.transcribe.clip.peak);
      console.log(`# microphone take: ${seconds.toFixed(2)} s, peak ${peak.toFixed(3)} (tone ${hz.toFixed(1)} Hz)`);
      assert.ok(seconds > 1.5 && seconds < 4, `the take lasts about as long as recorded (${seconds} s)`);
      assert.ok(peak > 0.1, 'the take holds the tone');
      await page.getByRole('button', { name: 'Transcribe', exact: true }).click();
      await transcribed(page);
      assert.equal(await page.getAttribute('#transcribe', 'data-transcribe'), 'done');
      const result = await page.evaluate(() => globalThis.timbrel.transcribe.exportResult());
      console.log(`# the tone transcribes to: ${result.notes.map((n) => noteName(n.pitch)).join(' ') || 'no notes'}`);
      assert.ok(result.frames.length > 0);
      assert.deepEqual(errors, []);
    } finally {
      await micBrowser.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
