// The "Grains" panel: a neural drum machine on the neural granular model
// (Bitton, Esling & Harada; docs/grains.md). Every hit is made new by the
// network in the AudioWorklet (the core's GrainsKernel, grains-engine.js):
//
// 1. A 16-step pattern of 4-8 tracks (pattern.js): each track a drum class or
//    a morph between two, a variation (the draw's temperature), a volume, and
//    fresh hits or the same one every time; per step a velocity. The step
//    clock runs in the worklet, so steps land on the sample. Saved as a link
//    (#grains/<code>) or a JSON file; recorded as a WAV file.
// 2. Beat-box: the microphone feeds the kernel's onset detector, which hears
//    each sound as a "boom", "tss" or "ka" and plays the drum the kit gives it
//    (three selects; the model's kick, closed hat and snare by default); the
//    page lists the sounds heard and the drums played.
// 3. Paths: the grain map (the plane of the training grains' first two
//    principal axes) with each class where its grains lie; a line, circle,
//    spiral or drawing that the path voice travels back and forth, playing
//    the grain under it.
//
// The model: models/grains/index.json lists the shipped ones; without any, the
// panel says so and the grid, links and files keep working (a visitor may
// load a model file of their own). A pitched model's classes are instruments
// and each hit takes a pitch: then each track and the path have a pitch
// select (their class's typical pitch by default), the page's words say
// "instrument" for "drum", and the beat-box plays its kit's instruments at
// their typical pitches. A drum beat means nothing on instruments (nor a
// phrase on drums): a model of the other kind gets its own default pattern,
// and the one left is kept for when a model of its kind comes back.

import { CoreError, isEngineFailure } from '../audio/engine.js';
import { MicInput, describeMicError } from '../audio/microphone.js';
import { Recorder } from '../audio/recorder.js';
import { noteName } from '../audio/midi-file.js';
import { FORMAT, float32Base64 } from '../audio/wav.js';
import { acceptFiles } from '../ui/file-drop.js';
import { showLevel } from '../ui/level-meter.js';
import { renderMarkdown } from '../ui/markdown.js';
import { formatBytes } from '../ui/model-picker.js';
import { Panel, sentence } from '../ui/panel.js';
import { StatusArea } from '../ui/status.js';
import { GrainMap, defaultPath } from './grain-map.js';
import { GrainsEngine } from './grains-engine.js';
import {
  BEATBOX_SOUNDS, CORPUS_CLASSES, GrainsModelError, PITCH_REACH, classColour, classLabel, defaultBeatboxKit, describeGrainsModel,
  pitchHint, pitchOptions, readGrainsIndex,
} from './grains-model.js';
import {
  MAX_JSON_BYTES, MAX_TRACKS, MIN_TRACKS, PatternError, STEPS, compilePattern, decodePatternHash, defaultPattern,
  encodePatternHash, missingClasses, newTrack, patternFromJson, patternToJson, validatePattern,
} from './pattern.js';

export const MODELS_URL = new URL('../../models/grains/', import.meta.url);
export const HASH_PREFIX = '#grains/';
const MAX_MODEL_BYTES = 64 * 1024 * 1024;
const HASH_DELAY_MS = 300;
const EVENTS_MS = 100;
const MAX_ONSETS_SHOWN = 16;
const VELOCITY_STEP = 0.1;
const VELOCITY_CYCLE = [1, 0.6, 0.3]; // Shift+click on a step that is on
const NEW_STEP_VELOCITY = 0.8;

// The words that name a model's sounds (the markup's [data-word] spans, and
// the texts made here): drums, or a pitched model's instruments.
const WORDS = {
  drums: { drum: 'drum', drums: 'drums', Drum: 'Drum', beat: 'beat', learned: 'drums', machine: 'drum machine' },
  pitched: { drum: 'instrument', drums: 'instruments', Drum: 'Instrument', beat: 'phrase', learned: 'notes', machine: 'instrument sequencer' },
};

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
const isDark = () => globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
const round2 = (v) => Math.round(v * 100) / 100;
const percent = (v) => `${Math.round(v * 100)} %`;

// A changed copy of a pattern: fn(copy) edits it; the result is checked again.
function edited(pattern, fn) {
  const copy = { ...pattern, tracks: pattern.tracks.map((t) => ({ ...t, velocities: [...t.velocities], embedding: t.embedding && [...t.embedding] })) };
  fn(copy);
  return validatePattern(copy);
}

export function swingText(swing) {
  if (swing < 0.005) return 'straight';
  if (Math.abs(swing - 1 / 3) < 0.02) return `${percent(swing)}, a triplet shuffle`;
  return `${percent(swing)} of a step`;
}

// "Kick", "Kick → snare 40 %", and with a pitch (notes: the model plays
// them) "Flute G5", "Flute → oboe 40 %, G5".
export function trackName(track, { notes = true } = {}) {
  const a = classLabel(track.class);
  const note = notes && track.pitch !== null && track.pitch !== undefined ? noteName(track.pitch) : '';
  if (track.morphTo === null || track.morph === 0) return note ? `${a} ${note}` : a;
  return `${a} → ${classLabel(track.morphTo).toLowerCase()} ${percent(track.morph)}${note ? `, ${note}` : ''}`;
}

