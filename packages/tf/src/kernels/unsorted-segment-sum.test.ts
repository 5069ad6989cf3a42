import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../index.js';
import { compareWithCpu as compareWithCpuOn, maxRelativeError, randomIds, randomValues, runOn } from '../testing/compare.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});

const compareWithCpu = (compute: () => tf.Tensor | tf.Tensor[], tolerance = 1e-5) => compareWithCpuOn(compute, tolerance);

describe('UnsortedSegmentSum on wasm', () => {
  it('is registered by initBackend', () => {
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
  });

  const cases: { name: string; xShape: number[]; numSegments: number }[] = [
    { name: 'vector', xShape: [37], numSegments: 5 },
    { name: 'rows', xShape: [40, 16], numSegments: 11 },
    { name: 'rows with 2 inner dims', xShape: [25, 3, 7], numSegments: 9 },
    { name: 'more segments than rows', xShape: [3, 5], numSegments: 50 },
  ];
  for (const { name, xShape, numSegments } of cases) {
    it(`matches cpu: ${name}`, async () => {
      const x = randomValues(tf.util.sizeFromShape(xShape), 1);
      const ids = randomIds(xShape[0], numSegments, 2);
      await compareWithCpu(() => tf.unsortedSegmentSum(tf.tensor(x, xShape), tf.tensor1d(ids, 'int32'), numSegments));
    });
  }

  it('accepts N-D segment ids (TF semantics; cpu reference only takes 1-D, so it gets them flattened)', async () => {
    const x = randomValues(4 * 6 * 8, 8);
    const ids = randomIds(4 * 6, 13, 9);
    const [expected] = await runOn('cpu', () => tf.unsortedSegmentSum(tf.tensor2d(x, [24, 8]), tf.tensor1d(ids, 'int32'), 13));
    // The op's typing says Tensor1D; the kernel follows TF and accepts any prefix shape of x.
    const idsGrid = () => tf.tensor2d(ids, [4, 6], 'int32') as unknown as tf.Tensor1D;
    const [actual] = await runOn('wasm', () => tf.unsortedSegmentSum(tf.tensor3d(x, [4, 6, 8]), idsGrid(), 13));
    expect(maxRelativeError(actual, expected)).toBeLessThan(1e-5);
  });

  it('drops out-of-range ids like the cpu backend and sums int32 exactly', async () => {
    const ids = [0, -1, 2, 7, 2, 1];
    await compareWithCpu(() => [
      tf.unsortedSegmentSum(tf.tensor2d(randomValues(12, 3), [6, 2]), tf.tensor1d(ids, 'int32'), 3),
      tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4, 5, 6], 'int32'), tf.tensor1d(ids, 'int32'), 3),
    ]);
    await tf.setBackend('wasm');
    const summed = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4, 5, 6], 'int32'), tf.tensor1d(ids, 'int32'), 3);
    expect(summed.dtype).toBe('int32');
    expect(Array.from(summed.dataSync())).toEqual([1, 6, 8]);
    summed.dispose();
  });

  it('gives the embedding gradient of tf.gather (axis 0, 2-D indices)', async () => {
    const table = randomValues(50 * 8, 4);
    const indices = randomIds(3 * 7, 50, 5);
    const upstream = randomValues(3 * 7 * 8, 6);
    await compareWithCpu(() =>
      tf.grad((t: tf.Tensor) =>
        tf
          .gather(t, tf.tensor2d(indices, [3, 7], 'int32'))
          .mul(tf.tensor3d(upstream, [3, 7, 8]))
          .sum(),
      )(tf.tensor2d(table, [50, 8])),
    );
  });

  it('gives the gradient of tf.gather along axis 1', async () => {
    const x = randomValues(4 * 9 * 3, 7);
    const indices = [8, 0, 3, 3, 5];
    await compareWithCpu(() => tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d(indices, 'int32'), 1).square().sum())(tf.tensor3d(x, [4, 9, 3])));
  });
});
