// What every processor running a C++ kernel shares: reporting a fatal error to
// the page once (the page shows it; process() then outputs silence) and
// releasing the Embind kernel object.
export class CoreProcessor extends AudioWorkletProcessor {
  fail(error) {
    if (this.failed) return;
    this.failed = true;
    const message = error && error.message ? error.message : String(error);
    this.port.postMessage({ type: 'error', message, sampleRate });
    this.releaseKernel();
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
}
