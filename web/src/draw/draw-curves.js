// The Draw panel's numbers, without DOM: the descriptors a visitor can draw,
// their axes (real units, linear or logarithmic), curves stored as shapes in
// [0, 1] (one value per model hop), the presets, and the comparison of a
// drawn curve with the descriptor measured on the rendered audio (Pearson r,
// mean absolute error). Runs in the page, in workers and under node.

export const MODEL_RATE = 22050;
export const HOP = 256;
export const HOP_SECONDS = HOP / MODEL_RATE; // 11.6 ms
export const MIN_SECONDS = 2;
export const MAX_SECONDS = 10;
// Room for the longest curve (862 hops), in the Worker's and the worklet's kernels.
export const MAX_HOPS = 900;

export const hopsFor = (seconds) => Math.max(1, Math.round((seconds * MODEL_RATE) / HOP));

// DrawKernel.measure() gives 8 values per frame (frames of 1024, hop 256):
export const MEASURE = Object.freeze({
  STRIDE: 8,
  TIME: 0,
  CENTROID: 1,
  BANDWIDTH: 2,
  ROLLOFF: 3,
  FLATNESS: 4,
  LOUDNESS: 5,
  F0: 6,
  VOICED: 7,
});

// What can be drawn. `name` is DrawKernel's (setTarget, descriptorRange);
// `table` the key in the descriptor table (models/README.md).
export const DESCRIPTORS = Object.freeze({
  centroid: {
    name: 'centroid',
    label: 'Brightness',
    technical: 'spectral centroid',
    unit: 'Hz',
    log: false,
    measure: MEASURE.CENTROID,
    table: 'centroid_hz',
    hint: 'How bright or dark the sound is: the “centre of mass” of its frequencies. High is buzzy and brilliant, low is dark and muffled.',
  },
  f0: {
    name: 'f0',
    label: 'Pitch',
    technical: 'fundamental frequency, f0',
    unit: 'Hz',
    log: true,
    measure: MEASURE.F0,
    table: 'f0_hz',
    hint: 'Which note the instrument plays. The pitch drives the instrument’s vibration directly; the codebook supplies the timbre.',
  },
  loudness: {
    name: 'loudness',
    label: 'Loudness',
    technical: 'A-weighted level',
    unit: 'dB',
    log: false,
    measure: MEASURE.LOUDNESS,
    table: 'loudness_db',
    hint: 'How strong the sound is, in decibels below full scale, weighted like the ear hears.',
  },
  bandwidth: {
    name: 'bandwidth',
    label: 'Bandwidth',
    technical: 'spectral spread',
    unit: 'Hz',
    log: false,
    measure: MEASURE.BANDWIDTH,
    table: 'bandwidth_hz',
    hint: 'How widely the sound’s energy spreads around its brightness: narrow is pure and flute-like, wide is rich or noisy.',
  },
});

const MINUS = '\u2212';

// "850 Hz", "1.25 kHz", "−32 dB", "60 %".
export function formatValue(value, unit, { precise = false } = {}) {
  if (!Number.isFinite(value)) return '—';
  if (unit === 'Hz') {
    if (Math.abs(value) >= 1000) return `${(value / 1000).toFixed(precise ? 3 : value >= 10000 ? 1 : 2).replace(/\.?0+$/, '')} kHz`;
    return `${Math.round(value)} Hz`;
  }
  if (unit === 'dB') return `${value < 0 ? MINUS : ''}${Math.abs(value).toFixed(precise ? 1 : 0)} dB`;
  if (unit === '%') return `${Math.round(value * 100)} %`;
  return String(Number(value.toPrecision(3)));
}

const NOTE_NAMES = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];
// "A4" for 440 Hz.
export function noteName(hz) {
  if (!(hz > 0)) return '';
  const midi = Math.round(69 + 12 * Math.log2(hz / 440));
  return `${NOTE_NAMES[((midi % 12) + 12) % 12]}${Math.floor(midi / 12) - 1}`;
}

// An axis in real units: maps a shape value in [0, 1] to the unit and back,
// linearly or logarithmically (pitch).
export class ValueScale {
  constructor(min, max, { log = false, unit = '' } = {}) {
    if (!(Number.isFinite(min) && Number.isFinite(max) && max > min)) throw new Error(`bad range ${min}..${max}`);
    if (log && !(min > 0)) throw new Error('a logarithmic scale needs a positive minimum');
    this.min = min;
    this.max = max;
    this.log = log;
    this.unit = unit;
  }

  toUnit(shape) {
    const s = Math.min(1, Math.max(0, shape));
    return this.log ? this.min * (this.max / this.min) ** s : this.min + (this.max - this.min) * s;
  }

  toShape(value) {
    const s = this.log ? Math.log(value / this.min) / Math.log(this.max / this.min) : (value - this.min) / (this.max - this.min);
    return Number.isFinite(s) ? s : 0;
  }

