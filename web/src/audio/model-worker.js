// The Web Worker that prepares models for the audio thread: the WebAssembly
// core's prepareModel() checks a .tmbl file and lays it out as one flat image
// (weights in the kernels' layout, tables computed) that a worklet kernel
// adopts with a copy in slices, so nothing is parsed on the audio thread.
//
// Messages (page -> worker): {type: 'prepare', token, bytes: ArrayBuffer, family}
//   -> {type: 'prepared', token, image: ArrayBuffer, info: string} | {type: 'prepared', token, error}
// Before anything: {type: 'ready'} or {type: 'error', message} (core not loadable).

let core = null;

async function start() {
  try {
    const { default: createTimbrelCore } = await import('/core/timbrel-core.mjs');
    core = await createTimbrelCore();
    if (typeof core.prepareModel !== 'function') throw new Error('this build of the WebAssembly core has no prepareModel (rebuild the core)');
    self.postMessage({ type: 'ready' });
  } catch (error) {
    self.postMessage({ type: 'error', message: error?.message || String(error) });
  }
}
const started = start();

self.onmessage = async (event) => {
  const { type, token, bytes, family } = event.data ?? {};
  await started;
  if (type !== 'prepare') return;
  try {
    const result = core.prepareModel(new Uint8Array(bytes), String(family));
    if (result.error) {
      self.postMessage({ type: 'prepared', token, error: result.error });
      return;
    }
    // An ArrayBuffer of the image's exact size, ours to transfer.
    const image = result.image.byteLength === result.image.buffer.byteLength ? result.image.buffer : result.image.slice().buffer;
    self.postMessage({ type: 'prepared', token, image, info: result.info ?? '' }, [image]);
  } catch (error) {
    const detail = error instanceof Error ? error.message : `the WebAssembly core stopped with an internal error (${String(error)})`;
    self.postMessage({ type: 'prepared', token, error: detail });
  }
};
