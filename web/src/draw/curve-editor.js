// A curve drawn over time on a <canvas>: with a mouse, a finger or a pen
// (pointer events, coalesced points for smooth pen strokes), or with the
// keyboard (a cursor that the arrows move and nudge the curve around). The
// curve is a shape in [0, 1], one value per model hop; the axis in real units
// comes from a ValueScale. Optional overlays: a measured curve (real units
// over time) and a playhead. Used twice by the Draw panel: the descriptor
// curve and the smaller gain lane.
//
//   const editor = new CurveEditor(canvas, {scale, seconds, values, label, announce});
//   editor.onInput = () => ...   // while drawing (each move)
//   editor.onChange = () => ...  // a stroke ended, a key nudged, a preset was set

import { CanvasWidget, cssValues } from '../ui/canvas.js';
import { HOP_SECONDS, drawSegment, linearTicks, noteName, nudgeCurve } from './draw-curves.js';

const KEY_STEP_SECONDS = 0.1;
const KEY_NUDGE = 0.03;
const KEY_NUDGE_BIG = 0.12;
const NUDGE_RADIUS_SECONDS = 0.25;

export class CurveEditor extends CanvasWidget {
  constructor(canvas, { scale, seconds, values, label = 'Curve', compact = false, announce = null, colour = '--plot-target', hint = '' }) {
    super(canvas);
    this.scale = scale;
    this.seconds = seconds;
    this.values = Float32Array.from(values);
    this.label = label;
    this.compact = compact;
    this.announceEl = announce;
    this.colourVar = colour;
    this.hint = hint;
    this.measured = null; // {times, values, label} in real units
    this.reference = null; // real units per hop, drawn dashed
    this.playhead = -1; // seconds, -1: none
    this.cursor = 0; // hop of the keyboard cursor
    this.touched = false;
    this.drawing = null; // {pointerId, hop, value}
    this.hover = null; // {hop, value} under the pointer
    this.focused = false;
    this.onInput = null;
    this.onChange = null;
    this.announceTimer = 0;

    this.listen({
      pointerdown: (e) => this.pointerDown(e),
      pointermove: (e) => this.pointerMove(e),
      pointerup: (e) => this.pointerUp(e),
      pointercancel: (e) => this.pointerUp(e),
      pointerleave: () => {
        this.hover = null;
        this.requestRender();
      },
      keydown: (e) => this.keyDown(e),
      focus: () => {
        this.focused = true;
        this.requestRender();
      },
      blur: () => {
        this.focused = false;
        this.requestRender();
      },
    });
    this.resize();
    this.updateAria();
  }

  get hops() {
    return this.values.length;
  }

  // ---------- data ----------

  setValues(values, { touched = true } = {}) {
    this.values = Float32Array.from(values);
    this.cursor = Math.min(this.cursor, this.hops - 1);
    this.touched ||= touched;
    this.updateAria();
    this.requestRender();
  }

  setScale(scale, label = this.label) {
    this.scale = scale;
    this.label = label;
    this.updateAria();
    this.requestRender();
  }

  // Two editors stacked over the same time span share their left margin.
  alignWith(other) {
    this.partner = other;
    other.partner = this;
    this.requestRender();
    other.requestRender();
  }

  setSeconds(seconds) {
    this.seconds = seconds;
    this.requestRender();
  }

  // The curve in real units, one value per hop.
  unitValues() {
    return this.values.map((v) => this.scale.toUnit(v));
  }

  // A dashed companion of the drawn curve (real units per hop), e.g. a drawn
  // loudness with the volume curve applied; null: none.
  setReference(values) {
    this.reference = values;
    this.requestRender();
  }

  setMeasured(measured) {
    this.measured = measured;
    this.requestRender();
  }

  setPlayhead(seconds) {
    if (seconds === this.playhead) return;
    this.playhead = seconds;
    this.requestRender();
  }

  // ---------- geometry ----------

  // The left margin fits the widest value label (set by render()).
  get pad() {
    const left = this.leftPad ?? 64;
    return this.compact ? { left, right: 14, top: 8, bottom: 22 } : { left, right: 14, top: 12, bottom: 30 };
  }

  plotBox() {
    const p = this.pad;
    return { x: p.left, y: p.top, w: Math.max(10, this.cssWidth - p.left - p.right), h: Math.max(10, this.cssHeight - p.top - p.bottom) };
  }

