// A piano roll on a canvas: notes as bars (time across, pitch up), coloured by
// track, shaded by velocity; rows the instrument cannot play greyed; a
// playhead; and for transcriptions a per-frame pitch curve (drawn stronger
// where the model is more confident) over the notes, with a confidence lane
// under them. Reference notes (what a clip was rendered from) can be drawn as
// outlines beside the notes found.
//
//   const roll = new PianoRoll(canvas);
//   roll.setNotes(notes, {duration});   // [{pitch, start, end, velocity, track, drum}]
//   roll.setRanges([[55, 96]]); roll.setPlayhead(seconds | -1);
//   roll.setCurve({times, pitch, confidence} | null); roll.setReference(notes | null)

import { CanvasWidget, cssValues } from './canvas.js';
import { noteName } from '../audio/midi-file.js';

export const TRACK_COLOURS = ['#3b2fc9', '#d9480f', '#0b7285', '#2b8a3e', '#ae3ec9', '#e67700', '#1971c2', '#c2255c'];
const TRACK_COLOURS_DARK = ['#8c83ff', '#ff922b', '#3bc9db', '#69db7c', '#e599f7', '#ffc078', '#74c0fc', '#f783ac'];

const LEFT = 48; // pitch labels
const isBlackKey = (p) => [1, 3, 6, 8, 10].includes(((p % 12) + 12) % 12);
const BOTTOM = 20; // time labels
const TOP = 8;
const RIGHT = 10;
const LANE = 34; // confidence lane, when a curve is shown

export function trackColour(track, dark = false) {
  const list = dark ? TRACK_COLOURS_DARK : TRACK_COLOURS;
  return list[((track % list.length) + list.length) % list.length];
}

// Round numbers for a time axis of `seconds`: at most maxTicks + 1 of them,
// however long the axis (its cost follows the width shown, never the file's
// numbers: a 107-byte MIDI file once asked for 75 million ticks here).
export function timeTicks(seconds, maxTicks = 10) {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) return [0];
  const most = Math.max(1, Math.floor(maxTicks));
  const steps = [0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  // Past 10-minute steps: 600 s times a power of two.
  const step = steps.find((s) => seconds / s <= most) ?? 600 * 2 ** Math.ceil(Math.log2(seconds / (600 * most)));
  const ticks = [];
  for (let i = 0; i <= most && i * step <= seconds + 1e-9; i++) ticks.push(Number((i * step).toFixed(3)));
  return ticks;
}

// The pitch rows to show: the notes and the ranges, a little margin, at least an octave.
export function pitchView(notes, ranges = [], reference = []) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const n of [...notes, ...reference]) {
    if (n.drum) continue;
    lo = Math.min(lo, n.pitch);
    hi = Math.max(hi, n.pitch);
  }
  if (!Number.isFinite(lo)) {
    for (const r of ranges) {
      lo = Math.min(lo, r[0]);
      hi = Math.max(hi, r[1]);
    }
  }
  if (!Number.isFinite(lo)) [lo, hi] = [60, 72];
  lo -= 2;
  hi += 2;
  while (hi - lo < 14) {
    lo -= 1;
    hi += 1;
  }
  return { lo: Math.max(0, lo), hi: Math.min(127, hi) };
}

export class PianoRoll extends CanvasWidget {
  constructor(canvas, { label = 'Piano roll', empty = '' } = {}) {
    super(canvas);
    this.label = label;
    this.empty = empty;
    this.notes = [];
    this.reference = [];
    this.ranges = [];
    this.curve = null;
    this.duration = 0;
    this.playhead = -1;
    this.resize();
  }

  setNotes(notes, { duration } = {}) {
    this.notes = (notes ?? []).map((n) => ({ ...n }));
    const end = this.notes.reduce((m, n) => Math.max(m, n.end), 0);
    this.duration = Math.max(duration ?? 0, end, this.curveEnd(), this.referenceEnd());
    this.updateLabel();
    this.requestRender();
  }

  setReference(notes) {
    this.reference = (notes ?? []).map((n) => ({ ...n }));
    this.duration = Math.max(this.duration, this.referenceEnd());
    this.requestRender();
  }

  setRanges(ranges) {
    this.ranges = ranges ?? [];
    this.requestRender();
  }

  // times (s), pitch (fractional MIDI pitch, NaN where none), confidence (0-1).
  setCurve(curve) {
    this.curve = curve && curve.times?.length ? curve : null;
    this.duration = Math.max(this.duration, this.curveEnd());
    this.requestRender();
  }

