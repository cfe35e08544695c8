// A pattern of the Grains panel (docs/grains.md, "Engine, bindings and
// page"): 16 steps, 4-8 tracks, a tempo and a swing. Each track plays one
// class of the model (a drum, or a pitched model's instrument), or a morph
// between two classes (the conditioning (1 − morph)·onehot(class) +
// morph·onehot(morphTo)), on a pitched model at a pitch (a MIDI note 0-127;
// null: the class's typical one; drum models ignore it), with a variation (the
// temperature of the embedding's draw e = variation·N(0, I)), a gain, and
// either fresh draws (seed null: a new hit at every step), a kept draw (a seed
// 1 to 2^32 − 1: the same hit every time; the core reads 0 as "a fresh one") or a saved hit (an embedding array, which wins over
// the seed); per step a velocity 0-1 (0: silent).
//
// Patterns come from strangers (a shared link, a JSON file): everything is
// checked here with a message in words, and sizes are bounded before parsing.
// Two forms:
//   JSON   patternToJson / patternFromJson: readable, values as they are;
//   hash   encodePatternHash / decodePatternHash: a compact base64url text for
//          the address bar (#grains/<code>): tempo to 0.1 BPM, swing to 0.001,
//          morph, variation, gain and velocities to 0.01, saved hits as 16-bit
//          values scaled by their largest magnitude, a pitch as one byte
//          behind its own flag (so a pattern without pitches codes as before
//          pitches existed, and old links read the same).
// compilePattern() turns a pattern into the flat typed arrays the worklet
// reads (web/src/worklet/grains-processor.js), class names into the model's
// indices. No DOM: runs in the page, the worklet and node.

export const STEPS = 16;
export const MIN_TRACKS = 4;
export const MAX_TRACKS = 8;
export const TEMPO_MIN = 40;
export const TEMPO_MAX = 240;
export const SWING_MAX = 0.75;
export const VARIATION_MAX = 2;
export const MAX_EMBEDDING = 1024; // a saved hit's values (d_e is 128 for `small`, 256 for `thesis`)
export const EMBEDDING_LIMIT = 100; // |value| of a saved hit (draws at variation 2 stay far below)
export const MAX_JSON_BYTES = 256 * 1024;
export const MAX_HASH_CHARS = 24 * 1024;
export const FORMAT = 'timbrel-grains-pattern';
export const VERSION = 1;
export const PITCH_MIN = 0;
export const PITCH_MAX = 127;
const CLASS_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const MAX_SEED = 4294967295;

export class PatternError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PatternError';
  }
}

const fail = (message) => {
  throw new PatternError(message);
};

const shown = (value) => {
  if (typeof value === 'string') return `“${value.length > 40 ? `${value.slice(0, 40)}…` : value}”`;
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return String(value);
};

function number(value, what, lo, hi, unit = '') {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < lo || value > hi) {
    fail(`${what} must be a number from ${lo} to ${hi}${unit} (it is ${shown(value)})`);
  }
  return value;
}

function className(value, what) {
  if (typeof value !== 'string' || !CLASS_NAME.test(value)) {
    fail(`${what} must be a class name such as “kick” or “flute” (lower-case letters, digits, _ or -, at most 32; it is ${shown(value)})`);
  }
  return value;
}

