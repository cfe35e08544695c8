// The "Transcribe" panel: signal-to-symbol inference with a cross-modal VAE,
// p(y|x) = p(y|z) q(z|x). A visitor picks the instrument that plays, gives a
// clip (the example phrase, an audio file, or the microphone), and the Worker
// transcribes it (the core's Transcriber: per-frame labels, then notes). The
// notes show on a piano roll with the per-frame pitch and confidence; the clip
// and the notes (rendered back through the model) can be played, and the
// notes downloaded as a MIDI file.
//
// The example phrase is rendered at page time by the chosen model itself from
// the example tune's melody (midi-example.js): no recording can be shipped
// (the training audio is generated, and not committed), and a phrase whose
// notes are known lets a visitor check the transcription against them (the
// dashed outlines).

import { AudioFileError } from '../audio/clip-player.js';
import { CrossmodalCatalog } from '../midi/midi-catalog.js';
import { CrossmodalModelSlot } from '../midi/midi-model-slot.js';
import { EXAMPLE_BPM, exampleMelodyNotes } from '../midi/midi-example.js';
import { DYNAMICS, noteName, writeMidi } from '../audio/midi-file.js';
import { CancelledError, CrossmodalWorker } from '../midi/midi-renderer.js';
import { formatBytes } from '../ui/model-picker.js';
import { PianoRoll } from '../ui/piano-roll.js';
import { Panel, sentence } from '../ui/panel.js';
import { StatusArea } from '../ui/status.js';
import { TranscribeEngine } from './transcribe-engine.js';
import { MODEL_RATE, MicRecorder, decodeClip, describeRecordError } from './transcribe-audio.js';
import { showFacts } from '../ui/facts.js';
import { acceptFiles } from '../ui/file-drop.js';
import { showLevel } from '../ui/level-meter.js';

// Per-frame values the core returns (kernel.transcribe().frames).
export const FRAME = Object.freeze({ STRIDE: 5, TIME: 0, PITCH: 1, DYNAMICS: 2, CONFIDENCE: 3, ACTIVE: 4 });
// How the transcribed notes are played back: the model's plainest sound.
const PLAYBACK_OPTIONS = Object.freeze({ temperature: 0, interpolation: 'linear', phase: 'griffin-lim', iterations: 30, seed: 1 });
// Gap before each next note of the example phrase: the release (150 ms) must
// dip the level between repeated notes for the level onset to separate them.
const EXAMPLE_GAP_S = 0.2;
const EXAMPLE_OPTIONS = Object.freeze({ temperature: 0.5, interpolation: 'linear', phase: 'griffin-lim', iterations: 30, seed: 7 });

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

// The example melody, detached (repeated notes need a gap to be told apart),
// moved by whole octaves into [lo, hi] (when it can be).
export function exampleMelody(range) {
  const notes = exampleMelodyNotes({ gap: EXAMPLE_GAP_S }).map((n) => ({ ...n, track: 0 }));
  if (!range) return notes;
  const lo = Math.min(...notes.map((n) => n.pitch));
  const hi = Math.max(...notes.map((n) => n.pitch));
  let shift = 0;
  while (lo + shift < range[0] && hi + shift + 12 <= range[1]) shift += 12;
  while (hi + shift > range[1] && lo + shift - 12 >= range[0]) shift -= 12;
  return notes.map((n) => ({ ...n, pitch: n.pitch + shift }));
}

// Per-frame curves for the roll from the core's frames: {times, pitch (NaN
// where the gate is closed or no pitch), confidence}.
export function framesToCurve(frames) {
  const n = Math.floor((frames?.length ?? 0) / FRAME.STRIDE);
  const times = new Float32Array(n);
  const pitch = new Float32Array(n);
  const confidence = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const f = i * FRAME.STRIDE;
    times[i] = frames[f + FRAME.TIME];
    const active = frames[f + FRAME.ACTIVE] > 0.5;
    const p = frames[f + FRAME.PITCH];
    pitch[i] = active && p >= 0 ? p : NaN;
    confidence[i] = active ? frames[f + FRAME.CONFIDENCE] : NaN;
  }
  return { times, pitch, confidence };
}

