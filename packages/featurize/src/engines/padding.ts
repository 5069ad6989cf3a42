/**
 * TensorFlow's spatial padding rule, shared by the Keras and TFLite converters. Browser-safe (no
 * node: or @captioner/core imports): problems throw ModelFormatError, which the Node-side loaders
 * turn into CaptionerErrors.
 */

/** A model file the converters cannot handle (bad geometry, unsupported op or format). */
export class ModelFormatError extends Error {
  override name = 'ModelFormatError';
}

/** Spatial padding for one axis, as TF computes it for 'same' / 'valid'. */
export function tfPads(padding: string, inSize: number, kernel: number, stride: number, dilation = 1): { out: number; begin: number; end: number } {
  const effective = (kernel - 1) * dilation + 1;
  const mode = padding.toLowerCase();
  if (mode === 'valid') {
    const out = Math.floor((inSize - effective) / stride) + 1;
    if (out < 1) throw new ModelFormatError(`a ${kernel}x${kernel} 'valid' window does not fit a ${inSize}-pixel input`);
    return { out, begin: 0, end: 0 };
  }
  if (mode === 'same') {
    const out = Math.ceil(inSize / stride);
    const total = Math.max((out - 1) * stride + effective - inSize, 0);
    // TF puts the smaller half first: the extra pixel goes at the bottom/right.
    const begin = Math.floor(total / 2);
    return { out, begin, end: total - begin };
  }
  throw new ModelFormatError(`unsupported padding "${padding}" (expected 'same' or 'valid')`);
}
