import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * UnsortedSegmentSum for the wasm backend, which has none (it is tf.gather's gradient, i.e. the
 * embedding gradient). out[segmentIds[i], ...] += x[i, ...]; ids outside [0, numSegments) are
 * dropped, as in the cpu backend.
 *
 * A scatter-add over the wasm heap is O(x.size) with no temporaries: for the embedding case
 * (2176 x 256 into 5001 rows) that is ~0.5M adds, whereas a one-hot matMul formulation costs
 * 2 x 2176 x 5001 x 256 ≈ 5.6 GFLOP (see bench/kernels.ts).
 */
export const unsortedSegmentSumWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as unknown as tf.UnsortedSegmentSumInputs & { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const wasm = backend as BackendWasm;
  const idsRank = segmentIds.shape.length;
  if (idsRank > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`unsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`unsortedSegmentSum (wasm): dtype ${x.dtype} not supported`);
  }
  const innerShape = x.shape.slice(idsRank);
  const innerSize = tf.util.sizeFromShape(innerShape);
  const rows = tf.util.sizeFromShape(segmentIds.shape);

  const out = wasm.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views are taken after makeOutput: allocating may grow (and replace) the wasm heap buffer.
  const outValues = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xValues = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = wasm.typedArrayFromHeap(segmentIds) as Int32Array;
  outValues.fill(0); // makeOutput memory is uninitialized (malloc)
  for (let row = 0; row < rows; row++) {
    const segment = ids[row];
    if (segment < 0 || segment >= numSegments) continue;
    const src = row * innerSize;
    const dst = segment * innerSize;
    for (let j = 0; j < innerSize; j++) outValues[dst + j] += xValues[src + j];
  }
  return out;
};