// A checked copy of one track; `where` names it in messages ("track 2").
function validateTrack(raw, where) {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(`${where} must be an object (it is ${shown(raw)})`);
  const track = {
    class: className(raw.class, `${where}’s class`),
    morphTo: raw.morphTo === null || raw.morphTo === undefined ? null : className(raw.morphTo, `${where}’s morph target`),
    morph: raw.morph === undefined ? 0 : number(raw.morph, `${where}’s morph`, 0, 1),
    variation: raw.variation === undefined ? 1 : number(raw.variation, `${where}’s variation`, 0, VARIATION_MAX),
    gain: raw.gain === undefined ? 1 : number(raw.gain, `${where}’s gain`, 0, 1),
    pitch: null,
    seed: null,
    embedding: null,
    velocities: null,
  };
  if (track.morphTo === null) track.morph = 0;
  if (raw.pitch !== null && raw.pitch !== undefined) {
    if (!Number.isInteger(raw.pitch) || raw.pitch < PITCH_MIN || raw.pitch > PITCH_MAX) {
      fail(`${where}’s pitch must be a whole MIDI note number from ${PITCH_MIN} to ${PITCH_MAX} (60 is middle C) or null for the sound’s typical pitch (it is ${shown(raw.pitch)})`);
    }
    track.pitch = raw.pitch;
  }
  if (raw.seed !== null && raw.seed !== undefined) {
    if (!Number.isInteger(raw.seed) || raw.seed < 1 || raw.seed > MAX_SEED) fail(`${where}’s seed must be a whole number from 1 to ${MAX_SEED} or null (it is ${shown(raw.seed)})`);
    track.seed = raw.seed;
  }
  if (raw.embedding !== null && raw.embedding !== undefined) {
    const e = raw.embedding;
    if (!Array.isArray(e) && !ArrayBuffer.isView(e)) fail(`${where}’s saved hit must be a list of numbers or null (it is ${shown(e)})`);
    if (e.length < 1 || e.length > MAX_EMBEDDING) fail(`${where}’s saved hit has ${e.length} numbers; 1 to ${MAX_EMBEDDING} are allowed`);
    const values = new Array(e.length);
    for (let i = 0; i < e.length; i++) {
      const v = e[i];
      if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > EMBEDDING_LIMIT) {
        fail(`${where}’s saved hit: value ${i + 1} must be a number within ±${EMBEDDING_LIMIT} (it is ${shown(v)})`);
      }
      values[i] = v;
    }
    track.embedding = values;
  }
  const v = raw.velocities;
  if (!Array.isArray(v)) fail(`${where}’s velocities must be a list of ${STEPS} numbers from 0 to 1 (it is ${shown(v)})`);
  if (v.length !== STEPS) fail(`${where} has ${v.length} steps; a pattern has ${STEPS}`);
  track.velocities = v.map((x, i) => number(x, `${where}, step ${i + 1}: the velocity`, 0, 1));
  return track;
}

// A checked copy of a pattern (a parsed JSON object or one built by the page);
// throws PatternError naming the first problem.
export function validatePattern(raw) {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(`a pattern must be an object (it is ${shown(raw)})`);
  if (raw.format !== undefined && raw.format !== FORMAT) fail(`this is not a Timbrel drum pattern (its format is ${shown(raw.format)}, expected “${FORMAT}”)`);
  if (raw.version !== undefined && raw.version !== VERSION) fail(`pattern version ${shown(raw.version)} is not known here (this page reads version ${VERSION})`);
  if (raw.steps !== undefined && raw.steps !== STEPS) fail(`a pattern has ${STEPS} steps (this one says ${shown(raw.steps)})`);
  const tempo = number(raw.tempo, 'the tempo', TEMPO_MIN, TEMPO_MAX, ' BPM');
  const swing = raw.swing === undefined ? 0 : number(raw.swing, 'the swing', 0, SWING_MAX);
  const tracks = raw.tracks;
  if (!Array.isArray(tracks)) fail(`a pattern needs a list of tracks (it has ${shown(tracks)})`);
  if (tracks.length < MIN_TRACKS || tracks.length > MAX_TRACKS) fail(`a pattern has ${MIN_TRACKS} to ${MAX_TRACKS} tracks (this one has ${tracks.length})`);
  return { tempo, swing, tracks: tracks.map((t, i) => validateTrack(t, `track ${i + 1}`)) };
}

// ---------- JSON ----------

export function patternToJson(pattern) {
  const p = validatePattern(pattern);
  return `${JSON.stringify({ format: FORMAT, version: VERSION, steps: STEPS, ...p }, null, 1)}\n`;
}

