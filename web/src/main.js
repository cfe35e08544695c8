// Entry point: checks what the browser offers, then mounts the app shell and panels.

import { AppShell } from './app-shell.js';
import { checkCapabilities } from './capabilities.js';
import { ListenPanel } from './listen-panel.js';
import { VoicePanel } from './voice-panel.js';

const capabilities = checkCapabilities(globalThis);
const shell = new AppShell(document);
const listen = new ListenPanel(document.getElementById('listen'), capabilities);
const voice = new VoicePanel(document.getElementById('voice'), capabilities);
const panels = { listen, voice };

// Leaving a panel stops what it plays (one microphone user at a time; a recording
// in progress is finished and stays downloadable).
shell.onChange = (name, previous) => {
  if (panels[previous]?.mode !== 'idle') panels[previous]?.stop();
  if (name === 'voice') voice.activate();
};
if (shell.current === 'voice') voice.activate();

// Handy for debugging and for the browser tests.
globalThis.timbrel = { capabilities, shell, listen, voice };

addEventListener('pagehide', () => {
  listen.dispose();
  voice.dispose();
  shell.dispose();
});
