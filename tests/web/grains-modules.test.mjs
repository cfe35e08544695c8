// The Grains panel's pure modules under node (web/src/grains/): the drum
// pattern (checks in words, JSON and the compact link code, the worklet's
// form; a pitched model's per-track pitch, its default phrase, and links made
// before pitches existed reading as they did), the step clock (sample-accurate
// steps with no drift over a day, swing, tempo changes), paths on the grain
// map (arc length, shapes, freehand drawings, the forward-backward player) and
// a grains model's header (a pitched one's pitch code and ranges, checked).
//
//   node --test tests/web/grains-modules.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../../web/src/audio/model-file.js';
import {
  MAX_TRACKS, PatternError, STEPS, compilePattern, decodePatternHash, defaultPattern, encodePatternHash, missingClasses,
  newTrack, patternFromJson, patternToJson, validatePattern,
} from '../../web/src/grains/pattern.js';
import { noteName } from '../../web/src/audio/midi-file.js';
import { StepClock } from '../../web/src/grains/step-clock.js';
import {
  MAX_PATH_POINTS, Path, PathError, PathPlayer, circlePath, freehandPath, linePath, spiralPath,
} from '../../web/src/grains/latent-path.js';
import {
  GrainsModelError, classLabel, defaultBeatboxKit, describeGrainsModel, pitchHint, pitchOptions, readGrainsIndex,
} from '../../web/src/grains/grains-model.js';

const CLASSES = ['kick', 'snare', 'rim', 'clap', 'closed_hat', 'open_hat', 'tom', 'ride', 'crash', 'cowbell', 'tambourine', 'shaker', 'clave'];

// ---------- the pattern ----------

// A pattern using every feature: morphs, kept seeds, a saved hit, 8 tracks.
function fullPattern() {
  const tracks = CLASSES.slice(0, MAX_TRACKS).map((name, k) => ({
    ...newTrack(name),
    variation: [0, 0.35, 1, 2][k % 4],
    gain: (k + 10) / 20,
    velocities: Array.from({ length: STEPS }, (_, i) => ((i + k) % 3 === 0 ? Math.round(100 * (0.2 + (0.8 * i) / 15)) / 100 : 0)),
  }));
  tracks[1] = { ...tracks[1], morphTo: 'clap', morph: 0.37 };
  tracks[2] = { ...tracks[2], seed: 4294967295 };
  tracks[3] = { ...tracks[3], seed: 1, embedding: Array.from({ length: 128 }, (_, i) => Math.sin(i * 1.7) * 2.5) };
  return validatePattern({ tempo: 133.3, swing: 0.333, tracks });
}

const rejects = (fn, pattern) => assert.throws(fn, (error) => error instanceof PatternError && pattern.test(error.message), `expected an error matching ${pattern}`);

test('the default pattern is a beat on the model\'s classes, and falls back to its first classes', () => {
  const p = defaultPattern(CLASSES);
  assert.deepEqual(p.tracks.map((t) => t.class), ['kick', 'snare', 'closed_hat', 'open_hat']);
  assert.equal(p.tempo, 100);
  assert.deepEqual(p.tracks[0].velocities.map((v, i) => (v > 0 ? i : -1)).filter((i) => i >= 0), [0, 6, 8, 10]);
  const other = defaultPattern(['a', 'b']);
  assert.deepEqual(other.tracks.map((t) => t.class), ['a', 'b', 'b', 'b']);
  assert.deepEqual(missingClasses(p, ['kick', 'snare']), ['closed_hat', 'open_hat']);
  assert.deepEqual(missingClasses(fullPattern(), CLASSES), []);
});

test('JSON keeps a pattern exactly, and is readable', () => {
  const p = fullPattern();
  const text = patternToJson(p);
  assert.match(text, /"format": "timbrel-grains-pattern"/);
  assert.deepEqual(patternFromJson(text), p);
});

test('the link code keeps a pattern to its stated precision, and is compact', () => {
  const p = fullPattern();
  const code = encodePatternHash(p);
  assert.match(code, /^[A-Za-z0-9_-]+$/);
  const back = decodePatternHash(code);
  const { embedding, ...rest } = back.tracks[3];
  assert.deepEqual({ ...back, tracks: back.tracks.map((t, k) => (k === 3 ? { ...t, embedding: null } : t)) },
    { ...p, tracks: p.tracks.map((t, k) => (k === 3 ? { ...t, embedding: null } : t)) });
  assert.equal(rest.seed, 1);
  const scale = Math.max(...p.tracks[3].embedding.map(Math.abs));
  const worst = Math.max(...embedding.map((v, i) => Math.abs(v - p.tracks[3].embedding[i])));
  assert.ok(worst <= scale / 32767 + 1e-6, `a saved hit within one 16-bit step (${worst})`);
  // Off-grid values come back rounded to the code's steps.
  const odd = validatePattern({ ...p, tempo: 99.97, swing: 0.1234, tracks: p.tracks.map((t) => ({ ...t, gain: 0.123, velocities: t.velocities.map((v) => (v ? 0.456 : 0)) })) });
  const oddBack = decodePatternHash(encodePatternHash(odd));
  assert.equal(oddBack.tempo, 100);
  assert.equal(oddBack.swing, 0.123);
  assert.equal(oddBack.tracks[0].gain, 0.12);
  assert.ok(oddBack.tracks[0].velocities.every((v) => v === 0 || v === 0.46));
  // The default beat fits in a short link.
  assert.ok(encodePatternHash(defaultPattern(CLASSES)).length < 200, encodePatternHash(defaultPattern(CLASSES)));
});

