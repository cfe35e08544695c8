// One AudioContext for the whole page, shared by every panel's engine.
//
// Browsers start audio only inside a user gesture, so the context is created by
// the first context() call, which a panel makes inside a click or key press. It
// runs at the device rate (never forced: Firefox cannot connect a microphone to
// a context of another rate); the C++ core resamples to the model rate.
//
// The page suspends the device when nothing plays (resume() brings it back).
// Any other suspension is the browser's (autoplay policy, a lost device): only
// that one asks the visitor to press "Resume audio" (pausedByBrowser).

export class SharedAudio {
  constructor(AudioContextClass = globalThis.AudioContext, { latencyHint = 'interactive' } = {}) {
    this.AudioContextClass = AudioContextClass;
    this.latencyHint = latencyHint;
    this.ctx = null;
    this.suspendedByPage = false;
    this.suspending = null; // the page's suspend() in flight
    this.resuming = null; // and its resume()
    this.listeners = new Set(); // (state) => void
    this.handleStateChange = () => {
      const state = this.state;
      if (state === 'running') this.suspendedByPage = false;
      for (const listener of this.listeners) listener(state);
    };
  }

  get available() {
    return typeof this.AudioContextClass === 'function';
  }

  // The page's AudioContext, created on the first call: call it inside a gesture.
  context() {
    if (!this.ctx) {
      if (!this.available) throw new Error('this browser has no Web Audio');
      this.ctx = new this.AudioContextClass({ latencyHint: this.latencyHint });
      this.ctx.addEventListener('statechange', this.handleStateChange);
    }
    return this.ctx;
  }

  get created() {
    return this.ctx !== null;
  }

  // 'none' before the first gesture, else the context's state.
  get state() {
    return this.ctx ? this.ctx.state : 'none';
  }

  get sampleRate() {
    return this.ctx ? this.ctx.sampleRate : NaN;
  }

  // Suspended, and not because the page asked for it.
  get pausedByBrowser() {
    return this.ctx !== null && this.ctx.state === 'suspended' && !this.suspendedByPage;
  }

  // Resolves the state after trying; never rejects (a refusal leaves it suspended).
  async resume() {
    if (!this.ctx || this.ctx.state === 'closed') return this.state;
    // A suspend still in flight would land after this resume: let it finish first.
    if (this.suspending) await this.suspending;
    if (!this.ctx || this.ctx.state === 'closed') return this.state;
    this.suspendedByPage = false;
    if (this.ctx.state !== 'running') {
      const resuming = this.ctx.resume().catch(() => {
        // reported through the state
      });
      this.resuming = resuming;
      await resuming;
      if (this.resuming === resuming) this.resuming = null;
    }
    return this.state;
  }

  // Lets the audio device rest while nothing plays.
  async suspend() {
    // A resume still in flight would land after this suspend: let it finish first.
    if (this.resuming) await this.resuming;
    if (!this.ctx || this.ctx.state !== 'running') return this.state;
    this.suspendedByPage = true;
    const ctx = this.ctx;
    this.suspending = ctx.suspend().catch(() => {
      // closed meanwhile
    });
    const suspending = this.suspending;
    await suspending;
    if (this.suspending === suspending) this.suspending = null;
    return this.state;
  }

  // listener(state) on every state change; returns the function that removes it.
  onStateChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async dispose() {
    this.listeners.clear();
    const ctx = this.ctx;
    this.ctx = null;
    if (!ctx) return;
    ctx.removeEventListener('statechange', this.handleStateChange);
    try {
      await ctx.close();
    } catch {
      // already closed
    }
  }
}