// How often the decoded pitch changes between successive sounding frames. An
// instrument playing notes holds each pitch for many frames (0.02-0.04 changes
// per frame on the performance corpus's violin phrases, in FluidR3 and
// TimGM6mb); speech (0.20), sung glides and sirens (0.09-0.14) move all the
// time, and their "notes" are a rough guess. Measured with `timbrel transcribe
// --frames` and the violin model; the page says so above MOVING_PITCH.
export const MOVING_PITCH = 0.08;
export function pitchChangeRate(frames) {
  const n = Math.floor((frames?.length ?? 0) / FRAME.STRIDE);
  let active = 0;
  let changes = 0;
  let last = null;
  for (let i = 0; i < n; i++) {
    const f = i * FRAME.STRIDE;
    if (!(frames[f + FRAME.ACTIVE] > 0.5)) continue;
    const p = frames[f + FRAME.PITCH];
    if (last !== null && p !== last) changes++;
    last = p;
    active++;
  }
  return { active, rate: active > 1 ? changes / (active - 1) : 0 };
}

// How many reference notes the transcription got right: a reference note
// matches a transcribed note (each used once) of its pitch that starts within
// `onset` seconds of it; two notes merged into one match once.
export function matchNotes(reference, found, { onset = 0.1 } = {}) {
  const used = new Set();
  let matched = 0;
  for (const r of reference) {
    let best = -1;
    for (let i = 0; i < found.length; i++) {
      const n = found[i];
      if (used.has(i) || n.pitch !== r.pitch || Math.abs(n.start - r.start) > onset) continue;
      if (best < 0 || Math.abs(n.start - r.start) < Math.abs(found[best].start - r.start)) best = i;
    }
    if (best >= 0) {
      used.add(best);
      matched++;
    }
  }
  return { matched, total: reference.length, extra: found.length - matched };
}

export class TranscribePanel extends Panel {
  constructor(root, { audio, capabilities, catalog = new CrossmodalCatalog(), worker = new CrossmodalWorker({ name: 'timbrel-transcribe' }) }) {
    super(root, { audio, capabilities, name: 'transcribe' });
    const $ = (id) => this.$(id);
    this.el = {
      example: $('transcribe-example-button'),
      fileButton: $('transcribe-file-button'),
      file: $('transcribe-file'),
      record: $('transcribe-record-button'),
      clipCard: $('transcribe-clip-title').closest('section'),
      drop: $('transcribe-drop'),
      recordRow: $('transcribe-record-row'),
      recordTime: $('transcribe-record-time'),
      recordMeter: $('transcribe-record-meter'),
      clipFacts: $('transcribe-clip-facts'),
      clipNote: $('transcribe-clip-note'),
      run: $('transcribe-button'),
      cancel: $('transcribe-cancel-button'),
      playClip: $('transcribe-play-clip'),
      playNotes: $('transcribe-play-notes'),
      stop: $('transcribe-stop-button'),
      progress: $('transcribe-progress'),
      progressValue: $('transcribe-progress-value'),
      roll: $('transcribe-roll'),
      legendReference: $('transcribe-legend-reference'),
      summary: $('transcribe-summary'),
      downloadRow: $('transcribe-download-row'),
      download: $('transcribe-download'),
      notesDetails: $('transcribe-notes-details'),
      notesBody: $('transcribe-notes-body'),
      model: $('transcribe-model-value'),
      time: $('transcribe-time'),
      frames: $('transcribe-frames'),
    };
    this.status = new StatusArea($('transcribe-status')); // models, the Worker, clips, the microphone
    this.runStatus = new StatusArea($('transcribe-run-status')); // transcription and playback
    this.worker = worker;
    this.models = new CrossmodalModelSlot(root, {
      catalog,
      worker,
      status: this.status,
      label: this.el.model,
      idPrefix: 'transcribe-',
      radioName: 'transcribe-model',
      onLoading: () => {
        if (this.busy) this.cancel();
      },
      onLoaded: (model) => this.modelLoaded(model),
    });
    this.roll = new PianoRoll(this.el.roll, { label: 'Piano roll of the notes found', empty: 'The notes found will show here' });

    this.clip = null; // {name, samples, seconds, source, reference}
    this.result = null; // {notes, frames, midi, summary, ms, clip, model}
    this.playback = null; // {samples, result} the notes rendered back
    this.job = 0;
    this.busy = ''; // '' | 'example' | 'transcribe' | 'playback'
    this.recorder = null;
    this.playing = 'idle'; // idle | clip | notes
    this.meterTimer = 0;

    const on = (element, type, handler) => this.on(element, type, handler);
    on(this.el.example, 'click', () => this.useExample());
    acceptFiles({
      on, button: this.el.fileButton, input: this.el.file, card: this.el.clipCard,
      indicator: this.el.drop, onFile: (file) => this.openFile(file),
    });
    on(this.el.record, 'click', () => this.toggleRecord());
    on(this.el.run, 'click', () => this.transcribe());
    on(this.el.cancel, 'click', () => this.cancel());
    on(this.el.playClip, 'click', () => this.playClip());
    on(this.el.playNotes, 'click', () => this.playNotes());
    on(this.el.stop, 'click', () => this.stop());

    this.showProblems(this.status, { skip: ['not-isolated', 'no-worklet'] }); // no worklet here
    if (!MicRecorder.available) this.el.record.title = 'This browser cannot record here';
    this.updateButtons();
  }

