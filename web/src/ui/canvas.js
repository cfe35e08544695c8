// Helpers shared by the page's canvas widgets (piano roll, latent pad,
// codebook map, curve editor).

// Sizes the canvas's backing store to its CSS box at the device pixel ratio
// (sharp lines on high-DPI screens) and returns the CSS size, which the
// widgets draw in.
export function fitCanvasToBox(canvas) {
  const rect = canvas.getBoundingClientRect();
  const dpr = globalThis.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(rect.width * dpr));
  const h = Math.max(1, Math.round(rect.height * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  return { width: rect.width, height: rect.height };
}

// A reader of the element's CSS custom properties (the theme's colours), with
// a fallback for properties the style sheet leaves unset.
export function cssValues(element) {
  const style = getComputedStyle(element);
  return (name, fallback) => style.getPropertyValue(name).trim() || fallback;
}

// A one-line label in a bordered box beside `anchor`: to its right by `gap`
// (kept inside `width`), above it by `rise`, or below by `drop` where there is
// no room above.
export function drawTooltip(ctx, label, anchor, width, { gap, rise, drop, background, border, text }) {
  ctx.font = '600 12px system-ui, sans-serif';
  const w = ctx.measureText(label).width + 12;
  const x = Math.min(Math.max(4, anchor.x + gap), width - w - 4);
  const y = anchor.y - rise < 4 ? anchor.y + drop : anchor.y - rise;
  ctx.fillStyle = background;
  ctx.globalAlpha = 0.94;
  ctx.fillRect(x, y, w, 20);
  ctx.globalAlpha = 1;
  ctx.strokeStyle = border;
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, w - 1, 19);
  ctx.fillStyle = text;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  ctx.fillText(label, x + 6, y + 10);
}

// The base of the canvas widgets: sized to its CSS box (resize() on every
// change of it), redrawn at most once per animation frame (requestRender()),
// drawn in CSS pixels (context2d()), with its listeners released by dispose().
// Subclasses implement render() and call this.resize() once their state exists.
export class CanvasWidget {
  constructor(canvas) {
    this.canvas = canvas;
    this.cssWidth = 0;
    this.cssHeight = 0;
    this.frame = 0;
    this.handlers = {};
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(canvas);
  }

  // Listens on the canvas ({type: handler}); dispose() removes them.
  listen(handlers) {
    Object.assign(this.handlers, handlers);
    for (const [type, handler] of Object.entries(handlers)) this.canvas.addEventListener(type, handler);
  }

  resize() {
    const { width, height } = fitCanvasToBox(this.canvas);
    this.cssWidth = width;
    this.cssHeight = height;
    this.render();
  }

  requestRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  // The 2D context scaled to CSS pixels, or null while the canvas has no size.
  context2d() {
    const ctx = this.canvas.getContext('2d');
    if (!ctx || !this.cssWidth) return null;
    const dpr = this.canvas.width / this.cssWidth;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  render() {}

  dispose() {
    for (const [type, handler] of Object.entries(this.handlers)) this.canvas.removeEventListener(type, handler);
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
  }
}
