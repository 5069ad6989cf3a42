/**
 * Training-step benchmark on the fixed workload: batch 64, captions of 35 tokens (34 predicted
 * positions, no padding), vocabulary 5001, 64x2048 features, embedding 256 / units 512 / attention
 * 512, Adam. Prints one JSON object on stdout (progress on stderr).
 *
 *   npx tsx --conditions=source packages/model/bench/train-step.ts [--backend wasm] [--threads 2]
 *     [--steps 5] [--warmup 1] [--batch 64] [--micro-batch 64] [--replicas 1] [--baseline] [--profile]
 *
 * --replicas N splits each batch across this thread and N-1 worker threads (DataParallelTrainer),
 * each replica with --threads wasm threads.
 * --baseline also times the straightforward formulation (per-word encoder, tanh attention,
 * autodiff) on the same workload; --profile adds per-kernel times of one step (tf.profile).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { tf, initBackend } from '@captioner/tf';
import { peakRssMiB, seededRandom } from '@captioner/core';
import { CaptionModel, DataParallelTrainer, greedyDecode, referenceLoss, trainStep } from '../src/index.js';
import { profilePhases } from '../src/profile.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    batch: { type: 'string', default: '64' },
    'micro-batch': { type: 'string' },
    replicas: { type: 'string', default: '1' },
    length: { type: 'string', default: '35' },
    vocab: { type: 'string', default: '5001' },
    baseline: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const backend = await initBackend({
  backend: args.backend as 'wasm' | 'cpu' | 'auto',
  ...(args.threads ? { threads: Number(args.threads) } : {}),
});
const B = Number(args.batch);
const T = Number(args.length);
const V = Number(args.vocab);
const L = 64;
const D = 2048;
const config = { vocabSize: V, locations: L, featureDim: D, embeddingDim: 256, units: 512, attentionUnits: 512 };
const model = CaptionModel.create(config, 1);
const random = seededRandom(7);
const rows = Array.from({ length: B }, () => [1, ...Array.from({ length: T - 2 }, () => 3 + Math.floor(random() * (V - 3))), 2]);
const tokens = tf.tensor2d(rows, [B, T], 'int32');
const features = tf.tidy(() => tf.relu(tf.randomNormal([B, L, D], 0, 1, 'float32', 3))) as tf.Tensor3D;
const optimizer = tf.train.adam(1e-3);
const positions = B * (T - 1);
const opts = { clipNorm: 5, ...(args['micro-batch'] ? { microBatch: Number(args['micro-batch']) } : {}) };

const replicas = Number(args.replicas);
const trainer =
  replicas > 1 ? await DataParallelTrainer.start(config, { replicas, backend: backend.name as 'wasm' | 'cpu', threadsPerReplica: backend.threads }) : undefined;
const step = async () => {
  if (trainer) await trainer.trainStep(model, optimizer, features, tokens, opts);
  else trainStep(model, optimizer, features, tokens, opts);
};

let cpuSeconds = 0;
/** Wall seconds of fn; its process CPU seconds (all threads) accumulate in cpuSeconds. */
function time(fn: () => void): number {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const c = process.cpuUsage(c0);
  cpuSeconds = (c.user + c.system) / 1e6;
  return (performance.now() - t0) / 1000;
}

/** timeAsync: the same for an async step (CPU of worker threads counts: cpuUsage is per process). */
async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  cpuSeconds = (c.user + c.system) / 1e6;
  return (performance.now() - t0) / 1000;
}

const load0 = os.loadavg()[0];
for (let i = 0; i < Number(args.warmup); i++) log(`warm-up step ${(await timeAsync(step)).toFixed(2)} s`);
const tensorsBefore = tf.memory().numTensors;
const times: number[] = [];
const cpuTimes: number[] = [];
for (let i = 0; i < Number(args.steps); i++) {
  times.push(await timeAsync(step));
  cpuTimes.push(cpuSeconds);
  log(`step ${i + 1}: ${times[i].toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s cpu`);
}
const cpuMean = cpuTimes.reduce((a, b) => a + b, 0) / cpuTimes.length;
const tensorLeak = tf.memory().numTensors - tensorsBefore;
const mean = times.reduce((a, b) => a + b, 0) / times.length;

let profile: unknown;
if (args.profile) {
  // Phase times (CPU and wall) of one step, then per-kernel times of another (tf.profile).
  const phases = profilePhases(() => trainStep(model, optimizer, features, tokens, opts));
  const info = await tf.profile(() => {
    trainStep(model, optimizer, features, tokens, opts);
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    if (k.name.endsWith('__op')) continue; // op wrappers around a kernel: counted by the kernel
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = byKernel.get(key) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.calls++;
    byKernel.set(key, e);
  }
  profile = {
    phases: Object.fromEntries(
      [...phases.entries()].map(([name, t]) => [name, { cpuMs: Math.round(t.cpuMs), wallMs: Math.round(t.wallMs), calls: t.calls }]),
    ),
    topKernels: [...byKernel.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 20)
      .map(([kernel, e]) => ({ kernel, wallMs: Math.round(e.ms), calls: e.calls })),
  };
}

let baseline: unknown;
if (args.baseline) {
  const step = () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => referenceLoss(model, features, tokens));
      optimizer.applyGradients(grads as Record<string, tf.Variable>);
    });
  log(`baseline warm-up ${time(step).toFixed(2)} s`);
  const t = time(step);
  baseline = { secondsPerStep: +t.toFixed(3), cpuSecondsPerStep: +cpuSeconds.toFixed(3), positionsPerSec: Math.round(positions / t) };
  log(`baseline step ${t.toFixed(2)} s`);
}

// Greedy decode of a 20-word caption for one image (<eos> suppressed so it runs all 20 steps).
const fc2Bias = model.variables[model.parameterNames.indexOf('fc2/bias')];
fc2Bias.assign(tf.tidy(() => fc2Bias.add(tf.oneHot(2, V).mul(-1e4)) as tf.Tensor1D));
const one = features.slice([0, 0, 0], [1, L, D]);
greedyDecode(model, one, { startId: 1, endId: 2, maxLength: 20 });
const decodeTimes: number[] = [];
let words = 0;
for (let i = 0; i < 5; i++) decodeTimes.push(time(() => (words = greedyDecode(model, one, { startId: 1, endId: 2, maxLength: 20 })[0].tokens.length)) * 1000);

console.log(
  JSON.stringify(
    {
      workload: { batch: B, captionLength: T, predictedPositions: positions, vocab: V, features: [L, D], embeddingDim: 256, units: 512, attentionUnits: 512, optimizer: 'adam', ...opts },
      backend: backend.name,
      threads: backend.threads,
      replicas,
      backendDetail: backend.description,
      secondsPerStep: +mean.toFixed(3),
      stepTimes: times.map((t) => +t.toFixed(3)),
      stepsPerSec: +(1 / mean).toFixed(3),
      // Process CPU seconds per step (all threads): stable when other work shares the machine.
      cpuSecondsPerStep: +cpuMean.toFixed(3),
      positionsPerSec: Math.round(positions / mean),
      tensorLeakPerRun: tensorLeak,
      peakRssMiB: peakRssMiB(),
      greedyDecode: { words, msMedian: +decodeTimes.sort((a, b) => a - b)[2].toFixed(1) },
      ...(baseline ? { baseline } : {}),
      ...(profile ? { profile } : {}),
      loadAverage1mAtStart: +load0.toFixed(2),
      loadAverage1mAtEnd: +os.loadavg()[0].toFixed(2),
    },
    null,
    2,
  ),
);
await trainer?.dispose();
process.exit(0);
