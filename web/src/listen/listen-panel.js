// The "Listen" panel: start/stop the microphone or the example clip, route it through
// the analyser engine, and show what it measures (readouts + spectrogram).

import { CoreError } from '../audio/engine.js';
import { ExamplePlayer, loadExample } from '../audio/example-clip.js';
import { InputPanel } from '../ui/input-panel.js';
import { StatusArea } from '../ui/status.js';
import { FIELD } from '../worklet/frame-ring.js';
import { ListenEngine } from './listen-engine.js';
import { Readouts } from './readouts.js';
import { Spectrogram } from './spectrogram.js';

export class ListenPanel extends InputPanel {
  constructor(root, { audio, capabilities }) {
    super(root, { audio, capabilities, name: 'listen' });
    const $ = (id) => this.$(id);
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

    this.on(this.el.start, 'click', () => this.startMicrophone());
    this.on(this.el.example, 'click', () => this.playExample());
    this.on(this.el.stop, 'click', () => this.stop());
    this.on(this.el.monitor, 'change', () => this.applyMonitor());
    this.showProblems(this.status);
    this.updateButtons();
  }

  get monitorOn() {
    return this.el.monitor.checked;
  }

  showSourceMode() {
    this.updateButtons();
  }

  updateButtons() {
    const { start, example, stop, source } = this.el;
    const canRun = this.caps.canRun;
    start.disabled = !canRun || !this.caps.microphone || this.sourceMode === 'mic' || this.sourceMode === 'starting';
    example.disabled = !canRun || this.sourceMode === 'starting';
    stop.disabled = this.sourceMode === 'idle';
    start.setAttribute('aria-pressed', String(this.sourceMode === 'mic'));
    example.setAttribute('aria-pressed', String(this.sourceMode === 'example'));
    const starting = this.sourceMode === 'starting' ? this.starting : null;
    start.querySelector('span').textContent =
      this.sourceMode === 'mic' ? 'Listening…' : starting === 'mic' ? 'Starting…' : 'Start microphone';
    example.querySelector('span').textContent =
      this.sourceMode === 'example' ? 'Restart example' : starting === 'example' ? 'Loading…' : 'Play example';
    const label = { idle: 'none', starting: 'starting…', mic: this.source?.label ?? 'microphone', example: 'example clip' }[this.sourceMode];
    source.textContent = label;
    source.dataset.source = this.sourceMode;
  }

  createEngine(context) {
    return new ListenEngine(context, { monitorGain: this.monitorOn ? 1 : 0 }).toDestination();
  }

  engineStarted(engine, info) {
    super.engineStarted(engine, info);
    this.showEngineInfo(info);
    this.applyMonitor();
    this.startFrameLoop();
  }

  engineLost() {
    this.disposeSource();
    this.stopFrameLoop();
    this.readouts.showIdle();
    this.setMode('idle');
  }

  describeEngineFailure(error) {
    const message = super.describeEngineFailure(error);
    return error instanceof CoreError ? { ...message, title: 'The analyser cannot run on this audio device.' } : message;
  }

  startMicrophone() {
    this.status.clear('finished');
    return super.startMicrophone();
  }

  async playExample() {
    this.status.clear('finished');
    this.status.clear('example-error');
    const player = await this.startSource(
      'example',
      async (context) => new ExamplePlayer(context, await loadExample(context), { direct: !this.monitorOn }),
      InputPanel.clipError('example-error', 'The example clip could not be played.'),
    );
    if (!player) return;
    player.onEnded = () => {
      if (this.source !== player) return;
      this.stop();
      this.status.set('finished', { kind: 'info', title: 'The example has finished.', text: 'Play it again, or press Start microphone to try your own voice.' });
    };
  }

  sourceStarted() {
    this.readouts.reset();
    this.el.empty.hidden = true;
  }

  stop() {
    super.stop();
    this.readouts.showIdle();
  }

  applyMonitor() {
    const on = this.monitorOn;
    this.engine?.setMonitorGain(on ? 1 : 0);
    if (this.source instanceof ExamplePlayer) this.source.setDirectSound(!on);
  }

  showEngineInfo(info) {
    const { analysisRate, latency, seconds } = this.el;
    analysisRate.textContent = `${(info.modelRate / 1000).toFixed(2)} kHz · ${info.frameRateHz.toFixed(1)} frames/s`;
    analysisRate.dataset.hz = String(info.modelRate);
    const ms = this.engine.latencyMs;
    latency.textContent = `${ms.toFixed(1)} ms`;
    latency.dataset.ms = ms.toFixed(2);
    latency.title = `resampling round trip ${((info.latencySamples / info.sampleRate) * 1000).toFixed(1)} ms + output device ${((this.engine.context.baseLatency || 0) * 1000).toFixed(1)} ms`;
    this.spectrogram.configure({ frameRateHz: info.frameRateHz, nyquistHz: info.modelRate / 2 });
    seconds.textContent = String(Math.round(this.spectrogram.secondsShown));
  }

  // Frames from the ring to the readouts and the spectrogram, every animation frame.
  startFrameLoop() {
    const onFrame = (frame, spectrum) => {
      this.readouts.push(frame);
      const voiced = frame[FIELD.VOICED] >= 0.5;
      this.spectrogram.pushFrame(spectrum, voiced ? frame[FIELD.F0_HZ] : NaN, frame[FIELD.RMS_DB] > -70 ? frame[FIELD.CENTROID_HZ] : NaN);
    };
    this.animate(() => {
      const reader = this.engine?.reader;
      if (!reader) return false;
      reader.read(onFrame);
      if (this.isPlaying && this.sourceMode !== 'starting') this.readouts.render(performance.now());
      this.spectrogram.render();
      return true;
    });
  }

  stopFrameLoop() {
    this.stopAnimation();
  }

  dispose() {
    this.stopFrameLoop();
    super.dispose();
    this.spectrogram.dispose();
    this.readouts.dispose();
    this.status.dispose();
  }
}
