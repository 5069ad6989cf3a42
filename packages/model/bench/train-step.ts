/**
 * Training-step and decoding benchmark on the fixed workload: batch 64, captions of 35 tokens (34
 * predicted positions, no padding), vocabulary 5001, 64x2048 features, embedding 256 / units 512 /
 * attention 512, Adam, clipNorm 5. Runs each engine in its own child process (so peak RSS is its
 * own) and the PyTorch peer (../shared/bench/torch_ref.py) in the same run when torch is installed,
 * then prints one JSON object on stdout with positions/s, the ratio to PyTorch, peak RSS and greedy
 * decode latency (progress on stderr). Wrap it in `flock /tmp/captioner-cpu.lock`.
 *
 *   npm run bench:train -- [--engines onnx,tfjs] [--steps 3] [--warmup 1] [--threads N] [--peer path|none]
 *   npm run bench:decode                       (= --decode-only: greedy decode latency vs `torch_ref.py decode 20`)
 *
 * Child mode (one engine): --engine onnx|tfjs [--micro-batch N] [--spinning 0|1] [--profile] [--baseline]
 *   --profile: tfjs phase/kernel times, or onnxruntime's per-node profile summary for onnx.
 *   --baseline: also time the straightforward formulation (referenceLoss + autodiff, tfjs only).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tf, initBackend } from '@captioner/tf';
import { seededRandom } from '@captioner/core';
import { peakRssMiB } from '@captioner/core/node';
import { CaptionModel, greedyDecode, loadNative, nativeStepEngine, NativeTrainer, referenceLoss, tfjsStepEngine, trainStep, type NativeRuntime } from '../src/index.js';
import { profilePhases } from '../src/profile.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    engine: { type: 'string' },
    engines: { type: 'string', default: 'onnx,tfjs' },
    threads: { type: 'string' },
    steps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    batch: { type: 'string', default: '64' },
    'micro-batch': { type: 'string' },
    length: { type: 'string', default: '35' },
    vocab: { type: 'string', default: '5001' },
    spinning: { type: 'string' },
    peer: { type: 'string', default: join(here, '..', '..', '..', '..', 'shared', 'bench', 'torch_ref.py') },
    'decode-only': { type: 'boolean', default: false },
    baseline: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
let runtimeForProfile: NativeRuntime | null = null;

if (args.engine) await child(args.engine as 'onnx' | 'tfjs');
else parent();

/** Runs every engine in a child process and the PyTorch peer, then prints the comparison. */
function parent(): void {
  const decodeOnly = args['decode-only'];
  const forward = ['steps', 'warmup', 'batch', 'length', 'vocab', 'threads', 'micro-batch', 'spinning'].flatMap((k) =>
    args[k as keyof typeof args] !== undefined ? [`--${k}`, String(args[k as keyof typeof args])] : [],
  );
  const engines: Record<string, Record<string, unknown>> = {};
  for (const engine of args.engines.split(',')) {
    log(`engine ${engine} (child process)`);
    const r = spawnSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), '--engine', engine, ...forward, ...(decodeOnly ? ['--decode-only'] : []), ...(args.profile ? ['--profile'] : [])],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        encoding: 'utf8',
        maxBuffer: 64 * 2 ** 20,
      },
    );
    if (r.status !== 0) throw new Error(`bench child for engine ${engine} failed (exit ${r.status})`);
    engines[engine] = JSON.parse(r.stdout);
  }
  const peer = runPeer(decodeOnly);
  const ratio = (engine: Record<string, unknown>) => {
    if (!peer.result) return null;
    if (decodeOnly) return +((peer.result.ms_per_caption as number) / (engine.greedyDecode as { msMedian: number }).msMedian).toFixed(2);
    return +((engine.positionsPerSec as number) / (peer.result.tok_per_s_all as number)).toFixed(2);
  };
  const summary = Object.fromEntries(
    Object.entries(engines).map(([name, e]) => [
      name,
      decodeOnly
        ? { greedyDecodeMs: (e.greedyDecode as { msMedian: number }).msMedian, speedVsPyTorch: ratio(e), peakRssMiB: e.peakRssMiB }
        : {
            positionsPerSec: e.positionsPerSec,
            secondsPerStep: e.secondsPerStep,
            ratioToPyTorch: ratio(e),
            peakRssMiB: e.peakRssMiB,
            greedyDecodeMs: (e.greedyDecode as { msMedian: number }).msMedian,
          },
    ]),
  );
  console.log(
    JSON.stringify(
      {
        what: decodeOnly ? 'greedy decode, 1 image, 20 words (ms; speedVsPyTorch = PyTorch ms / ours)' : 'train step (positions/s; ratio = ours / PyTorch)',
        summary,
        pytorch: peer.result ? { ...peer.result, peakRssMiB: peer.peakRssMiB } : { skipped: peer.note },
        engines,
        cpus: os.cpus().length,
        loadAverage1m: +os.loadavg()[0].toFixed(2),
      },
      null,
      2,
    ),
  );
}

