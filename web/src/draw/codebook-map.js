// A 2D map of an instrument's codebook: every code (a short sound the model
// can make) is a dot, placed by DrawKernel.codebookMap() (a projection of the
// code vectors: near dots are similar codes) and coloured by a descriptor
// from the model's table. Hovering or clicking a dot asks to hear it; the
// keyboard moves between dots with the arrows (to the nearest one in that
// direction) and plays with Enter or Space. Codes used by the last render are
// ringed.
//
//   const map = new CodebookMap(canvas, {announce});
//   map.setData({points: Float32Array [x0, y0, ...] in [-1, 1], values, scale})
//   map.onPlay = (code, how) => ...   // how: 'click' | 'hover' | 'key'
//   map.onStop = () => ...

import { CanvasWidget, cssValues, drawTooltip } from '../ui/canvas.js';
import { colourAt } from './draw-curves.js';

const PAD = 14;
const HIT_PX = 12;

export class CodebookMap extends CanvasWidget {
  constructor(canvas, { announce = null } = {}) {
    super(canvas);
    this.announceEl = announce;
    this.points = new Float32Array(0);
    this.values = [];
    this.scale = null;
    this.unitLabel = '';
    this.used = new Set();
    this.selected = -1; // keyboard / last clicked
    this.hovered = -1;
    this.playing = -1;
    this.focused = false;
    this.onPlay = null;
    this.onStop = null;

    this.listen({
      pointermove: (e) => this.pointerMove(e),
      pointerleave: () => this.pointerLeave(),
      pointerdown: (e) => this.pointerDown(e),
      keydown: (e) => this.keyDown(e),
      focus: () => {
        this.focused = true;
        if (this.selected < 0 && this.count) this.selected = this.centreCode();
        this.requestRender();
      },
      blur: () => {
        this.focused = false;
        this.requestRender();
      },
    });
    this.resize();
  }

  get count() {
    return this.points.length / 2;
  }

  // points: the projection; values: one per code (real units); scale: a
  // ValueScale for the colours; describe(code) -> text for the tooltip.
  setData({ points, values, scale, describe }) {
    this.points = points ?? new Float32Array(0);
    this.values = values ?? [];
    this.scale = scale;
    this.describe = describe ?? ((code) => `sound ${code}`);
    this.selected = Math.min(this.selected, this.count - 1);
    this.used.clear();
    this.requestRender();
  }

  setUsed(codes) {
    this.used = new Set(codes ?? []);
    this.requestRender();
  }

  setPlaying(code) {
    if (code === this.playing) return;
    this.playing = code;
    this.requestRender();
  }

  // ---------- geometry ----------

  // The view: the points' bounding box, centred, one scale for both axes (so
  // distances on the map keep their meaning).
  fit() {
    let x0 = Infinity;
    let x1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    for (let k = 0; k < this.count; k++) {
      x0 = Math.min(x0, this.points[2 * k]);
      x1 = Math.max(x1, this.points[2 * k]);
      y0 = Math.min(y0, this.points[2 * k + 1]);
      y1 = Math.max(y1, this.points[2 * k + 1]);
    }
    if (!(x1 >= x0)) [x0, x1, y0, y1] = [-1, 1, -1, 1];
    const w = Math.max(1, this.cssWidth - 2 * PAD);
    const h = Math.max(1, this.cssHeight - 2 * PAD);
    const s = Math.min(w / Math.max(x1 - x0, 1e-6), h / Math.max(y1 - y0, 1e-6));
    this.view = {
      s,
      ox: PAD + (w - s * (x1 - x0)) / 2 - s * x0,
      oy: PAD + (h - s * (y1 - y0)) / 2 + s * y1,
      width: this.cssWidth,
      height: this.cssHeight,
      points: this.points,
    };
  }

  // CSS px inside the canvas of code k.
  position(k) {
    const v = this.view;
    if (!v || v.points !== this.points || v.width !== this.cssWidth || v.height !== this.cssHeight) this.fit();
    const { s, ox, oy } = this.view;
    return { x: ox + s * this.points[2 * k], y: oy - s * this.points[2 * k + 1] };
  }

  // Client coordinates of code k (for tests that click with real pointer events).
  clientPoint(k) {
    const rect = this.canvas.getBoundingClientRect();
    const p = this.position(k);
    return { x: rect.left + p.x, y: rect.top + p.y };
  }

