const os = require('os');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const path = require('path');
const WANT = +(process.env.T || 2);
const workerFile = path.join(__dirname, 'worker.cjs');
const origCreate = URL.createObjectURL;
URL.createObjectURL = (blob) => { console.error('createObjectURL', blob.type, blob.size); return workerFile; };
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
const origCpus = os.cpus;
os.cpus = () => { const c = origCpus(); while (c.length < 2 * WANT) c.push(c[0]); return c; };
wasm.setThreadsCount(WANT);
(async () => {
  await tf.setBackend('wasm');
  os.cpus = origCpus; URL.createObjectURL = origCreate;
  console.error('threads', wasm.getThreadsCount());
  const x = tf.randomNormal([8, 64, 64, 32]); const k = tf.randomNormal([3, 3, 32, 64]);
  for (let r = 0; r < 2; r++) { const t = Date.now(); for (let i = 0; i < 10; i++) tf.tidy(() => tf.conv2d(x, k, 1, 'same').dataSync()); console.error('conv ms', (Date.now() - t) / 10); }
  console.error(tf.tidy(() => tf.conv2d(x.slice(0,1), k, 1, 'same').sum().dataSync()[0]));
  process.exit(0);
})().catch(e => { console.error('ERR', e); process.exit(1); });
