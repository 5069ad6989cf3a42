/**
 * Micro-benchmark of the wasm kernel patches and of wasm threads.
 *
 *   npx tsx --conditions=source packages/tf/bench/kernels.ts [--threads 1,2] [--reps 5] [--conv-reps 15]
 *
 * Prints one JSON object on stdout. Thread counts can only be set before the wasm backend
 * starts, so each count runs in a child process of this script. Times are medians of wall
 * clock (the machine may be shared: loadavg is recorded); `cpuMs` is this process's CPU time,
 * which is less sensitive to other load for single-threaded kernels.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '../src/index.js';
import { originalWasmKernels } from '../src/kernels/index.js';
import { randomIds, randomValues } from '../src/testing/compare.js';
import { convWorkload } from '../src/testing/workload.js';

interface Timing {
  /** Median wall-clock ms. */
  ms: number;
  /** Fastest run: the least disturbed by other processes on a shared machine. */
  minMs: number;
  cpuMs: number;
}

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const reps = Number(argValue('reps', '5'));

/** Median wall / CPU time of `run` after one warm-up. `run` must read its result back (dataSync) so wasm work is complete. */
function time(run: () => void, repetitions = reps): Timing {
  run();
  const samples: Omit<Timing, 'minMs'>[] = [];
  for (let i = 0; i < repetitions; i++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    run();
    const ms = performance.now() - start;
    const used = process.cpuUsage(cpu);
    samples.push({ ms, cpuMs: (used.user + used.system) / 1000 });
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    ms: round(median(samples.map((s) => s.ms))),
    minMs: round(Math.min(...samples.map((s) => s.ms))),
    cpuMs: round(median(samples.map((s) => s.cpuMs))),
  };
}

function round(x: number, digits = 2): number {
  return Number(x.toFixed(digits));
}

/** Run with the shipped (unpatched) wasm kernel registered instead of ours. */
function withOriginalKernel<T>(kernelName: string, run: () => T): T {
  const patched = tf.getKernel(kernelName, 'wasm');
  const original = originalWasmKernels.get(kernelName);
  if (!original) throw new Error(`no original ${kernelName} recorded`);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel(original);
  try {
    return run();
  } finally {
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel(patched);
  }
}

function gflops(flop: number, t: Timing): number {
  return round(flop / (t.ms * 1e6));
}

/** tf.tidy must not return the dataSync() array: tidy walks returned values element by element. */
function readBack(compute: () => tf.Tensor | tf.Tensor[]): void {
  tf.tidy(() => {
    const out = compute();
    for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
  });
}

function matMulCase(label: string, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean) {
  const a = tf.tensor2d(randomValues(m * k, 1), transposeA ? [k, m] : [m, k]);
  const b = tf.tensor2d(randomValues(k * n, 2), transposeB ? [n, k] : [k, n]);
  const run = () => readBack(() => tf.matMul(a, b, transposeA, transposeB));
  const patched = time(run);
  const original = withOriginalKernel('BatchMatMul', () => time(run));
  tf.dispose([a, b]);
  const flop = 2 * m * k * n;
  return {
    case: label,
    shape: `${m}x${k} · ${k}x${n}`,
    transposeA,
    transposeB,
    patched: { ...patched, gflops: gflops(flop, patched) },
    original: { ...original, gflops: gflops(flop, original) },
    speedup: round(original.ms / patched.ms, 1),
    // CPU time: single-threaded kernels, far less disturbed by other load than wall clock.
    speedupCpu: round(original.cpuMs / patched.cpuMs, 1),
  };
}

/** Gradient of a dense output layer (64 x 512 → 5001): dX = dY·Wᵀ (transposeB) and dW = Xᵀ·dY (transposeA). */
function denseGradientCase() {
  const x = tf.tensor2d(randomValues(64 * 512, 3), [64, 512]);
  const w = tf.tensor2d(randomValues(512 * 5001, 4), [512, 5001]);
  const dy = tf.tensor2d(randomValues(64 * 5001, 5), [64, 5001]);
  const grads = tf.grads((xs: tf.Tensor, ws: tf.Tensor) => tf.matMul(xs, ws).mul(dy).sum());
  const run = () => readBack(() => grads([x, w]));
  const patched = time(run);
  const original = withOriginalKernel('BatchMatMul', () => time(run));
  tf.dispose([x, w, dy]);
  const flop = 3 * 2 * 64 * 512 * 5001; // forward + two gradient products
  return {
    case: 'dense layer forward+backward (tf.grads)',
    shape: '64x512 · 512x5001',
    patched: { ...patched, gflops: gflops(flop, patched) },
    original: { ...original, gflops: gflops(flop, original) },
    speedup: round(original.ms / patched.ms, 1),
    // CPU time: single-threaded kernels, far less disturbed by other load than wall clock.
    speedupCpu: round(original.cpuMs / patched.cpuMs, 1),
  };
}

