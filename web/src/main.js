// Entry point: checks what the browser offers, then mounts the app shell and panels.

import { AppShell } from './app-shell.js';
import { checkCapabilities } from './capabilities.js';
import { ListenPanel } from './listen-panel.js';

const capabilities = checkCapabilities(globalThis);
const shell = new AppShell(document);
const listen = new ListenPanel(document.getElementById('listen'), capabilities);

// Handy for debugging and for the browser tests.
globalThis.timbrel = { capabilities, shell, listen };

addEventListener('pagehide', () => {
  listen.dispose();
  shell.dispose();
});