  // The panel is shown: start the Worker and fetch the instruments (once).
  activate() {
    super.activate();
    return this.models.start({
      onWorkerFailure: (error) => this.status.set('worker-error', { kind: 'error', title: 'The transcription engine could not start.', text: `${sentence(error)}.` }),
      noModelsText: 'Transcribing needs a cross-modal model (models/crossmodal/). Train one with the scripts, or load a .tmbl model file in step 1.',
    });
  }

  deactivate() {
    this.stop();
    if (this.recorder) this.cancelRecording();
    super.deactivate();
  }

  get isPlaying() {
    return this.playing !== 'idle' || !!this.recorder;
  }

  get engineStatus() {
    return this.runStatus;
  }

  // Plays clips only: any browser with Web Audio can (no worklet needed).
  get canRunEngine() {
    return this.caps.audio;
  }

  // ---------- models ----------

  // The loaded model ({entry, description, bytes}), null before the first.
  get model() {
    return this.models.model;
  }

  modelName() {
    return this.models.name;
  }

  modelLoaded({ entry, description }) {
    this.roll.setRanges(description?.pitchRanges ?? entry.pitchRanges ?? []);
    // A result belongs to the model that made it; the example phrase too.
    this.clearResult('nothing transcribed yet');
    if (this.clip?.source === 'example') this.setClip(null);
    this.updateButtons();
  }

  range() {
    const ranges = this.model?.description?.pitchRanges ?? this.model?.entry.pitchRanges ?? [];
    if (!ranges.length) return null;
    return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
  }

  // ---------- the clip ----------

  setClip(clip) {
    this.stop();
    this.clip = clip;
    this.clearResult(clip ? 'ready to transcribe' : 'nothing transcribed yet');
    if (!clip) {
      this.el.clipFacts.hidden = true;
      this.el.clipNote.hidden = false;
      this.el.clipNote.textContent = 'No clip yet.';
      delete this.root.dataset.clip;
      this.roll.setNotes([]);
      this.roll.setReference(null);
      this.el.legendReference.hidden = true;
      this.updateButtons();
      return;
    }
    this.root.dataset.clip = clip.source;
    const facts = [
      ['Clip', clip.name],
      ['Length', `${clip.seconds.toFixed(1)} s`],
      ['Loudest sample', clip.peak > 0 ? `${(20 * Math.log10(clip.peak)).toFixed(1)} dBFS` : 'silent'],
    ];
    showFacts(this.el.clipFacts, facts);
    this.el.clipNote.hidden = clip.peak > 0.003;
    this.el.clipNote.textContent = clip.peak > 0.003 ? '' : 'This clip is almost silent: the transcription may find no notes.';
    this.roll.setNotes([], { duration: clip.seconds });
    this.roll.setCurve(null);
    this.roll.setReference(clip.reference ?? null);
    this.el.legendReference.hidden = !clip.reference;
    this.updateButtons();
  }

