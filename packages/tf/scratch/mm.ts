import { tf, initBackend } from '@captioner/tf';
await initBackend({ quiet: true, threads: Number(process.env.T ?? 2) });
const a = tf.randomNormal([64, 512]), bT = tf.randomNormal([5001, 512]), b = tf.randomNormal([512, 5001]);
const orig = (tf.getKernel('BatchMatMul', 'wasm') as any);
function time(label: string, f: () => void) { f(); const ts: number[] = []; for (let i = 0; i < 5; i++) { const t = performance.now(); f(); ts.push(performance.now() - t); } ts.sort((x, y) => x - y); console.log(label, ts[2].toFixed(1), 'ms'); }
time('plain', () => tf.tidy(() => tf.matMul(a, b).dataSync()));
time('tB patched', () => tf.tidy(() => tf.matMul(a, bT, false, true).dataSync()));
time('transpose only', () => tf.tidy(() => tf.transpose(bT).dataSync()));
process.exit(0);
