import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';
import { readJson, withAtomicPath } from '@captioner/core/node';
import { optimizerManifestSchema, trainStateSchema, type OptimizerManifest, type TrainState } from './contract.js';

export type { EpochMetrics, TrainState } from './contract.js';

export const STATE_FILE = 'state.json';
export const MODEL_DIR = 'model';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';
export const BEST_DIR = 'best';

export function checkpointName(state: Pick<TrainState, 'epoch' | 'batchesDone' | 'epochBatches'>): string {
  const e = String(state.epoch).padStart(4, '0');
  return state.batchesDone >= state.epochBatches ? `epoch-${e}` : `epoch-${e}-batch-${String(state.batchesDone).padStart(6, '0')}`;
}

type AdamInternals = { accBeta1?: tf.Variable; accBeta2?: tf.Variable };

/** Writes the optimizer's weights (Adam: iteration count + first/second moments) to a folder. */
export async function saveOptimizer(optimizer: tf.Optimizer, dir: string): Promise<void> {
  const weights = await optimizer.getWeights();
  const manifest: OptimizerManifest = {
    className: optimizer.getClassName(),
    config: optimizer.getConfig() as Record<string, unknown>,
    weights: [],
  };
  const internals = optimizer as unknown as AdamInternals;
  if (internals.accBeta1 && internals.accBeta2) {
    manifest.accBeta1 = (await internals.accBeta1.data())[0];
    manifest.accBeta2 = (await internals.accBeta2.data())[0];
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const { name, tensor } of weights) {
    const data = await tensor.data();
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') throw new Error(`optimizer weight ${name}: unsupported dtype ${tensor.dtype}`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    manifest.weights.push({ name, shape: tensor.shape, dtype: tensor.dtype, offset, length: bytes.byteLength });
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  // getWeights returns a fresh `iter` scalar; the moment tensors are the optimizer's own variables.
  weights[0]?.tensor.dispose();
  writeFileSync(join(dir, OPTIMIZER_BIN), Buffer.concat(chunks));
  writeFileSync(join(dir, OPTIMIZER_JSON), JSON.stringify(manifest, null, 2) + '\n');
}

/** Restores optimizer weights saved by saveOptimizer into a freshly created optimizer of the same class. */
export async function loadOptimizer(optimizer: tf.Optimizer, dir: string): Promise<void> {
  const manifest = readJson(join(dir, OPTIMIZER_JSON), optimizerManifestSchema);
  if (manifest.className !== optimizer.getClassName()) {
    throw new CaptionerError(`${dir}: checkpoint optimizer is ${manifest.className}, this run uses ${optimizer.getClassName()}`);
  }
  const bin = readFileSync(join(dir, OPTIMIZER_BIN));
  const named = manifest.weights.map((w) => {
    const bytes = bin.buffer.slice(bin.byteOffset + w.offset, bin.byteOffset + w.offset + w.length);
    const values = w.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
    return { name: w.name, tensor: tf.tensor(values, w.shape, w.dtype) };
  });
  await optimizer.setWeights(named);
  // setWeights wraps each tensor in a new variable (sharing its data), so the inputs can go.
  tf.dispose(named.map((n) => n.tensor));
  const internals = optimizer as unknown as AdamInternals;
  if (manifest.accBeta1 !== undefined && internals.accBeta1 && internals.accBeta2) {
    internals.accBeta1.assign(tf.scalar(manifest.accBeta1));
    internals.accBeta2.assign(tf.scalar(manifest.accBeta2 as number));
  }
}

/** What model.save stores beside the weights (vocab.json, features.json, config.json's training). */
export interface CheckpointMeta {
  vocab: object;
  features: object;
  training: object;
}

export interface SavableModel {
  save(dir: string, meta: CheckpointMeta): Promise<unknown>;
}

export interface CheckpointInfo {
  name: string;
  path: string;
  state: TrainState;
}

/** Checkpoints in a folder, oldest first by training position (best/ excluded; broken ones skipped). */
export function listCheckpoints(dir: string): CheckpointInfo[] {
  if (!existsSync(dir)) return [];
  const found: CheckpointInfo[] = [];
  for (const name of readdirSync(dir)) {
    if (name === BEST_DIR || name.startsWith('.')) continue;
    const statePath = join(dir, name, STATE_FILE);
    if (!existsSync(statePath)) continue;
    found.push({ name, path: join(dir, name), state: readJson(statePath, trainStateSchema) });
  }
  return found.sort((a, b) => a.state.globalStep - b.state.globalStep);
}

/**
 * Writes checkpoint `<dir>/<name>/` atomically (temp folder + rename): model (model.save),
 * optimizer state and state.json.
 */
export async function writeCheckpoint(dir: string, model: SavableModel, optimizer: tf.Optimizer, state: TrainState, meta: CheckpointMeta): Promise<string> {
  const path = join(dir, checkpointName(state));
  await withAtomicPath(path, async (tmp) => {
    await model.save(join(tmp, MODEL_DIR), meta);
    await saveOptimizer(optimizer, tmp);
    writeFileSync(join(tmp, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  });
  return path;
}

/** Copies a checkpoint to `<dir>/best/` atomically. */
export async function markBest(dir: string, checkpointPath: string): Promise<void> {
  await withAtomicPath(join(dir, BEST_DIR), (tmp) => cpSync(checkpointPath, tmp, { recursive: true }));
}

/** Keeps the newest `keepLast` checkpoints (best/ is separate and always kept). */
export function rotateCheckpoints(dir: string, keepLast: number): string[] {
  const all = listCheckpoints(dir);
  const removed = all.slice(0, Math.max(0, all.length - keepLast)).map((c) => c.name);
  for (const name of removed) rmSync(join(dir, name), { recursive: true, force: true });
  return removed;
}
