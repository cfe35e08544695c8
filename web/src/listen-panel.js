// The "Listen" panel: start/stop the microphone or the example clip, route it through
// the analyser engine, and show what it measures (readouts + spectrogram).

import { AnalyzerEngine, CoreError } from './audio-engine.js';
import { MicInput, describeMicError } from './mic-input.js';
import { ExamplePlayer, loadExample } from './example-clip.js';
import { Readouts } from './readouts.js';
import { Spectrogram } from './spectrogram.js';
import { StatusArea } from './status.js';
import { FIELD } from './worklet/frame-ring.js';

const MIC_MESSAGES = ['mic-denied', 'mic-missing', 'mic-busy', 'mic-unsupported', 'mic-error'];

export class ListenPanel {
  constructor(root, capabilities) {
    const $ = (id) => root.querySelector(`#${id}`);
    this.root = root;
    this.caps = capabilities;
    this.el = {
      start: $('start-button'),
      example: $('example-button'),
      stop: $('stop-button'),
      monitor: $('monitor-toggle'),
      sampleRate: $('sample-rate'),
      analysisRate: $('analysis-rate'),
      latency: $('latency-value'),
      source: $('source-value'),
      empty: $('spectrogram-empty'),
      seconds: $('spectrogram-seconds'),
    };
    this.status = new StatusArea($('status'));
    this.readouts = new Readouts(root.ownerDocument);
    this.spectrogram = new Spectrogram($('spectrogram'));
    this.engine = null;
    this.engineReady = null; // Promise of the engine's info
    this.source = null; // MicInput | ExamplePlayer
    this.mode = 'idle'; // idle | starting | mic | example
    this.operation = 0; // bumps on every start/stop; stale async steps give up
    this.pausedByUs = false;
    this.frameLoop = 0;

    this.onStart = () => this.startMicrophone();
    this.onExample = () => this.playExample();
    this.onStop = () => this.stop();
    this.onMonitor = () => this.applyMonitor();
    this.el.start.addEventListener('click', this.onStart);
    this.el.example.addEventListener('click', this.onExample);
    this.el.stop.addEventListener('click', this.onStop);
    this.el.monitor.addEventListener('change', this.onMonitor);

    for (const problem of capabilities.problems) {
      this.status.set(problem.key, { kind: problem.fatal ? 'error' : 'warning', title: problem.title, text: problem.text });
    }
    this.updateButtons();
  }

  get monitorOn() {
    return this.el.monitor.checked;
  }

  // mode: idle | starting | mic | example; starting: which source is being started.
  setMode(mode, starting = null) {
    this.mode = mode;
    this.starting = starting;
    this.root.dataset.mode = mode;
    this.updateButtons();
  }

  updateButtons() {
    const { start, example, stop, source } = this.el;
    const canRun = this.caps.canRun;
    start.disabled = !canRun || !this.caps.microphone || this.mode === 'mic' || this.mode === 'starting';
    example.disabled = !canRun || this.mode === 'starting';
    stop.disabled = this.mode === 'idle';
    start.setAttribute('aria-pressed', String(this.mode === 'mic'));
    example.setAttribute('aria-pressed', String(this.mode === 'example'));
    const starting = this.mode === 'starting' ? this.starting : null;
    start.querySelector('span').textContent =
      this.mode === 'mic' ? 'Listening…' : starting === 'mic' ? 'Starting…' : 'Start microphone';
    example.querySelector('span').textContent =
      this.mode === 'example' ? 'Restart example' : starting === 'example' ? 'Loading…' : 'Play example';
    const label = { idle: 'none', starting: 'starting…', mic: this.source?.label ?? 'microphone', example: 'example clip' }[this.mode];
    source.textContent = label;
    source.dataset.source = this.mode;
  }

