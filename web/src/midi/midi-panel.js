// The "MIDI" panel: symbol-to-signal generation with a cross-modal VAE
// (Chemla-Romeu-Santos et al., DAFx 2019). A visitor picks an instrument,
// loads a MIDI file (the example tune, a chosen or dropped file), sees it on a
// piano roll and renders it in a Worker (progress, cancel) with the paper's
// options (temperature, interpolation between notes, Griffin-Lim or RTPGHI
// phase, seed); then plays it with a playhead, downloads a WAV and reads what
// was done to the notes. Live: an on-screen keyboard, the computer's keys and
// Web MIDI play through the worklet (LiveNoteKernel), as do the XY pad over the
// latent projection and a morph between two notes.

import { CoreError, isEngineFailure } from '../audio/engine.js';
import { CrossmodalCatalog, instrumentLabel } from './midi-catalog.js';
import { CrossmodalModelSlot } from './midi-model-slot.js';
import { MidiEngine, MODEL_RATE } from './midi-engine.js';
import { EXAMPLE_NAME, EXAMPLE_TITLE, exampleMidi } from './midi-example.js';
import { DYNAMICS, noteName } from '../audio/midi-file.js';
import { MidiInput, describeMidiError } from '../audio/midi-input.js';
import { CancelledError, CrossmodalWorker } from './midi-renderer.js';
import { Keyboard } from '../ui/keyboard.js';
import { LatentPad } from './latent-pad.js';
import { PianoRoll, trackColour } from '../ui/piano-roll.js';
import { formatBytes } from '../ui/model-picker.js';
import { StatusArea } from '../ui/status.js';
import { encodeWav, float32Base64 } from '../audio/wav.js';
import { Panel, sentence } from '../ui/panel.js';
import { showFacts } from '../ui/facts.js';
import { acceptFiles } from '../ui/file-drop.js';
import { showLevel } from '../ui/level-meter.js';

export const MAX_MIDI_BYTES = 4 * 1024 * 1024;
const KEYBOARD_KEYS = 25; // two octaves and a C

// A visitor's file, checked before the core parses it.
export class MidiFileError extends Error {
  constructor(title, text) {
    super(`${title} ${text}`);
    this.name = 'MidiFileError';
    this.title = title;
    this.text = text;
  }
}

export async function readMidiFile(file) {
  const name = file?.name || 'the file';
  if (!file || file.size === 0) throw new MidiFileError(`“${name}” is empty.`, 'Choose a MIDI file (.mid).');
  if (file.size > MAX_MIDI_BYTES) throw new MidiFileError(`“${name}” is too large for a MIDI file.`, `Files up to ${MAX_MIDI_BYTES / 1048576} MB can be read.`);
  if (/\.tmbl$/i.test(name)) throw new MidiFileError(`“${name}” is an instrument model, not a score.`, 'Load it with “Load your own model” in step 1.');
  return new Uint8Array(await file.arrayBuffer());
}

// The first C at or above the instrument's lowest note, kept low enough that
// the two octaves shown stay inside its range where they can; middle C when unknown.
export function keyboardLow(range) {
  if (!range) return 60;
  const [lo, hi] = range;
  let low = 12 * Math.ceil(lo / 12);
  while (low > 12 && low + KEYBOARD_KEYS - 1 > hi + 6) low -= 12;
  if (low <= 36 && hi >= 72) low = 60; // a piano: start at middle C
  return low;
}

