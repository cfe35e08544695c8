// Entry point: checks what the browser offers, then mounts the app shell and panels.

import { AppShell } from './app-shell.js';
import { checkCapabilities } from './capabilities.js';
import { DrawPanel } from './draw-panel.js';
import { ListenPanel } from './listen-panel.js';
import { CrossmodalCatalog } from './midi-catalog.js';
import { MidiPanel } from './midi-panel.js';
import { ModelCatalog } from './model-catalog.js';
import { TranscribePanel } from './transcribe-panel.js';
import { VoicePanel } from './voice-panel.js';

const capabilities = checkCapabilities(globalThis);
const shell = new AppShell(document);
const catalog = new ModelCatalog(); // one download per model, shared by the panels
const listen = new ListenPanel(document.getElementById('listen'), capabilities);
const voice = new VoicePanel(document.getElementById('voice'), capabilities, { catalog });
const draw = new DrawPanel(document.getElementById('draw'), capabilities, { catalog });
const noteCatalog = new CrossmodalCatalog(); // the cross-modal models, shared by MIDI and Transcribe
const midi = new MidiPanel(document.getElementById('midi'), capabilities, { catalog: noteCatalog });
const transcribe = new TranscribePanel(document.getElementById('transcribe'), capabilities, { catalog: noteCatalog });
const panels = { listen, voice, draw, midi, transcribe };
// Panels that start work when shown and rest when left.
const activating = { voice, draw, midi, transcribe };

// Leaving a panel stops what it plays (one microphone user at a time; a recording
// in progress is finished and stays downloadable).
shell.onChange = (name, previous) => {
  if (panels[previous]?.mode !== 'idle') panels[previous]?.stop();
  panels[previous]?.deactivate?.();
  activating[name]?.activate();
};
activating[shell.current]?.activate();

// Handy for debugging and for the browser tests.
globalThis.timbrel = { capabilities, shell, listen, voice, draw, midi, transcribe };

addEventListener('pagehide', () => {
  listen.dispose();
  voice.dispose();
  draw.dispose();
  midi.dispose();
  transcribe.dispose();
  shell.dispose();
});
