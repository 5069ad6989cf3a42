import * as tf from '@tensorflow/tfjs';

/**
 * Wrap a wasm matMul kernel (BatchMatMul / _FusedMatMul) so transposed operands are transposed
 * explicitly first. The wasm kernels' transposeA/transposeB paths are ~30x slower than their
 * plain path (measured in bench/kernels.ts), and matMul gradients always ask for transposes.
 * The extra copy is O(size) against an O(n^3) product.
 */
export function withExplicitTranspose(matMul: tf.KernelFunc, transposeKernel: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return matMul(args);
    const backend = args.backend as tf.KernelBackend;
    const inputs = args.inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
    const intermediates: tf.TensorInfo[] = [];
    const swapLastTwoDims = (t: tf.TensorInfo): tf.TensorInfo => {
      const rank = t.shape.length;
      const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
      const transposed = transposeKernel({ inputs: { x: t }, backend, attrs: { perm } }) as tf.TensorInfo;
      intermediates.push(transposed);
      return transposed;
    };
    try {
      return matMul({
        inputs: { ...args.inputs, a: transposeA ? swapLastTwoDims(inputs.a) : inputs.a, b: transposeB ? swapLastTwoDims(inputs.b) : inputs.b },
        backend,
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of intermediates) backend.disposeData(t.dataId);
    }
  };
}
