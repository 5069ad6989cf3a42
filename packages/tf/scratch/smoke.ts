import { tf, initBackend } from '@captioner/tf';
const t0 = Date.now();
const info = await initBackend({ backend: (process.env.B as any) ?? 'auto' });
console.log(JSON.stringify(info), Date.now() - t0, 'ms');
const again = await initBackend();
console.log('same', again === info);
const emb = tf.variable(tf.randomNormal([50, 8]));
const g = tf.grad((e: any) => tf.gather(e, tf.tensor1d([1, 2, 2, 49], 'int32')).sum())(emb);
console.log(Array.from(g.sum(1).dataSync()).slice(0, 4), tf.backend().constructor.name);
const a = tf.randomNormal([64, 512]), b = tf.randomNormal([5001, 512]);
for (let i = 0; i < 3; i++) { const t = performance.now(); tf.tidy(() => tf.matMul(a, b, false, true).dataSync()); console.log('mm tB', (performance.now() - t).toFixed(1)); }
