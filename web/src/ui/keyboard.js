// An on-screen piano keyboard: played with a mouse, a finger or a pen (slide
// across keys for a glissando), with the computer's keys (the row A S D F ...
// for white keys and W E T Y U ... for black ones, labels on the keys; Z and X
// shift an octave), and from the focused key with Space or Enter (arrows move
// between keys). It only reports notes: onNoteOn(pitch, velocity) and
// onNoteOff(pitch); setActive() shows notes played elsewhere (Web MIDI).
//
//   const kb = new Keyboard(container, {low: 60, keys: 25});
//   kb.attachComputerKeys(() => panelIsVisible);

import { noteName } from '../audio/midi-file.js';

// KeyboardEvent.code -> semitones above the keyboard's base (a piano's layout on
// the letter rows, as music programs do).
export const COMPUTER_KEYS = Object.freeze({
  KeyA: 0, KeyW: 1, KeyS: 2, KeyE: 3, KeyD: 4, KeyF: 5, KeyT: 6, KeyG: 7, KeyY: 8, KeyH: 9,
  KeyU: 10, KeyJ: 11, KeyK: 12, KeyO: 13, KeyL: 14, KeyP: 15, Semicolon: 16, Quote: 17,
});
// Labels of a US layout; replaced by the visitor's layout where the browser tells it.
const US_LABELS = { Semicolon: ';', Quote: '’' };
export const OCTAVE_DOWN = 'KeyZ';
export const OCTAVE_UP = 'KeyX';

const BLACK = new Set([1, 3, 6, 8, 10]);
export const isBlack = (pitch) => BLACK.has(((pitch % 12) + 12) % 12);

// Whether a key press belongs to a form control rather than to the keyboard.
export function typingTarget(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select') return true;
  if (tag !== 'input') return false;
  return !['checkbox', 'radio', 'range', 'button', 'file', 'submit', 'reset'].includes((target.type || 'text').toLowerCase());
}