  format(value, options) {
    return formatValue(value, this.unit, options);
  }

  // Round values inside the range for grid lines, about `count` of them.
  ticks(count = 5) {
    if (this.log) {
      const out = [];
      const steps = [1, 2, 5];
      for (let decade = 10 ** Math.floor(Math.log10(this.min)); decade <= this.max; decade *= 10) {
        for (const s of steps) {
          const v = s * decade;
          if (v >= this.min && v <= this.max) out.push(v);
        }
      }
      if (out.length >= 3) return out;
      return linearTicks(this.min, this.max, count);
    }
    return linearTicks(this.min, this.max, count);
  }
}

export function linearTicks(min, max, count = 5) {
  const span = max - min;
  if (!(span > 0)) return [min];
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

// ---------- curves (shapes in [0, 1], one value per hop) ----------

const clamp01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);

// Stretches a curve to n values (linear interpolation; ends kept).
export function resampleCurve(values, n) {
  const out = new Float32Array(n);
  if (values.length === 0) return out;
  if (values.length === 1 || n === 1) return out.fill(values[0]);
  const scale = (values.length - 1) / (n - 1);
  for (let i = 0; i < n; i++) {
    const x = i * scale;
    const a = Math.floor(x);
    const b = Math.min(a + 1, values.length - 1);
    out[i] = values[a] + (values[b] - values[a]) * (x - a);
  }
  return out;
}

// Sets values between two drawn points (hop, shape), straight in between.
export function drawSegment(values, h0, v0, h1, v1) {
  const n = values.length;
  if (h1 < h0) [h0, v0, h1, v1] = [h1, v1, h0, v0];
  const from = Math.max(0, Math.ceil(h0));
  const to = Math.min(n - 1, Math.floor(h1));
  if (to < from) {
    // Both points inside one hop: set the nearest.
    const i = Math.min(n - 1, Math.max(0, Math.round(h0)));
    values[i] = clamp01(v1);
    return [i, i];
  }
  for (let i = from; i <= to; i++) {
    const t = h1 === h0 ? 1 : (i - h0) / (h1 - h0);
    values[i] = clamp01(v0 + (v1 - v0) * t);
  }
  return [from, to];
}

// Raises (delta > 0) or lowers a curve around hop `center` by a smooth bump
// (raised cosine of half-width `radius` hops): the keyboard's way of drawing.
export function nudgeCurve(values, center, delta, radius) {
  const r = Math.max(1, radius);
  const from = Math.max(0, Math.ceil(center - r));
  const to = Math.min(values.length - 1, Math.floor(center + r));
  for (let i = from; i <= to; i++) {
    const w = 0.5 * (1 + Math.cos((Math.PI * (i - center)) / r));
    values[i] = clamp01(values[i] + delta * w);
  }
}

// Small, fast, seeded PRNG (mulberry32): the same seed gives the same curve.
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const PRESETS = Object.freeze(['rise', 'fall', 'vibrato', 'random', 'flat']);

// A preset shape of n hops in [low, high] (the part of the axis it should use).
//   vibrato: {rate (Hz), depth (shape units, half the swing)}
//   random: {seed}: smooth (cubic through a random point every ~0.6 s), inside [low, high]
export function presetCurve(name, n, { low = 0.1, high = 0.9, seed = 1, rate = 1.5, depth = null } = {}) {
  const out = new Float32Array(n);
  const mid = (low + high) / 2;
  const seconds = n * HOP_SECONDS;
  switch (name) {
    case 'rise':
    case 'fall':
      for (let i = 0; i < n; i++) {
        const t = n === 1 ? 0 : i / (n - 1);
        out[i] = name === 'rise' ? low + (high - low) * t : high - (high - low) * t;
      }
      return out;
    case 'vibrato': {
      const d = depth ?? (high - low) * 0.4;
      for (let i = 0; i < n; i++) out[i] = mid + d * Math.sin(2 * Math.PI * rate * i * HOP_SECONDS);
      return out.map(clamp01);
    }
    case 'random': {
      const rand = mulberry32(seed);
      const knots = Math.max(3, Math.round(seconds / 0.6) + 1);
      const k = Array.from({ length: knots + 2 }, () => low + (high - low) * rand());
      for (let i = 0; i < n; i++) {
        const x = (i / Math.max(1, n - 1)) * (knots - 1) + 1;
        const j = Math.min(Math.floor(x), knots - 1);
        const t = x - j;
        // Catmull-Rom through k[j-1..j+2], then clamped to [low, high].
        const [p0, p1, p2, p3] = [k[j - 1], k[j], k[j + 1], k[j + 2]];
        out[i] = 0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t + (-p0 + 3 * p1 - 3 * p2 + p3) * t * t * t);
      }
      // The spline may overshoot its points: squeezed back into [low, high]
      // (not clipped, which would leave flat tops).
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of out) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      if ((lo < low || hi > high) && hi > lo) {
        const a = Math.max(lo, low);
        const b = Math.min(hi, high);
        for (let i = 0; i < n; i++) out[i] = a + ((out[i] - lo) * (b - a)) / (hi - lo);
      }
      return out;
    }
    case 'flat':
      return out.fill(mid);
    default:
      throw new Error(`unknown preset ${name}`);
  }
}

