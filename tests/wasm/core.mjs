// What the WebAssembly tests share: where the repository and the built module
// are, and loading the module as the page does (one ES module, WASM inlined).
//
//   TIMBREL_CORE_DIR (relative to the current directory, as web/serve.mjs takes
//   it): the folder of timbrel-core.mjs, default build-wasm/web.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORE_DIR = process.env.TIMBREL_CORE_DIR
  ? path.resolve(process.env.TIMBREL_CORE_DIR)
  : path.join(REPO, 'build-wasm', 'web');
export const CORE_FILE = path.join(CORE_DIR, 'timbrel-core.mjs');

export async function loadCore() {
  assert.ok(fs.existsSync(CORE_FILE), `${CORE_FILE} not found: build it (cmake --build build-wasm) or set TIMBREL_CORE_DIR`);
  const { default: createTimbrelCore } = await import(pathToFileURL(CORE_FILE).href);
  return createTimbrelCore();
}

// A file as a Uint8Array: parts relative to the repository, or an absolute path.
export const repoBytes = (...parts) => new Uint8Array(fs.readFileSync(path.resolve(REPO, ...parts)));