export class MidiPanel extends Panel {
  constructor(root, { audio, capabilities, catalog = new CrossmodalCatalog(), worker = new CrossmodalWorker({ name: 'timbrel-midi' }) }) {
    super(root, { audio, capabilities, name: 'midi' });
    const $ = (id) => this.$(id);
    this.el = {
      exampleButton: $('midi-example-button'),
      fileButton: $('midi-file-button'),
      file: $('midi-file'),
      songCard: $('midi-score-title').closest('section'),
      drop: $('midi-drop'),
      songFacts: $('midi-song-facts'),
      songNote: $('midi-song-note'),
      roll: $('midi-roll'),
      rollLegend: $('midi-roll-legend'),
      interpolation: [...root.querySelectorAll('input[name="midi-interpolation"]')],
      phase: [...root.querySelectorAll('input[name="midi-phase"]')],
      temperature: $('midi-temperature'),
      temperatureValue: $('midi-temperature-value'),
      seed: $('midi-seed'),
      seedButton: $('midi-seed-button'),
      mixtureNote: $('midi-mixture-note'),
      render: $('midi-render-button'),
      cancel: $('midi-cancel-button'),
      play: $('midi-play-button'),
      stop: $('midi-stop-button'),
      progress: $('midi-progress'),
      progressValue: $('midi-progress-value'),
      report: $('midi-report'),
      reportList: $('midi-report-list'),
      downloadRow: $('midi-download-row'),
      download: $('midi-download'),
      velocity: [...root.querySelectorAll('input[name="midi-velocity"]')],
      octaveDown: $('midi-octave-down'),
      octaveUp: $('midi-octave-up'),
      octaveValue: $('midi-octave-value'),
      levelMeter: $('midi-level-meter'),
      keyboard: $('midi-keyboard'),
      connect: $('midi-connect-button'),
      device: $('midi-device-value'),
      pad: $('midi-pad'),
      padLegend: $('midi-pad-legend'),
      padAnnounce: $('midi-pad-announce'),
      padColour: [...root.querySelectorAll('input[name="midi-pad-colour"]')],
      morphA: $('midi-morph-a-pitch'),
      morphADyn: $('midi-morph-a-dynamics'),
      morphB: $('midi-morph-b-pitch'),
      morphBDyn: $('midi-morph-b-dynamics'),
      morphPosition: $('midi-morph-position'),
      morphPositionValue: $('midi-morph-position-value'),
      morphButton: $('midi-morph-button'),
      model: $('midi-model-value'),
      renderTime: $('midi-render-time'),
      latency: $('midi-latency'),
      sampleRate: $('midi-sample-rate'),
    };
    this.status = new StatusArea($('midi-status')); // models, the Worker, files
    this.audioStatus = new StatusArea($('midi-audio-status')); // renders and playback
    this.liveStatus = new StatusArea($('midi-live-status')); // live playing, Web MIDI
    this.worker = worker;
    this.models = new CrossmodalModelSlot(root, {
      catalog,
      worker,
      status: this.status,
      label: this.el.model,
      idPrefix: 'midi-',
      radioName: 'midi-model',
      // A render for the old instrument would only finish after the load: stop it.
      onLoading: () => {
        if (this.rendering) this.cancelRender();
      },
      onLoaded: () => this.modelLoaded(),
    });

    this.song = null; // {name, bytes: Uint8Array, parsed, source}
    this.songQueue = Promise.resolve();
    this.rendered = null; // {samples, report, options, song, model, ms}
    this.renderJob = 0;
    this.rendering = false;
    this.settingsVersion = 0;
    this.playing = 'idle'; // idle | render
    this.morphOn = false;
    this.padOn = false;
    this.midiInput = null;
    this.meterTimer = 0;
    this.ready = null;

    this.roll = new PianoRoll(this.el.roll, { label: 'Piano roll of the score', empty: 'Choose a score in step 2' });
    this.keyboard = new Keyboard(this.el.keyboard, { low: 60, keys: KEYBOARD_KEYS, velocity: 80 });
    this.keyboard.onNoteOn = (pitch, velocity) => this.liveNote(pitch, velocity, true);
    this.keyboard.onNoteOff = (pitch) => this.liveNote(pitch, 0, false);
    this.keyboard.onBaseChange = () => this.showOctave();
    this.keyboard.attachComputerKeys(() => this.visible);
    this.pad = new LatentPad(this.el.pad, { announce: this.el.padAnnounce });
    this.pad.onMove = (x, y, on) => this.padMove(x, y, on);

    const on = (element, type, handler) => this.on(element, type, handler);
    on(this.el.exampleButton, 'click', () => this.loadExample());
    acceptFiles({
      on, button: this.el.fileButton, input: this.el.file, card: this.el.songCard,
      indicator: this.el.drop, onFile: (file) => this.openFile(file),
    });
    for (const input of [...this.el.interpolation, ...this.el.phase]) on(input, 'change', () => this.settingsChanged());
    on(this.el.temperature, 'input', () => {
      this.el.temperatureValue.textContent = Number(this.el.temperature.value).toFixed(2);
      this.settingsChanged();
    });
    on(this.el.seed, 'change', () => this.settingsChanged());
    on(this.el.seedButton, 'click', () => {
      this.el.seed.value = String(1 + Math.floor(Math.random() * 999998));
      this.settingsChanged();
    });
    on(this.el.render, 'click', () => this.render());
    on(this.el.cancel, 'click', () => this.cancelRender());
    on(this.el.play, 'click', () => this.playRender());
    on(this.el.stop, 'click', () => this.stop());
    for (const input of this.el.velocity) on(input, 'change', () => this.keyboard.setVelocity(Number(input.value)));
    on(this.el.octaveDown, 'click', () => this.keyboard.shiftOctave(-1));
    on(this.el.octaveUp, 'click', () => this.keyboard.shiftOctave(1));
    on(this.el.connect, 'click', () => this.connectMidi());
    for (const input of this.el.padColour) {
      on(input, 'change', () => {
        this.pad.setColourBy(input.value);
        this.showPadLegend();
      });
    }
    on(this.el.morphPosition, 'input', () => this.morphChanged());
    for (const select of [this.el.morphA, this.el.morphADyn, this.el.morphB, this.el.morphBDyn]) on(select, 'change', () => this.morphChanged());
    on(this.el.morphButton, 'click', () => this.toggleMorph());

    this.showProblems(this.liveStatus, { skip: ['no-getusermedia'] }); // scores need no microphone
    if (!MidiInput.available) {
      this.el.device.textContent = 'This browser has no Web MIDI: the on-screen keyboard and your computer keys still play.';
      this.el.device.dataset.state = 'unavailable';
    }
    this.showOctave();
    this.updateButtons();
  }

