/**
 * Featurize engine benchmark: real Flickr8k images, decoded and resized exactly as the stage does,
 * through each engine. Every configuration runs in its own child process, so thread counts (fixed
 * per process for TF.js wasm) and peak RSS are per configuration.
 *
 *   npx tsx --conditions=source packages/featurize/bench/featurize.ts            # onnx + tfjs-wasm 1/2 threads
 *   npx tsx --conditions=source packages/featurize/bench/featurize.ts --sweep    # + ORT options, batch sizes, decode overlap
 *
 * Prints one JSON object per configuration on stdout:
 *   {engine, backend, threads, batch, images, imagesPerSec, peakRssMiB, mode, ...}
 * `mode`: "inference" = pre-decoded pixels, network only; "decode+infer" = decode each batch, then
 * infer; "overlapped" = decode batch k+1 while batch k is inferred; "decode" = sharp decode + resize only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { peakRssMiB } from '@captioner/core';
import type { FeatureExtractor, FeatureLayer } from '../src/extractor.js';
import { preprocessImage } from '../src/preprocess.js';

interface BenchConfig {
  /** 'none' with mode 'decode': time decoding + resizing alone. */
  engine: 'onnx' | 'tfjs' | 'none';
  threads: number;
  batch: number;
  images: number;
  layer: FeatureLayer;
  mode: 'inference' | 'decode+infer' | 'overlapped' | 'decode';
  imagesDir: string;
  /** ONNX only. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  executionMode?: 'sequential' | 'parallel';
  spinning?: boolean;
}

interface BenchResult {
  engine: string;
  backend: string;
  threads: number;
  batch: number;
  images: number;
  imagesPerSec: number;
  /** Process CPU time (all threads) per image: robust to other load on a shared machine, unlike imagesPerSec. */
  cpuSecPerImage: number;
  peakRssMiB: number;
  mode: BenchConfig['mode'];
  layer: FeatureLayer;
  graphOptimizationLevel?: string;
  executionMode?: string;
  spinning?: boolean;
  setupSec: number;
  note: string;
}

const INPUT_SIZE = 299;

function listImages(dir: string, count: number): string[] {
  if (!existsSync(dir)) throw new Error(`images folder ${dir} does not exist (set --images-dir)`);
  const files = readdirSync(dir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .slice(0, count);
  if (files.length < count) throw new Error(`${dir} holds only ${files.length} images, ${count} requested`);
  return files.map((f) => join(dir, f));
}

async function decodeBatch(files: string[]): Promise<Float32Array> {
  const out = new Float32Array(files.length * INPUT_SIZE * INPUT_SIZE * 3);
  await Promise.all(files.map((f, i) => preprocessImage(f, { inputSize: INPUT_SIZE, scaling: '0,1' }, out, i * INPUT_SIZE * INPUT_SIZE * 3)));
  return out;
}

async function createEngine(cfg: BenchConfig): Promise<{ extractor: FeatureExtractor; backend: string }> {
  if (cfg.engine === 'onnx') {
    const { createOnnxExtractor } = await import('../src/engines/onnx-engine.js');
    const extractor = await createOnnxExtractor({
      layer: cfg.layer,
      threads: cfg.threads,
      graphOptimizationLevel: cfg.graphOptimizationLevel,
      executionMode: cfg.executionMode,
      spinning: cfg.spinning,
    });
    return { extractor, backend: 'cpu' };
  }
  const { initBackend } = await import('@captioner/tf');
  const info = await initBackend({ backend: 'wasm', threads: cfg.threads, quiet: true });
  const { createTfjsExtractor } = await import('../src/engines/tfjs-engine.js');
  return { extractor: await createTfjsExtractor({ layer: cfg.layer }), backend: info.name };
}

async function runChild(cfg: BenchConfig): Promise<BenchResult> {
  const files = listImages(cfg.imagesDir, cfg.images);
  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += cfg.batch) batches.push(files.slice(i, i + cfg.batch));

  if (cfg.engine === 'none') {
    await decodeBatch(batches[0]); // warm-up
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    for (const b of batches) await decodeBatch(b);
    const elapsedMs = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    return {
      engine: 'none',
      backend: 'sharp',
      threads: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
      batch: cfg.batch,
      images: files.length,
      imagesPerSec: Number(((files.length / elapsedMs) * 1000).toFixed(2)),
      cpuSecPerImage: Number(((cpu.user + cpu.system) / 1e6 / files.length).toFixed(4)),
      peakRssMiB: peakRssMiB(),
      mode: 'decode',
      layer: cfg.layer,
      setupSec: 0,
      note: 'preprocessImage: sharp decode + JS bilinear resize to 299x299, scaled [0,1]',
    };
  }
  const setupStart = performance.now();
  const { extractor, backend } = await createEngine(cfg);
  const setupSec = (performance.now() - setupStart) / 1000;
  // Warm-up: first-run allocations, ORT arena growth, wasm kernel setup.
  await extractor.extract(await decodeBatch(batches[0]), batches[0].length);

  let elapsedMs: number;
  let cpuStart = process.cpuUsage();
  if (cfg.mode === 'inference') {
    const decoded = [];
    for (const b of batches) decoded.push(await decodeBatch(b));
    cpuStart = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < batches.length; i++) await extractor.extract(decoded[i], batches[i].length);
    elapsedMs = performance.now() - start;
  } else if (cfg.mode === 'decode+infer') {
    const start = performance.now();
    for (const b of batches) await extractor.extract(await decodeBatch(b), b.length);
    elapsedMs = performance.now() - start;
  } else {
    const start = performance.now();
    let next = decodeBatch(batches[0]);
    for (let i = 0; i < batches.length; i++) {
      const pixels = await next;
      if (i + 1 < batches.length) next = decodeBatch(batches[i + 1]);
      await extractor.extract(pixels, batches[i].length);
    }
    elapsedMs = performance.now() - start;
  }
  const cpu = process.cpuUsage(cpuStart);
  const result: BenchResult = {
    engine: cfg.engine,
    backend,
    threads: cfg.threads,
    batch: cfg.batch,
    images: files.length,
    imagesPerSec: Number(((files.length / elapsedMs) * 1000).toFixed(2)),
    cpuSecPerImage: Number(((cpu.user + cpu.system) / 1e6 / files.length).toFixed(3)),
    peakRssMiB: peakRssMiB(),
    mode: cfg.mode,
    layer: cfg.layer,
    ...(cfg.engine === 'onnx'
      ? { graphOptimizationLevel: cfg.graphOptimizationLevel ?? 'all', executionMode: cfg.executionMode ?? 'sequential', spinning: cfg.spinning ?? false }
      : {}),
    setupSec: Number(setupSec.toFixed(2)),
    note: extractor.engine,
  };
  extractor.dispose();
  return result;
}