export class GrainsPanel extends Panel {
  constructor(root, { audio, capabilities }) {
    super(root, { audio, capabilities, name: 'grains' });
    const $ = (id) => this.$(id);
    this.el = {
      play: $('grains-play-button'),
      tempo: $('grains-tempo'),
      tempoValue: $('grains-tempo-value'),
      swing: $('grains-swing'),
      swingValue: $('grains-swing-value'),
      levelMeter: $('grains-level-meter'),
      grid: $('grains-grid'),
      addTrack: $('grains-add-track'),
      removeTrack: $('grains-remove-track'),
      clear: $('grains-clear'),
      editorName: $('grains-editor-name'),
      cls: $('grains-class'),
      pitchRow: $('grains-pitch-row'),
      pitch: $('grains-pitch'),
      pitchHint: $('grains-pitch-hint'),
      morphTo: $('grains-morph-to'),
      morph: $('grains-morph'),
      morphValue: $('grains-morph-value'),
      variation: $('grains-variation'),
      variationValue: $('grains-variation-value'),
      volume: $('grains-volume'),
      volumeValue: $('grains-volume-value'),
      hitModes: [...root.querySelectorAll('input[name="grains-hit"]')],
      savedHit: $('grains-hit-saved'),
      keep: $('grains-keep-button'),
      tryHit: $('grains-try-button'),
      hitNote: $('grains-hit-note'),
      link: $('grains-link-button'),
      linkText: $('grains-link-text'),
      save: $('grains-save-button'),
      saveLink: $('grains-save-link'),
      open: $('grains-open-button'),
      file: $('grains-file'),
      patternCard: $('grains-machine-title').closest('section'),
      patternDrop: $('grains-pattern-drop'),
      record: $('grains-record-button'),
      recordTime: $('grains-record-time'),
      recordHint: $('grains-record-hint'),
      downloadRow: $('grains-download-row'),
      download: $('grains-download'),
      beatbox: $('grains-beatbox'),
      beatboxNote: $('grains-beatbox-note'),
      inputMeter: $('grains-input-meter'),
      kit: Object.fromEntries(BEATBOX_SOUNDS.map(({ key }) => [key, $(`grains-kit-${key}`)])),
      voiceMorph: $('grains-voice-morph'),
      voiceMorphValue: $('grains-voice-morph-value'),
      onsets: $('grains-onsets'),
      onsetsEmpty: $('grains-onsets-empty'),
      shapes: [...root.querySelectorAll('input[name="grains-shape"]')],
      map: $('grains-map'),
      mapLegend: $('grains-map-legend'),
      mapAnnounce: $('grains-map-announce'),
      mapNote: $('grains-map-note'),
      pathClass: $('grains-path-class'),
      pathClassHint: $('grains-path-class-hint'),
      pathPitchRow: $('grains-path-pitch-row'),
      pathPitch: $('grains-path-pitch'),
      speed: $('grains-speed'),
      speedValue: $('grains-speed-value'),
      pathVolume: $('grains-path-volume'),
      pathVolumeValue: $('grains-path-volume-value'),
      pathPlay: $('grains-path-button'),
      modelSelect: $('grains-model-select'),
      modelSelectRow: $('grains-model-select-row'),
      modelNote: $('grains-model-note'),
      card: $('grains-model-card'),
      cardBody: $('grains-model-card-body'),
      modelButton: $('grains-model-button'),
      modelFile: $('grains-model-file'),
      modelDrop: $('grains-model-drop'),
      model: $('grains-model-value'),
      sampleRate: $('grains-sample-rate'),
      hits: $('grains-hits-value'),
    };
    this.status = new StatusArea($('grains-status')); // the model, the engine, patterns
    this.beatboxStatus = new StatusArea($('grains-beatbox-status'));
    this.pathStatus = new StatusArea($('grains-path-status'));

    this.model = null; // {entry: {id}, bytes, description, fileName, source, name (the list's, else the file's)}
    this.entries = []; // the shipped models
    this.pattern = defaultPattern(CORPUS_CLASSES);
    // The kind of model the pattern was made for: 'drums', 'pitched', or null
    // (a link's or a file's, opened before any model: whichever plays its
    // classes). A model of another kind swaps it for the one kept of its kind.
    this.patternKind = 'drums';
    this.keptPatterns = {}; // kind -> the pattern left when the model changed kind
    this.pitchShown = ''; // what the pitch selects hold now (they are refilled when it changes)
    this.pathPitchShown = '';
    this.selected = 0; // the track in the editor
    this.cursor = { track: 0, step: 0 }; // the grid's focusable cell (step -1: the track's name)
    this.playingPattern = false;
    this.pathPlaying = false;
    this.mic = null;
    this.beatboxStart = NaN;
    this.onsets = [];
    this.kit = defaultBeatboxKit(CORPUS_CLASSES); // {boom, tss, ka}: class indices
    this.heard = new Array(MAX_TRACKS).fill(null); // the seed of each track's last audition
    this.recorder = null;
    this.recordTimer = 0;
    this.eventsTimer = 0;
    this.hashTimer = 0;
    this.lastCode = '';
    this.shownStep = -1;
    this.ready = null;
    this.path = null;

    this.map = new GrainMap(this.el.map, { announce: this.el.mapAnnounce });
    this.map.onPath = (path) => this.pathChanged(path);
    this.map.onToggle = () => this.togglePath();

    const on = (element, type, handler) => this.on(element, type, handler);
    on(this.el.play, 'click', () => this.togglePlay());
    on(this.el.tempo, 'input', () => this.setPattern(edited(this.pattern, (p) => {
      p.tempo = Number(this.el.tempo.value);
    })));
    on(this.el.swing, 'input', () => this.setPattern(edited(this.pattern, (p) => {
      p.swing = Number(this.el.swing.value);
    })));
    on(this.el.grid, 'click', (event) => this.gridClick(event));
    on(this.el.grid, 'keydown', (event) => this.gridKey(event));
    on(this.el.addTrack, 'click', () => this.addTrack());
    on(this.el.removeTrack, 'click', () => this.removeTrack());
    on(this.el.clear, 'click', () => this.editTrack(this.selected, (t) => t.velocities.fill(0)));
    on(this.el.cls, 'change', () => this.editTrack(this.selected, (t) => {
      t.class = this.el.cls.value;
      if (t.morphTo === t.class) t.morphTo = null;
      t.embedding = null; // a saved hit belongs to its class
      // The note stays while the new instrument's select offers it (a tune keeps its notes).
      const range = this.classRange(t.class);
      if (t.pitch !== null && range && (t.pitch < range[0] - PITCH_REACH || t.pitch > range[2] + PITCH_REACH)) t.pitch = null;
    }, { audition: true }));
    on(this.el.pitch, 'change', () => this.editTrack(this.selected, (t) => {
      t.pitch = this.el.pitch.value === '' ? null : Number(this.el.pitch.value);
    }, { audition: true }));
    on(this.el.morphTo, 'change', () => this.editTrack(this.selected, (t) => {
      t.morphTo = this.el.morphTo.value || null;
      if (t.morphTo && t.morph === 0) t.morph = 0.5;
    }, { audition: true }));
    on(this.el.morph, 'input', () => this.editTrack(this.selected, (t) => {
      t.morph = Number(this.el.morph.value);
    }));
    on(this.el.morph, 'change', () => this.audition(this.selected));
    on(this.el.variation, 'input', () => this.editTrack(this.selected, (t) => {
      t.variation = Number(this.el.variation.value);
    }));
    on(this.el.variation, 'change', () => this.audition(this.selected));
    on(this.el.volume, 'input', () => this.editTrack(this.selected, (t) => {
      t.gain = Number(this.el.volume.value);
    }));
    for (const input of this.el.hitModes) on(input, 'change', () => input.checked && this.setHitMode(input.value));
    on(this.el.keep, 'click', () => this.keepHit());
    on(this.el.tryHit, 'click', () => this.audition(this.selected));
    on(this.el.link, 'click', () => this.copyLink());
    on(this.el.save, 'click', () => this.savePattern());
    acceptFiles({
      on, button: this.el.open, input: this.el.file, card: this.el.patternCard,
      indicator: this.el.patternDrop, onFile: (file) => this.openPattern(file),
    });
    on(this.el.record, 'click', () => this.toggleRecording());
    on(this.el.beatbox, 'change', () => (this.el.beatbox.checked ? this.startBeatbox() : this.stopBeatbox()));
    for (const [key, select] of Object.entries(this.el.kit)) {
      on(select, 'change', () => {
        this.kit = { ...this.kit, [key]: Number(select.value) };
        this.sendKit();
      });
    }
    on(this.el.voiceMorph, 'input', () => this.sendVoice());
    for (const input of this.el.shapes) on(input, 'change', () => input.checked && this.chooseShape(input.value));
    on(this.el.pathClass, 'change', () => {
      this.map.setSelected(Number(this.el.pathClass.value));
      this.showPathPitch();
      this.sendPath();
    });
    on(this.el.pathPitch, 'change', () => {
      this.showPathPitch();
      this.sendPath();
    });
    on(this.el.speed, 'input', () => {
      this.showSpeed();
      this.engine?.setPathSpeed(this.speed);
    });
    on(this.el.pathVolume, 'input', () => {
      this.el.pathVolumeValue.textContent = percent(Number(this.el.pathVolume.value));
      this.sendPath();
    });
    on(this.el.pathPlay, 'click', () => this.togglePath());
    on(this.el.modelSelect, 'change', () => {
      const entry = this.entries.find((e) => e.id === this.el.modelSelect.value);
      if (entry) this.loadShipped(entry);
    });
    acceptFiles({
      on, button: this.el.modelButton, input: this.el.modelFile, card: this.el.modelDrop,
      indicator: this.el.modelDrop, onFile: (file) => this.openModelFile(file),
    });
    on(globalThis, 'hashchange', () => this.readHash());

    this.showProblems(this.status, { skip: ['no-getusermedia'] });
    if (!navigator.mediaDevices?.getUserMedia) this.el.beatboxNote.textContent = 'This browser gives web pages no microphone here: the drum machine and the paths still work.';
    this.readHash();
    this.fillClassSelects();
    this.fillKitSelects();
    this.buildGrid();
    this.showPattern();
    this.showSpeed();
    this.updateButtons();
  }