  // The example phrase: the example tune's melody, rendered by the chosen model.
  async useExample() {
    if (!this.model) {
      this.status.set('no-model', { kind: 'info', title: 'Pick an instrument first.', text: 'The example phrase is played by the instrument chosen in step 1.' });
      return;
    }
    this.status.clear('no-model');
    this.status.clear('clip-error');
    if (this.busy) this.cancel();
    const job = ++this.job;
    const reference = exampleMelody(this.range());
    const midi = writeMidi([{ name: 'Melody', channel: 0, notes: reference }], { bpm: EXAMPLE_BPM });
    this.busy = 'example';
    this.updateButtons();
    this.setProgress(0, 'running', `playing the example with the ${this.modelName().toLowerCase()}…`);
    let result;
    try {
      result = await this.worker.render(midi, EXAMPLE_OPTIONS, {
        onProgress: (f) => job === this.job && this.setProgress(f, 'running', `playing the example: ${Math.round(f * 100)} %`),
      });
    } catch (error) {
      if (job !== this.job) return;
      this.busy = '';
      this.setProgress(0, error instanceof CancelledError ? 'idle' : 'error', error instanceof CancelledError ? 'cancelled' : 'failed');
      if (!(error instanceof CancelledError)) this.status.set('clip-error', { kind: 'error', title: 'The example phrase could not be made.', text: `${sentence(error)}.` });
      this.updateButtons();
      return;
    }
    if (job !== this.job) return;
    this.busy = '';
    let peak = 0;
    for (const v of result.samples) peak = Math.max(peak, Math.abs(v));
    this.setClip({
      name: `“Ode to Joy” melody, played by the ${this.modelName().toLowerCase()}`,
      samples: result.samples,
      seconds: result.samples.length / MODEL_RATE,
      peak,
      source: 'example',
      reference,
    });
  }

  async openFile(file) {
    this.status.clear('clip-error');
    let clip;
    try {
      clip = await decodeClip(file);
    } catch (error) {
      const { title, text } = error instanceof AudioFileError ? error : { title: `“${file.name}” could not be read.`, text: `${sentence(error)}.` };
      this.status.set('clip-error', { kind: 'error', title, text: `${text}${this.clip ? ' The clip loaded before stays.' : ''}` });
      return;
    }
    this.setClip({ ...clip, name: file.name, source: 'file' });
  }

  // ---------- the microphone ----------

  createEngine(context) {
    const engine = new TranscribeEngine(context).toDestination();
    engine.onBufferEnded = () => this.setPlaying('idle');
    return engine;
  }

  // The player, made inside the gesture that needs it (its context starts there).
  ensurePlayer() {
    this.ensureEngine().catch(() => {}); // a failure is reported by the panel base
    return this.engine;
  }

