'use strict';
// Pthread worker for @tensorflow/tfjs-backend-wasm's threaded-SIMD build under Node.
//
// The backend hands emscripten a `blob:` URL for the worker script and a Blob for the main
// script (built for browsers). Node's worker_threads cannot start from a blob: URL, so
// @captioner/tf makes the backend start this real file instead. Here we run the package's own
// worker code unchanged, and point its `importScripts(URL.createObjectURL(blob))` at the
// package's emscripten glue file on disk (the same WasmBackendModuleThreadedSimd factory the
// Blob carries), which Node can read synchronously.
const vm = require('node:vm');

const mainScriptPath = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');

// The only object URL this worker creates is for the main-script Blob sent with the "load" message.
URL.createObjectURL = () => mainScriptPath;
URL.revokeObjectURL = () => {};

// The backend escapes newlines the same way before putting the contents into a Blob: the source
// contains "\n" inside string literals that must stay escapes.
const source = wasmWorkerContents.replace(/\n/g, '\\n');
vm.runInThisContext(`(function (require, __filename) {${source}\n})`, {
  filename: 'tfjs-backend-wasm-threaded-simd.worker.js',
})(require, __filename);
