/**
 * Ships a trained captioner as the pretrained model: uint8-quantized weights (TF.js manifest
 * quantization; float16 for the tensors --float16 / --float16-auto pick), the vocabulary, the
 * featurize settings and a model card, written atomically to
 * packages/caption/pretrained/flickr8k-mobilenet_v2/ — after checking, with the evaluate stage's own
 * code on the Flickr8k test split, that the quantized model scores within --tolerance (0.5) points
 * of the float one on BLEU-4 and CIDEr-D (x100, greedy and beam). One command when a better model lands:
 *
 *   flock /tmp/captioner-cpu.lock npx tsx --conditions=source tools/ship-model.ts \
 *     data/ablations/mobilenet/train/model --config pipelines/configs/ablations/mobilenet.json
 *
 * --config names the pipeline config the model was trained with: its featurize and ingest stage
 * folders give the test features and references (--stagesDir overrides its stagesDir); decoding is
 * the config's evaluate section (--beam overrides the width). --work DIR keeps the evaluation outputs
 * (default a temp folder under /tmp); --limit N evaluates the first N test images only (quick
 * checks; the model card says so); --out DIR writes elsewhere; --float-metrics FILE reuses the
 * evaluate stage's metrics.json of the same float model instead of decoding it again (only when that
 * run decoded on the same engine: Node decodes on onnxruntime by default, CAPTIONER_DECODE_ENGINE=tfjs
 * on TF.js, and metrics.json does not record which); --note TEXT
 * adds a paragraph to the model card (e.g. which run the model comes from).
 *
 * Mixed precision: --float16 NAME,NAME keeps those weights float16 (twice the bytes of uint8);
 * --float16-auto X adds every bias and every tensor whose uint8 step exceeds X times its std
 * (quantizationStats). The tool prints that per-tensor table first; --analyze prints it and stops.
 * --uint8-range mse sets each uint8 tensor's range for least squared error (a few outliers clipped)
 * instead of its min/max.
 * Choose X on the validation split (--split val --out /tmp/x: scores without shipping anything
 * the tests would read), then ship on test.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CaptionerError, evaluateSchema } from '@captioner/core';
import { stageContext, withAtomicPath, workspaceRoot } from '@captioner/core/node';
import { initBackend } from '@captioner/tf';
import { float16ByRule, isQuantized, PRETRAINED_MODEL_DIR, quantizationStats, quantizeArtifacts, readModelArtifacts } from '@captioner/caption';
import { runEvaluate, type EvaluateReport } from '@captioner/evaluate';

// One clear line for a CaptionerError (exit 2), a stack for anything else (exit 1).
process.on('uncaughtException', (err) => {
  if (err instanceof CaptionerError) process.stderr.write(`error: ${err.message}\n`);
  else console.error(err);
  process.exit(err instanceof CaptionerError ? 2 : 1);
});

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    config: { type: 'string' },
    out: { type: 'string', default: PRETRAINED_MODEL_DIR },
    work: { type: 'string' },
    split: { type: 'string', default: 'test' },
    stagesDir: { type: 'string' },
    beam: { type: 'string' },
    limit: { type: 'string' },
    tolerance: { type: 'string', default: '0.5' },
    'float-metrics': { type: 'string' },
    note: { type: 'string' },
    float16: { type: 'string' },
    'float16-auto': { type: 'string' },
    analyze: { type: 'boolean', default: false },
    'uint8-range': { type: 'string', default: 'minmax' },
  },
});

const root = workspaceRoot();
if (positionals.length !== 1 || !values.config) {
  process.stderr.write('usage: tools/ship-model.ts <trained model folder> --config <pipeline config> [--out DIR] [--work DIR] [--limit N]\n');
  process.exit(2);
}
const sourceDir = resolve(positionals[0]);
const outDir = resolve(values.out!);
const tolerance = Number(values.tolerance);
const ctx = stageContext({ config: values.config, ...(values.stagesDir ? { stagesDir: values.stagesDir } : {}) });
const featurizeDir = ctx.dir('featurize');
const ingestDir = ctx.dir('ingest');
for (const [what, dir] of [
  ['featurize', featurizeDir],
  ['ingest', ingestDir],
] as const) {
  if (!existsSync(dir)) throw new CaptionerError(`${values.config}: the ${what} stage folder ${dir} does not exist (run the pipeline first)`);
}
const work = values.work ? resolve(values.work) : mkdtempSync(join(tmpdir(), 'ship-model-'));
mkdirSync(work, { recursive: true });

await initBackend({ backend: ctx.config.backend });

// 1. Quantize into a staging folder (the shipped layout, minus the card).
const artifacts = readModelArtifacts(sourceDir);
if (isQuantized(artifacts.modelJson)) throw new CaptionerError(`${sourceDir}: already quantized; ship from the float model`);
const stats = quantizationStats(artifacts, join(sourceDir, '/'));
const autoStep = values['float16-auto'] !== undefined ? Number(values['float16-auto']) : null;
if (autoStep !== null && !(autoStep >= 0))
  throw new CaptionerError(`--float16-auto ${values['float16-auto']}: give the largest uint8 step kept, as a multiple of the tensor's std (e.g. 0.05)`);
const float16 = [
  ...new Set([
    ...(values.float16 ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    ...(autoStep !== null ? float16ByRule(stats, autoStep) : []),
  ]),
];
const unknownNames = float16.filter((n) => !stats.some((t) => t.name === n));
if (unknownNames.length > 0)
  throw new CaptionerError(`--float16: no weight named ${unknownNames.join(', ')} in ${sourceDir}/model.json (weights: ${stats.map((t) => t.name).join(', ')})`);
const precision = (name: string) => (float16.includes(name) ? 'float16' : 'uint8');
const statsTable = [
  '| weight | values | std | uint8 step / std | uint8 RMS error / std | float16 max error / std | shipped as |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ...stats.map(
    (t) =>
      `| ${t.name} | ${t.size} | ${t.std.toPrecision(3)} | ${t.stepOverStd.toFixed(4)} | ${t.rmsErrorOverStd.toFixed(4)} | ${t.float16MaxErrorOverStd.toExponential(1)} | ${precision(t.name)} |`,
  ),
].join('\n');
process.stderr.write(`${statsTable}\n\n`);
if (values.analyze) process.exit(0);
const uint8Range = values['uint8-range'];
if (uint8Range !== 'minmax' && uint8Range !== 'mse') throw new CaptionerError(`--uint8-range ${uint8Range}: minmax or mse`);
const quantized = quantizeArtifacts(artifacts, join(sourceDir, '/'), { float16, uint8Range });
const weightsLabel = float16.length > 0 ? 'uint8 + float16' : 'uint8';

/**
 * What inference reads of the vocabulary: every field but wordCounts, and wordIndex cut to the ids the
 * decoder can emit (< vocabSize). On one line. Saves ~200 KB of the 8 MB budget.
 */
