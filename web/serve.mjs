#!/usr/bin/env node
// Timbrel's local static server: no dependencies, localhost only.
//
//   node web/serve.mjs [--port 8000] [--core-dir build-wasm/web] [--models-dir models]
//                      [--onnx-dir build-onnx]
//
//   /        -> web/                     (the page and its modules)
//   /core/   -> the WebAssembly build dir (timbrel-core.mjs)
//   /models/ -> the repository's models/ (read-only; only .json, .tmbl, .md and .wav files)
//   /onnx/   -> the ONNX graphs written from the shipped models at set-up
//               (scripts/setup.sh: build-onnx/; only .onnx and .json files)
//   /vendor/onnxruntime-web/ -> node_modules/onnxruntime-web/dist (only its .mjs
//               modules and .wasm binaries: the Notes panel's batch engine)
//
// Every response carries COOP/COEP/CORP so the page is cross-origin isolated
// (SharedArrayBuffer for the worklet's ring buffer), and a strict
// Content-Security-Policy (same-origin scripts, workers and requests only,
// WebAssembly compilation allowed; no framing). Port 0 picks a free port.
// Environment: PORT, TIMBREL_CORE_DIR, TIMBREL_MODELS_DIR, TIMBREL_ONNX_DIR (arguments win).
//
// Hardened for a visitor's browser on a shared machine: files are served
// only from inside their root (symbolic links that lead out are refused),
// a directory's redirect goes to its own canonical path on this origin, and
// only requests addressed to this server's own host name are answered (a
// page elsewhere cannot reach it through DNS rebinding).

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB_ROOT = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(WEB_ROOT, '..');

export const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wav': 'audio/wav',
  '.mid': 'audio/midi',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.tmbl': 'application/octet-stream',
};

// What /models/ serves: the index, model files, model cards and their short
// audio examples, nothing else (no training checkpoints, no .onnx graphs the
// page does not use).
export const MODEL_EXTENSIONS = new Set(['.json', '.tmbl', '.md', '.wav']);
// What /onnx/ serves: the exported graphs and the note of which model file they
// were written from.
export const ONNX_EXTENSIONS = new Set(['.onnx', '.json']);
// What /vendor/onnxruntime-web/ serves: ONNX Runtime Web's ES modules and the
// WebAssembly binaries they load (no CommonJS builds, no source maps).
export const VENDOR_EXTENSIONS = new Set(['.mjs', '.wasm']);
const ORT_DIST = path.join(REPO_ROOT, 'node_modules', 'onnxruntime-web', 'dist');

// The page loads only its own scripts, workers, models and clips; the core is
// WebAssembly compiled from bytes ('wasm-unsafe-eval'); downloads and decoded
// clips are blob: URLs; nothing may frame it.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument: ${arg}`);
    const key = m[1];
    let value = m[2];
    if (value === undefined) {
      if (key === 'help') { out.help = true; continue; }
      value = argv[++i];
      if (value === undefined) throw new Error(`--${key} needs a value`);
    }
    out[key] = value;
  }
  return out;
}