  // ---------- shown and left ----------

  activate() {
    super.activate();
    if (!this.ready) this.ready = this.loadCatalog();
    this.map.resize();
    this.scheduleHash();
    return this.ready;
  }

  get isPlaying() {
    return this.playingPattern || this.pathPlaying || !!this.mic || !!this.recorder?.recording;
  }

  stop() {
    this.stopPattern();
    this.stopPath();
    this.stopBeatbox();
    if (this.recorder?.recording) this.finishRecording();
  }

  get classNames() {
    return this.model ? this.model.description.classNames : CORPUS_CLASSES;
  }

  // Whether the loaded model's hits take a pitch (its classes are instruments).
  get pitched() {
    return !!this.model?.description.pitched;
  }

  get words() {
    return WORDS[this.pitched ? 'pitched' : 'drums'];
  }

  // A pitched model's [lowest, typical, highest] MIDI pitch of a class; null otherwise.
  classRange(name) {
    if (!this.pitched) return null;
    const d = this.model.description;
    return d.classPitches[d.classNames.indexOf(name)] ?? null;
  }

  // ---------- the model ----------

  async loadCatalog() {
    let entries = [];
    try {
      const response = await fetch(new URL('index.json', MODELS_URL));
      if (response.ok) entries = readGrainsIndex(await response.json());
      else if (response.status !== 404) throw new Error(`the list of drum models could not be downloaded (HTTP ${response.status})`);
    } catch (error) {
      this.status.set('model-error', { kind: 'error', title: 'The drum models could not be listed.', text: `${sentence(error)}. Reload the page to try again.` });
    }
    this.entries = entries;
    this.el.modelSelect.replaceChildren(...entries.map((e) => new Option(e.name, e.id)));
    this.el.modelSelectRow.hidden = entries.length < 2;
    if (!entries.length) {
      this.el.modelNote.textContent = 'No grains model shipped.';
      this.root.dataset.model = 'none';
      this.status.set('no-model', {
        kind: 'info',
        title: 'No grains model shipped yet.',
        text: 'The drum network is trained with the scripts (timbrel.train.grains, docs/grains.md) and lands in models/grains/. Meanwhile you can program, save and share beats here, and load a grains model file (.tmbl) of your own at the bottom of the page.',
      });
      return;
    }
    const { entry, bytes } = await this.firstModel(entries);
    this.el.modelSelect.value = entry.id;
    await this.loadShipped(entry, bytes);
  }

  // The shipped model to start with: the first one, unless the pattern came
  // from a link or a file (made for no model, or for a pitched one) that it
  // cannot play and another one can: a phrase shared from the instrument
  // model opens on it even when the drum kit comes first in the list. Each
  // model tried is downloaded (its bytes are kept for the one chosen).
  async firstModel(entries) {
    if (this.patternKind === 'drums' || entries.length < 2) return { entry: entries[0], bytes: null };
    for (const entry of entries) {
      try {
        const bytes = await this.download(entry);
        const d = describeGrainsModel(bytes, entry.file);
        const kind = d.pitched ? 'pitched' : 'drums';
        if (!missingClasses(this.pattern, d.classNames).length && (this.patternKind === null || this.patternKind === kind)) return { entry, bytes };
      } catch {
        // this one cannot be read: loading the first says why if it is the first
      }
    }
    return { entry: entries[0], bytes: null };
  }

  async download(entry) {
    const response = await fetch(new URL(entry.file, MODELS_URL));
    if (!response.ok) throw new Error(`the model could not be downloaded (HTTP ${response.status})`);
    return response.arrayBuffer();
  }

  async loadShipped(entry, prefetched = null) {
    this.el.modelNote.textContent = `Loading ${entry.name}…`;
    let bytes = prefetched;
    try {
      bytes ??= await this.download(entry);
    } catch (error) {
      this.el.modelNote.textContent = `${entry.name} could not be downloaded.`;
      this.status.set('model-error', { kind: 'error', title: `The model “${entry.name}” could not be downloaded.`, text: `${sentence(error)}. Reload the page to try again.` });
      return;
    }
    if (this.useModel(bytes, { fileName: entry.file, source: 'shipped', id: `shipped:${entry.id}`, name: entry.name })) this.loadCard(entry);
  }

  async openModelFile(file) {
    if (file.size > MAX_MODEL_BYTES) {
      this.status.set('model-error', { kind: 'error', title: `“${file.name}” is too large for a drum model.`, text: `Models up to ${MAX_MODEL_BYTES / 1048576} MB can be loaded.${this.model ? ' The model loaded before stays.' : ''}` });
      return;
    }
    const bytes = await file.arrayBuffer();
    if (this.useModel(bytes, { fileName: file.name, source: 'file', id: `file:${file.name}:${file.size}:${file.lastModified}` })) this.el.card.hidden = true;
  }

  // Reads a model's header; the audio engine loads it on the next sound.
  useModel(bytes, { fileName, source, id, name = null }) {
    let description;
    try {
      description = describeGrainsModel(bytes, fileName);
    } catch (error) {
      const { title, text } = error instanceof GrainsModelError ? error : { title: `“${fileName}” could not be loaded.`, text: `${sentence(error)}.` };
      this.status.set('model-error', { kind: 'error', title, text: `${text}${this.model ? ' The model loaded before stays.' : ''}` });
      this.root.dataset.modelError = String(Number(this.root.dataset.modelError ?? 0) + 1);
      return false;
    }
    this.stop();
    this.status.clear('model-error');
    this.status.clear('no-model');
    this.model = { entry: { id }, bytes, description, fileName, source, name: name ?? description.name };
    this.modelLoaded();
    return true;
  }

  async loadCard(entry) {
    if (!entry.card) {
      this.el.card.hidden = true; // not the card of the model before
      return;
    }
    try {
      const response = await fetch(new URL(entry.card, MODELS_URL));
      if (!response.ok) return;
      this.el.cardBody.replaceChildren(renderMarkdown(await response.text(), { doc: this.root.ownerDocument, headingOffset: 2 }));
      this.el.card.hidden = this.model?.source !== 'shipped';
    } catch {
      // no card: nothing to show
    }
  }

