// The timbre map of the Notes panel: the note model's file holds a 2D
// projection (PCA) of where its training notes sit in the 16-number timbre
// space; each note is a dot coloured by its instrument, and each instrument's
// mixture component (its typical timbre) a ringed dot with its name. Behind
// them, once decoded, a heat map of brightness (the spectral centroid of the
// note decoded at each point). Pressing and dragging plays the timbre under
// the pointer; a morph path between two instruments is drawn with its marker.
// Keyboard: arrows move the cursor (Shift for bigger steps), Space or Enter
// hold the sound, Escape stops it.
//
//   const map = new TimbreMap(canvas, {announce});
//   map.setModel(model)                    // describeNotesModel()
//   map.onPlay = (x, y, phase) => ...      // 'start' | 'move' | 'end', map coordinates

import { CanvasWidget, cssValues, drawTooltip } from '../ui/canvas.js';
import { colourAt } from '../draw/draw-curves.js';
import { inSentence, instrumentColour } from './notes-model.js';

const PAD = 14;

const isDark = () => globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;

export class TimbreMap extends CanvasWidget {
  constructor(canvas, { announce = null } = {}) {
    super(canvas);
    this.announceEl = announce;
    this.model = null;
    this.extent = [[-1, 1], [-1, 1]];
    this.heat = null; // {cols, rows, values: Float32Array, lo, hi, image: canvas}
    this.path = null; // {from: {x, y}, to: {x, y}, t, fromLabel, toLabel}
    this.selected = -1; // the instrument picked in the sampler
    this.marker = null; // {x, y, label}: the visitor's note
    this.cursor = null;
    this.playing = false;
    this.pointerId = null;
    this.focused = false;
    this.onPlay = null;
    this.listen({
      pointerdown: (e) => this.pointerDown(e),
      pointermove: (e) => this.pointerMove(e),
      pointerup: (e) => this.pointerUp(e),
      pointercancel: (e) => this.pointerUp(e),
      lostpointercapture: (e) => this.pointerUp(e),
      keydown: (e) => this.keyDown(e),
      keyup: (e) => this.keyUp(e),
      focus: () => {
        this.focused = true;
        if (!this.cursor) this.cursor = this.centre();
        this.requestRender();
      },
      blur: () => {
        this.focused = false;
        this.stop();
        this.requestRender();
      },
    });
    this.resize();
  }

  setModel(model) {
    this.model = model;
    this.extent = model?.map.extent ?? [[-1, 1], [-1, 1]];
    this.heat = null;
    this.path = null;
    this.marker = null;
    this.cursor = null;
    this.requestRender();
  }

  setSelected(index) {
    this.selected = index;
    this.requestRender();
  }

  // values: one per grid cell, row by row from the top (mapGrid's order).
  setHeat({ cols, rows, values }) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (!Number.isFinite(v)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const image = document.createElement('canvas');
    image.width = cols;
    image.height = rows;
    const ctx = image.getContext('2d');
    const data = ctx.createImageData(cols, rows);
    for (let i = 0; i < values.length; i++) {
      const t = hi > lo ? (values[i] - lo) / (hi - lo) : 0.5;
      const [r, g, b] = colourAt(t).match(/\d+/g).map(Number);
      data.data.set([r, g, b, 255], i * 4);
    }
    ctx.putImageData(data, 0, 0);
    this.heat = { cols, rows, values, lo, hi, image };
    this.requestRender();
  }

  clearHeat() {
    this.heat = null;
    this.requestRender();
  }

  // The visitor's note on the map (null: none).
  setMarker(marker) {
    this.marker = marker;
    this.requestRender();
  }

  setPath(path) {
    this.path = path;
    this.requestRender();
  }

  centre() {
    return { x: (this.extent[0][0] + this.extent[0][1]) / 2, y: (this.extent[1][0] + this.extent[1][1]) / 2 };
  }

  // ---------- geometry ----------

