// The instrument picker: one radio tile per model (shipped in models/index.json,
// or a visitor's own .tmbl), the chosen model's key facts and its model card, and
// a drop zone / file input for a visitor's model. It only reports choices
// (onChoose(entry)); the panel loads them.

import { showFacts } from './facts.js';
import { noteFromHz } from '../audio/pitch.js';
import { renderMarkdown } from './markdown.js';
import { sentence } from './panel.js';

const MIB = 1024 * 1024;

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} bytes`;
  return n >= MIB ? `${(n / MIB).toFixed(n >= 10 * MIB ? 0 : 1)} MB` : `${Math.round(n / 1024)} kB`;
}

export function formatHzRange(range) {
  if (!range) return '';
  const f = (hz) => (hz >= 1000 ? `${(hz / 1000).toFixed(hz >= 10000 ? 0 : 1)} kHz` : `${Math.round(hz)} Hz`);
  return `${f(range[0])} – ${f(range[1])}`;
}

// "C♯3 – F♯5 (155 Hz – 748 Hz)": notes first, for a musician.
export function formatNoteRange(range) {
  if (!range) return '';
  const note = (hz) => noteFromHz(hz)?.name ?? '';
  return `${note(range[0])} – ${note(range[1])} (${formatHzRange(range)})`;
}

// A Markdown table of the card (the first whose header row names `column`)
// as rows of {header: cell}.
export function cardTable(text, column) {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^\s*\|/.test(l) && l.split('|').some((c) => c.trim() === column));
  if (start < 0) return [];
  const cells = (line) => line.split('|').slice(1, -1).map((c) => c.trim());
  const header = cells(lines[start]);
  const rows = [];
  for (let i = start + 2; i < lines.length && /^\s*\|/.test(lines[i]); i++) {
    rows.push(Object.fromEntries(cells(lines[i]).map((value, k) => [header[k], value])));
  }
  return rows;
}

// What a visitor wants to know from a model card, in plain words: how much
// playing it learned from, how well it keeps the melody, how much it sounds
// like the instrument. The numbers stay in the card itself.
export function plainCardFacts(text, instrument) {
  const facts = [];
  const minutes = /^\s*[-*]\s*data:[^\n]*?([\d.]+)\s*min\b/im.exec(text)?.[1];
  if (minutes) facts.push(['Learned from', `${Math.max(1, Math.round(Number(minutes)))} minutes of ${instrument.toLowerCase()} playing`]);
  const row = cardTable(text, 'mode').find((r) => /^pitch/i.test(r.mode ?? ''));
  const cents = Number(row?.['f0 err voice (c)']);
  const heard = Number(row?.['acc. voice']);
  const centsText = (c) => (Math.max(1, Math.round(c)) === 1 ? '1 cent' : `${Math.round(c)} cents`);
  if (Number.isFinite(cents)) facts.push(['Keeps your melody', `within ${centsText(cents)} (hundredths of a semitone) on sung and spoken input`]);
  const held = Number(row?.['f0 err held-out (c)']);
  if (Number.isFinite(held)) facts.push(['Unseen sounds', `other instruments from a sound set no model learned from: melody kept within ${centsText(held)}`]);
  if (Number.isFinite(heard)) facts.push(['Sounds like it', `${Math.round(heard * 100)} % of the time, as judged by a separate instrument recogniser`]);
  return facts;
}

const title = (text) => text.replace(/[_-]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

// The message for a model that could not be loaded (a shipped one, or a
// visitor's file refused on drop or by the kernel); `keeping` says what plays on.
export function modelErrorMessage(entry, error, keeping = '') {
  return {
    kind: 'error',
    title: entry.source === 'file' ? `“${entry.file}” could not be loaded.` : `The ${title(entry.instrument).toLowerCase()} model could not be loaded.`,
    text: `${sentence(error)}.${keeping ? ` ${keeping}` : ''}`,
  };
}

function describeTraining(training) {
  if (training == null || training === '') return '';
  if (typeof training === 'string') return training;
  if (typeof training !== 'object') return String(training);
  // The trainer's object (scripts/timbrel/train/vq.py): say it in one line.
  if (Number.isFinite(training.steps) && Number.isFinite(training.seconds)) {
    const minutes = Math.max(1, Math.round(training.seconds / 60));
    const corpus = Number.isFinite(training.corpus_minutes) ? ` on ${training.corpus_minutes.toFixed(1)} min of audio` : '';
    const device = training.device ? ` (${training.device})` : '';
    return `${training.steps} steps in ${minutes} min${corpus}${device}`;
  }
  const parts = [];
  for (const [key, value] of Object.entries(training)) {
    if (value == null || typeof value === 'object') continue;
    parts.push(`${key.replace(/_/g, ' ')}: ${value}`);
  }
  return parts.join(' · ');
}

export class ModelPicker {
  // idPrefix / radioName: a second picker on the page (the Draw panel's) uses
  // its own element ids ("draw-model-list", ...) and radio group.
  // include: which index entries this picker offers (the Draw panel needs a codebook).
  constructor(root, catalog, { idPrefix = '', radioName = 'voice-model', include = () => true } = {}) {
    const $ = (id) => root.querySelector(`#${idPrefix}${id}`);
    this.catalog = catalog;
    this.idPrefix = idPrefix;
    this.radioName = radioName;
    this.include = include;
    this.el = {
      list: $('model-list'),
      note: $('model-list-note'),
      facts: $('model-facts'),
      example: $('model-example'),
      exampleOutput: $('model-example-output'),
      exampleInput: $('model-example-input'),
      card: $('model-card'),
      cardBody: $('model-card-body'),
      drop: $('model-drop'),
      file: $('model-file'),
    };
    this.entries = [];
    this.selected = null;
    this.loadedInfo = new Map(); // id -> modelInfo() of the kernel
    this.cardFacts = new Map(); // id -> [[term, value]] found in the model card
    this.onChoose = null; // (entry) => void
    this.onFileError = null; // (error) => void
    this.cardRequest = 0;

    this.handleChange = (event) => {
      const entry = this.entries.find((e) => e.id === event.target.value);
      if (entry) this.choose(entry);
    };
    this.handleFile = () => {
      const file = this.el.file.files?.[0];
      this.el.file.value = '';
      if (file) this.addFile(file);
    };
    this.handleDragOver = (event) => {
      if (![...(event.dataTransfer?.types ?? [])].includes('Files')) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      this.el.drop.dataset.over = 'true';
    };
    this.handleDragLeave = () => delete this.el.drop.dataset.over;
    this.handleDrop = (event) => {
      event.preventDefault();
      delete this.el.drop.dataset.over;
      const file = event.dataTransfer?.files?.[0];
      if (file) this.addFile(file);
    };
    this.el.list.addEventListener('change', this.handleChange);
    this.el.file.addEventListener('change', this.handleFile);
    // The whole instrument card accepts a dropped model, not only the small zone.
    this.dropTarget = this.el.drop.closest('section') ?? this.el.drop;
    this.dropTarget.addEventListener('dragover', this.handleDragOver);
    this.dropTarget.addEventListener('dragleave', this.handleDragLeave);
    this.dropTarget.addEventListener('drop', this.handleDrop);
  }

  // Fetches models/index.json and shows a tile per model; selects the first.
  async load() {
    let entries;
    try {
      entries = (await this.catalog.list()).filter((entry) => this.include(entry));
    } catch (error) {
      this.el.note.textContent = `The instrument list could not be read: ${error.message}. You can still load your own model file below.`;
      this.el.note.dataset.kind = 'error';
      return [];
    }
    this.entries = entries;
    this.render();
    if (entries.length === 0) {
      this.el.note.textContent = 'No instruments are installed yet. Train one with the scripts (see models/README.md), or load a .tmbl model file below.';
      this.el.note.dataset.kind = 'warning';
    } else {
      this.el.note.textContent = '';
      this.el.note.hidden = true;
      this.select(entries[0]);
    }
    return entries;
  }

  render() {
    const doc = this.el.list.ownerDocument;
    const legend = this.el.list.querySelector('legend');
    const tiles = this.entries.map((entry, i) => {
      const label = doc.createElement('label');
      label.className = 'model-tile';
      label.dataset.model = entry.id;
      const input = doc.createElement('input');
      input.type = 'radio';
      input.name = this.radioName;
      input.value = entry.id;
      input.id = `${this.idPrefix}model-${i}`;
      const name = doc.createElement('span');
      name.className = 'model-name';
      // Two models of one instrument (violin, violin-baseline) are told apart by id.
      const twins = this.entries.filter((e) => e.instrument === entry.instrument).length > 1;
      name.textContent = title(twins && entry.source === 'shipped' ? entry.id : entry.instrument);
      const meta = doc.createElement('span');
      meta.className = 'model-meta';
      const bits = [];
      if (entry.source === 'file') bits.push('your file');
      if (entry.sizeBytes) bits.push(formatBytes(entry.sizeBytes));
      if (entry.quantized === false) bits.push('no codebook');
      meta.textContent = bits.join(' · ');
      const state = doc.createElement('span');
      state.className = 'model-state';
      state.setAttribute('aria-hidden', 'true');
      label.append(input, name, meta, state);
      return label;
    });
    this.el.list.replaceChildren(legend, ...tiles);
    this.el.list.hidden = tiles.length === 0;
  }

  // Selects a tile and reports it (does not load anything itself).
  choose(entry) {
    this.select(entry);
    this.onChoose?.(entry);
  }

  select(entry) {
    this.selected = entry;
    for (const input of this.el.list.querySelectorAll(`input[name="${this.radioName}"]`)) {
      input.checked = input.value === entry.id;
    }
    this.showFacts(entry);
    this.showExample(entry);
    this.showCard(entry);
  }

  // state: 'loading' | 'playing' | 'error' | '' for a tile.
  setState(entry, state) {
    for (const tile of this.el.list.querySelectorAll('.model-tile')) {
      if (tile.dataset.model === entry.id) tile.dataset.state = state;
      else if (state === 'playing' && tile.dataset.state === 'playing') delete tile.dataset.state;
    }
  }

  // The kernel's modelInfo() once loaded: more facts (codes, latent, training).
  setInfo(entry, info) {
    this.loadedInfo.set(entry.id, info);
    if (this.selected?.id === entry.id) this.showFacts(entry);
  }

  showFacts(entry) {
    if (!this.el.facts) return; // a picker without the facts list
    const info = this.loadedInfo.get(entry.id) ?? {};
    const range = entry.f0RangeHz ?? (Array.isArray(info.f0_range_hz) ? info.f0_range_hz : null);
    const facts = [
      ['Instrument', title(entry.source === 'file' ? info.instrument || entry.instrument : entry.instrument)],
      ['Notes it plays', formatNoteRange(range)],
      ['Sounds it knows', (info.quantized ?? entry.quantized) === false
        ? 'no fixed set (the paper’s comparison model, without a codebook)'
        : info.codes ? `${info.codes}, the building blocks it plays your voice with` : ''],
      ...(this.cardFacts.get(entry.id) ?? []),
      ['Training', this.cardFacts.has(entry.id) ? '' : describeTraining(info.training)],
      ['Size', formatBytes(entry.sizeBytes)],
    ].filter(([, value]) => value);
    showFacts(this.el.facts, facts.map(([term, value]) => [term, value.length > 160 ? `${value.slice(0, 157)}…` : value]));
  }

  // The model's example: the same sung phrase through every model, to compare by ear.
  showExample(entry) {
    const { example, exampleOutput, exampleInput } = this.el;
    if (!example || !exampleOutput) return;
    const base = entry.baseUrl ?? this.catalog.baseUrl;
    example.hidden = !entry.example;
    for (const audio of [exampleOutput, exampleInput]) audio?.pause();
    if (!entry.example) {
      exampleOutput.removeAttribute('src');
      return;
    }
    exampleOutput.src = String(new URL(entry.example, base));
    exampleOutput.setAttribute('aria-label', `The example phrase played by the ${title(entry.instrument).toLowerCase()} model`);
    if (exampleInput && entry.exampleInput) exampleInput.src = String(new URL(entry.exampleInput, base));
  }

  async showCard(entry) {
    const request = ++this.cardRequest;
    const { card, cardBody } = this.el;
    if (!card || !cardBody) return; // a picker without the model card
    card.hidden = true;
    cardBody.replaceChildren();
    if (!entry.card) return;
    const text = await this.catalog.fetchCard(entry);
    if (request !== this.cardRequest || !text) return;
    cardBody.replaceChildren(renderMarkdown(text, { doc: cardBody.ownerDocument, headingOffset: 2 }));
    card.hidden = false;
    // The card's key figures in plain words, without opening it.
    this.cardFacts.set(entry.id, plainCardFacts(text, title(entry.instrument)));
    if (this.selected?.id === entry.id) this.showFacts(entry);
  }

  // A visitor's .tmbl: checked, added as a tile, chosen. Errors go to onFileError.
  async addFile(file) {
    let entry;
    try {
      entry = await this.catalog.addFile(file);
    } catch (error) {
      this.onFileError?.(error, file);
      return null;
    }
    this.entries.push(entry);
    this.render();
    this.el.note.hidden = true;
    this.choose(entry);
    return entry;
  }

  // A model that could not be loaded: said in `status` with what plays on
  // (`keeping`, when `current` is another model), a visitor's file taken off the
  // list, and `current` shown as chosen again. Returns the entry that stays
  // chosen (current, or null).
  refuse(entry, error, { status, current, keeping }) {
    this.setState(entry, 'error');
    const other = current && current !== entry ? current : null;
    status.set('model-error', modelErrorMessage(entry, error, other ? keeping : ''));
    this.reject(entry);
    if (!other) return null;
    this.select(other);
    this.setState(other, 'playing');
    return other;
  }

  // Removes a visitor's model that was refused (a shipped one stays listed).
  reject(entry) {
    if (entry.source !== 'file') return;
    this.entries = this.entries.filter((e) => e !== entry);
    this.catalog.forget(entry);
    this.render();
  }

  dispose() {
    this.el.list.removeEventListener('change', this.handleChange);
    this.el.file.removeEventListener('change', this.handleFile);
    this.dropTarget.removeEventListener('dragover', this.handleDragOver);
    this.dropTarget.removeEventListener('dragleave', this.handleDragLeave);
    this.dropTarget.removeEventListener('drop', this.handleDrop);
  }
}