  modelLoaded() {
    const d = this.model.description;
    const modelKind = d.pitched ? 'pitched' : 'drums';
    const words = this.words;
    this.el.model.textContent = `${d.name} (${d.classes.length} ${d.pitched ? 'instruments' : 'drum classes'}, ${formatBytes(this.model.bytes.byteLength)})`;
    this.el.model.dataset.model = this.model.entry.id;
    this.root.dataset.model = this.model.entry.id;
    this.root.dataset.pitched = String(d.pitched);
    this.el.modelNote.textContent = `${d.name}: ${d.classes.map((c) => c.label.toLowerCase()).join(', ')}${d.pitched ? ', each played at the pitch you choose' : ''}.`;
    for (const el of this.root.querySelectorAll('[data-word]')) el.textContent = words[el.dataset.word] ?? el.textContent;
    this.el.grid.setAttribute('aria-label', `${d.pitched ? 'Instrument' : 'Drum'} pattern: a row per track, ${STEPS} steps`);
    this.el.mapLegend.setAttribute('aria-label', d.pitched ? 'Instruments' : 'Drum classes');
    this.status.clear('pattern-classes');
    const missing = missingClasses(this.pattern, d.classNames);
    if (this.patternKind !== null && this.patternKind !== modelKind) {
      // Drums to instruments or back: the pattern left is kept for its kind,
      // and this kind's comes back (its default when there is none that fits).
      const from = this.patternKind;
      this.keptPatterns[from] = this.pattern;
      const kept = this.keptPatterns[modelKind];
      const back = !!kept && !missingClasses(kept, d.classNames).length;
      this.pattern = back ? kept : defaultPattern(d.classNames, d);
      this.selected = Math.min(this.selected, this.pattern.tracks.length - 1);
      this.cursor = { track: Math.min(this.cursor.track, this.pattern.tracks.length - 1), step: this.cursor.step };
      this.heard.fill(null);
      const left = WORDS[from].beat;
      this.status.set('pattern-classes', {
        kind: 'info',
        title: d.pitched
          ? `${this.model.name} plays instruments, not drums: ${back ? 'the phrase you made for instruments is back' : 'here is a phrase of its own to start from'}.`
          : `${this.model.name} plays drums: ${back ? 'the beat you made for drums is back' : 'here is a beat of its own to start from'}.`,
        text: `The ${left} you had is kept while this page is open: choose a ${from === 'pitched' ? 'pitched instrument' : 'drum'} model again to hear it.`,
      });
      this.scheduleHash();
    } else if (missing.length) {
      // A pattern naming classes this model lacks plays the model's first one there.
      const fallback = d.classNames[0];
      this.pattern = edited(this.pattern, (p) => {
        for (const t of p.tracks) {
          if (!d.classNames.includes(t.class)) t.class = fallback;
          if (t.morphTo !== null && !d.classNames.includes(t.morphTo)) t.morphTo = null;
        }
      });
      this.status.set('pattern-classes', { kind: 'info', title: `This model has no ${missing.map((m) => classLabel(m).toLowerCase()).join(', ')}.`, text: `Those tracks now play the ${classLabel(fallback).toLowerCase()}; pick another sound for them in the track settings.` });
    }
    this.fillClassSelects();
    this.patternKind = modelKind;
    this.kit = defaultBeatboxKit(d.classNames, d.classPitches);
    this.fillKitSelects();
    this.sendKit();
    this.buildGrid();
    this.showPattern();
    this.map.setModel(d);
    this.el.mapNote.textContent = d.grainMap
      ? `Each dot is ${d.pitched ? 'an instrument' : 'a drum class'}, placed where its grains lie; every other point of the map is a grain too.`
      : `This model has no grain map (${d.mapProblem}): paths need one.`;
    this.el.mapLegend.replaceChildren(...this.map.legend().map(({ label, colour }) => {
      const item = this.root.ownerDocument.createElement('span');
      item.className = 'legend-item';
      const swatch = this.root.ownerDocument.createElement('span');
      swatch.className = 'swatch swatch-dot';
      swatch.setAttribute('aria-hidden', 'true');
      swatch.style.background = colour;
      item.append(swatch, label);
      return item;
    }));
    if (d.grainMap) {
      const kind = this.el.shapes.find((s) => s.checked)?.value ?? 'circle';
      this.path = defaultPath(kind === 'draw' ? 'circle' : kind, this.map.extent, this.map.model?.grainMap.classPoints);
      this.map.setPath(this.path);
    }
    let note = 'This model’s file holds no onset centroids, so it cannot tell your beat-box sounds apart.';
    if (d.beatbox) {
      note = d.pitched
        ? 'Make drum sounds with your mouth: a low “boom”, a hissing “tss” and a sharp “ka”. The network plays the instrument you pick for each, always at that instrument’s typical pitch (the sound you make picks the instrument, not the note).'
        : 'Make drum sounds with your mouth: a low “boom”, a hissing “tss” and a sharp “ka”. The network plays the drum you pick for each.';
    }
    this.el.beatboxNote.textContent = note;
    this.showPathPitch();
    this.updateButtons();
    if (this.engine?.node) this.loadEngineModel().then(() => this.sendPattern()).catch((error) => this.onModelError(error));
  }

  onModelError(error) {
    if (isEngineFailure(error)) return;
    this.status.set('model-error', { kind: 'error', title: `The ${this.words.drum} model could not be loaded into the audio engine.`, text: `${sentence(error)}.`, sticky: false });
  }

  // ---------- the audio engine ----------

  createEngine(context) {
    return new GrainsEngine(context).toDestination();
  }

  engineStarted(engine, info) {
    super.engineStarted(engine, info);
    this.recorder = new Recorder(engine.reader, engine.sampleRate);
    this.recorder.onLimit = () => {
      this.finishRecording();
      this.status.set('record-limit', { kind: 'info', title: 'The recording stopped at 5 minutes.', text: 'Download it below, then record again if you like.' });
    };
    this.updateButtons();
  }

  describeEngineFailure(error) {
    if (error instanceof CoreError && /GrainsKernel/.test(error.message)) {
      return { title: 'This build of Timbrel has no drum engine yet.', text: `${sentence(error)}. The grid, links and pattern files still work.` };
    }
    return super.describeEngineFailure(error);
  }

  engineLost() {
    this.playingPattern = false;
    this.pathPlaying = false;
    this.stopBeatbox();
    this.recorder?.dispose();
    this.recorder = null;
    this.updateButtons();
  }

  // Call at the start of a gesture: starts the engine (the page's audio) and
  // loads the model into it; resolves the engine, or null (said in words).
  async readyEngine() {
    if (!this.model) {
      this.status.set('no-model', {
        kind: 'info',
        title: 'No drum model is loaded, so nothing sounds yet.',
        text: this.entries.length ? 'Wait a moment until it has loaded.' : 'No grains model is shipped with this copy of Timbrel: load a grains model file (.tmbl) at the bottom of the page.',
      });
      return null;
    }
    let ready;
    try {
      ready = this.ensureEngine();
    } catch {
      return null;
    }
    try {
      await ready;
      await this.loadEngineModel();
    } catch (error) {
      this.onModelError(error);
      return null;
    }
    if (!this.engine) return null;
    this.engine.setOutputGain(this.model.description.outputGain);
    this.sendKit();
    this.sendPattern();
    this.checkRunning();
    return this.engine;
  }

  // The pattern for the worklet: saved hits of another size play fresh draws.
  sendPattern() {
    if (!this.engine?.node || !this.model) return;
    const d = this.model.description;
    let pattern = this.pattern;
    const wrongSize = pattern.tracks.filter((t) => t.embedding && t.embedding.length !== d.embedding).length;
    if (wrongSize) {
      pattern = edited(pattern, (p) => p.tracks.forEach((t) => {
        if (t.embedding && t.embedding.length !== d.embedding) t.embedding = null;
      }));
      this.status.set('pattern-hits', { kind: 'info', title: `${wrongSize === 1 ? 'A saved hit was' : `${wrongSize} saved hits were`} made with another model.`, text: `This model’s hits have ${d.embedding} numbers; those tracks play fresh hits.` });
    } else {
      this.status.clear('pattern-hits');
    }
    try {
      this.engine.setPattern(compilePattern(pattern, d.classNames, d.embedding));
    } catch (error) {
      if (!(error instanceof PatternError)) throw error;
      this.status.set('pattern-error', { kind: 'error', title: 'The pattern cannot play on this model.', text: `${sentence(error)}.` });
    }
  }

  // ---------- the pattern ----------

  setPattern(pattern, { rebuild = false } = {}) {
    const tracksChanged = pattern.tracks.length !== this.pattern.tracks.length;
    this.pattern = pattern;
    this.selected = Math.min(this.selected, pattern.tracks.length - 1);
    this.cursor.track = Math.min(this.cursor.track, pattern.tracks.length - 1);
    if (rebuild || tracksChanged) this.buildGrid();
    this.showPattern();
    this.sendPattern();
    this.scheduleHash();
  }

  editTrack(k, fn, { audition = false } = {}) {
    this.setPattern(edited(this.pattern, (p) => fn(p.tracks[k])));
    if (audition) this.audition(k);
  }

