/** Saving and loading model folders on disk (Node); the format itself lives in artifacts.ts. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptionerError } from '@captioner/core';
import { readJson, withAtomicPath } from '@captioner/core/node';
import type { CaptionModel } from './model.js';
import { encodeModelArtifacts, MODEL_FILES, modelFromArtifacts, type LoadedCaptionModel, type ModelArtifacts, type SaveExtras } from './artifacts.js';
import { modelConfigJsonSchema, modelFeaturesSchema, modelJsonSchema, vocabularySchema } from './contract.js';

/** Writes the whole folder under a temp name and renames it into place: readers never see half a model. */
export async function saveModel(dir: string, model: CaptionModel, extras: SaveExtras): Promise<void> {
  const a = await encodeModelArtifacts(model, extras);
  await withAtomicPath(dir, (tmp: string) => {
    mkdirSync(tmp, { recursive: true });
    const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
    writeFileSync(join(tmp, 'model.json'), json(a.modelJson));
    writeFileSync(join(tmp, 'weights.bin'), new Uint8Array(a.weightData));
    writeFileSync(join(tmp, 'vocab.json'), json(a.vocab));
    writeFileSync(join(tmp, 'features.json'), json(a.features));
    writeFileSync(join(tmp, 'config.json'), json(a.config));
  });
}

/** A model folder's five files, each JSON file validated by its contract; errors name the folder or the file. */
export function readModelArtifacts(dir: string): ModelArtifacts {
  const missing = MODEL_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) throw new CaptionerError(`${dir}: not a saved model, missing ${missing.join(', ')}`);
  const bin = readFileSync(join(dir, 'weights.bin'));
  return {
    modelJson: readJson(join(dir, 'model.json'), modelJsonSchema),
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    vocab: readJson(join(dir, 'vocab.json'), vocabularySchema),
    features: readJson(join(dir, 'features.json'), modelFeaturesSchema),
    config: readJson(join(dir, 'config.json'), modelConfigJsonSchema),
  };
}

export async function loadModel(dir: string): Promise<LoadedCaptionModel> {
  if (!existsSync(dir)) throw new CaptionerError(`model folder not found: ${dir}`);
  return modelFromArtifacts(readModelArtifacts(dir), join(dir, '/'));
}
