// The numeric readouts: pitch (Hz + note), input level meter, loudness, brightness.
// Frames arrive at ~86/s; the text is refreshed ~8 times a second so people can read it.
// Each <output> carries the shown value as a data attribute (data-hz, data-db) for tests.

import { FIELD } from '../worklet/frame-ring.js';
import { noteFromHz } from '../audio/pitch.js';

const REFRESH_MS = 120;
const PITCH_WINDOW = 16; // frames (~186 ms) the pitch is taken from
const PITCH_MIN_VOICED = 6; // of which at least this many must be voiced
const METER_FLOOR_DB = -80;
const SILENCE_DB = -70; // below this, brightness is not shown
const PEAK_HOLD_MS = 1500;

const MINUS = '\u2212';
const numberFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

function signed(value, digits = 1) {
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? MINUS + text : text;
}

// Sets an <output> to "<value><unit>[ · <extra>]" with the unit and extra in spans
// (styled smaller); textContent reads e.g. "220.0 Hz · A3".
function show(el, value, unit, extra) {
  const parts = [value];
  const u = document.createElement('span');
  u.className = 'unit';
  u.textContent = ` ${unit}`;
  parts.push(u);
  if (extra) {
    const e = document.createElement('span');
    e.className = 'extra';
    e.textContent = ` · ${extra}`;
    parts.push(e);
  }
  el.replaceChildren(...parts);
}

function median(values, count) {
  const sorted = Array.from(values.subarray(0, count)).sort((a, b) => a - b);
  const mid = count >> 1;
  return count % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
}

export class Readouts {
  constructor(doc = document) {
    const $ = (id) => doc.getElementById(id);
    this.el = {
      root: $('readouts'),
      f0: $('f0-value'),
      f0Detail: $('f0-detail'),
      level: $('level-value'),
      meter: $('level-meter'),
      meterFill: $('level-meter-fill'),
      meterPeak: $('level-meter-peak'),
      loudness: $('loudness-value'),
      centroid: $('centroid-value'),
    };
    this.pitchHz = new Float32Array(PITCH_WINDOW); // circular: 0 = unvoiced
    this.pitchScratch = new Float32Array(PITCH_WINDOW);
    this.centroids = new Float32Array(64);
    this.reset();
  }

  reset() {
    this.pitchHz.fill(0);
    this.pitchHead = 0;
    this.frames = 0;
    this.levelMaxDb = -Infinity;
    this.loudnessPower = 0;
    this.centroidCount = 0;
    this.intervalFrames = 0;
    this.lastRender = 0;
    this.meterDb = METER_FLOOR_DB;
    this.peakDb = METER_FLOOR_DB;
    this.peakTime = 0;
    this.showIdle();
  }

  push(frame) {
    const voiced = frame[FIELD.VOICED] >= 0.5 && frame[FIELD.F0_HZ] > 0;
    this.pitchHz[this.pitchHead] = voiced ? frame[FIELD.F0_HZ] : 0;
    this.pitchHead = (this.pitchHead + 1) % PITCH_WINDOW;
    this.frames++;
    this.intervalFrames++;
    const rms = frame[FIELD.RMS_DB];
    if (rms > this.levelMaxDb) this.levelMaxDb = rms;
    this.loudnessPower += 10 ** (frame[FIELD.LOUDNESS_DB] / 10);
    if (rms > SILENCE_DB && frame[FIELD.CENTROID_HZ] > 0 && this.centroidCount < this.centroids.length) {
      this.centroids[this.centroidCount++] = frame[FIELD.CENTROID_HZ];
    }
  }

  // Current pitch estimate (Hz) or 0 when not clearly voiced.
  currentPitch() {
    let n = 0;
    for (let i = 0; i < PITCH_WINDOW; i++) {
      if (this.pitchHz[i] > 0) this.pitchScratch[n++] = this.pitchHz[i];
    }
    return n >= PITCH_MIN_VOICED ? median(this.pitchScratch, n) : 0;
  }

