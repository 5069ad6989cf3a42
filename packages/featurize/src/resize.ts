/**
 * The pixel half of preprocessing, with no decoder and no Node import, so a browser can feed the
 * network exactly as the stage does (decode with canvas / createImageBitmap, then this): an exact
 * JS port of TF's bilinear resize with the pixel scaling fused in. preprocess.ts re-exports it.
 */
import type { PixelScaling } from './extractor.js';

export interface PreprocessOptions {
  /** Square network input side (299 for InceptionV3). */
  inputSize: number;
  scaling: PixelScaling;
  /**
   * Bilinear sampling grid. false = TF.js `tf.image.resizeBilinear` default and TF1
   * `resize_images` (src = dst * in/out); true = TF2 Python `tf.image.resize` (src = (dst + 0.5) * in/out - 0.5).
   */
  halfPixelCenters?: boolean;
}

export interface DecodedImage {
  /** Interleaved 8-bit RGB, row-major, height x width x 3. */
  data: Uint8Array;
  width: number;
  height: number;
}

interface AxisSampling {
  lower: Int32Array;
  upper: Int32Array;
  lerp: Float32Array;
}

/** Source coordinates for one axis, exactly as TF's resize_bilinear computes them (in float32). */
function axisSampling(inSize: number, outSize: number, halfPixelCenters: boolean): AxisSampling {
  const scale = Math.fround(inSize / outSize);
  const lower = new Int32Array(outSize);
  const upper = new Int32Array(outSize);
  const lerp = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = halfPixelCenters ? Math.fround(Math.fround((o + 0.5) * scale) - 0.5) : Math.fround(o * scale);
    const floor = Math.floor(src);
    lower[o] = Math.max(floor, 0);
    upper[o] = Math.min(Math.ceil(src), inSize - 1);
    lerp[o] = src - floor;
  }
  return { lower, upper, lerp };
}

const samplingCache = new Map<string, AxisSampling>();
function cachedSampling(inSize: number, outSize: number, halfPixelCenters: boolean): AxisSampling {
  const key = `${inSize}:${outSize}:${halfPixelCenters}`;
  let s = samplingCache.get(key);
  if (!s) {
    if (samplingCache.size > 64) samplingCache.clear();
    s = axisSampling(inSize, outSize, halfPixelCenters);
    samplingCache.set(key, s);
  }
  return s;
}

/**
 * Bilinear resize of 8-bit RGB to outSize x outSize float32 (like `tf.image.resizeBilinear` with
 * alignCorners=false), with the pixel scaling fused in. Writes at `out[offset…]`.
 */
export function resizeAndScale(image: DecodedImage, opts: PreprocessOptions, out: Float32Array = new Float32Array(opts.inputSize * opts.inputSize * 3), offset = 0): Float32Array {
  const size = opts.inputSize;
  if (out.length < offset + size * size * 3) throw new RangeError(`resizeAndScale: output too small for a ${size}x${size}x3 image at offset ${offset}`);
  const ys = cachedSampling(image.height, size, opts.halfPixelCenters ?? false);
  const xs = cachedSampling(image.width, size, opts.halfPixelCenters ?? false);
  const [mul, add] = opts.scaling === '0,1' ? [1 / 255, 0] : [1 / 127.5, -1];
  const src = image.data;
  const rowStride = image.width * 3;
  // Separable, same arithmetic as TF (top/bottom rows lerped in x, then in y): each source row is
  // interpolated in x once and reused by the output rows that sample it.
  const lerpRow = (sourceRow: number, into: Float64Array) => {
    const base = sourceRow * rowStride;
    for (let x = 0, k = 0; x < size; x++) {
      const left = base + xs.lower[x] * 3;
      const right = base + xs.upper[x] * 3;
      const xl = xs.lerp[x];
      for (let c = 0; c < 3; c++, k++) into[k] = src[left + c] + (src[right + c] - src[left + c]) * xl;
    }
  };
  let top = new Float64Array(size * 3);
  let bottom = new Float64Array(size * 3);
  let topRow = -1;
  let bottomRow = -1;
  let o = offset;
  for (let y = 0; y < size; y++) {
    const wantTop = ys.lower[y];
    const wantBottom = ys.upper[y];
    if (wantTop !== topRow) {
      if (wantTop === bottomRow) [top, bottom, topRow, bottomRow] = [bottom, top, bottomRow, -1];
      else {
        lerpRow(wantTop, top);
        topRow = wantTop;
      }
    }
    if (wantBottom !== bottomRow) {
      if (wantBottom === topRow) bottom.set(top);
      else lerpRow(wantBottom, bottom);
      bottomRow = wantBottom;
    }
    const yl = ys.lerp[y];
    for (let k = 0; k < size * 3; k++) {
      const t = top[k];
      out[o++] = (t + (bottom[k] - t) * yl) * mul + add;
    }
  }
  return out;
}