/** Embedding gradient: 64 captions x 34 steps of 256-d gradients scattered into 5001 rows. */
function segmentSumCase() {
  const rows = 64 * 34;
  const values = tf.tensor2d(randomValues(rows * 256, 6), [rows, 256]);
  const ids = tf.tensor1d(randomIds(rows, 5001, 7), 'int32');
  const kernel = time(() => readBack(() => tf.unsortedSegmentSum(values, ids, 5001)));
  // The alternative formulation with ops wasm already had: oneHot(ids)ᵀ · values.
  const oneHotMatMul = time(() => readBack(() => tf.matMul(tf.oneHot(ids, 5001), values, true, false)));
  const table = tf.tensor2d(randomValues(5001 * 256, 8), [5001, 256]);
  const idsGrid = tf.reshape(ids, [64, 34]);
  const gatherGrad = tf.grad((t: tf.Tensor) => tf.gather(t, idsGrid).sum());
  const embeddingGradient = time(() => readBack(() => gatherGrad(table)));
  tf.dispose([values, ids, table, idsGrid]);
  return { shape: `${rows}x256 into 5001 rows`, kernel, oneHotMatMul, embeddingGradient };
}

async function runBenchmarks(threads: number) {
  const started = performance.now();
  const info = await initBackend({ backend: 'wasm', threads, quiet: true });
  const startupMs = round(performance.now() - started);
  const conv = time(() => readBack(() => convWorkload(8, 48)), Number(argValue('conv-reps', '15')));
  const convValues = tf.tidy(() => Array.from(convWorkload(2, 32).dataSync()));
  const result = {
    backend: info,
    startupMs,
    convStack: { input: '8x48x48x16, 3x3 conv to 32 ch, relu, 3x3 conv to 32 ch (0.5 GFLOP)', ...conv },
    convValues,
    matMul: [
      matMulCase('plain (XNNPACK)', 64, 512, 5001, false, false),
      matMulCase('transposeB: logits · Wᵀ', 64, 512, 5001, false, true),
      matMulCase('transposeA: Xᵀ · dY', 512, 64, 5001, true, false),
    ],
    matMulGradient: denseGradientCase(),
    unsortedSegmentSum: segmentSumCase(),
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
  return result;
}
type BenchmarkResult = Awaited<ReturnType<typeof runBenchmarks>>;

async function child(threads: number) {
  process.stdout.write(JSON.stringify(await runBenchmarks(threads)) + '\n');
  process.exit(0); // pthread workers: exit explicitly (see README)
}

function main() {
  const threadCounts = argValue('threads', '1,2').split(',').map(Number);
  const script = fileURLToPath(import.meta.url);
  const loadavgBefore = os.loadavg().map((x) => round(x));
  const runs = threadCounts.map((threads) => {
    const out = spawnSync(process.execPath, [...process.execArgv, script, '--child', String(threads), '--reps', String(reps), '--conv-reps', argValue('conv-reps', '15')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 30 * 60_000,
    });
    if (out.status !== 0) throw new Error(`benchmark child (threads ${threads}) failed with status ${out.status}`);
    return JSON.parse(out.stdout) as BenchmarkResult;
  });
  const [first] = runs;
  const threadScaling = runs.map((r) => ({
    threads: r.backend.threads,
    startupMs: r.startupMs,
    rssMiB: r.rssMiB,
    convStackMs: r.convStack.ms,
    convStackCpuMs: r.convStack.cpuMs,
    convStackMinMs: r.convStack.minMs,
    speedupVs1: round(first.convStack.ms / r.convStack.ms),
    speedupVs1FromMin: round(first.convStack.minMs / r.convStack.minMs),
    matMulPlainGflops: r.matMul[0].patched.gflops,
    identicalConvOutputs: r.convValues.every((v, i) => v === first.convValues[i]),
  }));
  const report = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgBefore, loadavgAfter: os.loadavg().map((x) => round(x)) },
    note: 'wall-clock medians on a shared machine (other work running); cpuMs = process CPU time',
    threadScaling,
    runs: runs.map(({ convValues: _values, ...rest }) => rest),
  };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(Number(process.argv[childIndex + 1]));
else main();
