// The "Notes" panel: the GMVAE note synthesizer (Luo, Agres & Herremans, ISMIR
// 2019; docs/gmvae.md). A visitor picks one of the model's instruments and
// plays notes live (on-screen keyboard, computer keys, Web MIDI: the core's
// GmvaeNotesLive in the AudioWorklet decodes each key press's latent point and
// holds it), with a variation (the spread w), a seed and a brightness slider;
// renders a held note offline in a Worker (Play, Download WAV); wanders the
// timbre map (press and drag to hear any point, a morph between two
// instruments, a brightness heat map decoded over the map); moves a note (an
// example, a file, the microphone) to another instrument; and renders every
// note of an instrument. Batches (the heat map, every note) are decoded by the
// faster of two engines, measured on the same batch in the page: the core
// (WebAssembly, a Worker) and ONNX Runtime Web (WebGPU or WebAssembly, a
// Worker) running the decoder graph exported from the same model file.

import { AudioFileError } from '../audio/clip-player.js';
import { CoreError, Engine, isEngineFailure } from '../audio/engine.js';
import { noteName } from '../audio/midi-file.js';
import { MidiInput, describeMidiError } from '../audio/midi-input.js';
import { encodeWav, float32Base64 } from '../audio/wav.js';
import { MicRecorder, decodeClip, describeRecordError } from '../transcribe/transcribe-audio.js';
import { showFacts } from '../ui/facts.js';
import { acceptFiles } from '../ui/file-drop.js';
import { Keyboard } from '../ui/keyboard.js';
import { renderMarkdown } from '../ui/markdown.js';
import { formatBytes } from '../ui/model-picker.js';
import { Panel, sentence } from '../ui/panel.js';
import { StatusArea } from '../ui/status.js';
import { COLOUR_GRADIENT } from '../draw/draw-curves.js';
import { CancelledError, NotesWorker, OrtWorker } from './notes-client.js';
import { NotesEngine } from './notes-engine.js';
import {
  MODEL_RATE, NotesModelError, defaultPitch, levelTo, describeNotesModel, fasterEngine, findOnset, formatRate,
  inSentence, instrumentColour, joinLatent, keyboardLow, mapGrid, mapPointTimbre, maxAbsDiff, melBandCentres,
  melCentroidHz, morphTimbre, notesPerSecond, pitchMean, projectOnMap, rangeText, tmblCrc, withArticle, withBrightness,
} from './notes-model.js';
import { TimbreMap } from './timbre-map.js';
import { showLevel } from '../ui/level-meter.js';

export const MODELS_URL = new URL('../../models/gmvae/', import.meta.url);
export const ONNX_URL = new URL('../../onnx/gmvae/', import.meta.url);
export const MODEL_FILE = 'gmvae.tmbl';
const MAX_MODEL_BYTES = 64 * 1024 * 1024;
const KEYBOARD_KEYS = 25;
const VELOCITY = 100;
const LATENT_SIZE = 32;
// The heat map: a grid of this many cells decoded (one note each).
export const HEAT_COLS = 24;
export const HEAT_ROWS = 16;
// The engines are measured on the first BENCH notes of a batch.
export const BENCH = 48;
const MORPH_STEPS = 8;
const MAP_RETRIGGER_MS = 160;
const EXAMPLES = [['violin', 72], ['flute', 81], ['trumpet', 67], ['clarinet', 62], ['cello', 48], ['piano', 60], ['oboe', 69], ['alto_sax', 65]];

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
const isDark = () => globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;

export class NotesPanel extends Panel {
  constructor(root, { audio, capabilities, worker = new NotesWorker({ name: 'timbrel-notes' }), batchWorker = new NotesWorker({ name: 'timbrel-notes-batch' }), ort = new OrtWorker() }) {
    super(root, { audio, capabilities, name: 'notes' });
    const $ = (id) => this.$(id);
    this.el = {
      instruments: $('notes-instruments'),
      instrumentsNote: $('notes-instruments-note'),
      card: $('notes-model-card'),
      cardBody: $('notes-model-card-body'),
      octaveDown: $('notes-octave-down'),
      octaveUp: $('notes-octave-up'),
      octaveValue: $('notes-octave-value'),
      levelMeter: $('notes-level-meter'),
      keyboard: $('notes-keyboard'),
      connect: $('notes-connect-button'),
      device: $('notes-device-value'),
      spread: $('notes-spread'),
      spreadValue: $('notes-spread-value'),
      seed: $('notes-seed'),
      seedButton: $('notes-seed-button'),
      brightness: $('notes-brightness'),
      brightnessValue: $('notes-brightness-value'),
      brightnessReset: $('notes-brightness-reset'),
      brightnessHint: $('notes-brightness-hint'),
      length: $('notes-length'),
      lengthValue: $('notes-length-value'),
      render: $('notes-render-button'),
      play: $('notes-play-button'),
      download: $('notes-download'),
      selected: $('notes-selected'),
      map: $('notes-map'),
      mapPitch: $('notes-map-pitch'),
      mapLegend: $('notes-map-legend'),
      mapAnnounce: $('notes-map-announce'),
      heatLegend: $('notes-heat-legend'),
      heatRange: $('notes-heat-range'),
      heatButton: $('notes-heat-button'),
      heatValue: $('notes-heat-value'),
      morphFrom: $('notes-morph-from'),
      morphTo: $('notes-morph-to'),
      morphPosition: $('notes-morph-position'),
      morphPositionValue: $('notes-morph-position-value'),
      morphPlay: $('notes-morph-play'),
      morphDownload: $('notes-morph-download'),
      exampleSelect: $('notes-example-select'),
      example: $('notes-example-button'),
      fileButton: $('notes-file-button'),
      file: $('notes-file'),
      record: $('notes-record-button'),
      transferCard: $('notes-transfer-title').closest('section'),
      drop: $('notes-drop'),
      recordRow: $('notes-record-row'),
      recordTime: $('notes-record-time'),
      recordMeter: $('notes-record-meter'),
      sourceFacts: $('notes-source-facts'),
      heard: $('notes-heard'),
      target: $('notes-target'),
      amount: $('notes-amount'),
      amountValue: $('notes-amount-value'),
      transfer: $('notes-transfer-button'),
      playSource: $('notes-play-source'),
      transferResult: $('notes-transfer-result'),
      transferDownloadRow: $('notes-transfer-download-row'),
      transferDownload: $('notes-transfer-download'),
      every: $('notes-every-button'),
      everyCancel: $('notes-every-cancel'),
      everyPlay: $('notes-every-play'),
      stop: $('notes-stop-button'),
      progress: $('notes-progress'),
      progressValue: $('notes-progress-value'),
      everyDownloadRow: $('notes-every-download-row'),
      everyDownload: $('notes-every-download'),
      engines: $('notes-engines'),
      modelFile: $('notes-model-file'),
      modelDrop: $('notes-model-drop'),
      model: $('notes-model-value'),
      batchEngine: $('notes-batch-engine'),
      latency: $('notes-latency'),
      sampleRate: $('notes-sample-rate'),
    };
    this.status = new StatusArea($('notes-status')); // the model, the engines
    this.liveStatus = new StatusArea($('notes-live-status')); // live playing, renders of a note
    this.transferStatus = new StatusArea($('notes-transfer-status')); // the note to transfer, the microphone
    this.everyStatus = new StatusArea($('notes-every-status')); // every note, the heat map, the batch engines
    this.worker = worker; // interactive jobs: latents, transfers, single renders
    this.batchWorker = batchWorker; // long jobs: the core's batch decodes, every note
    this.ort = ort;

    this.model = null; // {description, bytes, id, fileName, source, crc}
    this.instrument = -1;
    this.pitch = 69; // the chosen note: the last key played
    this.latents = null; // {key, byPitch: Map(midi -> Float32Array)} for the live keys
    this.latentJob = null;
    this.brightnessValue = null; // null: as sampled
    this.rendered = null; // {samples, latent, midi, instrument, held, key}
    this.transferSource = null; // {name, samples, seconds, peak, source, latent, heard}
    this.transferred = null; // {samples, target, amount, heard}
    this.every = null; // {samples, starts, instrument, engine}
    this.morph = null; // {samples}
    this.heat = null; // {values, engine, ms}
    this.engines = { core: null, ort: null, choice: null, parity: null, ortState: 'idle', ortError: '' };
    this.busy = ''; // '' | 'every' | 'heat' | 'morph'
    this.job = 0;
    this.playing = 'idle'; // idle | note | source | transfer | every | morph
    this.mapVoice = null; // {pitch, x, y, at}
    this.morphVoice = null; // {pitch, at}
    this.player = null; // plays finished renders (Engine without a worklet)
    this.midiInput = null;
    this.midiHeld = new Set();
    this.recorder = null;
    this.meterTimer = 0;
    this.recordTimer = 0;
    this.ready = null;
    this.reference = null; // {model, rms}: the level of the model's own notes
    this.corpus = null; // recorded example notes: [{file, midi, instrument (index)}]
    this.centres = melBandCentres();

    this.keyboard = new Keyboard(this.el.keyboard, { low: 60, keys: KEYBOARD_KEYS, velocity: VELOCITY });
    this.keyboard.onNoteOn = (pitch, velocity) => this.liveNote(pitch, velocity, true);
    this.keyboard.onNoteOff = (pitch) => this.liveNote(pitch, 0, false);
    this.keyboard.onBaseChange = () => this.showOctave();
    const shift = this.keyboard.shiftOctave.bind(this.keyboard);
    this.keyboard.shiftOctave = (direction) => this.canShift(direction) && shift(direction); // Z and X too
    this.keyboard.attachComputerKeys(() => this.visible);
    this.map = new TimbreMap(this.el.map, { announce: this.el.mapAnnounce });
    this.map.onPlay = (x, y, phase) => this.mapPlay(x, y, phase);

    const on = (element, type, handler) => this.on(element, type, handler);
    on(this.el.octaveDown, 'click', () => this.keyboard.shiftOctave(-1));
    on(this.el.octaveUp, 'click', () => this.keyboard.shiftOctave(1));
    on(this.el.connect, 'click', () => this.connectMidi());
    on(this.el.spread, 'input', () => this.settingsChanged());
    on(this.el.seed, 'change', () => this.settingsChanged());
    on(this.el.seedButton, 'click', () => {
      this.el.seed.value = String(1 + Math.floor(Math.random() * 999998));
      this.settingsChanged();
    });
    on(this.el.brightness, 'input', () => {
      const b = this.model?.description.brightness;
      if (!b) return;
      this.brightnessValue = b.dull + Number(this.el.brightness.value) * (b.bright - b.dull);
      this.settingsChanged();
    });
    on(this.el.brightnessReset, 'click', () => {
      this.brightnessValue = null;
      this.settingsChanged();
    });
    on(this.el.length, 'input', () => {
      this.el.lengthValue.textContent = `${Number(this.el.length.value).toFixed(2).replace(/0$/, '').replace(/\.0$/, '')} s`;
      this.showSelected();
    });
    on(this.el.render, 'click', () => this.renderNote({ andPlay: true }));
    on(this.el.play, 'click', () => this.playNote());
    on(this.el.heatButton, 'click', () => this.shadeMap());
    on(this.el.morphFrom, 'change', () => this.morphChanged());
    on(this.el.morphTo, 'change', () => this.morphChanged());
    on(this.el.morphPosition, 'input', () => this.morphChanged({ play: true }));
    on(this.el.morphPosition, 'change', () => this.releaseMorphNote());
    on(this.el.morphPosition, 'pointerup', () => this.releaseMorphNote());
    on(this.el.morphPosition, 'keyup', () => this.releaseMorphNote());
    on(this.el.morphPlay, 'click', () => this.playMorph());
    on(this.el.example, 'click', () => this.useExample());
    acceptFiles({
      on, button: this.el.fileButton, input: this.el.file, card: this.el.transferCard,
      indicator: this.el.drop, onFile: (file) => this.openFile(file),
    });
    on(this.el.record, 'click', () => this.toggleRecord());
    on(this.el.target, 'change', () => this.transferSettingsChanged());
    on(this.el.amount, 'input', () => this.transferSettingsChanged());
    on(this.el.transfer, 'click', () => this.transferNote({ andPlay: true }));
    on(this.el.playSource, 'click', () => this.playSource());
    on(this.el.every, 'click', () => this.renderEvery({ andPlay: true }));
    on(this.el.everyCancel, 'click', () => this.cancelBatch());
    on(this.el.everyPlay, 'click', () => this.playEvery());
    on(this.el.stop, 'click', () => this.stop());
    // A visitor's own model: the file input (its label is the button) or a drop on its zone.
    on(this.el.modelFile, 'change', () => {
      const file = this.el.modelFile.files?.[0];
      this.el.modelFile.value = '';
      if (file) this.openModelFile(file);
    });
    on(this.el.modelDrop, 'dragover', (event) => {
      if (![...(event.dataTransfer?.types ?? [])].includes('Files')) return;
      event.preventDefault();
      this.el.modelDrop.dataset.over = 'true';
    });
    on(this.el.modelDrop, 'dragleave', () => delete this.el.modelDrop.dataset.over);
    on(this.el.modelDrop, 'drop', (event) => {
      event.preventDefault();
      delete this.el.modelDrop.dataset.over;
      const file = event.dataTransfer?.files?.[0];
      if (file) this.openModelFile(file);
    });

    this.showProblems(this.liveStatus, { skip: ['no-getusermedia'] });
    if (!MidiInput.available) {
      this.el.device.textContent = 'This browser has no Web MIDI: the on-screen keyboard and your computer keys still play.';
      this.el.device.dataset.state = 'unavailable';
    }
    if (!MicRecorder.available) this.el.record.title = 'This browser cannot record here';
    this.el.heatLegend.querySelector('.notes-colour-bar').style.background = COLOUR_GRADIENT;
    this.showOctave();
    this.updateButtons();
  }