function configs(base: Omit<BenchConfig, 'engine' | 'threads' | 'mode'>, sweep: boolean, cores: number): BenchConfig[] {
  const list: BenchConfig[] = [
    { ...base, engine: 'onnx', threads: cores, mode: 'inference' },
    { ...base, engine: 'tfjs', threads: 1, mode: 'inference' },
    { ...base, engine: 'tfjs', threads: Math.max(2, cores), mode: 'inference' },
  ];
  if (!sweep) return list;
  const onnx = { ...base, engine: 'onnx' as const, threads: cores, mode: 'inference' as const };
  list.push(
    { ...onnx, graphOptimizationLevel: 'basic' },
    { ...onnx, graphOptimizationLevel: 'disabled' },
    { ...onnx, executionMode: 'parallel' },
    { ...onnx, threads: 1 },
    { ...onnx, spinning: true },
    ...[1, 4, 16].filter((b) => b !== base.batch).map((batch) => ({ ...onnx, batch })),
    { ...onnx, mode: 'decode+infer' },
    { ...onnx, mode: 'overlapped' },
    { ...base, engine: 'none', threads: 0, mode: 'decode' },
  );
  return list;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      images: { type: 'string', default: '64' },
      batch: { type: 'string', default: '8' },
      layer: { type: 'string', default: 'mixed10' },
      'images-dir': { type: 'string', default: '/work/shared/flickr8k/Images' },
      engines: { type: 'string', default: 'onnx,tfjs' },
      sweep: { type: 'boolean', default: false },
    },
  });
  if (values.child) {
    process.stdout.write(JSON.stringify(await runChild(JSON.parse(values.child) as BenchConfig)) + '\n');
    // Parked wasm pthread workers must not keep the child alive.
    process.exit(0);
  }
  const images = Number(values.images);
  const batch = Number(values.batch);
  const layer = values.layer as FeatureLayer;
  if (!Number.isInteger(images) || images < 1) throw new Error(`--images must be a positive integer, got ${values.images}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got ${values.batch}`);
  if (layer !== 'mixed10' && layer !== 'mixed5') throw new Error(`--layer must be mixed10 or mixed5, got ${values.layer}`);
  const engines = new Set(values.engines.split(','));
  const cores = availableParallelism();
  const plan = configs({ batch, images, layer, imagesDir: values['images-dir'] }, values.sweep, cores).filter(
    (c) => engines.has(c.engine) || (c.engine === 'none' && values.sweep),
  );

  process.stderr.write(`featurize bench: ${plan.length} configurations, ${images} images, ${cores} cores (numbers are only comparable on an otherwise idle machine)\n`);
  const self = fileURLToPath(import.meta.url);
  for (const cfg of plan) {
    // Same node + tsx loader flags as this process.
    const child = spawnSync(process.execPath, [...process.execArgv, self, '--child', JSON.stringify(cfg)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    });
    const line = child.stdout.trim().split('\n').pop() ?? '';
    if (child.status !== 0 || !line.startsWith('{')) {
      process.stderr.write(`configuration ${JSON.stringify(cfg)} failed (exit ${child.status})\n`);
      process.exitCode = 1;
      continue;
    }
    process.stdout.write(line + '\n');
  }
}

await main();