test('a pattern from a stranger is checked, each problem named in words', () => {
  const p = defaultPattern(CLASSES);
  const track = p.tracks[0];
  const with_ = (change) => ({ ...p, ...change });
  const withTrack = (change) => with_({ tracks: [{ ...track, ...change }, ...p.tracks.slice(1)] });
  rejects(() => validatePattern(with_({ tempo: 300 })), /tempo must be a number from 40 to 240 BPM \(it is 300\)/);
  rejects(() => validatePattern(with_({ tempo: '120' })), /tempo .*\(it is “120”\)/);
  rejects(() => validatePattern(with_({ swing: 0.8 })), /swing must be a number from 0 to 0\.75/);
  rejects(() => validatePattern(with_({ tracks: p.tracks.slice(0, 3) })), /4 to 8 tracks \(this one has 3\)/);
  rejects(() => validatePattern(with_({ tracks: [...p.tracks, ...p.tracks, track] })), /this one has 9/);
  rejects(() => validatePattern(with_({ tracks: 'kick' })), /list of tracks/);
  rejects(() => validatePattern(withTrack({ velocities: track.velocities.slice(0, 8) })), /track 1 has 8 steps; a pattern has 16/);
  rejects(() => validatePattern(withTrack({ velocities: track.velocities.map((v, i) => (i === 4 ? 1.5 : v)) })), /track 1, step 5: the velocity must be a number from 0 to 1/);
  rejects(() => validatePattern(withTrack({ velocities: track.velocities.map((v, i) => (i === 2 ? NaN : v)) })), /step 3/);
  rejects(() => validatePattern(withTrack({ class: 'Kick Drum' })), /track 1’s class must be a class name such as “kick” or “flute”/);
  rejects(() => validatePattern(withTrack({ class: 'x'.repeat(33) })), /at most 32/);
  rejects(() => validatePattern(withTrack({ morphTo: 7 })), /morph target/);
  rejects(() => validatePattern(withTrack({ morphTo: 'snare', morph: -0.1 })), /morph must be a number from 0 to 1/);
  rejects(() => validatePattern(withTrack({ variation: 3 })), /variation must be a number from 0 to 2/);
  rejects(() => validatePattern(withTrack({ seed: 0 })), /seed must be a whole number from 1/);
  rejects(() => validatePattern(withTrack({ seed: 2 ** 32 })), /seed/);
  rejects(() => validatePattern(withTrack({ embedding: new Array(1025).fill(0) })), /saved hit has 1025 numbers; 1 to 1024/);
  rejects(() => validatePattern(withTrack({ embedding: [0, 1e9] })), /saved hit: value 2 must be a number within ±100/);
  rejects(() => validatePattern(withTrack({ embedding: 'abc' })), /saved hit must be a list/);
  rejects(() => validatePattern(null), /must be an object/);
  rejects(() => validatePattern([]), /must be an object \(it is a list\)/);
  rejects(() => patternFromJson('{"format": "midi", "tempo": 120}'), /not a Timbrel drum pattern/);
  rejects(() => patternFromJson(JSON.stringify({ ...p, version: 2 })), /version 2 is not known/);
  rejects(() => patternFromJson(JSON.stringify({ ...p, steps: 32 })), /16 steps/);
  rejects(() => patternFromJson('{"tempo": 12'), /not JSON/);
  rejects(() => patternFromJson(' '.repeat(300 * 1024)), /patterns up to 256 kB/);
  // A morph with no target is a plain class.
  assert.equal(validatePattern(withTrack({ morphTo: null, morph: 0.5 })).tracks[0].morph, 0);
});

test('a damaged or hostile link code is refused in words, never with another error', () => {
  const code = encodePatternHash(fullPattern());
  rejects(() => decodePatternHash(''), /no pattern/);
  rejects(() => decodePatternHash('abc$def'), /characters a pattern code never has/);
  rejects(() => decodePatternHash(code.slice(0, 40)), /cut short/);
  rejects(() => decodePatternHash(`${code}AAAA`), /bytes left over/);
  rejects(() => decodePatternHash('A'.repeat(30000)), /up to 24576 can be read/);
  rejects(() => decodePatternHash(`C${code.slice(1)}`), /version/);
  // Random codes: only PatternErrors (the checks run before any use of a value).
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 4294967296;
  };
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < 2000; i++) {
    let text = code.slice(0, Math.floor(rand() * code.length));
    const n = 1 + Math.floor(rand() * 6);
    for (let k = 0; k < n; k++) {
      const at = Math.floor(rand() * (text.length + 1));
      text = text.slice(0, at) + alphabet[Math.floor(rand() * 64)] + text.slice(at + 1);
    }
    try {
      const p = decodePatternHash(text);
      assert.deepEqual(validatePattern(p), p);
    } catch (error) {
      assert.ok(error instanceof PatternError, `${text}: ${error}`);
    }
  }
});