  // Called synchronously from a click: the AudioContext is created inside the gesture.
  ensureEngine() {
    if (this.engine) {
      if (this.engine.state !== 'running') this.engine.resume().catch(() => {});
      return this.engineReady;
    }
    const engine = new AnalyzerEngine(this.caps.AudioContextClass);
    this.engine = engine;
    engine.onStateChange = (state) => this.onContextState(state);
    engine.onCoreError = (error) => this.onEngineFailure(error);
    this.engineReady = engine.init().then((info) => {
      this.showEngineInfo(info);
      this.applyMonitor();
      this.startFrameLoop();
      return info;
    });
    this.engineReady.catch(() => {});
    return this.engineReady;
  }

  async startMicrophone() {
    const op = ++this.operation;
    for (const key of MIC_MESSAGES) this.status.clear(key);
    this.status.clear('finished');
    const ready = this.ensureEngine();
    const previousMode = this.mode;
    this.setMode('starting', 'mic');
    try {
      await ready;
    } catch (error) {
      if (op === this.operation) this.onEngineFailure(error);
      return;
    }
    let mic;
    try {
      mic = await MicInput.open(this.engine.context);
    } catch (error) {
      if (op !== this.operation) return;
      const message = describeMicError(error);
      this.status.set(message.key, { kind: 'error', title: message.title, text: message.text });
      this.setMode(this.source ? previousMode : 'idle');
      if (!this.source) this.pause();
      return;
    }
    if (op !== this.operation) {
      mic.dispose();
      return;
    }
    this.useSource(mic, 'mic');
    mic.onEnded = () => {
      if (this.source !== mic) return;
      this.status.set('mic-ended', { kind: 'warning', title: 'The microphone stopped.', text: 'It may have been unplugged or its permission revoked. Press Start microphone to try again.' });
      this.stop();
    };
    this.status.clear('mic-ended');
    await this.checkRunning();
  }

  async playExample() {
    const op = ++this.operation;
    this.status.clear('finished');
    this.status.clear('example-error');
    const ready = this.ensureEngine();
    const previousMode = this.mode;
    this.setMode('starting', 'example');
    let buffer;
    try {
      await ready;
      buffer = await loadExample(this.engine.context);
    } catch (error) {
      if (op !== this.operation) return;
      if (error instanceof CoreError || error.name === 'EngineLoadError') {
        this.onEngineFailure(error);
      } else {
        this.status.set('example-error', { kind: 'error', title: 'The example clip could not be played.', text: String(error?.message || error) });
        this.setMode(this.source ? previousMode : 'idle');
      }
      return;
    }
    if (op !== this.operation) return;
    const player = new ExamplePlayer(this.engine.context, buffer, { direct: !this.monitorOn });
    this.useSource(player, 'example');
    player.onEnded = () => {
      if (this.source !== player) return;
      this.stop();
      this.status.set('finished', { kind: 'info', title: 'The example has finished.', text: 'Play it again, or press Start microphone to try your own voice.' });
    };
    player.start();
    await this.checkRunning();
  }

  useSource(source, mode) {
    this.disposeSource();
    this.source = source;
    this.engine.connectSource(source.node);
    this.readouts.reset();
    this.el.empty.hidden = true;
    this.setMode(mode);
  }

  disposeSource() {
    if (this.source) {
      this.source.dispose();
      this.source = null;
    }
  }

  stop() {
    this.operation++;
    this.disposeSource();
    this.pause();
    this.readouts.showIdle();
    this.status.clear('suspended');
    this.setMode('idle');
  }

  pause() {
    if (this.engine && this.engine.state === 'running') {
      this.pausedByUs = true;
      this.engine.suspend().catch(() => {});
    }
  }

  async checkRunning() {
    if (!this.engine) return;
    this.pausedByUs = false;
    if (this.engine.state !== 'running') {
      try {
        await this.engine.resume();
      } catch {
        // reported below
      }
    }
    this.onContextState(this.engine?.state);
  }