  addTrack() {
    if (this.pattern.tracks.length >= MAX_TRACKS) return;
    const used = new Set(this.pattern.tracks.map((t) => t.class));
    const name = this.classNames.find((c) => !used.has(c)) ?? this.classNames[0];
    this.setPattern(edited(this.pattern, (p) => p.tracks.push(newTrack(name))));
    this.selectTrack(this.pattern.tracks.length - 1);
    this.focusCell(this.pattern.tracks.length - 1, -1);
  }

  removeTrack() {
    if (this.pattern.tracks.length <= MIN_TRACKS) return;
    const k = this.selected;
    this.heard.splice(k, 1);
    this.heard.push(null);
    this.setPattern(edited(this.pattern, (p) => p.tracks.splice(k, 1)));
    this.selectTrack(Math.min(k, this.pattern.tracks.length - 1));
  }

  selectTrack(k) {
    this.selected = k;
    this.showPattern();
  }

  // The class selects hold the model's classes (or the corpus's before one
  // is loaded), plus any the pattern names that they lack.
  fillClassSelects() {
    const names = [...new Set([...this.classNames, ...this.pattern.tracks.flatMap((t) => [t.class, t.morphTo]).filter(Boolean)])];
    const options = () => names.map((n) => new Option(classLabel(n), n));
    this.el.cls.replaceChildren(...options());
    this.el.morphTo.replaceChildren(new Option('nothing (a plain sound)', ''), ...options());
    const before = Number(this.el.pathClass.value);
    this.el.pathClass.replaceChildren(...this.classNames.map((n, i) => new Option(classLabel(n), String(i))));
    this.el.pathClass.value = String(Number.isInteger(before) && before >= 0 && before < this.classNames.length ? before : 0);
    this.map.setSelected(Number(this.el.pathClass.value));
    this.showPathPitch();
  }

  // Fills a pitch select for a class's range (only when what it would hold
  // changes: a select being used keeps its options) and selects `pitch`.
  fillPitch(select, range, pitch, shown) {
    const options = pitchOptions(range, pitch);
    const key = options.map((o) => `${o.value}:${o.text}`).join('|');
    if (shown !== key) select.replaceChildren(...options.map(({ value, text }) => new Option(text, value)));
    select.value = pitch === null ? '' : String(pitch);
    return key;
  }

  // The path's pitch: shown for a pitched model, its select for the path's
  // instrument (a note kept while that instrument's select offers it).
  showPathPitch() {
    const name = this.classNames[Number(this.el.pathClass.value)] ?? this.classNames[0];
    const range = this.classRange(name);
    this.el.pathPitchRow.hidden = !range;
    if (!range) {
      this.el.pathClassHint.textContent = `The grains are decoded as the chosen ${this.words.drum} would make them.`;
      return;
    }
    const value = this.el.pathPitch.value;
    let pitch = value === '' ? null : Number(value);
    if (pitch !== null && (pitch < range[0] - PITCH_REACH || pitch > range[2] + PITCH_REACH)) pitch = null;
    this.pathPitchShown = this.fillPitch(this.el.pathPitch, range, pitch, this.pathPitchShown);
    this.el.pathClassHint.textContent = `The grains are decoded as the chosen instrument would make them, at the pitch chosen. ${pitchHint(name, range, pitch)}`;
  }

  get pathPitch() {
    return this.pitched && this.el.pathPitch.value !== '' ? Number(this.el.pathPitch.value) : -1;
  }

  // The kit's selects: the model's classes, each sound's drum selected.
  fillKitSelects() {
    const names = this.classNames;
    for (const [key, select] of Object.entries(this.el.kit)) {
      select.replaceChildren(...names.map((n, i) => new Option(classLabel(n), String(i))));
      select.value = String(this.kit[key]);
    }
  }

  sendKit() {
    if (this.engine?.node && this.model) this.engine.setBeatboxKit(this.kit);
    this.sendVoice();
  }

  // "Follow your voice": how far each beat-box hit's grains move toward the sound
  // made (the kernel's morph is its complement: 1 plays the drum's own hit).
  sendVoice() {
    const voice = Number(this.el.voiceMorph.value);
    this.el.voiceMorphValue.textContent = voice > 0 ? `${Math.round(voice * 100)} %` : 'none';
    if (this.engine?.node && this.model) this.engine.setBeatboxMorph(1 - voice);
  }

  // The grid: a row per track, its name (selects it for the settings below)
  // then 16 step buttons; one of them is in the tab order (arrows move it).
  buildGrid() {
    const doc = this.root.ownerDocument;
    const rows = this.pattern.tracks.map((track, k) => {
      const row = doc.createElement('div');
      row.className = 'grains-row';
      row.setAttribute('role', 'row');
      const head = doc.createElement('div');
      head.setAttribute('role', 'rowheader');
      head.className = 'grains-row-head';
      const name = doc.createElement('button');
      name.type = 'button';
      name.className = 'grains-track-name';
      name.dataset.track = String(k);
      name.dataset.step = '-1';
      const swatch = doc.createElement('span');
      swatch.className = 'swatch swatch-dot';
      swatch.setAttribute('aria-hidden', 'true');
      name.append(swatch, doc.createElement('span'));
      head.append(name);
      row.append(head);
      for (let s = 0; s < STEPS; s++) {
        const cell = doc.createElement('div');
        cell.setAttribute('role', 'gridcell');
        cell.className = s % 4 === 0 ? 'grains-cell grains-beat' : 'grains-cell';
        const button = doc.createElement('button');
        button.type = 'button';
        button.className = 'grains-step';
        button.dataset.track = String(k);
        button.dataset.step = String(s);
        cell.append(button);
        row.append(cell);
      }
      return row;
    });
    const header = doc.createElement('div');
    header.className = 'grains-row grains-numbers';
    header.setAttribute('role', 'row');
    const corner = doc.createElement('div');
    corner.setAttribute('role', 'columnheader');
    corner.className = 'grains-row-head';
    corner.textContent = 'Track';
    header.append(corner);
    for (let s = 0; s < STEPS; s++) {
      const number = doc.createElement('div');
      number.setAttribute('role', 'columnheader');
      number.className = s % 4 === 0 ? 'grains-number grains-beat' : 'grains-number';
      number.textContent = String(s + 1);
      header.append(number);
    }
    this.el.grid.replaceChildren(header, ...rows);
    this.shownStep = -1;
  }

  cellButton(k, s) {
    return this.el.grid.querySelector(`[data-track="${k}"][data-step="${s}"]`);
  }

