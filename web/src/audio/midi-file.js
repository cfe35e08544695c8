// Standard MIDI File writing and note helpers of the MIDI and Transcribe
// panels. The page never parses MIDI itself: the C++ core does (parseMidi, in
// the Worker), so one parser decides what a file means everywhere. Writing is
// here because the shipped example tune and the tests' known files are made in
// JavaScript. No DOM: runs in the page, in workers and under node.

const NAMES = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];
export const PITCH_CLASS_NAMES = Object.freeze([...NAMES]);
export const DYNAMICS = Object.freeze(['pp', 'mf', 'ff']);

// 60 -> "C4" (middle C), 69 -> "A4".
export function noteName(pitch) {
  const p = Math.round(pitch);
  return `${NAMES[((p % 12) + 12) % 12]}${Math.floor(p / 12) - 1}`;
}

export function hzFromMidi(pitch) {
  return 440 * 2 ** ((pitch - 69) / 12);
}

// The octave of the model's symbols: midi // 12 - 1 (A0 = 21 is octave 0 ... C8 = 108 is 8).
export function octaveOf(pitch) {
  return Math.floor(pitch / 12) - 1;
}

// Velocity -> the nearest of the model's dynamics velocities (pp, mf, ff): its index.
export function dynamicsOf(velocity, dynamicsVelocity = [40, 80, 120]) {
  let best = 0;
  for (let i = 1; i < dynamicsVelocity.length; i++) {
    if (Math.abs(velocity - dynamicsVelocity[i]) < Math.abs(velocity - dynamicsVelocity[best])) best = i;
  }
  return best;
}

function variableLength(value) {
  if (!Number.isInteger(value) || value < 0 || value > 0x0fffffff) throw new RangeError(`delta time ${value} cannot be written`);
  const bytes = [value & 0x7f];
  for (let v = value >> 7; v > 0; v >>= 7) bytes.unshift((v & 0x7f) | 0x80);
  return bytes;
}

const ascii = (text) => Array.from(text, (c) => c.charCodeAt(0) & 0x7f);

function chunk(id, body) {
  const n = body.length;
  return [...ascii(id), (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255, ...body];
}

// A format 1 file: tracks = [{name, channel, program, notes: [{pitch,
// velocity, start, end}] in seconds}] at one tempo. A first conductor track
// carries the tempo. Times are rounded to ticks. Throws RangeError naming the
// first value a MIDI file cannot hold.
export function writeMidi(tracks, { bpm = 120, division = 480 } = {}) {
  if (!(bpm > 0) || !Number.isFinite(bpm)) throw new RangeError(`tempo ${bpm} BPM cannot be written`);
  const micros = Math.round(60e6 / bpm);
  if (micros < 1 || micros > 0xffffff) throw new RangeError(`tempo ${bpm} BPM cannot be written`);
  const ticksPerSecond = (division * 1e6) / micros;
  const tick = (seconds) => Math.round(seconds * ticksPerSecond);
  const conductor = [0, 0xff, 0x51, 3, (micros >> 16) & 255, (micros >> 8) & 255, micros & 255, 0, 0xff, 0x2f, 0];
  const chunks = [chunk('MThd', [0, 1, 0, tracks.length + 1, (division >> 8) & 0x7f, division & 255]), chunk('MTrk', conductor)];
  for (const [t, track] of tracks.entries()) {
    const channel = track.channel ?? t;
    if (!Number.isInteger(channel) || channel < 0 || channel > 15) throw new RangeError(`track ${t}: channel ${channel} is not 0-15`);
    const events = []; // [tick, order (offs first), bytes]
    for (const [i, note] of (track.notes ?? []).entries()) {
      const { pitch, velocity = 80, start, end } = note;
      if (!Number.isInteger(pitch) || pitch < 0 || pitch > 127) throw new RangeError(`track ${t}, note ${i}: pitch ${pitch} is not 0-127`);
      if (!Number.isInteger(velocity) || velocity < 1 || velocity > 127) throw new RangeError(`track ${t}, note ${i}: velocity ${velocity} is not 1-127`);
      if (!(start >= 0) || !(end > start) || !Number.isFinite(end)) throw new RangeError(`track ${t}, note ${i}: times ${start}-${end} s are not a note`);
      events.push([tick(start), 1, [0x90 | channel, pitch, velocity]]);
      events.push([tick(end), 0, [0x80 | channel, pitch, 0]]);
    }
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const body = [];
    if (track.name) {
      const name = ascii(track.name);
      body.push(0, 0xff, 0x03, ...variableLength(name.length), ...name);
    }
    if (Number.isInteger(track.program)) body.push(0, 0xc0 | channel, track.program & 0x7f);
    let last = 0;
    for (const [at, , bytes] of events) {
      body.push(...variableLength(at - last), ...bytes);
      last = at;
    }
    body.push(0, 0xff, 0x2f, 0);
    chunks.push(chunk('MTrk', body));
  }
  return new Uint8Array(chunks.flat());
}

// Notes of a melody written as [pitch, beats] pairs (pitch null: a rest),
// legato except for a small gap, from `start` seconds at `bpm`.
export function melody(steps, { bpm = 120, velocity = 80, start = 0, gap = 0.04 } = {}) {
  const beat = 60 / bpm;
  const notes = [];
  let t = start;
  for (const [pitch, beats, accent] of steps) {
    const length = beats * beat;
    if (pitch !== null) notes.push({ pitch, velocity: accent ?? velocity, start: t, end: t + Math.max(0.05, length - gap) });
    t += length;
  }
  return notes;
}

// Lowest and highest pitch of notes (null for none).
export function pitchSpan(notes) {
  if (!notes?.length) return null;
  let lo = 127;
  let hi = 0;
  for (const n of notes) {
    lo = Math.min(lo, n.pitch);
    hi = Math.max(hi, n.pitch);
  }
  return [lo, hi];
}
