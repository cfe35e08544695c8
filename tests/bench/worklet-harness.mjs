// Runs the page's AudioWorkletProcessors (web/src/worklet/*-processor.js) under
// node, as the audio thread would: the AudioWorkletGlobalScope's names
// (AudioWorkletProcessor with a port, registerProcessor, sampleRate,
// currentFrame) are provided here, messages are handed to the processor's
// port synchronously, and what it posts back is collected. For benchmarks
// that time each process() call and message handler.

import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const processors = new Map();

export function installWorkletScope({ coreDir, rate }) {
  const coreUrl = pathToFileURL(path.resolve(coreDir, 'timbrel-core.mjs')).href;
  register('./core-resolve-hooks.mjs', import.meta.url, { data: { coreUrl } });
  globalThis.sampleRate = rate;
  globalThis.currentFrame = 0;
  globalThis.currentTime = 0;
  globalThis.registerProcessor = (name, cls) => processors.set(name, cls);
  globalThis.AudioWorkletProcessor = class {
    constructor() {
      const sent = [];
      this.port = { onmessage: null, sent, postMessage: (message) => sent.push(message) };
    }
  };
}

// Imports web/src/worklet/<file> and makes its processor with `options`.
export async function makeProcessor(file, name, options) {
  await import(pathToFileURL(path.join(REPO, 'web', 'src', 'worklet', file)).href);
  const Processor = processors.get(name);
  if (!Processor) throw new Error(`${file} registered no processor "${name}"`);
  return new Processor(options);
}

// Hands a message to the processor as the port would; returns its duration in ms.
export function deliver(processor, data) {
  const t0 = performance.now();
  processor.port.onmessage({ data });
  return performance.now() - t0;
}

// One render quantum; advances currentFrame. Returns its duration in ms.
export function quantum(processor, inputs, outputs) {
  const n = outputs[0][0].length;
  const t0 = performance.now();
  processor.process(inputs, outputs, {});
  const ms = performance.now() - t0;
  globalThis.currentFrame += n;
  globalThis.currentTime = globalThis.currentFrame / globalThis.sampleRate;
  return ms;
}

// The messages the processor posted since the last call.
export function takeSent(processor) {
  return processor.port.sent.splice(0);
}
