// What every processor running a C++ kernel shares: its start state, reporting
// a fatal error to the page once (the page shows it; process() then outputs
// silence), the page's 'dispose' message, releasing the Embind kernel object,
// and (for kernels that only output) running the kernel over a render quantum.
export class CoreProcessor extends AudioWorkletProcessor {
  // core: the processor's WebAssembly core module (its HEAPF32 is read here).
  constructor(core) {
    super();
    this.core = core;
    this.kernel = null;
    this.failed = false;
    this.disposed = false;
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  fail(error) {
    if (this.failed) return;
    this.failed = true;
    const message = error && error.message ? error.message : String(error);
    this.port.postMessage({ type: 'error', message, sampleRate });
    this.releaseKernel();
  }

  // The page is done with this node: free the kernel; process() then lets the node go.
  dispose() {
    this.releaseKernel();
    this.failed = true;
    this.disposed = true;
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

  // Fills the output with silence; process()'s result while failed or disposed.
  silence(output) {
    for (let c = 0; c < output.length; c++) output[c].fill(0);
    return !this.disposed;
  }

  // n frames of a kernel with no input: kernel.process() in blocks of at most
  // this.maxBlock, each block's output (at heap index this.outputIndex; NaN
  // or Inf zeroed and counted in this.nonfinite, so it never reaches the
  // speakers) copied to every output channel and handed to
  // this.afterBlock(heap, base, m). makeViews() re-makes the heap views when
  // the WASM memory grew. Returns false when the kernel threw (the processor
  // has failed and the output is silent). Allocates nothing.
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
      if (this.core.HEAPF32.buffer !== this.heapBuffer) this.makeViews();
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
