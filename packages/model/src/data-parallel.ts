/**
 * Data-parallel training on one machine: the batch is split by rows between this thread and
 * `replicas - 1` worker threads, each with its own TF.js backend, to use more cores than one wasm
 * instance does (on 2 cores it measured no faster than 2 wasm threads: docs/RESULTS.md). Every replica returns token-weighted
 * gradient sums; their sum divided by the batch's token count is exactly the full-batch gradient
 * (up to float summation order), which this thread clips and applies with the one optimizer.
 * Weights go to the workers before every step (~26 MB for the default model: milliseconds).
 *
 * node:worker_threads is imported lazily so browsers can still load @captioner/model.
 */
import { tf } from '@captioner/tf';
import { CaptionerError } from '@captioner/core';
import type { Worker } from 'node:worker_threads';
import type { CaptionModel, CaptionModelConfig } from './model.js';
import { accumulateGradients, applyGradientSums, type GradientSums, type TrainStepOptions, type TrainStepResult } from './train-step.js';

/**
 * Rows [start, start + size) of a row-major tensor's values as a new tensor. The replicas' rows are
 * cut from one dataSync() of the batch: with `tensor.slice(...).dataSync()` per replica a step
 * spent ~3 s before any replica started (measured in this trainer; the cause inside tfjs-wasm was
 * not isolated — a lone slice takes ~30 ms).
 */
function rowsTensor<R extends tf.Rank>(values: Float32Array | Int32Array, shape: number[], dtype: 'float32' | 'int32', start: number, size: number): tf.Tensor<R> {
  const rowLength = shape.slice(1).reduce((a, b) => a * b, 1);
  return tf.tensor(values.subarray(start * rowLength, (start + size) * rowLength), [size, ...shape.slice(1)], dtype) as unknown as tf.Tensor<R>;
}

/** workerData of a replica. */
export interface ReplicaInit {
  config: CaptionModelConfig;
  backend: 'wasm' | 'cpu';
  threads: number;
}

/** main → replica: current weights and the replica's rows of the batch. */
export interface ReplicaStep {
  weights: Float32Array[];
  features: Float32Array;
  featureShape: [number, number, number];
  tokens: Int32Array;
  tokenShape: [number, number];
  microBatch?: number;
  attentionPenalty?: number;
}

export type ReplicaReply =
  | { ok: true; grads: Float32Array[]; isMean: boolean; lossSum: number; tokens: number }
  | { ok: false; message: string };

export interface DataParallelOptions {
  /** Replicas including this thread (2 = this thread + one worker). */
  replicas: number;
  /** Backend of the worker replicas (this thread keeps whatever it runs). */
  backend?: 'wasm' | 'cpu';
  /** wasm threads per worker replica. */
  threadsPerReplica?: number;
}

interface Replica {
  worker: Worker;
  /** Settles with the reply to the step in flight. */
  pending?: { resolve: (r: ReplicaReply) => void; reject: (e: Error) => void };
  failed?: Error;
}

/**
 * The worker next to this module: compiled, `gradient-worker.js` directly; from TypeScript source
 * (tsx, vitest) a small bootstrap registers tsx in the worker first (Node 20 ignores `--import` in a
 * worker's execArgv) and resolves workspace packages through the `source` condition.
 */
