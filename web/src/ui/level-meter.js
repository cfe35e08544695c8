// A level meter (role="meter", a .meter-fill child) showing db over -80..0 dB,
// with its value in words for screen readers ("silent" below -79 dB).
export function showLevel(meter, db) {
  const shown = Math.max(-80, Math.min(0, db));
  meter.querySelector('.meter-fill').style.transform = `scaleX(${((shown + 80) / 80).toFixed(3)})`;
  meter.setAttribute('aria-valuenow', String(Math.round(shown)));
  meter.setAttribute('aria-valuetext', db < -79 ? 'silent' : `${Math.round(db)} dB`);
}
