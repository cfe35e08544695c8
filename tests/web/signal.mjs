// Signal helpers of the browser tests: a voice-like test signal and the measures
// the Voice panel's test applies to what the page recorded.

import path from 'node:path';
import { writeWav } from './harness.mjs';

// The voice-like signal as the fake microphone's 48 kHz WAV in dir; returns its path.
export function writeVoiceLikeWav(dir) {
  const file = path.join(dir, 'voice-like-48k.wav');
  writeWav(file, voiceLikeSignal({ seconds: 12, rate: 48000 }), 48000);
  return file;
}

// A vowel-like sung phrase at `rate`: notes with pitch glides, 5.5 Hz vibrato and
// attack/release envelopes, separated by short silences, at different loudness.
// Harmonics are shaped by three formants (an /a/ vowel), plus a little breath noise.
export function voiceLikeSignal({ seconds = 12, rate = 48000, seed = 7 } = {}) {
  const n = Math.round(seconds * rate);
  const out = new Float32Array(n);
  const notes = [
    { start: 0.25, dur: 1.1, f0: 196, glide: 1.12, amp: 0.35 },
    { start: 1.65, dur: 0.9, f0: 247, glide: 0.95, amp: 0.8 },
    { start: 2.85, dur: 1.3, f0: 220, glide: 1.33, amp: 0.2 },
    { start: 4.45, dur: 0.7, f0: 294, glide: 1.0, amp: 0.6 },
    { start: 5.45, dur: 1.5, f0: 165, glide: 1.5, amp: 1.0 },
    { start: 7.25, dur: 0.8, f0: 262, glide: 0.9, amp: 0.45 },
    { start: 8.35, dur: 1.2, f0: 185, glide: 1.2, amp: 0.7 },
    { start: 9.85, dur: 1.6, f0: 233, glide: 0.8, amp: 0.3 },
  ];
  const formants = [[730, 90], [1090, 110], [2440, 160]];
  const weight = (hz) => {
    let w = 0;
    for (const [fc, bw] of formants) w += 1 / (1 + ((hz - fc) / bw) ** 2);
    return w * Math.min(1, 300 / hz) + 0.02; // a glottal roll-off under the formants
  };
  let state = seed >>> 0 || 1;
  const noise = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296 - 0.5;
  };
  for (const note of notes) {
    const i0 = Math.round(note.start * rate);
    const len = Math.min(Math.round(note.dur * rate), n - i0);
    let phase = 0;
    for (let i = 0; i < len; i++) {
      const t = i / rate;
      const u = i / len;
      const vibrato = 2 ** ((25 / 1200) * Math.sin(2 * Math.PI * 5.5 * t) * Math.min(1, t / 0.3));
      const f0 = note.f0 * note.glide ** u * vibrato;
      phase += (2 * Math.PI * f0) / rate;
      const attack = Math.min(1, t / 0.06);
      const release = Math.min(1, (note.dur - t) / 0.12);
      const swell = 0.75 + 0.25 * Math.sin(Math.PI * u);
      let s = 0;
      for (let h = 1; h * f0 < 5000; h++) s += weight(h * f0) * Math.sin(h * phase) / Math.sqrt(h);
      out[i0 + i] += note.amp * attack * release * swell * (s + 0.03 * noise());
    }
  }
  let peak = 0;
  for (const v of out) peak = Math.max(peak, Math.abs(v));
  for (let i = 0; i < n; i++) out[i] *= 0.7 / peak;
  return out;
}

export function rmsDb(x, start = 0, end = x.length) {
  let e = 0;
  for (let i = start; i < end; i++) e += x[i] * x[i];
  return 10 * Math.log10(e / Math.max(1, end - start) + 1e-12);
}

// Frame RMS in dB (frames of `size`, step `hop`), floored at `floorDb`.
export function frameDb(x, { size = 2048, hop = 1024, floorDb = -90 } = {}) {
  const out = [];
  for (let s = 0; s + size <= x.length; s += hop) out.push(Math.max(floorDb, rmsDb(x, s, s + size)));
  return out;
}

export function pearson(a, b) {
  const n = Math.min(a.length, b.length);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

// In-place radix-2 FFT of (re, im), length a power of two.
function fft(re, im) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k);
        const wi = Math.sin(ang * k);
        const a = i + k;
        const b = a + len / 2;
        const tr = re[b] * wr - im[b] * wi;
        const ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
}

// Power spectrum (size/2 + 1 bins) of a Hann-windowed frame, scaled to unit total
// power: the spectral shape, independent of the frame's level.
export function shapeSpectrum(x, start, size = 2048) {
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  for (let i = 0; i < size; i++) re[i] = x[start + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size));
  fft(re, im);
  const p = new Float64Array(size / 2 + 1);
  let total = 0;
  for (let k = 0; k < p.length; k++) {
    p[k] = re[k] * re[k] + im[k] * im[k];
    total += p[k];
  }
  for (let k = 0; k < p.length; k++) p[k] /= total + 1e-30;
  return p;
}

// DESIGN.md §6 LSD on level-normalised spectra (dB): per frame
// sqrt(mean over bins of (10 log10((P + eps) / (Q + eps)))^2), mean over frames.
// Bins up to maxHz; eps = 1e-7 of the unit total (a -70 dB floor per bin).
export function shapeLsdDb(frames, { maxHz = 8000, rate = 48000, size = 2048, eps = 1e-7 } = {}) {
  const bins = Math.min(size / 2 + 1, Math.floor((maxHz / rate) * size) + 1);
  let sum = 0;
  for (const [p, q] of frames) {
    let acc = 0;
    for (let k = 1; k < bins; k++) acc += (10 * Math.log10((p[k] + eps) / (q[k] + eps))) ** 2;
    sum += Math.sqrt(acc / (bins - 1));
  }
  return sum / frames.length;
}

// Largest |x[n] - x[n - 1]| over [start, end).
export function maxJump(x, start = 1, end = x.length) {
  let m = 0;
  for (let i = Math.max(1, start); i < Math.min(end, x.length); i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
  return m;
}

export function allFinite(x) {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}
