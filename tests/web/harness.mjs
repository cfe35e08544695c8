// Shared helpers of the browser tests: the local server, Chromium, a test WAV.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUTPUT_DIR = path.join(REPO, 'tests', 'web', 'output');
// TIMBREL_CORE_DIR is taken relative to the current directory, as web/serve.mjs does.
export const CORE_DIR = process.env.TIMBREL_CORE_DIR
  ? path.resolve(process.env.TIMBREL_CORE_DIR)
  : path.join(REPO, 'build-wasm', 'web');
export const CHROMIUM = process.env.TIMBREL_CHROMIUM ?? '/usr/bin/chromium';

// Flags shared by every launch: headless, quiet, no network chatter from Chromium itself.
export const BASE_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// Keeps every host name but this machine's unresolvable, so a stray request fails
// fast instead of leaving (the tests also assert that none is made).
export const LOCAL_ONLY_ARGS = ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];

// Chromium's net log sees every request, including the AudioWorklet's module and
// core fetches, which Playwright's request events do not report.
export const netLogArgs = (file) => [`--log-net-log=${file}`, '--net-log-capture-mode=Default'];

// [{url, initiator}] of every URL request in a net log written by a closed browser.
// initiator is the web origin that caused it, or 'not an origin' for Chromium's own
// requests (update checks and the like, not made by the page).
export function readNetLog(file) {
  const log = JSON.parse(fs.readFileSync(file, 'utf8'));
  const startJob = log.constants.logEventTypes.URL_REQUEST_START_JOB;
  const requests = [];
  for (const event of log.events) {
    if (event.type === startJob && event.params?.url) {
      requests.push({ url: event.params.url, initiator: event.params.initiator ?? '' });
    }
  }
  return requests;
}

// A fake microphone whose permission is granted without a prompt, playing `wavPath` in a loop.
export const fakeMicArgs = (wavPath) => [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${wavPath}`,
];

// 16-bit mono PCM WAV of samples in [-1, 1].
export function writeWav(file, samples, rate) {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]));
    data.writeInt16LE(Math.round(v * 32767), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

export function makeSineWav(dir, { hz = 220, seconds = 10, rate = 48000, amplitude = 0.5 } = {}) {
  const samples = new Float32Array(seconds * rate);
  for (let i = 0; i < samples.length; i++) samples[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / rate);
  const file = path.join(dir, `sine-${hz}hz-${rate}.wav`);
  writeWav(file, samples, rate);
  return file;
}

export function makeTempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'timbrel-web-test-'));
}

// Starts web/serve.mjs on a free port; resolves {url, stop()}. modelsDir: what
// /models/ serves (default: the repository's models/); onnxDir: what /onnx/
// serves (default: build-onnx/).
export function startServer({ coreDir = CORE_DIR, modelsDir = null, onnxDir = null } = {}) {
  const args = [path.join(REPO, 'web', 'serve.mjs'), '--port', '0', '--core-dir', coreDir];
  if (modelsDir) args.push('--models-dir', modelsDir);
  if (onnxDir) args.push('--onnx-dir', onnxDir);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${out}${err}`));
    }, 10000);
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.stdout.on('data', (d) => {
      out += d;
      const m = /Timbrel is running at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 3000).unref();
            }),
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${out}${err}`));
    });
  });
}

// True for requests that stay on this machine.
export function isLocal(url) {
  const u = new URL(url);
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  return u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
}

// Records every request a browser context makes (pages, workers, worklets).
export function recordRequests(context) {
  const urls = [];
  context.on('request', (request) => urls.push(request.url()));
  return urls;
}

// Collects console errors and uncaught exceptions of a page.
export function recordErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

// Polls the f0 readout until `stableReads` consecutive readings agree within
// `tolerance` (relative); resolves the last reading in Hz.
export async function waitForSettledPitch(page, { timeoutMs = 20000, stableReads = 5, tolerance = 0.005, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  const readings = [];
  while (Date.now() < deadline) {
    const hz = Number(await page.getAttribute('#f0-value', 'data-hz'));
    if (hz > 0) {
      readings.push(hz);
      const last = readings.slice(-stableReads);
      if (last.length === stableReads && last.every((v) => Math.abs(v / last[0] - 1) <= tolerance)) return hz;
    } else {
      readings.length = 0;
    }
    await page.waitForTimeout(intervalMs);
  }
  throw new Error(`the pitch readout did not settle (last readings: ${readings.slice(-stableReads).join(', ') || 'none'})`);
}

// Whether the built core module offers an Embind class (e.g. 'TransferKernel'):
// loads it under node, as tests/wasm do.
export async function coreHas(name, coreDir = CORE_DIR) {
  const file = path.join(coreDir, 'timbrel-core.mjs');
  if (!fs.existsSync(file)) return false;
  const { default: create } = await import(pathToFileURL(file).href);
  const core = await create();
  return typeof core[name] === 'function';
}