// text: a JSON file's text (a string; a file's bytes are decoded by the caller).
export function patternFromJson(text) {
  if (typeof text !== 'string') fail('a pattern file must be text');
  if (text.length > MAX_JSON_BYTES) fail(`the pattern file is ${Math.ceil(text.length / 1024)} kB; patterns up to ${MAX_JSON_BYTES / 1024} kB can be read`);
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    fail('the pattern file is not JSON');
  }
  return validatePattern(data);
}

// ---------- the compact hash ----------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function toBase64Url(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += B64[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) fail('the link’s pattern holds characters a pattern code never has (was it cut or changed?)');
  if (text.length % 4 === 1) fail('the link’s pattern is cut short');
  const bytes = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let acc = 0;
  let j = 0;
  for (const c of text) {
    acc = ((acc << 6) | B64.indexOf(c)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[j++] = (acc >> bits) & 0xff;
    }
  }
  return bytes;
}

class Writer {
  constructor() {
    this.bytes = [];
  }

  u8(v) {
    this.bytes.push(v & 0xff);
  }

  u16(v) {
    this.u8(v >> 8);
    this.u8(v);
  }

  u32(v) {
    this.u16(Math.floor(v / 65536));
    this.u16(v % 65536);
  }

  f32(v) {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    for (let i = 3; i >= 0; i--) this.u8(b[i]); // big-endian whatever the machine
  }

  text(s) {
    this.u8(s.length);
    for (let i = 0; i < s.length; i++) this.u8(s.charCodeAt(i));
  }
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }

  need(n) {
    if (this.at + n > this.bytes.length) fail('the link’s pattern is cut short');
  }

  u8() {
    this.need(1);
    return this.bytes[this.at++];
  }

  u16() {
    return this.u8() * 256 + this.u8();
  }

  u32() {
    return this.u16() * 65536 + this.u16();
  }

  f32() {
    this.need(4);
    const b = new Uint8Array(4);
    for (let i = 3; i >= 0; i--) b[i] = this.bytes[this.at++];
    return new Float32Array(b.buffer)[0];
  }

  text() {
    const n = this.u8();
    this.need(n);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.bytes[this.at++]);
    return s;
  }
}

const percent = (v) => Math.round(v * 100);
const FLAG_MORPH = 1;
const FLAG_SEED = 2;
const FLAG_EMBEDDING = 4;
const FLAG_PITCH = 8; // one byte, the MIDI note, after the gain
const FLAGS = FLAG_MORPH | FLAG_SEED | FLAG_EMBEDDING | FLAG_PITCH;

// The pattern as a short text for the address bar (base64url, no padding).
export function encodePatternHash(pattern) {
  const p = validatePattern(pattern);
  const w = new Writer();
  w.u8(VERSION);
  w.u16(Math.round(p.tempo * 10));
  w.u16(Math.round(p.swing * 1000));
  w.u8(STEPS);
  w.u8(p.tracks.length);
  for (const t of p.tracks) {
    w.u8((t.morphTo !== null ? FLAG_MORPH : 0) | (t.seed !== null ? FLAG_SEED : 0) | (t.embedding !== null ? FLAG_EMBEDDING : 0) | (t.pitch !== null ? FLAG_PITCH : 0));
    w.text(t.class);
    if (t.morphTo !== null) {
      w.text(t.morphTo);
      w.u8(percent(t.morph));
    }
    w.u8(percent(t.variation));
    w.u8(percent(t.gain));
    if (t.pitch !== null) w.u8(t.pitch);
    if (t.seed !== null) w.u32(t.seed);
    if (t.embedding !== null) {
      // 16-bit values scaled by the largest magnitude: within 1/32767 of it.
      const scale = Math.max(...t.embedding.map(Math.abs)) || 1;
      w.u16(t.embedding.length);
      w.f32(scale);
      for (const v of t.embedding) w.u16(Math.round((v / scale) * 32767) & 0xffff);
    }
    for (const v of t.velocities) w.u8(percent(v));
  }
  return toBase64Url(w.bytes);
}

