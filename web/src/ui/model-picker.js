// The instrument picker: one radio tile per model (shipped in models/index.json,
// or a visitor's own .tmbl), the chosen model's key facts and its model card, and
// a drop zone / file input for a visitor's model. It only reports choices
// (onChoose(entry)); the panel loads them.

import { findLine, renderMarkdown } from './markdown.js';

const MIB = 1024 * 1024;

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  return n >= MIB ? `${(n / MIB).toFixed(n >= 10 * MIB ? 0 : 1)} MB` : `${Math.max(1, Math.round(n / 1024))} kB`;
}

export function formatHzRange(range) {
  if (!range) return '';
  const f = (hz) => (hz >= 1000 ? `${(hz / 1000).toFixed(hz >= 10000 ? 0 : 1)} kHz` : `${Math.round(hz)} Hz`);
  return `${f(range[0])} – ${f(range[1])}`;
}

const title = (text) => text.replace(/[_-]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

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
      ['Size', formatBytes(entry.sizeBytes)],
      ['Notes it plays', range ? formatHzRange(range) : ''],
      ['Codebook', (info.quantized ?? entry.quantized) === false
        ? 'none (the paper’s baseline auto-encoder)'
        : info.codes ? `${info.codes} sound codes of ${info.latent ?? '?'} numbers` : ''],
      ['Network', info.hidden ? `GRU of ${info.hidden} units` : ''],
      ['Training', describeTraining(info.training)],
      ...(this.cardFacts.get(entry.id) ?? []),
    ].filter(([, value]) => value);
    const doc = this.el.facts.ownerDocument;
    const nodes = facts.map(([term, value]) => {
      const div = doc.createElement('div');
      const dt = doc.createElement('dt');
      dt.textContent = term;
      const dd = doc.createElement('dd');
      dd.textContent = value.length > 160 ? `${value.slice(0, 157)}…` : value;
      div.append(dt, dd);
      return div;
    });
    this.el.facts.replaceChildren(...nodes);
    this.el.facts.hidden = nodes.length === 0;
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
    // Key lines of the card, shown without opening it: training data and time,
    // codebook use, quality figures.
    const strip = (line, prefix) => line.replace(prefix, '');
    this.cardFacts.set(entry.id, [
      ['Trained on', strip(findLine(text, /^\s*[-*]?\s*(\*\*)?(data|training data|corpus)\b/i), /^(data|training data|corpus)\s*:\s*/i)],
      ['Training time', strip(findLine(text, /training time|trained (for|in)|^\s*[-*]\s*time:/i), /^[^:]*time\s*:\s*/i)],
      ['Codebook use', strip(findLine(text, /codebook (usage|use)|perplexity/i), /^codebook (usage|use)\s*:\s*/i)],
      ['Quality', findLine(text, /transfer accuracy|\bLSD\b|f0 error/i)],
    ]);
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

  // Removes a visitor's model that the kernel refused (a shipped one stays listed).
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