  // The panel is shown: start the Worker, fetch the instruments (once) and the example tune.
  activate() {
    super.activate();
    if (!this.ready) {
      this.ready = this.models.start({
        onWorkerFailure: (error) => this.onWorkerFailure(error),
        noModelsText: 'Playing a score needs a cross-modal model (models/crossmodal/). Train one with the scripts, or load a .tmbl model file in step 1.',
      }).then((entries) => {
        if (!this.song) this.loadExample();
        return entries;
      });
    }
    return this.ready;
  }

  // The visitor left the panel: silence, and let the audio device rest.
  deactivate() {
    this.stop();
    super.deactivate();
  }

  get isPlaying() {
    return this.playing !== 'idle' || this.keyboard.heldPitches.length > 0 || this.morphOn || this.padOn;
  }

  // Sound problems show with the live controls.
  get engineStatus() {
    return this.liveStatus;
  }

  // ---------- models ----------

  // The loaded model ({entry, description, bytes}), null before the first.
  get model() {
    return this.models.model;
  }

  modelName() {
    return this.models.name;
  }

  // A new instrument: everything that shows it, and the live player, follow.
  modelLoaded() {
    this.audioStatus.clear('no-model');
    this.showModel();
    this.clearRender('not rendered yet');
    this.updateButtons();
    if (this.engine?.node) this.loadEngineModel().catch((error) => this.onLiveError(error));
  }

  // The loaded model's range, labels and instruments, everywhere they show.
  showModel() {
    const d = this.model.description ?? {};
    const ranges = d.pitchRanges ?? this.model.entry.pitchRanges ?? [];
    this.roll.setRanges(ranges);
    this.markTransposed();
    const lo = Math.min(...ranges.map((r) => r[0]));
    const hi = Math.max(...ranges.map((r) => r[1]));
    const range = Number.isFinite(lo) ? [lo, hi] : null;
    this.keyboard.configure({ low: keyboardLow(range), keys: KEYBOARD_KEYS, range });
    const velocities = d.dynamicsVelocity ?? [40, 80, 120];
    this.el.velocity.forEach((input, i) => {
      if (Number.isFinite(velocities[i])) input.value = String(velocities[i]);
      if (input.checked) this.keyboard.setVelocity(Number(input.value));
    });
    for (const select of [this.el.morphADyn, this.el.morphBDyn]) {
      [...select.options].forEach((option, i) => {
        if (Number.isFinite(velocities[i])) option.value = String(velocities[i]);
      });
    }
    this.pad.setData({ points: d.points ?? [], extent: d.projection?.extent });
    this.showPadLegend();
    this.el.pad.setAttribute('aria-label', `Map of the ${this.modelName().toLowerCase()}’s notes: ${(d.points ?? []).length} dots, one per note and dynamics`);
    this.fillMorphNotes(range);
    // A mixture model learned pairs of notes, one per instrument, and has no
    // "silent" label: it plays every note with all its instruments at once.
    const instruments = d.instruments ?? this.model.entry.instruments ?? [];
    this.el.mixtureNote.hidden = instruments.length < 2;
    this.el.mixtureNote.textContent = instruments.length < 2 ? ''
      : `This model learned ${instrumentLabel(instruments)} playing together: every note is played by all ${instruments.length} in unison, each moved into its own range. For one instrument, pick a solo model.`;
  }

  fillMorphNotes(range) {
    const [lo, hi] = range ?? [48, 84];
    const keepA = Number(this.el.morphA.value);
    const keepB = Number(this.el.morphB.value);
    const make = () => {
      const options = [];
      for (let p = lo; p <= hi; p++) options.push(new Option(noteName(p), String(p)));
      return options;
    };
    this.el.morphA.replaceChildren(...make());
    this.el.morphB.replaceChildren(...make());
    const pick = (keep, fallback) => String(keep >= lo && keep <= hi ? keep : Math.min(hi, Math.max(lo, fallback)));
    const middle = 12 * Math.round((lo + hi) / 24);
    this.el.morphA.value = pick(keepA, middle);
    this.el.morphB.value = pick(keepB, middle + 7);
  }

