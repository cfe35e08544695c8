// Web MIDI input: a MIDI keyboard plugged into the computer plays the live
// instrument. Access is asked for when the visitor presses "Connect" (the
// browser may prompt), every input is listened to (devices plugged in later
// too), and the state is said in words: connected devices, none, not offered
// by this browser, or refused.

// {type: 'on' | 'off', pitch, velocity} for a note message, else null.
export function parseMidiMessage(data) {
  if (!data || data.length < 3) return null;
  const status = data[0] & 0xf0;
  const pitch = data[1] & 0x7f;
  const velocity = data[2] & 0x7f;
  if (status === 0x90 && velocity > 0) return { type: 'on', pitch, velocity, channel: data[0] & 15 };
  if (status === 0x80 || status === 0x90) return { type: 'off', pitch, velocity: 0, channel: data[0] & 15 };
  if (status === 0xb0 && (pitch === 123 || pitch === 120)) return { type: 'all-off', pitch: 0, velocity: 0, channel: data[0] & 15 };
  return null;
}

// A visitor-friendly explanation of why MIDI input is not there.
export function describeMidiError(error) {
  switch (error?.name) {
    case 'NotSupportedError':
      return {
        key: 'midi-unsupported',
        title: 'This browser has no Web MIDI.',
        text: 'MIDI keyboards work in Chrome, Edge, Opera and Firefox. The on-screen keyboard and your computer keys still play.',
      };
    case 'NotAllowedError':
    case 'SecurityError':
      return {
        key: 'midi-denied',
        title: 'MIDI access was refused.',
        text: 'Allow MIDI devices for this page (the icon in the address bar), then press Connect again. The on-screen keyboard and your computer keys still play.',
      };
    default:
      return {
        key: 'midi-error',
        title: 'MIDI devices could not be opened.',
        text: `${error?.message || error}. The on-screen keyboard and your computer keys still play.`,
      };
  }
}

export class MidiInput {
  constructor(nav = globalThis.navigator) {
    this.nav = nav;
    this.access = null;
    this.inputs = new Set();
    this.onNote = null; // ({type, pitch, velocity}) => void
    this.onDevices = null; // (names: string[]) => void
    this.handleMessage = (event) => {
      const message = parseMidiMessage(event.data);
      if (message) this.onNote?.(message);
    };
    this.handleState = () => this.refresh();
  }

  static get available() {
    return typeof globalThis.navigator?.requestMIDIAccess === 'function';
  }

  // Resolves the device names; rejects with an error describeMidiError explains.
  async connect() {
    if (typeof this.nav?.requestMIDIAccess !== 'function') {
      const error = new Error('Web MIDI is not available');
      error.name = 'NotSupportedError';
      throw error;
    }
    if (!this.access) {
      this.access = await this.nav.requestMIDIAccess({ sysex: false });
      this.access.addEventListener?.('statechange', this.handleState);
    }
    return this.refresh();
  }

  refresh() {
    if (!this.access) return [];
    const names = [];
    const current = new Set();
    for (const input of this.access.inputs.values()) {
      if (input.state === 'disconnected') continue;
      current.add(input);
      names.push(input.name || 'MIDI device');
      if (!this.inputs.has(input)) input.addEventListener('midimessage', this.handleMessage);
    }
    for (const input of this.inputs) if (!current.has(input)) input.removeEventListener('midimessage', this.handleMessage);
    this.inputs = current;
    this.onDevices?.(names);
    return names;
  }

  dispose() {
    for (const input of this.inputs) input.removeEventListener('midimessage', this.handleMessage);
    this.inputs.clear();
    this.access?.removeEventListener?.('statechange', this.handleState);
    this.access = null;
  }
}
