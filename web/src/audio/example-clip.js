// The example clip shipped with the page (web/assets/example-voice.wav, made by
// web/assets/make-example-voice.sh), played through the analyser instead of the
// microphone. It is also heard directly, unless the monitor already plays it.

import { BufferPlayer } from './clip-player.js';

export const EXAMPLE_URL = new URL('../../assets/example-voice.wav', import.meta.url);

const decoded = new WeakMap(); // AudioContext -> Promise<AudioBuffer>

export function loadExample(context, url = EXAMPLE_URL) {
  let promise = decoded.get(context);
  if (!promise) {
    promise = (async () => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`the example clip could not be downloaded (HTTP ${response.status})`);
      const bytes = await response.arrayBuffer();
      return context.decodeAudioData(bytes);
    })();
    promise.catch(() => decoded.delete(context));
    decoded.set(context, promise);
  }
  return promise;
}

// The example clip as a source: heard directly too, unless the monitor plays it.
export class ExamplePlayer extends BufferPlayer {
  // direct: whether the clip is also heard directly (not only through the monitor).
  constructor(context, buffer, { direct = true } = {}) {
    super(context, buffer, { loop: false, label: 'example clip' });
    this.dry = context.createGain();
    this.dry.gain.value = direct ? 1 : 0;
    this.node.connect(this.dry).connect(context.destination);
  }

  // When the monitor plays the core's output, the direct sound is muted (no doubling).
  setDirectSound(on) {
    const g = this.dry.gain;
    g.cancelScheduledValues(this.context.currentTime);
    g.setTargetAtTime(on ? 1 : 0, this.context.currentTime, 0.01);
  }

  dispose() {
    super.dispose();
    this.dry.disconnect();
  }
}
