// The "Draw" panel: descriptor-based synthesis. A visitor picks an instrument
// and a descriptor (brightness, pitch, loudness, bandwidth), draws a curve of
// it over 2-10 s (plus a volume curve), and hears the instrument follow it:
// for every hop the codebook's nearest sound is chosen (the C++ DrawKernel).
//
//   Render: a Web Worker (DrawRenderer) renders in chunks with progress and
//           measures the descriptor on the audio; the measured curve is drawn
//           over the target, with Pearson r and the mean distance.
//   Play:   the rendered audio through the AudioContext; Download WAV.
//   Loop:   the worklet (DrawEngine) loops the drawing; a redrawn curve is
//           committed at once and heard from the next pass; every pass is
//           measured too.
//   Map:    the codebook in 2D, coloured by the descriptor; hover or click a
//           dot to hear that code (through the worklet).

import { CoreError, isEngineFailure } from '../audio/engine.js';
import { CodebookMap } from './codebook-map.js';
import { CurveEditor } from './curve-editor.js';
import { DrawEngine } from './draw-engine.js';
import {
  COLOUR_GRADIENT,
  DESCRIPTORS,
  HOP_SECONDS,
  MODEL_RATE,
  ValueScale,
  compareMeasured,
  formatValue,
  gainCurve,
  hopsFor,
  noteName,
  presetCurve,
  resampleCurve,
} from './draw-curves.js';
import { DrawRenderer } from './draw-renderer.js';
import { ModelCatalog } from '../audio/model-catalog.js';
import { ModelPicker, formatBytes, modelErrorMessage } from '../ui/model-picker.js';
import { StatusArea } from '../ui/status.js';
import { encodeWav, float32Base64 } from '../audio/wav.js';
import { Panel } from '../ui/panel.js';
import { DRAW_STATE } from '../worklet/draw-status.js';

const CLICK_PLAY_MS = 1400; // a clicked code sounds this long
const AUTO_RENDER_MS = 250; // after an edit, once a render exists
const LOOP_COMMIT_MS = 120; // keyboard nudges while looping, coalesced
const PASS_HISTORY = 12;

