// The processor base: what every AudioWorkletProcessor running a C++ kernel
// shares (audio-thread code only).
//
// - Start state and failure: a fatal error is reported to the page once
//   ({type: 'error', message, sampleRate}); process() then outputs silence.
// - Messages every engine sends (web/src/audio/engine.js): 'dispose' (free
//   the kernel), 'active' (a resting processor outputs silence without
//   running its kernel: its panel is not shown) and 'model' (a model for the
//   kernel: the kernel checks it and swaps it in between quanta).
// - process() calls render(inputs, output) only while the kernel runs and
//   the processor is active; subclasses implement render().
// - renderBlocks(): running an output-only kernel over a quantum in blocks,
//   scrubbing NaN/Inf so it never reaches the speakers.
// Nothing here allocates in process(): heap views are re-made only when the
// WASM memory grew (makeViews(), a cheap buffer identity check).
export class CoreProcessor extends AudioWorkletProcessor {
  // core: the processor's WebAssembly core module (its HEAPF32 is read here).
  constructor(core) {
    super();
    this.core = core;
    this.kernel = null;
    this.failed = false;
    this.disposed = false;
    this.active = true;
    this.heap = null;
    this.heapBuffer = null;
    this.port.onmessage = (event) => this.receive(event.data);
  }

  fail(error) {
    if (this.failed) return;
    this.failed = true;
    const message = error && error.message ? error.message : String(error);
    this.port.postMessage({ type: 'error', message, sampleRate });
    this.releaseKernel();
  }

  // The page is done with this node: free the kernel; process() then lets the
  // node go. The acknowledgement lets a test see the kernel was freed.
  dispose() {
    const hadKernel = this.kernel !== null;
    this.releaseKernel();
    this.failed = true;
    this.disposed = true;
    this.port.postMessage({ type: 'disposed', kernelFreed: hadKernel });
  }

  releaseKernel() {
    if (this.kernel) {
      try {
        this.kernel.delete();
      } catch {
        // already released
      }
      this.kernel = null;
    }
  }

  receive(data) {
    if (!data) return;
    if (data.type === 'dispose') {
      this.dispose();
      return;
    }
    if (data.type === 'active') {
      this.active = !!data.on;
      return;
    }
    if (!this.kernel) return;
    try {
      if (data.type === 'model') this.receiveModel(data);
      else this.onMessage(data);
    } catch (error) {
      this.fail(error);
    }
  }

  // {type: 'model', token, bytes: ArrayBuffer}: the kernel loads it (it keeps
  // the old model on error); the reply carries modelReply()'s fields.
  receiveModel({ token, bytes }) {
    const error = bytes instanceof ArrayBuffer ? this.loadModel(new Uint8Array(bytes)) : 'no model bytes were received';
    this.refreshViews(); // loading may grow the memory
    const reply = { type: 'model', token, error: error || '' };
    this.port.postMessage(error ? reply : { ...reply, ...this.modelReply() });
  }

  loadModel(bytes) {
    return this.kernel.loadModel(bytes);
  }

  // Extra fields of a successful model reply.
  modelReply() {
    return {};
  }

  // Messages other than dispose, active and model; the kernel exists.
  onMessage() {}

  refreshViews() {
    if (this.core.HEAPF32.buffer !== this.heapBuffer) this.makeViews();
  }

  makeViews() {
    this.heap = this.core.HEAPF32;
    this.heapBuffer = this.heap.buffer;
  }

  process(inputs, outputs) {
    const output = outputs[0];
    if (this.failed || this.kernel === null || !this.active) return this.silence(output);
    return this.render(inputs, output);
  }

  // One quantum: inputs[0] (if any) in, output filled. Returns process()'s result.
  render() {
    return true;
  }

  // Fills the output with silence; process()'s result while failed, disposed or resting.
  silence(output) {
    for (let c = 0; c < output.length; c++) output[c].fill(0);
    return !this.disposed;
  }

  // n frames of a kernel with no input: kernel.process() in blocks of at most
  // this.maxBlock, each block's output (at heap index this.outputIndex; NaN
  // or Inf zeroed and counted in this.nonfinite, so it never reaches the
  // speakers) copied to every output channel and handed to
  // this.afterBlock(heap, base, m). Returns false when the kernel threw (the
  // processor has failed and the output is silent). Allocates nothing.
  renderBlocks(output, n) {
    const kernel = this.kernel;
    for (let offset = 0; offset < n; offset += this.maxBlock) {
      const m = Math.min(this.maxBlock, n - offset);
      try {
        kernel.process(m);
      } catch (error) {
        this.fail(error);
        for (let c = 0; c < output.length; c++) output[c].fill(0);
        return false;
      }
      this.refreshViews();
      const heap = this.heap;
      const base = this.outputIndex;
      for (let i = 0; i < m; i++) {
        const v = heap[base + i];
        if (v - v !== 0) {
          heap[base + i] = 0;
          this.nonfinite++;
        }
      }
      for (let c = 0; c < output.length; c++) {
        const channel = output[c];
        for (let i = 0; i < m; i++) channel[offset + i] = heap[base + i];
      }
      this.afterBlock(heap, base, m);
    }
    return true;
  }

  afterBlock() {}
}
