/** Saving and loading model folders on disk (Node); the format itself lives in artifacts.ts. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptionerError, withAtomicPath } from '@captioner/core';
import type { CaptionModel } from './model.js';
import { encodeModelArtifacts, MODEL_FILES, modelFromArtifacts, type LoadedCaptionModel, type SaveExtras } from './artifacts.js';

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

export async function loadModel(dir: string): Promise<LoadedCaptionModel> {
  if (!existsSync(dir)) throw new CaptionerError(`model folder not found: ${dir}`);
  const missing = MODEL_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) throw new CaptionerError(`${dir}: not a saved model, missing ${missing.join(', ')}`);
  const readJsonFile = (name: string): unknown => {
    const path = join(dir, name);
    try {
      return JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new CaptionerError(`${path}: not valid JSON: ${(err as Error).message}`);
    }
  };
  const bin = readFileSync(join(dir, 'weights.bin'));
  return modelFromArtifacts(
    {
      modelJson: readJsonFile('model.json'),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      vocab: readJsonFile('vocab.json'),
      features: readJsonFile('features.json'),
      config: readJsonFile('config.json'),
    },
    join(dir, '/'),
  );
}
