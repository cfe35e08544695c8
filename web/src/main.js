// Entry point: checks what the browser offers, then mounts the app shell and panels.

import { AppShell } from './app-shell.js';
import { checkCapabilities } from './capabilities.js';
import { DrawPanel } from './draw-panel.js';
import { ListenPanel } from './listen-panel.js';
import { ModelCatalog } from './model-catalog.js';
import { VoicePanel } from './voice-panel.js';

const capabilities = checkCapabilities(globalThis);
const shell = new AppShell(document);
const catalog = new ModelCatalog(); // one download per model, shared by the panels
const listen = new ListenPanel(document.getElementById('listen'), capabilities);
const voice = new VoicePanel(document.getElementById('voice'), capabilities, { catalog });
const draw = new DrawPanel(document.getElementById('draw'), capabilities, { catalog });
const panels = { listen, voice, draw };

// Leaving a panel stops what it plays (one microphone user at a time; a recording
// in progress is finished and stays downloadable).
shell.onChange = (name, previous) => {
  if (panels[previous]?.mode !== 'idle') panels[previous]?.stop();
  if (previous === 'draw') draw.deactivate();
  if (name === 'voice') voice.activate();
  if (name === 'draw') draw.activate();
};
if (shell.current === 'voice') voice.activate();
if (shell.current === 'draw') draw.activate();

// Handy for debugging and for the browser tests.
globalThis.timbrel = { capabilities, shell, listen, voice, draw };

addEventListener('pagehide', () => {
  listen.dispose();
  voice.dispose();
  draw.dispose();
  shell.dispose();
});