const inside = (root, full) => {
  const rel = path.relative(root, full);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

// Resolves a URL path under root; null when it escapes root or is malformed.
function resolveUnder(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const full = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  return inside(root, full) ? full : null;
}

// The file's real path (links followed) if it stays inside the root's; null otherwise.
function realUnder(rootReal, file, callback) {
  fs.realpath(file, (err, real) => callback(err ? null : inside(rootReal, real) ? real : null));
}

// Host headers this server answers: its own address and localhost, on its port.
export function allowedHost(host, port) {
  if (typeof host !== 'string') return false;
  const m = /^(127\.0\.0\.1|localhost|\[::1\])(?::(\d+))?$/i.exec(host.trim());
  return !!m && (m[2] === undefined ? port === 80 : Number(m[2]) === port);
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

const allowed = (extensions) => (file) => extensions.has(path.extname(file).toLowerCase());

export function createServer({ webRoot = WEB_ROOT, coreDir, modelsDir, onnxDir, ortDir = ORT_DIST } = {}) {
  const roots = [
    { prefix: '/core/', dir: path.resolve(coreDir ?? path.join(REPO_ROOT, 'build-wasm', 'web')) },
    {
      prefix: '/models/',
      dir: path.resolve(modelsDir ?? path.join(REPO_ROOT, 'models')),
      allow: allowed(MODEL_EXTENSIONS),
    },
    {
      prefix: '/onnx/',
      dir: path.resolve(onnxDir ?? path.join(REPO_ROOT, 'build-onnx')),
      allow: allowed(ONNX_EXTENSIONS),
    },
    { prefix: '/vendor/onnxruntime-web/', dir: path.resolve(ortDir), allow: allowed(VENDOR_EXTENSIONS) },
    { prefix: '/', dir: path.resolve(webRoot) },
  ];
  for (const root of roots) {
    try {
      root.real = fs.realpathSync(root.dir);
    } catch {
      root.real = root.dir; // not there (yet): every file under it is a 404
    }
  }

  const server = http.createServer((req, res) => {
    if (!allowedHost(req.headers.host, server.address()?.port)) {
      send(res, 421, 'Misdirected request: this server answers only to 127.0.0.1 and localhost\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    let pathname;
    try {
      pathname = new URL(req.url, 'http://localhost').pathname;
    } catch {
      send(res, 400, 'Bad request\n');
      return;
    }
    const root = roots.find((r) => pathname.startsWith(r.prefix));
    const file = resolveUnder(root.dir, pathname.slice(root.prefix.length));
    if (file === null || (root.allow && !root.allow(file) && !pathname.endsWith('/'))) {
      send(res, 404, 'Not found\n');
      return;
    }
    realUnder(root.real, file, (real) => {
      if (real === null) {
        send(res, 404, 'Not found\n');
        return;
      }
      fs.stat(real, (err, stat) => {
        if (!err && stat.isDirectory()) {
          if (!pathname.endsWith('/')) {
            // The directory's own path on this origin, built from what was resolved
            // (never from the request: "/.//evil.example/.." must not leave it).
            const rel = path.relative(root.real, real).split(path.sep).filter(Boolean).map(encodeURIComponent);
            res.writeHead(301, { ...SECURITY_HEADERS, Location: `${root.prefix}${rel.map((p) => `${p}/`).join('')}` });
            res.end();
            return;
          }
          const index = path.join(real, 'index.html');
          realUnder(root.real, index, (realIndex) => {
            if (realIndex === null) send(res, 404, 'Not found\n');
            else fs.stat(realIndex, (err2, stat2) => serveFile(req, res, realIndex, err2, stat2));
          });
          return;
        }
        if (root.allow && !root.allow(real)) {
          send(res, 404, 'Not found\n');
          return;
        }
        serveFile(req, res, real, err, stat);
      });
    });
  });
  return server;
}

function serveFile(req, res, file, err, stat) {
  if (err || !stat.isFile()) {
    send(res, 404, 'Not found\n');
    return;
  }
  const type = MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': stat.size,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`serve.mjs: ${e.message}`);
    process.exit(2);
  }
  if (args.help) {
    console.log('usage: node web/serve.mjs [--port N] [--core-dir DIR] [--models-dir DIR] [--onnx-dir DIR]');
    return;
  }
  const portText = args.port ?? process.env.PORT ?? '8000';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve.mjs: bad port "${portText}"`);
    process.exit(2);
  }
  const coreDir = path.resolve(args['core-dir'] ?? process.env.TIMBREL_CORE_DIR ?? path.join(REPO_ROOT, 'build-wasm', 'web'));
  if (!fs.existsSync(path.join(coreDir, 'timbrel-core.mjs'))) {
    console.warn(`serve.mjs: warning: ${coreDir}/timbrel-core.mjs not found; build it with emcmake (the page will report the missing core).`);
  }
  const modelsDir = path.resolve(args['models-dir'] ?? process.env.TIMBREL_MODELS_DIR ?? path.join(REPO_ROOT, 'models'));
  const onnxDir = path.resolve(args['onnx-dir'] ?? process.env.TIMBREL_ONNX_DIR ?? path.join(REPO_ROOT, 'build-onnx'));
  const server = createServer({ coreDir, modelsDir, onnxDir });
  server.on('error', (e) => {
    console.error(`serve.mjs: ${e.message}`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => {
    const { port: actual } = server.address();
    console.log(`Timbrel is running at http://127.0.0.1:${actual}/`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main();
}
