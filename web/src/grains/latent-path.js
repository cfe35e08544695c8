// Paths on the grain map (docs/grains.md: the plane of the first two principal
// axes of the training grains' latents). The path voice decodes the grain
// under a point that travels along a path: a line, a circle, a spiral or a
// freehand polyline, all kept as polylines of at most MAX_PATH_POINTS points
// and parametrised by arc length, so the point moves at an even speed (map
// units per second) whatever the shape. It goes to the end and comes back
// (forward-backward), forever.
//
//   const path = circlePath({x: 0, y: 0}, 1.5);
//   const player = new PathPlayer(path, {speed: 0.8});
//   player.advance(seconds, out)       // out.x, out.y: where the point is now
//
// Path and PathPlayer allocate nothing after construction (the worklet runs
// them every render quantum); points come from strangers' hands (a drawing)
// or messages, so they are checked and bounded here. No DOM.

export const MAX_PATH_POINTS = 512;
export const SHAPE_SEGMENTS = 128; // a circle's or spiral's polyline
export const MAX_SPEED = 1000; // map units per second
export const MAX_TURNS = 8; // of a spiral

export class PathError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PathError';
  }
}

const finite = (p) => p && Number.isFinite(p.x) && Number.isFinite(p.y);

// A polyline parametrised by arc length. xy: x0, y0, x1, y1, ... (copied).
// (maxPoints: only freehandPath() goes above MAX_PATH_POINTS, for a moment.)
export class Path {
  constructor(xy, { kind = 'freehand', maxPoints = MAX_PATH_POINTS } = {}) {
    if (!(Array.isArray(xy) || ArrayBuffer.isView(xy)) || xy.length % 2 !== 0) throw new PathError('a path is a list of x, y pairs');
    const n = xy.length / 2;
    if (n < 1) throw new PathError('a path needs at least one point');
    if (n > maxPoints) throw new PathError(`a path has at most ${maxPoints} points (this one has ${n})`);
    this.kind = kind;
    this.points = Float64Array.from(xy);
    for (const v of this.points) if (!Number.isFinite(v)) throw new PathError('a path’s points must be finite numbers');
    this.cumulative = new Float64Array(n); // arc length from the start to each point
    for (let i = 1; i < n; i++) {
      const dx = this.points[2 * i] - this.points[2 * i - 2];
      const dy = this.points[2 * i + 1] - this.points[2 * i - 1];
      this.cumulative[i] = this.cumulative[i - 1] + Math.hypot(dx, dy);
    }
    this.length = this.cumulative[n - 1];
  }

  get count() {
    return this.cumulative.length;
  }

  // The point `distance` along the path (clamped to [0, length]) into out.
  pointAt(distance, out = { x: 0, y: 0 }) {
    const c = this.cumulative;
    const p = this.points;
    const n = c.length;
    const d = distance <= 0 ? 0 : distance >= this.length ? this.length : distance;
    if (n === 1 || this.length === 0) {
      out.x = p[0];
      out.y = p[1];
      return out;
    }
    // The segment [lo, lo + 1] holding d: the last point at or before it.
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (c[mid] <= d) lo = mid;
      else hi = mid;
    }
    const span = c[hi] - c[lo];
    const t = span > 0 ? (d - c[lo]) / span : 0;
    out.x = p[2 * lo] + t * (p[2 * hi] - p[2 * lo]);
    out.y = p[2 * lo + 1] + t * (p[2 * hi + 1] - p[2 * lo + 1]);
    return out;
  }

  // The point at phase 0-1 of the way along.
  pointAtPhase(phase, out) {
    return this.pointAt(phase * this.length, out);
  }
}

export function linePath(a, b) {
  if (!finite(a) || !finite(b)) throw new PathError('a line needs two points');
  return new Path([a.x, a.y, b.x, b.y], { kind: 'line' });
}

// A circle from the angle 0 round (counter-clockwise), closed.
export function circlePath(centre, radius, { segments = SHAPE_SEGMENTS } = {}) {
  if (!finite(centre) || !(radius >= 0) || !Number.isFinite(radius)) throw new PathError('a circle needs a centre and a radius of 0 or more');
  const n = Math.max(3, Math.min(MAX_PATH_POINTS - 1, Math.round(segments)));
  const xy = new Float64Array(2 * (n + 1));
  for (let i = 0; i <= n; i++) {
    const a = (2 * Math.PI * (i % n)) / n;
    xy[2 * i] = centre.x + radius * Math.cos(a);
    xy[2 * i + 1] = centre.y + radius * Math.sin(a);
  }
  return new Path(xy, { kind: 'circle' });
}

