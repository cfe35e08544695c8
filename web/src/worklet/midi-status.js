// The shared status block of the live note worklet (worklet/notes-processor.js):
// written on the audio thread every quantum, read by the page's meter and the
// tests. Floats (level, peak) need no atomics: one aligned 32-bit store each.

export const NOTES = Object.freeze({
  // Float32Array indices
  LEVEL_DB: 0, // output RMS, dBFS, smoothed over 50 ms
  PEAK: 1, // largest |sample| since the start
  // Int32Array indices
  QUANTA: 2,
  NONFINITE: 3,
  NOTE_ONS: 4,
  GUARD: 5, // the kernel's output guard (GUARD_STATE in audio-ring.js)
});

const SLOTS = 8;

export function createNotesStatus() {
  return new SharedArrayBuffer(SLOTS * 4);
}

export function notesStatusViews(buffer) {
  const floats = new Float32Array(buffer);
  floats[NOTES.LEVEL_DB] = -120;
  return { floats, ints: new Int32Array(buffer) };
}
