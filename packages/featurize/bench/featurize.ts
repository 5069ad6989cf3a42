/**
 * Featurize engine benchmark: real Flickr8k images, decoded and resized exactly as the stage does,
 * through each engine, and the PyTorch peer (../shared/bench/torch_ref.py) on the same backbone in
 * the same run. Every configuration runs in its own child process, so thread counts (fixed per
 * process for TF.js wasm) and peak RSS are per configuration.
 *
 *   npm run bench:featurize                                   # MobileNetV2 Conv_1: onnx + tfjs-wasm 1/2 threads + PyTorch
 *   npm run bench:featurize -- --backbone inception_v3        # InceptionV3 mixed10 (PyTorch peer: feat)
 *   npm run bench:featurize -- --sweep                        # + ORT options, batch sizes, decode overlap
 *
 * Prints one JSON object per configuration on stdout:
 *   {engine, backend, threads, batch, images, imagesPerSec, peakRssMiB, mode, ...}
 * then the peer's figure ({engine: "pytorch", ...}) and one summary line on stderr: the default
 * engine's img/s, PyTorch's, and their ratio (the peer is skipped with a note when torch is absent).
 * `mode`: "inference" = pre-decoded pixels, network only; "decode+infer" = decode each batch, then
 * infer; "overlapped" = decode batch k+1 while batch k is inferred; "decode" = sharp decode + resize only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FEATURE_BACKBONES } from '@captioner/core';
import { peakRssMiB, workspaceRoot } from '@captioner/core/node';
import type { FeatureBackbone, FeatureExtractor, FeatureLayer, PixelScaling } from '../src/extractor.js';
import { BACKBONE_INPUT_SIZE } from '../src/engines/backbones.js';
import { preprocessImage } from '../src/preprocess.js';

interface BenchConfig {
  /** 'none' with mode 'decode': time decoding + resizing alone. */
  engine: 'onnx' | 'tfjs' | 'none';
  threads: number;
  batch: number;
  images: number;
  backbone: FeatureBackbone;
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
  backbone: FeatureBackbone;
  layer: FeatureLayer;
  graphOptimizationLevel?: string;
  executionMode?: string;
  spinning?: boolean;
  setupSec: number;
  note: string;
}

