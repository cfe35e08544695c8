// The XY pad over a cross-modal model's latent space: the model's file holds
// a 2D projection (PCA) of where every label (note x dynamics) sits in the
// 32-number latent space; each label is a dot here, coloured by pitch class
// or by octave, bigger for louder dynamics. Pressing and dragging plays the
// sound decoded at that point (between labels too: the in-between timbres).
// Keyboard: arrows move the cursor (Shift for bigger steps), Space or Enter
// hold the sound, Escape stops it.
//
//   const pad = new LatentPad(canvas, {announce});
//   pad.setData({points: [{pitch, dynamics, x, y}], extent: [[x0, x1], [y0, y1]]});
//   pad.onMove = (x, y, on) => ...   // latent-projection coordinates

import { CanvasWidget, cssValues, drawTooltip } from '../ui/canvas.js';
import { colourAt } from '../draw/draw-curves.js';
import { DYNAMICS, PITCH_CLASS_NAMES, noteName, octaveOf } from '../audio/midi-file.js';

const PAD = 16;

// 12 hues around the colour circle, one per pitch class (C red ... B violet).
export function pitchClassColour(pitch, dark = false) {
  const pc = ((pitch % 12) + 12) % 12;
  return `hsl(${Math.round((pc * 360) / 12)}, ${dark ? 75 : 70}%, ${dark ? 62 : 45}%)`;
}