const title = (text) => text.replace(/[_-]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

// 22050 Hz copy of audio at another rate (the measurement's rate).
async function toModelRate(audio, rate) {
  if (rate === MODEL_RATE) return audio;
  const Offline = globalThis.OfflineAudioContext ?? globalThis.webkitOfflineAudioContext;
  const length = Math.max(1, Math.round((audio.length * MODEL_RATE) / rate));
  const offline = new Offline(1, length, MODEL_RATE);
  const buffer = offline.createBuffer(1, audio.length, rate);
  buffer.copyToChannel(audio, 0);
  const source = offline.createBufferSource();
  source.buffer = buffer;
  source.connect(offline.destination);
  source.start();
  const out = await offline.startRendering();
  return out.getChannelData(0).slice();
}

export class DrawPanel extends Panel {
  constructor(root, { audio, capabilities, catalog = new ModelCatalog(), renderer = new DrawRenderer() }) {
    super(root, { audio, capabilities, name: 'draw' });
    const $ = (id) => this.$(id);
    this.el = {
      descriptorHint: $('draw-descriptor-hint'),
      descriptors: [...root.querySelectorAll('input[name="draw-descriptor"]')],
      duration: $('draw-duration'),
      durationValue: $('draw-duration-value'),
      curveName: $('draw-curve-name'),
      canvas: $('draw-canvas'),
      gain: $('draw-gain'),
      announce: $('draw-announce'),
      legendMeasured: $('draw-legend-measured'),
      legendMeasuredText: $('draw-legend-measured-text'),
      legendPlayhead: $('draw-legend-playhead'),
      legendReference: $('draw-legend-reference'),
      rangeNote: $('draw-range-note'),
      render: $('draw-render-button'),
      play: $('draw-play-button'),
      loop: $('draw-loop-button'),
      stop: $('draw-stop-button'),
      progress: $('draw-progress'),
      progressValue: $('draw-progress-value'),
      results: $('draw-results'),
      r: $('draw-r'),
      mae: $('draw-mae'),
      resultsNote: $('draw-results-note'),
      downloadRow: $('draw-download-row'),
      download: $('draw-download'),
      map: $('draw-map'),
      mapAnnounce: $('draw-map-announce'),
      mapMin: $('draw-map-min'),
      mapMax: $('draw-map-max'),
      mapBar: $('draw-map-bar'),
      mapColourName: $('draw-map-colour-name'),
      model: $('draw-model-value'),
      codes: $('draw-codes-value'),
      renderTime: $('draw-render-time'),
      sampleRate: $('draw-sample-rate'),
    };
    this.status = new StatusArea($('draw-status')); // models, the Worker
    this.audioStatus = new StatusArea($('draw-audio-status')); // sound: beside the buttons that make it
    this.catalog = catalog;
    this.renderer = renderer;
    // Only models with a codebook can be drawn (the no-VQ baseline has none).
    this.picker = new ModelPicker(root, catalog, {
      idPrefix: 'draw-', radioName: 'draw-model', include: (entry) => entry.quantized !== false,
    });

    this.descriptor = 'centroid';
    this.seconds = Number(this.el.duration.value) || 4;
    this.preset = { name: 'rise', seed: 1 };
    this.gainPreset = 'full';
    this.randomSeed = 0;
    this.model = null; // {entry, info, table, map, ranges, codes, bytes}
    this.wanted = null;
    this.modelQueue = Promise.resolve();
    this.rendered = null; // the last finished render
    this.renderJob = 0;
    this.renderPromise = null;
    this.edited = 0; // bumps on every change of the curves
    this.renderedEdit = -1;
    this.version = 0; // curve versions sent to the worklet
    this.versions = new Map(); // version -> {descriptor, target (units), gain}
    this.passResults = [];
    this.playing = 'idle'; // idle | render | loop | code
    this.codeTimer = 0;
    this.hoverCode = -1;
    this.autoTimer = 0;
    this.loopTimer = 0;
    this.ready = null;

    const hops = hopsFor(this.seconds);
    const placeholder = new ValueScale(0, 1, { unit: '' });
    this.editor = new CurveEditor(this.el.canvas, {
      scale: placeholder,
      seconds: this.seconds,
      values: presetCurve('rise', hops),
      label: 'Brightness curve',
      announce: this.el.announce,
      hint: 'Draw here: press and drag across the box',
    });
    this.gainEditor = new CurveEditor(this.el.gain, {
      scale: new ValueScale(0, 1, { unit: '%' }),
      seconds: this.seconds,
      values: gainCurve('full', hops),
      label: 'Volume curve',
      compact: true,
      announce: this.el.announce,
      colour: '--plot-gain',
    });
    this.editor.alignWith(this.gainEditor);
    this.editor.onChange = () => {
      this.preset = null;
      this.curvesChanged();
    };
    this.gainEditor.onChange = () => {
      this.gainPreset = null;
      this.curvesChanged();
    };
    this.map = new CodebookMap(this.el.map, { announce: this.el.mapAnnounce });
    this.map.onPlay = (code, how) => this.playCode(code, how);
    this.map.onStop = (how) => this.stopCode(how);
    this.el.mapBar.style.background = COLOUR_GRADIENT;

    this.picker.onChoose = (entry) => this.chooseModel(entry);
    this.picker.onFileError = (error, file) => this.status.set('model-error', modelErrorMessage({ source: 'file', file: file?.name ?? 'The file' }, error,
      this.model ? `${title(this.model.entry.instrument)} stays loaded.` : ''));

    const on = (element, type, handler) => this.on(element, type, handler);
    for (const input of this.el.descriptors) on(input, 'change', () => this.setDescriptor(input.value));
    on(this.el.duration, 'input', () => this.setSeconds(Number(this.el.duration.value)));
    for (const button of root.querySelectorAll('[data-preset]')) on(button, 'click', () => this.applyPreset(button.dataset.preset));
    for (const button of root.querySelectorAll('[data-gain]')) on(button, 'click', () => this.applyGainPreset(button.dataset.gain));
    on(this.el.render, 'click', () => this.render());
    on(this.el.play, 'click', () => this.playRender());
    on(this.el.loop, 'click', () => this.toggleLoop());
    on(this.el.stop, 'click', () => this.stop());

    this.showProblems(this.status, { skip: ['no-getusermedia'] }); // drawing needs no microphone
    this.showDescriptor();
    this.updateButtons();
  }

  // The panel is shown: fetch the instrument list (once) and start the Worker.
  activate() {
    super.activate();
    if (!this.ready) {
      this.renderer.start().catch((error) => this.onRendererFailure(error));
      this.ready = this.picker.load().then((entries) => {
        if (!entries.length) {
          this.status.set('no-models', {
            kind: 'warning',
            title: 'No instruments are installed.',
            text: 'Drawing needs an instrument model. Train one with the scripts (see models/README.md), or load a .tmbl model file in step 1.',
          });
        }
        if (entries.length && !this.wanted) this.chooseModel(entries[0]);
        return entries;
      });
    }
    return this.ready;
  }

  get mode() {
    return this.playing;
  }

  get isPlaying() {
    return this.playing !== 'idle';
  }

  // Sound problems show beside the buttons that make sound.
  get engineStatus() {
    return this.audioStatus;
  }

  // ---------- descriptor, length, presets ----------

  get d() {
    return DESCRIPTORS[this.descriptor];
  }

  get hops() {
    return hopsFor(this.seconds);
  }

  // The y-axis of a descriptor for the loaded model (real units).
  scaleFor(descriptor) {
    const d = DESCRIPTORS[descriptor];
    const range = this.model?.ranges?.[descriptor];
    if (range && Number.isFinite(range.min) && range.max > range.min) {
      return new ValueScale(d.log ? Math.max(range.min, 20) : range.min, range.max, { log: d.log, unit: d.unit });
    }
    // No model yet: a plausible axis, replaced once one loads.
    const fallback = { centroid: [500, 4000], f0: [60, 1500], loudness: [-80, -20], bandwidth: [500, 4000] }[descriptor];
    return new ValueScale(fallback[0], fallback[1], { log: d.log, unit: d.unit });
  }

  // Where presets sit on the axis: pitch keeps to the instrument's comfortable range.
  presetRange(scale) {
    if (this.descriptor === 'f0') {
      const range = this.model?.info?.f0_range_hz ?? this.model?.entry?.f0RangeHz;
      if (Array.isArray(range) && range[0] > 0 && range[1] > range[0]) {
        const low = Math.max(0.02, scale.toShape(range[0]));
        const high = Math.min(0.98, scale.toShape(range[1]));
        if (high > low) return { low, high };
      }
    }
    return { low: 0.1, high: 0.9 };
  }

  presetValues(name, seed) {
    const scale = this.editor.scale;
    const { low, high } = this.presetRange(scale);
    const options = { low, high, seed };
    if (name === 'vibrato' && this.descriptor === 'f0') {
      // A singer's vibrato: 5.5 Hz, a semitone either way.
      const semitone = scale.log ? Math.log(2 ** (1 / 12)) / Math.log(scale.max / scale.min) : 0.01;
      Object.assign(options, { rate: 5.5, depth: semitone });
    } else if (name === 'vibrato') {
      Object.assign(options, { rate: 1.5 });
    }
    return presetCurve(name, this.hops, options);
  }

  applyPreset(name) {
    if (name === 'random') this.randomSeed += 1;
    this.preset = { name, seed: name === 'random' ? this.randomSeed : 1 };
    this.editor.setValues(this.presetValues(name, this.preset.seed));
    const label = name === 'random' ? `random curve number ${this.preset.seed}` : `${name} curve`;
    this.el.announce.textContent = `${title(label)} drawn. ${this.editor.canvas.getAttribute('aria-label')}`;
    this.root.dataset.preset = name === 'random' ? `random-${this.preset.seed}` : name;
    this.curvesChanged();
  }

  applyGainPreset(name) {
    this.gainPreset = name;
    this.gainEditor.setValues(gainCurve(name, this.hops));
    this.el.announce.textContent = `Volume: ${name === 'fade' ? 'fade out' : name}.`;
    this.curvesChanged();
  }

  setDescriptor(descriptor) {
    if (!DESCRIPTORS[descriptor] || descriptor === this.descriptor) return;
    this.descriptor = descriptor;
    this.showDescriptor();
    // A preset is redrawn for the new axis; a hand-drawn shape is kept.
    if (this.preset) this.editor.setValues(this.presetValues(this.preset.name, this.preset.seed), { touched: false });
    this.clearResults();
    this.curvesChanged();
  }

  showDescriptor() {
    const d = this.d;
    const scale = this.scaleFor(this.descriptor);
    this.editor.setScale(scale, `${d.label} curve`);
    this.el.curveName.textContent = d.label.toLowerCase();
    this.el.descriptorHint.textContent = d.hint;
    this.root.dataset.descriptor = this.descriptor;
    const instrument = this.model ? title(this.model.entry.instrument) : 'the instrument';
    let note = `Axis: what ${instrument === 'the instrument' ? 'the instrument' : `the ${instrument.toLowerCase()}`} can reach, ${scale.format(scale.min)} to ${scale.format(scale.max)}`;
    if (this.descriptor === 'f0') note += ` (${noteName(scale.min)} to ${noteName(scale.max)})`;
    note += '.';
    const range = this.model?.ranges?.[this.descriptor];
    const narrow = range && (d.unit === 'dB' ? range.max - range.min < 1 : range.max - range.min < 0.03 * Math.abs(range.max));
    if (narrow) note += ` Its sounds barely differ in ${d.label.toLowerCase()}: drawing it changes little.`;
    this.el.rangeNote.textContent = this.model ? note : '';
    this.el.rangeNote.dataset.narrow = String(!!narrow);
    this.showMapColours();
  }

  setSeconds(seconds) {
    if (!(seconds >= 2 && seconds <= 10) || seconds === this.seconds) return;
    this.seconds = seconds;
    this.el.durationValue.textContent = `${Number(seconds.toFixed(1))} s`;
    const hops = this.hops;
    this.editor.setSeconds(seconds);
    this.gainEditor.setSeconds(seconds);
    if (this.preset) this.editor.setValues(this.presetValues(this.preset.name, this.preset.seed), { touched: this.editor.touched });
    else this.editor.setValues(resampleCurve(this.editor.values, hops));
    this.gainEditor.setValues(this.gainPreset ? gainCurve(this.gainPreset, hops) : resampleCurve(this.gainEditor.values, hops), { touched: false });
    this.clearResults();
    this.curvesChanged();
  }

  // ---------- the curves changed: render again, tell the loop ----------

  // A drawn loudness is heard with the volume curve's level added: shown dashed.
  showReference() {
    let reference = null;
    if (this.descriptor === 'loudness' && this.gainEditor.values.some((g) => Math.abs(g - 1) > 0.01)) {
      const target = this.editor.unitValues();
      const gain = this.gainEditor.values;
      reference = target.map((v, i) => v + 20 * Math.log10(Math.max(gain[Math.min(i, gain.length - 1)], 1e-4)));
    }
    this.editor.setReference(reference);
    this.el.legendReference.hidden = !reference;
  }

  curvesChanged() {
    this.showReference();
    this.edited++;
    this.markStale();
    if (this.playing === 'loop') {
      clearTimeout(this.loopTimer);
      this.loopTimer = setTimeout(() => this.sendCurves().catch((error) => this.onLoopError(error)), LOOP_COMMIT_MS);
    } else if (this.rendered && this.model) {
      // Once a render exists, keep it (and the measured curve) in step with the drawing.
      clearTimeout(this.autoTimer);
      this.autoTimer = setTimeout(() => this.render(), AUTO_RENDER_MS);
    }
  }

  markStale() {
    if (this.rendered && this.renderedEdit !== this.edited) {
      this.el.progressValue.dataset.state = 'stale';
      this.el.progressValue.textContent = 'changed since the last render';
    }
  }

  currentCurves() {
    return {
      hops: this.hops,
      name: this.d.name,
      values: this.editor.unitValues(),
      gain: Float32Array.from(this.gainEditor.values),
    };
  }

  // ---------- render (Worker) ----------

  async render({ andPlay = false } = {}) {
    clearTimeout(this.autoTimer);
    if (!this.model) {
      this.audioStatus.set('no-model', { kind: 'info', title: 'No instrument is loaded yet.', text: 'Pick one in step 1 (or wait until it has loaded), then render.' });
      return null;
    }
    const job = ++this.renderJob;
    const edit = this.edited;
    const curves = this.currentCurves();
    const descriptor = this.descriptor;
    const seconds = this.seconds;
    const model = this.model;
    this.audioStatus.clear('render-error');
    this.audioStatus.clear('no-model');
    this.setProgress(0, 'running');
    this.root.dataset.render = 'running';
    let result;
    try {
      result = await this.renderer.render(curves, { onProgress: (f) => job === this.renderJob && this.setProgress(f, 'running') });
    } catch (error) {
      if (job !== this.renderJob) return null;
      this.root.dataset.render = 'error';
      this.setProgress(0, 'error', 'failed');
      this.audioStatus.set('render-error', {
        kind: 'error',
        title: 'The sound could not be rendered.',
        text: `${String(error?.message || error).replace(/\.$/, '')}. Try another curve or instrument, or reload the page.`,
      });
      return null;
    }
    if (result.cancelled || job !== this.renderJob) return null;
    const comparison = compareMeasured(result.frames, curves.values, descriptor, { gain: curves.gain });
    this.rendered = { ...result, curves, descriptor, seconds, model, comparison, edit };
    this.renderedEdit = edit;
    this.setProgress(1, edit === this.edited ? 'done' : 'stale', edit === this.edited ? '100 % · done' : 'changed since the last render');
    this.root.dataset.render = 'done';
    this.el.renderTime.textContent = `${Math.round(result.ms)} ms for ${seconds} s`;
    this.el.renderTime.dataset.ms = String(Math.round(result.ms));
    if (this.playing !== 'loop') this.showComparison(comparison, 'Measured on the rendered sound');
    this.map.setUsed(result.codes);
    this.makeDownload();
    this.updateButtons();
    if (andPlay) this.startBuffer();
    return this.rendered;
  }

  setProgress(fraction, state, text = null) {
    const pct = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
    this.el.progress.value = pct;
    this.el.progressValue.dataset.state = state;
    this.el.progressValue.dataset.percent = String(pct);
    this.el.progressValue.textContent = text ?? `${pct} %`;
  }

  showComparison(comparison, label) {
    const d = DESCRIPTORS[this.descriptor];
    this.editor.setMeasured({ times: comparison.times, values: comparison.measured });
    this.el.legendMeasured.hidden = false;
    this.el.legendMeasuredText.textContent = label;
    this.el.results.hidden = false;
    const { r, mae } = comparison;
    this.el.r.dataset.r = Number.isFinite(r) ? r.toFixed(4) : '';
    this.el.r.dataset.silent = String(comparison.silentShare ?? 0);
    this.el.mae.dataset.mae = Number.isFinite(mae) ? mae.toFixed(3) : '';
    this.el.r.textContent = Number.isFinite(r) ? `r = ${r.toFixed(2)}` : 'r: —';
    this.el.mae.textContent = Number.isFinite(mae) ? formatValue(mae, d.unit, { precise: d.unit === 'dB' }) : '—';
    let verdict;
    const silentPct = Math.round(100 * (comparison.silentShare || 0));
    if (silentPct >= 5) verdict = `${silentPct} % of the sound is silent where your curve asks for sound: those moments count as misses. Keep the curve inside the range the instrument reaches.`;
    else if (!Number.isFinite(r)) verdict = 'A flat curve has no ups and downs to compare: see the average distance instead.';
    else if (r >= 0.9) verdict = 'Very close: the sound goes up and down with your curve.';
    else if (r >= 0.6) verdict = 'Roughly: the sound follows the main moves of your curve.';
    else verdict = 'Not much: try a curve with bigger, slower moves, or another instrument.';
    this.el.resultsNote.textContent = `r (Pearson correlation) is 1 when the measured ${d.label.toLowerCase()} rises and falls exactly with your curve, 0 when it is unrelated. ${verdict}`;
  }

  clearResults() {
    this.editor.setMeasured(null);
    this.el.legendMeasured.hidden = true;
    this.el.results.hidden = true;
  }

  makeDownload() {
    if (!this.rendered) return;
    const blob = new Blob([encodeWav([this.rendered.audio], MODEL_RATE)], { type: 'audio/wav' });
    const name = this.rendered.model.entry.instrument.replace(/[^\w-]+/g, '-');
    const what = DESCRIPTORS[this.rendered.descriptor].label.toLowerCase();
    this.offerDownload(this.el.download, blob, `timbrel-draw-${name}-${what}.wav`, `Download WAV (${formatBytes(blob.size)})`);
    this.el.downloadRow.hidden = false;
  }

  // ---------- audio (AudioContext, worklet) ----------

  // The device starts with the engine, not after the model's load into the
  // worklet: a loop or a code sounds as soon as the model is in.
  ensureEngine() {
    const ready = super.ensureEngine();
    this.resumeAudio();
    return ready;
  }

  createEngine(context) {
    const engine = new DrawEngine(context).toDestination();
    engine.onPass = (pass) => this.onPass(pass);
    engine.onBufferEnded = () => {
      if (this.playing === 'render') this.setPlaying('idle');
    };
    return engine;
  }

  get renderIsCurrent() {
    return !!this.rendered && this.renderedEdit === this.edited;
  }

  startBuffer() {
    if (!this.engine?.node || !this.rendered) return;
    clearTimeout(this.codeTimer);
    this.engine.playBuffer(this.rendered.audio);
    this.setPlaying('render');
    if (this.rendered.comparison) this.showComparison(this.rendered.comparison, 'Measured on the rendered sound');
  }

  async toggleLoop() {
    if (this.playing === 'loop') {
      this.stop();
      return;
    }
    if (this.loopStarting) return;
    this.loopStarting = true;
    try {
      await this.startLoop();
    } finally {
      this.loopStarting = false;
    }
  }

  async startLoop() {
    const ready = this.ensureEngine();
    this.el.loop.setAttribute('aria-pressed', 'true');
    this.el.loop.querySelector('span').textContent = 'Starting…';
    try {
      await ready;
      await this.loadEngineModel();
      await this.sendCurves();
    } catch (error) {
      this.el.loop.setAttribute('aria-pressed', 'false');
      this.el.loop.querySelector('span').textContent = 'Loop';
      if (isEngineFailure(error)) return; // reported by the panel base
      this.onLoopError(error);
      return;
    }
    clearTimeout(this.codeTimer);
    this.passResults = [];
    this.engine.playLoop();
    this.setPlaying('loop');
    this.checkRunning();
  }

  async sendCurves() {
    if (!this.engine?.node) return;
    const curves = this.currentCurves();
    const version = ++this.version;
    this.versions.set(version, { descriptor: this.descriptor, target: curves.values, gain: curves.gain, hops: curves.hops });
    for (const key of this.versions.keys()) if (key < version - PASS_HISTORY) this.versions.delete(key);
    await this.engine.setCurves({ version, ...curves });
    this.root.dataset.loopVersion = String(version);
  }

  onLoopError(error) {
    this.audioStatus.set('loop-error', {
      kind: 'error',
      title: 'The loop could not start.',
      text: `${String(error?.message || error).replace(/\.$/, '')}.`,
    });
    if (this.playing === 'loop') this.stop();
  }

  // A looped pass ended: measure what it sounded like against the curve it played.
  async onPass({ index, version, audio, sampleRate }) {
    const curves = this.versions.get(version);
    if (!curves) return;
    try {
      const samples = await toModelRate(audio, sampleRate);
      const frames = await this.renderer.measure(samples);
      const comparison = compareMeasured(frames, curves.target, curves.descriptor, { gain: curves.gain });
      const result = { index, version, descriptor: curves.descriptor, r: comparison.r, mae: comparison.mae, times: comparison.times, measured: comparison.measured, expected: comparison.expected };
      this.passResults.push(result);
      if (this.passResults.length > PASS_HISTORY) this.passResults.shift();
      this.root.dataset.passes = String(this.passResults.length);
      if (this.playing === 'loop' && curves.descriptor === this.descriptor && curves.hops === this.hops) {
        this.showComparison(comparison, `Measured on loop round ${index + 1}`);
      }
    } catch {
      // a pass that cannot be measured (page busy, context closed) is skipped
    }
  }

  playCode(code, how) {
    if (!this.model) return;
    if (how === 'hover') {
      // Hover auditions only once sound is on, and never interrupts a loop or a render.
      if (!this.engine?.node || this.engine.state !== 'running' || this.playing === 'loop' || this.playing === 'render') return;
      if (this.engine.modelId !== this.model.entry.id) return;
      this.hoverCode = code;
      this.startCode(code, 0);
      return;
    }
    this.ensureEngine()
      .then(() => this.loadEngineModel())
      .then(() => {
        this.hoverCode = -1;
        this.startCode(code, CLICK_PLAY_MS);
        this.checkRunning();
      })
      .catch((error) => {
        if (!isEngineFailure(error)) this.onLoopError(error);
      });
  }

  startCode(code, ms) {
    clearTimeout(this.codeTimer);
    this.engine.stopBuffer();
    this.engine.playCode(code);
    this.map.setPlaying(code);
    this.setPlaying('code');
    this.root.dataset.code = String(code);
    if (ms > 0) this.codeTimer = setTimeout(() => this.stopCode('timer'), ms);
  }

  stopCode(how) {
    if (this.playing !== 'code') return;
    if (how === 'hover' && this.hoverCode < 0) return;
    this.hoverCode = -1;
    clearTimeout(this.codeTimer);
    this.engine?.stopCode();
    this.map.setPlaying(-1);
    this.setPlaying('idle');
  }

  // Stops whatever plays (also called when the visitor leaves the panel).
  stop() {
    clearTimeout(this.codeTimer);
    clearTimeout(this.loopTimer);
    this.engine?.stopAll();
    this.map.setPlaying(-1);
    this.hoverCode = -1;
    this.setPlaying('idle');
  }

  // The visitor left the panel: silence, and let the audio device rest (the
  // next Play, Loop or click on the map resumes it).
  deactivate() {
    this.stop();
    super.deactivate();
  }

  setPlaying(mode) {
    this.playing = mode;
    this.root.dataset.mode = mode;
    this.el.legendPlayhead.hidden = mode !== 'render' && mode !== 'loop';
    if (mode === 'render' || mode === 'loop') this.animatePlayhead();
    else {
      this.editor.setPlayhead(-1);
      this.audioStatus.clear('suspended');
    }
    if (mode !== 'code') this.map.setPlaying(-1);
    this.updateButtons();
  }

  animatePlayhead() {
    this.animate(() => {
      const engine = this.engine;
      if (!engine || (this.playing !== 'render' && this.playing !== 'loop')) {
        this.editor.setPlayhead(-1);
        return false;
      }
      if (this.playing === 'render') {
        this.editor.setPlayhead(engine.bufferTime);
      } else {
        this.editor.setPlayhead(engine.position * HOP_SECONDS);
        if (engine.drawState === DRAW_STATE.STOPPED && !engine.awaitingPlay && engine.status) {
          // The worklet stopped by itself (a model change): reflect it.
          this.setPlaying('idle');
          return false;
        }
      }
      return true;
    });
  }

  updateButtons() {
    const { render, play, loop, stop } = this.el;
    const ok = this.caps.canRun;
    render.disabled = !this.model;
    play.disabled = !ok || !this.model;
    loop.disabled = !ok || !this.model;
    stop.disabled = this.playing === 'idle';
    play.setAttribute('aria-pressed', String(this.playing === 'render'));
    loop.setAttribute('aria-pressed', String(this.playing === 'loop'));
    loop.querySelector('span').textContent = this.playing === 'loop' ? 'Looping…' : 'Loop';
    play.querySelector('span').textContent = this.playing === 'render' ? 'Playing…' : 'Play';
  }

  describeEngineFailure(error) {
    if (!(error instanceof CoreError)) return { title: 'The audio could not start.', text: String(error?.message || error) };
    const missing = /DrawKernel/.test(error.message);
    return {
      title: missing ? 'This build of Timbrel has no drawing engine yet.' : 'The drawing engine cannot play on this audio device.',
      text: missing
        ? `${error.message}.`
        : `${error.message}${error.sampleRate ? ` (the device runs at ${error.sampleRate} Hz)` : ''}. Rendering and downloading still work; try another audio device for Play and Loop.`,
    };
  }

  engineLost() {
    this.setPlaying('idle');
  }

  onRendererFailure(error) {
    this.status.set('worker-error', {
      kind: 'error',
      title: 'The drawing engine could not start.',
      text: `${String(error?.message || error).replace(/\.$/, '')}.`,
    });
    if (this.wanted) this.picker.setState(this.wanted, 'error');
  }

  // ---------- models ----------

  chooseModel(entry) {
    this.wanted = entry;
    this.status.clear('model-error');
    this.status.clear('no-models');
    this.picker.setState(entry, 'loading');
    this.modelQueue = this.modelQueue.then(() => this.loadModel(entry));
    return this.modelQueue;
  }

  async loadModel(entry) {
    if (this.wanted !== entry) return;
    const name = title(entry.instrument);
    let result;
    let bytes;
    try {
      bytes = await this.catalog.fetchBytes(entry);
      result = await this.renderer.load(bytes, {
        onAnalysing: () => this.status.set('analysing', {
          kind: 'info',
          title: `Measuring the ${name.toLowerCase()}’s sounds…`,
          text: 'This model file has no descriptor table, so Timbrel listens to every sound of its codebook once and measures it (a few seconds).',
        }),
      });
    } catch (error) {
      this.status.clear('analysing');
      if (this.wanted === entry) this.modelFailed(entry, error);
      return;
    }
    this.status.clear('analysing');
    if (result.analyseMs > 0) {
      this.status.set('analysed', {
        kind: 'success',
        title: `The ${name.toLowerCase()}’s ${result.codes} sounds were measured in ${(result.analyseMs / 1000).toFixed(1)} s.`,
        text: 'Add the table to the file once to skip this: PYTHONPATH=scripts python3 -m timbrel.export.code_table FILE.tmbl',
      });
    } else {
      this.status.clear('analysed');
    }
    if (this.wanted !== entry) return;
    this.model = {
      entry,
      info: result.info,
      table: result.table,
      map: result.map,
      ranges: result.ranges,
      codes: result.codes,
      bytes: result.patched ?? bytes,
    };
    this.picker.setState(entry, 'playing');
    this.root.dataset.model = entry.id;
    this.el.model.textContent = `${name}${entry.sizeBytes ? ` (${formatBytes(entry.sizeBytes)})` : ''}`;
    this.el.model.dataset.model = entry.id;
    this.el.codes.textContent = `${result.codes} sounds`;
    this.audioStatus.clear('no-model');
    const hadRender = !!this.rendered;
    this.rendered = null;
    this.renderedEdit = -1;
    this.clearResults();
    this.el.downloadRow.hidden = true;
    this.setProgress(0, 'idle', 'not rendered yet');
    this.showDescriptor();
    if (this.preset) this.editor.setValues(this.presetValues(this.preset.name, this.preset.seed), { touched: this.editor.touched });
    this.updateButtons();
    // A visitor comparing instruments hears (and sees) the same drawing on the new one.
    if (hadRender && this.playing !== 'loop') this.render();
    // The loop (if any) switches to the new instrument.
    if (this.engine?.node) {
      const wasLooping = this.playing === 'loop';
      if (wasLooping || this.playing === 'code') this.stop();
      this.loadEngineModel()
        .then(async () => {
          if (wasLooping) await this.toggleLoop();
        })
        .catch((error) => this.onLoopError(error));
    }
  }

  modelFailed(entry, error) {
    const keeping = this.model ? `${title(this.model.entry.instrument)} stays loaded.` : '';
    this.wanted = this.picker.refuse(entry, error, { status: this.status, current: this.model?.entry, keeping }) ?? this.wanted;
  }

  // ---------- the codebook map ----------

  showMapColours() {
    const model = this.model;
    if (!model) return;
    // Pitch chooses no sound (it drives the note), so the map shows brightness then.
    const colourBy = this.descriptor === 'f0' ? 'centroid' : this.descriptor;
    const d = DESCRIPTORS[colourBy];
    const values = model.table?.pitch?.[d.table] ?? [];
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    if (!(hi > lo)) hi = lo + 1;
    const scale = new ValueScale(lo, hi, { unit: d.unit });
    const table = model.table?.pitch ?? {};
    const describe = (code) => {
      const parts = [`Sound ${code}`, `${d.label.toLowerCase()} ${scale.format(values[code])}`];
      if (colourBy !== 'loudness' && table.loudness_db) parts.push(`loudness ${formatValue(table.loudness_db[code], 'dB')}`);
      else if (table.centroid_hz) parts.push(`brightness ${formatValue(table.centroid_hz[code], 'Hz')}`);
      return parts.join(' · ');
    };
    this.map.setData({ points: model.map, values, scale, describe });
    if (this.rendered?.model === model) this.map.setUsed(this.rendered.codes);
    this.el.mapMin.textContent = scale.format(lo);
    this.el.mapMax.textContent = scale.format(hi);
    this.el.mapColourName.textContent = this.descriptor === 'f0' ? 'brightness (pitch does not choose the sound: it sets the note)' : d.label.toLowerCase();
    this.el.map.setAttribute('aria-label', `Codebook map of the ${model.entry.instrument}: ${model.codes} sounds, coloured by ${d.label.toLowerCase()} from ${scale.format(lo)} (dark) to ${scale.format(hi)} (yellow).`);
  }

  // ---------- for tests and debugging ----------

  // The last render: {audio (base64 float32), frames, target, r, mae, codes}.
  exportRender() {
    const x = this.rendered;
    if (!x) return null;
    return {
      sampleRate: MODEL_RATE,
      descriptor: x.descriptor,
      seconds: x.seconds,
      audio: float32Base64(x.audio),
      target: Array.from(x.curves.values),
      r: x.comparison.r,
      mae: x.comparison.mae,
      times: x.comparison.times,
      measured: x.comparison.measured,
      expected: x.comparison.expected,
      codes: Array.from(x.codes),
    };
  }

  dispose() {
    clearTimeout(this.codeTimer);
    clearTimeout(this.autoTimer);
    clearTimeout(this.loopTimer);
    super.dispose();
    this.editor.dispose();
    this.gainEditor.dispose();
    this.map.dispose();
    this.picker.dispose();
    this.renderer.dispose();
    this.status.dispose();
    this.audioStatus.dispose();
  }
}