function listImages(dir: string, count: number): string[] {
  if (!existsSync(dir)) throw new Error(`images folder ${dir} does not exist (set --images-dir)`);
  const files = readdirSync(dir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .slice(0, count);
  if (files.length < count) throw new Error(`${dir} holds only ${files.length} images, ${count} requested`);
  return files.map((f) => join(dir, f));
}

/** Decodes + resizes as the stage does, at the backbone's input size and default scaling. */
async function decodeBatch(files: string[], backbone: FeatureBackbone): Promise<Float32Array> {
  const size = BACKBONE_INPUT_SIZE[backbone];
  const scaling = FEATURE_BACKBONES[backbone].scalings[0] as PixelScaling;
  const out = new Float32Array(files.length * size * size * 3);
  await Promise.all(files.map((f, i) => preprocessImage(f, { inputSize: size, scaling }, out, i * size * size * 3)));
  return out;
}

async function createEngine(cfg: BenchConfig): Promise<{ extractor: FeatureExtractor; backend: string }> {
  if (cfg.engine === 'onnx') {
    const { createOnnxExtractor } = await import('../src/engines/onnx-engine.js');
    const extractor = await createOnnxExtractor({
      backbone: cfg.backbone,
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
  return { extractor: await createTfjsExtractor({ backbone: cfg.backbone, layer: cfg.layer }), backend: info.name };
}

async function runChild(cfg: BenchConfig): Promise<BenchResult> {
  const files = listImages(cfg.imagesDir, cfg.images);
  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += cfg.batch) batches.push(files.slice(i, i + cfg.batch));

  if (cfg.engine === 'none') {
    await decodeBatch(batches[0], cfg.backbone); // warm-up
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    for (const b of batches) await decodeBatch(b, cfg.backbone);
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
      backbone: cfg.backbone,
      layer: cfg.layer,
      setupSec: 0,
      note: `preprocessImage: sharp decode + JS bilinear resize to ${BACKBONE_INPUT_SIZE[cfg.backbone]}px`,
    };
  }
  const setupStart = performance.now();
  const { extractor, backend } = await createEngine(cfg);
  const setupSec = (performance.now() - setupStart) / 1000;
  // Warm-up: first-run allocations, ORT arena growth, wasm kernel setup.
  await extractor.extract(await decodeBatch(batches[0], cfg.backbone), batches[0].length);

  let elapsedMs: number;
  let cpuStart = process.cpuUsage();
  if (cfg.mode === 'inference') {
    const decoded = [];
    for (const b of batches) decoded.push(await decodeBatch(b, cfg.backbone));
    cpuStart = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < batches.length; i++) await extractor.extract(decoded[i], batches[i].length);
    elapsedMs = performance.now() - start;
  } else if (cfg.mode === 'decode+infer') {
    const start = performance.now();
    for (const b of batches) await extractor.extract(await decodeBatch(b, cfg.backbone), b.length);
    elapsedMs = performance.now() - start;
  } else {
    const start = performance.now();
    let next = decodeBatch(batches[0], cfg.backbone);
    for (let i = 0; i < batches.length; i++) {
      const pixels = await next;
      if (i + 1 < batches.length) next = decodeBatch(batches[i + 1], cfg.backbone);
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
    backbone: cfg.backbone,
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

interface PeerResult {
  engine: 'pytorch';
  command: string;
  imagesPerSec: number;
  raw: Record<string, unknown>;
}

/**
 * The PyTorch peer on the same backbone (torch_ref.py `featm` = torchvision MobileNetV2 features at
 * 224, `feat` = InceptionV3 to mixed7c at 299; random weights, pre-made input: inference only, like
 * our `inference` mode). Returns `{ skipped: reason }` when python3/torch or the script is missing.
 */
function runPeer(backbone: FeatureBackbone, batch: number, script: string, python: string): PeerResult | { skipped: string } {
  if (!existsSync(script)) return { skipped: `peer script ${script} not found` };
  // OPENBLAS_CORETYPE (set for TF.js builds on some boxes) breaks Debian's OpenBLAS: unset for the peer only.
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const probe = spawnSync(python, ['-c', 'import torch, torchvision'], { env, encoding: 'utf8' });
  if (probe.status !== 0) {
    return { skipped: `${python} cannot import torch/torchvision (apt-get install python3-torch python3-torchvision libopenblas0-pthread)` };
  }
  const args = [script, backbone === 'mobilenet_v2' ? 'featm' : 'feat', String(batch), '3'];
  const run = spawnSync(python, args, { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  const line = run.stdout?.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !line.startsWith('{')) return { skipped: `peer failed (exit ${run.status}): ${run.stderr?.trim().split('\n').pop() ?? ''}` };
  const raw = JSON.parse(line) as Record<string, unknown>;
  return { engine: 'pytorch', command: [python, ...args].join(' '), imagesPerSec: Number(raw.img_per_s), raw };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      images: { type: 'string', default: '64' },
      batch: { type: 'string', default: '8' },
      backbone: { type: 'string', default: 'mobilenet_v2' },
      layer: { type: 'string' },
      'images-dir': { type: 'string', default: '/work/shared/flickr8k/Images' },
      engines: { type: 'string', default: 'onnx,tfjs' },
      sweep: { type: 'boolean', default: false },
      peer: { type: 'string', default: join(workspaceRoot(), '..', 'shared', 'bench', 'torch_ref.py') },
      python: { type: 'string', default: '/usr/bin/python3' },
      'no-peer': { type: 'boolean', default: false },
    },
  });
  if (values.child) {
    process.stdout.write(JSON.stringify(await runChild(JSON.parse(values.child) as BenchConfig)) + '\n');
    // Parked wasm pthread workers must not keep the child alive.
    process.exit(0);
  }
  const images = Number(values.images);
  const batch = Number(values.batch);
  const backbone = values.backbone as FeatureBackbone;
  if (!Object.hasOwn(FEATURE_BACKBONES, backbone)) throw new Error(`--backbone must be one of ${Object.keys(FEATURE_BACKBONES).join(', ')}, got ${values.backbone}`);
  const layers = FEATURE_BACKBONES[backbone].layers as readonly string[];
  const layer = (values.layer ?? layers[0]) as FeatureLayer;
  if (!Number.isInteger(images) || images < 1) throw new Error(`--images must be a positive integer, got ${values.images}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got ${values.batch}`);
  if (!layers.includes(layer)) throw new Error(`--layer must be one of ${layers.join(', ')} for ${backbone}, got ${values.layer}`);
  const engines = new Set(values.engines.split(','));
  const cores = availableParallelism();
  const plan = configs({ batch, images, backbone, layer, imagesDir: values['images-dir'] }, values.sweep, cores).filter(
    (c) => engines.has(c.engine) || (c.engine === 'none' && values.sweep),
  );

  process.stderr.write(
    `featurize bench: ${backbone} ${layer}, ${plan.length} configurations + PyTorch peer, ${images} images, ${cores} cores (numbers are only comparable on an otherwise idle machine)\n`,
  );
  const self = fileURLToPath(import.meta.url);
  const results: BenchResult[] = [];
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
    results.push(JSON.parse(line) as BenchResult);
    process.stdout.write(line + '\n');
  }
  if (values['no-peer']) return;
  const peer = runPeer(backbone, batch, values.peer, values.python);
  if ('skipped' in peer) {
    process.stderr.write(`PyTorch peer skipped: ${peer.skipped}\n`);
    return;
  }
  process.stdout.write(JSON.stringify(peer) + '\n');
  // The default engine: onnxruntime with the default options on all cores (what `auto` picks).
  const ours = results.find(
    (r) =>
      r.engine === 'onnx' &&
      r.mode === 'inference' &&
      r.threads === cores &&
      r.batch === batch &&
      !r.spinning &&
      r.graphOptimizationLevel === 'all' &&
      r.executionMode === 'sequential',
  );
  if (ours) {
    process.stderr.write(
      `${backbone} ${layer}, batch ${batch}: onnxruntime-node ${ours.imagesPerSec} img/s vs PyTorch ${peer.imagesPerSec} img/s ` +
        `(${String(peer.raw.omp_wait_policy ?? '')}) = ${(ours.imagesPerSec / peer.imagesPerSec).toFixed(2)}x\n`,
    );
  }
}

await main();