function workerEntry(): { entry: string | URL; eval: boolean; execArgv: string[] } {
  if (!import.meta.url.endsWith('.ts')) return { entry: new URL('./gradient-worker.js', import.meta.url), eval: false, execArgv: [] };
  const worker = new URL('./gradient-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(worker)}); })`;
  return { entry: code, eval: true, execArgv: ['--conditions=source'] };
}

export class DataParallelTrainer {
  private closed = false;

  private constructor(
    readonly replicas: number,
    private readonly workers: Replica[],
  ) {}

  /** Starts `replicas - 1` workers for models of this shape; resolves when they are ready. */
  static async start(config: CaptionModelConfig, opts: DataParallelOptions): Promise<DataParallelTrainer> {
    if (!Number.isInteger(opts.replicas) || opts.replicas < 1) throw new CaptionerError(`data parallel: replicas must be an integer >= 1 (got ${opts.replicas})`);
    const { Worker } = await import('node:worker_threads');
    const { entry, eval: isCode, execArgv } = workerEntry();
    const init: ReplicaInit = { config: { ...config }, backend: opts.backend ?? 'wasm', threads: opts.threadsPerReplica ?? 1 };
    const workers: Replica[] = [];
    try {
      for (let i = 1; i < opts.replicas; i++) {
        const worker = new Worker(entry, { eval: isCode, workerData: init, execArgv });
        const replica: Replica = { worker };
        workers.push(replica);
        await new Promise<void>((resolve, reject) => {
          worker.once('message', (m: { ready: boolean; message?: string }) =>
            m.ready ? resolve() : reject(new CaptionerError(`data parallel: replica ${i} failed to start: ${m.message}`)),
          );
          worker.once('error', reject);
        });
        worker.on('message', (reply: ReplicaReply) => {
          const p = replica.pending;
          replica.pending = undefined;
          worker.unref();
          p?.resolve(reply);
        });
        const fail = (error: Error) => {
          replica.failed = error;
          replica.pending?.reject(error);
          replica.pending = undefined;
        };
        worker.on('error', fail);
        worker.on('exit', (code) => fail(new CaptionerError(`data parallel: replica ${i} exited (code ${code})`)));
        worker.unref(); // idle replicas do not keep the process alive; send() refs it while a step runs
      }
    } catch (error) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw error;
    }
    return new DataParallelTrainer(opts.replicas, workers);
  }

  /**
   * One optimizer step, like `trainStep`, with the batch's rows split across the replicas
   * (contiguous, as equal as possible; each replica still honours `microBatch`).
   */
  async trainStep(model: CaptionModel, optimizer: tf.Optimizer, features: tf.Tensor3D, tokens: tf.Tensor2D, opts: TrainStepOptions = {}): Promise<TrainStepResult> {
    if (this.closed) throw new CaptionerError('data parallel: trainer was disposed');
    const B = features.shape[0];
    const parts = Math.min(this.replicas, B);
    if (parts === 1) return applyGradientSums(model, optimizer, accumulateGradients(model, features, tokens, opts), opts.clipNorm);
    const bounds = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * B) / parts));
    const weights = model.variables.map((v) => v.dataSync() as Float32Array);
    // Rows are cut from the values, not with tensor.slice (see rowsTensor).
    const featureValues = features.dataSync() as Float32Array;
    const tokenValues = tokens.dataSync() as Int32Array;
    const [, L, D] = features.shape;
    const T = tokens.shape[1];
    // Workers get rows bounds[1].. ; this thread keeps rows [0, bounds[1]).
    const replies = this.workers.slice(0, parts - 1).map((replica, w) => {
      const start = bounds[w + 1];
      const size = bounds[w + 2] - start;
      const msg: ReplicaStep = {
        weights: weights.map((a) => new Float32Array(a)),
        features: featureValues.slice(start * L * D, (start + size) * L * D),
        featureShape: [size, L, D],
        tokens: tokenValues.slice(start * T, (start + size) * T),
        tokenShape: [size, T],
        microBatch: opts.microBatch,
        attentionPenalty: opts.attentionPenalty,
      };
      return this.send(replica, msg);
    });
    const size0 = bounds[1];
    const f0 = rowsTensor<tf.Rank.R3>(featureValues, features.shape, 'float32', 0, size0);
    const y0 = rowsTensor<tf.Rank.R2>(tokenValues, tokens.shape, 'int32', 0, size0);
    let mine: GradientSums;
    try {
      mine = accumulateGradients(model, f0, y0, opts);
    } finally {
      tf.dispose([f0, y0]);
    }
    let results: ReplicaReply[];
    try {
      results = await Promise.all(replies);
    } catch (error) {
      tf.dispose(mine.grads);
      throw error;
    }
    const failed = results.find((r) => !r.ok);
    if (failed && !failed.ok) {
      tf.dispose(mine.grads);
      throw new CaptionerError(`data parallel: a replica failed: ${failed.message}`);
    }
    // Σ over replicas of token-weighted sums (a replica with one micro-batch sent its mean: × tokens).
    const all = [mine, ...(results as Extract<ReplicaReply, { ok: true }>[])];
    const total = all.reduce((n, r) => n + r.tokens, 0);
    const theirs = results as Extract<ReplicaReply, { ok: true }>[];
    const grads = tf.tidy(() =>
      model.variables.map((v, i) => {
        const parts = [{ g: mine.grads[i], isMean: mine.isMean, tokens: mine.tokens }, ...theirs.map((r) => ({ g: tf.tensor(r.grads[i], v.shape, 'float32'), isMean: r.isMean, tokens: r.tokens }))];
        return tf.addN(parts.map((p) => (p.isMean ? tf.mul(p.g, p.tokens) : p.g)));
      }),
    );
    tf.dispose(mine.grads);
    return applyGradientSums(model, optimizer, { grads, isMean: false, lossSum: all.reduce((s, r) => s + r.lossSum, 0), tokens: total }, opts.clipNorm);
  }

  private send(replica: Replica, msg: ReplicaStep): Promise<ReplicaReply> {
    if (replica.failed) return Promise.reject(replica.failed);
    return new Promise((resolve, reject) => {
      replica.pending = { resolve, reject };
      replica.worker.ref();
      replica.worker.postMessage(msg, [...msg.weights, msg.features, msg.tokens].map((a) => a.buffer as ArrayBuffer));
    });
  }

  /** Stops the worker replicas. */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