  showPadLegend() {
    const items = this.pad.legend().map(({ label, colour }) => {
      const item = document.createElement('span');
      item.className = 'legend-item';
      const swatch = document.createElement('span');
      swatch.className = 'swatch swatch-dot';
      swatch.setAttribute('aria-hidden', 'true');
      swatch.style.background = colour;
      item.append(swatch, label);
      return item;
    });
    this.el.padLegend.replaceChildren(...items);
  }

  // ---------- the score ----------

  loadExample() {
    return this.setSong({ name: EXAMPLE_NAME, bytes: exampleMidi(), source: 'example', title: EXAMPLE_TITLE });
  }

  async openFile(file) {
    let bytes;
    try {
      bytes = await readMidiFile(file);
    } catch (error) {
      this.songFailed(file.name, error);
      return;
    }
    await this.setSong({ name: file.name, bytes, source: 'file', title: file.name });
  }

  // Parses a score in the Worker; a file the core refuses leaves the loaded one in place.
  setSong(song) {
    this.songQueue = this.songQueue.then(async () => {
      let parsed;
      try {
        parsed = await this.worker.parse(song.bytes);
      } catch (error) {
        this.songFailed(song.name, error);
        return;
      }
      const pitched = parsed.notes.filter((n) => !n.drum);
      if (!pitched.length) {
        this.songFailed(song.name, new Error(parsed.notes.length ? 'it holds only drum notes (channel 10), which no instrument here plays' : 'it holds no notes'));
        return;
      }
      this.status.clear('midi-error');
      this.song = { ...song, parsed };
      this.root.dataset.song = song.name;
      this.showSong();
      this.clearRender('not rendered yet');
      this.updateButtons();
    });
    return this.songQueue;
  }

  songFailed(name, error) {
    const { title, text } = error instanceof MidiFileError
      ? error
      : { title: `“${name}” could not be read as a MIDI file.`, text: `${sentence(error)}.` };
    this.status.set('midi-error', {
      kind: 'error',
      title,
      text: `${text}${this.song ? ` The score loaded before (${this.song.title}) stays.` : ''}`,
    });
    this.root.dataset.songError = String(Number(this.root.dataset.songError ?? 0) + 1);
  }

  showSong() {
    const { parsed, title } = this.song;
    const notes = parsed.notes;
    const drums = notes.filter((n) => n.drum).length;
    const tracks = [...new Set(notes.filter((n) => !n.drum).map((n) => n.track))].sort((a, b) => a - b);
    this.roll.setNotes(notes, { duration: parsed.durationS });
    this.markTransposed();
    const facts = [
      ['Score', title],
      ['Notes', `${notes.length - drums}${drums ? ` (and ${drums} drum notes, skipped)` : ''}`],
      ['Tracks with notes', `${tracks.length}`],
      ['Length', `${parsed.durationS.toFixed(1)} s`],
      ['Tempo', Number.isFinite(parsed.tempoBpm) && parsed.tempoBpm > 0 ? `${Math.round(parsed.tempoBpm)} BPM` : ''],
    ];
    showFacts(this.el.songFacts, facts);
    this.el.songNote.hidden = true;
    // Legend: one colour per track.
    this.el.rollLegend.replaceChildren(...tracks.map((track) => {
      const item = document.createElement('span');
      item.className = 'legend-item';
      const swatch = document.createElement('span');
      swatch.className = 'swatch swatch-box';
      swatch.setAttribute('aria-hidden', 'true');
      swatch.style.background = trackColour(track, matchMedia?.('(prefers-color-scheme: dark)').matches);
      const name = parsed.trackNames?.[track];
      item.append(swatch, name ? `${name} (track ${track})` : `Track ${track}`);
      return item;
    }));
  }

  // Notes outside the instrument's range are outlined on the roll (the core
  // moves them by octaves; in a mixture, outside any instrument's range).
  markTransposed() {
    if (!this.song || !this.model) return;
    const ranges = this.model.description?.pitchRanges ?? [];
    const outside = (p) => ranges.length > 0 && ranges.some(([lo, hi]) => p < lo || p > hi);
    this.roll.setNotes(this.song.parsed.notes.map((n) => ({ ...n, transposed: !n.drum && outside(n.pitch) })), { duration: this.song.parsed.durationS });
  }

  // ---------- render (Worker) ----------

