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
import { resizeAndScale, type DecodedImage, type PreprocessOptions } from './resize.js';

export { resizeAndScale, type DecodedImage, type PreprocessOptions };

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

/**
 * Decodes, resizes and scales one image to the network input (inputSize x inputSize x 3, float32).
 * Bad input throws ImageDecodeError (never anything else for a bad file).
 */
export async function preprocessImage(input: string | Uint8Array, opts: PreprocessOptions, out?: Float32Array, offset = 0): Promise<Float32Array> {
  const image = await decodeImage(input);
  return resizeAndScale(image, opts, out, offset);
}