  setPlayhead(seconds) {
    if (seconds === this.playhead) return;
    this.playhead = seconds;
    this.requestRender();
  }

  curveEnd() {
    return this.curve ? this.curve.times[this.curve.times.length - 1] ?? 0 : 0;
  }

  referenceEnd() {
    return (this.reference ?? []).reduce((m, n) => Math.max(m, n.end), 0);
  }

  updateLabel() {
    const pitched = this.notes.filter((n) => !n.drum);
    let text = `${this.label}: `;
    if (!pitched.length) text += 'no notes';
    else {
      const lo = Math.min(...pitched.map((n) => n.pitch));
      const hi = Math.max(...pitched.map((n) => n.pitch));
      const tracks = new Set(pitched.map((n) => n.track)).size;
      text += `${pitched.length} notes from ${noteName(lo)} to ${noteName(hi)} over ${this.duration.toFixed(1)} s`;
      if (tracks > 1) text += ` in ${tracks} tracks`;
    }
    this.canvas.setAttribute('aria-label', `${text}.`);
  }

  // ---------- geometry ----------

  layout() {
    const view = pitchView(this.notes, this.ranges, this.reference);
    const lane = this.curve ? LANE : 0;
    const plot = { x: LEFT, y: TOP, w: Math.max(1, this.cssWidth - LEFT - RIGHT), h: Math.max(1, this.cssHeight - TOP - BOTTOM - lane) };
    const seconds = Math.max(this.duration, 1);
    const row = plot.h / (view.hi - view.lo + 1);
    return {
      ...view,
      plot,
      lane: lane ? { x: plot.x, y: plot.y + plot.h + 4, w: plot.w, h: lane - 6 } : null,
      row,
      seconds,
      x: (t) => plot.x + (t / seconds) * plot.w,
      y: (pitch) => plot.y + (view.hi - pitch) * row, // top of the pitch's row
    };
  }

  // Client coordinates of the middle of a note (for tests).
  clientPoint(seconds, pitch) {
    const rect = this.canvas.getBoundingClientRect();
    const g = this.layout();
    return { x: rect.left + g.x(seconds), y: rect.top + g.y(pitch) + g.row / 2 };
  }

  // ---------- drawing ----------

  render() {
    const ctx = this.context2d();
    if (!ctx) return;
    const get = cssValues(this.canvas);
    const dark = get('color-scheme', 'light').includes('dark') || matchMedia?.('(prefers-color-scheme: dark)').matches;
    const bg = get('--plot-bg', '#fff');
    const grid = get('--plot-grid', '#e7e5f1');
    const text = get('--plot-text', '#4f4d66');
    const black = get('--roll-black-key', 'rgba(26, 25, 48, 0.045)');
    const outside = get('--roll-outside', 'rgba(79, 77, 102, 0.16)');
    const playheadColour = get('--plot-playhead', '#2b8a3e');
    const curveColour = get('--plot-measured', '#d9480f');
    ctx.clearRect(0, 0, this.cssWidth, this.cssHeight);
    const g = this.layout();
    const { plot } = g;
    ctx.fillStyle = bg;
    ctx.fillRect(plot.x, plot.y, plot.w, plot.h);

    // Rows: black keys shaded, C lines stronger; the playable range as a band.
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (let p = g.lo; p <= g.hi; p++) {
      const y = g.y(p);
      if (isBlackKey(p)) {
        ctx.fillStyle = black;
        ctx.fillRect(plot.x, y, plot.w, g.row);
      }
      if (p % 12 === 0) {
        ctx.fillStyle = grid;
        ctx.fillRect(plot.x, y + g.row - 1, plot.w, 1);
      }
      // Every C; every white key too when the rows are tall enough to read.
      if (p % 12 === 0 || (g.row >= 13 && !isBlackKey(p))) {
        ctx.globalAlpha = p % 12 === 0 ? 1 : 0.6;
        ctx.fillStyle = text;
        ctx.fillText(noteName(p), plot.x - 5, y + g.row / 2);
        ctx.globalAlpha = 1;
      }
    }
    // Rows no instrument of the model plays are greyed: notes there get moved.
    if (this.ranges.length) {
      const playable = (p) => this.ranges.some(([lo, hi]) => p >= lo && p <= hi);
      ctx.fillStyle = outside;
      for (let p = g.lo; p <= g.hi; p++) if (!playable(p)) ctx.fillRect(plot.x, g.y(p), plot.w, g.row);
    }
    // Time grid.
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of timeTicks(g.seconds, Math.max(2, Math.floor(plot.w / 70)))) {
      const x = g.x(t);
      ctx.fillStyle = grid;
      ctx.fillRect(Math.round(x), plot.y, 1, plot.h);
      ctx.fillStyle = text;
      ctx.fillText(`${t} s`, Math.min(Math.max(x, plot.x + 10), plot.x + plot.w - 12), this.cssHeight - BOTTOM + 5);
    }

