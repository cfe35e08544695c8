// The processor base: what every AudioWorkletProcessor running a C++ kernel
// shares (audio-thread code only).
//
// - Start state and failure: a fatal error is reported to the page once
//   ({type: 'error', message, sampleRate}); process() then outputs silence.
// - Messages every engine sends (web/src/audio/engine.js): 'dispose' (free
//   the kernel), 'active' (a resting processor outputs silence without
//   running its kernel: its panel is not shown) and 'model' (a model image
//   prepared off the audio thread, see receiveModel()).
// - process() calls render(inputs, output) only while the kernel runs and
//   the processor is active; subclasses implement render().
// - renderBlocks(): running an output-only kernel over a quantum in blocks,
//   scrubbing NaN/Inf so it never reaches the speakers.
// Nothing here allocates in process(): heap views are re-made only when the
// WASM memory grew (makeViews(), a cheap buffer identity check).
// A model image is copied into the WASM heap this much per message handler.
export const IMAGE_SLICE_BYTES = 256 * 1024;

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
    this.image = null; // a model image being copied: {token, pointer, slices, next}
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
    this.image = null;
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
      else if (data.type === 'model-slice') {
        if (this.image?.token === data.token) this.copyImageSlice();
      } else this.onMessage(data);
    } catch (error) {
      this.fail(error);
    }
  }

  // A model image (ArrayBuffer from the core's prepareModel, in a Worker)
  // reaches the kernel in bounded steps, each in its own message handler:
  //   {type: 'model', token, image}  kernel.beginImage(n) (one allocation),
  //                                  the first slice copied into it
  //   {type: 'model-slice', token}   the next slice (the page sends one after
  //                                  each {type: 'model-slice'} reply)
  //   the last slice                 kernel.adoptImage(): the model is laid out
  //                                  in the image, so adopting it is O(layers);
  //                                  the reply {type: 'model', token, error, ...}
  // A newer model cancels one still being copied. Nothing runs in process().
  receiveModel(message) {
    const { token, image } = message;
    if (this.image) this.endImage(this.image.token, 'replaced by another model', true);
    if (!(image instanceof ArrayBuffer) || image.byteLength === 0) {
      this.replyModel(token, 'no model image was received');
      return;
    }
    const pointer = this.kernel.beginImage(image.byteLength);
    this.refreshViews(); // the staging block may have grown the memory
    if (!pointer) {
      this.replyModel(token, this.kernel.error() || 'the model does not fit in the audio engine\'s memory');
      return;
    }
    const bytes = new Uint8Array(image);
    const slices = [];
    for (let offset = 0; offset < bytes.length; offset += IMAGE_SLICE_BYTES) {
      slices.push(bytes.subarray(offset, Math.min(bytes.length, offset + IMAGE_SLICE_BYTES)));
    }
    this.image = { token, pointer, slices, next: 0, message: { ...message, image: null } };
    this.copyImageSlice();
  }

  copyImageSlice() {
    const image = this.image;
    this.core.HEAPU8.set(image.slices[image.next], image.pointer + image.next * IMAGE_SLICE_BYTES);
    image.next++;
    if (image.next < image.slices.length) {
      this.port.postMessage({ type: 'model-slice', token: image.token });
      return;
    }
    this.image = null;
    const error = this.adoptImage(image.message);
    this.refreshViews();
    this.replyModel(image.token, error);
  }

  // The kernel takes the copied image; message: the 'model' message (its
  // other fields are for subclasses). "" or the kernel's reason.
  adoptImage() {
    return this.kernel.adoptImage();
  }

  // Stops copying an image: the kernel frees its staging block.
  endImage(token, error, cancel) {
    this.image = null;
    if (cancel) this.kernel.cancelImage();
    this.replyModel(token, error);
  }

  replyModel(token, error) {
    const reply = { type: 'model', token, error: error || '' };
    this.port.postMessage(error ? reply : { ...reply, ...this.modelReply() });
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

  // Samples [offset, offset + m) of an input (its channels averaged to mono;
  // silence when nothing is connected) into the heap at index base.
  copyInput(input, heap, base, offset, m) {
    if (input.length === 0) {
      for (let i = 0; i < m; i++) heap[base + i] = 0;
      return;
    }
    const first = input[0];
    for (let i = 0; i < m; i++) heap[base + i] = first[offset + i];
    if (input.length === 1) return;
    for (let c = 1; c < input.length; c++) {
      const other = input[c];
      for (let i = 0; i < m; i++) heap[base + i] += other[offset + i];
    }
    const scale = 1 / input.length;
    for (let i = 0; i < m; i++) heap[base + i] *= scale;
  }
}