  // Shape 0..1 lies a few pixels inside the box, so a curve at either end of
  // the axis is not hidden by the frame.
  get inset() {
    return this.compact ? 5 : 7;
  }

  yOf(box, shape) {
    return box.y + this.inset + (1 - shape) * (box.h - 2 * this.inset);
  }

  shapeAt(box, y) {
    return 1 - (y - box.y - this.inset) / (box.h - 2 * this.inset);
  }

  // Pointer position (CSS px inside the canvas) -> {hop (fractional), value (shape)}.
  toCurve(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const box = this.plotBox();
    const fx = (clientX - rect.left - box.x) / box.w;
    const hop = Math.min(1, Math.max(0, fx)) * (this.hops - 1);
    return { hop, value: Math.min(1, Math.max(0, this.shapeAt(box, clientY - rect.top))) };
  }

  // Client coordinates of (seconds, shape): for tests that draw with real pointer events.
  clientPoint(seconds, shape) {
    const rect = this.canvas.getBoundingClientRect();
    const box = this.plotBox();
    return {
      x: rect.left + box.x + (seconds / this.seconds) * box.w,
      y: rect.top + this.yOf(box, shape),
    };
  }

  // ---------- pointer ----------

  pointerDown(event) {
    if (event.button !== 0 && event.pointerType === 'mouse') return;
    event.preventDefault();
    this.canvas.focus({ preventScroll: true });
    try {
      this.canvas.setPointerCapture(event.pointerId);
    } catch {
      // a pointer the browser does not track (synthetic events): moves still arrive
    }
    const point = this.toCurve(event.clientX, event.clientY);
    this.drawing = { pointerId: event.pointerId, ...point };
    drawSegment(this.values, point.hop, point.value, point.hop, point.value);
    this.cursor = Math.round(point.hop);
    this.touched = true;
    this.hover = point;
    this.requestRender();
    this.onInput?.();
  }