    const inView = (p) => p >= g.lo && p <= g.hi;
    // Reference notes: outlines.
    ctx.lineWidth = 1.5;
    for (const n of this.reference) {
      if (n.drum || !inView(n.pitch)) continue;
      ctx.strokeStyle = text;
      ctx.setLineDash([4, 3]);
      ctx.strokeRect(g.x(n.start) + 0.5, g.y(n.pitch) + 0.5, Math.max(2, g.x(n.end) - g.x(n.start)) - 1, Math.max(2, g.row) - 1);
    }
    ctx.setLineDash([]);
    // Notes.
    for (const n of this.notes) {
      if (!inView(n.pitch)) continue;
      const x = g.x(n.start);
      const w = Math.max(2, g.x(n.end) - x);
      const y = g.y(n.pitch) + (g.row > 5 ? 1 : 0);
      const h = Math.max(2, g.row - (g.row > 5 ? 2 : 0));
      ctx.globalAlpha = n.drum ? 0.25 : 0.45 + 0.55 * Math.min(1, (n.velocity ?? 80) / 127);
      ctx.fillStyle = n.drum ? text : trackColour(n.track ?? 0, dark);
      ctx.fillRect(x, y, w, h);
      ctx.globalAlpha = 1;
      if (n.transposed) {
        ctx.strokeStyle = text;
        ctx.lineWidth = 1;
        ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
      }
    }

    // Per-frame pitch as a thin line through the middle of its row, stronger
    // where the model is sure; and the confidence lane.
    if (this.curve) {
      const { times, pitch, confidence } = this.curve;
      ctx.strokeStyle = curveColour;
      ctx.lineWidth = 2;
      ctx.lineCap = 'round';
      for (let i = 0; i < times.length; i++) {
        const p = pitch[i];
        if (!Number.isFinite(p) || p < g.lo - 0.5 || p > g.hi + 0.5) continue;
        // Joined to the next frame only within a semitone: a jump is not a glide.
        const next = pitch[i + 1];
        const joined = Number.isFinite(next) && Math.abs(next - p) <= 1;
        const q = joined ? next : p;
        const x0 = g.x(times[i]);
        const x1 = joined ? g.x(times[i + 1]) : x0 + 1.5;
        ctx.globalAlpha = 0.15 + 0.85 * Math.min(1, Math.max(0, confidence?.[i] ?? 1));
        ctx.beginPath();
        ctx.moveTo(x0, g.y(p) + g.row / 2);
        ctx.lineTo(x1, g.y(q) + g.row / 2);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
      ctx.lineCap = 'butt';
      const lane = g.lane;
      ctx.fillStyle = bg;
      ctx.fillRect(lane.x, lane.y, lane.w, lane.h);
      ctx.strokeStyle = grid;
      ctx.strokeRect(lane.x + 0.5, lane.y + 0.5, lane.w - 1, lane.h - 1);
      ctx.beginPath();
      let drawing = false;
      for (let i = 0; i < times.length; i++) {
        const c = confidence?.[i];
        if (!Number.isFinite(c) || !Number.isFinite(pitch[i])) {
          drawing = false;
          continue;
        }
        const x = g.x(times[i]);
        const y = lane.y + lane.h - 2 - c * (lane.h - 4);
        if (drawing) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        drawing = true;
      }
      ctx.strokeStyle = curveColour;
      ctx.lineWidth = 1.5;
      ctx.stroke();
      ctx.fillStyle = text;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText('sure', lane.x - 5, lane.y + 6);
      ctx.fillText('unsure', lane.x - 5, lane.y + lane.h - 5);
    }

    if (!this.notes.length && !this.curve && this.empty) {
      ctx.fillStyle = text;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.font = '14px system-ui, sans-serif';
      ctx.fillText(this.empty, plot.x + plot.w / 2, plot.y + plot.h / 2);
    }

    if (this.playhead >= 0 && this.playhead <= g.seconds) {
      const x = g.x(this.playhead);
      ctx.fillStyle = playheadColour;
      ctx.fillRect(Math.round(x) - 1, plot.y, 2, plot.h + (g.lane ? g.lane.h + 4 : 0));
    }
  }
}
