// The grain map of the Grains panel's Paths card: the plane of the training
// grains' first two principal axes (docs/grains.md), each drum class at the
// mean position of its grains, and the path the path voice travels, with the
// point it plays now. The visitor shapes the path with the pointer: a line
// (press at one end, release at the other), a circle or a spiral (press at the
// centre, release at the edge) or a freehand drawing. Keyboard: arrows move
// the path (Shift for bigger steps), + and − resize it, Space or Enter start
// or stop it.
//
//   const map = new GrainMap(canvas, {announce});
//   map.setModel(description)        // describeGrainsModel(); grainMap may be null
//   map.mode = 'line' | 'circle' | 'spiral' | 'draw'
//   map.onPath = (path) => ...       // a new path (latent-path.js Path)
//   map.onToggle = () => ...         // Space or Enter
//   map.setPath(path); map.setPoint({x, y} | null)

import { CanvasWidget, cssValues, drawTooltip } from '../ui/canvas.js';
import { Path, PathError, circlePath, freehandPath, linePath, spiralPath } from './latent-path.js';
import { classColour } from './grains-model.js';

const PAD = 16;
const SPIRAL_TURNS = 3;
const isDark = () => globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;

// A default path of each kind, inside the extent [[x0, x1], [y0, y1]].
// With the model's class points, the shapes go round and among the drums (the
// extent's centre can lie among quiet tail grains); without, the extent's middle.
export function defaultPath(kind, extent, classPoints = []) {
  const [[x0, x1], [y0, y1]] = extent;
  let c = { x: (x0 + x1) / 2, y: (y0 + y1) / 2 };
  let r = 0.3 * Math.min(x1 - x0, y1 - y0);
  if (classPoints.length >= 2) {
    c = { x: classPoints.reduce((a, p) => a + p.x, 0) / classPoints.length, y: classPoints.reduce((a, p) => a + p.y, 0) / classPoints.length };
    const d = classPoints.map((p) => Math.hypot(p.x - c.x, p.y - c.y)).sort((a, b) => a - b);
    r = Math.min(r, Math.max(d[Math.floor(d.length / 2)], 0.02 * (x1 - x0)));
  }
  if (kind === 'line') return linePath({ x: x0 + 0.15 * (x1 - x0), y: c.y - 0.2 * (y1 - y0) }, { x: x1 - 0.15 * (x1 - x0), y: c.y + 0.2 * (y1 - y0) });
  if (kind === 'spiral') return spiralPath(c, 0.1 * r, r * 1.3, { turns: SPIRAL_TURNS });
  if (kind === 'draw') {
    // A wave across the map: what a drawing looks like.
    const points = Array.from({ length: 48 }, (_, i) => ({ x: x0 + (0.1 + (0.8 * i) / 47) * (x1 - x0), y: c.y + 0.25 * (y1 - y0) * Math.sin((i / 47) * 2 * Math.PI) }));
    return freehandPath(points);
  }
  return circlePath(c, r);
}

// The path moved by (dx, dy) and scaled by `scale` about its points' mean.
export function transformPath(path, dx, dy, scale = 1) {
  const p = path.points;
  const n = p.length / 2;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += p[2 * i];
    my += p[2 * i + 1];
  }
  mx /= n;
  my /= n;
  const out = new Float64Array(p.length);
  for (let i = 0; i < n; i++) {
    out[2 * i] = mx + dx + (p[2 * i] - mx) * scale;
    out[2 * i + 1] = my + dy + (p[2 * i + 1] - my) * scale;
  }
  return new Path(out, { kind: path.kind });
}

export class GrainMap extends CanvasWidget {
  constructor(canvas, { announce = null } = {}) {
    super(canvas);
    this.announceEl = announce;
    this.model = null;
    this.extent = [[-1, 1], [-1, 1]];
    this.mode = 'circle';
    this.path = null;
    this.point = null; // the path voice's point now
    this.playing = false;
    this.selected = -1; // the class the path plays
    this.draft = null; // {kind, start, end, points}: a shape being drawn
    this.pointerId = null;
    this.onPath = null;
    this.onToggle = null;
    this.listen({
      pointerdown: (e) => this.pointerDown(e),
      pointermove: (e) => this.pointerMove(e),
      pointerup: (e) => this.pointerUp(e),
      pointercancel: (e) => this.pointerCancel(e),
      keydown: (e) => this.keyDown(e),
    });
    this.resize();
  }

