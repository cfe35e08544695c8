// Scrolling spectrogram on a <canvas>: one column per analysis frame, log-frequency
// axis, dB colour map, with the pitch (f0) and brightness (centroid) traces on top.
//
// pushFrame() is cheap (one image column into a circular buffer); render() draws
// whatever arrived since the last animation frame.

export const DEFAULTS = Object.freeze({
  columns: 600, // history length in frames (~7 s at 86 frames/s)
  rows: 256, // vertical resolution of the image
  minHz: 50,
  maxHz: 11025,
  nyquistHz: 11025, // the spectrum's last bin (the core's model rate / 2)
  floorDb: -100, // colour map range (dB = 10 log10 power, full-scale sine ~ -3 dB)
  ceilingDb: -10,
});

// Colour map: "inferno"-like, dark (quiet) to bright yellow (loud).
const STOPS = [
  [0.0, 0x00, 0x00, 0x04],
  [0.13, 0x1b, 0x0c, 0x41],
  [0.25, 0x4a, 0x0c, 0x6b],
  [0.38, 0x78, 0x1c, 0x6d],
  [0.5, 0xa5, 0x2c, 0x60],
  [0.63, 0xcf, 0x44, 0x46],
  [0.75, 0xed, 0x69, 0x25],
  [0.88, 0xfb, 0x9b, 0x06],
  [1.0, 0xfc, 0xff, 0xa4],
];

export function colourMapLut(size = 256) {
  const lut = new Uint32Array(size); // ABGR, for a Uint32 view of ImageData (little-endian)
  for (let i = 0; i < size; i++) {
    const t = i / (size - 1);
    let j = 1;
    while (j < STOPS.length - 1 && STOPS[j][0] < t) j++;
    const [t0, r0, g0, b0] = STOPS[j - 1];
    const [t1, r1, g1, b1] = STOPS[j];
    const u = (t - t0) / (t1 - t0);
    const r = Math.round(r0 + (r1 - r0) * u);
    const g = Math.round(g0 + (g1 - g0) * u);
    const b = Math.round(b0 + (b1 - b0) * u);
    lut[i] = (255 << 24) | (b << 16) | (g << 8) | r;
  }
  return lut;
}

export const COLOURS = Object.freeze({
  f0: '#4ee8ff',
  centroid: '#b9ff66',
  grid: 'rgba(255,255,255,0.16)',
  label: 'rgba(255,255,255,0.82)',
  background: '#07060f',
});