  // Shows the pattern: the grid's cells, the track names, the settings.
  showPattern() {
    const p = this.pattern;
    const dark = isDark();
    const names = this.classNames;
    const notes = this.pitched || !this.model; // a drum model plays no notes: they are kept, not shown
    p.tracks.forEach((track, k) => {
      const name = this.cellButton(k, -1);
      if (!name) return;
      const label = trackName(track, { notes });
      name.lastChild.textContent = label;
      name.setAttribute('aria-pressed', String(k === this.selected));
      name.title = `Track ${k + 1}: ${label}. Press to hear it and change its sound below.`;
      const colour = classColour(Math.max(0, names.indexOf(track.class)), names.length, dark);
      name.firstChild.style.background = colour;
      for (let s = 0; s < STEPS; s++) {
        const button = this.cellButton(k, s);
        const v = track.velocities[s];
        button.setAttribute('aria-pressed', String(v > 0));
        button.style.setProperty('--velocity', String(v));
        button.style.setProperty('--track-colour', colour);
        button.setAttribute('aria-label', `${notes && track.pitch !== null ? `${classLabel(track.class)} ${noteName(track.pitch)}` : classLabel(track.class)}, step ${s + 1}${v > 0 ? `, ${percent(v)}` : ''}`);
      }
    });
    // The roving tab stop.
    for (const b of this.el.grid.querySelectorAll('button')) b.tabIndex = -1;
    const current = this.cellButton(this.cursor.track, this.cursor.step) ?? this.cellButton(0, 0);
    if (current) current.tabIndex = 0;

    this.el.tempo.value = String(p.tempo);
    this.el.tempoValue.textContent = `${Number(p.tempo.toFixed(1))} BPM`;
    this.el.swing.value = String(p.swing);
    this.el.swingValue.textContent = swingText(p.swing);
    this.el.swing.setAttribute('aria-valuetext', this.el.swingValue.textContent);

    const t = p.tracks[this.selected];
    this.el.editorName.textContent = `${this.selected + 1}, ${trackName(t, { notes })}`;
    if (![...this.el.cls.options].some((o) => o.value === t.class) || (t.morphTo && ![...this.el.morphTo.options].some((o) => o.value === t.morphTo))) this.fillClassSelects();
    this.el.cls.value = t.class;
    const range = this.classRange(t.class);
    this.el.pitchRow.hidden = !range;
    if (range) {
      this.pitchShown = this.fillPitch(this.el.pitch, range, t.pitch, this.pitchShown);
      this.el.pitchHint.textContent = pitchHint(t.class, range, t.pitch);
    }
    this.el.morphTo.value = t.morphTo ?? '';
    this.el.morph.disabled = t.morphTo === null;
    this.el.morph.value = String(t.morph);
    this.el.morphValue.textContent = t.morphTo === null ? '—' : `${percent(1 - t.morph)} ${classLabel(t.class).toLowerCase()}, ${percent(t.morph)} ${classLabel(t.morphTo).toLowerCase()}`;
    this.el.variation.value = String(t.variation);
    this.el.variationValue.textContent = t.variation === 0 ? 'none: the typical hit' : t.variation <= 1 ? `${t.variation.toFixed(2)}, as the ${this.words.learned} it learned` : `${t.variation.toFixed(2)}, wilder than any it heard`;
    this.el.volume.value = String(t.gain);
    this.el.volumeValue.textContent = t.gain === 0 ? 'muted' : percent(t.gain);
    const mode = t.embedding ? 'saved' : t.seed !== null ? 'same' : 'fresh';
    for (const input of this.el.hitModes) input.checked = input.value === mode;
    this.el.savedHit.disabled = !t.embedding;
    this.el.hitNote.textContent = {
      fresh: 'Every step draws a new hit of this sound: no two are quite alike.',
      same: `Every step plays the same hit (number ${t.seed}).`,
      saved: `Every step plays the hit saved in the pattern (${t.embedding?.length ?? 0} numbers).`,
    }[mode];
    this.el.addTrack.disabled = p.tracks.length >= MAX_TRACKS;
    this.el.removeTrack.disabled = p.tracks.length <= MIN_TRACKS;
    this.el.removeTrack.querySelector('span').textContent = `Remove track ${this.selected + 1}`;
    this.el.clear.querySelector('span').textContent = `Clear track ${this.selected + 1}`;
    this.root.dataset.tracks = String(p.tracks.length);
  }

  gridClick(event) {
    const button = event.target.closest('button[data-track]');
    if (!button) return;
    const k = Number(button.dataset.track);
    const s = Number(button.dataset.step);
    this.cursor = { track: k, step: s };
    if (s < 0) {
      this.selectTrack(k);
      this.audition(k);
      return;
    }
    const v = this.pattern.tracks[k].velocities[s];
    let next = v > 0 ? 0 : NEW_STEP_VELOCITY;
    if (event.shiftKey && v > 0) {
      const i = VELOCITY_CYCLE.findIndex((c) => Math.abs(c - v) < 0.01);
      next = VELOCITY_CYCLE[(i + 1) % VELOCITY_CYCLE.length];
    }
    if (this.selected !== k) this.selected = k;
    this.editTrack(k, (t) => {
      t.velocities[s] = next;
    });
  }

  focusCell(k, s) {
    this.cursor = { track: k, step: s };
    for (const b of this.el.grid.querySelectorAll('button')) b.tabIndex = -1;
    const button = this.cellButton(k, s);
    if (!button) return;
    button.tabIndex = 0;
    button.focus();
  }

  gridKey(event) {
    const button = event.target.closest('button[data-track]');
    if (!button) return;
    const k = Number(button.dataset.track);
    const s = Number(button.dataset.step);
    const last = this.pattern.tracks.length - 1;
    const moves = {
      ArrowLeft: [k, Math.max(-1, s - 1)],
      ArrowRight: [k, Math.min(STEPS - 1, s + 1)],
      ArrowUp: [Math.max(0, k - 1), s],
      ArrowDown: [Math.min(last, k + 1), s],
      Home: [k, event.ctrlKey ? -1 : 0],
      End: [k, STEPS - 1],
    };
    if (event.key in moves) {
      event.preventDefault();
      this.focusCell(...moves[event.key]);
      return;
    }
    const change = { '+': 1, '=': 1, PageUp: 1, '-': -1, _: -1, PageDown: -1 }[event.key];
    if (change && s >= 0) {
      event.preventDefault();
      const v = this.pattern.tracks[k].velocities[s];
      const next = round2(Math.min(1, Math.max(VELOCITY_STEP, (v > 0 ? v : 0) + change * VELOCITY_STEP)));
      this.editTrack(k, (t) => {
        t.velocities[s] = next;
      });
      this.cellButton(k, s)?.focus();
    }
  }

  // The playhead: the column of the step playing now.
  showStep(step) {
    if (step === this.shownStep) return;
    for (const el of this.el.grid.querySelectorAll('[data-now]')) delete el.dataset.now;
    this.shownStep = step;
    this.el.grid.dataset.step = String(step);
    if (step < 0) return;
    for (const row of this.el.grid.children) {
      const cell = row.children[step + 1];
      if (cell) cell.dataset.now = 'true';
    }
  }

  // ---------- playing ----------

  async togglePlay() {
    if (this.playingPattern) {
      this.stopPattern();
      return;
    }
    this.playingPattern = true;
    this.updateButtons();
    const engine = await this.readyEngine();
    if (!engine || !this.playingPattern) {
      this.playingPattern = false;
      this.updateButtons();
      return;
    }
    engine.play(0);
    this.root.dataset.playing = 'true';
    this.startTicker();
    this.updateButtons();
  }

  stopPattern() {
    if (!this.playingPattern) return;
    this.playingPattern = false;
    this.engine?.stop();
    this.showStep(-1);
    delete this.root.dataset.playing;
    this.updateButtons();
  }

  // One hit of track k, as its settings say; its seed is kept for "Keep this hit".
  async audition(k) {
    const track = this.pattern.tracks[k];
    if (!track) return;
    const engine = await this.readyEngine();
    if (!engine) return;
    const names = this.model.description.classNames;
    const classA = names.indexOf(track.class);
    if (classA < 0) return;
    const embedding = track.embedding && track.embedding.length === this.model.description.embedding ? track.embedding : null;
    try {
      const { seed } = await engine.hit({
        classA,
        classB: track.morphTo ? names.indexOf(track.morphTo) : -1,
        mix: track.morph,
        temperature: track.variation,
        seed: track.seed ?? 0,
        gain: Math.max(0.05, track.gain),
        embedding,
        pitch: this.pitched && track.pitch !== null ? track.pitch : -1,
      });
      this.heard[k] = seed;
      this.root.dataset.lastHit = String(seed);
    } catch (error) {
      if (!isEngineFailure(error)) this.status.set('hit-error', { kind: 'error', title: 'The hit could not be played.', text: `${sentence(error)}.` });
    }
    this.startTicker();
  }

