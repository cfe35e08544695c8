// web/serve.mjs against a hostile visitor (issue 12): no way out of its roots
// through symbolic links, no redirect to another origin, no answer to a host
// name other than its own (DNS rebinding), and the page's security headers.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { makeTempDir, startServer } from './harness.mjs';

// A raw GET with the headers given (fetch forbids setting Host).
function get(server, pathname, headers = {}) {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: pathname, headers }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('web/serve.mjs', () => {
  let server;
  let tmp;
  before(async () => {
    tmp = makeTempDir();
    const models = path.join(tmp, 'models');
    fs.mkdirSync(path.join(models, 'violin'), { recursive: true });
    fs.writeFileSync(path.join(models, 'index.json'), '[]');
    fs.writeFileSync(path.join(models, 'violin', 'violin.tmbl'), 'TMBL....');
    fs.writeFileSync(path.join(models, 'violin', 'example.wav'), 'RIFF....WAVE');
    fs.writeFileSync(path.join(models, 'violin', 'checkpoint.pt'), 'weights');
    fs.writeFileSync(path.join(tmp, 'secret.json'), '{"secret": true}');
    fs.mkdirSync(path.join(tmp, 'private'));
    fs.writeFileSync(path.join(tmp, 'private', 'index.json'), '{"private": true}');
    fs.symlinkSync(path.join(tmp, 'secret.json'), path.join(models, 'leak.json'));
    fs.symlinkSync(path.join(tmp, 'private'), path.join(models, 'elsewhere'));
    fs.symlinkSync(path.join(models, 'violin', 'violin.tmbl'), path.join(models, 'alias.tmbl'));
    const onnx = path.join(tmp, 'onnx', 'gmvae');
    fs.mkdirSync(onnx, { recursive: true });
    fs.writeFileSync(path.join(onnx, 'gmvae.decoder.onnx'), 'ONNX');
    fs.writeFileSync(path.join(onnx, 'source.json'), '{}');
    fs.writeFileSync(path.join(onnx, 'notes.txt'), 'not served');
    server = await startServer({ modelsDir: models, onnxDir: path.join(tmp, 'onnx') });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('symbolic links lead nowhere outside the root; inside, they work', async () => {
    assert.equal((await get(server, '/models/leak.json')).status, 404, 'a link to a file outside models/');
    assert.equal((await get(server, '/models/elsewhere/index.json')).status, 404, 'a link to a folder outside models/');
    const alias = await get(server, '/models/alias.tmbl');
    assert.equal(alias.status, 200, 'a link that stays inside');
    assert.equal(alias.body, 'TMBL....');
  });

  test('models/ serves the index, models, cards and audio examples, nothing else', async () => {
    const example = await get(server, '/models/violin/example.wav');
    assert.equal(example.status, 200, 'a model\'s audio example');
    assert.equal(example.headers['content-type'], 'audio/wav');
    assert.equal((await get(server, '/models/violin/checkpoint.pt')).status, 404, 'no training checkpoint');
  });

  test('onnx/ serves the exported graphs and their source note; vendor/ only ONNX Runtime Web\'s modules and binaries', async () => {
    const graph = await get(server, '/onnx/gmvae/gmvae.decoder.onnx');
    assert.equal(graph.status, 200);
    assert.equal(graph.headers['content-type'], 'application/octet-stream');
    assert.equal((await get(server, '/onnx/gmvae/source.json')).status, 200);
    assert.equal((await get(server, '/onnx/gmvae/notes.txt')).status, 404, 'nothing else from onnx/');
    const ort = await get(server, '/vendor/onnxruntime-web/ort.wasm.min.mjs');
    assert.equal(ort.status, 200, 'ONNX Runtime Web (npm ci)');
    assert.equal(ort.headers['content-type'], 'text/javascript; charset=utf-8');
    const wasm = await get(server, '/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm');
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers['content-type'], 'application/wasm');
    assert.equal(wasm.headers['cross-origin-resource-policy'], 'same-origin');
    for (const p of ['/vendor/onnxruntime-web/ort.min.js', '/vendor/onnxruntime-web/ort.wasm.min.mjs.map', '/vendor/onnxruntime-web/../package.json',
      '/vendor/onnxruntime-web/%2e%2e/package.json', '/vendor/onnxruntime-node/', '/vendor/']) {
      assert.equal((await get(server, p)).status, 404, p);
    }
  });

  test('a directory redirects only to its own path on this origin', async () => {
    for (const tricky of ['/.//evil.example/..%2fassets', '//evil.example/%2e%2e/assets', '/assets', '/%2fassets', '/\\evil.example/../assets']) {
      const r = await get(server, tricky);
      if (r.status === 301) {
        const target = new URL(r.headers.location, server.url);
        assert.equal(target.origin, new URL(server.url).origin, `${tricky} -> ${r.headers.location}`);
        assert.match(r.headers.location, /^\/[^/\\]/, `${tricky} -> ${r.headers.location} is a plain path`);
      } else {
        assert.ok([200, 404].includes(r.status), `${tricky}: ${r.status}`);
      }
    }
    const r = await get(server, '/assets');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/assets/');
  });

  test('only this server\'s own host names are answered', async () => {
    const port = new URL(server.url).port;
    assert.equal((await get(server, '/', { host: `127.0.0.1:${port}` })).status, 200);
    assert.equal((await get(server, '/', { host: `localhost:${port}` })).status, 200);
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${Number(port) + 1}`, `127.0.0.1.evil.example:${port}`]) {
      assert.equal((await get(server, '/', { host })).status, 421, `Host: ${host}`);
    }
    // No Host at all (HTTP/1.0 by hand).
    const reply = await new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end('GET / HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.[01] 421/, 'no Host header');
  });

  test('every response carries the page\'s security headers', async () => {
    for (const p of ['/', '/src/main.js', '/models/index.json', '/nothing-here']) {
      const { headers } = await get(server, p);
      assert.match(headers['content-security-policy'], /default-src 'self'/, p);
      assert.match(headers['content-security-policy'], /frame-ancestors 'none'/, p);
      assert.match(headers['content-security-policy'], /object-src 'none'/, p);
      assert.equal(headers['x-frame-options'], 'DENY', p);
      assert.equal(headers['cross-origin-opener-policy'], 'same-origin', p);
      assert.equal(headers['cross-origin-embedder-policy'], 'require-corp', p);
      assert.equal(headers['x-content-type-options'], 'nosniff', p);
    }
  });
});