export class Spectrogram {
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.options = { ...DEFAULTS, ...options };
    const { columns, rows } = this.options;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.image = document.createElement('canvas');
    this.image.width = columns;
    this.image.height = rows;
    this.imageCtx = this.image.getContext('2d', { alpha: false });
    this.imageData = this.imageCtx.createImageData(columns, rows);
    this.pixels = new Uint32Array(this.imageData.data.buffer);
    this.lut = colourMapLut(256);
    this.pixels.fill(this.lut[0]);
    this.imageCtx.putImageData(this.imageData, 0, 0);
    this.f0 = new Float32Array(columns).fill(NaN);
    this.centroid = new Float32Array(columns).fill(NaN);
    this.head = 0; // next column to write
    this.dirtyFrom = -1;
    this.written = 0;
    this.rowMap = null;
    this.rowMapFor = -1;
    this.binHz = 0;
    this.needsDraw = true;
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(canvas);
    this.resize();
  }

  get secondsShown() {
    return this.options.columns / (this.frameRateHz ?? 86.13);
  }

  // frameRateHz: analysis frames per second; nyquistHz: frequency of the last bin.
  configure({ frameRateHz, nyquistHz }) {
    if (frameRateHz > 0) this.frameRateHz = frameRateHz;
    if (nyquistHz > 0 && nyquistHz !== this.options.nyquistHz) {
      this.options.nyquistHz = nyquistHz;
      this.options.maxHz = Math.min(this.options.maxHz, nyquistHz);
      this.rowMapFor = -1;
    }
  }

  resize() {
    const dpr = Math.min(globalThis.devicePixelRatio || 1, 3);
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.dpr = dpr;
    this.needsDraw = true;
    this.render();
  }

  // Fractional row (0 = top) of a frequency, log scale.
  rowOfHz(hz) {
    const { minHz, maxHz, rows } = this.options;
    const t = Math.log(hz / minHz) / Math.log(maxHz / minHz);
    return (1 - t) * rows;
  }

  // For each image row, the spectrum bins it covers (upper rows span many bins: max;
  // lower rows are narrower than a bin: linear interpolation).
  buildRowMap(bins) {
    const { minHz, maxHz, rows, nyquistHz } = this.options;
    this.binHz = nyquistHz / (bins - 1);
    const map = new Float32Array(rows * 3); // lo bin, hi bin, interpolation position
    const ratio = Math.log(maxHz / minHz);
    for (let r = 0; r < rows; r++) {
      const fTop = minHz * Math.exp(ratio * (1 - r / rows));
      const fBottom = minHz * Math.exp(ratio * (1 - (r + 1) / rows));
      const fMid = Math.sqrt(fTop * fBottom);
      const lo = Math.max(0, Math.ceil(fBottom / this.binHz));
      const hi = Math.min(bins - 1, Math.floor(fTop / this.binHz));
      map[r * 3] = lo;
      map[r * 3 + 1] = hi;
      map[r * 3 + 2] = Math.min(bins - 1, fMid / this.binHz);
    }
    this.rowMap = map;
    this.rowMapFor = bins;
  }

  clear() {
    this.pixels.fill(this.lut[0]);
    this.imageCtx.putImageData(this.imageData, 0, 0);
    this.f0.fill(NaN);
    this.centroid.fill(NaN);
    this.written = 0;
    this.dirtyFrom = -1;
    this.needsDraw = true;
    this.render();
  }

  // spectrumDb: bins of 10 log10(power); f0Hz: NaN when unvoiced.
  pushFrame(spectrumDb, f0Hz, centroidHz) {
    const bins = spectrumDb.length;
    if (bins < 2) return;
    if (this.rowMapFor !== bins) this.buildRowMap(bins);
    const { columns, rows, floorDb, ceilingDb } = this.options;
    const x = this.head;
    const scale = 255 / (ceilingDb - floorDb);
    const map = this.rowMap;
    const pixels = this.pixels;
    const lut = this.lut;
    for (let r = 0; r < rows; r++) {
      const lo = map[r * 3];
      const hi = map[r * 3 + 1];
      let db;
      if (hi >= lo) {
        db = -Infinity;
        for (let k = lo; k <= hi; k++) if (spectrumDb[k] > db) db = spectrumDb[k];
      } else {
        const p = map[r * 3 + 2];
        const k = Math.floor(p);
        const u = p - k;
        db = k + 1 < bins ? spectrumDb[k] * (1 - u) + spectrumDb[k + 1] * u : spectrumDb[k];
      }
      let v = Math.round((db - floorDb) * scale);
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      pixels[r * columns + x] = lut[v];
    }
    this.f0[x] = f0Hz > 0 ? f0Hz : NaN;
    this.centroid[x] = centroidHz > 0 ? centroidHz : NaN;
    if (this.dirtyFrom < 0) this.dirtyFrom = this.written;
    this.head = (x + 1) % columns;
    this.written++;
    this.needsDraw = true;
  }

  // Scrolls the image canvas left by the number of new columns and paints them at
  // its right edge. (Drawing the circular buffer in two slices would let image
  // smoothing bleed the newest column into the oldest edge.)
  flushImage() {
    if (this.dirtyFrom < 0) return;
    const { columns, rows } = this.options;
    const count = Math.min(this.written - this.dirtyFrom, columns);
    const start = (this.head - count + columns) % columns;
    const first = Math.min(count, columns - start);
    const dest = columns - count;
    if (count < columns) this.imageCtx.drawImage(this.image, -count, 0);
    this.imageCtx.putImageData(this.imageData, dest - start, 0, start, 0, first, rows);
    if (count > first) this.imageCtx.putImageData(this.imageData, dest + first, 0, 0, 0, count - first, rows);
    this.dirtyFrom = -1;
  }

  render() {
    if (!this.needsDraw) return;
    this.needsDraw = false;
    this.flushImage();
    const ctx = this.ctx;
    const W = this.canvas.width;
    const H = this.canvas.height;
    const dpr = this.dpr;
    const { columns, rows, minHz, maxHz } = this.options;
    const left = Math.round(46 * dpr);
    const right = Math.round(8 * dpr);
    const top = Math.round(8 * dpr);
    const bottom = Math.round(8 * dpr);
    const pw = Math.max(1, W - left - right);
    const ph = Math.max(1, H - top - bottom);

    ctx.fillStyle = COLOURS.background;
    ctx.fillRect(0, 0, W, H);

    // Image: oldest column at the left, newest at the right.
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'medium';
    const colW = pw / columns;
    ctx.drawImage(this.image, 0, 0, columns, rows, left, top, pw, ph);

    // Grid and labels.
    ctx.font = `${Math.round(11 * dpr)}px system-ui, sans-serif`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.lineWidth = Math.max(1, dpr);
    const yOf = (hz) => top + (this.rowOfHz(hz) / rows) * ph;
    for (const hz of [100, 200, 500, 1000, 2000, 5000, 10000]) {
      if (hz < minHz || hz > maxHz) continue;
      const y = Math.round(yOf(hz)) + 0.5;
      ctx.strokeStyle = COLOURS.grid;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + pw, y);
      ctx.stroke();
      ctx.fillStyle = COLOURS.label;
      ctx.fillText(hz >= 1000 ? `${hz / 1000}k` : String(hz), left - 6 * dpr, y);
    }
    ctx.save();
    ctx.translate(12 * dpr, top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText('Hz', 0, 0);
    ctx.restore();

    // Traces.
    this.drawTrace(this.centroid, COLOURS.centroid, [6 * dpr, 4 * dpr], left, colW, yOf, top, ph);
    this.drawTrace(this.f0, COLOURS.f0, null, left, colW, yOf, top, ph);
  }

  drawTrace(values, colour, dash, left, colW, yOf, top, ph) {
    const ctx = this.ctx;
    const { columns, minHz, maxHz } = this.options;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, colW * columns, ph);
    ctx.clip();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2.5 * this.dpr;
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    ctx.setLineDash(dash ?? []);
    ctx.shadowColor = 'rgba(0,0,0,0.7)';
    ctx.shadowBlur = 3 * this.dpr;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < columns; i++) {
      const v = values[(this.head + i) % columns];
      if (!(v >= minHz && v <= maxHz)) {
        pen = false;
        continue;
      }
      const x = left + (i + 0.5) * colW;
      const y = yOf(v);
      if (pen) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.stroke();
    ctx.restore();
  }

  dispose() {
    this.resizeObserver.disconnect();
  }
}
