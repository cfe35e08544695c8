// The base of panels whose engine listens to an input (Listen, Voice): one
// source at a time (the microphone, the example clip or a visitor's file)
// connected to the engine's input, started from a click.
//
// startSource(mode, open, describeError) is the one start-up path: the engine
// starts inside the click, open(context) makes the source (getUserMedia, a
// decode), a click that came later wins (stale starts are dropped), a failure
// is said in words (describeError) and leaves the source that played before.
// Subclasses implement showSourceMode() and may extend sourceStarted() and stop().

import { isEngineFailure } from '../audio/engine.js';
import { MicInput, describeMicError } from '../audio/microphone.js';
import { Panel, sentence } from './panel.js';

export const MIC_MESSAGES = ['mic-denied', 'mic-missing', 'mic-busy', 'mic-unsupported', 'mic-error', 'mic-ended'];

export class InputPanel extends Panel {
  constructor(root, options) {
    super(root, options);
    this.source = null; // {node, dispose(), label?}
    this.sourceMode = 'idle'; // idle | starting | mic | example | file
    this.starting = null; // the mode being started
    this.operation = 0; // bumps on every start/stop; stale async steps give up
  }

  get isPlaying() {
    return this.sourceMode !== 'idle';
  }

  setMode(mode, starting = null) {
    this.sourceMode = mode;
    this.starting = starting;
    this.root.dataset.mode = mode;
    this.showSourceMode();
  }

  // Buttons and labels for this.sourceMode.
  showSourceMode() {}

  // Resolves the source, or null when it failed (said in the status) or a later click won.
  async startSource(mode, open, describeError) {
    const op = ++this.operation;
    const ready = this.ensureEngine(); // inside the click
    const previousMode = this.sourceMode;
    this.setMode('starting', mode);
    let source;
    try {
      await ready;
      source = await open(this.engine.context);
    } catch (error) {
      if (op !== this.operation) return null;
      if (isEngineFailure(error)) return null; // reported by the panel base
      const { key, title, text } = describeError(error);
      this.status.set(key, { kind: 'error', title, text });
      this.setMode(this.source ? previousMode : 'idle');
      if (!this.source) this.pauseAudio();
      return null;
    }
    if (op !== this.operation) {
      source.dispose();
      return null;
    }
    this.disposeSource();
    this.source = source;
    source.node.connect(this.engine.input);
    source.start?.(); // a clip starts once connected
    this.setMode(mode);
    this.sourceStarted(source, mode);
    await this.checkRunning();
    return source;
  }

  // A source is connected and playing into the engine.
  sourceStarted() {}

  // The microphone; it stopping by itself (unplugged, revoked) is said.
  async startMicrophone() {
    for (const key of MIC_MESSAGES) this.status.clear(key);
    const mic = await this.startSource('mic', (context) => MicInput.open(context), describeMicError);
    if (!mic) return;
    mic.onEnded = () => {
      if (this.source !== mic) return;
      this.status.set('mic-ended', { kind: 'warning', title: 'The microphone stopped.', text: 'It may have been unplugged or its permission revoked. Press Start microphone to try again.' });
      this.stop();
    };
  }

  // {key, title, text} for a clip that could not be played.
  static clipError(key, title) {
    return (error) => ({ key, title: error?.title ?? title, text: error?.title ? error.text : sentence(error) });
  }

  disposeSource() {
    if (this.source) {
      this.source.dispose();
      this.source = null;
    }
  }

  // Stops the input; the device rests.
  stop() {
    this.operation++;
    this.disposeSource();
    this.pauseAudio();
    this.status.clear('suspended');
    this.setMode('idle');
  }

  dispose() {
    this.operation++;
    this.disposeSource();
    super.dispose();
  }
}
