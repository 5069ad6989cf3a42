import { CaptionerError } from '@captioner/core';
import type { FeatureBackbone, FeatureExtractor, FeatureLayer } from '../extractor.js';
import { layerGeometry, resolveBackbone as resolve } from './backbones.js';

/**
 * The parts every engine shares: geometry from the layer, the weights hash, and the input-size
 * check; an engine supplies only how to run the network on checked pixels.
 */
export function makeExtractor(
  model: { inputSize: number; weightsHash: string },
  layer: FeatureLayer,
  engine: string,
  run: (pixels: Float32Array, n: number) => Promise<Float32Array>,
  dispose: () => void,
): FeatureExtractor {
  const { grid, dim } = layerGeometry(layer);
  const size = model.inputSize;
  return {
    engine,
    inputSize: size,
    locations: grid[0] * grid[1],
    grid: [...grid],
    dim,
    weightsHash: model.weightsHash,
    async extract(pixels, n) {
      if (pixels.length !== n * size * size * 3) {
        throw new Error(`extract: got ${pixels.length} floats, expected ${n}x${size}x${size}x3 = ${n * size * size * 3}`);
      }
      return run(pixels, n);
    },
    dispose,
  };
}

/** The layer's backbone (checked against an explicit one), as a CaptionerError on a mismatch. */
export function backboneFor(opts: { layer: FeatureLayer; backbone?: FeatureBackbone }): FeatureBackbone {
  try {
    return resolve(opts.layer, opts.backbone);
  } catch (err) {
    throw new CaptionerError((err as Error).message);
  }
}

export const threadsLabel = (threads: number) => `${threads} thread${threads === 1 ? '' : 's'}`;