  toCanvas(x, y) {
    const [[x0, x1], [y0, y1]] = this.extent;
    return {
      x: PAD + ((x - x0) / (x1 - x0)) * (this.cssWidth - 2 * PAD),
      y: PAD + ((y1 - y) / (y1 - y0)) * (this.cssHeight - 2 * PAD),
    };
  }

  fromCanvas(cx, cy) {
    const [[x0, x1], [y0, y1]] = this.extent;
    const u = Math.min(1, Math.max(0, (cx - PAD) / Math.max(1, this.cssWidth - 2 * PAD)));
    const v = Math.min(1, Math.max(0, (cy - PAD) / Math.max(1, this.cssHeight - 2 * PAD)));
    return { x: x0 + u * (x1 - x0), y: y1 - v * (y1 - y0) };
  }

  // Client coordinates of a map point (for tests that press with real pointer events).
  clientPoint(x, y) {
    const rect = this.canvas.getBoundingClientRect();
    const p = this.toCanvas(x, y);
    return { x: rect.left + p.x, y: rect.top + p.y };
  }

  // The instrument whose component mean lies nearest: its index, or -1.
  nearestInstrument(x, y) {
    const means = this.model?.map.means ?? [];
    let best = -1;
    let bestD = Infinity;
    means.forEach((m, i) => {
      const d = (m.x - x) ** 2 + (m.y - y) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    });
    return best;
  }

  describeAt(x, y) {
    const k = this.nearestInstrument(x, y);
    if (k < 0) return '';
    const label = this.model.instruments[k].label;
    const m = this.model.map.means[k];
    const [[x0, x1], [y0, y1]] = this.extent;
    const near = Math.hypot((m.x - x) / (x1 - x0), (m.y - y) / (y1 - y0)) < 0.06;
    let text = near ? label : `closest to the ${inSentence(label)}`;
    if (this.heat) {
      const hz = this.heatAt(x, y);
      if (Number.isFinite(hz)) text += ` · ${Math.round(hz)} Hz`;
    }
    return text;
  }

  // The heat map's value (Hz) of the cell holding (x, y).
  heatAt(x, y) {
    if (!this.heat) return NaN;
    const [[x0, x1], [y0, y1]] = this.extent;
    const c = Math.min(this.heat.cols - 1, Math.max(0, Math.floor(((x - x0) / (x1 - x0)) * this.heat.cols)));
    const r = Math.min(this.heat.rows - 1, Math.max(0, Math.floor(((y1 - y) / (y1 - y0)) * this.heat.rows)));
    return this.heat.values[r * this.heat.cols + c];
  }

  // ---------- events ----------

  moveTo(x, y, phase) {
    this.cursor = { x, y };
    if (phase === 'start') this.playing = true;
    if (phase !== 'none') this.onPlay?.(x, y, phase);
    this.requestRender();
  }

  stop() {
    if (!this.playing) return;
    this.playing = false;
    if (this.cursor) this.onPlay?.(this.cursor.x, this.cursor.y, 'end');
    this.requestRender();
  }

  local(event) {
    const rect = this.canvas.getBoundingClientRect();
    return this.fromCanvas(event.clientX - rect.left, event.clientY - rect.top);
  }

  pointerDown(event) {
    if (!this.model || (event.pointerType === 'mouse' && event.button !== 0)) return;
    event.preventDefault();
    this.canvas.focus({ preventScroll: true });
    this.pointerId = event.pointerId;
    try {
      this.canvas.setPointerCapture(event.pointerId);
    } catch {
      // synthetic events have no active pointer to capture
    }
    const p = this.local(event);
    this.moveTo(p.x, p.y, 'start');
    this.announce();
  }

  pointerMove(event) {
    if (this.pointerId !== event.pointerId || !this.playing) return;
    const p = this.local(event);
    this.moveTo(p.x, p.y, 'move');
  }

  pointerUp(event) {
    if (this.pointerId !== event.pointerId) return;
    this.pointerId = null;
    this.stop();
    this.announce();
  }