  // ---------- shown and left ----------

  // The panel is shown: start the Workers, fetch the model (once), then ONNX
  // Runtime Web (only now: the other panels never load it).
  activate() {
    super.activate();
    if (!this.ready) {
      this.ready = this.loadShipped().then(() => this.startOrt());
    }
    return this.ready;
  }

  deactivate() {
    this.stop();
    if (this.recorder) this.cancelRecording();
    super.deactivate();
  }

  get isPlaying() {
    return this.playing !== 'idle' || this.keyboard.heldPitches.length > 0 || !!this.mapVoice || !!this.recorder;
  }

  get engineStatus() {
    return this.liveStatus;
  }

  // ---------- the model ----------

  async loadShipped() {
    let bytes;
    try {
      const response = await fetch(new URL(MODEL_FILE, MODELS_URL));
      if (response.status === 404) {
        this.el.instrumentsNote.textContent = 'No note model is installed.';
        this.status.set('no-model', {
          kind: 'info',
          title: 'The note model is not here yet.',
          text: 'It is trained with the scripts (models/gmvae/gmvae.tmbl, docs/gmvae.md). You can load a GMVAE note model file at the bottom of this page.',
        });
        return;
      }
      if (!response.ok) throw new Error(`the note model could not be downloaded (HTTP ${response.status})`);
      bytes = await response.arrayBuffer();
    } catch (error) {
      this.el.instrumentsNote.textContent = 'The note model could not be downloaded.';
      this.status.set('model-error', { kind: 'error', title: 'The note model could not be downloaded.', text: `${sentence(error)}. Reload the page to try again.` });
      return;
    }
    if (await this.useModel(bytes, { fileName: MODEL_FILE, source: 'shipped' })) {
      this.loadCard();
      this.loadExamples();
    }
  }

  async openModelFile(file) {
    if (!file) return;
    if (file.size > MAX_MODEL_BYTES) {
      this.status.set('model-error', { kind: 'error', title: `“${file.name}” is too large for a note model.`, text: `Models up to ${MAX_MODEL_BYTES / 1048576} MB can be loaded. The model loaded before stays.` });
      return;
    }
    const bytes = await file.arrayBuffer();
    if (await this.useModel(bytes, { fileName: file.name, source: 'file' })) {
      this.el.card.hidden = true;
      this.startOrt();
    }
  }

  // Checks a model (its header here, then the core), loads it into the
  // Workers and the live synth; a refused file leaves the loaded one playing.
  async useModel(bytes, { fileName, source }) {
    let description;
    try {
      description = describeNotesModel(bytes, fileName);
    } catch (error) {
      this.modelRefused(fileName, error);
      return false;
    }
    try {
      await this.worker.start();
    } catch (error) {
      this.el.instrumentsNote.textContent = 'The note engine could not start.';
      this.status.set('worker-error', { kind: 'error', title: 'The note engine could not start.', text: `${sentence(error)}.`, sticky: true });
      return false;
    }
    try {
      await this.worker.load(bytes);
    } catch (error) {
      if (error instanceof CancelledError) return false;
      this.modelRefused(fileName, new NotesModelError(`“${fileName}” could not be loaded.`, `${sentence(error)}.`));
      return false;
    }
    this.batchWorker.modelBytes = bytes; // loaded into it on its first job
    this.batchWorker.loadedModel = null;
    this.status.clear('model-error');
    this.status.clear('no-model');
    const id = `${source}:${fileName}:${bytes.byteLength}:${tmblCrc(bytes)}`;
    this.model = { description, bytes, id, fileName, source, crc: tmblCrc(bytes), entry: { id } };
    this.modelLoaded();
    return true;
  }

