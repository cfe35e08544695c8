// The page's one AudioContext (web/src/audio/shared-audio.js): the page's own
// suspend and resume requests land in the order they were made, even when the
// browser takes its time with each (a loaded machine), and a panel that is no
// longer shown never wakes the device.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedAudio } from '../../web/src/audio/shared-audio.js';
import { Panel } from '../../web/src/ui/panel.js';

// A context whose suspend() and resume() take `delayMs` to change the state.
class SlowContext extends EventTarget {
  static delayMs = 30;
  constructor() {
    super();
    this.state = 'running';
  }
  change(state) {
    return new Promise((resolve) => setTimeout(() => {
      this.state = state;
      this.dispatchEvent(new Event('statechange'));
      resolve();
    }, SlowContext.delayMs));
  }
  suspend() { return this.change('suspended'); }
  resume() { return this.change('running'); }
  close() { return this.change('closed'); }
}

test('a resume asked while a suspend is in flight wins', async () => {
  const audio = new SharedAudio(SlowContext);
  audio.context();
  const rested = audio.suspend();
  const resumed = audio.resume();
  await Promise.all([rested, resumed]);
  assert.equal(audio.state, 'running');
  assert.equal(audio.pausedByBrowser, false);
});

test('a suspend asked while a resume is in flight wins', async () => {
  const audio = new SharedAudio(SlowContext);
  audio.context().state = 'suspended';
  const resumed = audio.resume();
  const rested = audio.suspend();
  await Promise.all([resumed, rested]);
  assert.equal(audio.state, 'suspended');
  assert.equal(audio.suspendedByPage, true, 'the page rested it: no "Resume audio" prompt');
});

test('a panel that is not shown does not wake the device', async () => {
  const audio = new SharedAudio(SlowContext);
  audio.context().state = 'suspended';
  const panel = Object.create(Panel.prototype);
  Object.assign(panel, { audio, visible: false, onContextState: () => assert.fail('no state report when hidden') });
  panel.resumeAudio();
  await panel.checkRunning();
  await new Promise((resolve) => setTimeout(resolve, 2 * SlowContext.delayMs));
  assert.equal(audio.state, 'suspended');
  panel.visible = true;
  let reported = null;
  panel.onContextState = (state) => { reported = state; };
  await panel.checkRunning();
  assert.equal(reported, 'running');
});
