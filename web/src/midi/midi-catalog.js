// The shipped cross-modal models (models/crossmodal/index.json: entries
// {id, instruments, file, card, pitch_ranges, size_bytes}, paths relative to
// models/crossmodal/), as ModelCatalog entries the shared ModelPicker shows,
// plus the facts that matter for notes: which instruments, which notes.

import { ModelCatalog } from '../audio/model-catalog.js';
import { factRow } from '../ui/facts.js';
import { ModelPicker } from '../ui/model-picker.js';
import { hzFromMidi, noteName } from '../audio/midi-file.js';

export const CROSSMODAL_URL = new URL('../../models/crossmodal/', import.meta.url);

const title = (text) => text.replace(/[_-]+/g, ' ');

export function instrumentLabel(instruments) {
  return instruments.map(title).join(' + ');
}

function normalise(raw, index, baseUrl) {
  if (!raw || typeof raw !== 'object' || typeof raw.file !== 'string') return null;
  const id = String(raw.id ?? raw.file.replace(/\.tmbl$/i, '') ?? `model-${index}`);
  const instruments = Array.isArray(raw.instruments) && raw.instruments.length ? raw.instruments.map(String) : [id];
  const ranges = Array.isArray(raw.pitch_ranges)
    ? raw.pitch_ranges.filter((r) => Array.isArray(r) && r.length === 2 && r.every(Number.isFinite))
    : [];
  const lo = ranges.length ? Math.min(...ranges.map((r) => r[0])) : null;
  const hi = ranges.length ? Math.max(...ranges.map((r) => r[1])) : null;
  return {
    id,
    instrument: instrumentLabel(instruments),
    instruments,
    pitchRanges: ranges,
    f0RangeHz: lo !== null ? [hzFromMidi(lo), hzFromMidi(hi)] : null,
    file: raw.file,
    card: typeof raw.card === 'string' ? raw.card : null,
    quantized: null,
    sizeBytes: Number.isFinite(raw.size_bytes) ? raw.size_bytes : null,
    source: 'shipped',
    baseUrl: String(baseUrl),
  };
}

export class CrossmodalCatalog extends ModelCatalog {
  constructor(baseUrl = CROSSMODAL_URL, options = {}) {
    super(baseUrl, { family: 'crossmodal_vae', ...options });
  }

  // Resolves [entries] (empty when no index is installed); rejects on a malformed index.
  async list() {
    const response = await fetch(new URL('index.json', this.baseUrl));
    if (response.status === 404) return [];
    if (!response.ok) throw new Error(`the instrument list could not be downloaded (HTTP ${response.status})`);
    let data;
    try {
      data = await response.json();
    } catch {
      throw new Error('the instrument list (models/crossmodal/index.json) is not valid JSON');
    }
    const list = Array.isArray(data) ? data : Array.isArray(data?.models) ? data.models : null;
    if (!list) throw new Error('the instrument list (models/crossmodal/index.json) holds no list of models');
    return list.map((raw, i) => normalise(raw, i, this.baseUrl)).filter(Boolean);
  }
}

// The range of notes as names: "G3 – C7" (per instrument for a mixture).
export function describeRanges(instruments, ranges) {
  if (!ranges?.length) return '';
  const one = (r) => `${noteName(r[0])} – ${noteName(r[1])}`;
  if (ranges.length === 1) return one(ranges[0]);
  return ranges.map((r, i) => `${title(instruments?.[i] ?? `instrument ${i + 1}`)} ${one(r)}`).join(', ');
}

// The shared picker with the facts a note model has: its instruments and the
// notes each plays (from the index, or from the model once loaded).
export class CrossmodalPicker extends ModelPicker {
  constructor(root, catalog, options) {
    super(root, catalog, options);
    this.described = new Map(); // id -> kernel.describe()
  }

  setDescription(entry, description) {
    this.described.set(entry.id, description);
    if (this.selected?.id === entry.id) this.showFacts(entry);
  }

  showFacts(entry) {
    super.showFacts(entry);
    if (!this.el.facts) return;
    const d = this.described.get(entry.id);
    const instruments = d?.instruments ?? entry.instruments;
    const ranges = d?.pitchRanges ?? entry.pitchRanges;
    const extra = [
      ['Plays', describeRanges(instruments, ranges)],
      ['Labels', d?.points?.length ? `${d.points.length} (note, dynamics) pairs` : ''],
    ].filter(([, value]) => value);
    const doc = this.el.facts.ownerDocument;
    for (const [term, value] of extra.reverse()) {
      // Right after the instrument's name.
      this.el.facts.insertBefore(factRow(doc, term, value), this.el.facts.children[1] ?? null);
    }
    // "Notes it plays" in Hz says less than note names: drop it.
    for (const div of [...this.el.facts.children]) {
      if (div.firstChild?.textContent === 'Notes it plays') div.remove();
    }
    this.el.facts.hidden = this.el.facts.children.length === 0;
  }
}