  options() {
    const checked = (inputs, fallback) => inputs.find((i) => i.checked)?.value ?? fallback;
    const seed = Math.max(0, Math.min(999999, Math.round(Number(this.el.seed.value) || 0)));
    const options = {
      temperature: Number(this.el.temperature.value),
      interpolation: checked(this.el.interpolation, 'cubic'),
      phase: checked(this.el.phase, 'griffin-lim'),
      iterations: 30,
      seed,
    };
    return options;
  }

  settingsChanged() {
    this.settingsVersion++;
    if (this.song && this.model) this.markTransposed();
    if (this.rendered) {
      this.el.progressValue.dataset.state = 'stale';
      this.el.progressValue.textContent = 'settings changed: render again';
    }
  }

  get renderIsCurrent() {
    return !!this.rendered && this.rendered.settingsVersion === this.settingsVersion && this.rendered.song === this.song && this.rendered.model === this.model;
  }

  // stream: play the render while it runs (the Play button, when there is no
  // current render): the Worker's chunks go to the engine as they come.
  async render({ andPlay = false, stream = false } = {}) {
    if (!this.model) {
      this.audioStatus.set('no-model', { kind: 'info', title: 'No instrument is loaded yet.', text: 'Pick one in step 1 (or wait until it has loaded), then render.' });
      return null;
    }
    if (!this.song) {
      this.audioStatus.set('no-song', { kind: 'info', title: 'No score is loaded yet.', text: 'Choose the example tune or a MIDI file in step 2.' });
      return null;
    }
    if (this.rendering) this.worker.cancel();
    const job = ++this.renderJob;
    const options = this.options();
    const song = this.song;
    const model = this.model;
    const settingsVersion = this.settingsVersion;
    this.stopBuffer();
    this.audioStatus.clear('render-error');
    this.audioStatus.clear('no-model');
    this.audioStatus.clear('no-song');
    this.setProgress(0, 'running', 'starting…');
    this.root.dataset.render = 'running';
    this.rendering = true;
    this.updateButtons();
    const playing = stream && this.engine ? this.engine.playStream() : null;
    let result;
    try {
      result = await this.worker.render(song.bytes, options, {
        onProgress: (fraction, stage) => job === this.renderJob && this.setProgress(fraction, 'running', null, playing ? 'playing while rendering' : stage),
        onChunk: playing && ((samples, offset) => {
          if (job !== this.renderJob || playing.stopped) return;
          playing.push(samples, offset);
          if (this.playing !== 'render') this.setPlaying('render');
        }),
      });
    } catch (error) {
      if (job !== this.renderJob) return null;
      this.rendering = false;
      if (playing) this.stopBuffer();
      if (error instanceof CancelledError) {
        this.root.dataset.render = 'cancelled';
        this.setProgress(0, 'idle', 'cancelled');
        this.updateButtons();
        return null;
      }
      this.root.dataset.render = 'error';
      this.setProgress(0, 'error', 'failed');
      this.audioStatus.set('render-error', {
        kind: 'error',
        title: 'The score could not be rendered.',
        text: `${sentence(error)}. Try other settings or another instrument, or reload the page.`,
      });
      this.updateButtons();
      return null;
    }
    if (job !== this.renderJob) return null;
    this.rendering = false;
    playing?.end();
    this.rendered = { ...result, options, song, model, settingsVersion };
    this.setProgress(1, 'done', '100 % · done');
    this.root.dataset.render = 'done';
    const seconds = result.samples.length / MODEL_RATE;
    this.el.renderTime.textContent = `${(result.ms / 1000).toFixed(1)} s for ${seconds.toFixed(1)} s of sound`;
    this.el.renderTime.dataset.ms = String(Math.round(result.ms));
    this.showReport(result.report);
    this.makeDownload();
    this.updateButtons();
    if (andPlay) this.startBuffer();
    return this.rendered;
  }

  cancelRender() {
    if (!this.rendering) return;
    this.worker.cancel();
  }

  setProgress(fraction, state, text = null, stage = '') {
    const pct = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
    this.el.progress.value = pct;
    this.el.progressValue.dataset.state = state;
    this.el.progressValue.dataset.percent = String(pct);
    const stages = { frames: 'decoding the notes', phase: 'rebuilding the phase', done: '' };
    const what = stages[String(stage).toLowerCase()] ?? stage;
    this.el.progressValue.textContent = text ?? `${pct} %${what ? ` · ${what}` : ''}`;
  }

  clearRender(text) {
    this.stopBuffer();
    this.rendered = null;
    this.el.report.hidden = true;
    this.el.downloadRow.hidden = true;
    if (!this.rendering) this.setProgress(0, 'idle', text);
    delete this.root.dataset.render;
  }