// A pattern from the address bar's code; throws PatternError in words.
export function decodePatternHash(code) {
  if (typeof code !== 'string' || code.length === 0) fail('the link holds no pattern');
  if (code.length > MAX_HASH_CHARS) fail(`the link’s pattern is ${code.length} characters long; up to ${MAX_HASH_CHARS} can be read`);
  const r = new Reader(fromBase64Url(code));
  const version = r.u8();
  if (version !== VERSION) fail(`the link’s pattern is of version ${version}; this page reads version ${VERSION}`);
  const raw = { tempo: r.u16() / 10, swing: r.u16() / 1000, steps: r.u8(), tracks: [] };
  if (raw.steps !== STEPS) fail(`a pattern has ${STEPS} steps (the link’s says ${raw.steps})`);
  const count = r.u8();
  if (count < MIN_TRACKS || count > MAX_TRACKS) fail(`a pattern has ${MIN_TRACKS} to ${MAX_TRACKS} tracks (the link’s has ${count})`);
  for (let k = 0; k < count; k++) {
    const flags = r.u8();
    if (flags & ~FLAGS) fail(`the link’s pattern is damaged (track ${k + 1})`);
    const t = { class: r.text(), morphTo: null, morph: 0 };
    if (flags & FLAG_MORPH) {
      t.morphTo = r.text();
      t.morph = r.u8() / 100;
    }
    t.variation = r.u8() / 100;
    t.gain = r.u8() / 100;
    t.pitch = flags & FLAG_PITCH ? r.u8() : null; // over 127: refused by validatePattern in words
    t.seed = flags & FLAG_SEED ? r.u32() : null;
    t.embedding = null;
    if (flags & FLAG_EMBEDDING) {
      const n = r.u16();
      if (n < 1 || n > MAX_EMBEDDING) fail(`track ${k + 1}’s saved hit has ${n} numbers; 1 to ${MAX_EMBEDDING} are allowed`);
      const scale = r.f32();
      if (!Number.isFinite(scale) || scale <= 0 || scale > EMBEDDING_LIMIT) fail(`the link’s pattern is damaged (track ${k + 1}’s saved hit)`);
      r.need(2 * n);
      t.embedding = Array.from({ length: n }, () => {
        const q = r.u16();
        return ((q >= 32768 ? q - 65536 : q) / 32767) * scale;
      });
    }
    t.velocities = Array.from({ length: STEPS }, () => r.u8() / 100);
    raw.tracks.push(t);
  }
  if (r.at !== r.bytes.length) fail('the link’s pattern has bytes left over (was it changed?)');
  return validatePattern(raw);
}

// ---------- the worklet's form ----------

