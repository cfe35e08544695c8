// Model images in the WebAssembly build: prepareModel (a Worker's or the main
// thread's job) and beginImage / copy into the heap in 256 KiB slices /
// adoptImage on the worklet's kernels give exactly what loadModel gives, and a
// bad image or size is explained, never thrown.
//
//   TIMBREL_CORE_DIR=build-wasm/web node --test tests/wasm/
import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { loadCore, repoBytes as file } from './core.mjs';

const BLOCK = 128;
const SLICE = 256 * 1024; // what the page copies per render quantum

let core;
let models;

before(async () => {
  core = await loadCore();
  models = {
    vqGolden: file('tests', 'golden', 'vq', 'model.tmbl'),
    drawGolden: file('tests', 'golden', 'draw', 'model.tmbl'),
    violin: file('models', 'violin', 'violin.tmbl'),
    crossmodalSolo: file('tests', 'golden', 'crossmodal', 'solo', 'model.tmbl'),
    crossmodalViolin: file('models', 'crossmodal', 'violin', 'violin.tmbl'),
  };
});

function prepare(bytes, family) {
  const p = core.prepareModel(bytes, family);
  assert.equal(p.error, '');
  assert.ok(p.image instanceof Uint8Array && p.image.length > 0);
  return p;
}

// The page's hand-over: the staging block, the image copied in slices (the
// heap view taken afresh: beginImage may grow the memory), then adoption.
function adopt(kernel, image) {
  const at = kernel.beginImage(image.length);
  assert.notEqual(at, 0, kernel.error());
  for (let offset = 0; offset < image.length; offset += SLICE) {
    core.HEAPU8.set(image.subarray(offset, offset + SLICE), at + offset);
  }
  return kernel.adoptImage();
}

function output(kernel, blocks, before = () => {}) {
  const out = new Float32Array(blocks * BLOCK);
  for (let b = 0; b < blocks; b++) {
    before(b);
    kernel.process(BLOCK);
    const at = kernel.outputPtr() >> 2;
    out.set(core.HEAPF32.subarray(at, at + BLOCK), b * BLOCK);
  }
  return out;
}

function withKernels(make, fn) {
  const a = make();
  const b = make();
  try {
    fn(a, b);
  } finally {
    a.delete();
    b.delete();
  }
}

test('prepareModel: an image and the facts the kernels give after loadModel', () => {
  const p = prepare(models.violin, 'vq_timbre');
  withKernels(() => new core.VoiceKernel(48000, BLOCK), (k) => {
    assert.equal(k.loadModel(models.violin), '');
    assert.equal(p.info, k.modelInfo());
  });
  const c = prepare(models.crossmodalViolin, 'crossmodal_vae');
  const render = new core.MidiRenderKernel();
  try {
    assert.equal(render.loadModel(models.crossmodalViolin), '');
    assert.deepEqual(JSON.parse(c.info), render.describe());
  } finally {
    render.delete();
  }
  // An ArrayBuffer works as well as a Uint8Array.
  assert.deepEqual(core.prepareModel(models.vqGolden.slice().buffer, 'vq_timbre').image,
    prepare(models.vqGolden, 'vq_timbre').image);
});

test('prepareModel explains bad input: family, damaged file, not bytes', () => {
  for (const [bytes, family, pattern] of [
    [models.vqGolden, 'tuba', /unknown model family 'tuba'/],
    [models.vqGolden, 'gmvae', /not 'gmvae'/],
    [models.vqGolden, 'crossmodal_vae', /not 'crossmodal_vae'/],
    [models.crossmodalSolo, 'vq_timbre', /not 'vq_timbre'/],
    [models.vqGolden.subarray(0, 500), 'vq_timbre', /truncated/],
    ['not bytes', 'vq_timbre', /no model bytes/],
    [null, 'vq_timbre', /no model bytes/],
  ]) {
    const p = core.prepareModel(bytes, family);
    assert.match(p.error, pattern);
    assert.equal(p.image.length, 0);
    assert.equal(p.info, '');
  }
});

test('VoiceKernel: an adopted image plays what loadModel plays, switch included', () => {
  const first = prepare(models.vqGolden, 'vq_timbre').image;
  const second = prepare(models.violin, 'vq_timbre').image;
  const input = new Float32Array(BLOCK);
  withKernels(() => new core.VoiceKernel(48000, BLOCK), (byFile, byImage) => {
    assert.equal(byFile.loadModel(models.vqGolden), '');
    assert.equal(adopt(byImage, first), '');
    assert.equal(byImage.modelInfo(), byFile.modelInfo());
    const feed = (kernel) => (b) => {
      for (let i = 0; i < BLOCK; i++) input[i] = 0.3 * Math.sin((2 * Math.PI * 220 * (b * BLOCK + i)) / 48000);
      core.HEAPF32.set(input, kernel.inputPtr() >> 2);
      if (b === 60) {
        // The switch: parsed on the "audio thread", or adopted from the image.
        if (kernel === byFile) assert.equal(byFile.loadModel(models.violin), '');
        else assert.equal(adopt(byImage, second), '');
      }
    };
    const a = output(byFile, 400, feed(byFile));
    const b = output(byImage, 400, feed(byImage));
    assert.deepEqual(b, a);
    assert.ok(a.some((v) => v !== 0));
    assert.equal(byImage.switching(), false);
    assert.equal(byImage.modelInfo(), byFile.modelInfo());
    byImage.collect();
  });
});

