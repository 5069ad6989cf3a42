/**
 * Image → network input: decode with sharp (any format it reads, EXIF orientation applied, grey /
 * CMYK / 16-bit converted to 8-bit sRGB, alpha dropped), then an exact TF-style bilinear resize and
 * the InceptionV3 pixel scaling, in JS.
 *
 * Why not sharp's resize: none of its kernels reproduces `tf.image.resize` bilinear — measured on a
 * Flickr8k image (224→299) the closest, `linear`, is off by 8.5/255 on average (max 114) from
 * half_pixel_centers=false and 6.6/255 (max 87) from half_pixel_centers=true. A bilinear pass over
 * 299x299x3 floats costs ~1 ms, noise next to the CNN.
 *
 * Alpha is dropped, not flattened: that is what the reference pipelines do (`tf.io.decode_image(...,
 * channels=3)`, PIL `convert('RGB')` in Keras `load_img`), so features match theirs.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { CaptionerError } from '@captioner/core';
import type { PixelScaling } from './extractor.js';

export type ImageFailureKind = 'missing' | 'unreadable' | 'empty' | 'not-an-image' | 'corrupt';

/** A bad input image: the stage records it (image + reason) and carries on. */
export class ImageDecodeError extends CaptionerError {
  override name = 'ImageDecodeError';
  constructor(
    readonly source: string,
    readonly kind: ImageFailureKind,
    readonly detail: string,
  ) {
    super(`${source}: ${kind}: ${detail}`);
  }
  /** Short text for the manifest's `failed[].reason`. */
  get reason(): string {
    return `${this.kind}: ${this.detail}`;
  }
}

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

/** Reads a file's bytes, mapping filesystem problems to typed failures. */
export async function readImageBytes(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageDecodeError(path, 'missing', 'file not found');
    throw new ImageDecodeError(path, 'unreadable', `${code ?? ''} ${(err as Error).message}`.trim());
  }
  if (bytes.length === 0) throw new ImageDecodeError(path, 'empty', 'zero-byte file');
  return bytes;
}

function classifySharpError(source: string, err: unknown): ImageDecodeError {
  const message = ((err as Error)?.message ?? String(err)).split('\n')[0];
  if (/buffer is empty/i.test(message)) return new ImageDecodeError(source, 'empty', 'zero-byte file');
  if (/unsupported image format/i.test(message)) return new ImageDecodeError(source, 'not-an-image', message);
  return new ImageDecodeError(source, 'corrupt', message);
}

/** Decodes any sharp-readable image to 8-bit sRGB RGB with EXIF orientation applied and alpha dropped. */
export async function decodeImage(input: string | Uint8Array, source = typeof input === 'string' ? input : '<buffer>'): Promise<DecodedImage> {
  const bytes = typeof input === 'string' ? await readImageBytes(input) : input;
  if (bytes.length === 0) throw new ImageDecodeError(source, 'empty', 'zero-byte input');
  try {
    // failOn 'error': truncated or broken data fails; mere warnings (e.g. stray bytes before a JPEG
    // marker, which TF and PIL decode fine) do not.
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .rotate() // EXIF orientation
      .toColourspace('srgb') // grey → 3 channels, CMYK → sRGB via its profile, 16-bit → 8-bit
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data, width: info.width, height: info.height };
  } catch (err) {
    throw classifySharpError(source, err);
  }
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
export function resizeAndScale(
  image: DecodedImage,
  opts: PreprocessOptions,
  out: Float32Array = new Float32Array(opts.inputSize * opts.inputSize * 3),
  offset = 0,
): Float32Array {
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

/**
 * Decodes, resizes and scales one image to the network input (inputSize x inputSize x 3, float32).
 * Bad input throws ImageDecodeError (never anything else for a bad file).
 */
export async function preprocessImage(
  input: string | Uint8Array,
  opts: PreprocessOptions,
  out?: Float32Array,
  offset = 0,
): Promise<Float32Array> {
  const image = await decodeImage(input);
  return resizeAndScale(image, opts, out, offset);
}