  // description: describeGrainsModel()'s; a model without a grain map shows nothing.
  setModel(description) {
    this.model = description?.grainMap ? description : null;
    const e = this.model?.grainMap.extent ?? [[-1, 1], [-1, 1]];
    // A margin, so that paths can reach a little beyond the 99 % of grains.
    const mx = 0.05 * (e[0][1] - e[0][0]);
    const my = 0.05 * (e[1][1] - e[1][0]);
    this.extent = [[e[0][0] - mx, e[0][1] + mx], [e[1][0] - my, e[1][1] + my]];
    this.draft = null;
    this.requestRender();
  }

  setPath(path) {
    this.path = path;
    this.requestRender();
  }

  setPoint(point, playing = point !== null) {
    this.point = point;
    this.playing = playing;
    this.requestRender();
  }

  setSelected(index) {
    this.selected = index;
    this.requestRender();
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

  get width() {
    return this.extent[0][1] - this.extent[0][0];
  }

  // The class whose mean position lies nearest (x, y): {index, near}.
  nearestClass(x, y) {
    const points = this.model?.grainMap.classPoints ?? [];
    const [[x0, x1], [y0, y1]] = this.extent;
    let best = -1;
    let bestD = Infinity;
    points.forEach((p, k) => {
      const d = ((p.x - x) / (x1 - x0)) ** 2 + ((p.y - y) / (y1 - y0)) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    });
    return { index: best, near: Math.sqrt(bestD) < 0.06 };
  }

  describeAt(x, y) {
    const { index, near } = this.nearestClass(x, y);
    if (index < 0) return '';
    const label = this.model.classes[index].label;
    return near ? `the ${label.toLowerCase()} grains` : `nearest the ${label.toLowerCase()} grains`;
  }

  // ---------- the pointer ----------

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
    this.draft = { kind: this.mode, start: p, end: p, points: [p] };
    this.requestRender();
  }

  pointerMove(event) {
    if (this.pointerId !== event.pointerId || !this.draft) return;
    const p = this.local(event);
    this.draft.end = p;
    if (this.draft.kind === 'draw' && this.draft.points.length < 20000) this.draft.points.push(p);
    this.requestRender();
  }

  pointerUp(event) {
    if (this.pointerId !== event.pointerId) return;
    this.pointerId = null;
    const draft = this.draft;
    this.draft = null;
    if (draft) {
      const path = this.draftPath(draft);
      if (path) {
        this.path = path;
        this.onPath?.(path);
        this.announce(`New ${path.kind === 'freehand' ? 'drawn' : path.kind} path, from ${this.describeAt(path.points[0], path.points[1])}.`);
      } else {
        this.announce('The path is too small: press, drag and release.');
      }
    }
    this.requestRender();
  }

  pointerCancel(event) {
    if (this.pointerId !== event.pointerId) return;
    this.pointerId = null;
    this.draft = null;
    this.requestRender();
  }

  // The path a drag makes (null when it is too small to hear move).
  draftPath(draft) {
    const tiny = 0.01 * this.width;
    const r = Math.hypot(draft.end.x - draft.start.x, draft.end.y - draft.start.y);
    try {
      if (draft.kind === 'draw') return freehandPath(draft.points, { minSpacing: 0.002 * this.width });
      if (r < tiny) return null;
      if (draft.kind === 'line') return linePath(draft.start, draft.end);
      if (draft.kind === 'spiral') return spiralPath(draft.start, 0.1 * r, r, { turns: SPIRAL_TURNS });
      return circlePath(draft.start, r);
    } catch (error) {
      if (error instanceof PathError) return null;
      throw error;
    }
  }

  // ---------- the keyboard ----------

