// The cross-modal model a panel plays with (the MIDI and Transcribe panels):
// its picker, the Worker that loads it, and the status lines for choosing,
// loading and failing. Loads run one after another; only the last choice
// counts, and a failed choice leaves the model before it loaded.

import { CrossmodalPicker, instrumentLabel } from './midi-catalog.js';
import { formatBytes, modelErrorMessage } from '../ui/model-picker.js';
import { capital } from '../ui/panel.js';

export class CrossmodalModelSlot {
  // label: the element that names the loaded model; status: the panel's
  // StatusArea for models. onLoading(entry) runs before a load starts (to stop
  // work for the old model), onLoaded(model) once it is the panel's.
  constructor(root, { catalog, worker, status, label, idPrefix, radioName, onLoading = () => {}, onLoaded = () => {} }) {
    this.root = root;
    this.catalog = catalog;
    this.worker = worker;
    this.status = status;
    this.label = label;
    this.onLoading = onLoading;
    this.onLoaded = onLoaded;
    this.picker = new CrossmodalPicker(root, catalog, { idPrefix, radioName });
    this.model = null; // {entry, description, bytes}
    this.wanted = null;
    this.queue = Promise.resolve();
    this.ready = null;
    this.picker.onChoose = (entry) => this.choose(entry);
    this.picker.onFileError = (error, file) => this.status.set('model-error', modelErrorMessage({ source: 'file', file: file?.name ?? 'The file' }, error,
      this.model ? `${this.name} stays loaded.` : ''));
  }

  // Starts the Worker and lists the models (once); the first one is chosen.
  // Resolves the entries, also when the Worker fails (onWorkerFailure says so).
  start({ onWorkerFailure, noModelsText }) {
    if (!this.ready) {
      this.ready = this.worker.start().then(
        () => this.picker.load(),
        (error) => {
          onWorkerFailure(error);
          return this.picker.load();
        },
      ).then((entries) => {
        if (!entries.length) {
          this.status.set('no-models', { kind: 'warning', title: 'No note instruments are installed.', text: noModelsText });
        }
        if (entries.length && !this.wanted) this.choose(entries[0]);
        return entries;
      });
    }
    return this.ready;
  }

  // The loaded model's instruments, capitalised ("Violin", "Sax + violin").
  get name() {
    const d = this.model?.description;
    return capital(d?.instruments?.length ? instrumentLabel(d.instruments) : this.model?.entry.instrument ?? 'the instrument');
  }

  choose(entry) {
    this.wanted = entry;
    this.status.clear('model-error');
    this.status.clear('no-models');
    this.picker.setState(entry, 'loading');
    this.queue = this.queue.then(() => this.load(entry));
    return this.queue;
  }

  async load(entry) {
    if (this.wanted !== entry) return;
    this.onLoading(entry);
    let bytes;
    let description;
    try {
      bytes = await this.catalog.fetchBytes(entry);
      description = await this.worker.load(bytes);
    } catch (error) {
      if (this.wanted === entry) this.fail(entry, error);
      return;
    }
    if (this.wanted !== entry) return;
    this.model = { entry, description, bytes };
    this.picker.setState(entry, 'playing');
    this.picker.setDescription(entry, description);
    this.root.dataset.model = entry.id;
    this.label.textContent = `${this.name}${entry.sizeBytes ? ` (${formatBytes(entry.sizeBytes)})` : ''}`;
    this.label.dataset.model = entry.id;
    this.onLoaded(this.model);
  }

  fail(entry, error) {
    const keeping = this.model ? `${this.name} stays loaded.` : '';
    this.wanted = this.picker.refuse(entry, error, { status: this.status, current: this.model?.entry, keeping }) ?? this.wanted;
  }


  dispose() {
    this.picker.dispose();
  }
}
