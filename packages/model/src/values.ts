import { tf } from '@captioner/tf';

/**
 * Read access to a float32 tensor's values for the hand-written loops of the backward pass.
 * On wasm this is a zero-copy view of the wasm heap and on cpu the backend's own array; other
 * backends (webgl/webgpu) get a downloaded copy. A wasm view is invalidated when the heap grows,
 * so callers take views right before a loop and allocate no tensors while they hold one.
 */
export function valuesOf(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`valuesOf: expected float32, got ${t.dtype}`);
  if (tf.getBackend() === 'wasm') {
    const backend = tf.backend() as unknown as { typedArrayFromHeap(info: tf.TensorInfo): Float32Array };
    return backend.typedArrayFromHeap(t);
  }
  return t.dataSync() as Float32Array;
}