// A spiral from radius r0 to r1 over `turns` turns, the radius growing evenly with the angle.
export function spiralPath(centre, r0, r1, { turns = 3, segments = SHAPE_SEGMENTS * 2 } = {}) {
  if (!finite(centre) || !(r0 >= 0 && r1 >= 0) || !Number.isFinite(r0 + r1)) throw new PathError('a spiral needs a centre and two radii of 0 or more');
  if (!(turns > 0 && turns <= MAX_TURNS)) throw new PathError(`a spiral turns more than 0 and at most ${MAX_TURNS} times`);
  const n = Math.max(8, Math.min(MAX_PATH_POINTS - 1, Math.round(segments)));
  const xy = new Float64Array(2 * (n + 1));
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    const a = 2 * Math.PI * turns * t;
    const r = r0 + (r1 - r0) * t;
    xy[2 * i] = centre.x + r * Math.cos(a);
    xy[2 * i + 1] = centre.y + r * Math.sin(a);
  }
  return new Path(xy, { kind: 'spiral' });
}

// n points evenly spaced along a polyline (its ends kept).
export function resample(path, n) {
  const count = Math.max(2, Math.min(MAX_PATH_POINTS, Math.round(n)));
  const xy = new Float64Array(2 * count);
  const p = { x: 0, y: 0 };
  for (let i = 0; i < count; i++) {
    path.pointAt((path.length * i) / (count - 1), p);
    xy[2 * i] = p.x;
    xy[2 * i + 1] = p.y;
  }
  return xy;
}

// A freehand drawing (points [{x, y}] in map units, as drawn): points closer
// than minSpacing to the last kept one are dropped (a still pointer adds
// nothing), and a longer drawing is resampled to maxPoints evenly spaced points.
export function freehandPath(points, { minSpacing = 0, maxPoints = MAX_PATH_POINTS, maxInput = 100000 } = {}) {
  if (!Array.isArray(points)) throw new PathError('a drawing is a list of points');
  if (points.length > maxInput) throw new PathError(`a drawing has at most ${maxInput} points`);
  const kept = [];
  let last = null;
  for (const p of points) {
    if (!finite(p)) throw new PathError('a drawing’s points must be finite numbers');
    if (last && Math.hypot(p.x - last.x, p.y - last.y) <= minSpacing) continue;
    kept.push(p.x, p.y);
    last = p;
  }
  const tail = points.at(-1);
  if (last && tail !== last && Math.hypot(tail.x - last.x, tail.y - last.y) > 0) kept.push(tail.x, tail.y); // the pen's last position
  if (kept.length < 4) throw new PathError('draw a longer line: the path needs two points apart');
  const limit = Math.max(2, Math.min(MAX_PATH_POINTS, Math.round(maxPoints)));
  if (kept.length / 2 <= limit) return new Path(kept, { kind: 'freehand' });
  return new Path(resample(new Path(kept, { maxPoints: maxInput }), limit), { kind: 'freehand' });
}

// A point travelling along a path at `speed` map units per second, to the
// end and back (forward-backward), from the start.
export class PathPlayer {
  constructor(path, { speed = 1 } = {}) {
    this.path = path;
    this.speed = 0;
    this.travelled = 0; // distance along the forward-backward loop, in [0, 2 · length)
    this.setSpeed(speed);
  }

  setSpeed(speed) {
    if (!Number.isFinite(speed) || speed < 0 || speed > MAX_SPEED) throw new PathError(`the speed is 0 to ${MAX_SPEED} map units per second`);
    this.speed = speed;
  }

  // Another path: the point keeps its share of the way (and its direction).
  setPath(path) {
    const share = this.path.length > 0 ? this.travelled / (2 * this.path.length) : 0;
    this.path = path;
    this.travelled = share * 2 * path.length;
  }

  reset() {
    this.travelled = 0;
  }

  // Distance from the path's start of the point now.
  get distance() {
    const l = this.path.length;
    return this.travelled <= l ? this.travelled : 2 * l - this.travelled;
  }

  // +1 going out, −1 coming back.
  get direction() {
    return this.travelled < this.path.length ? 1 : -1;
  }

  // Moves the point on by `seconds`; writes where it is into out.
  advance(seconds, out = { x: 0, y: 0 }) {
    const loop = 2 * this.path.length;
    if (loop > 0 && seconds > 0) {
      this.travelled += this.speed * seconds;
      if (this.travelled >= loop) this.travelled %= loop;
    }
    return this.path.pointAt(this.distance, out);
  }
}
