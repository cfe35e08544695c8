// The Notes panel's second batch engine: ONNX Runtime Web in a Worker, running
// the note model's `decoder` graph as exported to ONNX from the shipped .tmbl
// (scripts/export-onnx.sh at set-up; served at /onnx/). WebGPU execution
// provider when the browser offers a GPU adapter, WebAssembly otherwise; ONNX
// Runtime's own modules and binaries come from /vendor/onnxruntime-web/ (the
// npm package, served by web/serve.mjs), fetched only when the panel asks.
//
// Messages (page -> worker), answered with the same token ({token, error} on failure):
//   {type: 'load', url, backend: 'auto' | 'webgpu' | 'wasm'} -> {backend, threads, batch}
//        batch: the graph takes many latents at once (a dynamic first axis);
//        otherwise they are decoded one run each
//   {type: 'decode', latents: Float32Array(n x 32)}          -> {mels: Float32Array(n x 43 x 256), ms}
// Events on the way: {type: 'progress', token, fraction}.
// Before anything: {type: 'ready'}.

const VENDOR = new URL('/vendor/onnxruntime-web/', self.location.href).href;
const CHUNK = 64; // latents per run when the graph takes a batch

let ort = null;
let session = null;
let batch = false;
let latentSize = 32;

async function gpuAdapter() {
  try {
    return self.navigator?.gpu ? await self.navigator.gpu.requestAdapter() : null;
  } catch {
    return null;
  }
}

async function importOrt(build) {
  try {
    return await import(`${VENDOR}${build}`);
  } catch (error) {
    throw new Error(`ONNX Runtime Web could not be loaded from the server (${error?.message || error}); run scripts/setup.sh (npm ci) and reload`, { cause: error });
  }
}

// The first axis of the graph's input: symbolic or -1 means any batch size.
function takesBatch(s) {
  const meta = s.inputMetadata?.[0];
  const dim = meta?.shape?.[0];
  if (dim === undefined) return false;
  return typeof dim === 'string' || dim < 0;
}

async function load({ url, backend }) {
  const gpu = backend === 'webgpu' || (backend === 'auto' && (await gpuAdapter()));
  const wanted = gpu ? 'webgpu' : 'wasm';
  ort = await importOrt(gpu ? 'ort.webgpu.min.mjs' : 'ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = VENDOR;
  ort.env.logLevel = 'error';
  const threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, (self.navigator?.hardwareConcurrency ?? 2) - 1)) : 1;
  ort.env.wasm.numThreads = threads;
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(response.status === 404
      ? 'the note model’s decoder graph for ONNX Runtime is not on the server (scripts/setup.sh writes it into build-onnx/)'
      : `the decoder graph could not be fetched (HTTP ${response.status})`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  await session?.release?.();
  session = null;
  let used = wanted;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [wanted], graphOptimizationLevel: 'all' });
  } catch (error) {
    if (wanted !== 'webgpu') throw new Error(`ONNX Runtime could not open the decoder graph: ${error?.message || error}`, { cause: error });
    // A GPU that would not run it: the WebAssembly backend of the same build.
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    used = 'wasm';
  }
  batch = takesBatch(session);
  const shape = session.inputMetadata?.[0]?.shape;
  latentSize = Number.isInteger(shape?.[shape.length - 1]) ? shape[shape.length - 1] : 32;
  return { backend: used, threads: used === 'wasm' ? threads : 0, batch };
}

async function decode({ token, latents }) {
  if (!session) throw new Error('no decoder graph is loaded');
  const n = latents.length / latentSize;
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  const t0 = performance.now();
  let mels = null;
  let size = 0;
  let lastPct = -1;
  const step = batch ? CHUNK : 1;
  for (let i = 0; i < n; i += step) {
    const m = Math.min(step, n - i);
    const tensor = new ort.Tensor('float32', latents.slice(i * latentSize, (i + m) * latentSize), [m, 1, latentSize]);
    const result = await session.run({ [input]: tensor });
    const data = result[output].data;
    if (!mels) {
      size = data.length / m;
      mels = new Float32Array(n * size);
    }
    mels.set(data, i * size);
    tensor.dispose?.();
    result[output].dispose?.();
    const pct = Math.floor((100 * (i + m)) / n);
    if (pct >= lastPct + 10 || i + m === n) {
      lastPct = pct;
      self.postMessage({ type: 'progress', token, fraction: (i + m) / n });
    }
  }
  return { mels: mels ?? new Float32Array(0), ms: performance.now() - t0 };
}

const JOBS = { load, decode };

self.onmessage = async (event) => {
  const data = event.data;
  const job = JOBS[data?.type];
  if (!job) return;
  try {
    const result = await job(data);
    self.postMessage({ type: 'done', token: data.token, ...result }, result.mels ? [result.mels.buffer] : []);
  } catch (error) {
    self.postMessage({ type: 'done', token: data.token, error: String(error?.message || error).replace(/\.$/, '') });
  }
};

self.postMessage({ type: 'ready' });