// The pattern for the worklet, with the model's class names (its one-hot
// order) and embedding size: {tempo, swing, tracks, classA, classB (Int32,
// -1: no morph), mix, pitch (MIDI; -1: the classes' typical pitch),
// temperature, gain (Float32), seed (Float64, 0: fresh draws), velocities (Float32, tracks × STEPS), embeddings (Float32, tracks ×
// embeddingSize), hasEmbedding (Uint8)}, sized MAX_TRACKS. Throws PatternError
// for a class the model does not have or a saved hit of another size.
export function compilePattern(pattern, classNames, embeddingSize) {
  const p = validatePattern(pattern);
  const index = new Map(classNames.map((name, i) => [name, i]));
  const find = (name, where) => {
    const i = index.get(name);
    if (i === undefined) fail(`${where} plays “${name}”, a sound this model does not have (it has ${classNames.join(', ')})`);
    return i;
  };
  const out = {
    tempo: p.tempo,
    swing: p.swing,
    tracks: p.tracks.length,
    steps: STEPS,
    embeddingSize,
    classA: new Int32Array(MAX_TRACKS),
    classB: new Int32Array(MAX_TRACKS).fill(-1),
    mix: new Float32Array(MAX_TRACKS),
    pitch: new Float32Array(MAX_TRACKS).fill(-1),
    temperature: new Float32Array(MAX_TRACKS),
    gain: new Float32Array(MAX_TRACKS),
    seed: new Float64Array(MAX_TRACKS),
    velocities: new Float32Array(MAX_TRACKS * STEPS),
    embeddings: new Float32Array(MAX_TRACKS * embeddingSize),
    hasEmbedding: new Uint8Array(MAX_TRACKS),
  };
  p.tracks.forEach((t, k) => {
    const where = `track ${k + 1}`;
    out.classA[k] = find(t.class, where);
    if (t.morphTo !== null) {
      out.classB[k] = find(t.morphTo, `${where}’s morph`);
      out.mix[k] = t.morph;
    }
    if (t.pitch !== null) out.pitch[k] = t.pitch;
    out.temperature[k] = t.variation;
    out.gain[k] = t.gain;
    if (t.seed !== null) out.seed[k] = t.seed;
    if (t.embedding !== null) {
      if (t.embedding.length !== embeddingSize) fail(`${where}’s saved hit has ${t.embedding.length} numbers; this model’s hits have ${embeddingSize}`);
      out.embeddings.set(t.embedding, k * embeddingSize);
      out.hasEmbedding[k] = 1;
    }
    out.velocities.set(t.velocities, k * STEPS);
  });
  return out;
}

// ---------- building patterns ----------

export const emptyVelocities = () => new Array(STEPS).fill(0);

// A track of `name` with every step off.
export const newTrack = (name, pitch = null) => ({ class: name, morphTo: null, morph: 0, variation: 1, gain: 0.8, pitch, seed: null, embedding: null, velocities: emptyVelocities() });

// Steps (0-based) -> velocities.
const hits = (map) => {
  const v = emptyVelocities();
  for (const [step, velocity] of Object.entries(map)) v[Number(step)] = velocity;
  return v;
};

// The default pattern of a model. A drum model's: a plain rock beat on its
// classes (kick, snare, closed and open hat where it has them; its first
// classes otherwise), four tracks. A pitched model's ({pitched: true,
// classPitches: [[lowest, typical, highest] MIDI per class]}): a short phrase
// in C major, since a drum beat on instruments is no music (pitchedPattern).
export function defaultPattern(classNames, { pitched = false, classPitches = null } = {}) {
  if (!classNames.length) fail('the model names no classes');
  if (pitched) return pitchedPattern(classNames, classPitches);
  const pick = (name, fallback) => (classNames.includes(name) ? name : classNames[Math.min(fallback, classNames.length - 1)]);
  const tracks = [
    { ...newTrack(pick('kick', 0)), velocities: hits({ 0: 1, 6: 0.6, 8: 1, 10: 0.5 }) },
    { ...newTrack(pick('snare', 1)), velocities: hits({ 4: 1, 12: 1, 15: 0.3 }) },
    { ...newTrack(pick('closed_hat', 2)), gain: 0.6, velocities: hits({ 0: 0.9, 2: 0.5, 4: 0.9, 6: 0.5, 8: 0.9, 10: 0.5, 12: 0.9 }) },
    { ...newTrack(pick('open_hat', 3)), gain: 0.6, velocities: hits({ 14: 0.8 }) },
  ];
  return validatePattern({ tempo: 100, swing: 0, tracks });
}

// The instruments each part of the default phrase prefers, in order (a
// pitched model's class names, scripts' notes corpus).
const PARTS = {
  bass: ['cello', 'bassoon', 'trombone', 'french_horn', 'english_horn', 'clarinet', 'piano'],
  melody: ['flute', 'oboe', 'violin', 'clarinet', 'trumpet', 'alto_sax', 'english_horn'],
  chord: ['piano', 'french_horn', 'clarinet', 'english_horn', 'alto_sax', 'violin', 'trombone'],
};

