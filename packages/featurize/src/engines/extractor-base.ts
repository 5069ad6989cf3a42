import type { FeatureExtractor, FeatureLayer } from '../extractor.js';
import { FEATURE_LAYERS, type TruncatedModel } from './inception.js';

/**
 * The parts every engine shares: geometry from the layer, the weights hash, and the input-size
 * check; an engine supplies only how to run the network on checked pixels.
 */
export function makeExtractor(
  truncated: Pick<TruncatedModel, 'inputSize' | 'weightsHash'>,
  layer: FeatureLayer,
  engine: string,
  run: (pixels: Float32Array, n: number) => Promise<Float32Array>,
  dispose: () => void,
): FeatureExtractor {
  const { grid, dim } = FEATURE_LAYERS[layer];
  const size = truncated.inputSize;
  return {
    engine,
    inputSize: size,
    locations: grid[0] * grid[1],
    grid: [...grid],
    dim,
    weightsHash: truncated.weightsHash,
    async extract(pixels, n) {
      if (pixels.length !== n * size * size * 3) {
        throw new Error(`extract: got ${pixels.length} floats, expected ${n}x${size}x${size}x3 = ${n * size * size * 3}`);
      }
      return run(pixels, n);
    },
    dispose,
  };
}

export const threadsLabel = (threads: number) => `${threads} thread${threads === 1 ? '' : 's'}`;