  modelRefused(fileName, error) {
    const { title, text } = error instanceof NotesModelError ? error : { title: `“${fileName}” could not be loaded.`, text: `${sentence(error)}.` };
    this.status.set('model-error', { kind: 'error', title, text: `${text}${this.model ? ' The model loaded before stays.' : ''}` });
    if (!this.model) this.el.instrumentsNote.textContent = 'No note model is loaded.';
    this.root.dataset.modelError = String(Number(this.root.dataset.modelError ?? 0) + 1);
  }

  async loadCard() {
    try {
      const response = await fetch(new URL('MODEL_CARD.md', MODELS_URL));
      if (!response.ok) return;
      const text = await response.text();
      this.el.cardBody.replaceChildren(renderMarkdown(text, { doc: this.root.ownerDocument, headingOffset: 2 }));
      this.el.card.hidden = this.model?.source !== 'shipped';
    } catch {
      // no card: nothing to show
    }
  }

  modelLoaded() {
    const d = this.model.description;
    this.stop();
    this.latents = null;
    this.clearRendered();
    this.transferred = null;
    this.every = null;
    this.morph = null;
    this.heat = null;
    this.engines = { core: null, ort: null, choice: null, parity: null, ortState: 'idle', ortError: '' };
    this.el.model.textContent = `${d.name} (${d.instruments.length} instruments, ${formatBytes(this.model.bytes.byteLength)})`;
    this.el.model.dataset.model = this.model.id;
    this.root.dataset.model = this.model.id;
    this.el.instrumentsNote.textContent = `${d.instruments.length} instruments, notes ${rangeText([d.pitches[0], d.pitches[d.pitches.length - 1]])}. The range under each name is what it played in training.`;
    this.buildInstruments();
    this.fillSelects();
    this.map.setModel(d);
    this.morphChanged(); // the path between the two chosen instruments
    this.map.clearHeat();
    this.el.heatLegend.hidden = true;
    this.showLegend();
    this.el.map.setAttribute('aria-label', `Timbre map: ${d.map.points.length} notes of ${d.instruments.length} instruments, one dot each; ringed dots are each instrument’s typical timbre`);
    this.showBrightness();
    const oboe = d.instruments.findIndex((i) => i.name === 'oboe');
    this.chooseInstrument(this.instrument >= 0 && this.instrument < d.instruments.length ? this.instrument : Math.max(0, oboe));
    if (this.transferSource) this.encodeSource(this.transferSource);
    this.showEngines();
    this.updateButtons();
    if (this.engine?.node) this.loadEngineModel().catch((error) => this.onLiveError(error));
  }

  buildInstruments() {
    const doc = this.root.ownerDocument;
    const dark = isDark();
    const tiles = this.model.description.instruments.map((ins) => {
      const label = doc.createElement('label');
      label.className = 'model-tile notes-instrument';
      const input = doc.createElement('input');
      input.type = 'radio';
      input.name = 'notes-instrument';
      input.value = String(ins.index);
      input.setAttribute('aria-label', `${ins.label}, ${rangeText(ins.range)}`);
      this.on(input, 'change', () => input.checked && this.chooseInstrument(ins.index));
      const name = doc.createElement('span');
      name.className = 'model-name';
      const swatch = doc.createElement('span');
      swatch.className = 'swatch swatch-dot';
      swatch.setAttribute('aria-hidden', 'true');
      swatch.style.background = instrumentColour(ins.name, ins.index, dark);
      name.append(swatch, ins.label);
      const meta = doc.createElement('span');
      meta.className = 'model-meta';
      meta.textContent = rangeText(ins.range);
      label.append(input, name, meta);
      return label;
    });
    const legend = this.el.instruments.querySelector('legend');
    this.el.instruments.replaceChildren(legend, ...tiles);
  }

  fillSelects() {
    const make = () => this.model.description.instruments.map((ins) => new Option(ins.label, String(ins.index)));
    const keep = (select, fallback) => {
      const before = Number(select.value);
      select.replaceChildren(...make());
      const n = this.model.description.instruments.length;
      select.value = String(Number.isInteger(before) && before >= 0 && before < n && select.dataset.filled ? before : Math.min(n - 1, Math.max(0, fallback)));
      select.dataset.filled = 'true';
    };
    const find = (name, fallback) => {
      const i = this.model.description.instruments.findIndex((ins) => ins.name === name);
      return i >= 0 ? i : fallback;
    };
    keep(this.el.target, find('french_horn', 1));
    keep(this.el.morphFrom, find('flute', 0));
    keep(this.el.morphTo, find('trumpet', 1));
    this.showExamples();
    this.morphChanged();
  }

  // The example notes: recordings of the held-out sample set when the model's
  // folder lists some (models/gmvae/examples/index.json: [{file, instrument,
  // midi}]), and notes made by the network itself.
  showExamples() {
    const d = this.model.description;
    const doc = this.root.ownerDocument;
    const groups = [];
    const corpus = (this.corpus ?? []).filter((e) => e.instrument >= 0);
    if (corpus.length) {
      const group = doc.createElement('optgroup');
      group.label = 'Recorded (a sample set the model never heard)';
      group.append(...corpus.map((e, i) => new Option(`${d.instruments[e.instrument].label}, ${noteName(e.midi)}`, `corpus:${i}`)));
      groups.push(group);
    }
    const made = doc.createElement('optgroup');
    made.label = 'Made by the network';
    for (const [name, midi] of EXAMPLES) {
      const k = d.instruments.findIndex((ins) => ins.name === name);
      if (k >= 0) made.append(new Option(`${d.instruments[k].label}, ${noteName(midi)}`, `made:${k}:${midi}`));
    }
    groups.push(made);
    this.el.exampleSelect.replaceChildren(...groups);
  }

  async loadExamples() {
    try {
      const response = await fetch(new URL('examples/index.json', MODELS_URL));
      if (!response.ok) return;
      const list = await response.json();
      const names = this.model?.description.instruments.map((i) => i.name) ?? [];
      this.corpus = (Array.isArray(list) ? list : []).filter((e) => typeof e?.file === 'string' && Number.isInteger(e.midi))
        .map((e) => ({ file: e.file, midi: e.midi, instrument: names.indexOf(e.instrument) }));
      if (this.model) this.showExamples();
    } catch {
      // no corpus examples: the network's own notes remain
    }
  }

  showLegend() {
    const doc = this.root.ownerDocument;
    this.el.mapLegend.replaceChildren(...this.map.legend().map(({ label, colour }) => {
      const item = doc.createElement('span');
      item.className = 'legend-item';
      const swatch = doc.createElement('span');
      swatch.className = 'swatch swatch-dot';
      swatch.setAttribute('aria-hidden', 'true');
      swatch.style.background = colour;
      item.append(swatch, label);
      return item;
    }));
  }

  showBrightness() {
    const b = this.model?.description.brightness;
    this.el.brightness.disabled = !b;
    this.el.brightnessReset.disabled = !b || this.brightnessValue === null;
    if (!b) {
      this.el.brightnessValue.textContent = 'not in this model';
      this.el.brightnessHint.textContent = 'This model’s file names no brightness dimension.';
      return;
    }
    const r = Number.isFinite(b.r) ? Math.abs(b.r).toFixed(2) : '?';
    const hz = Number.isFinite(b.hzPerUnit) && b.hzPerUnit !== 0 ? `about ${Math.round(Math.abs(b.hzPerUnit))} Hz brighter per step` : '';
    this.el.brightnessHint.textContent = `Brightness sets timbre number ${b.dim + 1} of ${this.model.description.latent}: the one whose value follows the decoded notes’ spectral centroid (how bright they sound) most closely, |r| = ${r} over the instruments${hz ? `, ${hz}` : ''}. Right is brighter; “As sampled” keeps the instrument’s own value.`;
    const own = this.model.description.timbreMeans[Math.max(0, this.instrument)]?.[b.dim] ?? (b.dull + b.bright) / 2;
    const position = (value) => String(Math.min(1, Math.max(0, (value - b.dull) / (b.bright - b.dull))));
    if (this.brightnessValue === null) {
      this.el.brightness.value = position(own);
      this.el.brightnessValue.textContent = 'as sampled';
    } else {
      const hzChange = Number.isFinite(b.hzPerUnit) ? Math.round((this.brightnessValue - own) * b.hzPerUnit) : null;
      this.el.brightnessValue.textContent = hzChange !== null ? `${hzChange >= 0 ? '+' : '−'}${Math.abs(hzChange)} Hz` : this.brightnessValue.toFixed(2);
    }
    this.el.brightness.setAttribute('aria-valuetext', this.el.brightnessValue.textContent);
  }

