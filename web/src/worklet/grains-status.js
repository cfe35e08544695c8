// Shared status of the "timbrel-grains" processor (audio thread, the only
// writer) for the page (the only reader): the drum machine's playhead, the
// path voice's point and the hits' seeds, overwritten in place. Levels,
// counters and the recorded samples are in the sample ring beside it
// (audio-ring.js: [input, output] frames, STATUS, METER).
// Imported by both the worklet scope and the main thread.

export const GRAINS = Object.freeze({
  // Int32Array indices
  PLAYING: 0, // 1 while the pattern plays
  STEP: 1, // the step that started last (-1: none since play)
  STEPS_PLAYED: 2, // steps started since the processor began
  STEP_FRAME: 3, // ring frame (audio-ring WRITE_FRAMES count) where that step starts
  HITS: 4, // hits triggered (steps, auditions)
  PATH_ON: 5, // 1 while the path voice plays
  BEATBOX_ON: 6, // 1 while the input feeds the onset detector
  ONSETS: 7, // onsets the beat-box reported so far
  LAST_SEED: 8, // LAST_SEED + k (k < SEED_SLOTS): the seed of track k's last hit (a uint32 in an int32)
  STEP_SEQ: 16, // odd while STEP, STEPS_PLAYED and STEP_FRAME are being written (a seqlock)
  // Float32Array indices (the same buffer, after the ints)
  PATH_X: 24,
  PATH_Y: 25,
  PEAK: 26, // largest |output sample| since the start
});
export const SEED_SLOTS = 8;
const SLOTS = 32;

export function createGrainsStatus() {
  return new SharedArrayBuffer(SLOTS * 4);
}

export function grainsStatusViews(sab) {
  return { ints: new Int32Array(sab, 0, SLOTS), floats: new Float32Array(sab, 0, SLOTS) };
}