  codeAt(clientX, clientY, radius = HIT_PX) {
    const rect = this.canvas.getBoundingClientRect();
    const x = clientX - rect.left;
    const y = clientY - rect.top;
    let best = -1;
    let bestD = radius * radius;
    for (let k = 0; k < this.count; k++) {
      const p = this.position(k);
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d <= bestD) {
        bestD = d;
        best = k;
      }
    }
    return best;
  }

  centreCode() {
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < this.count; k++) {
      const d = this.points[2 * k] ** 2 + this.points[2 * k + 1] ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    return best;
  }

  // The nearest code from `from` in a direction (dx, dy in screen terms),
  // within 60 degrees of it; -1 when there is none.
  neighbour(from, dx, dy) {
    const a = this.position(from);
    let best = -1;
    let bestScore = Infinity;
    for (let k = 0; k < this.count; k++) {
      if (k === from) continue;
      const p = this.position(k);
      const vx = p.x - a.x;
      const vy = p.y - a.y;
      const along = vx * dx + vy * dy;
      if (along <= 0) continue;
      const across = Math.abs(vx * dy - vy * dx);
      if (across > along * 1.732) continue;
      const score = along + 2 * across;
      if (score < bestScore) {
        bestScore = score;
        best = k;
      }
    }
    return best;
  }

  // ---------- events ----------

  pointerMove(event) {
    if (event.pointerType === 'touch') return;
    const code = this.codeAt(event.clientX, event.clientY);
    if (code === this.hovered) return;
    this.hovered = code;
    this.canvas.style.cursor = code >= 0 ? 'pointer' : '';
    this.requestRender();
    if (code >= 0) this.onPlay?.(code, 'hover');
    else this.onStop?.('hover');
  }

  pointerLeave() {
    if (this.hovered < 0) return;
    this.hovered = -1;
    this.requestRender();
    this.onStop?.('hover');
  }

  pointerDown(event) {
    if (event.button !== 0 && event.pointerType === 'mouse') return;
    const code = this.codeAt(event.clientX, event.clientY, event.pointerType === 'touch' ? 22 : HIT_PX);
    if (code < 0) return;
    event.preventDefault();
    this.canvas.focus({ preventScroll: true });
    this.selected = code;
    this.requestRender();
    this.announce(code);
    this.onPlay?.(code, 'click');
  }

  keyDown(event) {
    if (!this.count) return;
    const dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (event.key in dirs) {
      event.preventDefault();
      const from = this.selected >= 0 ? this.selected : this.centreCode();
      const next = this.neighbour(from, ...dirs[event.key]);
      if (next >= 0) {
        this.selected = next;
        this.announce(next);
        this.requestRender();
      }
      return;
    }
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      if (this.selected < 0) this.selected = this.centreCode();
      this.announce(this.selected);
      this.onPlay?.(this.selected, 'key');
      return;
    }
    if (event.key === 'Escape') {
      event.preventDefault();
      this.onStop?.('key');
    }
  }

  announce(code) {
    if (this.announceEl) this.announceEl.textContent = this.describe(code);
  }

  // ---------- drawing ----------

  render() {
    const ctx = this.context2d();
    if (!ctx) return;
    const get = cssValues(this.canvas);
    const ring = get('--map-ring', '#1a1930');
    const focus = get('--plot-cursor', '#0a66d8');
    const text = get('--plot-axis', '#1a1930');
    const bg = get('--plot-bg', '#fff');
    ctx.clearRect(0, 0, this.cssWidth, this.cssHeight);
    if (!this.count || !this.scale) return;
    const r = Math.max(2.5, Math.min(5, Math.sqrt((this.cssWidth * this.cssHeight) / this.count) * 0.22));

    // Dots, darkest first so bright ones stay visible where they overlap.
    const order = [...Array(this.count).keys()].sort((a, b) => (this.values[a] ?? 0) - (this.values[b] ?? 0));
    for (const k of order) {
      const p = this.position(k);
      ctx.fillStyle = colourAt(this.scale.toShape(this.values[k]));
      ctx.beginPath();
      ctx.arc(p.x, p.y, r, 0, 2 * Math.PI);
      ctx.fill();
    }
    // Codes the last render used.
    if (this.used.size) {
      ctx.strokeStyle = ring;
      ctx.lineWidth = 1.5;
      for (const k of this.used) {
        if (k < 0 || k >= this.count) continue;
        const p = this.position(k);
        ctx.beginPath();
        ctx.arc(p.x, p.y, r + 2.5, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    // Playing, hovered and selected codes: bigger rings.
    const mark = (k, colour, width, extra) => {
      if (k < 0 || k >= this.count) return;
      const p = this.position(k);
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.arc(p.x, p.y, r + extra, 0, 2 * Math.PI);
      ctx.stroke();
    };
    mark(this.playing, get('--plot-playhead', '#14804a'), 3, 6);
    mark(this.hovered, ring, 2, 5);
    if (this.focused) mark(this.selected, focus, 3, 8);

    // Tooltip for the hovered (or keyboard-selected) code.
    const tip = this.hovered >= 0 ? this.hovered : this.focused ? this.selected : -1;
    if (tip >= 0) {
      const p = this.position(tip);
      drawTooltip(ctx, this.describe(tip), p, this.cssWidth, { gap: 12, rise: 30, drop: 14, background: bg, border: ring, text });
    }
  }
}