function inferenceVocab(vocab: unknown): unknown {
  const { wordCounts: _counts, wordIndex, ...rest } = vocab as { wordCounts?: unknown; wordIndex: Record<string, number>; vocabSize: number };
  return { ...rest, wordIndex: Object.fromEntries(Object.entries(wordIndex).filter(([, id]) => id < rest.vocabSize)) };
}
const staged = join(work, 'quantized');
mkdirSync(staged, { recursive: true });
const pretty = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
const files: Record<string, string | Uint8Array> = {
  'model.json': pretty(quantized.modelJson),
  'weights.bin': new Uint8Array(quantized.weightData),
  'vocab.json': JSON.stringify(inferenceVocab(quantized.vocab)) + '\n',
  'features.json': pretty(quantized.features),
  'config.json': pretty(quantized.config),
};
for (const [name, data] of Object.entries(files)) writeFileSync(join(staged, name), data);

// 2. Float vs quantized on the split, with the evaluate stage (no baselines: they do not depend on the model).
const config = evaluateSchema.parse({
  ...ctx.config.evaluate,
  split: values.split,
  beam: values.beam ? Number(values.beam) : ctx.config.evaluate.beam,
  limit: values.limit ? Number(values.limit) : null,
  baselines: false,
});
const evaluate = async (modelDir: string, name: string): Promise<EvaluateReport> =>
  runEvaluate({ modelDir, featurizeDir, ingestDir, outDir: join(work, `evaluate-${name}`), config, progressIntervalMs: 30_000 });