  render(now = performance.now()) {
    if (this.intervalFrames === 0 || now - this.lastRender < REFRESH_MS) return;
    this.lastRender = now;
    const el = this.el;
    el.root.dataset.state = 'live';

    // Pitch.
    const hz = this.currentPitch();
    if (hz > 0) {
      const note = noteFromHz(hz);
      show(el.f0, hz.toFixed(1), 'Hz', note.name);
      el.f0.dataset.hz = hz.toFixed(2);
      el.f0.dataset.note = note.name;
      el.f0.dataset.voiced = 'true';
      const cents = note.cents === 0 ? 'in tune' : `${note.cents > 0 ? '+' : MINUS}${Math.abs(note.cents)} cents`;
      el.f0Detail.textContent = `nearest note ${note.name}, ${cents}`;
    } else {
      el.f0.textContent = '—';
      el.f0.dataset.hz = '';
      el.f0.dataset.note = '';
      el.f0.dataset.voiced = 'false';
      el.f0Detail.textContent = 'no clear pitch (silence, noise or speech sounds like “s”)';
    }

    // Level: loudest frame of the interval; the bar falls back smoothly.
    const level = Math.max(this.levelMaxDb, -120);
    show(el.level, signed(level), 'dBFS');
    el.level.dataset.db = level.toFixed(2);
    this.meterDb = Math.max(level, this.meterDb - 6);
    if (level >= this.peakDb || now - this.peakTime > PEAK_HOLD_MS) {
      this.peakDb = Math.max(level, METER_FLOOR_DB);
      this.peakTime = now;
    }
    const frac = (db) => Math.min(1, Math.max(0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB));
    el.meterFill.style.transform = `scaleX(${frac(this.meterDb).toFixed(4)})`;
    el.meterPeak.style.left = `${(frac(this.peakDb) * 100).toFixed(2)}%`;
    el.meter.dataset.level = level > -6 ? 'hot' : level > -50 ? 'good' : 'low';
    el.meter.setAttribute('aria-valuenow', Math.max(level, METER_FLOOR_DB).toFixed(0));
    el.meter.setAttribute('aria-valuetext', `${signed(level, 0)} dB`);

    // Loudness: mean power of the interval.
    const loud = 10 * Math.log10(this.loudnessPower / this.intervalFrames + 1e-12);
    show(el.loudness, signed(loud), 'dB(A)');
    el.loudness.dataset.db = loud.toFixed(2);

    // Brightness.
    if (this.centroidCount > 0) {
      const c = median(this.centroids, this.centroidCount);
      show(el.centroid, numberFormat.format(c), 'Hz');
      el.centroid.dataset.hz = c.toFixed(1);
    } else {
      el.centroid.textContent = '—';
      el.centroid.dataset.hz = '';
    }

    this.levelMaxDb = -Infinity;
    this.loudnessPower = 0;
    this.centroidCount = 0;
    this.intervalFrames = 0;
  }

  showIdle() {
    const el = this.el;
    el.root.dataset.state = 'idle';
    for (const out of [el.f0, el.level, el.loudness, el.centroid]) out.textContent = '—';
    el.f0.dataset.hz = '';
    el.f0.dataset.note = '';
    el.f0.dataset.voiced = 'false';
    el.f0Detail.textContent = 'waiting for a sung or hummed note';
    el.level.dataset.db = '';
    el.loudness.dataset.db = '';
    el.centroid.dataset.hz = '';
    el.meterFill.style.transform = 'scaleX(0)';
    el.meterPeak.style.left = '0%';
    el.meter.dataset.level = 'low';
    el.meter.setAttribute('aria-valuenow', String(METER_FLOOR_DB));
    el.meter.setAttribute('aria-valuetext', 'silent');
  }

  dispose() {
    this.showIdle();
  }
}