  pointerMove(event) {
    const drawing = this.drawing;
    if (!drawing || drawing.pointerId !== event.pointerId) {
      if (event.pointerType !== 'touch') {
        this.hover = this.toCurve(event.clientX, event.clientY);
        this.requestRender();
      }
      return;
    }
    event.preventDefault();
    const events = typeof event.getCoalescedEvents === 'function' ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const point = this.toCurve(e.clientX, e.clientY);
      drawSegment(this.values, drawing.hop, drawing.value, point.hop, point.value);
      drawing.hop = point.hop;
      drawing.value = point.value;
    }
    this.cursor = Math.round(drawing.hop);
    this.hover = { hop: drawing.hop, value: drawing.value };
    this.requestRender();
    this.onInput?.();
  }

  pointerUp(event) {
    const drawing = this.drawing;
    if (!drawing || drawing.pointerId !== event.pointerId) return;
    this.drawing = null;
    try {
      this.canvas.releasePointerCapture(event.pointerId);
    } catch {
      // not captured
    }
    if (event.pointerType === 'touch') this.hover = null;
    this.updateAria();
    this.requestRender();
    this.onChange?.();
  }

  // ---------- keyboard ----------

  keyDown(event) {
    const step = Math.max(1, Math.round(KEY_STEP_SECONDS / HOP_SECONDS));
    const last = this.hops - 1;
    let moved = false;
    let changed = false;
    switch (event.key) {
      case 'ArrowLeft':
        this.cursor = Math.max(0, this.cursor - step * (event.shiftKey ? 5 : 1));
        moved = true;
        break;
      case 'ArrowRight':
        this.cursor = Math.min(last, this.cursor + step * (event.shiftKey ? 5 : 1));
        moved = true;
        break;
      case 'Home':
        this.cursor = 0;
        moved = true;
        break;
      case 'End':
        this.cursor = last;
        moved = true;
        break;
      case 'ArrowUp':
      case 'ArrowDown':
      case 'PageUp':
      case 'PageDown': {
        const up = event.key === 'ArrowUp' || event.key === 'PageUp';
        const big = event.shiftKey || event.key.startsWith('Page');
        const radius = Math.round(NUDGE_RADIUS_SECONDS / HOP_SECONDS);
        nudgeCurve(this.values, this.cursor, (up ? 1 : -1) * (big ? KEY_NUDGE_BIG : KEY_NUDGE), radius);
        this.touched = true;
        changed = true;
        break;
      }
      default:
        return;
    }
    event.preventDefault();
    this.updateAria();
    this.requestRender();
    if (moved || changed) this.announceCursor();
    if (changed) this.onChange?.();
  }

  cursorText() {
    const hop = Math.min(this.cursor, this.hops - 1);
    const t = hop * HOP_SECONDS;
    const value = this.scale.toUnit(this.values[hop]);
    const note = this.scale.log && this.scale.unit === 'Hz' ? ` (${noteName(value)})` : '';
    return `${t.toFixed(2)} s: ${this.scale.format(value)}${note}`;
  }

  announceCursor() {
    if (!this.announceEl) return;
    clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(() => {
      this.announceEl.textContent = `${this.label} at ${this.cursorText()}`;
    }, 120);
  }

  updateAria() {
    const n = this.hops;
    if (!n) return;
    const first = this.scale.format(this.scale.toUnit(this.values[0]));
    const lastValue = this.scale.format(this.scale.toUnit(this.values[n - 1]));
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of this.values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    this.canvas.setAttribute(
      'aria-label',
      `${this.label} over ${this.seconds} s: from ${first} to ${lastValue}, between ${this.scale.format(this.scale.toUnit(lo))} and ${this.scale.format(this.scale.toUnit(hi))}. Cursor at ${this.cursorText()}.`,
    );
  }

  // ---------- drawing ----------

  colours() {
    const get = cssValues(this.canvas);
    return {
      background: get('--plot-bg', '#fff'),
      grid: get('--plot-grid', '#e3e1ee'),
      axis: get('--plot-axis', '#4f4d66'),
      text: get('--plot-text', '#4f4d66'),
      line: get(this.colourVar, '#3b2fc9'),
      measured: get('--plot-measured', '#d9480f'),
      playhead: get('--plot-playhead', '#14804a'),
      cursor: get('--plot-cursor', '#0a66d8'),
      hint: get('--plot-hint', 'rgba(80, 78, 110, 0.55)'),
    };
  }

  render() {
    const ctx = this.context2d();
    if (!ctx) return;
    const c = this.colours();
    const { scale } = this;
    const font = this.compact ? 11 : 12;
    ctx.font = `${font}px system-ui, sans-serif`;
    const plotHeight = this.plotBox().h;
    const yTicks = this.compact ? [scale.min, (scale.min + scale.max) / 2, scale.max] : scale.ticks(Math.max(3, Math.min(7, Math.floor(plotHeight / 45))));
    const labelWidth = Math.max(...yTicks.map((v) => ctx.measureText(scale.format(v)).width));
    const need = Math.max(40, Math.ceil(labelWidth) + 16);
    if (need !== this.labelPad) {
      this.labelPad = need;
      this.partner?.requestRender();
    }
    // Aligned with a partner (the gain lane under the curve): the same time axis.
    this.leftPad = Math.max(need, this.partner?.labelPad ?? 0);
    const box = this.plotBox();
    const xOf = (seconds) => box.x + (seconds / this.seconds) * box.w;
    const yOf = (shape) => this.yOf(box, shape);
    ctx.clearRect(0, 0, this.cssWidth, this.cssHeight);
    ctx.fillStyle = c.background;
    ctx.fillRect(box.x, box.y, box.w, box.h);

    // Grid and labels: value ticks on the left, seconds below.
    ctx.lineWidth = 1;
    ctx.strokeStyle = c.grid;
    ctx.fillStyle = c.text;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of yTicks) {
      const y = Math.round(yOf(scale.toShape(v))) + 0.5;
      ctx.beginPath();
      ctx.moveTo(box.x, y);
      ctx.lineTo(box.x + box.w, y);
      ctx.stroke();
      ctx.fillText(scale.format(v), box.x - 8, Math.min(Math.max(y, box.y + font / 2), box.y + box.h - font / 2));
    }
    const xTicks = linearTicks(0, this.seconds, this.compact ? 5 : Math.max(2, Math.min(10, Math.floor(box.w / 70))));
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of xTicks) {
      const x = Math.round(xOf(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, box.y);
      ctx.lineTo(x, box.y + box.h);
      ctx.stroke();
      if (!this.compact || t === 0 || Math.abs(t - this.seconds) < 1e-6 || xTicks.length <= 6) {
        ctx.fillText(`${Number(t.toFixed(2))} s`, Math.min(Math.max(x, box.x + 10), box.x + box.w - 10), box.y + box.h + 5);
      }
    }
    ctx.strokeStyle = c.axis;
    ctx.strokeRect(box.x + 0.5, box.y + 0.5, box.w - 1, box.h - 1);

    // A first-time visitor's hint, until the first stroke.
    if (!this.touched && this.hint) {
      ctx.fillStyle = c.hint;
      ctx.font = `600 ${this.compact ? 13 : 16}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(this.hint, box.x + box.w / 2, box.y + box.h * (this.compact ? 0.7 : 0.82));
    }

    ctx.save();
    ctx.beginPath();
    ctx.rect(box.x, box.y, box.w, box.h);
    ctx.clip();

    // Measured curve (real units), broken where frames are missing.
    const m = this.measured;
    if (m && m.times.length > 1) {
      ctx.strokeStyle = c.measured;
      ctx.lineWidth = 2;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      let previous = -Infinity;
      for (let i = 0; i < m.times.length; i++) {
        const x = xOf(m.times[i]);
        const y = yOf(scale.toShape(m.values[i]));
        if (m.times[i] - previous > 0.05) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
        previous = m.times[i];
      }
      ctx.stroke();
    }

    // Its dashed companion (what the drawn curve becomes with the volume curve).
    const ref = this.reference;
    if (ref && ref.length > 1) {
      ctx.strokeStyle = c.line;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 5]);
      ctx.beginPath();
      for (let i = 0; i < ref.length; i++) {
        const x = xOf((i / (ref.length - 1)) * this.seconds);
        const y = yOf(scale.toShape(ref[i]));
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // The drawn curve.
    ctx.strokeStyle = c.line;
    ctx.lineWidth = this.compact ? 2.5 : 3;
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    ctx.beginPath();
    const n = this.hops;
    for (let i = 0; i < n; i++) {
      const x = xOf((i / Math.max(1, n - 1)) * this.seconds);
      const y = yOf(this.values[i]);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.stroke();

    // Playhead.
    if (this.playhead >= 0) {
      const x = Math.round(xOf(Math.min(this.playhead, this.seconds))) + 0.5;
      ctx.strokeStyle = c.playhead;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, box.y);
      ctx.lineTo(x, box.y + box.h);
      ctx.stroke();
    }

    // Keyboard cursor (when focused): a dashed line and a dot on the curve.
    if (this.focused && !this.drawing) {
      const hop = Math.min(this.cursor, n - 1);
      const x = xOf((hop / Math.max(1, n - 1)) * this.seconds);
      const y = yOf(this.values[hop]);
      ctx.strokeStyle = c.cursor;
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(Math.round(x) + 0.5, box.y);
      ctx.lineTo(Math.round(x) + 0.5, box.y + box.h);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = c.cursor;
      ctx.beginPath();
      ctx.arc(x, y, 5.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.restore();

    // What lies under the pointer (or the keyboard cursor), in real units.
    const probe = this.hover
      ? { t: (this.hover.hop / Math.max(1, n - 1)) * this.seconds, v: scale.toUnit(this.hover.value) }
      : this.focused
        ? { t: Math.min(this.cursor, n - 1) * HOP_SECONDS, v: scale.toUnit(this.values[Math.min(this.cursor, n - 1)]) }
        : null;
    if (probe) {
      const note = scale.log && scale.unit === 'Hz' ? ` (${noteName(probe.v)})` : '';
      const text = `${probe.t.toFixed(2)} s · ${scale.format(probe.v, { precise: scale.unit === 'dB' })}${note}`;
      ctx.font = `600 ${font}px system-ui, sans-serif`;
      const w = ctx.measureText(text).width + 12;
      const x = box.x + box.w - w - 6;
      const y = box.y + 6;
      ctx.fillStyle = c.background;
      ctx.globalAlpha = 0.9;
      ctx.fillRect(x, y, w, font + 8);
      ctx.globalAlpha = 1;
      ctx.strokeStyle = c.grid;
      ctx.strokeRect(x + 0.5, y + 0.5, w - 1, font + 7);
      ctx.fillStyle = c.axis;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      ctx.fillText(text, x + 6, y + (font + 8) / 2);
    }
  }

  dispose() {
    super.dispose();
    clearTimeout(this.announceTimer);
  }
}
