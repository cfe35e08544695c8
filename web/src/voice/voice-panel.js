// The "Voice" panel: voice -> instrument timbre transfer. Wires the instrument
// picker, the input sources (microphone, example clip, a visitor's file), the
// sound controls, the meters and the recorder to a TransferEngine.

import { BufferPlayer, decodeAudioFile } from '../audio/clip-player.js';
import { CoreError } from '../audio/engine.js';
import { loadExample } from '../audio/example-clip.js';
import { ModelCatalog } from '../audio/model-catalog.js';
import { Recorder } from '../audio/recorder.js';
import { float32Base64 } from '../audio/wav.js';
import { ModelPicker, formatBytes, modelErrorMessage } from '../ui/model-picker.js';
import { InputPanel } from '../ui/input-panel.js';
import { StatusArea } from '../ui/status.js';
import { VoiceControls } from './voice-controls.js';
import { VoiceEngine } from './voice-engine.js';
import { VoiceMeters } from './voice-meters.js';

// Every instrument plays the example clip this loud (A-weighted dB): each model
// is loaded with its difference to it (models/index.json output_level_db),
// within +-12 dB, on its own path (the voice's dry path is left alone), so
// switching instruments does not jump the level.
export const LEVEL_TARGET_DB = -20;
export const levelTrimDb = (entry) => (Number.isFinite(entry?.outputLevelDb)
  ? Math.max(-12, Math.min(12, LEVEL_TARGET_DB - entry.outputLevelDb)) : 0);

const title = (text) => text.replace(/[_-]+/g, ' ').replace(/^\w/, (c) => c.toUpperCase());

