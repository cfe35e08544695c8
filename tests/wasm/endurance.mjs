// Long runs of every engine's WebAssembly build under node, as the worklets
// drive them (128-sample quanta at 48 kHz through the heap), with the shipped
// models: memory at the start and the end (the module's heap must not grow,
// node's resident set by at most a few MB), and every output sample finite and
// inside [-1, 1].
//
//   node tests/wasm/endurance.mjs [SECONDS_PER_ENGINE=1800] [voice listen draw midi]
//   (TIMBREL_CORE_DIR as for the other WASM tests; tests/wasm/endurance.test.mjs
//   runs a few seconds of each in the test command)
//
// Prints one line per engine and a JSON summary; exits 1 if an engine failed.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCore, REPO } from './core.mjs';

const RATE = 48000;
const BLOCK = 128;
export const ENGINES = ['voice', 'listen', 'draw', 'midi'];
// Node's resident set may move with its own garbage collector; the module's
// heap (all the core's memory) must not move at all.
export const RSS_SLACK_MB = 24;

// Each model file read once, as the page's catalog keeps them (reading 3 MB
// again at every switch only measured node's garbage collector).
const modelCache = new Map();
const model = (...parts) => {
  const file = path.join(REPO, 'models', ...parts);
  if (!modelCache.has(file)) modelCache.set(file, new Uint8Array(fs.readFileSync(file)));
  return modelCache.get(file);
};

// A sung-like input with every few seconds something hostile: a NaN burst,
// a +40 dB jump (clipped), DC, a full-scale square, silence.
function makeInput() {
  let phase = 0;
  return (n) => {
    const t = n / RATE;
    const second = Math.floor(t) % 20;
    const f0 = 196 * (1 + 0.02 * Math.sin(2 * Math.PI * 0.3 * t)) * (1 + 0.01 * Math.sin(2 * Math.PI * 5.5 * t));
    phase += (2 * Math.PI * f0) / RATE;
    if (phase > 2 * Math.PI) phase -= 2 * Math.PI;
    let v = 0.3 * (Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase));
    if (second === 5 && t % 1 < 0.02) return Number.NaN;
    if (second === 7) v = Math.max(-1, Math.min(1, v * 100));
    if (second === 9) return 0.9;
    if (second === 11) return Math.floor(n / 109) % 2 ? 1 : -1;
    if (second >= 15) return 0;
    return v;
  };
}

function memory(core) {
  const m = process.memoryUsage();
  return { wasmBytes: core.HEAPF32.buffer.byteLength, rssMB: m.rss / 1048576, jsHeapMB: m.heapUsed / 1048576 };
}

// {process(n), inPtr (or null), outPtr, tick(seconds)} for one engine.
function makeEngine(core, name) {
  if (name === 'voice') {
    const k = new core.VoiceKernel(RATE, BLOCK);
    const error = k.loadModel(model('violin', 'violin.tmbl'));
    if (error) throw new Error(`voice: ${error}`);
    let switched = 0;
    return {
      k, inPtr: () => k.inputPtr(), outPtr: () => k.outputPtr(), guard: () => k.guardState(),
      tick(s) {
        // A model switch every minute (alternating instruments), parameters every 10 s.
        if (s % 60 === 30) {
          const next = ++switched % 2 ? 'flute' : 'violin';
          const e = k.loadModel(model(next, `${next}.tmbl`));
          if (e) throw new Error(`voice: ${e}`);
        }
        if (s % 10 === 0) k.setOctaves((s / 10) % 3 - 1);
        k.collect();
      },
    };
  }
  if (name === 'listen') {
    const k = new core.ListenKernel(RATE, BLOCK);
    k.setMonitorGain(1);
    return {
      k, inPtr: () => k.inputPointer(), outPtr: () => k.outputPointer(), guard: () => 0,
      pop() {
        while (k.popFrame()) { /* the page's meters read every frame */ }
      },
      tick() {},
    };
  }
  if (name === 'draw') {
    const k = new core.DrawKernel(RATE, BLOCK, 2600);
    const error = k.loadModel(model('violin', 'violin.tmbl'), true);
    if (error) throw new Error(`draw: ${error}`);
    const hops = 860; // 10 s
    const curve = Float32Array.from({ length: hops }, (_, t) => 1200 + 1000 * Math.sin((2 * Math.PI * t) / hops));
    const check = (problem) => { if (problem) throw new Error(`draw: ${problem}`); };
    check(k.setHops(hops));
    check(k.setTarget('centroid', curve, 1));
    check(k.commit());
    k.setLoop(true);
    k.play();
    return {
      k, inPtr: null, outPtr: () => k.outputPtr(), guard: () => k.guardState(),
      tick(s) {
        if (s % 15 === 0) { // redraw while looping
          check(k.setTarget('centroid', curve.map((v) => v * (1 + 0.1 * ((s / 15) % 3))), 1));
          check(k.commit());
        }
      },
    };
  }
  if (name === 'midi') {
    const k = new core.MidiKernel(RATE, BLOCK);
    const error = k.loadModel(model('crossmodal', 'violin', 'violin.tmbl'));
    if (error) throw new Error(`midi: ${error}`);
    let note = 0;
    return {
      k, inPtr: null, outPtr: () => k.outputPtr(), guard: () => k.guardState(),
      tick() {},
      quarter() { // a note every quarter second, chords now and then
        const pitch = 55 + ((note * 7) % 24);
        k.noteOff(55 + (((note - 1) * 7 + 24) % 24));
        k.noteOn(pitch, 60 + (note % 60));
        if (note % 16 === 0) for (const p of [48, 52, 55, 60, 64, 67, 72, 76]) k.noteOn(p, 127);
        if (note % 16 === 4) k.allNotesOff();
        note++;
      },
    };
  }
  throw new Error(`unknown engine '${name}' (known: ${ENGINES.join(', ')})`);
}

