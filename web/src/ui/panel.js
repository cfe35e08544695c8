// The panel base: what every panel of the page shares.
//
// - Its engine (audio/engine.js), made on demand inside a gesture (the page's one
//   AudioContext starts there: SharedAudio), started once, and dropped with a
//   message in words when it fails; the panel then keeps working without it.
// - The audio device's state: a suspension the browser imposed while this panel
//   plays asks for "Resume audio"; the page's own rests never do.
// - Being shown (activate) and left (deactivate: its sound stops, its engine rests).
// - Event listeners, downloads (object URLs) and the playhead animation, all
//   released by dispose().
//
// A subclass sets this.status (a StatusArea) and implements createEngine(context);
// it may override engineStarted(), engineLost(), describeEngineFailure(),
// isPlaying, stop().

import { CoreError } from '../audio/engine.js';
import { GUARD_STATE } from '../worklet/audio-ring.js';

// First letter up.
export const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

// "The file is bad" from an Error (or anything): first letter up, no full stop
// (the caller ends the sentence).
export const sentence = (error) => capital(String(error?.message || error).replace(/\.$/, ''));

export class Panel {
  // name: the panel's id (its resume button is `${name}-resume-button`).
  constructor(root, { audio, capabilities, name }) {
    this.root = root;
    this.audio = audio;
    this.caps = capabilities;
    this.name = name;
    this.engine = null;
    this.engineReady = null;
    this.visible = false;
    this.handlers = [];
    this.downloads = new Map(); // link element -> object URL
    this.frame = 0;
    this.unlistenAudio = audio.onStateChange((state) => this.onContextState(state));
  }

  $(id) {
    return this.root.querySelector(`#${id}`);
  }

  // addEventListener, undone by dispose().
  on(element, type, handler, options) {
    element.addEventListener(type, handler, options);
    this.handlers.push([element, type, handler, options]);
  }

  // The browser's shortcomings (capabilities.problems) in a status area.
  showProblems(status, { skip = [] } = {}) {
    for (const problem of this.caps.problems) {
      if (skip.includes(problem.key)) continue;
      status.set(problem.key, { kind: problem.fatal ? 'error' : 'warning', title: problem.title, text: problem.text, sticky: true });
    }
  }

  // ---------- the engine ----------

  // Where the engine's problems show (the panel's main status by default).
  get engineStatus() {
    return this.status;
  }

  // True while the panel makes (or wants to make) sound.
  get isPlaying() {
    return false;
  }

  // 'idle' | 'playing': the app shell stops a panel that is not idle when it is left.
  get mode() {
    return this.isPlaying ? 'playing' : 'idle';
  }

  createEngine() {
    throw new Error(`${this.constructor.name} has no engine`);
  }

  // Whether this browser can run the panel's engine (a worklet by default).
  get canRunEngine() {
    return this.caps.canRun;
  }

  // The engine started (info: its processor's 'ready' message): the device
  // rate shows where the panel has a place for it (this.el.sampleRate).
  engineStarted(engine, info) {
    const out = this.el?.sampleRate;
    if (!out || !info?.sampleRate) return;
    out.textContent = `${Number((info.sampleRate / 1000).toFixed(3))} kHz`;
    out.dataset.hz = String(info.sampleRate);
  }

  // The panel's model ({entry, bytes}: this.model) in the engine's kernel too.
  async loadEngineModel() {
    await this.engineReady;
    const model = this.model;
    if (!model) throw new Error('no instrument is loaded yet');
    await this.engine.useModel(model.entry.id, model.bytes);
    return model;
  }

  // Plays the panel's render (startBuffer()), rendering first when there is
  // none or it is stale (renderIsCurrent, render()).
  async playRender() {
    try {
      await this.ensureEngine();
    } catch {
      return; // reported by onEngineFailure
    }
    if (!this.renderIsCurrent && !(await this.render())) return;
    this.startBuffer();
    this.checkRunning();
  }

  // The engine failed and is gone: reset what depended on it.
  engineLost() {}

  // {title, text} for a failed engine.
  describeEngineFailure(error) {
    if (error instanceof CoreError) {
      const rate = error.sampleRate ?? this.audio.sampleRate;
      return {
        title: 'The audio engine cannot run on this audio device.',
        text: `${sentence(error)}${rate ? ` (the device runs at ${rate} Hz)` : ''}. Try another audio device or set its sample rate to 44.1 or 48 kHz in your system settings, then reload the page.`,
      };
    }
    return { title: 'The audio engine could not start.', text: `${sentence(error)}.` };
  }

