/**
 * Node side of the MobileNetV2 backbone: the bundled TFLite file (models/mobilenet_v2, shipped in
 * the package), loading + hashing, and the ONNX export cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptionerError } from '@captioner/core';
import { writeFileAtomic } from '@captioner/core/node';
import { mobileNetFromTflite, type FloatNet, type MobileNetTarget } from './mobilenet.js';
import { mobileNetToOnnx, MOBILENET_ONNX_VERSION } from './mobilenet-onnx.js';
import { onnxCacheDir } from './onnx-export.js';
import { ModelFormatError } from './padding.js';

/** src/engines/ and dist/engines/ are both two levels below the package root. */
const MODEL_DIR = fileURLToPath(new URL('../../models/mobilenet_v2/', import.meta.url));
export const BUNDLED_MOBILENET_TFLITE = join(MODEL_DIR, 'mobilenet_v2_1.0_224_quant.tflite');
/** 1001 ImageNet class names, line k = class k (0 = background). */
export const MOBILENET_LABELS_FILE = join(MODEL_DIR, 'imagenet_labels.txt');

export interface LoadedMobileNet {
  net: FloatNet;
  /** sha256 (hex) of the .tflite file. */
  weightsHash: string;
  inputSize: number;
  origin: string;
}

/** Turns converter errors (browser-safe code throws ModelFormatError) into CLI-friendly CaptionerErrors. */
function asCaptionerError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof ModelFormatError ? new CaptionerError(err.message) : err;
  }
}

const cache = new Map<string, LoadedMobileNet>();

/** Reads (memoized per process) the bundled MobileNetV2, or `weights` (a .tflite file), cut at `target`. */
export function loadMobileNet(opts: { target: MobileNetTarget; weights?: string }): LoadedMobileNet {
  const file = opts.weights ? resolve(opts.weights) : BUNDLED_MOBILENET_TFLITE;
  const key = `${file}#${opts.target}`;
  let loaded = cache.get(key);
  if (loaded) return loaded;
  if (!existsSync(file)) {
    throw new CaptionerError(
      opts.weights
        ? `featurize.weights: ${file} does not exist (expected a MobileNetV2 .tflite file)`
        : `featurize: the bundled MobileNetV2 ${file} is missing (a broken install of @captioner/featurize)`,
    );
  }
  const bytes = new Uint8Array(readFileSync(file));
  const net = asCaptionerError(() => mobileNetFromTflite(bytes, opts.target, file));
  loaded = { net, weightsHash: createHash('sha256').update(bytes).digest('hex'), inputSize: net.inputSize, origin: file };
  cache.set(key, loaded);
  return loaded;
}

/** The ImageNet class names of the bundled model (index = class id, 0 = background). */
export function mobileNetLabels(): string[] {
  return readFileSync(MOBILENET_LABELS_FILE, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/** Path of the cached .onnx for this network, exporting (atomically) on first use. */
export function cachedMobileNetOnnxPath(model: LoadedMobileNet, cacheDir = onnxCacheDir()): { path: string; exported: boolean } {
  const path = join(cacheDir, `mobilenet_v2-${model.net.target}-${model.weightsHash.slice(0, 24)}-v${MOBILENET_ONNX_VERSION}.onnx`);
  if (existsSync(path)) return { path, exported: false };
  mkdirSync(cacheDir, { recursive: true });
  const { bytes } = asCaptionerError(() => mobileNetToOnnx(model.net, { weightsHash: model.weightsHash, source: model.origin }));
  writeFileAtomic(path, bytes);
  return { path, exported: true };
}
