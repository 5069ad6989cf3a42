import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../index.js';
import { compareWithCpu as compareWithCpuOn, randomValues } from '../testing/compare.js';
import { directCost, swappedCost } from './matmul.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});

const compareWithCpu = (compute: () => tf.Tensor | tf.Tensor[], tolerance = 1e-4) => compareWithCpuOn(compute, tolerance);

/** Operand shapes for op(A) [.., m, k] · op(B) [.., k, n] with the given transposes. */
function operandShapes(batchA: number[], batchB: number[], m: number, k: number, n: number, tA: boolean, tB: boolean) {
  return { aShape: [...batchA, ...(tA ? [k, m] : [m, k])], bShape: [...batchB, ...(tB ? [n, k] : [k, n])] };
}

const shapes: { name: string; batchA: number[]; batchB: number[]; m: number; k: number; n: number }[] = [
  { name: '2-D, b wide (dense output layer)', batchA: [], batchB: [], m: 6, k: 16, n: 75 },
  { name: '2-D, a tall', batchA: [], batchB: [], m: 70, k: 9, n: 5 },
  { name: '2-D vector-matrix', batchA: [], batchB: [], m: 1, k: 12, n: 7 },
  { name: '2-D matrix-vector', batchA: [], batchB: [], m: 8, k: 12, n: 1 },
  { name: 'batch 1', batchA: [1], batchB: [1], m: 5, k: 8, n: 9 },
  { name: 'batched 3-D', batchA: [3], batchB: [3], m: 4, k: 6, n: 5 },
  { name: 'batched 4-D', batchA: [2, 3], batchB: [2, 3], m: 3, k: 5, n: 4 },
  { name: 'broadcast b', batchA: [3], batchB: [1], m: 4, k: 6, n: 5 },
  { name: 'broadcast a', batchA: [1], batchB: [3], m: 4, k: 6, n: 5 },
];

describe('wasm BatchMatMul with transposes', () => {
  for (const { name, batchA, batchB, m, k, n } of shapes) {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`matches cpu: ${name}, transposeA=${tA} transposeB=${tB}`, async () => {
        const { aShape, bShape } = operandShapes(batchA, batchB, m, k, n, tA, tB);
        const a = randomValues(tf.util.sizeFromShape(aShape), 11);
        const b = randomValues(tf.util.sizeFromShape(bShape), 12);
        await compareWithCpu(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), tA, tB));
      });
    }
  }

  it('exercises both rewrites: direct (transpose A) and swapped (transpose-B of a wide matrix)', () => {
    const info = (shape: number[]) => ({ shape, dtype: 'float32', dataId: {} }) as tf.TensorInfo;
    // dW = X^T · dY: transposing X (small) beats transposing dY and the big result.
    expect(directCost(info([64, 512]), info([64, 5001]), true, false)).toBeLessThan(swappedCost(info([64, 512]), info([64, 5001]), true, false));
    // dX = dY · W^T with W [512, 5001] stored as b: transposing dY and the result beats transposing W.
    expect(swappedCost(info([64, 512]), info([5001, 512]), false, true)).toBeLessThan(directCost(info([64, 512]), info([5001, 512]), false, true));
  });

  it('keeps the swapped rewrite exact on a shape where it is chosen', async () => {
    const a = randomValues(3 * 40, 13);
    const b = randomValues(200 * 40, 14);
    await compareWithCpu(() => tf.matMul(tf.tensor2d(a, [3, 40]), tf.tensor2d(b, [200, 40]), false, true));
  });
});

describe('wasm _FusedMatMul with transposes', () => {
  for (const [tA, tB] of [
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`matches cpu with bias + relu, transposeA=${tA} transposeB=${tB}`, async () => {
      const { aShape, bShape } = operandShapes([], [], 7, 10, 13, tA, tB);
      const a = randomValues(tf.util.sizeFromShape(aShape), 21);
      const b = randomValues(tf.util.sizeFromShape(bShape), 22);
      const bias = randomValues(13, 23);
      await compareWithCpu(() =>
        tf.fused.matMul({
          a: tf.tensor(a, aShape),
          b: tf.tensor(b, bShape),
          transposeA: tA,
          transposeB: tB,
          bias: tf.tensor1d(bias),
          activation: 'relu',
        }),
      );
    });
  }
});

describe('matMul gradients on wasm', () => {
  it('match cpu for a two-layer dense net (tf.grads over inputs and weights)', async () => {
    const x = randomValues(8 * 12, 31);
    const w1 = randomValues(12 * 20, 32);
    const b1 = randomValues(20, 33);
    const w2 = randomValues(20 * 30, 34);
    await compareWithCpu(() => {
      const loss = (xs: tf.Tensor, a: tf.Tensor, bias: tf.Tensor, c: tf.Tensor) =>
        tf.fused.matMul({ a: xs, b: a, bias, activation: 'relu' }).matMul(c).logSoftmax().sum().neg() as tf.Scalar;
      return tf.grads(loss)([tf.tensor2d(x, [8, 12]), tf.tensor2d(w1, [12, 20]), tf.tensor1d(b1), tf.tensor2d(w2, [20, 30])]);
    });
  });

  it('match cpu for a batched attention-style product', async () => {
    const q = randomValues(2 * 3 * 8, 41);
    const keys = randomValues(2 * 5 * 8, 42);
    await compareWithCpu(() =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, false, true).softmax().square().sum())([tf.tensor3d(q, [2, 3, 8]), tf.tensor3d(keys, [2, 5, 8])]),
    );
  });
});
