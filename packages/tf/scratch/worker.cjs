const vm = require('vm');
const mainScript = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
URL.createObjectURL = () => mainScript; URL.revokeObjectURL = () => {};
vm.runInThisContext('(function (require, __filename) {' + wasmWorkerContents.replace(/\n/g, '\\n') + '\n})', { filename: 'tfjs-backend-wasm-threaded-simd.worker.js' })(require, __filename);
