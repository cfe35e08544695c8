// The Voice panel's live readouts, read from the worklet's shared status block in
// requestAnimationFrame: input and output level meters, the input's pitch, the
// path's latency, lost audio blocks, and a hint for the octave control.

import { METER, STATUS } from '../worklet/audio-ring.js';
import { noteFromHz } from '../audio/pitch.js';
import { formatHzRange } from '../ui/model-picker.js';

const REFRESH_MS = 120;
const FLOOR_DB = -80;
const F0_HISTORY = 48; // meter updates (~1 s) the pitch is taken from
const F0_MIN_VOICED = 12;
const MINUS = '\u2212';

const signed = (v, digits = 1) => {
  const text = Math.abs(v).toFixed(digits);
  return v < 0 && Number(text) !== 0 ? MINUS + text : text;
};

// The octave shift (-3..3) that brings f0 nearest the middle (geometric centre)
// of the model's range [lo, hi], where it plays best: the same rule as the
// command line's `--octaves auto` and the model cards' measurements
// (VqTimbre::suggest_octaves, timbrel.eval.transfer_card.auto_octaves).
// null without an f0 or range.
export function suggestOctaves(f0, range) {
  if (!(f0 > 0) || !range || !(range[0] > 0) || !(range[1] > 0)) return null;
  const centre = Math.sqrt(range[0] * range[1]);
  return Math.max(-3, Math.min(3, Math.round(Math.log2(centre / f0))));
}

function setMeter(meter, fill, db) {
  const frac = Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
  fill.style.transform = `scaleX(${frac.toFixed(4)})`;
  meter.dataset.level = db > -6 ? 'hot' : db > -50 ? 'good' : 'low';
  meter.setAttribute('aria-valuenow', Math.max(db, FLOOR_DB).toFixed(0));
  meter.setAttribute('aria-valuetext', db <= FLOOR_DB ? 'silent' : `${signed(db, 0)} dB`);
}

export class VoiceMeters {
  constructor(root) {
    const $ = (id) => root.querySelector(`#${id}`);
    this.el = {
      inValue: $('voice-in-value'),
      inMeter: $('voice-in-meter'),
      outValue: $('voice-out-value'),
      outMeter: $('voice-out-meter'),
      f0: $('voice-f0-value'),
      f0Detail: $('voice-f0-detail'),
      latency: $('voice-latency-value'),
      latencyDetail: $('voice-latency-detail'),
      lost: $('voice-lost'),
      octaveHint: $('voice-octave-hint'),
    };
    this.el.inFill = this.el.inMeter.querySelector('.meter-fill');
    this.el.outFill = this.el.outMeter.querySelector('.meter-fill');
    this.f0s = new Float32Array(F0_HISTORY);
    this.scratch = new Float32Array(F0_HISTORY);
    this.reader = null;
    this.range = null; // the model's f0 range [lo, hi]
    this.instrument = '';
    this.octaves = 0;
    this.onSuggest = null; // (octaves) => void, the hint's "Apply" button
    this.frame = 0;
    this.reset();
  }

  reset() {
    this.f0s.fill(0);
    this.f0Head = 0;
    this.lastSeq = -1;
    this.lastRender = 0;
    this.inDb = FLOOR_DB;
    this.outDb = FLOOR_DB;
    this.inMax = -Infinity;
    this.outMax = -Infinity;
    this.pitch = 0;
  }

  attach(reader) {
    this.reader = reader;
    this.reset();
    if (!this.frame) this.frame = requestAnimationFrame((t) => this.tick(t));
  }

