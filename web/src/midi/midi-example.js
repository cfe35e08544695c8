// The example tune the MIDI panel ships: the opening of Beethoven's “Ode to
// Joy” (public domain), 8 bars in C major, two tracks: the melody (mf, octave
// 5) and a slower harmony line (pp, octave 4). Every note lies in C4-G5,
// which every shipped instrument plays without transposing. Written in
// JavaScript, so the page needs no asset and the tests know the notes exactly.

import { melody, writeMidi } from '../audio/midi-file.js';

export const EXAMPLE_NAME = 'ode-to-joy.mid';
export const EXAMPLE_TITLE = '“Ode to Joy” (Beethoven), 8 bars, melody and harmony';
export const EXAMPLE_BPM = 132;

const C4 = 60;
const D4 = 62;
const E4 = 64;
const F4 = 65;
const G4 = 67;
const C5 = 72;
const D5 = 74;
const E5 = 76;
const F5 = 77;
const G5 = 79;

const MELODY = [
  [E5, 1], [E5, 1], [F5, 1], [G5, 1],
  [G5, 1], [F5, 1], [E5, 1], [D5, 1],
  [C5, 1], [C5, 1], [D5, 1], [E5, 1],
  [E5, 1.5], [D5, 0.5], [D5, 2],
  [E5, 1], [E5, 1], [F5, 1], [G5, 1],
  [G5, 1], [F5, 1], [E5, 1], [D5, 1],
  [C5, 1], [C5, 1], [D5, 1], [E5, 1],
  [D5, 1.5], [C5, 0.5], [C5, 2],
];

const HARMONY = [
  [C4, 2], [E4, 2],
  [D4, 2], [F4, 2],
  [E4, 2], [C4, 2],
  [D4, 4],
  [C4, 2], [E4, 2],
  [D4, 2], [F4, 2],
  [E4, 2], [G4, 2],
  [D4, 2], [E4, 2],
];

// The melody alone, detached: a gap of `gap` seconds before each next note
// (the Transcribe panel's example: a repeated note needs a dip in loudness
// to be heard as two).
export function exampleMelodyNotes({ gap = 0.04 } = {}) {
  return melody(MELODY, { bpm: EXAMPLE_BPM, velocity: 92, gap });
}

export function exampleTracks() {
  return [
    { name: 'Melody', channel: 0, program: 40, notes: exampleMelodyNotes() },
    { name: 'Harmony', channel: 1, program: 40, notes: melody(HARMONY, { bpm: EXAMPLE_BPM, velocity: 48 }) },
  ];
}

// The .mid file's bytes (format 1: a tempo track, then melody and harmony).
export function exampleMidi() {
  return writeMidi(exampleTracks(), { bpm: EXAMPLE_BPM });
}
