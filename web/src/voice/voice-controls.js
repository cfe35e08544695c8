// The Voice panel's sound controls (mode, octave, gains, gate, dry/wet, volume):
// reads the form, shows each value next to its control, and reports the kernel's
// parameters through onChange(values). Values are in the kernel's units.

const MINUS = '\u2212';
const signed = (v) => (v < 0 ? `${MINUS}${Math.abs(v)}` : v > 0 ? `+${v}` : '0');

export const DEFAULT_PARAMS = Object.freeze({
  mode: 'pitch',
  octaves: 0,
  inputGainDb: 0,
  gateDb: -60,
  dryWet: 1,
  outputGainDb: 0,
});

// The kernel's gate is off at or below this threshold (TimbreTransfer::kGateOffDb).
const GATE_OFF_DB = -100;

const MODE_HINTS = {
  pitch: 'The instrument plays your melody. Best for singing and humming.',
  noise: 'The paper’s original model: the pitch comes from the sound codes, not from your voice. Best for beat-box, whistles and noises.',
};

export class VoiceControls {
  constructor(root) {
    const $ = (id) => root.querySelector(`#${id}`);
    this.root = root;
    this.el = {
      modeHint: $('voice-mode-hint'),
      inputGain: $('voice-input-gain'),
      inputGainValue: $('voice-input-gain-value'),
      gate: $('voice-gate'),
      gateValue: $('voice-gate-value'),
      dryWet: $('voice-drywet'),
      dryWetValue: $('voice-drywet-value'),
      outputGain: $('voice-output-gain'),
      outputGainValue: $('voice-output-gain-value'),
    };
    this.onChange = null; // (values) => void
    // Range inputs and radios both fire 'input'; only this panel's sound controls count.
    this.handleInput = (event) => {
      const t = event.target;
      if (t === this.el.outputGain || t.closest?.('.fine-tune')) this.update();
    };
    root.addEventListener('input', this.handleInput);
    this.update({ silent: true });
  }

  radio(name) {
    return this.root.querySelector(`input[name="${name}"]:checked`);
  }

  get values() {
    return {
      mode: this.radio('voice-mode')?.value ?? DEFAULT_PARAMS.mode,
      octaves: Number(this.radio('voice-octave')?.value ?? 0),
      inputGainDb: Number(this.el.inputGain.value),
      gateDb: Number(this.el.gate.value),
      dryWet: Number(this.el.dryWet.value) / 100,
      outputGainDb: Number(this.el.outputGain.value),
    };
  }

  setOctaves(octaves) {
    const input = this.root.querySelector(`input[name="voice-octave"][value="${octaves}"]`);
    if (!input || input.checked) return;
    input.checked = true;
    this.update();
  }

  update({ silent = false } = {}) {
    const v = this.values;
    const { el } = this;
    el.modeHint.textContent = MODE_HINTS[v.mode] ?? '';
    el.inputGainValue.textContent = `${signed(v.inputGainDb)} dB`;
    el.gateValue.textContent = v.gateDb <= GATE_OFF_DB ? 'off' : `${signed(v.gateDb)} dB`;
    const wet = Math.round(v.dryWet * 100);
    el.dryWetValue.textContent = wet === 100 ? '100 % instrument' : wet === 0 ? '100 % voice' : `${wet} % instrument`;
    el.outputGainValue.textContent = `${signed(v.outputGainDb)} dB`;
    el.gate.setAttribute('aria-valuetext', el.gateValue.textContent);
    el.dryWet.setAttribute('aria-valuetext', el.dryWetValue.textContent);
    el.inputGain.setAttribute('aria-valuetext', el.inputGainValue.textContent);
    el.outputGain.setAttribute('aria-valuetext', el.outputGainValue.textContent);
    if (!silent) this.onChange?.(v);
  }

  dispose() {
    this.root.removeEventListener('input', this.handleInput);
  }
}
