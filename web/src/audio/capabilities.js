// What this browser offers the audio engine. Each problem comes with a message
// written for a visitor, not a developer.

export function checkCapabilities(win = globalThis) {
  const AudioContextClass = win.AudioContext ?? win.webkitAudioContext;
  const problems = [];
  const audio = typeof AudioContextClass === 'function';
  const worklet = audio && typeof win.AudioWorkletNode === 'function' &&
    'audioWorklet' in AudioContextClass.prototype;
  const sharedMemory = typeof win.SharedArrayBuffer === 'function';
  const isolated = win.crossOriginIsolated === true;
  const microphone = !!(win.navigator?.mediaDevices?.getUserMedia);

  if (!audio || !worklet) {
    problems.push({
      key: 'no-worklet',
      fatal: true,
      title: 'This browser can’t run Timbrel’s audio engine.',
      text: 'It needs Web Audio with AudioWorklet, found in current Chrome, Edge, Firefox and Safari. Please update your browser or try another one.',
    });
  }
  if (!isolated || !sharedMemory) {
    problems.push({
      key: 'not-isolated',
      fatal: true,
      title: 'The page isn’t cross-origin isolated.',
      text: !sharedMemory
        ? 'This browser has no SharedArrayBuffer here, which the analyser uses to pass results from the audio thread. Open the page through Timbrel’s own server (node web/serve.mjs), which sends the headers that enable it.'
        : 'The analyser shares memory with the audio thread, which browsers allow only on cross-origin-isolated pages. Open the page through Timbrel’s own server (node web/serve.mjs), which sends the COOP/COEP headers.',
    });
  }
  if (!microphone) {
    problems.push({
      key: 'no-getusermedia',
      fatal: false,
      title: 'No microphone access in this browser.',
      text: win.isSecureContext === false
        ? 'Browsers allow the microphone only on secure pages (https:// or http://localhost). You can still play the example clip.'
        : 'This browser doesn’t offer microphone input to web pages. You can still play the example clip.',
    });
  }
  return {
    AudioContextClass,
    audio,
    worklet,
    sharedMemory,
    isolated,
    microphone,
    canRun: problems.every((p) => !p.fatal),
    problems,
  };
}
