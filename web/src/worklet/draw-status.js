// Shared status of the "timbrel-draw" processor (audio thread, the only writer)
// for the page (the only reader): one small Int32Array in a SharedArrayBuffer,
// overwritten in place. The sample ring beside it is audio-ring.js's.
// Imported by both the worklet scope and the main thread.

export const DRAW = Object.freeze({
  STATE: 0, // DRAW_STATE below
  PASSES: 1, // passes finished since the last play (the kernel's count)
  POSITION: 2, // the next hop the kernel plays
  LAST_CODE: 3, // the code of the last hop played
  PASS_INDEX: 4, // the pass that began last (0 at play)
  PASS_FRAME: 5, // ring frame where that pass's audio begins (written before PASS_INDEX)
  PASS_VERSION: 6, // the curve version (page's counter) that pass plays
  COMMITTED_VERSION: 7, // the last curve version committed to the kernel
  QUANTA: 8, // render quanta processed
  NONFINITE: 9, // output samples that were NaN/Inf (replaced by 0)
  PLAYS: 10, // bumps at every play(): tells a new run from an old one
  GUARD: 11, // the kernel's output guard (GUARD_STATE in audio-ring.js)
});
const DRAW_INTS = 16;

export const DRAW_STATE = Object.freeze({ STOPPED: 0, PLAYING: 1, CODE: 2 });

export function createDrawStatus() {
  return new SharedArrayBuffer(DRAW_INTS * 4);
}

export function drawStatusView(sab) {
  return new Int32Array(sab, 0, DRAW_INTS);
}