/**
 * --float-metrics FILE: the evaluate stage already scored the float model (its metrics.json), so only
 * the quantized one is decoded here. Accepted only for the same model folder, split, image count
 * and decoding settings.
 */
function floatFromMetrics(file: string): EvaluateReport {
  const m = JSON.parse(readFileSync(file, 'utf8')) as EvaluateReport;
  const problems: string[] = [];
  if (realpathSync(m.checkpoint.path) !== realpathSync(sourceDir)) problems.push(`checkpoint ${m.checkpoint.path} is not ${sourceDir}`);
  if (m.split !== config.split) problems.push(`split ${m.split}, not ${config.split}`);
  if (config.limit !== null) problems.push('--limit is set');
  const beam = m.methods.beam.decoding;
  if (
    beam.beam !== config.beam ||
    (beam.lengthPenalty ?? 1) !== config.lengthPenalty ||
    beam.noRepeatNgram !== config.noRepeatNgram ||
    m.methods.greedy.decoding.noRepeatNgram !== config.noRepeatNgram
  ) {
    problems.push(`decoding ${JSON.stringify(beam)} differs from beam ${config.beam}, lengthPenalty ${config.lengthPenalty}, noRepeatNgram ${config.noRepeatNgram}`);
  }
  if (problems.length > 0) throw new CaptionerError(`--float-metrics ${file} cannot stand for the float model: ${problems.join('; ')}`);
  return m;
}
const float = values['float-metrics'] ? floatFromMetrics(resolve(values['float-metrics'])) : await evaluate(sourceDir, 'float');
const quant = await evaluate(staged, 'quantized');
if (quant.images !== float.images) throw new CaptionerError(`float scored ${float.images} images, quantized ${quant.images}: not comparable`);

const METRICS = ['BLEU-1', 'BLEU-4', 'CIDEr-D', 'ROUGE-L'] as const;
const methods = ['greedy', 'beam'] as const;
const gaps: string[] = [];
for (const m of methods) {
  for (const k of ['BLEU-4', 'CIDEr-D'] as const) {
    const d = Math.abs(float.x100[m][k] - quant.x100[m][k]);
    if (d > tolerance) gaps.push(`${m} ${k}: float ${float.x100[m][k]}, quantized ${quant.x100[m][k]} (|Δ| ${d.toFixed(2)} > ${tolerance})`);
  }
}
const table = [
  `| decoding | weights | ${METRICS.join(' | ')} |`,
  `| --- | --- | ${METRICS.map(() => '---').join(' | ')} |`,
  ...methods.flatMap((m) =>
    [
      ['float32', float],
      [`${weightsLabel} (shipped)`, quant],
    ].map(([w, r]) => `| ${m === 'beam' ? `beam ${config.beam}` : 'greedy'} | ${w} | ${METRICS.map((k) => (r as EvaluateReport).x100[m][k].toFixed(2)).join(' | ')} |`),
  ),
].join('\n');
process.stderr.write(`\n${table}\n\n`);
if (gaps.length > 0) throw new CaptionerError(`the quantized model is too far from the float one, nothing shipped:\n  ${gaps.join('\n  ')}`);