  detach() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.reader = null;
    this.showIdle();
  }

  setModel(instrument, range) {
    this.instrument = instrument;
    this.range = range;
    this.renderHint();
  }

  setOctaves(octaves) {
    this.octaves = octaves;
    this.renderHint();
  }

  tick(now) {
    this.frame = requestAnimationFrame((t) => this.tick(t));
    const reader = this.reader;
    if (!reader) return;
    const seq = reader.get(STATUS.METER_SEQ);
    if (seq !== this.lastSeq) {
      this.lastSeq = seq;
      this.inMax = Math.max(this.inMax, reader.meter(METER.INPUT_DB));
      this.outMax = Math.max(this.outMax, reader.meter(METER.OUTPUT_DB));
      const voiced = reader.meter(METER.VOICED) >= 0.5;
      const f0 = reader.meter(METER.F0_HZ);
      this.f0s[this.f0Head] = voiced && f0 > 0 ? f0 : 0;
      this.f0Head = (this.f0Head + 1) % F0_HISTORY;
    }
    if (this.idle || now - this.lastRender < REFRESH_MS) return;
    this.lastRender = now;
    this.render(reader);
  }

  currentPitch() {
    let n = 0;
    for (let i = 0; i < F0_HISTORY; i++) if (this.f0s[i] > 0) this.scratch[n++] = this.f0s[i];
    if (n < F0_MIN_VOICED) return 0;
    const sorted = this.scratch.subarray(0, n).sort();
    return sorted[n >> 1];
  }

  render(reader) {
    const el = this.el;
    const inDb = Number.isFinite(this.inMax) ? Math.max(this.inMax, -120) : FLOOR_DB;
    const outDb = Number.isFinite(this.outMax) ? Math.max(this.outMax, -120) : FLOOR_DB;
    this.inMax = -Infinity;
    this.outMax = -Infinity;
    // Bars fall back smoothly; the numbers show the loudest update of the interval.
    this.inDb = Math.max(inDb, this.inDb - 6);
    this.outDb = Math.max(outDb, this.outDb - 6);
    setMeter(el.inMeter, el.inFill, this.inDb);
    setMeter(el.outMeter, el.outFill, this.outDb);
    el.inValue.textContent = inDb <= -100 ? 'silent' : `${signed(inDb)} dB`;
    el.inValue.dataset.db = inDb.toFixed(2);
    el.outValue.textContent = outDb <= -100 ? 'silent' : `${signed(outDb)} dB`;
    el.outValue.dataset.db = outDb.toFixed(2);

    const hz = this.currentPitch();
    this.pitch = hz;
    if (hz > 0) {
      const note = noteFromHz(hz);
      el.f0.textContent = `${hz.toFixed(0)} Hz · ${note.name}`;
      el.f0.dataset.hz = hz.toFixed(2);
      const heard = this.octaves ? noteFromHz(hz * 2 ** this.octaves) : null;
      el.f0Detail.textContent = heard
        ? `the instrument plays ${heard.name} (${this.octaves > 0 ? '+' : MINUS}${Math.abs(this.octaves)} octave${Math.abs(this.octaves) > 1 ? 's' : ''})`
        : 'the instrument plays the same note';
    } else {
      el.f0.textContent = '—';
      el.f0.dataset.hz = '';
      el.f0Detail.textContent = 'no clear pitch (silence, noise or speech sounds like “s”)';
    }

    const lost = reader.get(STATUS.LOST_QUANTA);
    const underruns = reader.get(STATUS.UNDERRUNS);
    el.lost.textContent = lost + underruns === 0 ? 'none' : `${lost} lost, ${underruns} underruns`;
    el.lost.dataset.lost = String(lost);
    el.lost.dataset.underruns = String(underruns);
    this.renderHint();
  }

  // latency: {coreMs, baseMs, outputMs, totalMs} from TransferEngine.latency().
  showLatency(latency) {
    const { latency: value, latencyDetail: detail } = this.el;
    if (!latency || !Number.isFinite(latency.totalMs)) {
      value.textContent = '—';
      value.dataset.ms = '';
      return;
    }
    value.textContent = `${latency.totalMs.toFixed(0)} ms`;
    value.dataset.ms = latency.totalMs.toFixed(2);
    value.dataset.coreMs = latency.coreMs.toFixed(2);
    const parts = [`model ${latency.coreMs.toFixed(0)}`];
    if (Number.isFinite(latency.baseMs)) parts.push(`buffer ${latency.baseMs.toFixed(0)}`);
    if (Number.isFinite(latency.outputMs) && latency.outputMs > 0) parts.push(`output ${latency.outputMs.toFixed(0)}`);
    detail.textContent = `${parts.join(' + ')} ms; not the microphone’s own delay`;
    detail.title = `The model and its resampling: ${latency.coreMs.toFixed(1)} ms (the core’s latencySamples at the device rate). `
      + `Audio buffer (AudioContext.baseLatency): ${Number.isFinite(latency.baseMs) ? `${latency.baseMs.toFixed(1)} ms` : 'not reported'}. `
      + `Output device (AudioContext.outputLatency): ${Number.isFinite(latency.outputMs) ? `${latency.outputMs.toFixed(1)} ms` : 'not reported'}. `
      + 'The microphone’s input latency is not reported by browsers and is not included.';
  }

  // The hint is a text and a persistent "Use +N" button (kept across refreshes so it
  // can be focused and clicked while the text follows the voice).
  renderHint() {
    const hint = this.el.octaveHint;
    if (!this.hintText) {
      const doc = hint.ownerDocument;
      this.hintText = doc.createElement('span');
      this.hintButton = doc.createElement('button');
      this.hintButton.type = 'button';
      this.hintButton.className = 'button button-small hint-button';
      this.hintButton.id = 'voice-octave-apply';
      this.hintButton.hidden = true;
      this.hintButton.addEventListener('click', () => {
        const k = Number(this.hintButton.dataset.octaves);
        if (Number.isFinite(k)) this.onSuggest?.(k);
      });
      hint.replaceChildren(this.hintText, ' ', this.hintButton);
    }
    const name = this.instrument || 'the instrument';
    let text;
    let best = null;
    if (!this.range) {
      text = 'Moves your voice up or down into the instrument’s range.';
    } else if (!(this.pitch > 0)) {
      text = `The ${name} model plays ${formatHzRange(this.range)}. Sing a note to get a suggestion.`;
    } else {
      best = suggestOctaves(this.pitch, this.range);
      const note = noteFromHz(this.pitch).name;
      const k = `${best > 0 ? '+' : best < 0 ? MINUS : ''}${Math.abs(best)}`;
      text = best === this.octaves
        ? `Your voice (${note}) fits the ${name}’s range (${formatHzRange(this.range)}) at this setting.`
        : `Your voice (${note}) fits the ${name}’s range (${formatHzRange(this.range)}) best at ${k}.`;
      if (best !== this.octaves) this.hintButton.textContent = `Use ${k}`;
    }
    if (this.hintText.textContent !== text) this.hintText.textContent = text;
    const offer = best !== null && best !== this.octaves;
    hint.dataset.suggest = best === null ? '' : String(best);
    this.hintButton.dataset.octaves = String(best);
    if (this.hintButton.hidden === offer) this.hintButton.hidden = !offer;
  }

  // Sound flows again: the readouts follow it.
  wake() {
    this.idle = false;
    this.reset();
  }

  // Nothing plays: the readouts say so, and stay so (the worklet's last
  // meter values, published after a stop, are not shown).
  showIdle() {
    this.idle = true;
    const el = this.el;
    for (const [meter, fill, value] of [[el.inMeter, el.inFill, el.inValue], [el.outMeter, el.outFill, el.outValue]]) {
      setMeter(meter, fill, FLOOR_DB);
      value.textContent = '—';
      value.dataset.db = '';
    }
    el.f0.textContent = '—';
    el.f0.dataset.hz = '';
    el.f0Detail.textContent = 'waiting for a sung or hummed note';
    this.pitch = 0;
    this.renderHint();
  }

  dispose() {
    this.detach();
  }
}