  // fresh | same | saved
  setHitMode(mode) {
    const k = this.selected;
    if (mode === 'fresh') this.editTrack(k, (t) => {
      t.seed = null;
      t.embedding = null;
    });
    else if (mode === 'same') this.keepHit();
  }

  // The same hit every time: the one last heard on this track (an audition,
  // or the pattern playing), else a new draw.
  keepHit() {
    const k = this.selected;
    let seed = this.heard[k];
    if (this.playingPattern && this.engine && this.pattern.tracks[k].velocities.some((v) => v > 0) && this.engine.stepsPlayed > 0) seed = this.engine.lastSeed(k);
    const fresh = seed === null || seed === undefined;
    if (fresh) seed = 1 + Math.floor(Math.random() * 4294967295);
    this.editTrack(k, (t) => {
      t.seed = seed;
      t.embedding = null;
    }, { audition: fresh });
  }

  // ---------- saving and opening ----------

  readHash() {
    const hash = globalThis.location?.hash ?? '';
    if (!hash.startsWith(HASH_PREFIX)) return;
    const code = hash.slice(HASH_PREFIX.length);
    if (code === this.lastCode) return;
    try {
      const pattern = decodePatternHash(code);
      this.lastCode = code;
      this.applyPattern(pattern, 'the link');
    } catch (error) {
      this.status.set('pattern-error', { kind: 'error', title: 'The beat in this link could not be read.', text: `${sentence(error)}. The default beat is shown instead.` });
    }
  }

  // A pattern from a link or a file; one naming classes the model lacks is
  // refused. Before a model is loaded its kind is unknown (pitched when it
  // sets a pitch): the first model chosen is one that plays it (firstModel).
  applyPattern(pattern, source) {
    if (this.model) {
      const missing = missingClasses(pattern, this.model.description.classNames);
      if (missing.length) {
        const others = this.entries.length > 1 ? ' Another model in the list at the bottom of the page may have them: choose it, then open this again.' : '';
        this.status.set('pattern-error', { kind: 'error', title: `The ${this.words.beat} in ${source} uses sounds this model does not have: ${missing.join(', ')}.`, text: `This model has ${this.model.description.classNames.join(', ')}. The ${this.words.beat} before stays.${others}` });
        return false;
      }
      this.patternKind = this.pitched ? 'pitched' : 'drums';
    } else {
      this.patternKind = pattern.tracks.some((t) => t.pitch !== null) ? 'pitched' : null;
    }
    this.status.clear('pattern-error');
    this.status.clear('pattern-classes');
    this.heard.fill(null);
    this.setPattern(pattern, { rebuild: true });
    this.fillClassSelects();
    this.showPattern();
    return true;
  }

  scheduleHash() {
    clearTimeout(this.hashTimer);
    this.hashTimer = setTimeout(() => this.writeHash(), HASH_DELAY_MS);
  }

  // The address bar holds the beat while this panel is shown (no history entry per click).
  writeHash() {
    if (!this.visible) return;
    const code = encodePatternHash(this.pattern);
    this.lastCode = code;
    if (globalThis.location.hash !== `${HASH_PREFIX}${code}`) history.replaceState(history.state, '', `${HASH_PREFIX}${code}`);
  }

  linkUrl() {
    const url = new URL(globalThis.location.href);
    url.hash = `${HASH_PREFIX}${encodePatternHash(this.pattern)}`;
    return url.href;
  }

  async copyLink() {
    const link = this.linkUrl();
    this.writeHash();
    this.el.linkText.value = link;
    this.el.linkText.hidden = false;
    try {
      await navigator.clipboard.writeText(link);
      this.status.set('link', { kind: 'success', title: 'Link copied.', text: 'Paste it anywhere: it opens this page with this beat.' });
    } catch {
      this.el.linkText.select();
      this.status.set('link', { kind: 'info', title: 'Copy the link below.', text: 'The browser did not let the page copy it: select it and copy it yourself.' });
    }
  }

  savePattern() {
    const blob = new Blob([patternToJson(this.pattern)], { type: 'application/json' });
    this.offerDownload(this.el.saveLink, blob, 'timbrel-beat.json');
    this.el.saveLink.click();
  }

  async openPattern(file) {
    if (file.size > MAX_JSON_BYTES) {
      this.status.set('pattern-error', { kind: 'error', title: `“${file.name}” is too large for a beat.`, text: `Beat files up to ${MAX_JSON_BYTES / 1024} kB can be opened. The beat before stays.` });
      return;
    }
    let pattern;
    try {
      pattern = patternFromJson(await file.text());
    } catch (error) {
      this.status.set('pattern-error', { kind: 'error', title: `“${file.name}” is not a beat this page can open.`, text: `${sentence(error)}. The beat before stays.` });
      return;
    }
    if (this.applyPattern(pattern, `“${file.name}”`)) this.status.set('link', { kind: 'success', title: `Opened “${file.name}”.`, text: `${pattern.tracks.length} tracks at ${pattern.tempo} BPM.` });
  }

  // ---------- recording ----------

  async toggleRecording() {
    if (this.recorder?.recording) {
      this.finishRecording();
      return;
    }
    const engine = await this.readyEngine();
    if (!engine || !this.recorder) return;
    this.status.clear('record-limit');
    this.recorder.start();
    this.el.downloadRow.hidden = true;
    this.el.recordTime.dataset.state = 'recording';
    this.recordTimer = setInterval(() => {
      this.el.recordTime.textContent = clock(this.recorder?.seconds ?? 0);
    }, 250);
    this.updateButtons();
  }

  finishRecording() {
    clearInterval(this.recordTimer);
    this.recordTimer = 0;
    const take = this.recorder.stop();
    this.el.recordTime.dataset.state = 'done';
    this.el.recordTime.textContent = clock(take.output.length / take.sampleRate);
    if (take.lapped > 0) {
      this.status.set('record-gap', { kind: 'warning', title: 'The recording has a gap.', text: `The page was too busy to keep up and lost ${(take.lapped / take.sampleRate).toFixed(2)} s of sound.` });
    }
    if (take.output.length > 0) {
      const blob = this.recorder.toWavBlob(FORMAT.PCM16);
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      this.offerDownload(this.el.download, blob, `timbrel-beat-${stamp}.wav`, `Download WAV (${formatBytes(blob.size)})`);
      this.el.downloadRow.hidden = false;
    }
    this.updateButtons();
  }

  // For tests and debugging: the last take as base64 float32 channels.
  exportTake() {
    const take = this.recorder?.take;
    if (!take) return null;
    return { sampleRate: take.sampleRate, lapped: take.lapped, input: float32Base64(take.input), output: float32Base64(take.output) };
  }

  // ---------- beat-box ----------

  async startBeatbox() {
    this.beatboxStatus.clear('beatbox');
    for (const key of ['mic-denied', 'mic-missing', 'mic-busy', 'mic-unsupported', 'mic-error']) this.beatboxStatus.clear(key);
    if (this.model && !this.model.description.beatbox) {
      this.el.beatbox.checked = false;
      this.beatboxStatus.set('beatbox', { kind: 'info', title: 'This model cannot hear beat-box sounds.', text: 'Its file holds no onset centroids (docs/grains.md). The drum machine and the paths work.' });
      return;
    }
    const engine = await this.readyEngine();
    if (!engine || !this.el.beatbox.checked) {
      this.el.beatbox.checked = false;
      return;
    }
    let mic;
    try {
      mic = await MicInput.open(engine.context);
    } catch (error) {
      const { key, title } = describeMicError(error);
      this.el.beatbox.checked = false;
      this.beatboxStatus.set(key, {
        kind: 'error',
        title,
        text: key === 'mic-denied'
          ? 'To beat-box, allow the microphone for this page (the microphone or lock icon in the address bar), then switch Beat-box on again. The drum machine and the paths work without it.'
          : 'Beat-box needs a microphone. The drum machine and the paths work without it.',
      });
      this.updateButtons();
      return;
    }
    if (!this.el.beatbox.checked || this.engine !== engine) {
      mic.dispose();
      return;
    }
    this.mic = mic;
    mic.onEnded = () => {
      this.stopBeatbox();
      this.beatboxStatus.set('mic-error', { kind: 'warning', title: 'The microphone went away.', text: 'Plug it in again and switch Beat-box on.' });
    };
    mic.node.connect(engine.input);
    engine.setBeatbox(true);
    this.beatboxStart = NaN; // the first onset's time: the others are shown from it
    this.onsets = [];
    this.showOnsets();
    clearInterval(this.eventsTimer);
    this.eventsTimer = setInterval(() => this.pollOnsets(), EVENTS_MS);
    this.root.dataset.beatbox = 'on';
    this.startTicker();
    this.checkRunning();
    this.updateButtons();
  }

