// Node unit tests of the Voice panel's DOM-free modules (no browser): the WAV
// writer, the shared sample ring, the octave suggestion, and the /models/ route of
// the local server.
//
//   node --test tests/web/voice-modules.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { decodeWav, encodeWav, FORMAT } from '../../web/src/audio/wav.js';
import { AudioRingReader, AudioRingWriter, STATUS, createAudioRing } from '../../web/src/worklet/audio-ring.js';
import { suggestOctaves } from '../../web/src/voice/voice-meters.js';
import { checkModelBytes } from '../../web/src/audio/model-catalog.js';
import { formatBytes, formatNoteRange, plainCardFacts } from '../../web/src/ui/model-picker.js';
import { levelTrimDb } from '../../web/src/voice/voice-panel.js';
import { REPO, makeTempDir, startServer } from './harness.mjs';

describe('WAV writer', () => {
  const signal = Float32Array.from({ length: 1000 }, (_, i) => 0.9 * Math.sin(i / 7));
  signal[10] = 1.5; // clipped in 16-bit
  signal[11] = -2;
  signal[12] = NaN; // written as 0

  test('16-bit PCM: header fields and samples round-trip to half an LSB', () => {
    const bytes = encodeWav([signal], 44100, FORMAT.PCM16);
    const view = new DataView(bytes);
    assert.equal(String.fromCharCode(...new Uint8Array(bytes, 0, 4)), 'RIFF');
    assert.equal(view.getUint32(4, true), bytes.byteLength - 8);
    assert.equal(view.getUint16(20, true), 1);
    assert.equal(view.getUint32(24, true), 44100);
    assert.equal(view.getUint32(28, true), 88200);
    assert.equal(view.getUint32(40, true), 2000);
    const { sampleRate, channels } = decodeWav(bytes);
    assert.equal(sampleRate, 44100);
    assert.equal(channels[0].length, 1000);
    assert.equal(channels[0][10], 1);
    assert.equal(channels[0][11], -1);
    assert.equal(channels[0][12], 0);
    for (let i = 13; i < 1000; i++) assert.ok(Math.abs(channels[0][i] - signal[i]) <= 0.5 / 32767 + 1e-7);
  });

  test('32-bit float: exact, with a fact chunk; stereo interleaves', () => {
    const other = signal.map((v) => -v);
    const bytes = encodeWav([signal, other], 48000, FORMAT.FLOAT32);
    const view = new DataView(bytes);
    assert.equal(view.getUint16(20, true), 3);
    assert.equal(view.getUint16(22, true), 2);
    assert.equal(String.fromCharCode(...new Uint8Array(bytes, 36, 4)), 'fact');
    const { channels } = decodeWav(bytes);
    assert.equal(channels.length, 2);
    assert.equal(channels[0][100], signal[100]);
    assert.equal(channels[1][100], -signal[100]);
    assert.equal(channels[0][10], 1.5); // float keeps what 16-bit clips
    assert.equal(channels[0][12], 0);
  });

  test('hostile WAVs are refused at once: 0 channels (once an endless loop), 0 bits, a short format chunk', () => {
    const zero = fs.readFileSync(path.join(REPO, 'tests/hostile/zero_channels.wav'));
    assert.throws(() => decodeWav(new Uint8Array(zero)), /WAV file with 0 channels \(1-64 can be read\)/);
    const bytes = new Uint8Array(encodeWav([signal], 44100, FORMAT.PCM16));
    const noBits = bytes.slice();
    new DataView(noBits.buffer).setUint16(34, 0, true);
    assert.throws(() => decodeWav(noBits), /unsupported WAV encoding \(format 1, 0 bits\)/);
    const shortFormat = bytes.slice();
    new DataView(shortFormat.buffer).setUint32(16, 4, true);
    assert.throws(() => decodeWav(shortFormat), /WAV format chunk too short/);
  });

  test('rejects what it cannot write', () => {
    assert.throws(() => encodeWav([], 48000));
    assert.throws(() => encodeWav([new Float32Array(2), new Float32Array(3)], 48000));
    assert.throws(() => encodeWav([new Float32Array(2)], 44100.5));
    assert.throws(() => encodeWav([new Float32Array(2)], 48000, 'mp3'));
  });
});

describe('shared sample ring', () => {
  test('frames come out in order, input and output paired', () => {
    const sab = createAudioRing(1 << 14);
    const writer = new AudioRingWriter(sab);
    const reader = new AudioRingReader(sab);
    const heap = new Float32Array(256);
    let next = 0;
    for (let q = 0; q < 50; q++) {
      for (let i = 0; i < 128; i++) {
        heap[i] = next + i;
        heap[128 + i] = -(next + i);
      }
      next += 128;
      writer.write(heap, 0, 128, 128);
    }
    const scratch = { input: new Float32Array(1000), output: new Float32Array(1000) };
    let expect = 0;
    const n = reader.read(scratch, (input, output) => {
      for (let i = 0; i < input.length; i++) {
        assert.equal(input[i], expect);
        assert.equal(output[i], -expect);
        expect++;
      }
    });
    assert.equal(n, 6400);
    assert.equal(reader.read(scratch, () => assert.fail('nothing new')), 0);
  });

  test('a reader that falls behind skips what was overwritten and counts it', () => {
    const capacity = 1 << 13;
    const sab = createAudioRing(capacity);
    const writer = new AudioRingWriter(sab);
    const reader = new AudioRingReader(sab);
    const heap = new Float32Array(256);
    for (let q = 0; q < 100; q++) {
      heap.fill(q);
      writer.write(heap, 0, 128, 128);
    }
    const scratch = { input: new Float32Array(512), output: new Float32Array(512) };
    let first = -1;
    const n = reader.read(scratch, (input) => {
      if (first < 0) first = input[0];
    });
    assert.equal(n + reader.lapped, 12800);
    assert.ok(reader.lapped > 0);
    assert.equal(Atomics.load(new Int32Array(sab, 0, 16), STATUS.RECORD_LAPS), reader.lapped);
    assert.ok(first > 0, 'the oldest frames were skipped');
  });

  test('meters and counters', () => {
    const sab = createAudioRing(1 << 12);
    const writer = new AudioRingWriter(sab);
    const reader = new AudioRingReader(sab);
    writer.setMeters(-12, -6, 220, 1, 1542);
    writer.count(STATUS.LOST_QUANTA, 3);
    assert.equal(reader.get(STATUS.LOST_QUANTA), 3);
    assert.equal(reader.get(STATUS.METER_SEQ), 1);
    assert.equal(reader.meters[2], 220);
    assert.throws(() => createAudioRing(1000), /power of two/);
  });
});

