/**
 * Browser entry: the shipped (or any) captioner fetched over HTTP and run entirely client-side —
 * MobileNetV2 from its .tflite on TF.js, the stage's exact resize and scaling, float16 rounding as
 * the training features had, and the decoder on TF.js. No Node import; pages bundle it (the demo).
 *
 *   const captioner = await loadBrowserCaptioner({ modelUrl: 'model/', tfliteUrl: 'mobilenet_v2.tflite' });
 *   const r = await captioner.caption(await decodeImageFile(file), { beam: 3 });
 */
import type { z } from 'zod';
import { CaptionerError, parseJsonText, vocabularySchema } from '@captioner/core';
import { tf } from '@captioner/tf';
import { MODEL_FILES, modelConfigJsonSchema, modelFeaturesSchema, modelJsonSchema, type ModelArtifacts } from '@captioner/model';
import { float16ToFloat32, float32ToFloat16, mobileNetFromTflite, mobileNetToTfjs, resizeAndScale, type DecodedImage, type MobileNetTarget } from '@captioner/featurize/browser';
import { featureSettingsOf, makeCaptioner, type Captioner } from './captioner.js';
import { trainedModelFromArtifacts } from './trained.js';

export { attentionRgba, normalizeAttention, checkGrid, DEFAULT_HEATMAP, type Grid, type HeatmapStyle } from './draw/heatmap.js';
export { colormapLut, colorize, colormapStops, COLORMAPS, type ColormapName, type ColormapLut } from './draw/colormap.js';
export { decodeFeatures, makeCaptioner, featureSettingsOf, gridOf, type Captioner, type CaptionOptions, type CaptionResult, type FeatureSettings } from './captioner.js';
export { trainedModelFromArtifacts, checkpointInfo, checkFeatureCompatibility, START_TOKEN, END_TOKEN, type TrainedModel } from './trained.js';
export {
  quantizeArtifacts,
  dequantizeArtifacts,
  quantizeTensor,
  float16Tensor,
  quantizationStats,
  float16ByRule,
  isQuantized,
  type QuantizeOptions,
  type TensorQuantizationStats,
} from './quantize.js';
export type { DecodedImage };

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new CaptionerError(`${url}: HTTP ${res.status}`);
  return res;
}

/** Fetches a model folder's five files from `modelUrl` (ending in '/'). */
export async function fetchModelArtifacts(modelUrl: string): Promise<ModelArtifacts> {
  const base = modelUrl.endsWith('/') ? modelUrl : `${modelUrl}/`;
  // Parsed and validated as Node's readModelArtifacts does, so errors read the same.
  const json = async <S extends z.ZodType>(name: (typeof MODEL_FILES)[number], schema: S) => parseJsonText(await (await fetchOk(base + name)).text(), schema, base + name);
  const [modelJson, weights, vocab, features, config] = await Promise.all([
    json('model.json', modelJsonSchema),
    fetchOk(base + 'weights.bin').then((r) => r.arrayBuffer()),
    json('vocab.json', vocabularySchema),
    json('features.json', modelFeaturesSchema),
    json('config.json', modelConfigJsonSchema),
  ]);
  return { modelJson, weightData: weights, vocab, features, config };
}

/** Decodes an image file/blob to 8-bit RGB (EXIF orientation applied, alpha dropped, no colour management). */
export async function decodeImageFile(blob: Blob): Promise<DecodedImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch (err) {
    throw new CaptionerError(`${(blob as File).name ?? 'image'}: not-an-image: ${(err as Error).message}`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  const out = { data: rgb, width: bitmap.width, height: bitmap.height };
  bitmap.close();
  return out;
}

export interface BrowserCaptionerOptions {
  /** URL of the model folder (model.json, weights.bin, vocab.json, features.json, config.json). */
  modelUrl: string;
  /** URL of the MobileNetV2 .tflite the model's features.json names (its sha256 must match weightsHash). */
  tfliteUrl: string;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A captioner in the page: model + MobileNetV2 feature network on the current TF.js backend.
 * Only MobileNetV2 models (features.json backbone mobilenet_v2) run here.
 */
export async function loadBrowserCaptioner(opts: BrowserCaptionerOptions): Promise<Captioner<DecodedImage>> {
  const [artifacts, tflite] = await Promise.all([fetchModelArtifacts(opts.modelUrl), fetchOk(opts.tfliteUrl).then(async (r) => new Uint8Array(await r.arrayBuffer()))]);
  const trained = trainedModelFromArtifacts(artifacts, opts.modelUrl);
  try {
    const { settings } = featureSettingsOf(trained.model.features);
    if (settings.backbone !== 'mobilenet_v2')
      throw new CaptionerError(`${opts.modelUrl}features.json: backbone ${settings.backbone ?? 'inception_v3'}; the browser captioner runs mobilenet_v2 models only`);
    const hash = await sha256Hex(tflite);
    if (hash !== settings.weightsHash) {
      throw new CaptionerError(`${opts.tfliteUrl}: sha256 ${hash.slice(0, 12)}… is not the network the model was trained on (${settings.weightsHash.slice(0, 12)}…)`);
    }
    const net = mobileNetToTfjs(mobileNetFromTflite(tflite, settings.layer as MobileNetTarget, opts.tfliteUrl), tf);
    const { locations, featureDim } = trained.model.config;
    if (net.outputShape[0] !== locations || net.outputShape[1] !== featureDim) {
      net.dispose();
      throw new CaptionerError(`${opts.tfliteUrl}: layer ${settings.layer} gives ${net.outputShape.join('x')}, the model expects ${locations}x${featureDim}`);
    }
    const size = settings.inputSize;
    const featurize = async (image: DecodedImage): Promise<Float32Array> => {
      const pixels = resizeAndScale(image, { inputSize: size, scaling: settings.scaling, halfPixelCenters: settings.halfPixelCenters });
      const x = tf.tensor4d(pixels, [1, size, size, 3]); // [1, S, S, 3]
      const y = net.predict(x); // [1, L, D]
      const features = (await y.data()) as Float32Array;
      tf.dispose([x, y]);
      // The model was trained on float16-rounded features when the shards were float16.
      return settings.dtype === 'float16' ? float16ToFloat32(float32ToFloat16(features)) : features;
    };
    return makeCaptioner(trained, settings, featurize, () => net.dispose());
  } catch (err) {
    trained.model.dispose();
    throw err;
  }
}