  // What the renderer did to the notes, in words.
  showReport(report) {
    const items = describeReport(report);
    this.el.reportList.replaceChildren(...items.map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }));
    this.el.report.hidden = items.length === 0;
  }

  makeDownload() {
    if (!this.rendered) return;
    const blob = new Blob([encodeWav([this.rendered.samples], MODEL_RATE)], { type: 'audio/wav' });
    const base = this.rendered.song.name.replace(/\.(mid|midi|smf|kar)$/i, '').replace(/[^\w-]+/g, '-');
    const instrument = this.rendered.model.entry.id.replace(/[^\w-]+/g, '-');
    this.offerDownload(this.el.download, blob, `timbrel-${base}-${instrument}.wav`, `Download WAV (${formatBytes(blob.size)})`);
    this.el.downloadRow.hidden = false;
  }

  // ---------- audio ----------

  createEngine(context) {
    const engine = new MidiEngine(context).toDestination();
    engine.onBufferEnded = () => {
      if (this.playing === 'render') this.setPlaying('idle');
    };
    return engine;
  }

  engineStarted(engine, info) {
    super.engineStarted(engine, info);
    const ms = engine.latencyMs;
    if (Number.isFinite(ms)) {
      this.el.latency.textContent = `${Math.round(ms)} ms`;
      this.el.latency.dataset.ms = ms.toFixed(1);
    }
    this.startMeter();
  }

  // The render if it is current; else a new one, heard while it is made.
  async playRender() {
    try {
      await this.ensureEngine();
    } catch {
      return; // reported by the panel base
    }
    this.checkRunning();
    if (this.renderIsCurrent) this.startBuffer();
    else await this.render({ stream: true });
  }

  startBuffer() {
    if (!this.engine?.node || !this.rendered) return;
    this.engine.playBuffer(this.rendered.samples);
    this.setPlaying('render');
  }

  stopBuffer() {
    this.engine?.stopBuffer();
    if (this.playing === 'render') this.setPlaying('idle');
  }

  // Stops everything that sounds (also when the visitor leaves the panel).
  stop() {
    this.stopBuffer();
    this.keyboard.allOff();
    this.stopMorph();
    this.pad.stop();
    this.engine?.allNotesOff();
  }

  setPlaying(mode) {
    this.playing = mode;
    this.root.dataset.mode = mode;
    if (mode === 'render') this.animatePlayhead();
    else this.roll.setPlayhead(-1);
    this.updateButtons();
  }

  animatePlayhead() {
    this.animate(() => {
      const playing = this.playing === 'render' && this.engine;
      this.roll.setPlayhead(playing ? this.engine.bufferTime : -1);
      return !!playing;
    });
  }

  // The live output level on the meter, a few times a second while the engine runs.
  startMeter() {
    clearInterval(this.meterTimer);
    this.meterTimer = setInterval(() => {
      const db = this.engine ? this.engine.levelDb : -120;
      showLevel(this.el.levelMeter, db);
      this.root.dataset.level = db.toFixed(1);
    }, 100);
  }

  updateButtons() {
    const { render, cancel, play, stop } = this.el;
    render.disabled = !this.model || !this.song;
    cancel.disabled = !this.rendering;
    play.disabled = !this.caps.canRun || !this.model || !this.song;
    stop.disabled = this.playing === 'idle';
    play.setAttribute('aria-pressed', String(this.playing === 'render'));
    play.querySelector('span').textContent = this.playing === 'render' ? 'Playing…' : 'Play';
    render.querySelector('span').textContent = this.rendering ? 'Rendering…' : 'Render sound';
  }

  describeEngineFailure(error) {
    if (!(error instanceof CoreError)) return { title: 'The audio could not start.', text: `${sentence(error)}.` };
    const missing = /MidiKernel/.test(error.message);
    return {
      title: missing ? 'This build of Timbrel has no live note engine yet.' : 'The live note engine cannot play on this audio device.',
      text: missing
        ? `${sentence(error)}. Rendering and downloading scores still work.`
        : `${sentence(error)}${error.sampleRate ? ` (the device runs at ${error.sampleRate} Hz)` : ''}. Rendering and downloading still work.`,
    };
  }

  engineLost() {
    clearInterval(this.meterTimer);
    this.setPlaying('idle');
  }

  onWorkerFailure(error) {
    this.status.set('worker-error', {
      kind: 'error',
      title: 'The note engine could not start.',
      text: `${sentence(error)}.`,
    });
  }

  onLiveError(error) {
    if (isEngineFailure(error)) return; // reported by the panel base
    this.liveStatus.set('live-error', { kind: 'error', title: 'The instrument could not be played live.', text: `${sentence(error)}.` });
  }

  // ---------- live playing ----------

  // Runs fn(engine) once the worklet holds the model; the first call (inside a
  // key press or click) starts the audio.
  withLive(fn) {
    if (!this.model) {
      this.liveStatus.set('no-model', { kind: 'info', title: 'No instrument is loaded yet.', text: 'Pick one in step 1 first.' });
      return;
    }
    this.liveStatus.clear('no-model');
    this.liveStatus.clear('live-error');
    let ready;
    try {
      ready = this.ensureEngine();
    } catch (error) {
      this.onLiveError(error);
      return;
    }
    if (this.engine?.node && this.engine.modelId === this.model.entry.id) {
      fn(this.engine);
      return;
    }
    ready
      .then(() => this.loadEngineModel())
      .then(() => {
        if (!this.engine) return;
        fn(this.engine);
        this.checkRunning(); // the first sound of this engine: a refused start is said
      })
      .catch((error) => this.onLiveError(error));
  }

  liveNote(pitch, velocity, on) {
    if (on) {
      this.withLive((engine) => {
        // Still held when the engine came up?
        if (this.keyboard.active.has(pitch) || this.midiHeld?.has(pitch)) engine.noteOn(pitch, velocity);
      });
      this.root.dataset.lastNote = String(pitch);
    } else {
      this.engine?.noteOff(pitch);
    }
  }

  showOctave() {
    const low = this.keyboard.low;
    this.el.octaveValue.textContent = `${noteName(low)} – ${noteName(low + this.keyboard.keys - 1)}`;
    this.el.octaveDown.disabled = low - 12 < 0;
    this.el.octaveUp.disabled = low + 12 + this.keyboard.keys - 1 > 127;
  }

  async connectMidi() {
    if (!this.midiInput) {
      this.midiInput = new MidiInput();
      this.midiHeld = new Set();
      this.midiInput.onNote = (message) => this.onMidiNote(message);
      this.midiInput.onDevices = (names) => this.showDevices(names);
    }
    this.el.device.textContent = 'Asking the browser for MIDI devices…';
    this.el.device.dataset.state = 'asking';
    try {
      await this.midiInput.connect();
      this.liveStatus.clear('midi-unsupported');
      this.liveStatus.clear('midi-denied');
      this.liveStatus.clear('midi-error');
    } catch (error) {
      const message = describeMidiError(error);
      this.liveStatus.set(message.key, { kind: message.key === 'midi-unsupported' ? 'warning' : 'error', title: message.title, text: message.text });
      this.el.device.textContent = message.title;
      this.el.device.dataset.state = message.key.replace(/^midi-/, '');
    }
  }

  showDevices(names) {
    if (!names.length) {
      this.el.device.textContent = 'Web MIDI is on, but no MIDI keyboard is connected. Plug one in: it is picked up at once.';
      this.el.device.dataset.state = 'none';
    } else {
      this.el.device.textContent = `Listening to ${names.join(', ')}.`;
      this.el.device.dataset.state = 'connected';
    }
  }

  onMidiNote({ type, pitch, velocity }) {
    if (type === 'all-off') {
      for (const p of this.midiHeld) this.keyboard.setActive(p, false);
      this.midiHeld.clear();
      this.engine?.allNotesOff();
      return;
    }
    if (type === 'on') {
      this.midiHeld.add(pitch);
      this.keyboard.setActive(pitch, true);
      this.liveNote(pitch, velocity, true);
    } else {
      this.midiHeld.delete(pitch);
      this.keyboard.setActive(pitch, false);
      this.liveNote(pitch, 0, false);
    }
  }

  padMove(x, y, on) {
    this.padOn = on;
    if (on) this.withLive((engine) => this.padOn && engine.setPad(x, y, true));
    else this.engine?.setPad(x, y, false);
    this.root.dataset.pad = on ? `${x.toFixed(3)},${y.toFixed(3)}` : 'off';
  }

  morphSettings(on) {
    return {
      pitchA: Number(this.el.morphA.value),
      velocityA: Number(this.el.morphADyn.value),
      pitchB: Number(this.el.morphB.value),
      velocityB: Number(this.el.morphBDyn.value),
      position: Number(this.el.morphPosition.value) / 100,
      on,
    };
  }

  morphChanged() {
    const s = this.morphSettings(this.morphOn);
    const pct = Math.round(s.position * 100);
    const dyn = (v) => DYNAMICS[[40, 80, 120].indexOf(v)] ?? DYNAMICS[this.dynIndex(v)];
    this.el.morphPositionValue.textContent = pct === 0 ? `${noteName(s.pitchA)} ${dyn(s.velocityA)}`
      : pct === 100 ? `${noteName(s.pitchB)} ${dyn(s.velocityB)}` : `${pct} % of the way`;
    if (this.morphOn) this.engine?.setMorph(s);
  }

  dynIndex(velocity) {
    const velocities = this.model?.description?.dynamicsVelocity ?? [40, 80, 120];
    return velocities.indexOf(velocity);
  }

  toggleMorph() {
    if (this.morphOn) {
      this.stopMorph();
      return;
    }
    this.morphOn = true;
    this.el.morphButton.setAttribute('aria-pressed', 'true');
    this.el.morphButton.querySelector('span').textContent = 'Stop the morph';
    this.withLive((engine) => this.morphOn && engine.setMorph(this.morphSettings(true)));
    this.root.dataset.morph = 'on';
  }

  stopMorph() {
    if (!this.morphOn) return;
    this.morphOn = false;
    this.el.morphButton.setAttribute('aria-pressed', 'false');
    this.el.morphButton.querySelector('span').textContent = 'Play the morph';
    this.engine?.setMorph(this.morphSettings(false));
    this.root.dataset.morph = 'off';
  }

  // ---------- for tests and debugging ----------

  // The last render: {sampleRate, audio (base64 float32), report, options, notes}.
  exportRender() {
    const x = this.rendered;
    if (!x) return null;
    return { sampleRate: MODEL_RATE, audio: float32Base64(x.samples), report: x.report, options: x.options, notes: x.song.parsed.notes, ms: x.ms };
  }

  dispose() {
    clearInterval(this.meterTimer);
    super.dispose();
    this.keyboard.dispose();
    this.pad.dispose();
    this.roll.dispose();
    this.models.dispose();
    this.midiInput?.dispose();
    this.worker.dispose();
    this.status.dispose();
    this.audioStatus.dispose();
    this.liveStatus.dispose();
  }
}