// The phrase: [part, MIDI note, {step: velocity}] per track. A cello-like bass
// on C3 on the downbeats, a piano's E4 and G4 (with the bass a C major chord)
// on the beats, and a flute-like tune G5 G5 E5 E5 C5 E5 D5 C5 on the eighths.
// Seven tracks: one is left for the visitor's own.
const PHRASE = [
  ['bass', 48, { 0: 1, 8: 0.9 }],
  ['chord', 64, { 0: 0.6, 4: 0.45, 8: 0.6, 12: 0.45 }],
  ['chord', 67, { 0: 0.55, 4: 0.4, 8: 0.55, 12: 0.4 }],
  ['melody', 79, { 0: 0.9, 2: 0.6 }],
  ['melody', 76, { 4: 0.8, 6: 0.6, 10: 0.7 }],
  ['melody', 72, { 8: 0.9, 14: 0.7 }],
  ['melody', 74, { 12: 0.8 }],
];
const PART_GAIN = { bass: 0.85, chord: 0.55, melody: 0.7 };

// The default phrase on a pitched model's classes: each part on its first
// preferred instrument the model has (else, by typical pitch, its lowest,
// middle or highest class not yet playing), its notes moved by whole octaves
// into that instrument's trained range (one shift per part, so the tune keeps
// its shape; a note still outside is held at the range's edge).
function pitchedPattern(classNames, classPitches) {
  const range = (name) => {
    const row = classPitches?.[classNames.indexOf(name)];
    return Array.isArray(row) && row.length === 3 && row.every(Number.isFinite) ? row : null;
  };
  const typical = (name) => range(name)?.[1] ?? 60;
  const byPitch = [...classNames].sort((a, b) => typical(a) - typical(b));
  const fallback = { bass: 0, chord: Math.floor(byPitch.length / 2), melody: byPitch.length - 1 };
  const chosen = {};
  for (const part of ['bass', 'melody', 'chord']) {
    const used = Object.values(chosen);
    const free = (n) => !used.includes(n);
    chosen[part] = PARTS[part].find((n) => classNames.includes(n) && free(n))
      ?? [byPitch[fallback[part]], ...(part === 'melody' ? [...byPitch].reverse() : byPitch)].find(free)
      ?? byPitch[fallback[part]];
  }
  const shift = {};
  for (const part of Object.keys(PARTS)) {
    const r = range(chosen[part]);
    const notes = PHRASE.filter(([p]) => p === part).map(([, note]) => note);
    const fits = (s) => (r ? notes.filter((n) => n + s >= r[0] && n + s <= r[2]).length : notes.length);
    shift[part] = [0, -12, 12, -24, 24, -36, 36].reduce((best, s) => (fits(s) > fits(best) ? s : best), 0);
  }
  const tracks = PHRASE.map(([part, note, steps]) => {
    const name = chosen[part];
    const r = range(name);
    let pitch = note + shift[part];
    if (r) {
      const lo = Math.ceil(r[0]);
      const hi = Math.floor(r[2]);
      pitch = lo <= hi ? Math.min(hi, Math.max(lo, pitch)) : Math.round(r[1]);
    }
    return { ...newTrack(name, Math.min(PITCH_MAX, Math.max(PITCH_MIN, pitch))), gain: PART_GAIN[part], variation: 0.5, velocities: hits(steps) };
  });
  return validatePattern({ tempo: 96, swing: 0, tracks });
}

// The classes a pattern names that the model lacks ([] when it can play it).
export const missingClasses = (pattern, classNames) =>
  [...new Set(pattern.tracks.flatMap((t) => [t.class, t.morphTo]).filter((n) => n !== null && !classNames.includes(n)))];