test('DrawKernel: an adopted image gives the same table, map and sound', () => {
  const image = prepare(models.drawGolden, 'vq_timbre').image;
  withKernels(() => new core.DrawKernel(48000, BLOCK, 2600), (byFile, byImage) => {
    assert.equal(byFile.loadModel(models.drawGolden, false), '');
    assert.equal(adopt(byImage, image), '');
    assert.equal(byImage.modelInfo(), byFile.modelInfo());
    assert.equal(byImage.tableJson(), byFile.tableJson());
    assert.deepEqual(byImage.codebookMap(), byFile.codebookMap());
    assert.deepEqual(byImage.descriptorRange('centroid'), byFile.descriptorRange('centroid'));
    for (const k of [byFile, byImage]) {
      const range = k.descriptorRange('centroid');
      const curve = Float32Array.from({ length: 100 }, (_, i) => range.min + ((range.max - range.min) * i) / 99);
      assert.equal(k.setHops(100), '');
      assert.equal(k.setTarget('centroid', curve, 1), '');
      assert.equal(k.commit(), '');
      k.play();
    }
    assert.deepEqual(output(byImage, 200), output(byFile, 200));
    byFile.playCode(5);
    byImage.playCode(5);
    assert.deepEqual(output(byImage, 50), output(byFile, 50));
  });
  // A model without a descriptor table is refused as loadModel(bytes, false) refuses it.
  withKernels(() => new core.DrawKernel(48000, BLOCK, 100), (byFile, byImage) => {
    const refused = byFile.loadModel(models.vqGolden, false);
    assert.match(refused, /no descriptor table/);
    assert.equal(adopt(byImage, prepare(models.vqGolden, 'vq_timbre').image), refused);
    assert.equal(byImage.hasModel(), false);
  });
});

test('MidiKernel: an adopted image plays the notes loadModel plays', () => {
  for (const bytes of [models.crossmodalSolo, models.crossmodalViolin]) {
    const image = prepare(bytes, 'crossmodal_vae').image;
    withKernels(() => new core.MidiKernel(48000, BLOCK), (byFile, byImage) => {
      assert.equal(byFile.loadModel(bytes), '');
      assert.equal(adopt(byImage, image), '');
      assert.equal(byImage.hasModel(), true);
      const play = (kernel) => (b) => {
        if (b === 0) kernel.noteOn(69, 90);
        if (b === 40) kernel.noteOn(76, 60);
        if (b === 80) kernel.allNotesOff();
        if (b === 90) kernel.setPad(0.2, -0.3, true);
        if (b === 130) kernel.setMorph(60, 40, 67, 120, 0.5, true);
      };
      const a = output(byFile, 170, play(byFile));
      assert.deepEqual(output(byImage, 170, play(byImage)), a);
      assert.ok(a.some((v) => v !== 0));
    });
  }
});

test('bad images and sizes are explained; the current model plays on', () => {
  const image = prepare(models.vqGolden, 'vq_timbre').image;
  withKernels(() => new core.VoiceKernel(48000, BLOCK), (k) => {
    assert.match(k.adoptImage(), /no model image: call beginImage first/);
    assert.equal(k.beginImage(0), 0);
    assert.match(k.error(), /holds 1 to \d+ bytes, got 0/);
    assert.equal(k.beginImage(2 ** 40), 0);
    assert.match(k.error(), /holds 1 to \d+ bytes/);
    assert.equal(adopt(k, image), '');
    const damaged = image.slice();
    damaged[100] ^= 0xff; // a graph record: caught by the structure's checksum
    assert.match(adopt(k, damaged), /model image: checksum mismatch/);
    assert.match(adopt(k, image.subarray(0, image.length - 1)), /truncated or padded/);
    assert.match(adopt(k, models.vqGolden), /bad magic: not a Timbrel model image/);
    assert.equal(k.error(), '');
    assert.equal(k.hasModel(), true);
    // A cancelled hand-over leaves nothing to adopt.
    assert.notEqual(k.beginImage(image.length), 0);
    k.cancelImage();
    assert.match(k.adoptImage(), /call beginImage first/);
  });
  const bad = new core.MidiKernel(1000, BLOCK);
  try {
    assert.match(adopt(bad, prepare(models.crossmodalSolo, 'crossmodal_vae').image), /1000 Hz/);
  } finally {
    bad.delete();
  }
});