  keyDown(event) {
    if (!this.model) return;
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    const scales = { '+': 1.1, '=': 1.1, '-': 1 / 1.1, _: 1 / 1.1 };
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      if (!event.repeat) this.onToggle?.();
      return;
    }
    if (!this.path) return;
    let next = null;
    if (event.key in moves) {
      const [[x0, x1], [y0, y1]] = this.extent;
      const step = event.shiftKey ? 0.1 : 0.025;
      const [dx, dy] = moves[event.key];
      next = transformPath(this.path, dx * step * (x1 - x0), dy * step * (y1 - y0));
    } else if (event.key in scales) {
      next = transformPath(this.path, 0, 0, scales[event.key]);
    }
    if (!next) return;
    event.preventDefault();
    this.path = next;
    this.onPath?.(next);
    const p = next.pointAt(next.length / 2);
    this.announce(`Path moved; its middle is ${this.describeAt(p.x, p.y)}.`);
    this.requestRender();
  }

  announce(text) {
    if (this.announceEl) this.announceEl.textContent = text;
  }

  // ---------- drawing ----------

  polyline(ctx, points) {
    ctx.beginPath();
    for (let i = 0; i < points.length; i += 2) {
      const p = this.toCanvas(points[i], points[i + 1]);
      if (i === 0) ctx.moveTo(p.x, p.y);
      else ctx.lineTo(p.x, p.y);
    }
    ctx.stroke();
  }

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
    const accent = get('--accent', '#3b2fc9');
    ctx.clearRect(0, 0, this.cssWidth, this.cssHeight);
    if (!this.model) return;
    const { grainMap, classes } = this.model;
    // The extent holding 99 % of the training grains.
    const [ex, ey] = grainMap.extent;
    const a = this.toCanvas(ex[0], ey[1]);
    const b = this.toCanvas(ex[1], ey[0]);
    ctx.fillStyle = grid;
    ctx.globalAlpha = 0.45;
    ctx.fillRect(a.x, a.y, b.x - a.x, b.y - a.y);
    ctx.globalAlpha = 1;
    const o = this.toCanvas(0, 0);
    ctx.fillStyle = grid;
    if (o.x > PAD && o.x < this.cssWidth - PAD) ctx.fillRect(Math.round(o.x), PAD, 1, this.cssHeight - 2 * PAD);
    if (o.y > PAD && o.y < this.cssHeight - PAD) ctx.fillRect(PAD, Math.round(o.y), this.cssWidth - 2 * PAD, 1);

    // The path, then the draft over it.
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    if (this.path) {
      ctx.strokeStyle = this.playing ? playing : accent;
      ctx.lineWidth = 3;
      this.polyline(ctx, this.path.points);
      const s = this.toCanvas(this.path.points[0], this.path.points[1]);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.beginPath();
      ctx.arc(s.x, s.y, 4.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (this.draft) {
      const preview = this.draft.kind === 'draw' ? null : this.draftPath(this.draft);
      ctx.strokeStyle = focus;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 5]);
      if (preview) this.polyline(ctx, preview.points);
      else if (this.draft.kind === 'draw') this.polyline(ctx, this.draft.points.flatMap((p) => [p.x, p.y]));
      ctx.setLineDash([]);
    }

    // The classes, each at the mean of its grains, with its name where it fits.
    ctx.font = '600 12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const dots = grainMap.classPoints.map((pt, k) => ({ k, p: this.toCanvas(pt.x, pt.y) }));
    for (const { k, p } of dots) {
      const chosen = k === this.selected;
      ctx.fillStyle = classColour(k, classes.length, dark);
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
    const order = [...dots].sort((u, v) => (v.k === this.selected) - (u.k === this.selected));
    for (const { k, p } of order) {
      const label = classes[k].label;
      const tw = ctx.measureText(label).width + 6;
      const spots = [[p.x + 11, p.y - 8], [p.x - 11 - tw, p.y - 8], [p.x - tw / 2, p.y - 26], [p.x - tw / 2, p.y + 10]];
      const free = spots.map(([x, y]) => ({ x, y, w: tw, h: 16 }))
        .find((r) => r.x >= 0 && r.x + r.w <= this.cssWidth && r.y >= 0 && r.y + r.h <= this.cssHeight &&
          !placed.some((q) => r.x < q.x + q.w && q.x < r.x + r.w && r.y < q.y + q.h && q.y < r.y + r.h));
      if (!free) continue; // the legend names it
      placed.push(free);
      ctx.fillStyle = bg;
      ctx.globalAlpha = 0.85;
      ctx.fillRect(free.x, free.y, free.w, free.h);
      ctx.globalAlpha = 1;
      ctx.fillStyle = text;
      ctx.textAlign = 'left';
      ctx.fillText(label, free.x + 3, free.y + 8);
    }

    // The point the path voice plays now.
    if (this.point) {
      const p = this.toCanvas(this.point.x, this.point.y);
      ctx.fillStyle = playing;
      ctx.strokeStyle = bg;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.arc(p.x, p.y, 8, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      const label = this.describeAt(this.point.x, this.point.y);
      if (label) drawTooltip(ctx, label, p, this.cssWidth, { gap: 14, rise: 32, drop: 16, background: bg, border: ring, text });
    }
  }

  // Legend entries: [{label, colour}], one per class.
  legend() {
    const dark = isDark();
    const classes = this.model?.classes ?? [];
    return classes.map((c) => ({ label: c.label, colour: classColour(c.index, classes.length, dark) }));
  }
}