describe('octave suggestion', () => {
  test('moves the voice nearest the middle of the range (the CLI and the cards do the same)', () => {
    assert.equal(suggestOctaves(550, [208, 1490]), 0); // violin: centre 557 Hz
    assert.equal(suggestOctaves(220, [208, 1490]), 1); // A3 -> A4, not the range's bottom edge
    assert.equal(suggestOctaves(110, [208, 1490]), 2);
    assert.equal(suggestOctaves(440, [41, 330]), -2); // contrabass-like range, centre 116 Hz
    assert.equal(suggestOctaves(110, [1000, 4000]), 3); // as near as -3..3 gets
    assert.equal(suggestOctaves(0, [100, 800]), null);
    assert.equal(suggestOctaves(220, null), null);
  });
});

describe('model files', () => {
  test('quick checks before the audio thread sees the bytes', () => {
    assert.throws(() => checkModelBytes(new TextEncoder().encode('hello, not a model').buffer), /not a Timbrel model/);
    assert.throws(() => checkModelBytes(new ArrayBuffer(8)), /not a Timbrel model/);
    const ok = new Uint8Array(64);
    ok.set([0x54, 0x4d, 0x42, 0x4c]);
    assert.doesNotThrow(() => checkModelBytes(ok.buffer));
  });
});

describe('model facts in plain words', () => {
  test('sizes, note ranges and the card\'s figures', () => {
    assert.equal(formatBytes(150), '150 bytes');
    assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MB');
    assert.equal(formatNoteRange([220, 440]), 'A3 – A4 (220 Hz – 440 Hz)');
    const card = fs.readFileSync(path.join(REPO, 'models', 'violin', 'MODEL_CARD.md'), 'utf8');
    const facts = Object.fromEntries(plainCardFacts(card, 'Violin'));
    assert.match(facts['Learned from'], /^\d+ minutes of violin playing$/);
    assert.match(facts['Keeps your melody'], /^within \d+ cents? /);
    assert.match(facts['Unseen sounds'], /melody kept within (1 cent|\d+ cents)$/);
    // Transfer accuracy is quoted only once the judge passes its bar on the held-out font.
    const judge = JSON.parse(fs.readFileSync(path.join(REPO, 'models', 'classifier', 'metrics.json'), 'utf8'));
    if (judge.passed) assert.match(facts['Sounds like it'], /^\d+ % of the time/);
    else assert.equal(facts['Sounds like it'], undefined, 'no accuracy from a judge under its bar');
    assert.deepEqual(plainCardFacts('# no figures here', 'Violin'), []);
  });

  test('the volume evens out the models\' levels, within 12 dB', () => {
    assert.equal(levelTrimDb({ outputLevelDb: -26 }), 6);
    assert.equal(levelTrimDb({ outputLevelDb: -45 }), 12);
    assert.equal(levelTrimDb({ outputLevelDb: null }), 0);
    assert.equal(levelTrimDb(null), 0);
  });
});

describe('web/serve.mjs /models/', () => {
  let server;
  let tmp;
  before(async () => {
    tmp = makeTempDir();
    const models = path.join(tmp, 'models');
    fs.mkdirSync(path.join(models, 'violin'), { recursive: true });
    fs.writeFileSync(path.join(models, 'index.json'), '[]');
    fs.writeFileSync(path.join(models, 'violin', 'violin.tmbl'), 'TMBL....');
    fs.writeFileSync(path.join(models, 'violin', 'MODEL_CARD.md'), '# Violin');
    fs.writeFileSync(path.join(models, 'violin', 'checkpoint.pt'), 'secret');
    fs.writeFileSync(path.join(tmp, 'outside.json'), '{}');
    server = await startServer({ modelsDir: models });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('serves the index, model files and cards, isolated, and nothing else', async () => {
    const get = (p) => fetch(new URL(p, server.url));
    let r = await get('models/index.json');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /json/);
    assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
    r = await get('models/violin/violin.tmbl');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.equal((await get('models/violin/MODEL_CARD.md')).status, 200);
    assert.equal((await get('models/violin/checkpoint.pt')).status, 404, 'unknown extensions are not served');
    assert.equal((await get('models/')).status, 404, 'no listing');
    assert.equal((await get('models/..%2foutside.json')).status, 404, 'no way out of models/');
    assert.equal((await fetch(new URL('models/index.json', server.url), { method: 'POST' })).status, 405);
  });
});