  chooseInstrument(index) {
    const d = this.model?.description;
    if (!d) return;
    this.instrument = index;
    const ins = d.instruments[index];
    for (const input of this.el.instruments.querySelectorAll('input')) input.checked = Number(input.value) === index;
    this.keyboard.configure({ low: keyboardLow(ins.range, KEYBOARD_KEYS), keys: KEYBOARD_KEYS, range: ins.range });
    if (this.pitch < ins.range[0] || this.pitch > ins.range[1]) this.pitch = defaultPitch(ins.range);
    this.root.dataset.instrument = ins.name;
    this.map.setSelected(index);
    this.el.every.querySelector('span').textContent = `Render every note of the ${inSentence(ins.label)}`;
    this.settingsChanged();
  }

  // ---------- the sampler's settings and latents ----------

  get spread() {
    return Number(this.el.spread.value);
  }

  get seed() {
    const seed = Math.round(Number(this.el.seed.value));
    return Number.isFinite(seed) && seed >= 1 ? Math.min(999999, seed) : 1;
  }

  get held() {
    return Number(this.el.length.value);
  }

  settingsKey() {
    return `${this.model?.id}|${this.instrument}|${this.spread}|${this.seed}`;
  }

  settingsChanged() {
    this.el.spreadValue.textContent = this.spread.toFixed(2);
    this.showBrightness();
    this.showSelected();
    if (this.model) this.prepareLatents().catch(() => {});
    this.updateButtons();
  }

  // The latents of every note of the model for the current instrument,
  // variation and seed (the brightness is set on top, at play time): computed
  // once in the Worker, so a key press plays at once.
  prepareLatents() {
    const key = this.settingsKey();
    if (this.latents?.key === key) return Promise.resolve(this.latents);
    if (this.latentJob?.key === key) return this.latentJob.promise;
    const d = this.model.description;
    const items = d.pitches.map((midi) => ({ instrument: this.instrument, midi }));
    const promise = this.worker.sample(items, this.spread, this.seed).then((flat) => {
      const byPitch = new Map(d.pitches.map((midi, i) => [midi, flat.slice(i * LATENT_SIZE, (i + 1) * LATENT_SIZE)]));
      const latents = { key, byPitch };
      if (this.settingsKey() === key) this.latents = latents;
      return latents;
    });
    this.latentJob = { key, promise };
    promise.catch((error) => {
      if (!(error instanceof CancelledError)) this.liveStatus.set('live-error', { kind: 'error', title: 'The notes could not be prepared.', text: `${sentence(error)}.` });
    }).finally(() => {
      if (this.latentJob?.promise === promise) this.latentJob = null;
    });
    return promise;
  }

  // The latent the sampler plays for a MIDI note (brightness set), or null
  // when the model has no such pitch.
  async latentFor(midi) {
    const latents = await this.prepareLatents();
    const z = latents.byPitch.get(midi);
    return z ? withBrightness(z, this.model.description.brightness, this.brightnessValue) : null;
  }

  showSelected() {
    const d = this.model?.description;
    if (!d) return;
    const ins = d.instruments[this.instrument];
    const text = `${inSentence(ins.label)}, ${noteName(this.pitch)}`;
    this.el.selected.textContent = text;
    this.el.selected.dataset.pitch = String(this.pitch);
    this.el.mapPitch.textContent = noteName(this.pitch);
    this.el.render.querySelector('span').textContent = `Render ${noteName(this.pitch)}`;
  }

  renderKey() {
    return `${this.settingsKey()}|${this.pitch}|${this.brightnessValue}|${this.held}`;
  }

  // ---------- live playing ----------