export class Keyboard {
  constructor(container, { low = 60, keys = 25, velocity = 80, range = null } = {}) {
    this.container = container;
    this.doc = container.ownerDocument;
    this.low = low; // lowest key shown, a C
    this.keys = keys;
    this.velocity = velocity;
    this.range = range; // [lo, hi] the instrument plays, or null
    this.base = low; // the computer keys' "A"
    this.held = new Map(); // source ('pointer:N' | 'key:Code' | 'focus') -> pitch
    this.active = new Map(); // pitch -> count of sources sounding it
    this.external = new Set(); // pitches shown as played elsewhere
    this.onNoteOn = null;
    this.onNoteOff = null;
    this.onBaseChange = null; // (base) => void
    this.focusPitch = low;
    this.layoutNames = null;
    this.handlers = [];
    this.build();
    const on = (el, type, handler, options) => {
      el.addEventListener(type, handler, options);
      this.handlers.push([el, type, handler, options]);
    };
    on(container, 'pointerdown', (e) => this.pointerDown(e));
    on(container, 'pointermove', (e) => this.pointerMove(e));
    for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) on(container, type, (e) => this.pointerUp(e));
    on(container, 'keydown', (e) => this.focusKeyDown(e));
    on(container, 'keyup', (e) => this.focusKeyUp(e));
    on(container, 'contextmenu', (e) => e.preventDefault());
    globalThis.navigator?.keyboard?.getLayoutMap?.().then((map) => {
      this.layoutNames = map;
      this.updateLabels();
    }).catch(() => {});
  }

  // ---------- building ----------

  build() {
    const doc = this.doc;
    this.container.replaceChildren();
    this.container.classList.add('keyboard');
    this.buttons = new Map();
    const pitches = Array.from({ length: this.keys }, (_, i) => this.low + i);
    const whites = pitches.filter((p) => !isBlack(p));
    const whiteWidth = 100 / whites.length;
    let whiteIndex = 0;
    for (const pitch of pitches) {
      const button = doc.createElement('button');
      button.type = 'button';
      button.className = isBlack(pitch) ? 'key key-black' : 'key key-white';
      button.dataset.pitch = String(pitch);
      button.tabIndex = pitch === this.focusPitch ? 0 : -1;
      if (isBlack(pitch)) {
        button.style.left = `${whiteIndex * whiteWidth - whiteWidth * 0.3}%`;
        button.style.width = `${whiteWidth * 0.6}%`;
      } else {
        button.style.left = `${whiteIndex * whiteWidth}%`;
        button.style.width = `${whiteWidth}%`;
        whiteIndex++;
      }
      const letter = doc.createElement('span');
      letter.className = 'key-letter';
      letter.setAttribute('aria-hidden', 'true');
      const name = doc.createElement('span');
      name.className = 'key-name';
      name.setAttribute('aria-hidden', 'true');
      name.textContent = pitch % 12 === 0 ? noteName(pitch) : '';
      button.append(letter, name);
      this.buttons.set(pitch, button);
    }
    // Black keys last, so they sit on top of the white ones.
    const ordered = [...this.buttons.values()].sort((a, b) => Number(a.classList.contains('key-black')) - Number(b.classList.contains('key-black')));
    this.container.append(...ordered);
    this.updateLabels();
    this.updateRange();
  }

  // The computer key that plays each on-screen key, shown on it and in its name.
  updateLabels() {
    const byOffset = new Map(Object.entries(COMPUTER_KEYS).map(([code, offset]) => [offset, code]));
    for (const [pitch, button] of this.buttons) {
      const code = byOffset.get(pitch - this.base);
      const label = code ? this.keyLabel(code) : '';
      button.querySelector('.key-letter').textContent = label;
      const outside = this.range && (pitch < this.range[0] || pitch > this.range[1]);
      button.setAttribute('aria-label', `${noteName(pitch)}${label ? `, computer key ${label}` : ''}${outside ? ', outside the instrument’s range' : ''}`);
    }
  }

  keyLabel(code) {
    const fromLayout = this.layoutNames?.get?.(code);
    if (fromLayout) return fromLayout.toUpperCase();
    return US_LABELS[code] ?? code.replace(/^Key/, '');
  }

  updateRange() {
    for (const [pitch, button] of this.buttons) {
      const outside = this.range && (pitch < this.range[0] || pitch > this.range[1]);
      if (outside) button.dataset.outside = 'true';
      else delete button.dataset.outside;
    }
  }

  // The keys to show (a C and a count) and the instrument's range.
  configure({ low = this.low, keys = this.keys, range = this.range } = {}) {
    this.allOff();
    this.low = low;
    this.keys = keys;
    this.range = range;
    this.base = low;
    this.focusPitch = low;
    this.build();
    this.onBaseChange?.(this.base);
  }

  setVelocity(velocity) {
    this.velocity = velocity;
  }

  // Moves the computer keys an octave (and the shown keys with them).
  shiftOctave(direction) {
    const next = this.low + 12 * Math.sign(direction);
    if (next < 0 || next + this.keys - 1 > 127) return false;
    this.configure({ low: next });
    return true;
  }

  // ---------- sounding notes ----------

  press(source, pitch) {
    const previous = this.held.get(source);
    if (previous === pitch) return;
    if (previous !== undefined) this.release(source);
    this.held.set(source, pitch);
    const count = this.active.get(pitch) ?? 0;
    this.active.set(pitch, count + 1);
    if (count === 0) {
      this.showPressed(pitch);
      this.onNoteOn?.(pitch, this.velocity);
    }
  }

  release(source) {
    const pitch = this.held.get(source);
    if (pitch === undefined) return;
    this.held.delete(source);
    const count = (this.active.get(pitch) ?? 1) - 1;
    if (count > 0) {
      this.active.set(pitch, count);
      return;
    }
    this.active.delete(pitch);
    this.showPressed(pitch);
    this.onNoteOff?.(pitch);
  }

  allOff() {
    for (const source of [...this.held.keys()]) this.release(source);
  }

  // A note played elsewhere (a MIDI keyboard) shown as pressed.
  setActive(pitch, on) {
    if (on) this.external.add(pitch);
    else this.external.delete(pitch);
    this.showPressed(pitch);
  }

  showPressed(pitch) {
    const button = this.buttons.get(pitch);
    if (!button) return;
    const pressed = this.active.has(pitch) || this.external.has(pitch);
    if (pressed) button.dataset.pressed = 'true';
    else delete button.dataset.pressed;
  }

  get heldPitches() {
    return [...this.active.keys()];
  }

  // ---------- pointer ----------

  keyAt(clientX, clientY) {
    const el = this.doc.elementFromPoint(clientX, clientY)?.closest?.('.key');
    return el && this.container.contains(el) ? Number(el.dataset.pitch) : null;
  }

  pointerDown(event) {
    if (event.pointerType === 'mouse' && event.button !== 0) return;
    const pitch = this.keyAt(event.clientX, event.clientY);
    if (pitch === null) return;
    event.preventDefault();
    try {
      this.container.setPointerCapture(event.pointerId);
    } catch {
      // synthetic events have no active pointer to capture
    }
    this.press(`pointer:${event.pointerId}`, pitch);
  }

  pointerMove(event) {
    const source = `pointer:${event.pointerId}`;
    if (!this.held.has(source)) return;
    const pitch = this.keyAt(event.clientX, event.clientY);
    if (pitch === null) this.release(source);
    else this.press(source, pitch);
  }

  pointerUp(event) {
    this.release(`pointer:${event.pointerId}`);
  }

  // ---------- the focused key ----------

  focusKeyDown(event) {
    const target = event.target.closest?.('.key');
    if (!target) return;
    const pitch = Number(target.dataset.pitch);
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowDown: -1, ArrowUp: 1, Home: -Infinity, End: Infinity };
    if (event.key in moves) {
      event.preventDefault();
      const step = moves[event.key];
      const next = Number.isFinite(step) ? pitch + step : step < 0 ? this.low : this.low + this.keys - 1;
      this.focusKey(Math.min(this.low + this.keys - 1, Math.max(this.low, next)));
      return;
    }
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      if (!event.repeat) this.press('focus', pitch);
    }
  }

  focusKeyUp(event) {
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      this.release('focus');
    }
  }

  focusKey(pitch) {
    const button = this.buttons.get(pitch);
    if (!button) return;
    for (const b of this.buttons.values()) b.tabIndex = -1;
    button.tabIndex = 0;
    this.focusPitch = pitch;
    button.focus();
  }

  // ---------- computer keys ----------

  // Listens on the document while enabled() (the panel is visible); keys typed
  // into text fields and selects are left alone.
  attachComputerKeys(enabled = () => true) {
    const down = (event) => {
      if (!enabled() || event.ctrlKey || event.metaKey || event.altKey || typingTarget(event.target)) return;
      if (event.code === OCTAVE_DOWN || event.code === OCTAVE_UP) {
        event.preventDefault();
        if (!event.repeat) this.shiftOctave(event.code === OCTAVE_UP ? 1 : -1);
        return;
      }
      const offset = COMPUTER_KEYS[event.code];
      if (offset === undefined) return;
      event.preventDefault();
      if (event.repeat) return;
      this.press(`key:${event.code}`, this.base + offset);
    };
    const up = (event) => {
      if (COMPUTER_KEYS[event.code] !== undefined) this.release(`key:${event.code}`);
    };
    const blur = () => this.allOff();
    const win = this.doc.defaultView;
    this.doc.addEventListener('keydown', down);
    this.doc.addEventListener('keyup', up);
    win.addEventListener('blur', blur);
    this.handlers.push([this.doc, 'keydown', down], [this.doc, 'keyup', up], [win, 'blur', blur]);
  }

  dispose() {
    this.allOff();
    for (const [el, type, handler, options] of this.handlers) el.removeEventListener(type, handler, options);
    this.handlers = [];
  }
}