// The renderer's report (the core's RenderReport) in sentences; fields it
// does not know are listed as they are.
export function describeReport(report) {
  if (!report || typeof report !== 'object') return [];
  const out = [];
  const num = (...keys) => {
    for (const key of keys) if (Number.isFinite(report[key])) return report[key];
    return null;
  };
  const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const notes = num('notes');
  const rendered = num('notesRendered', 'notes_rendered');
  const seconds = num('durationS', 'duration_s');
  const voices = num('peakVoices', 'peak_voices');
  const stolen = num('voicesStolen', 'voices_stolen');
  const transposed = num('notesTransposed', 'notes_transposed');
  const drums = num('drumNotesSkipped', 'drum_notes_skipped');
  const gain = num('gain');
  if (rendered !== null || notes !== null) {
    const played = rendered ?? notes;
    out.push(`${plural(played, 'note')} played${notes !== null && rendered !== null && rendered !== notes ? ` of the ${notes} in the file` : ''}${seconds !== null ? `, ${seconds.toFixed(1)} s of sound` : ''}.`);
  }
  if (voices !== null) out.push(voices <= 1 ? 'One note at a time (one voice).' : `Up to ${voices} notes at once (${voices} voices, mixed before the phase is rebuilt).`);
  if (stolen) out.push(`${plural(stolen, 'note')} cut short: more notes sounded at once than the 8 voices.`);
  if (transposed !== null) out.push(transposed ? `${plural(transposed, 'note')} outside the instrument’s range moved by octaves into it (outlined on the piano roll).` : 'No note had to be moved: all lie in the instrument’s range.');
  if (drums) out.push(`${plural(drums, 'drum note')} (channel 10) skipped: no instrument here plays drums.`);
  if (report.mixturePlayedInUnison) out.push('A mixture model: every note was played by all its instruments at once.');
  if (report.normalised && gain !== null) out.push(`The mix would have clipped, so it was turned down by ${(-20 * Math.log10(gain)).toFixed(1)} dB.`);
  // The output guard's limiter (samples it turned down to stay under -1 dBTP): said only when it acted.
  const limited = num('limited');
  if (limited) out.push(`The limiter softened ${plural(limited, 'sample')} (${seconds ? `${((100 * limited) / (seconds * MODEL_RATE)).toFixed(1)} % of the sound` : 'a few peaks'}) to keep it under full scale.`);
  const known = new Set(['notes', 'notesRendered', 'notes_rendered', 'durationS', 'duration_s', 'peakVoices', 'peak_voices', 'voicesStolen', 'voices_stolen',
    'notesTransposed', 'notes_transposed', 'drumNotesSkipped', 'drum_notes_skipped', 'gain', 'normalised', 'peak', 'frames', 'mixturePlayedInUnison', 'limited']);
  for (const [key, value] of Object.entries(report)) {
    if (known.has(key) || value === null || typeof value === 'object' || value === '') continue;
    out.push(`${key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase()}: ${typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(2) : value}`);
  }
  return out;
}
