/**
 * Keras' initializers, drawn from one seeded stream (`@captioner/core` seededRandom) so the same seed
 * gives the same weights on every backend: Dense/GRU kernels Glorot-uniform, the GRU recurrent kernel
 * orthogonal, embeddings U(−0.05, 0.05), biases zero.
 */
export type Init = 'zeros' | 'glorot' | 'orthogonal' | 'embedding';

/** The values of one parameter, drawn from `random` (the caller draws parameters in a fixed order). */
export function initialValues(spec: { shape: number[]; init: Init }, random: () => number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (spec.init === 'zeros') return out;
  if (spec.init === 'embedding') {
    for (let i = 0; i < size; i++) out[i] = (random() * 2 - 1) * 0.05;
    return out;
  }
  const [rows, cols] = spec.shape;
  if (spec.init === 'glorot') {
    const limit = Math.sqrt(6 / (rows + cols));
    for (let i = 0; i < size; i++) out[i] = (random() * 2 - 1) * limit;
    return out;
  }
  return orthogonal(rows, cols, random);
}

function normal(random: () => number): number {
  // Box–Muller; 1 - u keeps log() finite.
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Keras Orthogonal(gain 1) for a [rows, cols] matrix: orthonormal rows (or columns if rows > cols). */
function orthogonal(rows: number, cols: number, random: () => number): Float32Array {
  const n = Math.min(rows, cols);
  const len = Math.max(rows, cols);
  const vectors: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float64Array(len);
    for (let j = 0; j < len; j++) v[j] = normal(random);
    // Modified Gram–Schmidt, two passes for numerical orthogonality.
    for (let pass = 0; pass < 2; pass++) {
      for (const u of vectors) {
        let dot = 0;
        for (let j = 0; j < len; j++) dot += u[j] * v[j];
        for (let j = 0; j < len; j++) v[j] -= dot * u[j];
      }
    }
    let norm = 0;
    for (let j = 0; j < len; j++) norm += v[j] * v[j];
    norm = Math.sqrt(norm);
    for (let j = 0; j < len; j++) v[j] /= norm;
    vectors.push(v);
  }
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < len; j++) {
      if (rows <= cols) out[i * cols + j] = vectors[i][j];
      else out[j * cols + i] = vectors[i][j];
    }
  }
  return out;
}
