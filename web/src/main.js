// Entry point: checks what the browser offers, makes the page's one AudioContext
// holder, then mounts the app shell and the panels (one feature folder each).

import { checkCapabilities } from './audio/capabilities.js';
import { ModelCatalog } from './audio/model-catalog.js';
import { SharedAudio } from './audio/shared-audio.js';
import { DrawPanel } from './draw/draw-panel.js';
import { GrainsPanel } from './grains/grains-panel.js';
import { ListenPanel } from './listen/listen-panel.js';
import { CrossmodalCatalog } from './midi/midi-catalog.js';
import { MidiPanel } from './midi/midi-panel.js';
import { NotesPanel } from './notes/notes-panel.js';
import { TranscribePanel } from './transcribe/transcribe-panel.js';
import { AppShell } from './ui/app-shell.js';
import { VoicePanel } from './voice/voice-panel.js';

const capabilities = checkCapabilities(globalThis);
const audio = new SharedAudio(capabilities.AudioContextClass); // created on the first gesture
const shell = new AppShell(document);
const catalog = new ModelCatalog(); // the voice models, shared by Voice and Draw
const noteCatalog = new CrossmodalCatalog(); // the cross-modal models, shared by MIDI and Transcribe
const panel = (id) => document.getElementById(id);
const options = { audio, capabilities };
const panels = {
  voice: new VoicePanel(panel('voice'), { ...options, catalog }),
  listen: new ListenPanel(panel('listen'), options),
  draw: new DrawPanel(panel('draw'), { ...options, catalog }),
  midi: new MidiPanel(panel('midi'), { ...options, catalog: noteCatalog }),
  transcribe: new TranscribePanel(panel('transcribe'), { ...options, catalog: noteCatalog }),
  notes: new NotesPanel(panel('notes'), options), // the GMVAE note model (models/gmvae/)
  grains: new GrainsPanel(panel('grains'), options), // the neural granular drum models (models/grains/)
};

// Leaving a panel stops what it plays (one microphone user at a time; a recording
// in progress is finished and stays downloadable) and lets its engine rest.
shell.onChange = (name, previous) => {
  panels[previous]?.deactivate();
  panels[name]?.activate();
};
panels[shell.current]?.activate();

// Handy for debugging and for the browser tests.
globalThis.timbrel = { capabilities, audio, shell, ...panels };

addEventListener('pagehide', () => {
  for (const p of Object.values(panels)) p.dispose();
  shell.dispose();
  audio.dispose();
});