  async toggleRecord() {
    if (this.recorder) {
      await this.finishRecording();
      return;
    }
    this.status.clear('clip-error');
    for (const key of ['mic-denied', 'mic-missing', 'mic-busy', 'mic-unsupported', 'mic-error']) this.status.clear(key);
    if (!MicRecorder.available) {
      const message = describeRecordError({ name: 'NotSupportedError' });
      this.status.set(message.key, { kind: 'error', title: message.title, text: message.text });
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
      this.el.record.querySelector('span').textContent = 'Record';
      const message = describeRecordError(error);
      this.status.set(message.key, { kind: 'error', title: message.title, text: message.text });
      this.root.dataset.mic = message.key;
      return;
    }
    if (this.recorder !== recorder) return;
    recorder.onLimit = () => this.finishRecording();
    recorder.start();
    this.root.dataset.mic = 'recording';
    this.el.record.querySelector('span').textContent = 'Stop recording';
    this.el.recordRow.hidden = false;
    this.meterTimer = setInterval(() => {
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
    clearInterval(this.meterTimer);
    this.el.record.setAttribute('aria-pressed', 'false');
    this.el.record.querySelector('span').textContent = 'Record';
    this.el.recordRow.hidden = true;
    this.root.dataset.mic = 'stopped';
    let clip;
    try {
      clip = await recorder.stop();
    } catch (error) {
      const { title, text } = error instanceof AudioFileError ? error : { title: 'The recording could not be used.', text: `${sentence(error)}.` };
      this.status.set('clip-error', { kind: 'error', title, text });
      this.updateButtons();
      return;
    }
    const stamp = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    this.setClip({ ...clip, name: `Microphone recording (${stamp})`, source: 'mic' });
  }

  cancelRecording() {
    const recorder = this.recorder;
    this.recorder = null;
    clearInterval(this.meterTimer);
    recorder?.close();
    this.el.record.setAttribute('aria-pressed', 'false');
    this.el.record.querySelector('span').textContent = 'Record';
    this.el.recordRow.hidden = true;
    this.updateButtons();
  }

  // ---------- transcription ----------

  async transcribe() {
    if (!this.model || !this.clip) return null;
    if (this.busy) this.cancel();
    this.stop();
    const job = ++this.job;
    const clip = this.clip;
    const model = this.model;
    this.busy = 'transcribe';
    this.runStatus.clear('run-error');
    this.clearResult(null);
    this.setProgress(0, 'running', 'listening…');
    this.root.dataset.transcribe = 'running';
    this.updateButtons();
    let result;
    try {
      result = await this.worker.transcribe(clip.samples, {
        onProgress: (f) => job === this.job && this.setProgress(f, 'running', f === null ? 'listening…' : `listening: ${Math.round(f * 100)} %`),
      });
    } catch (error) {
      if (job !== this.job) return null;
      this.busy = '';
      if (error instanceof CancelledError) {
        this.setProgress(0, 'idle', 'cancelled');
        this.root.dataset.transcribe = 'cancelled';
      } else {
        this.setProgress(0, 'error', 'failed');
        this.root.dataset.transcribe = 'error';
        this.runStatus.set('run-error', { kind: 'error', title: 'The clip could not be transcribed.', text: `${sentence(error)}.` });
      }
      this.updateButtons();
      return null;
    }
    if (job !== this.job) return null;
    this.busy = '';
    this.result = { ...result, clip, model };
    this.setProgress(1, 'done', '100 % · done');
    this.root.dataset.transcribe = 'done';
    this.showResult();
    this.updateButtons();
    return this.result;
  }

  showResult() {
    const { notes, frames, clip } = this.result;
    const count = Math.floor(frames.length / FRAME.STRIDE);
    this.roll.setNotes(notes.map((n) => ({ ...n, track: n.track ?? 0 })), { duration: clip.seconds });
    this.roll.setCurve(framesToCurve(frames));
    this.roll.setReference(clip.reference ?? null);
    this.el.time.textContent = `${(this.result.ms / 1000).toFixed(2)} s for ${clip.seconds.toFixed(1)} s of audio`;
    this.el.time.dataset.ms = String(Math.round(this.result.ms));
    this.el.frames.textContent = `${count} (${Math.round(MODEL_RATE / 256)} per second)`;
    let summary;
    if (!notes.length) summary = this.result.summary || 'No notes were found: the clip may be too quiet, or not this instrument.';
    else {
      const lo = Math.min(...notes.map((n) => n.pitch));
      const hi = Math.max(...notes.map((n) => n.pitch));
      summary = `${notes.length} note${notes.length === 1 ? '' : 's'} found, from ${noteName(lo)} to ${noteName(hi)}.`;
    }
    if (clip.reference) {
      const { matched, total } = matchNotes(clip.reference, notes);
      summary += ` Against the ${total} notes the example was played from: ${matched} found with the right pitch and start (${Math.round((100 * matched) / total)} %).`;
      this.root.dataset.matched = `${matched}/${total}`;
    }
    this.el.summary.textContent = summary;
    const moving = pitchChangeRate(frames);
    this.root.dataset.pitchChanges = moving.rate.toFixed(3);
    if (moving.active >= 50 && moving.rate > MOVING_PITCH) {
      this.runStatus.set('not-notes', {
        kind: 'warning',
        title: 'This does not sound like one instrument playing notes.',
        text: 'Its pitch keeps moving, as in speech, glides or several sounds at once, so the notes below are a rough guess. Transcription works best on one instrument playing one note at a time.',
      });
    } else {
      this.runStatus.clear('not-notes');
    }
    this.showTable(notes);
    this.makeDownload();
  }

  showTable(notes) {
    const rows = notes.map((n, i) => {
      const tr = document.createElement('tr');
      const dynamics = DYNAMICS[[...(this.model?.description?.dynamicsVelocity ?? [40, 80, 120])].indexOf(n.velocity)];
      for (const text of [String(i + 1), noteName(n.pitch), `${n.start.toFixed(2)} s`, `${(n.end - n.start).toFixed(2)} s`, `${n.velocity}${dynamics ? ` (${dynamics})` : ''}`]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    });
    this.el.notesBody.replaceChildren(...rows);
    this.el.notesDetails.hidden = rows.length === 0;
  }

  makeDownload() {
    const { midi, notes, clip } = this.result;
    if (!notes.length || !midi?.length) {
      this.el.downloadRow.hidden = true;
      return;
    }
    const blob = new Blob([midi], { type: 'audio/midi' });
    const base = clip.source === 'file' ? clip.name.replace(/\.[^.]+$/, '') : clip.source === 'mic' ? 'recording' : 'example';
    this.offerDownload(this.el.download, blob, `timbrel-${base.replace(/[^\w-]+/g, '-')}-notes.mid`,
      `Download MIDI file (${notes.length} notes, ${formatBytes(blob.size)})`);
    this.el.downloadRow.hidden = false;
  }

  clearResult(text) {
    this.result = null;
    this.playback = null;
    this.runStatus.clear('not-notes');
    this.el.summary.textContent = '';
    this.el.downloadRow.hidden = true;
    this.el.notesDetails.hidden = true;
    this.roll.setCurve(null);
    this.roll.setNotes([], { duration: this.clip?.seconds ?? 0 });
    if (text !== null && !this.busy) this.setProgress(0, 'idle', text);
    delete this.root.dataset.transcribe;
    delete this.root.dataset.matched;
  }

  cancel() {
    if (!this.busy) return;
    this.worker.cancel();
  }

  // fraction null: running, how far unknown (an indeterminate bar).
  setProgress(fraction, state, text = null) {
    if (fraction === null) {
      this.el.progress.removeAttribute('value');
      this.el.progressValue.dataset.state = state;
      delete this.el.progressValue.dataset.percent;
      this.el.progressValue.textContent = text ?? 'working…';
      return;
    }
    const pct = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
    this.el.progress.value = pct;
    this.el.progressValue.dataset.state = state;
    this.el.progressValue.dataset.percent = String(pct);
    this.el.progressValue.textContent = text ?? `${pct} %`;
  }

  // ---------- playback ----------

  playClip() {
    if (!this.clip) return;
    const player = this.ensurePlayer();
    if (!player) return;
    player.playBuffer(this.clip.samples);
    this.setPlaying('clip');
  }

  // The notes found, rendered back through the model: heard while they are
  // rendered the first time, from the render after that.
  async playNotes() {
    const result = this.result;
    if (!result?.notes.length) return;
    const player = this.ensurePlayer(); // inside the click
    if (!player) return;
    if (this.playback?.result === result) {
      player.playBuffer(this.playback.samples);
      this.setPlaying('notes');
      return;
    }
    if (this.busy) this.cancel();
    const job = ++this.job;
    this.busy = 'playback';
    this.updateButtons();
    this.setProgress(0, 'running', 'rendering the notes…');
    const playing = player.playStream();
    let rendered;
    try {
      rendered = await this.worker.render(result.midi, PLAYBACK_OPTIONS, {
        onProgress: (f) => {
          if (job !== this.job) return;
          this.setProgress(f, 'running', `playing the notes while they are rendered: ${Math.round(f * 100)} %`);
          this.showPlayNotesLabel(f);
        },
        onChunk: (samples, offset) => {
          if (job !== this.job || playing.stopped) return;
          playing.push(samples, offset);
          if (this.playing !== 'notes') this.setPlaying('notes');
        },
      });
    } catch (error) {
      if (job !== this.job) return;
      this.busy = '';
      player.stopBuffer();
      this.setPlaying('idle');
      if (!(error instanceof CancelledError)) this.runStatus.set('run-error', { kind: 'error', title: 'The notes could not be played.', text: `${sentence(error)}.` });
      this.setProgress(1, 'done', '100 % · done');
      this.updateButtons();
      return;
    }
    if (job !== this.job) return;
    playing.end();
    this.busy = '';
    this.playback = { samples: rendered.samples, result };
    this.setProgress(1, 'done', '100 % · done');
    this.updateButtons();
  }

  stop() {
    this.engine?.stopBuffer();
    this.setPlaying('idle');
  }

  setPlaying(mode) {
    this.playing = mode;
    this.root.dataset.mode = mode;
    if (mode !== 'idle') this.animatePlayhead();
    else this.roll.setPlayhead(-1);
    this.updateButtons();
  }

  animatePlayhead() {
    this.animate(() => {
      const playing = this.playing !== 'idle' && this.engine;
      this.roll.setPlayhead(playing ? this.engine.bufferTime : -1);
      return !!playing;
    });
  }

  updateButtons() {
    const { run, cancel, playClip, playNotes, stop, example, fileButton, record } = this.el;
    const recording = !!this.recorder;
    run.disabled = !this.model || !this.clip || recording;
    run.querySelector('span').textContent = this.busy === 'transcribe' ? 'Transcribing…' : 'Transcribe';
    cancel.disabled = !this.busy;
    playClip.disabled = !this.clip || recording || !this.caps.audio;
    playNotes.disabled = !this.result?.notes.length || recording || !this.caps.audio;
    stop.disabled = this.playing === 'idle';
    example.disabled = recording;
    fileButton.disabled = recording;
    record.disabled = !this.caps.audio;
    playClip.setAttribute('aria-pressed', String(this.playing === 'clip'));
    playNotes.setAttribute('aria-pressed', String(this.playing === 'notes'));
    this.showPlayNotesLabel();
  }

  // The button says that the notes are being rendered for it, and how far.
  showPlayNotesLabel(fraction = 0) {
    const preparing = this.busy === 'playback';
    this.el.playNotes.setAttribute('aria-busy', String(preparing));
    this.el.playNotes.querySelector('span').textContent = preparing ? `Rendering the notes… ${Math.round(fraction * 100)} %` : 'Play the notes';
  }

  // ---------- for tests and debugging ----------

  exportResult() {
    const r = this.result;
    if (!r) return null;
    return {
      notes: r.notes.map((n) => ({ ...n })),
      reference: r.clip.reference ?? null,
      frames: Array.from(r.frames),
      midiBytes: r.midi.length,
      summary: r.summary,
      seconds: r.clip.seconds,
      ms: r.ms,
    };
  }

  dispose() {
    clearInterval(this.meterTimer);
    this.recorder?.close();
    super.dispose();
    this.roll.dispose();
    this.models.dispose();
    this.worker.dispose();
    this.status.dispose();
    this.runStatus.dispose();
  }
}