// 3. The model card, then the folder into place in one rename.
const bytes = (p: string) => statSync(p).size;
const floatBytes = readdirSync(sourceDir).reduce((n, f) => n + bytes(join(sourceDir, f)), 0);
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const cfg = artifacts.config as { model: Record<string, number>; training?: Record<string, unknown> };
const training = (cfg.training ?? {}) as {
  epoch?: number;
  best?: { epoch?: number; by?: string; score?: number };
  train?: Record<string, unknown>;
  images?: Record<string, number>;
};
const features = artifacts.features as Record<string, unknown>;
const vocab = artifacts.vocab as { numWords: number; vocabSize: number; maxLength: number };
const rel = (p: string) => (relative(root, p).startsWith('..') ? p : relative(root, p) || '.');
const limited = values.limit ? ` (first ${values.limit} images only: not the full split)` : '';
const float16Flags = `${values.float16 ? ` --float16 ${values.float16}` : ''}${autoStep !== null ? ` --float16-auto ${values['float16-auto']}` : ''}${uint8Range === 'mse' ? ' --uint8-range mse' : ''}`;
const command = `npx tsx --conditions=source tools/ship-model.ts ${rel(sourceDir)} --config ${values.config}${values.stagesDir ? ` --stagesDir ${rel(resolve(values.stagesDir))}` : ''}${float16Flags}${values.limit ? ` --limit ${values.limit}` : ''}${values['float-metrics'] ? ` --float-metrics ${rel(resolve(values['float-metrics']))}` : ''}${values.note ? ' --note "…"' : ''}`;

function card(weightsBytes: number, totalBytes: number): string {
  return `# Model card: Show, Attend and Tell on Flickr8k, MobileNetV2 features (shipped, ${weightsLabel})

The captioner \`npx captioner caption IMAGE\` and \`loadCaptioner()\` use when no model is given, and
the one the browser demo (packages/demo) runs. Written by \`tools/ship-model.ts\` on ${new Date().toISOString().slice(0, 10)}:

\`\`\`sh
${command}
\`\`\`

## Model

- Decoder: Show, Attend and Tell (Xu et al. 2015) as in the TensorFlow tutorial with the GRU
  recurrence fixed (\`@captioner/model\`): embedding ${cfg.model.embeddingDim}, GRU ${cfg.model.units} units, Bahdanau
  attention ${cfg.model.attentionUnits} units, vocabulary ${vocab.vocabSize} (${vocab.numWords} words + pad), at most ${vocab.maxLength - 1} decoder steps.
- Features: ImageNet MobileNetV2 1.0 224 (the quantized TFLite in packages/featurize/models/mobilenet_v2,
  sha256 \`${String(features.weightsHash).slice(0, 16)}…\`), layer \`${features.layer}\` → ${(features.grid as number[]).join('x')}x${features.dim},
  pixels scaled to [${features.scaling}], ${features.inputSize}px bilinear resize, features rounded to ${features.dtype} as in training.
  The attention is over this ${(features.grid as number[]).join('x')} grid.
- Weights: ${
    float16.length > 0
      ? `mixed precision per tensor in the TF.js weights-manifest format: uint8 affine
  (\`quantization: { dtype: "uint8", min, scale }\`${uint8Range === 'mse' ? ', each range set for least squared error, a few outliers clipped: `--uint8-range mse`' : ''}) for all but ${float16.map((n) => `\`${n}\``).join(', ')}, stored float16
  (\`quantization: { dtype: "float16" }\`)${autoStep !== null ? ` — every bias and every tensor whose uint8 step exceeds ${autoStep} × its std (\`--float16-auto ${autoStep}\`)` : ''}${values.float16 ? `${autoStep !== null ? ', plus' : ' —'} named by \`--float16\`` : ''}; both read by \`tf.io.decodeWeights\`, \`@captioner/caption\` decodes them to float32 on load`
      : `uint8 affine quantization per tensor in the TF.js weights-manifest format
  (\`quantization: { dtype: "uint8", min, scale }\`, read by \`tf.io.decodeWeights\`; \`@captioner/caption\`
  decodes them to float32 on load)`
  }. weights.bin ${(weightsBytes / 2 ** 20).toFixed(2)} MiB, the model files
  ${(totalBytes / 2 ** 20).toFixed(2)} MiB (the float32 model: ${(floatBytes / 2 ** 20).toFixed(2)} MiB). vocab.json keeps what inference reads:
  wordIndex for the ids the decoder can emit, no wordCounts.

