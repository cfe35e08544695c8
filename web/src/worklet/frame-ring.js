// A single-writer / single-reader ring of analysis frames in a SharedArrayBuffer.
//
// The audio thread (AudioWorkletProcessor) writes; the page reads in
// requestAnimationFrame. Writing copies numbers only: no allocation, no locks,
// no messages. Imported by both the worklet scope and the main thread.
//
// Layout:
//   Int32 header[HEADER_INTS]
//     [0] WRITE_COUNT   frames written since start (monotonic; slot = count % capacity)
//     [1] CAPACITY      number of frame slots
//     [2] STRIDE        floats per slot = FRAME_FIELDS + max spectrum bins
//     [3] SPECTRUM_SIZE spectrum bins actually written (set once by the writer)
//     [4] QUANTA        render quanta processed (a heartbeat for the page)
//     [5] DROPPED       frames the reader skipped because it fell behind (reader-owned)
//   Float32 slots[CAPACITY * STRIDE]: FRAME_FIELDS values, then the spectrum (dB)

export const FRAME_FIELDS = 9;
// Order of the 9 values, as the core's LiveAnalyzerKernel.framePointer() lays them out.
export const FIELD = Object.freeze({
  RMS_DB: 0,
  LOUDNESS_DB: 1,
  CENTROID_HZ: 2,
  BANDWIDTH_HZ: 3,
  ROLLOFF_HZ: 4,
  FLATNESS: 5,
  F0_HZ: 6,
  F0_CONFIDENCE: 7,
  VOICED: 8,
});

const WRITE_COUNT = 0;
const CAPACITY = 1;
const STRIDE = 2;
const SPECTRUM_SIZE = 3;
const QUANTA = 4;
const DROPPED = 5;
const HEADER_INTS = 8; // keeps the float area 16-byte aligned

export const DEFAULT_CAPACITY = 128; // ~1.5 s of frames at ~86 frames/s
export const MAX_SPECTRUM_BINS = 1025;

// Main thread: allocates the shared memory (needs cross-origin isolation).
export function createFrameRingBuffer(capacity = DEFAULT_CAPACITY, maxSpectrumBins = MAX_SPECTRUM_BINS) {
  const stride = FRAME_FIELDS + maxSpectrumBins;
  const sab = new SharedArrayBuffer(HEADER_INTS * 4 + capacity * stride * 4);
  const header = new Int32Array(sab, 0, HEADER_INTS);
  header[CAPACITY] = capacity;
  header[STRIDE] = stride;
  return sab;
}

// Audio thread side. Construct once (outside process()); write() allocates nothing.
export class FrameRingWriter {
  constructor(sab) {
    this.header = new Int32Array(sab, 0, HEADER_INTS);
    this.capacity = this.header[CAPACITY];
    this.stride = this.header[STRIDE];
    this.slots = new Float32Array(sab, HEADER_INTS * 4, this.capacity * this.stride);
    this.count = Atomics.load(this.header, WRITE_COUNT);
  }

  get maxSpectrumBins() {
    return this.stride - FRAME_FIELDS;
  }

  setSpectrumSize(bins) {
    Atomics.store(this.header, SPECTRUM_SIZE, bins);
  }

  // frame: Float32Array view of FRAME_FIELDS values; spectrum: view of `bins` values.
  // Plain index loops: typed-array subarray()/set() on views would allocate.
  write(heap, frameIndex, spectrumIndex, bins) {
    const base = (this.count % this.capacity) * this.stride;
    const slots = this.slots;
    for (let i = 0; i < FRAME_FIELDS; i++) slots[base + i] = heap[frameIndex + i];
    const s = base + FRAME_FIELDS;
    for (let i = 0; i < bins; i++) slots[s + i] = heap[spectrumIndex + i];
    this.count++;
    Atomics.store(this.header, WRITE_COUNT, this.count);
  }

  tick() {
    Atomics.add(this.header, QUANTA, 1);
  }
}

// Main thread side: read() calls onFrame(frameValues, spectrum) for each new frame.
// The arrays passed are reused scratch buffers: copy what you keep.
export class FrameRingReader {
  constructor(sab) {
    this.header = new Int32Array(sab, 0, HEADER_INTS);
    this.capacity = this.header[CAPACITY];
    this.stride = this.header[STRIDE];
    this.slots = new Float32Array(sab, HEADER_INTS * 4, this.capacity * this.stride);
    this.readCount = Atomics.load(this.header, WRITE_COUNT);
    this.frame = new Float32Array(FRAME_FIELDS);
    this.spectrum = new Float32Array(this.stride - FRAME_FIELDS);
    this.dropped = 0;
  }

  get spectrumSize() {
    return Atomics.load(this.header, SPECTRUM_SIZE);
  }

  get quanta() {
    return Atomics.load(this.header, QUANTA);
  }

  read(onFrame, maxFrames = Infinity) {
    let written = Atomics.load(this.header, WRITE_COUNT);
    // Keep a safety margin: the writer may be filling the slot after `written`.
    const keep = this.capacity - 2;
    if (written - this.readCount > keep) {
      this.dropped += written - keep - this.readCount;
      Atomics.store(this.header, DROPPED, this.dropped);
      this.readCount = written - keep;
    }
    const bins = this.spectrumSize;
    const spectrum = bins === this.spectrum.length ? this.spectrum : this.spectrum.subarray(0, bins);
    let n = 0;
    while (this.readCount < written && n < maxFrames) {
      const base = (this.readCount % this.capacity) * this.stride;
      this.frame.set(this.slots.subarray(base, base + FRAME_FIELDS));
      spectrum.set(this.slots.subarray(base + FRAME_FIELDS, base + FRAME_FIELDS + bins));
      // If the writer lapped us while copying, the slot may be torn: skip it.
      written = Atomics.load(this.header, WRITE_COUNT);
      if (written - this.readCount < this.capacity) onFrame(this.frame, spectrum);
      this.readCount++;
      n++;
    }
    return n;
  }
}