  // Call synchronously inside a gesture: the page's AudioContext starts there.
  // Resolves the engine's info; a failure is reported (onEngineFailure) and rejects.
  ensureEngine() {
    if (this.engine) {
      this.resumeAudio();
      return this.engineReady;
    }
    if (!this.canRunEngine) return Promise.reject(new Error('this browser cannot run the audio engine'));
    // A context made in this gesture starts by itself; one the page rested must be resumed.
    const rested = this.audio.created;
    let engine;
    try {
      engine = this.createEngine(this.audio.context());
    } catch (error) {
      this.onEngineFailure(error);
      return Promise.reject(error);
    }
    this.engine = engine;
    engine.onError = (error) => {
      if (engine === this.engine) this.onEngineFailure(error);
    };
    this.engineReady = engine.start().then((info) => {
      if (engine === this.engine) {
        engine.setActive(this.visible);
        this.engineStarted(engine, info);
        this.watchGuard();
      }
      return info;
    });
    this.engineReady.catch((error) => {
      if (engine === this.engine) this.onEngineFailure(error);
    });
    if (rested) this.resumeAudio();
    return this.engineReady;
  }

  // The core's output guard (core/include/timbrel/dsp/output_guard.h): when a
  // model's output stays non-finite or far too loud, the kernel mutes it and
  // the panel says so until another model plays. Polled 4 times a second.
  watchGuard() {
    clearInterval(this.guardTimer);
    this.guardTimer = setInterval(() => this.showGuard(this.engine?.guardState ?? GUARD_STATE.CLEAN), 250);
  }

  showGuard(state) {
    if (state === this.guardShown) return;
    this.guardShown = state;
    if (state === GUARD_STATE.MUTED) {
      this.engineStatus?.set('model-guard', {
        kind: 'error',
        title: 'The model produced invalid output; muted.',
        text: 'Its sound was not a number or far too loud (above +12 dBFS), so it was silenced to protect your ears and speakers. Choose another instrument or model to play again.',
        sticky: true,
      });
    } else {
      this.engineStatus?.clear('model-guard');
    }
  }

  onEngineFailure(error) {
    const { title, text } = this.describeEngineFailure(error);
    this.engineStatus.set('core-error', { kind: 'error', title, text, sticky: true });
    const engine = this.engine;
    this.engine = null;
    this.engineReady = null;
    this.engineLost(error);
    engine?.dispose();
  }

  // ---------- the audio device ----------

  // Only a shown panel wakes the device: a start that completes after the visitor
  // left (an engine or a model still loading) must not undo the rest deactivate() asked for.
  resumeAudio() {
    if (!this.visible) return;
    this.audio.resume().then((state) => this.onContextState(state));
  }

  // Resumes the device for sound that starts now; reports a refusal.
  async checkRunning() {
    if (!this.visible) return;
    this.onContextState(await this.audio.resume());
  }

  // Lets the device rest (the page's own suspension: no "Resume audio" prompt).
  pauseAudio() {
    this.audio.suspend();
  }

  onContextState(state) {
    const status = this.engineStatus;
    if (state === 'running' || !this.visible || !this.isPlaying || !this.audio.pausedByBrowser) {
      status?.clear('suspended');
      return;
    }
    status.set('suspended', {
      kind: 'warning',
      title: 'Audio is paused by the browser.',
      text: 'Browsers pause sound until you interact with the page. Press Resume audio to continue.',
      action: { id: `${this.name}-resume-button`, label: 'Resume audio', onClick: () => this.checkRunning() },
    });
  }

  // ---------- shown and left ----------

  activate() {
    this.visible = true;
    this.engine?.setActive(true);
  }

  // Left: its sound stops, its engine rests and the device may rest too.
  deactivate() {
    this.visible = false;
    if (this.mode !== 'idle') this.stop();
    this.engine?.setActive(false);
    this.engineStatus?.clear('suspended');
    this.pauseAudio();
  }

  stop() {}

  // ---------- downloads and animation ----------

  // Points `link` at a blob named `filename` ("Download WAV (12 kB)" by default);
  // its previous object URL is revoked.
  offerDownload(link, blob, filename, text = null) {
    const previous = this.downloads.get(link);
    if (previous) URL.revokeObjectURL(previous);
    const url = URL.createObjectURL(blob);
    this.downloads.set(link, url);
    link.href = url;
    link.download = filename;
    if (text !== null) link.textContent = text;
    return url;
  }

  // Runs step() on every animation frame while it returns true.
  animate(step) {
    if (this.frame) return;
    const tick = () => {
      this.frame = 0;
      if (step()) this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  stopAnimation() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  dispose() {
    for (const [element, type, handler, options] of this.handlers) element.removeEventListener(type, handler, options);
    this.handlers = [];
    this.stopAnimation();
    clearInterval(this.guardTimer);
    for (const url of this.downloads.values()) URL.revokeObjectURL(url);
    this.downloads.clear();
    this.unlistenAudio();
    this.engine?.dispose();
    this.engine = null;
    this.engineReady = null;
  }
}