/** torch_ref.py in the same run, or a note why not (torch missing, no peer script). */
function runPeer(decodeOnly: boolean): { result?: Record<string, unknown>; peakRssMiB?: number; note?: string } {
  if (args.peer === 'none') return { note: 'disabled (--peer none)' };
  if (!existsSync(args.peer)) return { note: `peer script not found: ${args.peer}` };
  const python = '/usr/bin/python3';
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    return { note: 'PyTorch is not installed (apt-get install python3-torch python3-torchvision libopenblas0-pthread; see ../shared/bench/README.md)' };
  }
  const env = { ...process.env };
  // The peer's own instructions: these OpenBLAS settings are for this project's other tools only.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const peerArgs = decodeOnly ? ['decode', '20'] : ['train', args.batch, args.length, args.vocab, args.steps];
  log(`PyTorch peer: ${python} ${args.peer} ${peerArgs.join(' ')}`);
  const timeFile = join(os.tmpdir(), `captioner-peer-${process.pid}.time`);
  // GNU time for the peer's peak RSS when available (its children count: -f %M is the largest).
  const timed = existsSync('/usr/bin/time');
  const r = spawnSync(timed ? '/usr/bin/time' : python, timed ? ['-o', timeFile, '-f', '%M', python, args.peer, ...peerArgs] : [args.peer, ...peerArgs], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) return { note: `torch_ref.py failed (exit ${r.status})` };
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  let peak: number | undefined;
  if (timed && existsSync(timeFile)) {
    peak = Math.round(Number(readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)) / 1024);
    rmSync(timeFile, { force: true });
  }
  return { result, peakRssMiB: peak };
}