  stopBeatbox() {
    clearInterval(this.eventsTimer);
    this.eventsTimer = 0;
    this.el.beatbox.checked = false;
    if (!this.mic) return;
    this.engine?.setBeatbox(false);
    this.mic.dispose();
    this.mic = null;
    delete this.root.dataset.beatbox;
    showLevel(this.el.inputMeter, -120);
    this.updateButtons();
  }

  async pollOnsets() {
    if (!this.engine || !this.mic) return;
    let events;
    try {
      events = await this.engine.events();
    } catch {
      return;
    }
    if (!events.length) return;
    for (const e of events) {
      if (!Number.isFinite(this.beatboxStart)) this.beatboxStart = e.seconds;
      this.onsets.unshift({ seconds: e.seconds - this.beatboxStart, slot: e.slot, classIndex: e.classIndex });
    }
    this.onsets.length = Math.min(this.onsets.length, MAX_ONSETS_SHOWN);
    this.root.dataset.onsets = String(Number(this.root.dataset.onsets ?? 0) + events.length);
    this.showOnsets();
  }

  showOnsets() {
    const doc = this.root.ownerDocument;
    const classes = this.classNames;
    const dark = isDark();
    this.el.onsetsEmpty.hidden = this.onsets.length > 0;
    this.el.onsets.replaceChildren(...this.onsets.map((o, i) => {
      const item = doc.createElement('li');
      item.className = i === 0 ? 'grains-onset grains-onset-new' : 'grains-onset';
      const swatch = doc.createElement('span');
      swatch.className = 'swatch swatch-dot';
      swatch.setAttribute('aria-hidden', 'true');
      swatch.style.background = classColour(o.classIndex, classes.length, dark);
      const time = doc.createElement('span');
      time.className = 'grains-onset-time';
      time.textContent = `${o.seconds.toFixed(1)} s`;
      // “Tss” → Closed hat: the sound heard, the drum it played.
      const arrow = doc.createElement('span');
      arrow.setAttribute('aria-hidden', 'true');
      arrow.textContent = '→';
      const played = doc.createElement('span');
      played.className = 'grains-onset-played';
      const said = doc.createElement('span');
      said.className = 'visually-hidden';
      said.textContent = 'played ';
      played.append(said, classLabel(classes[o.classIndex] ?? `class ${o.classIndex + 1}`));
      item.append(swatch, BEATBOX_SOUNDS[o.slot]?.label ?? 'A sound', arrow, played, time);
      return item;
    }));
  }

  // ---------- paths ----------

  get speed() {
    // The slider: the share of the map's width travelled per second.
    return (Number(this.el.speed.value) / 100) * this.map.width;
  }

  showSpeed() {
    const share = Number(this.el.speed.value) / 100;
    this.el.speedValue.textContent = `across the map in ${(1 / share).toFixed(1)} s`;
  }

  chooseShape(kind) {
    this.map.mode = kind;
    this.root.dataset.shape = kind;
    if (kind === 'draw') {
      this.map.announce('Draw a path on the map with the pointer.');
      return;
    }
    if (!this.model?.description.grainMap) return;
    this.pathChanged(defaultPath(kind, this.map.extent, this.map.model?.grainMap.classPoints));
    this.map.setPath(this.path);
  }

  pathChanged(path) {
    this.path = path;
    this.root.dataset.pathPoints = String(path.count);
    if (this.pathPlaying) this.sendPath();
  }

  sendPath() {
    if (!this.pathPlaying || !this.engine || !this.path) return;
    this.engine.setPath({ points: this.path.points, speed: this.speed, classIndex: Number(this.el.pathClass.value), gain: Number(this.el.pathVolume.value), pitch: this.pathPitch });
  }

  async togglePath() {
    if (this.pathPlaying) {
      this.stopPath();
      return;
    }
    if (this.model && !this.model.description.grainMap) {
      this.pathStatus.set('no-map', { kind: 'info', title: 'This model has no grain map.', text: `${sentence(this.model.description.mapProblem)}: paths need one.` });
      return;
    }
    this.pathPlaying = true;
    this.updateButtons();
    const engine = await this.readyEngine();
    if (!engine || !this.pathPlaying || !this.path) {
      this.pathPlaying = false;
      this.updateButtons();
      return;
    }
    this.sendPath();
    this.root.dataset.path = 'playing';
    this.startTicker();
    this.updateButtons();
  }

  stopPath() {
    if (!this.pathPlaying) return;
    this.pathPlaying = false;
    this.engine?.stopPath();
    this.map.setPoint(null);
    delete this.root.dataset.path;
    this.updateButtons();
  }

  // ---------- the display ----------

  // One animation loop for the playhead, the path point and the meters while
  // anything sounds (and a moment after, so the meters fall back).
  startTicker() {
    this.quietSince = 0;
    this.animate(() => this.tick());
  }

  tick() {
    const engine = this.engine;
    if (!engine || !this.visible) return false;
    this.showStep(this.playingPattern ? engine.step : -1);
    if (this.pathPlaying) this.map.setPoint(engine.pathPoint);
    showLevel(this.el.levelMeter, engine.levelDb);
    this.root.dataset.level = engine.levelDb.toFixed(1);
    if (this.mic) showLevel(this.el.inputMeter, engine.inputDb);
    this.el.hits.textContent = String(engine.hits);
    if (this.isPlaying) return true;
    const now = performance.now();
    if (!this.quietSince) this.quietSince = now;
    return now - this.quietSince < 2000;
  }

  updateButtons() {
    const play = this.el.play;
    play.setAttribute('aria-pressed', String(this.playingPattern));
    play.querySelector('span').textContent = this.playingPattern ? 'Stop' : 'Play';
    play.dataset.state = this.playingPattern ? 'playing' : 'stopped';
    const path = this.el.pathPlay;
    path.setAttribute('aria-pressed', String(this.pathPlaying));
    path.querySelector('span').textContent = this.pathPlaying ? 'Stop the path' : 'Play the path';
    path.disabled = !!this.model && !this.model.description.grainMap;
    const recording = this.recorder?.recording ?? false;
    this.el.record.setAttribute('aria-pressed', String(recording));
    this.el.record.querySelector('span').textContent = recording ? 'Stop recording' : 'Record';
    this.el.recordHint.hidden = recording;
    this.el.beatbox.disabled = !!this.model && !this.model.description.beatbox;
  }

  dispose() {
    clearTimeout(this.hashTimer);
    clearInterval(this.recordTimer);
    clearInterval(this.eventsTimer);
    this.mic?.dispose();
    this.mic = null;
    this.recorder?.dispose();
    this.recorder = null;
    this.map.dispose();
    this.beatboxStatus.dispose();
    this.pathStatus.dispose();
    super.dispose();
  }
}
