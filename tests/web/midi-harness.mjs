// Shared by the MIDI and Transcribe browser tests: which cross-modal model
// they play (a trained one from models/crossmodal/, the flute first; or the
// golden test model when none is shipped yet), a temporary models/ folder that
// serves it first, known MIDI files, and the core's f0 measure of audio.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { BASE_ARGS, CHROMIUM, CORE_DIR, LOCAL_ONLY_ARGS, OUTPUT_DIR, REPO, makeTempDir, startServer } from './harness.mjs';
import { writeMidi } from '../../web/src/audio/midi-file.js';

export const GOLDEN_MODEL = path.join(REPO, 'tests', 'golden', 'crossmodal', 'solo', 'model.tmbl');
const PREFERRED = ['flute', 'violin', 'alto_sax', 'trumpet', 'piano'];

// Copies the cross-modal models to tmp/models/crossmodal with the chosen one
// first in the index. Returns {modelsDir, model: {id, pitchRange, trained}}.
export function prepareModels(tmp) {
  const shipped = path.join(REPO, 'models', 'crossmodal', 'index.json');
  const raw = fs.existsSync(shipped) ? JSON.parse(fs.readFileSync(shipped, 'utf8')) : [];
  let list = (Array.isArray(raw) ? raw : raw.models ?? []).filter((m) => fs.existsSync(path.join(REPO, 'models', 'crossmodal', m.file)));
  const modelsDir = path.join(tmp, 'models');
  const crossmodal = path.join(modelsDir, 'crossmodal');
  fs.mkdirSync(crossmodal, { recursive: true });
  let trained = true;
  if (list.length) {
    const rank = (m) => {
      const i = PREFERRED.indexOf(m.id);
      return (m.instruments?.length ?? 1) > 1 ? 100 : i < 0 ? 50 : i;
    };
    list = [...list].sort((a, b) => rank(a) - rank(b));
    for (const m of list) {
      for (const rel of [m.file, m.card].filter(Boolean)) {
        fs.mkdirSync(path.dirname(path.join(crossmodal, rel)), { recursive: true });
        fs.copyFileSync(path.join(REPO, 'models', 'crossmodal', rel), path.join(crossmodal, rel));
      }
    }
  } else {
    trained = false;
    fs.mkdirSync(path.join(crossmodal, 'golden'), { recursive: true });
    fs.copyFileSync(GOLDEN_MODEL, path.join(crossmodal, 'golden', 'golden.tmbl'));
    list = [{ id: 'golden', instruments: ['violin'], file: 'golden/golden.tmbl', pitch_ranges: [[55, 96]], size_bytes: fs.statSync(GOLDEN_MODEL).size }];
    console.log('# models/crossmodal/index.json lists no model: playing the golden (untrained) test model');
  }
  fs.writeFileSync(path.join(crossmodal, 'index.json'), JSON.stringify(list));
  // The page's other panels read models/index.json: an empty list keeps them quiet.
  fs.writeFileSync(path.join(modelsDir, 'index.json'), '[]');
  const first = list[0];
  return { modelsDir, model: { id: first.id, pitchRange: first.pitch_ranges?.[0] ?? [55, 96], trained, file: path.join(crossmodal, first.file) } };
}

// A monophonic arpeggio inside [lo, hi]: notes of 0.5 s with 0.1 s between them.
export function arpeggio([lo, hi], { seconds = 0.5, gap = 0.1, velocity = 80 } = {}) {
  const middle = 12 * Math.round((lo + hi) / 24);
  const base = Math.max(12 * Math.ceil(lo / 12), Math.min(middle, 12 * Math.floor((hi - 12) / 12)));
  const steps = [0, 4, 7, 12, 7, 4, 0, 2, 5, 9, 5, 2];
  return steps.map((s, i) => ({ pitch: base + s, velocity, start: 0.2 + i * (seconds + gap), end: 0.2 + i * (seconds + gap) + seconds }));
}

export function midiBytes(notes, bpm = 120) {
  return Buffer.from(writeMidi([{ name: 'Arpeggio', channel: 0, notes }], { bpm }));
}

let corePromise = null;
export function loadCore() {
  corePromise ??= import(pathToFileURL(path.join(CORE_DIR, 'timbrel-core.mjs')).href).then((m) => m.default());
  return corePromise;
}

// The core's f0 (YIN, `timbrel analyse`'s frames) over the middle of each
// note: [{pitch, hz, cents (error), voiced (share of frames)}].
export async function f0PerNote(samples, notes, { middle = 0.5 } = {}) {
  const core = await loadCore();
  const kernel = new core.DrawKernel(22050, 128, 900);
  const frames = kernel.measure(samples);
  kernel.delete();
  const STRIDE = 8;
  return notes.map((note) => {
    const length = note.end - note.start;
    const from = note.start + ((1 - middle) / 2) * length;
    const to = note.end - ((1 - middle) / 2) * length;
    const f0 = [];
    let frameCount = 0;
    for (let i = 0; i + STRIDE <= frames.length; i += STRIDE) {
      const t = frames[i];
      if (t < from || t > to) continue;
      frameCount++;
      if (frames[i + 7] > 0.5 && frames[i + 6] > 0) f0.push(frames[i + 6]);
    }
    f0.sort((a, b) => a - b);
    const hz = f0.length ? f0[Math.floor(f0.length / 2)] : NaN;
    const want = 440 * 2 ** ((note.pitch - 69) / 12);
    return { pitch: note.pitch, hz, cents: 1200 * Math.log2(hz / want), voiced: frameCount ? f0.length / frameCount : 0 };
  });
}

export const floats = (b64) => new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer);

// A test file's fixture: a temporary models/ folder (prepareModels), the page's
// server over it and a browser that reaches nothing else. The fields are set
// as each piece starts, so closeFixture frees what did start after a failure.
export async function openFixture(fixture) {
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  fixture.tmp = makeTempDir();
  let modelsDir;
  ({ modelsDir, model: fixture.model } = prepareModels(fixture.tmp));
  fixture.server = await startServer({ modelsDir });
  fixture.browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...LOCAL_ONLY_ARGS] });
  return fixture;
}

export async function closeFixture(fixture) {
  await fixture.browser?.close();
  await fixture.server?.stop();
  if (fixture.tmp) fs.rmSync(fixture.tmp, { recursive: true, force: true });
}