const clock = (seconds) => {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export class VoicePanel extends InputPanel {
  constructor(root, { audio, capabilities, catalog = new ModelCatalog() }) {
    super(root, { audio, capabilities, name: 'voice' });
    const $ = (id) => this.$(id);
    this.el = {
      mic: $('voice-mic-button'),
      example: $('voice-example-button'),
      fileButton: $('voice-file-button'),
      file: $('voice-file'),
      stop: $('voice-stop-button'),
      source: $('voice-source'),
      monitor: $('voice-monitor'),
      headphones: $('voice-monitor-note'),
      soundOff: $('voice-sound-off'),
      soundOffText: $('voice-sound-off-text'),
      soundOn: $('voice-sound-on-button'),
      record: $('record-button'),
      recordTime: $('record-time'),
      download: $('record-download'),
      downloadRow: $('download-row'),
      recordHint: $('record-hint'),
      format: $('record-format'),
      sampleRate: $('voice-sample-rate'),
      model: $('voice-model-value'),
    };
    this.status = new StatusArea($('voice-status'));
    this.catalog = catalog;
    this.picker = new ModelPicker(root, catalog);
    this.controls = new VoiceControls(root);
    this.meters = new VoiceMeters(root);
    this.recorder = null;
    this.current = null; // the model entry the kernel plays
    this.wanted = null; // the model entry last chosen
    this.modelQueue = Promise.resolve();
    this.recordTimer = 0;

    this.picker.onChoose = (entry) => this.chooseModel(entry);
    this.picker.onFileError = (error, file) => this.status.set('model-error', modelErrorMessage({ source: 'file', file: file?.name ?? 'The file' }, error, this.keepingText()));
    this.controls.onChange = (values) => {
      this.engine?.setParams(values);
      this.meters.setOctaves(values.octaves);
    };
    this.meters.onSuggest = (octaves) => this.controls.setOctaves(octaves);

    this.on(this.el.mic, 'click', () => this.startMicrophone());
    this.on(this.el.example, 'click', () => this.playExample());
    // The engine (and the page's AudioContext) starts inside this click, a user
    // gesture: the file dialog's change event may come too late to count as one.
    this.on(this.el.fileButton, 'click', () => {
      if (this.caps.canRun) this.ensureEngine();
      this.el.file.click();
    });
    this.on(this.el.file, 'change', () => {
      const file = this.el.file.files?.[0];
      this.el.file.value = '';
      if (file) this.playFile(file);
    });
    this.on(this.el.stop, 'click', () => this.stop());
    this.on(this.el.monitor, 'change', () => this.applyMonitor());
    this.on(this.el.soundOn, 'click', () => {
      this.el.monitor.checked = true;
      this.applyMonitor();
    });
    this.on(this.el.record, 'click', () => this.toggleRecording());
    this.on(this.el.format, 'change', () => this.makeDownload());
    this.showProblems(this.status);
    this.updateButtons();
    this.ready = null;
  }

  // Called when the panel is first shown: fetches the model list then (a visitor
  // who never opens the panel downloads nothing). Resolves the entries.
  activate() {
    super.activate();
    if (!this.ready) {
      this.ready = this.picker.load().then((entries) => {
        if (entries.length && !this.wanted) this.chooseModel(entries[0]);
        return entries;
      });
    }
    return this.ready;
  }

  get monitorOn() {
    return this.el.monitor.checked;
  }

  showSourceMode() {
    this.updateButtons();
  }

  get playing() {
    return this.sourceMode === 'mic' || this.sourceMode === 'example' || this.sourceMode === 'file';
  }

  updateButtons() {
    const { mic, example, fileButton, stop, source, record } = this.el;
    const canRun = this.caps.canRun;
    const starting = this.sourceMode === 'starting' ? this.starting : null;
    mic.disabled = !canRun || !this.caps.microphone || this.sourceMode === 'mic' || this.sourceMode === 'starting';
    example.disabled = !canRun || this.sourceMode === 'starting';
    fileButton.disabled = !canRun || this.sourceMode === 'starting';
    stop.disabled = this.sourceMode === 'idle';
    mic.setAttribute('aria-pressed', String(this.sourceMode === 'mic'));
    example.setAttribute('aria-pressed', String(this.sourceMode === 'example'));
    fileButton.setAttribute('aria-pressed', String(this.sourceMode === 'file'));
    mic.querySelector('span').textContent =
      this.sourceMode === 'mic' ? 'Listening…' : starting === 'mic' ? 'Starting…' : 'Start microphone';
    example.querySelector('span').textContent =
      this.sourceMode === 'example' ? 'Restart example' : starting === 'example' ? 'Loading…' : 'Play example';
    fileButton.querySelector('span').textContent = starting === 'file' ? 'Opening…' : 'Play a file…';
    const label = {
      idle: 'nothing',
      starting: 'starting…',
      mic: this.source?.label ?? 'microphone',
      example: 'the example clip (a sung glide), in a loop',
      file: `${this.source?.label ?? 'your file'}, in a loop`,
    }[this.sourceMode];
    source.textContent = label;
    source.dataset.source = this.sourceMode;
    const recording = this.recorder?.recording ?? false;
    record.disabled = !recording && !this.playing;
    record.setAttribute('aria-pressed', String(recording));
    record.querySelector('span').textContent = recording ? 'Stop recording' : 'Record';
  }

  // ---------- engine ----------

  createEngine(context) {
    return new VoiceEngine(context, { params: this.controls.values, monitorGain: this.monitorOn ? 1 : 0 }).toDestination();
  }

  engineStarted(engine, info) {
    super.engineStarted(engine, info);
    this.recorder = new Recorder(engine.reader, engine.sampleRate);
    this.recorder.onLimit = () => {
      this.finishRecording();
      this.status.set('record-limit', { kind: 'info', title: 'The recording stopped at 5 minutes.', text: 'Download it below, then record again if you like.' });
    };
    this.applyMonitor();
    this.meters.attach(engine.reader);
    this.meters.showLatency(engine.latency());
    if (this.wanted) this.loadModel(this.wanted);
  }

  // ---------- models ----------

  chooseModel(entry) {
    this.wanted = entry;
    this.status.clear('model-error');
    this.picker.setState(entry, 'loading');
    if (!this.current) this.meters.setModel(entry.instrument.replace(/[_-]+/g, ' '), entry.f0RangeHz);
    if (this.engine?.node) {
      this.loadModel(entry);
    } else {
      // Not running yet: download now (errors show early), load at start.
      this.catalog.fetchBytes(entry).then(
        () => {
          if (this.wanted === entry && !this.engine?.node) this.picker.setState(entry, 'ready');
        },
        (error) => this.modelFailed(entry, error),
      );
    }
  }

  // Loads run one after another; each crossfades in inside the kernel.
  loadModel(entry) {
    this.modelQueue = this.modelQueue.then(async () => {
      const engine = this.engine;
      if (!engine?.node || this.wanted !== entry) return;
      this.picker.setState(entry, 'loading');
      try {
        const bytes = await this.catalog.fetchBytes(entry);
        const result = await engine.loadModel(bytes, { gainDb: levelTrimDb(entry) });
        if (engine !== this.engine) return;
        this.current = entry;
        this.picker.setState(entry, 'playing');
        this.picker.setInfo(entry, result.info);
        const range = entry.f0RangeHz ?? (Array.isArray(result.info.f0_range_hz) ? result.info.f0_range_hz : null);
        // The index's name for a shipped model, the file's own for a visitor's.
        const named = entry.source === 'file' ? result.info.instrument || entry.instrument : entry.instrument;
        const instrument = String(named).replace(/[_-]+/g, ' ');
        this.meters.setModel(instrument, range);
        this.meters.showLatency(engine.latency());
        this.recorder?.mark('model', result.ringFrame, { id: entry.id });
        this.el.model.textContent = `${instrument}${entry.sizeBytes ? ` (${formatBytes(entry.sizeBytes)})` : ''}`;
        this.el.model.dataset.model = entry.id;
        this.status.clear('model-error');
        this.status.clear('no-model');
        this.root.dataset.model = entry.id;
      } catch (error) {
        if (engine === this.engine) this.modelFailed(entry, error);
      }
    });
    return this.modelQueue;
  }

  // What plays on when a model is refused, in words.
  keepingText() {
    return this.current ? `${title(this.current.instrument)} keeps playing.` : '';
  }

  modelFailed(entry, error) {
    this.wanted = this.picker.refuse(entry, error, { status: this.status, current: this.current, keeping: this.keepingText() }) ?? this.wanted;
  }

  // ---------- sources ----------

  playExample() {
    this.status.clear('file-error');
    return this.startSource(
      'example',
      async (context) => new BufferPlayer(context, await loadExample(context), { loop: true, label: 'example clip' }),
      InputPanel.clipError('file-error', 'The example clip could not be played.'),
    );
  }

  playFile(file) {
    this.status.clear('file-error');
    return this.startSource(
      'file',
      async (context) => new BufferPlayer(context, await decodeAudioFile(context, file), { loop: true, label: file.name }),
      InputPanel.clipError('file-error', `“${file.name}” could not be played.`),
    );
  }

  sourceStarted() {
    this.meters.wake();
    this.applyMonitor();
    if (!this.wanted) {
      this.status.set('no-model', { kind: 'info', title: 'No instrument is loaded.', text: 'Pick an instrument, or load your own model, to hear your voice transformed.' });
    }
  }

  stop() {
    if (this.recorder?.recording) this.finishRecording();
    super.stop();
    this.meters.showIdle();
    this.applyMonitor();
  }

  onContextState(state) {
    super.onContextState(state);
    if (state === 'running' && this.engine?.node) this.meters.showLatency(this.engine.latency());
  }

  describeEngineFailure(error) {
    if (!(error instanceof CoreError)) return super.describeEngineFailure(error);
    const rate = error.sampleRate ?? this.audio.sampleRate;
    const missing = /VoiceKernel/.test(error.message);
    return {
      title: missing ? 'This build of Timbrel has no voice engine yet.' : 'The voice engine cannot run on this audio device.',
      text: missing
        ? `${error.message}. The Listen panel still works.`
        : `${error.message}${rate ? ` (the device runs at ${rate} Hz)` : ''}. Try another audio device or set its sample rate to 44.1 or 48 kHz in your system settings, then reload the page.`,
    };
  }

  engineLost() {
    if (this.recorder?.recording) this.finishRecording();
    this.recorder = null;
    this.disposeSource();
    this.meters.detach();
    this.current = null;
    if (this.wanted) this.picker.setState(this.wanted, '');
    this.setMode('idle');
  }

  // The headphones note is emphasised while the sound is on with the microphone;
  // playing with the sound off is said beside the buttons just pressed (the
  // sound starts off so that a microphone cannot howl through speakers).
  applyMonitor() {
    const on = this.monitorOn;
    this.engine?.setMonitorGain(on ? 1 : 0);
    this.el.headphones.toggleAttribute('data-alert', on && this.sourceMode === 'mic');
    this.el.soundOff.hidden = on || !this.playing;
    this.el.soundOffText.textContent = this.sourceMode === 'mic'
      ? 'You hear nothing yet: the sound is off, so that the microphone cannot howl through speakers. Put headphones on, then'
      : 'You hear nothing yet: the sound is off (step 3).';
  }

  // ---------- recording ----------

  toggleRecording() {
    if (!this.recorder) return;
    if (this.recorder.recording) {
      this.finishRecording();
      return;
    }
    this.status.clear('record-limit');
    this.recorder.start();
    this.el.downloadRow.hidden = true;
    this.el.recordHint.hidden = true;
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
    this.makeDownload();
    this.updateButtons();
  }

  makeDownload() {
    const take = this.recorder?.take;
    if (!take || take.output.length === 0) return;
    const blob = this.recorder.toWavBlob(this.el.format.value);
    const name = (this.current?.instrument ?? 'output').replace(/[^\w-]+/g, '-');
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    this.offerDownload(this.el.download, blob, `timbrel-${name}-${stamp}.wav`, `Download WAV (${formatBytes(blob.size)})`);
    this.el.downloadRow.hidden = false;
  }

  // For tests and debugging: the last take as base64 float32 channels.
  exportTake() {
    const take = this.recorder?.take;
    if (!take) return null;
    return { sampleRate: take.sampleRate, lapped: take.lapped, marks: take.marks, input: float32Base64(take.input), output: float32Base64(take.output) };
  }

  dispose() {
    clearInterval(this.recordTimer);
    this.recorder?.dispose();
    this.recorder = null;
    this.meters.dispose();
    super.dispose();
    this.picker.dispose();
    this.controls.dispose();
    this.catalog.dispose();
    this.status.dispose();
  }
}