  // The live synth (the worklet); finished renders play through this.player.
  createEngine(context) {
    return new NotesEngine(context).toDestination();
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

  describeEngineFailure(error) {
    if (!(error instanceof CoreError)) return { title: 'The audio could not start.', text: `${sentence(error)}.` };
    const missing = /GmvaeNotesLive/.test(error.message);
    return {
      title: missing ? 'This build of Timbrel has no live note synthesizer yet.' : 'The live note synthesizer cannot play on this audio device.',
      text: missing
        ? `${sentence(error)}. Rendering notes, the map’s shading and transfers still work.`
        : `${sentence(error)}${error.sampleRate ? ` (the device runs at ${error.sampleRate} Hz)` : ''}. Rendering notes and transfers still work.`,
    };
  }

  engineLost() {
    clearInterval(this.meterTimer);
    this.setPlaying('idle');
  }

  onLiveError(error) {
    if (isEngineFailure(error)) return;
    this.liveStatus.set('live-error', { kind: 'error', title: 'The note could not be played live.', text: `${sentence(error)}.` });
  }

  // Runs fn(engine) once the worklet holds the model; the first call (inside a
  // key press or click) starts the audio.
  withLive(fn) {
    if (!this.model) {
      this.liveStatus.set('no-model', { kind: 'info', title: 'No note model is loaded yet.', text: 'Wait until it has loaded, or load one at the bottom of the page.' });
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
    if (this.engine?.node && this.engine.modelId === this.model.id) {
      fn(this.engine);
      return;
    }
    ready
      .then(() => this.loadEngineModel())
      .then(() => {
        if (!this.engine) return;
        fn(this.engine);
        this.checkRunning();
      })
      .catch((error) => this.onLiveError(error));
  }

  liveNote(pitch, velocity, on) {
    if (!on) {
      this.engine?.noteOff(pitch);
      return;
    }
    this.pitch = pitch;
    this.showSelected();
    this.root.dataset.lastNote = String(pitch);
    const ins = this.model?.description.instruments[this.instrument];
    if (ins && (pitch < ins.range[0] || pitch > ins.range[1])) {
      this.liveStatus.set('outside', { kind: 'info', title: `${noteName(pitch)} lies outside the ${inSentence(ins.label)}’s range (${rangeText(ins.range)}).`, text: 'The network never heard this instrument there: what you hear is its guess.' });
    } else {
      this.liveStatus.clear('outside');
    }
    const held = () => this.keyboard.active.has(pitch) || this.midiHeld.has(pitch);
    this.withLive((engine) => {
      this.latentFor(pitch).then((latent) => {
        if (!latent) {
          this.liveStatus.set('outside', { kind: 'info', title: `The model has no note ${noteName(pitch)}.`, text: `It learned ${rangeText([this.model.description.pitches[0], this.model.description.pitches.at(-1)])}.` });
          return;
        }
        if (held() && this.engine === engine) engine.noteOn(pitch, velocity, latent);
      }).catch((error) => this.onLiveError(error));
    });
  }

  showOctave() {
    const low = this.keyboard.low;
    this.el.octaveValue.textContent = `${noteName(low)} – ${noteName(low + this.keyboard.keys - 1)}`;
    this.el.octaveDown.disabled = !this.canShift(-1);
    this.el.octaveUp.disabled = !this.canShift(1);
  }

  // The keyboard moves by octaves only while it still shows some of the
  // instrument's range.
  canShift(direction) {
    const low = this.keyboard.low + 12 * Math.sign(direction);
    const high = low + this.keyboard.keys - 1;
    if (low < 0 || high > 127) return false;
    const range = this.model?.description.instruments[this.instrument]?.range;
    return !range || (high >= range[0] && low <= range[1]);
  }

  startMeter() {
    clearInterval(this.meterTimer);
    this.meterTimer = setInterval(() => {
      const db = this.engine ? this.engine.levelDb : -120;
      showLevel(this.el.levelMeter, db);
      this.root.dataset.level = db.toFixed(1);
    }, 100);
  }

  async connectMidi() {
    if (!this.midiInput) {
      this.midiInput = new MidiInput();
      this.midiInput.onNote = (message) => this.onMidiNote(message);
      this.midiInput.onDevices = (names) => {
        this.el.device.textContent = names.length ? `Listening to ${names.join(', ')}.` : 'Web MIDI is on, but no MIDI keyboard is connected. Plug one in: it is picked up at once.';
        this.el.device.dataset.state = names.length ? 'connected' : 'none';
      };
    }
    this.el.device.textContent = 'Asking the browser for MIDI devices…';
    this.el.device.dataset.state = 'asking';
    try {
      await this.midiInput.connect();
      for (const key of ['midi-unsupported', 'midi-denied', 'midi-error']) this.liveStatus.clear(key);
    } catch (error) {
      const message = describeMidiError(error);
      this.liveStatus.set(message.key, { kind: message.key === 'midi-unsupported' ? 'warning' : 'error', title: message.title, text: message.text });
      this.el.device.textContent = message.title;
      this.el.device.dataset.state = message.key.replace(/^midi-/, '');
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

  // ---------- the timbre map ----------

  // The latent of a map point at the chosen note: the pitch component's mean
  // and the point's timbre (the map defines the timbre: no brightness).
  mapLatent(x, y) {
    const d = this.model.description;
    return joinLatent(pitchMean(d, this.pitch), mapPointTimbre(d, x, y));
  }

  mapPlay(x, y, phase) {
    if (!this.model) return;
    if (phase === 'end') {
      if (this.mapVoice) this.engine?.noteOff(this.mapVoice.pitch);
      this.mapVoice = null;
      this.root.dataset.map = 'off';
      return;
    }
    const now = performance.now();
    const voice = this.mapVoice;
    if (phase === 'move' && voice) {
      const [[x0, x1], [y0, y1]] = this.map.extent;
      const far = Math.hypot((x - voice.x) / (x1 - x0), (y - voice.y) / (y1 - y0)) > 0.03;
      if (!far || now - voice.at < MAP_RETRIGGER_MS) return;
    }
    const pitch = this.pitch;
    const latent = this.mapLatent(x, y);
    this.mapVoice = { pitch, x, y, at: now };
    this.root.dataset.map = `${x.toFixed(3)},${y.toFixed(3)}`;
    this.withLive((engine) => {
      if (!this.mapVoice) return;
      if (voice) engine.noteOff(voice.pitch);
      engine.noteOn(pitch, VELOCITY, latent);
    });
  }

  morphChanged({ play = false } = {}) {
    const d = this.model?.description;
    if (!d) return;
    const a = Number(this.el.morphFrom.value);
    const b = Number(this.el.morphTo.value);
    const t = Number(this.el.morphPosition.value) / 100;
    const pct = Math.round(t * 100);
    this.el.morphPositionValue.textContent = pct === 0 ? d.instruments[a].label : pct === 100 ? d.instruments[b].label : `${pct} % of the way`;
    this.map.setPath({ from: d.map.means[a], to: d.map.means[b], t, playing: this.playing === 'morph' });
    if (play) {
      const latent = joinLatent(pitchMean(d, this.pitch), morphTimbre(d, a, b, t));
      const now = performance.now();
      if (this.morphVoice && now - this.morphVoice.at < MAP_RETRIGGER_MS) return;
      const previous = this.morphVoice;
      this.morphVoice = { pitch: this.pitch, at: now };
      this.withLive((engine) => {
        if (previous) engine.noteOff(previous.pitch);
        engine.noteOn(this.morphVoice?.pitch ?? this.pitch, VELOCITY, latent);
      });
    }
  }

  releaseMorphNote() {
    if (!this.morphVoice) return;
    this.engine?.noteOff(this.morphVoice.pitch);
    this.morphVoice = null;
  }

  // The morph rendered offline: MORPH_STEPS notes from one typical timbre to
  // the other at the chosen note, played while the map's marker follows.
  async playMorph() {
    const d = this.model?.description;
    if (!d) return;
    const player = this.ensurePlayer();
    const a = Number(this.el.morphFrom.value);
    const b = Number(this.el.morphTo.value);
    const latents = new Float32Array(MORPH_STEPS * LATENT_SIZE);
    const zp = pitchMean(d, this.pitch);
    for (let i = 0; i < MORPH_STEPS; i++) latents.set(joinLatent(zp, morphTimbre(d, a, b, i / (MORPH_STEPS - 1))), i * LATENT_SIZE);
    this.el.morphPlay.setAttribute('aria-busy', 'true');
    let result;
    try {
      result = await this.worker.render(latents, { held: 0.3, gap: 0.05 });
    } catch (error) {
      this.el.morphPlay.setAttribute('aria-busy', 'false');
      if (!(error instanceof CancelledError)) this.liveStatus.set('render-error', { kind: 'error', title: 'The morph could not be rendered.', text: `${sentence(error)}.` });
      return;
    }
    this.el.morphPlay.setAttribute('aria-busy', 'false');
    this.morph = { samples: result.audio, starts: result.starts, a, b, pitch: this.pitch };
    const names = `${d.instruments[a].name}-to-${d.instruments[b].name}`;
    this.offerDownload(this.el.morphDownload, new Blob([encodeWav([result.audio], MODEL_RATE)], { type: 'audio/wav' }), `timbrel-morph-${names}-${noteName(this.pitch)}.wav`, 'Download WAV');
    this.el.morphDownload.hidden = false;
    if (player) {
      this.play(result.audio, 'morph');
      this.animate(() => {
        if (this.playing !== 'morph' || !this.player) {
          this.morphChanged();
          return false;
        }
        const t = Math.min(1, Math.max(0, this.player.bufferTime / (result.audio.length / MODEL_RATE)));
        this.map.setPath({ from: d.map.means[a], to: d.map.means[b], t, playing: true });
        return true;
      });
    }
  }

  // ---------- batch engines: the core and ONNX Runtime Web ----------

  // Loads ONNX Runtime Web and the decoder graph written from this very model
  // file (build-onnx/gmvae/source.json names it); any failure leaves the core
  // as the batch engine and says why.
  async startOrt({ backend = 'auto' } = {}) {
    if (!this.model) return;
    const model = this.model;
    this.engines.ortState = 'loading';
    this.showEngines();
    try {
      if (model.source !== 'shipped') throw new Error('ONNX Runtime runs the graphs exported from the shipped model; a model of your own is decoded by the core');
      const response = await fetch(new URL('source.json', ONNX_URL));
      if (!response.ok) throw new Error('the note model’s ONNX graphs are not on the server (scripts/setup.sh writes them into build-onnx/)');
      const source = await response.json();
      if (Number(source.crc32) !== model.crc || Number(source.bytes) !== model.bytes.byteLength) {
        throw new Error('the ONNX graphs on the server were written from another copy of the model (run scripts/setup.sh again)');
      }
      const session = await this.ort.load(new URL(source.decoder ?? 'gmvae.decoder.onnx', ONNX_URL), { backend });
      if (this.model !== model) return;
      this.engines.ortState = 'ready';
      this.engines.ortSession = session;
      this.engines.ortError = '';
    } catch (error) {
      if (this.model !== model) return;
      this.engines.ortState = 'unavailable';
      this.engines.ortError = sentence(error);
    }
    this.showEngines();
    if (this.visible && !this.heat && !this.busy) this.shadeMap();
  }

  ortLabel() {
    const s = this.engines.ortSession;
    if (!s) return 'ONNX Runtime Web';
    return s.backend === 'webgpu' ? 'ONNX Runtime Web (WebGPU)' : `ONNX Runtime Web (WebAssembly, ${s.threads} thread${s.threads === 1 ? '' : 's'})`;
  }

  // Decodes latents (n x 32) with an engine ('core' | 'ort'): {mels, ms}.
  decodeWith(engine, latents, { onProgress } = {}) {
    if (engine === 'ort') return this.ort.decode(latents, { onProgress });
    return this.batchWorker.decode(latents, { onProgress });
  }

  // Both engines on the same batch (after one warm-up note each): notes per
  // second, and how far apart their patches are. The faster decodes from then on.
  async measureEngines(latents) {
    const n = Math.min(BENCH, latents.length / LATENT_SIZE);
    const batch = latents.slice(0, n * LATENT_SIZE);
    const warm = batch.slice(0, LATENT_SIZE);
    await this.batchWorker.decode(warm);
    const core = await this.batchWorker.decode(batch);
    this.engines.core = { rate: notesPerSecond(n, core.ms), ms: core.ms, n, label: 'the core (WebAssembly)' };
    let ort = null;
    if (this.engines.ortState === 'ready') {
      try {
        await this.ort.decode(warm);
        ort = await this.ort.decode(batch);
        this.engines.ort = { rate: notesPerSecond(n, ort.ms), ms: ort.ms, n, label: this.ortLabel(), backend: this.engines.ortSession.backend };
        this.engines.parity = { maxDiff: maxAbsDiff(core.mels, ort.mels), n };
      } catch (error) {
        if (error instanceof CancelledError) throw error;
        this.engines.ortState = 'unavailable';
        this.engines.ortError = sentence(error);
      }
    }
    const best = fasterEngine([{ engine: 'core', rate: this.engines.core.rate }, this.engines.ort && { engine: 'ort', rate: this.engines.ort.rate }]);
    this.engines.choice = best?.engine ?? 'core';
    this.showEngines();
    return { n, mels: this.engines.choice === 'ort' && ort ? ort.mels : core.mels };
  }

  showEngines() {
    const e = this.engines;
    const parts = [];
    if (e.core) parts.push(`${e.core.label}: ${formatRate(e.core.rate)}`);
    if (e.ort) parts.push(`${e.ort.label}: ${formatRate(e.ort.rate)}`);
    let text;
    if (!parts.length) {
      text = e.ortState === 'loading' ? 'Batch engines: loading ONNX Runtime Web…' : 'Batch engines: not measured yet (they are, on the first batch).';
    } else {
      const chosen = e.choice === 'ort' ? e.ort.label : e.core.label;
      text = `Batch decoding, measured on the same ${e.core.n} notes: ${parts.join(' · ')}. Using ${chosen}, the faster here.`;
      if (e.parity) text += ` Their patches agree within ${e.parity.maxDiff.toExponential(1)} (on a −1…1 scale).`;
    }
    if (e.ortState === 'unavailable' && e.ortError) {
      const reason = /^[A-Z][a-z]/.test(e.ortError) ? e.ortError.charAt(0).toLowerCase() + e.ortError.slice(1) : e.ortError;
      text += ` ONNX Runtime Web is not used: ${reason}.`;
    }
    this.el.engines.textContent = text;
    this.el.engines.dataset.choice = e.choice ?? '';
    this.el.engines.dataset.ort = e.ortState;
    const chosen = e.choice === 'ort' ? e.ort : e.core;
    this.el.batchEngine.textContent = chosen ? `${chosen.label}, ${formatRate(chosen.rate)}` : e.ortState === 'ready' ? 'not measured yet' : 'the core (WebAssembly)';
    this.el.batchEngine.dataset.engine = e.choice ?? '';
  }

  // Decodes a batch with the chosen engine (measuring both first, on this
  // batch, when they were not yet): {mels, engine, ms}.
  async decodeBatch(latents, { onProgress } = {}) {
    const t0 = performance.now();
    const n = latents.length / LATENT_SIZE;
    let head = null;
    let from = 0;
    if (!this.engines.choice) {
      head = await this.measureEngines(latents);
      from = head.n;
      onProgress?.(from / n);
    }
    const engine = this.engines.choice;
    let mels;
    if (from < n) {
      const rest = await this.decodeWith(engine, latents.slice(from * LATENT_SIZE), { onProgress: (f) => onProgress?.((from + f * (n - from)) / n) });
      if (!head) mels = rest.mels;
      else {
        const size = rest.mels.length / (n - from);
        mels = new Float32Array(n * size);
        mels.set(head.mels, 0);
        mels.set(rest.mels, from * size);
      }
    } else {
      mels = head.mels;
    }
    return { mels, engine, ms: performance.now() - t0 };
  }

  // The heat map: a note decoded at every cell of a grid over the map (the
  // chosen note's pitch component, the point's timbre), its brightness measured.
  // engine: 'auto' (the faster, measured on this batch the first time), 'core' or 'ort'.
  async shadeMap({ engine = 'auto' } = {}) {
    const d = this.model?.description;
    if (!d || this.busy) return null;
    const job = ++this.job;
    this.busy = 'heat';
    this.updateButtons();
    this.root.dataset.heat = 'running';
    this.el.heatValue.textContent = 'Decoding the map…';
    const grid = mapGrid(d.map.extent, HEAT_COLS, HEAT_ROWS);
    const n = HEAT_COLS * HEAT_ROWS;
    const zp = pitchMean(d, 69);
    const latents = new Float32Array(n * LATENT_SIZE);
    for (let i = 0; i < n; i++) latents.set(joinLatent(zp, mapPointTimbre(d, grid[2 * i], grid[2 * i + 1])), i * LATENT_SIZE);
    const progress = (f) => {
      if (job === this.job) this.el.heatValue.textContent = `Decoding the map: ${Math.round(f * 100)} %`;
    };
    let result;
    try {
      if (engine === 'auto') result = await this.decodeBatch(latents, { onProgress: progress });
      else {
        const r = await this.decodeWith(engine, latents, { onProgress: progress });
        result = { ...r, engine };
      }
    } catch (error) {
      if (job !== this.job) return null;
      this.busy = '';
      this.root.dataset.heat = 'error';
      this.el.heatValue.textContent = error instanceof CancelledError ? 'Cancelled.' : 'The map could not be shaded.';
      if (!(error instanceof CancelledError)) this.everyStatus.set('heat-error', { kind: 'error', title: 'The map could not be shaded.', text: `${sentence(error)}.` });
      this.updateButtons();
      return null;
    }
    if (job !== this.job) return null;
    this.busy = '';
    const size = d.frames * d.melBins;
    const values = new Float32Array(n);
    const options = { frames: d.frames, melBins: d.melBins, dbMin: d.meta.db_min ?? -100, dbMax: d.meta.db_max ?? 60, centres: this.centres };
    for (let i = 0; i < n; i++) values[i] = melCentroidHz(result.mels.subarray(i * size, (i + 1) * size), options);
    this.heat = { values, engine: result.engine, ms: result.ms, mels: result.mels, latents };
    this.map.setHeat({ cols: HEAT_COLS, rows: HEAT_ROWS, values });
    this.el.heatLegend.hidden = false;
    this.el.heatRange.textContent = `spectral centroid ${Math.round(this.map.heat.lo)} – ${Math.round(this.map.heat.hi)} Hz, at A4`;
    const label = result.engine === 'ort' ? this.ortLabel() : 'the core';
    this.el.heatValue.textContent = `Shaded: ${n} notes decoded by ${label} in ${(result.ms / 1000).toFixed(2)} s.`;
    this.root.dataset.heat = 'done';
    this.everyStatus.clear('heat-error');
    this.updateButtons();
    return this.heat;
  }

  // Every note of the instrument: latents sampled (variation, seed,
  // brightness), decoded as one batch, each patch rendered to a held note.
  async renderEvery({ andPlay = false } = {}) {
    const d = this.model?.description;
    if (!d) return null;
    if (this.busy) this.cancelBatch();
    const player = andPlay ? this.ensurePlayer() : null;
    const job = ++this.job;
    const ins = d.instruments[this.instrument];
    const pitches = d.pitches.filter((p) => p >= ins.range[0] && p <= ins.range[1]);
    this.busy = 'every';
    this.every = null;
    this.el.everyDownloadRow.hidden = true;
    this.everyStatus.clear('every-error');
    this.root.dataset.every = 'running';
    this.updateButtons();
    this.setProgress(0, 'running', `sampling ${pitches.length} notes…`);
    let result;
    try {
      const raw = await this.batchWorker.sample(pitches.map((midi) => ({ instrument: this.instrument, midi })), this.spread, this.seed);
      const latents = new Float32Array(raw.length);
      for (let i = 0; i < pitches.length; i++) {
        latents.set(withBrightness(raw.subarray(i * LATENT_SIZE, (i + 1) * LATENT_SIZE), d.brightness, this.brightnessValue), i * LATENT_SIZE);
      }
      const decoded = await this.decodeBatch(latents, { onProgress: (f) => job === this.job && this.setProgress(0.3 * f, 'running', `decoding ${pitches.length} notes: ${Math.round(30 * f)} %`) });
      if (job !== this.job) return null;
      const rendered = await this.batchWorker.renderMels(decoded.mels, pitches.length, pitches, {
        held: 0.6,
        gap: 0.12,
        iterations: 10, // a scale of many notes: fewer Griffin-Lim rounds, heard sooner
        onProgress: (f) => job === this.job && this.setProgress(0.3 + 0.7 * f, 'running', `rendering: ${Math.round(30 + 70 * f)} %`),
      });
      result = { ...rendered, decodeMs: decoded.ms, engine: decoded.engine };
    } catch (error) {
      if (job !== this.job) return null;
      this.busy = '';
      this.root.dataset.every = error instanceof CancelledError ? 'cancelled' : 'error';
      this.setProgress(0, error instanceof CancelledError ? 'idle' : 'error', error instanceof CancelledError ? 'cancelled' : 'failed');
      if (!(error instanceof CancelledError)) this.everyStatus.set('every-error', { kind: 'error', title: 'The notes could not be rendered.', text: `${sentence(error)}.` });
      this.updateButtons();
      return null;
    }
    if (job !== this.job) return null;
    this.busy = '';
    this.every = { samples: result.audio, starts: result.starts, pitches, instrument: this.instrument, engine: result.engine, decodeMs: result.decodeMs, ms: result.ms };
    const seconds = result.audio.length / MODEL_RATE;
    const engineLabel = result.engine === 'ort' ? this.ortLabel() : 'the core';
    this.setProgress(1, 'done', `${pitches.length} notes, ${rangeText([pitches[0], pitches.at(-1)])}, ${seconds.toFixed(1)} s: decoded by ${engineLabel} in ${(result.decodeMs / 1000).toFixed(2)} s`);
    this.root.dataset.every = 'done';
    this.offerDownload(this.el.everyDownload, new Blob([encodeWav([result.audio], MODEL_RATE)], { type: 'audio/wav' }), `timbrel-${ins.name}-every-note.wav`, `Download WAV (${formatBytes(result.audio.length * 2 + 44)})`);
    this.el.everyDownloadRow.hidden = false;
    this.updateButtons();
    if (player) this.play(result.audio, 'every');
    return this.every;
  }

  cancelBatch() {
    if (!this.busy) return;
    this.job++;
    this.busy = '';
    this.batchWorker.cancel();
    this.root.dataset.every = 'cancelled';
    this.setProgress(0, 'idle', 'cancelled');
    this.updateButtons();
  }

  setProgress(fraction, state, text) {
    const pct = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
    this.el.progress.value = pct;
    this.el.progressValue.dataset.state = state;
    this.el.progressValue.dataset.percent = String(pct);
    this.el.progressValue.textContent = text ?? `${pct} %`;
  }

  playEvery() {
    if (!this.every) return;
    if (this.ensurePlayer()) this.play(this.every.samples, 'every');
  }

  // ---------- one note, rendered offline ----------

  clearRendered() {
    this.rendered = null;
    this.el.download.hidden = true;
  }

  async renderNote({ andPlay = false } = {}) {
    if (!this.model) return null;
    const player = andPlay ? this.ensurePlayer() : null;
    const midi = this.pitch;
    const key = this.renderKey();
    const held = this.held;
    const instrument = this.instrument;
    this.el.render.setAttribute('aria-busy', 'true');
    this.root.dataset.render = 'running';
    this.liveStatus.clear('render-error');
    let result;
    let latent;
    try {
      latent = await this.latentFor(midi);
      if (!latent) throw new Error(`the model has no note ${noteName(midi)}`);
      result = await this.worker.render(latent, { held });
    } catch (error) {
      this.el.render.setAttribute('aria-busy', 'false');
      this.root.dataset.render = 'error';
      if (!(error instanceof CancelledError)) this.liveStatus.set('render-error', { kind: 'error', title: 'The note could not be rendered.', text: `${sentence(error)}.` });
      return null;
    }
    this.el.render.setAttribute('aria-busy', 'false');
    this.rendered = { samples: result.audio, latent, midi, instrument, held, key, ms: result.ms };
    this.root.dataset.render = 'done';
    const ins = this.model.description.instruments[instrument];
    this.offerDownload(this.el.download, new Blob([encodeWav([result.audio], MODEL_RATE)], { type: 'audio/wav' }), `timbrel-${ins.name}-${noteName(midi).replace('♯', 's')}-seed${this.seed}.wav`, `Download WAV (${formatBytes(result.audio.length * 2 + 44)})`);
    this.el.download.hidden = false;
    this.updateButtons();
    if (player) this.play(result.audio, 'note');
    return this.rendered;
  }

  async playNote() {
    const player = this.ensurePlayer();
    if (!player) return;
    if (this.rendered?.key === this.renderKey()) this.play(this.rendered.samples, 'note');
    else await this.renderNote({ andPlay: true });
  }

  // ---------- transfer ----------

  async useExample() {
    const d = this.model?.description;
    if (!d) return;
    const [kind, ...rest] = this.el.exampleSelect.value.split(':');
    this.transferStatus.clear('source-error');
    if (kind === 'corpus') {
      const example = this.corpus?.[Number(rest[0])];
      if (!example) return;
      const name = `${d.instruments[example.instrument].label}, ${noteName(example.midi)} (recorded)`;
      try {
        const response = await fetch(new URL(`examples/${example.file}`, MODELS_URL));
        if (!response.ok) throw new Error(`it could not be downloaded (HTTP ${response.status})`);
        const clip = await decodeClip(new File([await response.blob()], example.file));
        await this.setSource({ ...clip, name, source: 'corpus' });
      } catch (error) {
        const { title, text } = error instanceof AudioFileError ? error : { title: 'The example could not be loaded.', text: `${sentence(error)}.` };
        this.transferStatus.set('source-error', { kind: 'error', title, text });
      }
      return;
    }
    const [k, midi] = rest.map(Number);
    const ins = d.instruments[k];
    if (!ins) return;
    let result;
    try {
      const latent = await this.worker.sample([{ instrument: k, midi }], 0, 1);
      result = await this.worker.render(latent, { held: 1.2 });
    } catch (error) {
      if (!(error instanceof CancelledError)) this.transferStatus.set('source-error', { kind: 'error', title: 'The example could not be made.', text: `${sentence(error)}.` });
      return;
    }
    let peak = 0;
    for (const v of result.audio) peak = Math.max(peak, Math.abs(v));
    await this.setSource({ name: `${ins.label}, ${noteName(midi)} (made by the network)`, samples: result.audio, seconds: result.audio.length / MODEL_RATE, peak, source: 'example' });
  }

  async openFile(file) {
    this.transferStatus.clear('source-error');
    let clip;
    try {
      clip = await decodeClip(file);
    } catch (error) {
      const { title, text } = error instanceof AudioFileError ? error : { title: `“${file.name}” could not be read.`, text: `${sentence(error)}.` };
      this.transferStatus.set('source-error', { kind: 'error', title, text: `${text}${this.transferSource ? ' The note loaded before stays.' : ''}` });
      this.root.dataset.sourceError = String(Number(this.root.dataset.sourceError ?? 0) + 1);
      return;
    }
    await this.setSource({ ...clip, name: file.name, source: 'file' });
  }

  // A note to transfer: its onset found (the model reads a note from its first
  // sample), a silent clip refused in words, then encoded.
  async setSource(clip) {
    const onset = findOnset(clip.samples);
    if (onset.silent) {
      this.transferStatus.set('source-error', {
        kind: 'error',
        title: `“${clip.name}” is silent.`,
        text: `Its loudest sample is ${clip.peak > 0 ? `${(20 * Math.log10(clip.peak)).toFixed(0)} dBFS` : 'zero'}: there is no note to hear. ${this.transferSource ? 'The note loaded before stays.' : 'Try another file or record again, closer to the microphone.'}`,
      });
      this.root.dataset.sourceError = String(Number(this.root.dataset.sourceError ?? 0) + 1);
      return;
    }
    const samples = clip.samples.slice(onset.start);
    const source = { ...clip, samples, seconds: samples.length / MODEL_RATE, trimmed: onset.start / MODEL_RATE };
    this.stop();
    this.transferSource = source;
    this.transferred = null;
    this.el.transferDownloadRow.hidden = true;
    this.el.transferResult.textContent = '';
    this.transferStatus.clear('source-error');
    this.root.dataset.source = clip.source;
    showFacts(this.el.sourceFacts, [
      ['Note', clip.name],
      ['Length', `${source.seconds.toFixed(2)} s${onset.start > 0 ? ` (from its onset, ${source.trimmed.toFixed(2)} s in)` : ''}`],
      ['Loudest sample', `${(20 * Math.log10(Math.max(1e-9, clip.peak))).toFixed(1)} dBFS`],
    ]);
    this.el.sourceFacts.hidden = false;
    await this.encodeSource(source);
  }

  // The network hears instruments differently at other levels: the note is
  // first brought to the level of the model's own notes (measured once per model).
  async encodeSource(source) {
    this.el.heard.textContent = 'Listening to the note…';
    try {
      if (!this.reference || this.reference.model !== this.model) this.reference = { model: this.model, rms: await this.worker.reference() };
      const levelled = levelTo(source.samples, this.reference.rms);
      source.gainDb = levelled.gainDb;
      this.root.dataset.sourceGain = levelled.gainDb.toFixed(1);
      const { latent, heard } = await this.worker.encode(levelled.samples);
      if (this.transferSource !== source) return;
      source.latent = latent;
      source.heard = heard;
    } catch (error) {
      if (this.transferSource !== source || error instanceof CancelledError) return;
      this.el.heard.textContent = 'The network could not read this note.';
      this.transferStatus.set('source-error', { kind: 'error', title: 'The note could not be read.', text: `${sentence(error)}.` });
      return;
    }
    const d = this.model.description;
    const ins = d.instruments[source.heard];
    const gain = Math.abs(source.gainDb) >= 1 ? ` It was made ${Math.round(Math.abs(source.gainDb))} dB ${source.gainDb > 0 ? 'louder' : 'quieter'} first, to the level of the notes the network learned.` : '';
    this.el.heard.textContent = `The network hears ${ins ? withArticle(ins.label) : 'an unknown instrument'} in this note (the star on the map).${gain}`;
    const at = projectOnMap(d.map, source.latent.subarray(d.latent));
    this.map.setMarker({ ...at, label: 'your note' });
    this.el.heard.dataset.heard = ins?.name ?? '';
    this.root.dataset.heard = ins?.name ?? '';
    this.updateButtons();
  }

  transferSettingsChanged() {
    const amount = Number(this.el.amount.value);
    this.el.amountValue.textContent = amount === 1 ? 'all the way' : amount === 0 ? 'none' : `${Math.round(amount * 100)} %`;
    if (this.transferred) this.el.transferResult.textContent = 'Settings changed: transfer again to hear them.';
  }

  async transferNote({ andPlay = false } = {}) {
    const source = this.transferSource;
    if (!source?.latent || !this.model) return null;
    const player = andPlay ? this.ensurePlayer() : null;
    const target = Number(this.el.target.value);
    const amount = Number(this.el.amount.value);
    const d = this.model.description;
    this.el.transfer.setAttribute('aria-busy', 'true');
    this.root.dataset.transfer = 'running';
    this.transferStatus.clear('transfer-error');
    let audio;
    let heard;
    try {
      const { latent } = await this.worker.transfer(source.latent, target, amount);
      const held = Math.min(4, Math.max(0.5, source.seconds - 0.15));
      audio = (await this.worker.render(latent, { held })).audio;
      if (player) this.play(audio, 'transfer');
      // Heard as the source was: at the level the network learned notes at.
      heard = await this.worker.verdict(this.reference ? levelTo(audio, this.reference.rms).samples : audio);
    } catch (error) {
      this.el.transfer.setAttribute('aria-busy', 'false');
      this.root.dataset.transfer = 'error';
      if (!(error instanceof CancelledError)) this.transferStatus.set('transfer-error', { kind: 'error', title: 'The note could not be transferred.', text: `${sentence(error)}.` });
      return null;
    }
    this.el.transfer.setAttribute('aria-busy', 'false');
    this.transferred = { samples: audio, target, amount, heard, source };
    const from = d.instruments[source.heard]?.label ?? 'the note';
    const to = d.instruments[target];
    const verdict = d.instruments[heard];
    this.el.transferResult.textContent = `${inSentence(from).replace(/^./, (c) => c.toUpperCase())} → ${inSentence(to.label)}${amount < 1 ? ` (${Math.round(amount * 100)} % of the way)` : ''}. Listening to the result, the network hears ${verdict ? withArticle(verdict.label) : 'nothing it knows'}.`;
    this.el.transferResult.dataset.verdict = verdict?.name ?? '';
    this.root.dataset.transfer = 'done';
    this.root.dataset.verdict = verdict?.name ?? '';
    this.offerDownload(this.el.transferDownload, new Blob([encodeWav([audio], MODEL_RATE)], { type: 'audio/wav' }), `timbrel-note-as-${to.name}.wav`, `Download WAV (${formatBytes(audio.length * 2 + 44)})`);
    this.el.transferDownloadRow.hidden = false;
    this.updateButtons();
    return this.transferred;
  }

  playSource() {
    if (!this.transferSource || !this.ensurePlayer()) return;
    this.play(this.transferSource.samples, 'source');
  }

  // ---------- the microphone ----------

  // The player of finished renders and clips (no worklet: it plays even where
  // the live synth cannot), made inside the gesture that needs it.
  ensurePlayer() {
    if (!this.caps.audio) return null;
    if (!this.player) {
      try {
        this.player = new Engine(this.audio.context()).toDestination();
      } catch (error) {
        this.liveStatus.set('player-error', { kind: 'error', title: 'The audio could not start.', text: `${sentence(error)}.` });
        return null;
      }
      this.player.onBufferEnded = () => this.setPlaying('idle');
      this.player.start();
    }
    this.resumeAudio();
    return this.player;
  }

  async toggleRecord() {
    if (this.recorder) {
      await this.finishRecording();
      return;
    }
    for (const key of ['source-error', 'mic-denied', 'mic-missing', 'mic-busy', 'mic-unsupported', 'mic-error']) this.transferStatus.clear(key);
    if (!MicRecorder.available) {
      const message = describeRecordError({ name: 'NotSupportedError' });
      this.transferStatus.set(message.key, { kind: 'error', title: message.title, text: message.text.replace(/the example phrase/, 'an example note') });
      return;
    }
    this.stop();
    const player = this.ensurePlayer();
    if (!player) return;
    const recorder = new MicRecorder(player.context);
    this.recorder = recorder;
    this.el.record.setAttribute('aria-pressed', 'true');
    this.el.record.querySelector('span').textContent = 'Starting…';
    try {
      await recorder.open();
    } catch (error) {
      this.recorder = null;
      recorder.close();
      this.el.record.setAttribute('aria-pressed', 'false');
      this.el.record.querySelector('span').textContent = 'Record a note';
      const message = describeRecordError(error);
      this.transferStatus.set(message.key, { kind: 'error', title: message.title, text: message.text.replace(/the example phrase/, 'an example note') });
      this.root.dataset.mic = message.key;
      return;
    }
    if (this.recorder !== recorder) return;
    recorder.onLimit = () => this.finishRecording();
    recorder.start();
    this.root.dataset.mic = 'recording';
    this.el.record.querySelector('span').textContent = 'Stop recording';
    this.el.recordRow.hidden = false;
    this.recordTimer = setInterval(() => {
      const db = recorder.levelDb;
      showLevel(this.el.recordMeter, db);
      this.el.recordTime.textContent = clock(recorder.seconds);
    }, 100);
    this.updateButtons();
  }

  async finishRecording() {
    const recorder = this.recorder;
    if (!recorder) return;
    this.recorder = null;
    clearInterval(this.recordTimer);
    this.el.record.setAttribute('aria-pressed', 'false');
    this.el.record.querySelector('span').textContent = 'Record a note';
    this.el.recordRow.hidden = true;
    this.root.dataset.mic = 'stopped';
    let clip;
    try {
      clip = await recorder.stop();
    } catch (error) {
      const { title, text } = error instanceof AudioFileError ? error : { title: 'The recording could not be used.', text: `${sentence(error)}.` };
      this.transferStatus.set('source-error', { kind: 'error', title, text });
      this.updateButtons();
      return;
    }
    const stamp = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    await this.setSource({ ...clip, name: `Microphone recording (${stamp})`, source: 'mic' });
    this.updateButtons();
  }

  cancelRecording() {
    const recorder = this.recorder;
    this.recorder = null;
    clearInterval(this.recordTimer);
    recorder?.close();
    this.el.record.setAttribute('aria-pressed', 'false');
    this.el.record.querySelector('span').textContent = 'Record a note';
    this.el.recordRow.hidden = true;
    this.updateButtons();
  }

  // ---------- playback ----------

  // A finished render through the engine's output (the page's one context).
  play(samples, mode) {
    if (!this.player) return;
    this.player.playBuffer(samples);
    this.setPlaying(mode);
    this.checkRunning();
  }

  stop() {
    this.player?.stopBuffer();
    this.keyboard.allOff();
    this.map.stop();
    this.releaseMorphNote();
    this.engine?.allNotesOff();
    this.mapVoice = null;
    this.setPlaying('idle');
  }

  setPlaying(mode) {
    this.playing = mode;
    this.root.dataset.mode = mode;
    this.updateButtons();
  }

  updateButtons() {
    const loaded = !!this.model;
    const recording = !!this.recorder;
    this.el.render.disabled = !loaded;
    this.el.play.disabled = !loaded || !this.caps.audio;
    this.el.play.setAttribute('aria-pressed', String(this.playing === 'note'));
    this.el.heatButton.disabled = !loaded || !!this.busy;
    this.el.morphPlay.disabled = !loaded;
    this.el.morphPlay.setAttribute('aria-pressed', String(this.playing === 'morph'));
    this.el.example.disabled = !loaded || recording;
    this.el.fileButton.disabled = recording;
    this.el.record.disabled = !this.caps.audio;
    this.el.transfer.disabled = !loaded || !this.transferSource?.latent || recording;
    this.el.playSource.disabled = !this.transferSource || recording || !this.caps.audio;
    this.el.playSource.setAttribute('aria-pressed', String(this.playing === 'source'));
    this.el.every.disabled = !loaded || this.busy === 'every';
    this.el.everyCancel.disabled = this.busy !== 'every';
    this.el.everyPlay.disabled = !this.every;
    this.el.everyPlay.setAttribute('aria-pressed', String(this.playing === 'every'));
    this.el.stop.disabled = this.playing === 'idle';
    this.el.brightnessReset.disabled = !this.model?.description.brightness || this.brightnessValue === null;
  }

  // ---------- for tests and debugging ----------

  exportNote() {
    const r = this.rendered;
    if (!r) return null;
    return { sampleRate: MODEL_RATE, audio: float32Base64(r.samples), midi: r.midi, instrument: this.model.description.instruments[r.instrument].name, held: r.held, latent: Array.from(r.latent) };
  }

  exportTransfer() {
    const t = this.transferred;
    if (!t) return null;
    const names = this.model.description.instruments;
    return { sampleRate: MODEL_RATE, audio: float32Base64(t.samples), target: names[t.target].name, heardBefore: names[t.source.heard]?.name, heardAfter: names[t.heard]?.name, amount: t.amount };
  }

  exportEngines() {
    const { core, ort, choice, parity, ortState, ortError, ortSession } = this.engines;
    return { core, ort, choice, parity, ortState, ortError, backend: ortSession?.backend ?? null };
  }

  dispose() {
    clearInterval(this.meterTimer);
    clearInterval(this.recordTimer);
    this.recorder?.close();
    super.dispose();
    this.player?.dispose();
    this.player = null;
    this.keyboard.dispose();
    this.map.dispose();
    this.midiInput?.dispose();
    this.worker.dispose();
    this.batchWorker.dispose();
    this.ort.dispose();
    this.status.dispose();
    this.liveStatus.dispose();
    this.transferStatus.dispose();
    this.everyStatus.dispose();
  }
}