// Streams `seconds` through one engine. Returns a result; never throws for a failed check.
export function runEngine(core, name, seconds, { log = () => {} } = {}) {
  const engine = makeEngine(core, name);
  const input = makeInput();
  const quanta = Math.round((seconds * RATE) / BLOCK);
  const quantaPerSecond = RATE / BLOCK;
  let bad = 0;
  let peak = 0;
  let muted = 0;
  let start = null;
  const t0 = performance.now();
  for (let q = 0, n = 0; q < quanta; q++) {
    if (q % quantaPerSecond === 0) {
      const s = q / quantaPerSecond;
      if (s === 1) {
        global.gc?.();
        start = memory(core); // after a second of warm-up
      }
      engine.tick(s);
      if (s > 0 && s % 60 === 0) {
        global.gc?.();
        const m = memory(core);
        log(`  ${name}: ${s} s, WASM heap ${m.wasmBytes} bytes, rss ${m.rssMB.toFixed(1)} MB, JS heap ${m.jsHeapMB.toFixed(1)} MB`);
      }
    }
    if (engine.quarter && q % (quantaPerSecond / 4 | 0) === 0) engine.quarter();
    if (engine.inPtr) {
      const heap = core.HEAPF32;
      const at = engine.inPtr() >> 2;
      for (let i = 0; i < BLOCK; i++) heap[at + i] = input(n + i);
    }
    n += BLOCK;
    engine.k.process(BLOCK);
    engine.pop?.();
    const heap = core.HEAPF32;
    const out = engine.outPtr() >> 2;
    for (let i = 0; i < BLOCK; i++) {
      const v = heap[out + i];
      if (!(v >= -1 && v <= 1)) bad++;
      const a = Math.abs(v);
      if (a > peak) peak = a;
    }
    if (engine.guard() === 2) muted++;
  }
  global.gc?.();
  const end = memory(core);
  start ??= end;
  engine.k.delete();
  const result = {
    engine: name,
    seconds,
    computeS: (performance.now() - t0) / 1000,
    start,
    end,
    wasmGrowthBytes: end.wasmBytes - start.wasmBytes,
    rssGrowthMB: end.rssMB - start.rssMB,
    outsideOrNonFinite: bad,
    peak,
    mutedQuanta: muted,
  };
  result.ok = result.wasmGrowthBytes === 0 && result.rssGrowthMB < RSS_SLACK_MB && bad === 0 && muted === 0;
  return result;
}

async function main() {
  const seconds = Number(process.argv[2] ?? 1800);
  if (!(seconds >= 2)) throw new Error(`seconds per engine: a number >= 2, got ${process.argv[2]}`);
  const names = process.argv.length > 3 ? process.argv.slice(3) : ENGINES;
  const core = await loadCore();
  const results = [];
  for (const name of names) {
    const r = runEngine(core, name, seconds, { log: (line) => console.log(line) });
    results.push(r);
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${name}: ${seconds} s of audio in ${r.computeS.toFixed(0)} s; `
      + `WASM heap ${r.start.wasmBytes} -> ${r.end.wasmBytes} bytes, rss ${r.start.rssMB.toFixed(1)} -> ${r.end.rssMB.toFixed(1)} MB, `
      + `JS heap ${r.start.jsHeapMB.toFixed(1)} -> ${r.end.jsHeapMB.toFixed(1)} MB; peak ${r.peak.toFixed(3)}, `
      + `${r.outsideOrNonFinite} samples outside [-1, 1] or non-finite, ${r.mutedQuanta} muted quanta`);
  }
  console.log(JSON.stringify(results));
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
