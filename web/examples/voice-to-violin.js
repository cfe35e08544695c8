// Timbrel's voice engine in a Web Audio graph of your own:
// microphone -> VoiceEngine (the C++ core in an AudioWorklet) -> speakers.
import { VoiceEngine } from '../src/voice/voice-engine.js';

document.getElementById('start').addEventListener('click', async () => {
  const context = new AudioContext(); // inside the click: audio may start
  const voice = new VoiceEngine(context, { monitorGain: 1, params: { octaves: 1 } });
  await voice.start();
  const model = await fetch('../models/violin/violin.tmbl');
  await voice.loadModel(await model.arrayBuffer()); // checked and laid out in a Worker
  const constraints = { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } };
  const mic = await navigator.mediaDevices.getUserMedia(constraints);
  context.createMediaStreamSource(mic).connect(voice.input);
  voice.connect(context.destination);
  document.getElementById('state').textContent = 'playing';
  globalThis.example = { context, voice }; // for the example's test
}, { once: true });
