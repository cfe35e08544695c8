// The Transcribe panel's engine: plays the clip and the notes found (rendered
// back through the model by the Worker) through its output. Transcription
// itself runs in the Worker (midi/midi-renderer.js: the C++ TranscribeKernel);
// nothing runs on the audio thread, so there is no worklet.

import { Engine } from '../audio/engine.js';

export class TranscribeEngine extends Engine {
  get label() {
    return 'audio player';
  }
}