export const GAIN_PRESETS = Object.freeze(['full', 'swell', 'fade']);

// Gain curves (linear, 0..1).
export function gainCurve(name, n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0 : i / (n - 1);
    if (name === 'full') out[i] = 1;
    else if (name === 'swell') out[i] = 0.15 + 0.85 * Math.sin(Math.PI * t) ** 2;
    else if (name === 'fade') out[i] = t < 0.5 ? 1 : 1 - (t - 0.5) / 0.5;
    else throw new Error(`unknown gain preset ${name}`);
  }
  return out;
}

// ---------- comparison ----------

export function pearson(a, b) {
  const n = Math.min(a.length, b.length);
  if (n < 3) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  // A flat curve has no shape to correlate with.
  if (saa < 1e-9 * n * (Math.abs(ma) + 1) ** 2 || sbb <= 0) return NaN;
  return sab / Math.sqrt(saa * sbb);
}

// The measured descriptor against the target it was rendered from.
//   frames: DrawKernel.measure() output (8 values per frame)
//   target: values in real units, one per hop (what setTarget got)
//   gain: the gain curve (frames where it is ~0 were drawn silent: left out; a
//         drawn loudness is expected with the gain's level added)
// Frames whose analysis window reaches past either end (edgeSeconds) and, for
// pitch, unvoiced but audible frames are left out. A frame that should sound
// but is silent (below silenceDb) is a miss, not a gap: it counts with the
// value the analysis gives silence, 0 (no brightness, no pitch), so a render
// that goes quiet halfway cannot score "very close".
// Returns {times, measured, expected, r, mae, count, silent, silentShare}
// (r NaN for a flat target).
export function compareMeasured(frames, target, descriptor, { gain = null, edgeSeconds = 0.05, silenceDb = -60 } = {}) {
  const d = typeof descriptor === 'string' ? DESCRIPTORS[descriptor] : descriptor;
  const S = MEASURE.STRIDE;
  const seconds = target.length * HOP_SECONDS;
  const times = [];
  const measured = [];
  const expected = [];
  let silent = 0;
  const at = (curve, time) => {
    const h = time / HOP_SECONDS;
    const a = Math.min(curve.length - 1, Math.max(0, Math.floor(h)));
    const b = Math.min(curve.length - 1, a + 1);
    const f = Math.min(1, Math.max(0, h - a));
    return curve[a] + (curve[b] - curve[a]) * f;
  };
  for (let i = 0; i + S <= frames.length; i += S) {
    const time = frames[i + MEASURE.TIME];
    if (time < edgeSeconds || time > seconds - edgeSeconds) continue;
    if (gain && at(gain, time) < 0.02) continue;
    let value = frames[i + d.measure];
    const quiet = !(frames[i + MEASURE.LOUDNESS] >= silenceDb);
    if (d.name !== 'loudness' && quiet) {
      value = 0;
      silent += 1;
    } else {
      if (!Number.isFinite(value)) continue;
      if (d.name === 'f0' && !(frames[i + MEASURE.VOICED] > 0.5 && value > 0)) continue;
    }
    times.push(time);
    measured.push(value);
    // The volume curve scales the sound after the codes are chosen: a drawn
    // loudness is heard with the volume's level added.
    expected.push(at(target, time) + (d.name === 'loudness' && gain ? 20 * Math.log10(Math.max(at(gain, time), 1e-4)) : 0));
  }
  let mae = 0;
  for (let i = 0; i < measured.length; i++) mae += Math.abs(measured[i] - expected[i]);
  mae = measured.length ? mae / measured.length : NaN;
  const count = measured.length;
  return { times, measured, expected, r: pearson(expected, measured), mae, count, silent, silentShare: count ? silent / count : 0 };
}

// ---------- colour scale (viridis, perceptually even, readable in grey) ----------

const VIRIDIS = [
  [68, 1, 84],
  [65, 68, 135],
  [42, 120, 142],
  [34, 168, 132],
  [122, 209, 81],
  [253, 231, 37],
];

export function colourAt(t) {
  const x = clamp01(Number.isFinite(t) ? t : 0) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const [r, g, b] = VIRIDIS[i].map((c, j) => Math.round(c + (VIRIDIS[i + 1][j] - c) * f));
  return `rgb(${r}, ${g}, ${b})`;
}

export const COLOUR_GRADIENT = `linear-gradient(90deg, ${VIRIDIS.map((c) => `rgb(${c.join(', ')})`).join(', ')})`;
