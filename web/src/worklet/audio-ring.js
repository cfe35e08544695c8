// Shared memory between the "timbrel-transfer" processor (audio thread, the only
// writer) and the page (the only reader). Two blocks in one SharedArrayBuffer:
//
//   1. A status block of counters and meters, overwritten in place:
//        Int32 STATUS[...]  quanta processed, lost quanta, kernel underruns, ...
//        Float32 METER[...] input/output level (dBFS), last f0 (Hz), voiced (0/1)
//   2. A sample ring of interleaved frames [input, output] (the kernel's input as
//      it received it, and its output before the monitor gain), for the recorder
//      and for the meters' history. Capacity is a power of two.
//
// Writing copies numbers only: no allocation, no locks, no messages. The page
// reads in a timer and detects when it fell behind (the ring lapped it).
// Imported by both the worklet scope and the main thread.

export const STATUS = Object.freeze({
  WRITE_FRAMES: 0, // frames written to the ring since start (wraps at 2^31; use deltas)
  QUANTA: 1, // render quanta processed
  LOST_QUANTA: 2, // quanta of an unexpected size, or a gap in currentFrame
  UNDERRUNS: 3, // the kernel's own count (its output FIFO ran dry)
  NONFINITE_INPUTS: 4, // the kernel's count of NaN/Inf input samples it replaced
  NONFINITE_OUTPUTS: 5, // output samples that were NaN/Inf (replaced by 0 here)
  METER_SEQ: 6, // bumps each time the meters below are refreshed
  MODEL_LOADS: 7, // models loaded by the kernel so far
  CAPACITY: 8, // ring capacity in frames (set by the page)
  RECORD_LAPS: 9, // frames the reader lost because the ring lapped it (reader-owned)
  LAST_GAP: 10, // frames skipped (or repeated, negative) at the last currentFrame jump
  LAST_GAP_QUANTUM: 11, // the quantum (QUANTA count) at which it happened
  OVERRUNS: 12, // the kernel's count of resampled samples dropped for lack of room
  GUARD: 13, // the kernel's output guard: GUARD_STATE below
});
const STATUS_INTS = 16; // 64 bytes, keeps the float areas 16-byte aligned

// The core's output guard (core/include/timbrel/dsp/output_guard.h), as the
// kernels' guardState() reports it: MUTED means the model's output stayed
// non-finite or above +12 dBFS for 100 ms and is silenced until another model.
export const GUARD_STATE = Object.freeze({ CLEAN: 0, LIMITING: 1, MUTED: 2 });

export const METER = Object.freeze({
  INPUT_DB: 0,
  OUTPUT_DB: 1,
  F0_HZ: 2,
  VOICED: 3,
  LATENCY_SAMPLES: 4,
});
const METER_FLOATS = 8;

export const CHANNELS = 2; // interleaved: [input, output]
export const DEFAULT_CAPACITY = 1 << 18; // frames: 5.5 s at 48 kHz, 2 MiB

const METER_OFFSET = STATUS_INTS * 4;
const RING_OFFSET = METER_OFFSET + METER_FLOATS * 4;

// Main thread: allocates the shared memory (needs cross-origin isolation).
export function createAudioRing(capacity = DEFAULT_CAPACITY) {
  if (capacity & (capacity - 1)) throw new Error('ring capacity must be a power of two');
  const sab = new SharedArrayBuffer(RING_OFFSET + capacity * CHANNELS * 4);
  new Int32Array(sab, 0, STATUS_INTS)[STATUS.CAPACITY] = capacity;
  return sab;
}

function views(sab) {
  const status = new Int32Array(sab, 0, STATUS_INTS);
  const capacity = status[STATUS.CAPACITY];
  return {
    status,
    meters: new Float32Array(sab, METER_OFFSET, METER_FLOATS),
    ring: new Float32Array(sab, RING_OFFSET, capacity * CHANNELS),
    capacity,
  };
}

// Audio thread side. Construct once, outside process(); nothing here allocates.
export class AudioRingWriter {
  constructor(sab) {
    Object.assign(this, views(sab));
    this.mask = this.capacity - 1;
    this.frames = Atomics.load(this.status, STATUS.WRITE_FRAMES);
  }

  // Copies n frames: input from heap[inIndex..], output from heap[outIndex..].
  write(heap, inIndex, outIndex, n) {
    const ring = this.ring;
    const mask = this.mask;
    let f = this.frames;
    for (let i = 0; i < n; i++) {
      const j = (f & mask) << 1;
      ring[j] = heap[inIndex + i];
      ring[j + 1] = heap[outIndex + i];
      f = (f + 1) | 0;
    }
    this.frames = f;
    Atomics.store(this.status, STATUS.WRITE_FRAMES, f);
  }

  count(field, value) {
    Atomics.store(this.status, field, value | 0);
  }

  add(field, delta) {
    Atomics.add(this.status, field, delta | 0);
  }

  // Meters are plain floats (a torn read only mixes two meter updates).
  setMeters(inputDb, outputDb, f0, voiced, latencySamples) {
    const m = this.meters;
    m[METER.INPUT_DB] = inputDb;
    m[METER.OUTPUT_DB] = outputDb;
    m[METER.F0_HZ] = f0;
    m[METER.VOICED] = voiced;
    m[METER.LATENCY_SAMPLES] = latencySamples;
    Atomics.add(this.status, STATUS.METER_SEQ, 1);
  }
}

// Main thread side.
export class AudioRingReader {
  constructor(sab) {
    Object.assign(this, views(sab));
    this.mask = this.capacity - 1;
    this.readFrames = Atomics.load(this.status, STATUS.WRITE_FRAMES);
    this.lapped = 0;
  }

  get(field) {
    return Atomics.load(this.status, field);
  }

  meter(field) {
    return this.meters[field];
  }

  // Frame counter of the writer (wrapping int32): the ring position of "now".
  get writeFrames() {
    return Atomics.load(this.status, STATUS.WRITE_FRAMES);
  }

  // Calls onBlock(input, output, firstFrame) with views of up to `scratch` frames
  // at a time (scratch: {input: Float32Array, output: Float32Array}, reused).
  // Frames the ring overwrote before we read them are counted in `lapped` (and
  // in the shared RECORD_LAPS), and skipped. Returns the frames delivered.
  read(scratch, onBlock) {
    const written = this.writeFrames;
    let behind = (written - this.readFrames) | 0;
    const keep = this.capacity - 4096; // margin: the writer may be filling the next quantum
    if (behind > keep) {
      const lost = behind - keep;
      this.lapped += lost;
      Atomics.add(this.status, STATUS.RECORD_LAPS, lost);
      this.readFrames = (this.readFrames + lost) | 0;
      behind = keep;
    }
    const { input, output } = scratch;
    const ring = this.ring;
    const mask = this.mask;
    let delivered = 0;
    while (behind > 0) {
      const n = Math.min(behind, input.length);
      let f = this.readFrames;
      for (let i = 0; i < n; i++) {
        const j = (f & mask) << 1;
        input[i] = ring[j];
        output[i] = ring[j + 1];
        f = (f + 1) | 0;
      }
      onBlock(input.subarray(0, n), output.subarray(0, n), this.readFrames);
      this.readFrames = f;
      behind -= n;
      delivered += n;
    }
    return delivered;
  }

  // Drops everything written so far (e.g. before a recording starts).
  skipToNow() {
    this.readFrames = this.writeFrames;
  }
}
