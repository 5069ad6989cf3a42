import * as tf from '@tensorflow/tfjs';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Wrap a wasm matMul kernel (BatchMatMul / _FusedMatMul) so transposed operands never reach it.
 *
 * Why: the wasm backend runs XNNPACK (fast) only for un-transposed products with batch size 1;
 * anything else goes through a scalar blocked loop. With transposes that loop reads one operand
 * with a stride, which is 6-12x slower than XNNPACK on dense-layer shapes (bench/kernels.ts),
 * and every matMul gradient asks for a transpose.
 *
 * For batch-1 products with a transpose we pick the cheaper of two exact rewrites (counting
 * elements copied by transposes plus the elements XNNPACK packs as weights, i.e. the 2nd operand):
 *   direct:  C   = op(A) · op(B)          transpose each flagged operand, then XNNPACK
 *   swapped: C^T = op(B)^T · op(A)^T      transpose each *unflagged* operand and the result
 * e.g. dense-layer dX = dY · W^T with W [512, 5001] transposes dY and the result (small) rather
 * than W. The swapped form changes where a bias / activation would apply, so it is used only
 * when `allowSwap` (plain BatchMatMul). Batched products (batch > 1) are passed through: the
 * scalar loop serves them either way and handles transposes at about the same speed.
 */
export function withExplicitTranspose(matMul: tf.KernelFunc, transposeKernel: tf.KernelFunc, { allowSwap }: { allowSwap: boolean }): tf.KernelFunc {
  return (args) => {
    const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
    if (!transposeA && !transposeB) return matMul(args);
    const { a, b } = args.inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (batchSize(a) !== 1 || batchSize(b) !== 1) return matMul(args);

    const backend = args.backend as tf.KernelBackend;
    const intermediates: tf.TensorInfo[] = [];
    const swapLastTwoDims = (t: tf.TensorInfo): tf.TensorInfo => {
      const rank = t.shape.length;
      const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
      const transposed = transposeKernel({ inputs: { x: t }, backend, attrs: { perm } }) as tf.TensorInfo;
      intermediates.push(transposed);
      return transposed;
    };
    const plainAttrs = { ...args.attrs, transposeA: false, transposeB: false };
    try {
      if (allowSwap && swappedCost(a, b, transposeA, transposeB) < directCost(a, b, transposeA, transposeB)) {
        const outT = matMul({
          inputs: { a: transposeB ? b : swapLastTwoDims(b), b: transposeA ? a : swapLastTwoDims(a) },
          backend,
          attrs: plainAttrs,
        }) as tf.TensorInfo;
        intermediates.push(outT);
        const out = transposeKernel({ inputs: { x: outT }, backend, attrs: { perm: swapPerm(outT.shape.length) } });
        return out;
      }
      return matMul({
        inputs: { ...args.inputs, a: transposeA ? swapLastTwoDims(a) : a, b: transposeB ? swapLastTwoDims(b) : b },
        backend,
        attrs: plainAttrs,
      });
    } finally {
      for (const t of intermediates) backend.disposeData(t.dataId);
    }
  };
}

function swapPerm(rank: number): number[] {
  return [...Array(rank - 2).keys(), rank - 1, rank - 2];
}

function batchSize(t: tf.TensorInfo): number {
  return tf.util.sizeFromShape(t.shape.slice(0, -2));
}

function size(t: tf.TensorInfo): number {
  return tf.util.sizeFromShape(t.shape);
}

function outputSize(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): number {
  const rows = a.shape[a.shape.length - (transposeA ? 1 : 2)];
  const cols = b.shape[b.shape.length - (transposeB ? 2 : 1)];
  return rows * cols;
}

/** Elements moved by the direct rewrite: flagged operands transposed, B packed by XNNPACK. */
export function directCost(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): number {
  return (transposeA ? size(a) : 0) + (transposeB ? size(b) : 0) + size(b);
}

/** Elements moved by the swapped rewrite: unflagged operands and the result transposed, A packed. */
export function swappedCost(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): number {
  return (transposeA ? 0 : size(a)) + (transposeB ? 0 : size(b)) + outputSize(a, b, transposeA, transposeB) + size(a);
}