export class LatentPad extends CanvasWidget {
  constructor(canvas, { announce = null } = {}) {
    super(canvas);
    this.announceEl = announce;
    this.points = [];
    this.extent = [[-1, 1], [-1, 1]];
    this.colourBy = 'pitch'; // 'pitch' | 'octave'
    this.cursor = null; // {x, y} in projection units
    this.playing = false;
    this.pointerId = null;
    this.focused = false;
    this.onMove = null; // (x, y, on) => void
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

  setData({ points, extent }) {
    this.points = points ?? [];
    if (Array.isArray(extent) && extent.length === 2 && extent.every((e) => e[1] > e[0])) this.extent = extent;
    else this.extent = this.fitExtent();
    this.cursor = null;
    this.requestRender();
  }

  setColourBy(mode) {
    this.colourBy = mode === 'octave' ? 'octave' : 'pitch';
    this.requestRender();
  }

  fitExtent() {
    if (!this.points.length) return [[-1, 1], [-1, 1]];
    const xs = this.points.map((p) => p.x);
    const ys = this.points.map((p) => p.y);
    const grow = (lo, hi) => {
      const m = 0.1 * Math.max(hi - lo, 1e-3);
      return [lo - m, hi + m];
    };
    return [grow(Math.min(...xs), Math.max(...xs)), grow(Math.min(...ys), Math.max(...ys))];
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

  // Client coordinates of a projection point (for tests that drag with real pointer events).
  clientPoint(x, y) {
    const rect = this.canvas.getBoundingClientRect();
    const p = this.toCanvas(x, y);
    return { x: rect.left + p.x, y: rect.top + p.y };
  }

  // The label nearest a projection point: {point, index} or null.
  nearest(x, y) {
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < this.points.length; i++) {
      const p = this.points[i];
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best < 0 ? null : { point: this.points[best], index: best };
  }

  describeAt(x, y) {
    const near = this.nearest(x, y);
    if (!near) return '';
    return `near ${noteName(near.point.pitch)} ${DYNAMICS[near.point.dynamics] ?? ''}`.trim();
  }

  // ---------- events ----------

  moveTo(x, y, on) {
    this.cursor = { x, y };
    this.playing = on;
    this.onMove?.(x, y, on);
    this.requestRender();
  }

  stop() {
    if (!this.playing) return;
    this.playing = false;
    if (this.cursor) this.onMove?.(this.cursor.x, this.cursor.y, false);
    this.requestRender();
  }

  local(event) {
    const rect = this.canvas.getBoundingClientRect();
    return this.fromCanvas(event.clientX - rect.left, event.clientY - rect.top);
  }

  pointerDown(event) {
    if (event.pointerType === 'mouse' && event.button !== 0) return;
    event.preventDefault();
    this.canvas.focus({ preventScroll: true });
    this.pointerId = event.pointerId;
    try {
      this.canvas.setPointerCapture(event.pointerId);
    } catch {
      // synthetic events have no active pointer to capture
    }
    const p = this.local(event);
    this.moveTo(p.x, p.y, true);
    this.announce();
  }

  pointerMove(event) {
    if (this.pointerId !== event.pointerId || !this.playing) return;
    const p = this.local(event);
    this.moveTo(p.x, p.y, true);
  }

  pointerUp(event) {
    if (this.pointerId !== event.pointerId) return;
    this.pointerId = null;
    this.stop();
    this.announce();
  }

  keyDown(event) {
    const [[x0, x1], [y0, y1]] = this.extent;
    const step = (event.shiftKey ? 0.1 : 0.025);
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    if (!this.cursor) this.cursor = this.centre();
    if (event.key in moves) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      const x = Math.min(x1, Math.max(x0, this.cursor.x + dx * step * (x1 - x0)));
      const y = Math.min(y1, Math.max(y0, this.cursor.y + dy * step * (y1 - y0)));
      this.moveTo(x, y, this.playing);
      this.announce();
      return;
    }
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      if (!event.repeat) {
        this.moveTo(this.cursor.x, this.cursor.y, true);
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
    const where = this.describeAt(this.cursor.x, this.cursor.y);
    this.announceEl.textContent = `${this.playing ? 'Playing' : 'Cursor'} ${where}.`;
  }

  // ---------- drawing ----------

  colourOf(point, dark) {
    if (this.colourBy === 'octave') return colourAt((octaveOf(point.pitch) - 0) / 8);
    return pitchClassColour(point.pitch, dark);
  }

  render() {
    const ctx = this.context2d();
    if (!ctx) return;
    const get = cssValues(this.canvas);
    const dark = globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
    const grid = get('--plot-grid', '#e7e5f1');
    const ring = get('--map-ring', '#1a1930');
    const focus = get('--plot-cursor', '#0a66d8');
    const text = get('--plot-axis', '#1a1930');
    const bg = get('--plot-bg', '#fff');
    const playing = get('--plot-playhead', '#2b8a3e');
    ctx.clearRect(0, 0, this.cssWidth, this.cssHeight);
    // Axes through the centre of the projection (the labels' mean).
    const o = this.toCanvas(0, 0);
    ctx.fillStyle = grid;
    if (o.x > 0 && o.x < this.cssWidth) ctx.fillRect(Math.round(o.x), PAD, 1, this.cssHeight - 2 * PAD);
    if (o.y > 0 && o.y < this.cssHeight) ctx.fillRect(PAD, Math.round(o.y), this.cssWidth - 2 * PAD, 1);
    for (const point of this.points) {
      const p = this.toCanvas(point.x, point.y);
      ctx.fillStyle = this.colourOf(point, dark);
      ctx.globalAlpha = 0.85;
      ctx.beginPath();
      ctx.arc(p.x, p.y, 2.5 + 1.5 * (point.dynamics ?? 1), 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (!this.points.length) return;
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
      if (label) {
        drawTooltip(ctx, label, p, this.cssWidth, { gap: 16, rise: 34, drop: 18, background: bg, border: ring, text });
      }
    }
  }

  // Legend entries for the current colouring: [{label, colour}].
  legend() {
    const dark = globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
    if (this.colourBy === 'octave') {
      const octaves = [...new Set(this.points.map((p) => octaveOf(p.pitch)))].sort((a, b) => a - b);
      return octaves.map((o) => ({ label: `octave ${o}`, colour: colourAt(o / 8) }));
    }
    const present = new Set(this.points.map((p) => ((p.pitch % 12) + 12) % 12));
    return PITCH_CLASS_NAMES.map((name, pc) => ({ label: name, colour: pitchClassColour(pc, dark), present: present.has(pc) }))
      .filter((e) => e.present);
  }
}
