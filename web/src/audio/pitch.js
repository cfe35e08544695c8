// Frequency <-> note names (12-tone equal temperament, A4 = 440 Hz, C4 = middle C).

const NAMES = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];

export function midiFromHz(hz, a4 = 440) {
  return 69 + 12 * Math.log2(hz / a4);
}

// {name: 'A3', midi: 57, cents: +2} for the nearest note, or null for hz <= 0.
export function noteFromHz(hz, a4 = 440) {
  if (!(hz > 0) || !Number.isFinite(hz)) return null;
  const exact = midiFromHz(hz, a4);
  const midi = Math.round(exact);
  const cents = Math.round((exact - midi) * 100);
  const octave = Math.floor(midi / 12) - 1;
  return { name: `${NAMES[((midi % 12) + 12) % 12]}${octave}`, midi, cents };
}
