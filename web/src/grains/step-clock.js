// The drum machine's step clock, run on the audio thread (worklet/
// grains-processor.js): for each block of frames it says which steps start in
// it and at which frame offset, so that a hit lands on its sample.
//
// Steps are sixteenth notes: one step lasts 15·sampleRate / tempo frames
// (tempo in BPM, kept to 0.1 BPM). Swing delays every odd step (the second of
// each pair) by swing × one step (0: straight; 1/3: a triplet shuffle; at most
// 0.75), kept to 0.001. A step starts on the frame nearest its exact time.
//
// No drift: exact times are kept as a whole frame plus a remainder in units of
// 1/Q frame, Q = 1000 · (tempo × 10), so every pair of steps adds the exact
// rational 300000·sampleRate / Q frames; all the numbers are integers below
// 2^53 (doubles hold them exactly), for centuries of audio. A change of tempo or
// swing keeps the clock's place inside the current pair (the wait for the next
// step scales with the new step length); a step it makes late starts at once.
//
// advance() allocates nothing: the worklet calls it every render quantum.

export const STEPS = 16;
export const TEMPO_MIN = 40;
export const TEMPO_MAX = 240;
export const SWING_MAX = 0.75;

const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

export class StepClock {
  constructor(sampleRate, { steps = STEPS, tempo = 120, swing = 0 } = {}) {
    if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 768000) {
      throw new Error(`the step clock needs a whole sample rate of 1000-768000 Hz (it got ${sampleRate})`);
    }
    if (!Number.isInteger(steps) || steps < 2 || steps % 2 !== 0) throw new Error('a pattern has an even number of steps');
    this.sampleRate = sampleRate;
    this.steps = steps;
    this.now = 0; // frames advanced since the clock was made
    this.running = false;
    this.pairFrame = 0; // exact start of the current pair: pairFrame + pairRem / Q
    this.pairRem = 0;
    this.odd = false; // the next step is the pair's second
    this.nextStep = 0; // the index of the next step
    this.tenths = 0;
    this.mille = 0;
    this.whole = 0; // split()'s results
    this.rem = 0;
    this.setTimes(tempo, swing);
  }

  // Tempo in BPM (40-240, to 0.1) and swing (0-0.75, to 0.001).
  get tempo() {
    return this.tenths / 10;
  }

  get swing() {
    return this.mille / 1000;
  }

  // Exact frames per step (for display; the clock itself uses integers).
  get stepFrames() {
    return (150 * this.sampleRate) / this.tenths;
  }

  setTimes(tempo, swing) {
    this.tenths = Math.round(clamp(Number(tempo) || 120, TEMPO_MIN, TEMPO_MAX) * 10);
    this.mille = Math.round(clamp(Number(swing) || 0, 0, SWING_MAX) * 1000);
    this.q = 1000 * this.tenths; // remainder units per frame
    this.pairUnits = 300000 * this.sampleRate; // one pair of steps, in 1/q frames
    this.oddUnits = 150 * this.sampleRate * (1000 + this.mille); // pair start to its odd step
  }

  // Seconds of one pair, in frames (floating point), with the current times.
  pairFrames() {
    return this.pairUnits / this.q;
  }

  setTempo(bpm) {
    this.retime(bpm, this.swing);
  }

  setSwing(swing) {
    this.retime(this.tempo, swing);
  }

  // Changes the times keeping the clock's place in its pair of steps.
  retime(tempo, swing) {
    const before = [this.tenths, this.mille];
    if (!this.running) {
      this.setTimes(tempo, swing);
      return;
    }
    const place = (this.now - (this.pairFrame + this.pairRem / this.q)) / this.pairFrames();
    this.setTimes(tempo, swing);
    if (before[0] === this.tenths && before[1] === this.mille) return;
    const start = this.now - place * this.pairFrames();
    const frame = Math.floor(start);
    let rem = Math.round((start - frame) * this.q);
    this.pairFrame = frame;
    if (rem >= this.q) {
      this.pairFrame++;
      rem = 0;
    }
    this.pairRem = rem;
  }

  // The first step (`step`) starts on the first frame of the next advance().
  start(step = 0) {
    this.running = true;
    this.pairFrame = this.now;
    this.pairRem = 0;
    this.nextStep = ((step % this.steps) + this.steps) % this.steps;
    this.odd = this.nextStep % 2 === 1;
    if (this.odd) {
      // Place the pair so that its odd step falls now.
      this.split(this.oddUnits);
      this.pairFrame = this.now - this.whole - (this.rem > 0 ? 1 : 0);
      this.pairRem = this.rem > 0 ? this.q - this.rem : 0;
    }
  }

  stop() {
    this.running = false;
  }

  // t (a whole number of 1/q frames) as this.whole frames + this.rem (0 ≤ rem < q).
  split(t) {
    let whole = Math.floor(t / this.q);
    let rem = t - whole * this.q;
    if (rem < 0) {
      whole--;
      rem += this.q;
    } else if (rem >= this.q) {
      whole++;
      rem -= this.q;
    }
    this.whole = whole;
    this.rem = rem;
  }

  // The frame (absolute, nearest) at which the next step starts.
  nextFrame() {
    if (!this.odd) return this.pairFrame + (2 * this.pairRem >= this.q ? 1 : 0);
    this.split(this.pairRem + this.oddUnits);
    return this.pairFrame + this.whole + (2 * this.rem >= this.q ? 1 : 0);
  }

  // Moves past the next step.
  passStep() {
    this.nextStep = this.nextStep + 1 === this.steps ? 0 : this.nextStep + 1;
    if (!this.odd) {
      this.odd = true;
      return;
    }
    this.odd = false;
    this.split(this.pairRem + this.pairUnits);
    this.pairFrame += this.whole;
    this.pairRem = this.rem;
  }

  // Advances the clock by `frames`; the steps starting inside them are written
  // to offsets[i] (0 ≤ offset < frames) and steps[i] (the step's index), in
  // order, at most offsets.length of them. Returns how many. Allocates nothing.
  advance(frames, offsets, steps) {
    const end = this.now + frames;
    let count = 0;
    if (this.running) {
      const room = Math.min(offsets.length, steps.length);
      while (count < room) {
        const at = this.nextFrame();
        if (at >= end) break;
        offsets[count] = at > this.now ? at - this.now : 0;
        steps[count] = this.nextStep;
        count++;
        this.passStep();
      }
    }
    this.now = end;
    return count;
  }
}