Per tensor, the uint8 step and round-trip errors relative to the tensor's std (\`quantizationStats\`):

${statsTable}

## Data and recipe

- Data: Flickr8k (Hodosh, Young, Hockenmaier 2013), official split; trained on ${training.images?.train ?? '?'} training
  images (5 captions each), checkpoint chosen on ${training.images?.val ?? '?'} validation images.
- Recipe (\`config.json\` → \`training.train\` holds every setting): ${Object.entries(training.train ?? {})
    .filter(([k]) => ['epochs', 'batchSize', 'learningRate', 'dropout', 'attentionPenalty', 'selectBy', 'maxImages', 'seed'].includes(k))
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
    .join(', ')}; exported epoch ${training.best?.epoch ?? training.epoch ?? '?'} of ${training.epoch ?? '?'}${training.best?.by ? ` (selected by ${training.best.by})` : ''}.
- Source: \`${rel(sourceDir)}\` (weights.bin sha256 \`${sha(join(sourceDir, 'weights.bin')).slice(0, 16)}…\`), config \`${values.config}\`.

## Test scores (Flickr8k ${values.split} split, ${quant.images} images${limited}; x100, raw references, pycocoevalcap-equivalent scorers)

${table}

Shipping requires |Δ| ≤ ${tolerance} on BLEU-4 and CIDEr-D for both decodings. \`scores.json\` holds
these numbers. ${values['float-metrics'] ? "The float32 rows are the evaluate stage's own run on the source model (`--float-metrics`); the" : 'The'}
command above with \`--out /tmp/check --work /tmp/ship\` re-scores${values['float-metrics'] ? ' (without `--float-metrics`, both models)' : ' both models'}: predictions and
metrics.json in /tmp/ship/evaluate-quantized${values['float-metrics'] ? '' : ' and evaluate-float'}.

Weak spots to expect: a ${training.images?.train ?? '?'}-image training budget${'a' in (vocab as unknown as { wordIndex: Record<string, number> }).wordIndex ? '' : ', no "a" in the vocabulary (text-clean dropped one-letter words)'}, and
Flickr8k's world of people and dogs outdoors: a photo unlike Flickr8k gets a Flickr8k caption (a cat's
face close up: "a man sits on a chair").
${values.note ? `\n${values.note}\n` : ''}

## License

- These weights: derived from Flickr8k captions and from features of MobileNetV2. MobileNetV2's
  weights are Apache License 2.0 (packages/featurize/models/mobilenet_v2/LICENSE, NOTICE.md).
- Flickr8k: the captions and images are for research and non-commercial use only (see
  data/sample/README.md); a model trained on them inherits that use restriction. Cite Hodosh et al.
  2013 when reporting results.
- Code: MIT (the rest of this repository).
`;
}

await withAtomicPath(outDir, (tmp) => {
  mkdirSync(tmp, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
  const weightsBytes = bytes(join(tmp, 'weights.bin'));
  const total = readdirSync(tmp).reduce((n, f) => n + bytes(join(tmp, f)), 0);
  writeFileSync(join(tmp, 'MODEL_CARD.md'), card(weightsBytes, total));
  writeFileSync(
    join(tmp, 'scores.json'),
    pretty({
      split: values.split,
      images: quant.images,
      limit: values.limit ? Number(values.limit) : null,
      beam: config.beam,
      float16,
      float: float.x100,
      quantized: quant.x100,
      source: rel(sourceDir),
    }),
  );
});
const shipped = readdirSync(outDir).reduce((n, f) => n + bytes(join(outDir, f)), 0);
if (shipped > 8 * 2 ** 20) process.stderr.write(`warning: the shipped folder is ${(shipped / 2 ** 20).toFixed(2)} MiB, over the 8 MiB budget\n`);
process.stderr.write(`shipped ${rel(outDir)} (${(shipped / 2 ** 20).toFixed(2)} MiB); evaluation outputs in ${work}\n`);