test('the worklet\'s form: class indices, morphs, seeds, velocities and saved hits in flat arrays', () => {
  const p = fullPattern();
  const c = compilePattern(p, CLASSES, 128);
  assert.equal(c.tracks, 8);
  assert.equal(c.tempo, 133.3);
  assert.deepEqual([...c.classA], [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual([...c.classB], [-1, 3, -1, -1, -1, -1, -1, -1]);
  assert.ok(Math.abs(c.mix[1] - 0.37) < 1e-7);
  assert.deepEqual([...c.seed.slice(0, 4)], [0, 0, 4294967295, 1]);
  assert.deepEqual([...c.hasEmbedding], [0, 0, 0, 1, 0, 0, 0, 0]);
  assert.ok(Math.abs(c.embeddings[3 * 128 + 5] - p.tracks[3].embedding[5]) < 1e-6);
  assert.ok(Math.abs(c.velocities[2 * STEPS + 1] - p.tracks[2].velocities[1]) < 1e-7);
  assert.equal(c.temperature[3], 2);
  const four = compilePattern(defaultPattern(CLASSES), CLASSES, 64);
  assert.equal(four.tracks, 4);
  assert.equal(four.classA.length, MAX_TRACKS, 'sized for the most tracks, so the worklet keeps its arrays');
  rejects(() => compilePattern(p, CLASSES, 64), /track 4’s saved hit has 128 numbers; this model’s hits have 64/);
  rejects(() => compilePattern(p, ['kick', 'snare'], 128), /track 2’s morph plays “clap”, a sound this model does not have \(it has kick, snare\)|track 3 plays “rim”/);
});

// ---------- a pitched model's patterns ----------

// A pitched model's classes and ranges (a stand-in for models/grains/instruments.tmbl).
const INSTRUMENTS = ['piano', 'violin', 'cello', 'trumpet', 'trombone', 'french_horn', 'alto_sax', 'oboe', 'english_horn', 'bassoon', 'clarinet', 'flute'];
const RANGES = {
  piano: [21, 60, 108], violin: [55, 76, 100], cello: [36, 52, 76], trumpet: [54, 70, 86], trombone: [40, 58, 72], french_horn: [34, 55, 77],
  alto_sax: [49, 65, 81], oboe: [58, 74, 91], english_horn: [52, 67, 81], bassoon: [34, 50, 72], clarinet: [50, 67, 91], flute: [60, 79, 96],
};
const PITCHES = INSTRUMENTS.map((n) => RANGES[n]);
// The golden pitched test model's (tests/golden/grains/model_pitched.tmbl).
const GOLDEN_CLASSES = ['kick', 'snare', 'hat'];
const GOLDEN_PITCHES = [[40, 46, 52], [55, 63, 69], [70, 76, 88]];

const notesOf = (p) => p.tracks.map((t) => `${t.class} ${t.pitch === null ? '-' : noteName(t.pitch)}`);
const stepsOf = (t) => t.velocities.map((v, i) => (v > 0 ? i : -1)).filter((i) => i >= 0);

test('a track\'s pitch: a whole MIDI note 0-127 or null (the typical one), checked in words', () => {
  const p = defaultPattern(CLASSES);
  const withPitch = (pitch) => ({ ...p, tracks: [{ ...p.tracks[0], pitch }, ...p.tracks.slice(1)] });
  assert.equal(p.tracks[0].pitch, null, 'a drum beat has none');
  assert.equal(validatePattern(withPitch(60)).tracks[0].pitch, 60);
  assert.equal(validatePattern(withPitch(0)).tracks[0].pitch, 0);
  assert.equal(validatePattern(withPitch(127)).tracks[0].pitch, 127);
  assert.equal(validatePattern(withPitch(null)).tracks[0].pitch, null);
  const { pitch, ...old } = p.tracks[0]; // a file made before pitches existed
  assert.equal(pitch, null);
  assert.equal(validatePattern({ ...p, tracks: [old, ...p.tracks.slice(1)] }).tracks[0].pitch, null);
  rejects(() => validatePattern(withPitch(128)), /track 1’s pitch must be a whole MIDI note number from 0 to 127 \(60 is middle C\) or null for the sound’s typical pitch \(it is 128\)/);
  rejects(() => validatePattern(withPitch(-1)), /track 1’s pitch .*\(it is -1\)/);
  rejects(() => validatePattern(withPitch(60.5)), /pitch must be a whole MIDI note number/);
  rejects(() => validatePattern(withPitch('C4')), /pitch .*\(it is “C4”\)/);
  rejects(() => validatePattern(withPitch(NaN)), /pitch .*\(it is NaN\)/);
  rejects(() => validatePattern(withPitch([60])), /pitch .*\(it is a list\)/);
  // JSON keeps it (and a file without it reads as the typical pitch).
  const q = validatePattern(withPitch(67));
  assert.deepEqual(patternFromJson(patternToJson(q)), q);
  assert.match(patternToJson(q), /"pitch": 67/);
  rejects(() => patternFromJson(patternToJson(q).replace('"pitch": 67', '"pitch": 300')), /pitch .*\(it is 300\)/);
});

test('links: a pitch rides behind its own flag; links made before pitches existed read exactly as before', () => {
  // Codes made by the page before pitches existed (HEAD 71e78a1's pattern.js):
  // the default beat, and one with a morph, a kept seed and a saved hit.
  const OLD_DEFAULT = 'AQPoAAAQBAAEa2lja2RQZAAAAAAAPABkADIAAAAAAAAFc25hcmVkUAAAAABkAAAAAAAAAGQAAB4ACmNsb3NlZF9oYXRkPFoAMgBaADIAWgAyAFoAAAAACG9wZW5faGF0ZDwAAAAAAAAAAAAAAAAAAFAA';
  const OLD_FULL = 'AQU1APoQBAAEa2lja2RQZAAAAAAAPABkADIAAAAAAAMFc25hcmUEY2xhcBlkUAdbzRUAAAAAZAAAAAAAAABkAAAeAApjbG9zZWRfaGF0ZDxaADIAWgAyAFoAMgBaAAAABAhvcGVuX2hhdGQ8AANAAAAAIADAAX__AAAAAAAAAAAAAAAAAABQAA';
  assert.deepEqual(decodePatternHash(OLD_DEFAULT), defaultPattern(CLASSES));
  assert.equal(encodePatternHash(defaultPattern(CLASSES)), OLD_DEFAULT, 'a pattern without pitches codes as it always did');
  const full = decodePatternHash(OLD_FULL);
  assert.equal(full.tempo, 133.3);
  assert.equal(full.swing, 0.25);
  assert.deepEqual([full.tracks[1].morphTo, full.tracks[1].morph, full.tracks[1].seed], ['clap', 0.25, 123456789]);
  assert.equal(full.tracks[3].embedding.length, 3);
  assert.ok(full.tracks.every((t) => t.pitch === null));
  assert.equal(encodePatternHash(full), OLD_FULL);

  // With pitches: each pitched track one byte longer (its flag bit 8 and the note).
  const phrase = defaultPattern(INSTRUMENTS, { pitched: true, classPitches: PITCHES });
  const code = encodePatternHash(phrase);
  assert.deepEqual(decodePatternHash(code), phrase);
  const typical = validatePattern({ ...phrase, tracks: phrase.tracks.map((t) => ({ ...t, pitch: null })) });
  const plain = encodePatternHash(typical);
  assert.equal(Math.ceil(((code.length - plain.length) * 6) / 8) >= phrase.tracks.length - 1, true, `${code.length} vs ${plain.length} characters`);
  assert.deepEqual(decodePatternHash(plain), typical);
  const mixed = validatePattern({ ...typical, tracks: typical.tracks.map((t, k) => (k === 2 ? { ...t, pitch: 0 } : k === 5 ? { ...t, pitch: 127, morphTo: 'oboe', morph: 0.3, seed: 99 } : t)) });
  assert.deepEqual(decodePatternHash(encodePatternHash(mixed)), mixed);
  assert.ok(code.length < 300, `the default phrase fits in a short link (${code.length} characters)`);

  // A note byte above 127 in a link is refused in words.
  const bytes = (text) => Uint8Array.from(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
  const toCode = (b) => Buffer.from(b).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const one = validatePattern({ ...typical, tracks: typical.tracks.slice(0, 4).map((t, k) => ({ ...t, pitch: k === 0 ? 77 : null })) });
  const raw = bytes(encodePatternHash(one));
  // Version, tempo, swing, steps, tracks (7 bytes); track 1: flags, its class (a length and
  // the letters), variation, gain, then the note.
  assert.equal(raw[7] & 8, 8, 'the pitch flag');
  const at = 7 + 1 + 1 + raw[8] + 2;
  assert.equal(raw[at], 77);
  raw[at] = 200;
  rejects(() => decodePatternHash(toCode(raw)), /track 1’s pitch must be a whole MIDI note number from 0 to 127 .*\(it is 200\)/);
  raw[7] |= 16; // a flag this page does not know
  rejects(() => decodePatternHash(toCode(raw)), /damaged \(track 1\)/);
});

test('the worklet\'s form carries each track\'s pitch, -1 for the typical one', () => {
  const phrase = defaultPattern(INSTRUMENTS, { pitched: true, classPitches: PITCHES });
  const mixed = validatePattern({ ...phrase, tracks: phrase.tracks.map((t, k) => (k === 1 ? { ...t, pitch: null } : t)) });
  const c = compilePattern(mixed, INSTRUMENTS, 16);
  assert.ok(c.pitch instanceof Float32Array);
  assert.equal(c.pitch.length, MAX_TRACKS);
  assert.deepEqual([...c.pitch], [...mixed.tracks.map((t) => t.pitch ?? -1), ...new Array(MAX_TRACKS - mixed.tracks.length).fill(-1)]);
  assert.equal(c.pitch[1], -1);
  assert.deepEqual([...compilePattern(defaultPattern(CLASSES), CLASSES, 8).pitch], new Array(MAX_TRACKS).fill(-1), 'a drum beat: every track typical');
});

test('a pitched model\'s default pattern is a short phrase inside each instrument\'s trained range', () => {
  const phrase = defaultPattern(INSTRUMENTS, { pitched: true, classPitches: PITCHES });
  assert.deepEqual(notesOf(phrase), ['cello C3', 'piano E4', 'piano G4', 'flute G5', 'flute E5', 'flute C5', 'flute D5']);
  assert.deepEqual(stepsOf(phrase.tracks[0]), [0, 8], 'the bass on the downbeats');
  assert.deepEqual(stepsOf(phrase.tracks[1]), [0, 4, 8, 12], 'the chord on the beats');
  // The tune: one note on every eighth.
  const tune = Array.from({ length: STEPS }, (_, s) => phrase.tracks.slice(3).filter((t) => t.velocities[s] > 0).map((t) => noteName(t.pitch)).join('+'));
  assert.deepEqual(tune.filter((_, s) => s % 2 === 0), ['G5', 'G5', 'E5', 'E5', 'C5', 'E5', 'D5', 'C5']);
  assert.ok(tune.every((n, s) => s % 2 === 0 || n === ''));
  assert.ok(phrase.tracks.length < MAX_TRACKS, 'a track left for the visitor');
  for (const t of phrase.tracks) {
    const [lo, , hi] = RANGES[t.class];
    assert.ok(t.pitch >= lo && t.pitch <= hi, `${t.class} ${t.pitch} inside ${lo}-${hi}`);
  }
  // Without its preferred instruments: the lowest, middle and highest by typical pitch.
  const golden = defaultPattern(GOLDEN_CLASSES, { pitched: true, classPitches: GOLDEN_PITCHES });
  assert.deepEqual(notesOf(golden), ['kick C3', 'snare E4', 'snare G4', 'hat G5', 'hat E5', 'hat C5', 'hat D5']);
  // Ranges that do not hold the phrase: moved by octaves (one shift per part), held at the edges.
  const odd = defaultPattern(['low', 'high'], { pitched: true, classPitches: [[24, 30, 40], [84, 90, 100]] });
  for (const t of odd.tracks) {
    const [lo, , hi] = t.class === 'low' ? [24, 30, 40] : [84, 90, 100];
    assert.ok(t.pitch >= lo && t.pitch <= hi, `${t.class} ${t.pitch}`);
  }
  assert.deepEqual(notesOf(odd).slice(3), ['high G6', 'high E6', 'high C6', 'high D6'], 'the tune an octave up, its shape kept');
  // One instrument plays every part; without ranges the notes are as written.
  assert.deepEqual(notesOf(defaultPattern(['flute'], { pitched: true, classPitches: [[60, 79, 96]] })).slice(0, 3), ['flute C4', 'flute E4', 'flute G4']);
  assert.deepEqual(notesOf(defaultPattern(['a', 'b', 'c'], { pitched: true })).slice(0, 4), ['a C3', 'b E4', 'b G4', 'c G5']);
  // A drum model keeps its rock beat.
  assert.deepEqual(defaultPattern(CLASSES, { pitched: false }), defaultPattern(CLASSES));
});

test('a pitched model\'s beat-box kit: its lowest, middle and highest instruments by typical pitch', () => {
  const kit = defaultBeatboxKit(INSTRUMENTS, PITCHES);
  const name = (k) => INSTRUMENTS[kit[k]];
  assert.equal(name('boom'), 'bassoon');
  assert.equal(name('tss'), 'flute');
  assert.ok(!['bassoon', 'flute'].includes(name('ka')), name('ka'));
  assert.deepEqual(defaultBeatboxKit(GOLDEN_CLASSES, GOLDEN_PITCHES), { boom: 0, tss: 2, ka: 1 });
  assert.deepEqual(defaultBeatboxKit(CLASSES), { boom: 0, tss: 4, ka: 1 }, 'a drum model\'s: by name');
});

test('the pitch select: typical first, an octave beyond the trained range, notes outside it marked', () => {
  const options = pitchOptions([55, 63, 69]);
  assert.deepEqual(options[0], { value: '', text: 'typical (D♯4)' });
  assert.deepEqual(options[1], { value: '43', text: 'G2 (43), outside its range' });
  assert.deepEqual(options.find((o) => o.value === '60'), { value: '60', text: 'C4 (60)' });
  assert.equal(options.at(-1).value, '81');
  assert.equal(options.length, 1 + (81 - 43 + 1));
  assert.equal(pitchOptions([0, 5, 120])[1].value, '0', 'never below MIDI 0');
  assert.equal(pitchOptions([0, 5, 120]).at(-1).value, '127', 'nor above 127');
  const far = pitchOptions([55, 63, 69], 100); // from a link: kept, in order
  assert.deepEqual(far.at(-1), { value: '100', text: 'E7 (100), outside its range' });
  assert.match(pitchHint('french_horn', [34, 55, 77], null), /^At the french horn’s typical pitch, G3 \(it was trained from A♯1 to F5\)\.$/);
  assert.match(pitchHint('flute', [60, 79, 96], 72), /^C5, inside the range the flute was trained on \(C4 to C7\)\.$/);
  assert.match(pitchHint('flute', [60, 79, 96], 100), /^E7 is above the range the flute was trained on \(C4 to C7\): the network guesses there/);
  assert.match(pitchHint('cello', [36, 52, 76], 30), /F♯1 is below the range/);
});

// ---------- the step clock ----------

// Runs the clock for `total` frames in blocks of `block`: [absolute frame, step] of every step.
function run(clock, total, block = 128) {
  const offsets = new Int32Array(8);
  const steps = new Int32Array(8);
  const out = [];
  for (let done = 0; done < total; done += block) {
    const n = Math.min(block, total - done);
    const count = clock.advance(n, offsets, steps);
    for (let i = 0; i < count; i++) {
      assert.ok(offsets[i] >= 0 && offsets[i] < n, `offset ${offsets[i]} inside a block of ${n}`);
      out.push([done + offsets[i], steps[i]]);
    }
  }
  return out;
}

// The exact frame of step n (nearest, halves up), by BigInt rationals: step
// length 150·rate/tenths, odd steps delayed by swing (thousandths) of a step.
function exactFrame(n, rate, tenths, mille) {
  const N = BigInt(n);
  const pairs = N / 2n;
  const num = pairs * 300000n * BigInt(rate) + (N % 2n) * 150n * BigInt(rate) * BigInt(1000 + mille);
  const den = 1000n * BigInt(tenths);
  return Number((2n * num + den) / (2n * den));
}

test('steps land on the sample: 120 BPM at 48 kHz is one step every 6000 frames', () => {
  const clock = new StepClock(48000, { tempo: 120 });
  clock.start();
  const steps = run(clock, 48000 * 4);
  assert.equal(steps.length, 32);
  steps.forEach(([frame, step], n) => {
    assert.equal(frame, 6000 * n);
    assert.equal(step, n % 16);
  });
  assert.equal(clock.stepFrames, 6000);
});

test('no drift: a step length of 4962.49 frames stays exact over ten minutes of quanta and over a day', () => {
  const rate = 44100;
  const clock = new StepClock(rate, { tempo: 133.3, swing: 0.123 });
  clock.start();
  const steps = run(clock, rate * 600);
  let expected = 0;
  while (exactFrame(expected, rate, 1333, 123) < rate * 600) expected++;
  assert.equal(steps.length, expected);
  steps.forEach(([frame, step], n) => {
    assert.equal(frame, exactFrame(n, rate, 1333, 123), `step ${n}`);
    assert.equal(step, n % 16);
  });
  // A day, in blocks of about a minute (the clock's arithmetic does not care about block size).
  const day = new StepClock(48000, { tempo: 97.3, swing: 0.5 });
  day.start();
  const offsets = new Int32Array(4096);
  const indices = new Int32Array(4096);
  let n = 0;
  let base = 0;
  const block = 48000 * 61 + 17;
  for (let t = 0; t < 24 * 3600 * 48000; t += block) {
    const count = day.advance(block, offsets, indices);
    for (let i = 0; i < count; i++, n++) {
      if (n % 997 === 0 || i === count - 1) assert.equal(base + offsets[i], exactFrame(n, 48000, 973, 500), `step ${n} after ${(base / 48000 / 3600).toFixed(1)} h`);
    }
    base += block;
  }
  assert.ok(n > 560000, `${n} steps in a day`);
});

test('swing delays the odd steps by its share of a step; the even ones stay on the grid', () => {
  const clock = new StepClock(48000, { tempo: 120, swing: 0.25 });
  clock.start();
  const steps = run(clock, 48000 * 2);
  assert.deepEqual(steps.slice(0, 4).map(([f]) => f), [0, 7500, 12000, 19500]);
  const triplet = new StepClock(48000, { tempo: 120, swing: 1 / 3 });
  assert.equal(triplet.swing, 0.333, 'kept to 0.001');
  const hard = new StepClock(48000, { tempo: 240, swing: 5 }); // clamped to 0.75
  hard.start();
  assert.deepEqual(run(hard, 9000).map(([f]) => f), [0, 5250, 6000]);
});

test('start at any step, stop, and a block holding two steps', () => {
  const clock = new StepClock(48000, { tempo: 120 });
  clock.start(5);
  const steps = run(clock, 13000);
  assert.deepEqual(steps, [[0, 5], [6000, 6], [12000, 7]]);
  clock.stop();
  assert.deepEqual(run(clock, 20000), []);
  // 8 kHz, 240 BPM, swing 0.75: an odd step and the next even one 125 frames apart, inside one block.
  const fast = new StepClock(8000, { tempo: 240, swing: 0.75 });
  fast.start();
  const offsets = new Int32Array(4);
  const idx = new Int32Array(4);
  let total = 0;
  let pairSeen = false;
  for (let b = 0; b < 100; b++) {
    const count = fast.advance(1000, offsets, idx);
    if (count === 2) pairSeen = true;
    total += count;
  }
  assert.ok(pairSeen);
  assert.equal(total, 200, '100 000 frames at 500 frames a step');
  // Room for one step only: the second waits for the next call and is not lost.
  const tight = new StepClock(8000, { tempo: 240, swing: 0.75 });
  tight.start(1);
  const one = new Int32Array(1);
  const oneIdx = new Int32Array(1);
  assert.equal(tight.advance(1000, one, oneIdx), 1);
  assert.equal(oneIdx[0], 1);
  assert.equal(tight.advance(128, one, oneIdx), 1);
  assert.deepEqual([one[0], oneIdx[0]], [0, 2]);
});

test('a tempo change keeps the clock\'s place: halfway to the next step stays halfway', () => {
  const clock = new StepClock(48000, { tempo: 120 });
  clock.start();
  run(clock, 3000); // step 0 at 0; step 1 due at 6000
  clock.setTempo(60); // steps of 12000: the remaining half takes 6000
  const steps = run(clock, 40000).map(([f, s]) => [f + 3000, s]);
  assert.deepEqual(steps.slice(0, 3), [[9000, 1], [21000, 2], [33000, 3]]);
  assert.equal(clock.tempo, 60);
  // Swing made smaller after the odd step's old time passed unplayed: it plays at once, once.
  const swung = new StepClock(48000, { tempo: 120, swing: 0.5 });
  swung.start();
  run(swung, 8000); // step 0 at 0, step 1 due at 9000
  swung.setSwing(0);
  const after = run(swung, 10000).map(([f, s]) => [f + 8000, s]);
  assert.deepEqual(after.map(([, s]) => s), [1, 2]);
  assert.ok(after[0][0] >= 8000 && after[0][0] <= 9000);
  // Clamped: 10 BPM is 40.
  const slow = new StepClock(48000, { tempo: 10 });
  assert.equal(slow.tempo, 40);
  assert.throws(() => new StepClock(44100.5), /whole sample rate/);
});

// ---------- paths ----------

const near = (a, b, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} ≈ ${b}`);

test('a polyline is parametrised by arc length: even speed over uneven segments', () => {
  const path = new Path([0, 0, 1, 0, 1, 3]); // lengths 1 and 3
  assert.equal(path.length, 4);
  const p = path.pointAtPhase(0.5);
  near(p.x, 1);
  near(p.y, 1);
  const q = path.pointAt(0.5);
  near(q.x, 0.5);
  assert.deepEqual(path.pointAt(-3), { x: 0, y: 0 });
  assert.deepEqual(path.pointAt(99), { x: 1, y: 3 });
  const line = linePath({ x: -1, y: 2 }, { x: 3, y: -1 });
  near(line.length, 5);
  near(line.pointAtPhase(0.2).x, -0.2);
  const dot = new Path([2, 2]);
  assert.deepEqual(dot.pointAt(1), { x: 2, y: 2 });
  assert.throws(() => new Path(new Float64Array(2 * (MAX_PATH_POINTS + 1))), PathError);
  assert.throws(() => new Path([0, 0, NaN, 1]), /finite/);
  assert.throws(() => new Path([0, 0, 1]), /x, y pairs/);
});

test('circles and spirals: closed, the right size, starting where they should', () => {
  const c = circlePath({ x: 1, y: -1 }, 2);
  near(c.length, 2 * Math.PI * 2, 0.002);
  const start = c.pointAt(0);
  const end = c.pointAt(c.length);
  near(start.x, 3);
  near(end.x, 3);
  near(end.y, -1);
  const quarter = c.pointAtPhase(0.25);
  near(quarter.x, 1, 1e-6);
  near(quarter.y, 1, 1e-6);
  const s = spiralPath({ x: 0, y: 0 }, 0.5, 2, { turns: 3 });
  near(Math.hypot(s.pointAt(0).x, s.pointAt(0).y), 0.5);
  near(Math.hypot(s.pointAt(s.length).x, s.pointAt(s.length).y), 2);
  assert.ok(s.length > 2 * Math.PI * 0.5 * 3 && s.length < 2 * Math.PI * 2 * 3);
  assert.ok(s.count <= MAX_PATH_POINTS);
  assert.throws(() => spiralPath({ x: 0, y: 0 }, 0, 1, { turns: 20 }), /at most 8/);
  assert.throws(() => circlePath({ x: 0, y: NaN }, 1), PathError);
});

test('freehand drawings: still pointers add nothing, long ones are bounded, bad ones refused', () => {
  const wobble = [{ x: 0, y: 0 }, { x: 0.001, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 1 }];
  const p = freehandPath(wobble, { minSpacing: 0.01 });
  assert.deepEqual([...p.points], [0, 0, 1, 0, 1, 1]);
  const long = Array.from({ length: 5000 }, (_, i) => ({ x: Math.cos(i / 300), y: Math.sin(i / 300) }));
  const bounded = freehandPath(long);
  assert.equal(bounded.count, MAX_PATH_POINTS);
  near(bounded.length, 4999 / 300, 0.01);
  assert.deepEqual(bounded.pointAt(0), { x: 1, y: 0 });
  const few = freehandPath(long, { maxPoints: 32 });
  assert.equal(few.count, 32);
  assert.throws(() => freehandPath([{ x: 0, y: 0 }, { x: 0, y: 0 }]), /draw a longer line/);
  assert.throws(() => freehandPath([{ x: 0, y: 0 }, { x: 'a', y: 0 }]), /finite/);
  assert.throws(() => freehandPath('0,0'), /list of points/);
  assert.throws(() => freehandPath(new Array(100001).fill({ x: 0, y: 0 })), /at most 100000/);
});

test('the player goes forward and back at its speed in map units per second', () => {
  const path = linePath({ x: 0, y: 0 }, { x: 2, y: 0 });
  const player = new PathPlayer(path, { speed: 0.5 });
  const out = { x: 0, y: 0 };
  assert.equal(player.advance(0, out).x, 0);
  near(player.advance(2, out).x, 1); // 1 unit out
  assert.equal(player.direction, 1);
  near(player.advance(2, out).x, 2, 1e-9); // at the end
  near(player.advance(1, out).x, 1.5); // coming back
  assert.equal(player.direction, -1);
  near(player.advance(3, out).x, 0, 1e-9); // at the start
  near(player.advance(1, out).x, 0.5); // out again
  // Many small steps land where one big one does (no accumulated error to speak of).
  const a = new PathPlayer(circlePath({ x: 0, y: 0 }, 1), { speed: 0.7 });
  const b = new PathPlayer(circlePath({ x: 0, y: 0 }, 1), { speed: 0.7 });
  for (let i = 0; i < 375000; i++) a.advance(128 / 48000, out); // 1000 s
  const pa = { ...a.advance(0, { x: 0, y: 0 }) };
  const pb = b.advance(1000, { x: 0, y: 0 });
  near(pa.x, pb.x, 1e-6);
  near(pa.y, pb.y, 1e-6);
  // Another path keeps the share of the way.
  player.reset();
  player.advance(1, out); // 0.5 of 4 (out and back)
  player.setPath(linePath({ x: 0, y: 0 }, { x: 4, y: 0 }));
  near(player.distance, 1);
  assert.throws(() => player.setSpeed(-1), /speed/);
  assert.throws(() => player.setSpeed(NaN), /speed/);
  player.setSpeed(0);
  near(player.advance(10, out).x, 1);
});

// ---------- a grains model's header ----------

function tmbl(header) {
  const text = new TextEncoder().encode(JSON.stringify({ graphs: {}, tensors: [], ...header }));
  const start = Math.ceil((12 + text.length) / 16) * 16;
  const out = new Uint8Array(start + 4);
  out.set([0x54, 0x4d, 0x42, 0x4c], 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, 1, true);
  view.setUint32(8, text.length, true);
  out.set(text, 12);
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const L = 4;
function grainsMeta(overrides = {}) {
  return {
    sample_rate: 22050,
    latent: L,
    embedding: 8,
    classes: ['kick', 'snare', 'closed_hat'],
    grain_map: {
      mean: [0, 0, 0, 0],
      axes: [[1, 0, 0, 0], [0, 1, 0, 0]],
      extent: [-3, 3, -2, 2],
      class_points: [[-1, 0], [1, 1], { x: 0, y: -1 }],
    },
    onset_centroids: [[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2]],
    ...overrides,
  };
}
const grainsModel = (meta = grainsMeta(), family = 'grains') => tmbl({ family, name: 'test drums', metadata: meta });

test('a grains model\'s header: classes, sizes, the grain map', () => {
  const d = describeGrainsModel(grainsModel());
  assert.equal(d.name, 'test drums');
  assert.deepEqual(d.classes.map((c) => c.label), ['Kick', 'Snare', 'Closed hat']);
  assert.deepEqual(d.classNames, ['kick', 'snare', 'closed_hat']);
  assert.equal(d.embedding, 8);
  assert.deepEqual(d.grainMap.extent, [[-3, 3], [-2, 2]]);
  assert.deepEqual(d.grainMap.classPoints, [{ x: -1, y: 0 }, { x: 1, y: 1 }, { x: 0, y: -1 }]);
  assert.equal(d.beatbox, true);
  assert.equal(classLabel('open_hat'), 'Open hat');
  // A missing or malformed map leaves the drum machine; the Paths card says why.
  const noMap = describeGrainsModel(grainsModel(grainsMeta({ grain_map: undefined, onset_centroids: undefined })));
  assert.equal(noMap.grainMap, null);
  assert.match(noMap.mapProblem, /no grain map/);
  assert.equal(noMap.beatbox, false);
  const badExtent = describeGrainsModel(grainsModel(grainsMeta({ grain_map: { ...grainsMeta().grain_map, extent: [1, -1, 0, 1] } })));
  assert.match(badExtent.mapProblem, /x0 < x1/);
  const fewPoints = describeGrainsModel(grainsModel(grainsMeta({ grain_map: { ...grainsMeta().grain_map, class_points: [[0, 0]] } })));
  assert.match(fewPoints.mapProblem, /each of the 3 classes/);
});

test('a foreign or damaged model is refused in words', () => {
  const refuses = (bytes, title, text = /./) => assert.throws(() => describeGrainsModel(bytes, 'drums.tmbl'),
    (error) => error instanceof GrainsModelError && title.test(error.title) && text.test(error.text));
  refuses(grainsModel(grainsMeta(), 'gmvae'), /is a note model \(Notes panel\), not a grains model/);
  refuses(grainsModel(grainsMeta(), 'vq_timbre'), /voice-to-instrument model/);
  refuses(new TextEncoder().encode('hello, this is not a model'), /not a model this page can read/, /TMBL/);
  const damaged = grainsModel();
  damaged[20] ^= 1;
  refuses(damaged, /not a model/, /CRC/);
  refuses(grainsModel(grainsMeta({ classes: [] })), /lacks what the Grains panel needs/, /drum classes or instruments/);
  refuses(grainsModel(grainsMeta({ classes: ['kick', 'kick', 'snare'] })), /lacks/, /appears twice/);
  refuses(grainsModel(grainsMeta({ classes: ['Kick!', 'b', 'c'] })), /lacks/, /drum classes/);
  refuses(grainsModel(grainsMeta({ latent: 0 })), /lacks/, /latent size/);
  refuses(grainsModel(grainsMeta({ embedding: 1.5 })), /lacks/, /embedding size/);
});

// A pitched model's metadata (the golden model_pitched.tmbl's, on the test's 3 classes).
const pitchedMeta = (overrides = {}) => grainsMeta({
  classes: GOLDEN_CLASSES,
  pitch_conditioning: { code: 'gaussian_bumps', centres: [48, 60, 72, 84], width: 6 },
  class_pitches: GOLDEN_PITCHES,
  ...overrides,
});

test('a pitched grains model\'s header: its pitch code and each class\'s trained range', () => {
  const d = describeGrainsModel(grainsModel(pitchedMeta()));
  assert.equal(d.pitched, true);
  assert.deepEqual(d.pitchCentres, [48, 60, 72, 84]);
  assert.equal(d.pitchWidth, 6);
  assert.deepEqual(d.classPitches, GOLDEN_PITCHES);
  const drums = describeGrainsModel(grainsModel());
  assert.deepEqual([drums.pitched, drums.pitchCentres, drums.pitchWidth, drums.classPitches], [false, null, null, null]);
  // Instrument names read as words.
  const instruments = describeGrainsModel(grainsModel(pitchedMeta({
    classes: ['french_horn', 'alto_sax', 'english_horn'],
    grain_map: undefined,
  })));
  assert.deepEqual(instruments.classes.map((c) => c.label), ['French horn', 'Alto sax', 'English horn']);
  // Fractional pitches (means over a corpus) are MIDI pitches too.
  assert.deepEqual(describeGrainsModel(grainsModel(pitchedMeta({ class_pitches: [[40.5, 46.2, 52], [55, 63, 69], [70, 76, 88]] }))).classPitches[0], [40.5, 46.2, 52]);
});

test('hostile or broken pitch metadata is refused in words', () => {
  const refuses = (meta, text) => assert.throws(() => describeGrainsModel(grainsModel(meta), 'instruments.tmbl'),
    (error) => error instanceof GrainsModelError && /“instruments\.tmbl” lacks what the Grains panel needs/.test(error.title) && text.test(error.text),
    `expected “${text}”`);
  const code = pitchedMeta().pitch_conditioning;
  refuses(pitchedMeta({ pitch_conditioning: undefined }), /pitch range per class \(class_pitches\) but no pitch code/);
  refuses(pitchedMeta({ pitch_conditioning: 'bumps' }), /pitch code \(pitch_conditioning is not an object/);
  refuses(pitchedMeta({ pitch_conditioning: [48, 60] }), /not an object/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, code: 'one_hot' } }), /its kind is “one_hot”; this page knows “gaussian_bumps”/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, code: undefined } }), /its kind is missing/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, centres: [] } }), /centres must be 1 to 128 MIDI pitches from 0 to 127/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, centres: new Array(129).fill(60) } }), /centres must be 1 to 128/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, centres: [48, -1] } }), /centres/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, centres: [48, 128] } }), /centres/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, centres: [48, null] } }), /centres/); // JSON's NaN
  refuses(pitchedMeta({ pitch_conditioning: { ...code, centres: '48,60' } }), /centres/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, width: 0 } }), /width must be a number of semitones above 0, at most 48/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, width: 48.5 } }), /width/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, width: '6' } }), /width/);
  refuses(pitchedMeta({ pitch_conditioning: { ...code, width: null } }), /width/);
  refuses(pitchedMeta({ class_pitches: undefined }), /class_pitches must hold, for each of the 3 classes, its lowest, typical and highest MIDI pitch/);
  refuses(pitchedMeta({ class_pitches: GOLDEN_PITCHES.slice(0, 2) }), /for each of the 3 classes/);
  refuses(pitchedMeta({ class_pitches: [[40, 46], ...GOLDEN_PITCHES.slice(1)] }), /for each of the 3 classes/);
  refuses(pitchedMeta({ class_pitches: [[40, 46, 52], [55, 63, 'high'], [70, 76, 88]] }), /for each of the 3 classes/);
  refuses(pitchedMeta({ class_pitches: [[40, 46, 52], [64, 63, 69], [70, 76, 88]] }), /class 2’s is not MIDI pitches with 0 ≤ lowest ≤ typical ≤ highest ≤ 127/);
  refuses(pitchedMeta({ class_pitches: [[40, 46, 52], [55, 63, 69], [70, 76, 128]] }), /class 3’s/);
  refuses(pitchedMeta({ class_pitches: [[-1, 46, 52], [55, 63, 69], [70, 76, 88]] }), /class 1’s/);
  refuses(pitchedMeta({ class_pitches: { kick: [40, 46, 52] } }), /class_pitches must hold/);
});

test('the grains model list keeps only safe paths inside its folder', () => {
  const list = readGrainsIndex([
    { id: 'small', name: 'Drums (small)', file: 'small/grains.tmbl', card: 'small/MODEL_CARD.md' },
    { file: '../../etc/passwd.tmbl' },
    { file: 'https://elsewhere.example/x.tmbl' },
    { file: 'ok.tmbl', card: '/abs.md' },
    'junk',
  ]);
  assert.deepEqual(list, [
    { id: 'small', name: 'Drums (small)', file: 'small/grains.tmbl', card: 'small/MODEL_CARD.md' },
    { id: 'ok', name: 'ok', file: 'ok.tmbl', card: null },
  ]);
  assert.deepEqual(readGrainsIndex({ models: [] }), []);
  assert.throws(() => readGrainsIndex({}), /no list/);
});
