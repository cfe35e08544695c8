// ESLint for the page, the examples, the server and the JavaScript tests.
// Each kind of code gets the globals of the scope it runs in, so a browser-only
// name used on the audio thread (fetch, TextDecoder, document...) is an error:
// web/src/worklet/ runs in an AudioWorkletGlobalScope (also the ring buffers
// the main thread shares with it), *-worker.js in a Worker.
import js from '@eslint/js';
import globals from 'globals';

const rules = {
  ...js.configs.recommended.rules,
  'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
  eqeqeq: ['error', 'always', { null: 'ignore' }],
  'no-var': 'error',
  'prefer-const': 'error',
};

export default [
  { ignores: ['build*/**', 'node_modules/**', 'tests/web/output/**'] },
  {
    files: ['web/src/**/*.js', 'web/examples/**/*.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { ...globals.browser } },
    rules,
  },
  {
    files: ['web/src/worklet/**/*.js'],
    languageOptions: { globals: { ...globals.audioWorklet } },
  },
  {
    files: ['web/src/**/*-worker.js'],
    languageOptions: { globals: { ...globals.worker } },
  },
  {
    files: ['web/serve.mjs', 'tests/**/*.mjs', 'tests/**/*.js', 'eslint.config.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { ...globals.node } },
    rules,
  },
  {
    // Functions the tests pass to page.evaluate() run in the page.
    files: ['tests/web/**/*.mjs', 'tests/wasm/**/*.mjs', 'tests/bench/**/*.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
];