/** One engine: train steps and greedy decode latency, JSON on stdout. */
async function child(engine: 'onnx' | 'tfjs'): Promise<void> {
  const backend = await initBackend({ backend: 'wasm', ...(args.threads ? { threads: Number(args.threads) } : {}), quiet: true });
  const threads = args.threads ? Number(args.threads) : undefined;
  const nativeOpts = { ...(threads ? { threads } : {}), ...(args.spinning !== undefined ? { spinning: args.spinning === '1' } : {}) };
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
  const native = engine === 'onnx' ? await NativeTrainer.create(model, nativeOpts) : null;
  if (engine === 'onnx') runtimeForProfile = await loadNative();
  const step = () => (native ? native.trainStep(optimizer, features, tokens, opts) : trainStep(model, optimizer, features, tokens, opts));

  let cpuSeconds = 0;
  const time = (fn: () => void): number => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const c = process.cpuUsage(c0);
    cpuSeconds = (c.user + c.system) / 1e6;
    return (performance.now() - t0) / 1000;
  };

  const result: Record<string, unknown> = {
    engine,
    backend: engine === 'onnx' ? 'onnxruntime-node (cpu)' : backend.description,
    threads: threads ?? (engine === 'onnx' ? os.availableParallelism() : backend.threads),
  };
  if (!args['decode-only']) {
    for (let i = 0; i < Number(args.warmup); i++) log(`${engine} warm-up step ${time(step).toFixed(2)} s`);
    const tensorsBefore = tf.memory().numTensors;
    const times: number[] = [];
    const cpuTimes: number[] = [];
    for (let i = 0; i < Number(args.steps); i++) {
      times.push(time(step));
      cpuTimes.push(cpuSeconds);
      const split = native ? ` (onnxruntime run incl. Adam ${native.timings.runMs.toFixed(0)} ms)` : '';
      log(`${engine} step ${i + 1}: ${times[i].toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s cpu${split}`);
    }
    const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
    Object.assign(result, {
      workload: {
        batch: B,
        captionLength: T,
        predictedPositions: positions,
        vocab: V,
        features: [L, D],
        embeddingDim: 256,
        units: 512,
        attentionUnits: 512,
        optimizer: 'adam',
        ...opts,
      },
      secondsPerStep: +median.toFixed(3),
      stepTimes: times.map((t) => +t.toFixed(3)),
      cpuSecondsPerStep: +(cpuTimes.reduce((a, b) => a + b, 0) / cpuTimes.length).toFixed(3),
      // Median step, as torch_ref.py reports.
      positionsPerSec: Math.round(positions / median),
      tensorLeakPerRun: tf.memory().numTensors - tensorsBefore,
    });
    if (args.profile && engine === 'onnx') result.profile = profileOnnx(model, optimizer, features, tokens, opts, nativeOpts);
    if (args.profile && engine === 'tfjs') {
      const phases = profilePhases(() => trainStep(model, optimizer, features, tokens, opts));
      result.profile = Object.fromEntries([...phases.entries()].map(([name, t]) => [name, { cpuMs: Math.round(t.cpuMs), wallMs: Math.round(t.wallMs), calls: t.calls }]));
    }
    if (args.baseline && engine === 'tfjs') {
      const base = () =>
        tf.tidy(() => {
          const { grads } = tf.variableGrads(() => referenceLoss(model, features, tokens));
          optimizer.applyGradients(grads as Record<string, tf.Variable>);
        });
      log(`baseline warm-up ${time(base).toFixed(2)} s`);
      const t = time(base);
      result.baseline = { secondsPerStep: +t.toFixed(3), cpuSecondsPerStep: +cpuSeconds.toFixed(3), positionsPerSec: Math.round(positions / t) };
    }
    native?.syncModel();
  }

  // Greedy decode of a 20-word caption for one image (<eos> suppressed so it runs all 20 steps).
  const fc2Bias = model.variables[model.parameterNames.indexOf('fc2/bias')];
  fc2Bias.assign(tf.tidy(() => fc2Bias.add(tf.oneHot(2, V).mul(-1e4)) as tf.Tensor1D));
  // Explicit engines: in Node the default decode engine is the native one.
  const decodeEngine = engine === 'onnx' ? await nativeStepEngine(model, nativeOpts) : tfjsStepEngine(model);
  const one = features.slice([0, 0, 0], [1, L, D]);
  const decodeOpts = { startId: 1, endId: 2, maxLength: 20, engine: decodeEngine };
  greedyDecode(model, one, decodeOpts);
  const decodeTimes: number[] = [];
  let words = 0;
  for (let i = 0; i < 7; i++) decodeTimes.push(time(() => (words = greedyDecode(model, one, decodeOpts)[0].tokens.length)) * 1000);
  result.greedyDecode = { words, msMedian: +decodeTimes.sort((a, b) => a - b)[3].toFixed(1), msMin: +decodeTimes[0].toFixed(1) };
  result.peakRssMiB = peakRssMiB();
  console.log(JSON.stringify(result));
  process.exit(0);
}

/**
 * onnxruntime's own profile of one training step (after a warm-up step in the same session): time
 * per operator type and the slowest nodes. Scan bodies' nodes are counted inside their Scan too.
 */
function profileOnnx(model: CaptionModel, optimizer: tf.Optimizer, features: tf.Tensor3D, tokens: tf.Tensor2D, opts: object, nativeOpts: object) {
  const dir = mkdtempSync(join(os.tmpdir(), 'captioner-ort-profile-'));
  const profiled = NativeTrainer.withRuntime(model, runtimeForProfile!, { ...nativeOpts, profilePrefix: join(dir, 'train') });
  profiled.trainStep(optimizer, features, tokens, opts);
  profiled.trainStep(optimizer, features, tokens, opts);
  profiled.endProfiling();
  profiled.dispose();
  const file = readdirSync(dir).map((f) => join(dir, f))[0];
  type Event = { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string } };
  const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
  rmSync(dir, { recursive: true, force: true });
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const last = runs.at(-1)!;
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= last.ts && e.ts <= last.ts + last.dur);
  const byOp = new Map<string, number>();
  for (const e of nodes) {
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  }
  const byNode = new Map<string, number>();
  for (const e of nodes) {
    const key = e.name.replace(/_kernel_time$/, '');
    byNode.set(key, (byNode.get(key) ?? 0) + e.dur);
  }
  const ms = (us: number) => +(us / 1000).toFixed(1);
  return {
    runMs: ms(last.dur),
    byOpMs: Object.fromEntries([...byOp.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, ms(v)])),
    topNodesMs: Object.fromEntries(
      [...byNode.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 25)
        .map(([k, v]) => [k, ms(v)]),
    ),
  };
}