  onContextState(state) {
    if (state === 'running') {
      this.pausedByUs = false;
      this.status.clear('suspended');
      return;
    }
    if (state === 'closed' || this.pausedByUs || this.mode === 'idle') return;
    this.status.set('suspended', {
      kind: 'warning',
      title: 'Audio is paused by the browser.',
      text: 'Browsers pause sound until you interact with the page. Press Resume audio to continue.',
      action: {
        id: 'resume-button',
        label: 'Resume audio',
        onClick: () => this.engine?.resume().then(() => this.onContextState(this.engine?.state)).catch(() => {}),
      },
    });
  }

  onEngineFailure(error) {
    if (error instanceof CoreError) {
      const rate = error.sampleRate ?? this.engine?.sampleRate;
      this.status.set('core-error', {
        kind: 'error',
        title: 'The analyser cannot run on this audio device.',
        text: `${error.message}${rate ? ` (the device runs at ${rate} Hz)` : ''}. Try another audio device or set its sample rate to 44.1 or 48 kHz in your system settings, then reload the page.`,
      });
    } else {
      this.status.set('core-error', {
        kind: 'error',
        title: 'The audio engine could not start.',
        text: String(error?.message || error),
      });
    }
    const engine = this.engine;
    this.engine = null;
    this.engineReady = null;
    this.disposeSource();
    this.stopFrameLoop();
    engine?.dispose();
    this.readouts.showIdle();
    this.setMode('idle');
  }

  applyMonitor() {
    const on = this.monitorOn;
    this.engine?.setMonitorGain(on ? 1 : 0);
    if (this.source instanceof ExamplePlayer) this.source.setDirectSound(!on);
  }

  showEngineInfo(info) {
    const { sampleRate, analysisRate, latency, seconds } = this.el;
    sampleRate.textContent = `${Number((info.sampleRate / 1000).toFixed(3))} kHz`;
    sampleRate.dataset.hz = String(info.sampleRate);
    analysisRate.textContent = `${(info.modelRate / 1000).toFixed(2)} kHz · ${info.frameRateHz.toFixed(1)} frames/s`;
    analysisRate.dataset.hz = String(info.modelRate);
    const ms = this.engine.latencyMs;
    latency.textContent = `${ms.toFixed(1)} ms`;
    latency.dataset.ms = ms.toFixed(2);
    latency.title = `resampling round trip ${((info.latencySamples / info.sampleRate) * 1000).toFixed(1)} ms + output device ${((this.engine.context.baseLatency || 0) * 1000).toFixed(1)} ms`;
    this.spectrogram.configure({ frameRateHz: info.frameRateHz, nyquistHz: info.modelRate / 2 });
    seconds.textContent = String(Math.round(this.spectrogram.secondsShown));
  }

  startFrameLoop() {
    if (this.frameLoop) return;
    const onFrame = (frame, spectrum) => {
      this.readouts.push(frame);
      const voiced = frame[FIELD.VOICED] >= 0.5;
      this.spectrogram.pushFrame(spectrum, voiced ? frame[FIELD.F0_HZ] : NaN, frame[FIELD.RMS_DB] > -70 ? frame[FIELD.CENTROID_HZ] : NaN);
    };
    const tick = (now) => {
      this.frameLoop = requestAnimationFrame(tick);
      const reader = this.engine?.reader;
      if (!reader) return;
      reader.read(onFrame);
      if (this.mode === 'mic' || this.mode === 'example') this.readouts.render(now);
      this.spectrogram.render();
    };
    this.frameLoop = requestAnimationFrame(tick);
  }

  stopFrameLoop() {
    cancelAnimationFrame(this.frameLoop);
    this.frameLoop = 0;
  }

  dispose() {
    this.operation++;
    this.el.start.removeEventListener('click', this.onStart);
    this.el.example.removeEventListener('click', this.onExample);
    this.el.stop.removeEventListener('click', this.onStop);
    this.el.monitor.removeEventListener('change', this.onMonitor);
    this.disposeSource();
    this.stopFrameLoop();
    this.engine?.dispose();
    this.engine = null;
    this.spectrogram.dispose();
    this.readouts.dispose();
    this.status.dispose();
  }
}