  keyDown(event) {
    if (!this.model) return;
    const [[x0, x1], [y0, y1]] = this.extent;
    const step = event.shiftKey ? 0.1 : 0.025;
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    if (!this.cursor) this.cursor = this.centre();
    if (event.key in moves) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      const x = Math.min(x1, Math.max(x0, this.cursor.x + dx * step * (x1 - x0)));
      const y = Math.min(y1, Math.max(y0, this.cursor.y + dy * step * (y1 - y0)));
      this.moveTo(x, y, this.playing ? 'move' : 'none');
      this.announce();
      return;
    }
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      if (!event.repeat && !this.playing) {
        this.moveTo(this.cursor.x, this.cursor.y, 'start');
        this.announce();
      }
      return;
    }
    if (event.key === 'Escape') {
      event.preventDefault();
      this.stop();
    }
  }

  keyUp(event) {
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      this.stop();
    }
  }

  announce() {
    if (!this.announceEl || !this.cursor) return;
    this.announceEl.textContent = `${this.playing ? 'Playing' : 'Cursor'}: ${this.describeAt(this.cursor.x, this.cursor.y)}.`;
  }

  // ---------- drawing ----------

  render() {
    const ctx = this.context2d();
    if (!ctx) return;
    const get = cssValues(this.canvas);
    const dark = isDark();
    const ring = get('--map-ring', '#1a1930');
    const focus = get('--plot-cursor', '#0a66d8');
    const text = get('--plot-axis', '#1a1930');
    const bg = get('--plot-bg', '#fff');
    const playing = get('--plot-playhead', '#2b8a3e');
    const grid = get('--plot-grid', '#e7e5f1');
    ctx.clearRect(0, 0, this.cssWidth, this.cssHeight);
    if (!this.model) return;
    const w = this.cssWidth - 2 * PAD;
    const h = this.cssHeight - 2 * PAD;
    if (this.heat) {
      ctx.save();
      ctx.globalAlpha = dark ? 0.5 : 0.42;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.heat.image, PAD, PAD, w, h);
      ctx.restore();
    } else {
      const o = this.toCanvas(0, 0);
      ctx.fillStyle = grid;
      if (o.x > PAD && o.x < this.cssWidth - PAD) ctx.fillRect(Math.round(o.x), PAD, 1, h);
      if (o.y > PAD && o.y < this.cssHeight - PAD) ctx.fillRect(PAD, Math.round(o.y), w, 1);
    }
    const { instruments, map } = this.model;
    ctx.globalAlpha = 0.75;
    for (const point of map.points) {
      const p = this.toCanvas(point.x, point.y);
      ctx.fillStyle = instrumentColour(instruments[point.instrument].name, point.instrument, dark);
      ctx.beginPath();
      ctx.arc(p.x, p.y, 2.6, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    // The morph path under the means.
    if (this.path) {
      const a = this.toCanvas(this.path.from.x, this.path.from.y);
      const b = this.toCanvas(this.path.to.x, this.path.to.y);
      ctx.strokeStyle = ring;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 5]);
      ctx.beginPath();
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
      ctx.setLineDash([]);
      const t = Math.min(1, Math.max(0, this.path.t));
      const m = { x: a.x + t * (b.x - a.x), y: a.y + t * (b.y - a.y) };
      ctx.fillStyle = this.path.playing ? playing : ring;
      ctx.beginPath();
      ctx.moveTo(m.x, m.y - 8);
      ctx.lineTo(m.x + 8, m.y);
      ctx.lineTo(m.x, m.y + 8);
      ctx.lineTo(m.x - 8, m.y);
      ctx.closePath();
      ctx.fill();
    }
    // Component means: a ringed dot each, then their names where they fit
    // (the chosen instrument's first; a name that would cover another is
    // left to the legend and the tooltip).
    ctx.font = '600 12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const dots = map.means.map((mean, k) => ({ k, p: this.toCanvas(mean.x, mean.y) }));
    for (const { k, p } of dots) {
      const chosen = k === this.selected;
      ctx.fillStyle = instrumentColour(instruments[k].name, k, dark);
      ctx.strokeStyle = bg;
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      ctx.arc(p.x, p.y, chosen ? 8.5 : 6.5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      if (chosen) {
        ctx.strokeStyle = ring;
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(p.x, p.y, 11.5, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    const placed = dots.map(({ p }) => ({ x: p.x - 7, y: p.y - 7, w: 14, h: 14 }));
    const order = [...dots].sort((a, b) => (b.k === this.selected) - (a.k === this.selected));
    for (const { k, p } of order) {
      const label = instruments[k].label;
      const tw = ctx.measureText(label).width + 6;
      const spots = [[p.x + 11, p.y - 8], [p.x - 11 - tw, p.y - 8], [p.x - tw / 2, p.y - 26], [p.x - tw / 2, p.y + 10]];
      const free = spots.map(([x, y]) => ({ x, y, w: tw, h: 16 }))
        .find((r) => r.x >= 0 && r.x + r.w <= this.cssWidth && r.y >= 0 && r.y + r.h <= this.cssHeight &&
          !placed.some((o) => r.x < o.x + o.w && o.x < r.x + r.w && r.y < o.y + o.h && o.y < r.y + r.h));
      if (!free && k !== this.selected) continue;
      const r = free ?? { x: p.x + 11, y: p.y - 8, w: tw, h: 16 };
      placed.push(r);
      ctx.fillStyle = bg;
      ctx.globalAlpha = 0.85;
      ctx.fillRect(r.x, r.y, r.w, r.h);
      ctx.globalAlpha = 1;
      ctx.fillStyle = text;
      ctx.textAlign = 'left';
      ctx.fillText(label, r.x + 3, r.y + 8);
    }
    if (this.marker) {
      // A star: the visitor's note, where the network places its timbre (kept
      // on the plot's edge when it lies beyond it).
      const [[x0, x1], [y0, y1]] = this.extent;
      const inside = this.marker.x >= x0 && this.marker.x <= x1 && this.marker.y >= y0 && this.marker.y <= y1;
      const p = this.toCanvas(Math.min(x1, Math.max(x0, this.marker.x)), Math.min(y1, Math.max(y0, this.marker.y)));
      ctx.beginPath();
      for (let i = 0; i < 10; i++) {
        const r = i % 2 ? 4.5 : 11;
        const a = -Math.PI / 2 + (i * Math.PI) / 5;
        ctx.lineTo(p.x + r * Math.cos(a), p.y + r * Math.sin(a));
      }
      ctx.closePath();
      ctx.fillStyle = text;
      ctx.strokeStyle = bg;
      ctx.lineWidth = 2;
      ctx.fill();
      ctx.stroke();
      if (this.marker.label) drawTooltip(ctx, inside ? this.marker.label : `${this.marker.label} (beyond the map)`, p, this.cssWidth, { gap: 12, rise: 30, drop: 14, background: bg, border: ring, text });
    }
    if (this.cursor && (this.focused || this.playing || this.pointerId !== null)) {
      const p = this.toCanvas(this.cursor.x, this.cursor.y);
      ctx.strokeStyle = this.playing ? playing : this.focused ? focus : ring;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.arc(p.x, p.y, this.playing ? 13 : 10, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillRect(p.x - 1, p.y - 6, 2, 12);
      ctx.fillRect(p.x - 6, p.y - 1, 12, 2);
      const label = this.describeAt(this.cursor.x, this.cursor.y);
      if (label) drawTooltip(ctx, label, p, this.cssWidth, { gap: 16, rise: 34, drop: 18, background: bg, border: ring, text });
    }
  }

  // Legend entries: [{label, colour}], one per instrument.
  legend() {
    const dark = isDark();
    return (this.model?.instruments ?? []).map((ins) => ({ label: ins.label, colour: instrumentColour(ins.name, ins.index, dark) }));
  }
}
