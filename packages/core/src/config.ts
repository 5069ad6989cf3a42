import * as z from 'zod';
import { CaptionerError } from './errors.js';
import { STAGE_NAMES } from './stages.js';

/**
 * The whole pipeline's configuration: one file per configuration (pipelines/configs/<name>.json),
 * one section per stage. Every section is strict (unknown keys are errors) and fully defaulted, so
 * `{}` is a valid file. String values may use `${VAR}` or `${VAR:-default}` to read the environment.
 */
const ratio = z.number().min(0).max(1);

export const datasetSchema = z
  .object({
    /** Folder with `Images/` (or `Flicker8k_Dataset/`) and `captions.txt` (or `Flickr8k.token.txt`). */
    dir: z.string().min(1).default('data/sample'),
    layout: z.enum(['auto', 'kaggle', 'original']).default('auto'),
  })
  .strict();

export const ingestSchema = z
  .object({
    /** Use Flickr_8k.{train,dev,test}Images.txt when present. */
    officialSplit: z.boolean().default(true),
    seed: z.number().int().default(31),
    /** Drop a caption identical to one already seen for the same image (Flickr8k has 10 genuine ones). */
    dropRepeatedCaptions: z.boolean().default(false),
    ratios: z
      .object({ train: ratio.default(0.8), val: ratio.default(0.1), test: ratio.default(0.1) })
      .strict()
      .default({ train: 0.8, val: 0.1, test: 0.1 })
      .refine((r) => Math.abs(r.train + r.val + r.test - 1) < 1e-9, { message: 'train + val + test must sum to 1' }),
  })
  .strict();

export const textCleanSchema = z
  .object({
    /** Shortest word kept (letters): 2 = the tutorial's rule, which drops "a"; 1 keeps the articles. */
    minWordLength: z.number().int().min(1).default(2),
  })
  .strict();

export const tokenizeSchema = z
  .object({
    /** Keras `num_words`: ids >= numWords map to <unk>. */
    numWords: z.number().int().min(3).default(5000),
    /** Alternative vocabulary rule: keep words seen at least this often (null = off). */
    minCount: z.number().int().min(1).nullable().default(null),
    /** Cap on the padded length (null = longest training caption). */
    maxLength: z.number().int().min(3).nullable().default(null),
  })
  .strict();

/**
 * The feature backbones and their layers: the one list of these names (featurize keys each layer's
 * geometry by them, type-checked against this table). The first layer is the backbone's default.
 */
export const FEATURE_BACKBONES = {
  /** Keras InceptionV3 at 299 (default: nsfwjs' copy). `mixed10`: 8x8x2048; `mixed5`: 17x17x768 average-pooled 2x2 to 8x8x768. */
  inception_v3: { layers: ['mixed10', 'mixed5'], scalings: ['0,1', '-1,1'] },
  /**
   * ImageNet MobileNetV2 1.0 at 224 (the TFLite file bundled in featurize). `Conv_1`: 7x7x1280 after
   * ReLU6 (the input of the classifier's average pool); `expanded_conv_16`: the last bottleneck's
   * linear projection, 7x7x320. Trained on [-1,1] pixels only.
   */
  mobilenet_v2: { layers: ['Conv_1', 'expanded_conv_16'], scalings: ['-1,1'] },
} as const;
export type FeatureBackbone = keyof typeof FEATURE_BACKBONES;
export type FeatureLayerName = (typeof FEATURE_BACKBONES)[FeatureBackbone]['layers'][number];
export type PixelScalingName = (typeof FEATURE_BACKBONES)[FeatureBackbone]['scalings'][number];
const featureBackbones = Object.keys(FEATURE_BACKBONES) as [FeatureBackbone, ...FeatureBackbone[]];
const featureLayers = featureBackbones.flatMap((b) => FEATURE_BACKBONES[b].layers) as unknown as [FeatureLayerName, ...FeatureLayerName[]];
const pixelScalings = [...new Set(featureBackbones.flatMap((b) => FEATURE_BACKBONES[b].scalings))] as unknown as [PixelScalingName, ...PixelScalingName[]];
/** The name lists behind the config enums, for the file contracts that record these settings. */
export const FEATURE_BACKBONE_NAMES: readonly [FeatureBackbone, ...FeatureBackbone[]] = featureBackbones;
export const FEATURE_LAYER_NAMES: readonly [FeatureLayerName, ...FeatureLayerName[]] = featureLayers;
export const PIXEL_SCALING_NAMES: readonly [PixelScalingName, ...PixelScalingName[]] = pixelScalings;
/** On-disk precision of feature shards. */
export const FEATURE_DTYPES = ['float16', 'float32'] as const;
export type FeatureDtype = (typeof FEATURE_DTYPES)[number];
/** Where featurize, training and decoding run: onnxruntime-node, the TF.js backend, or auto. */
export const ENGINE_NAMES = ['auto', 'onnx', 'tfjs'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
/** The backbone a layer name belongs to (layer names are unique across backbones). */
export function backboneOfLayer(layer: FeatureLayerName): FeatureBackbone {
  return featureBackbones.find((b) => (FEATURE_BACKBONES[b].layers as readonly string[]).includes(layer))!;
}

/** The backbone when the config names none: the one `layer` belongs to, else MobileNetV2. */
export const DEFAULT_BACKBONE: FeatureBackbone = 'mobilenet_v2';
function resolvedBackbone(v: { backbone: FeatureBackbone | null; layer: FeatureLayerName | null }): FeatureBackbone {
  return v.backbone ?? (v.layer !== null ? backboneOfLayer(v.layer) : DEFAULT_BACKBONE);
}

export const featurizeSchema = z
  .object({
    /**
     * Feature CNN; see FEATURE_BACKBONES. null = the backbone `layer` belongs to, else mobilenet_v2
     * (ImageNet; the best captions measured here). The seed's is inception_v3.
     */
    backbone: z.enum(featureBackbones).nullable().default(null),
    /** A layer of the backbone (null = its first: mixed10 / Conv_1). */
    layer: z.enum(featureLayers).nullable().default(null),
    /**
     * Pixel scaling fed to the network (null = the backbone's first): Keras InceptionV3 uses [-1,1];
     * nsfwjs was trained on [0,1] (its default); MobileNetV2 accepts only [-1,1].
     */
    scaling: z.enum(pixelScalings).nullable().default(null),
    dtype: z.enum(FEATURE_DTYPES).default('float16'),
    batchSize: z.number().int().min(1).default(8),
    /** Inference engine: onnx (onnxruntime-node), tfjs (current TF.js backend) or auto. */
    engine: z.enum(ENGINE_NAMES).default('auto'),
    /** A TF.js layers model folder instead of the bundled nsfwjs InceptionV3 (null = bundled). */
    weights: z.string().nullable().default(null),
    imagesPerShard: z.number().int().min(1).default(1024),
    /** Shard file size cap in MiB (whichever of imagesPerShard / shardMaxMiB is hit first); files must stay < 1 GiB. */
    shardMaxMiB: z.number().int().min(1).max(1023).default(1000),
    /**
     * Bilinear resize grid: false = TF.js `tf.image.resizeBilinear` default (src = dst * in/out);
     * true = TF2 Python `tf.image.resize` (half-pixel centres). Part of the settings hash.
     */
    halfPixelCenters: z.boolean().default(false),
  })
  .strict()
  .superRefine((v, ctx) => {
    const backbone = resolvedBackbone(v);
    const { layers, scalings } = FEATURE_BACKBONES[backbone];
    if (v.layer !== null && !(layers as readonly string[]).includes(v.layer)) {
      ctx.addIssue({ code: 'custom', path: ['layer'], message: `"${v.layer}" is a layer of ${backboneOfLayer(v.layer)}; backbone ${backbone} has ${layers.join(', ')}` });
    }
    if (v.scaling !== null && !(scalings as readonly string[]).includes(v.scaling)) {
      ctx.addIssue({ code: 'custom', path: ['scaling'], message: `backbone ${backbone} was trained on ${scalings.join(' or ')} pixels; "${v.scaling}" is not supported` });
    }
  })
  .transform((v) => ({
    ...v,
    backbone: resolvedBackbone(v),
    layer: (v.layer ?? FEATURE_BACKBONES[resolvedBackbone(v)].layers[0]) as FeatureLayerName,
    scaling: (v.scaling ?? FEATURE_BACKBONES[resolvedBackbone(v)].scalings[0]) as PixelScalingName,
  }));

/** Show-Attend-Tell sizes (@captioner/model); vocabSize, locations and featureDim come from the tokenize and featurize outputs. */
export const modelSchema = z
  .object({
    /** Encoder output and word-embedding size E (the GRU input is [context, embedding] = 2E). */
    embeddingDim: z.number().int().min(1).default(256),
    /** GRU state size U (also fc1's width). */
    units: z.number().int().min(1).default(512),
    /** Bahdanau attention hidden size A. */
    attentionUnits: z.number().int().min(1).default(512),
  })
  .strict();

export const trainSchema = z
  .object({
    /** At most this many epochs (early stopping usually ends sooner). */
    epochs: z.number().int().min(1).default(40),
    batchSize: z.number().int().min(1).default(64),
    /** Adam's initial learning rate (the tutorial's: 1e-3). */
    learningRate: z.number().positive().default(4e-4),
    seed: z.number().int().default(31),
    /** Early stopping: epochs without improvement of the `selectBy` score (0 = off). */
    patience: z.number().int().min(0).default(4),
    /**
     * What picks the exported checkpoint, early stopping and the plateau schedule: `valLoss` (the
     * tutorial) or `valCIDEr` (greedy captions of the validation images scored with CIDEr-D each epoch; the default).
     */
    selectBy: z.enum(['valLoss', 'valCIDEr']).default('valCIDEr'),
    /** Validation images captioned per epoch for `valCIDEr` (null = the whole validation split in use). */
    selectionImages: z.number().int().min(1).nullable().default(null),
    /** Learning-rate schedule over epochs; `constant` is the tutorial's, `plateau` (halve after 2 epochs without a better score) the default. */
    lrSchedule: z
      .object({
        kind: z.enum(['constant', 'step', 'plateau']).default('plateau'),
        /** Multiplier applied at each decay. */
        factor: z.number().gt(0).max(1).default(0.5),
        /** step: decay every this many epochs; plateau: after this many epochs without improvement. */
        every: z.number().int().min(1).default(2),
        minLearningRate: z.number().min(0).default(1e-5),
      })
      .strict()
      .default({ kind: 'plateau', factor: 0.5, every: 2, minLearningRate: 1e-5 }),
    /** Clip gradients by global norm (0 = off). */
    clipNorm: z.number().min(0).default(5),
    /** Doubly stochastic attention penalty lambda (Xu et al. 2015, eq. 14); 0 = off (the tutorial). */
    attentionPenalty: z.number().min(0).default(1),
    /** Inverted dropout rate on the GRU outputs that feed the output layers (Xu et al. 2015); 0 = off (the tutorial). */
    dropout: z.number().min(0).lt(1).default(0.5),
    /** Largest micro-batch on the tfjs engine (rows x steps must stay under the wasm 4 GiB cap); onnx runs whole batches. */
    microBatch: z.number().int().min(1).default(64),
    /**
     * Where training steps, validation loss and validation decoding run: `onnx` (native kernels via
     * onnxruntime-node), `tfjs` (the TF.js backend), or `auto` = onnx when onnxruntime-node loads and
     * the TF.js backend is not tfjs-node (which stays on TF.js, e.g. on GPU boxes).
     */
    engine: z.enum(ENGINE_NAMES).default('auto'),
    keepLast: z.number().int().min(1).default(2),
    /** Feature-cache budget in MiB for streaming shards. */
    memoryBudgetMB: z.number().int().min(64).default(4096),
    /** Train on at most this many images (null = all); for quick runs. */
    maxImages: z.number().int().min(1).nullable().default(null),
    /** Validate on at most this many images (null = all, or the maxImages fraction of val when maxImages is set). */
    maxValImages: z.number().int().min(1).nullable().default(null),
    /** Length bucketing: rows are shuffled, then sorted by caption length within chunks of this many batches. */
    bucketChunk: z.number().int().min(1).default(16),
  })
  .strict();

export const evaluateSchema = z
  .object({
    split: z.enum(['train', 'val', 'test']).default('test'),
    /** Beam width of the beam-search decoding (greedy decoding is always run too); 5 was best on val. */
    beam: z.number().int().min(1).default(5),
    /** Decoder steps per caption, counting the <eos> step (null = vocab maxLength − 1: the longest training caption). */
    maxLength: z.number().int().min(2).nullable().default(null),
    /** Evaluate at most this many images (null = the whole split). */
    limit: z.number().int().min(1).nullable().default(null),
    /** Images decoded together (features are batchSize x locations x dim float32). */
    batchSize: z.number().int().min(1).default(32),
    /** Beam score = logProb / length^lengthPenalty (1 = mean log-probability per token, 0 = raw sum). */
    lengthPenalty: z.number().min(0).default(3),
    /** Never repeat an n-gram of this size within a caption, greedy and beam (0 = off). */
    noRepeatNgram: z.number().int().min(0).default(2),
    /** Score the best constant caption and nearest-neighbour retrieval too, and flag decoding rows that do not clearly beat them. */
    baselines: z.boolean().default(true),
    /** Constant-caption candidates: this many of the most frequent training captions … */
    constantFrequent: z.number().int().min(0).default(200),
    /** … plus this many of the most central ones (mean tf-idf cosine to all training captions). */
    constantCentral: z.number().int().min(0).default(300),
    /** A decoding row must beat the best baseline's CIDEr-D (x100) by this many points (and not trail its BLEU-4) or it is flagged. */
    baselineMarginCiderD: z.number().min(0).default(5),
  })
  .strict();

export const vizSchema = z
  .object({
    seed: z.number().int().default(31),
    /** Images shown as cards in the HTML report. */
    reportImages: z.number().int().min(1).default(24),
    /** Images in the dataset-sample figure (laid out 3 per row). */
    sampleImages: z.number().int().min(1).max(30).default(6),
    /** Evaluated images that get side-by-side and per-word attention PNGs (seeded pick unless exampleImages is set). */
    examples: z.number().int().min(0).default(3),
    /** Image file names to use as examples instead of a seeded pick. */
    exampleImages: z.array(z.string().min(1)).default([]),
    /** Decoding method shown in the PNG figures (null = beam when present, else the first method). */
    method: z.string().min(1).nullable().default(null),
    /** Perceptual colormap for attention heatmaps. */
    colormap: z.enum(['viridis', 'magma', 'inferno', 'plasma', 'cividis']).default('viridis'),
    /** Opacity of the heatmap over the image. */
    overlayAlpha: ratio.default(0.6),
  })
  .strict();

export const pipelineConfigSchema = z
  .object({
    /** Where stage outputs go (`<stagesDir>/<stage>/`), relative to the workspace root. */
    stagesDir: z.string().default('data/stages'),
    /**
     * Per-stage folders that override `<stagesDir>/<stage>` (relative to the workspace root), so
     * experiments can share upstream outputs: e.g. `{ "featurize": "data/features/mobilenet" }`
     * for several training configurations on the same features.
     */
    stageDirs: z.partialRecord(z.enum(STAGE_NAMES), z.string().min(1)).default({}),
    /** TF.js backend: auto picks tensorflow (tfjs-node[-gpu]) > wasm > cpu. */
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    dataset: datasetSchema.default(datasetSchema.parse({})),
    ingest: ingestSchema.default(ingestSchema.parse({})),
    textClean: textCleanSchema.default(textCleanSchema.parse({})),
    tokenize: tokenizeSchema.default(tokenizeSchema.parse({})),
    featurize: featurizeSchema.default(featurizeSchema.parse({})),
    model: modelSchema.default(modelSchema.parse({})),
    train: trainSchema.default(trainSchema.parse({})),
    evaluate: evaluateSchema.default(evaluateSchema.parse({})),
    viz: vizSchema.default(vizSchema.parse({})),
  })
  .strict();

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
export type IngestConfig = PipelineConfig['ingest'];
export type TokenizeConfig = PipelineConfig['tokenize'];
export type FeaturizeConfig = PipelineConfig['featurize'];
export type ModelConfig = PipelineConfig['model'];
export type TrainConfig = PipelineConfig['train'];
export type EvaluateConfig = PipelineConfig['evaluate'];
export type VizConfig = PipelineConfig['viz'];

/** `${VAR}` / `${VAR:-default}` in every string value. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
      const v = env[name];
      return v !== undefined && v !== '' ? v : (fallback ?? '');
    });
  }
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env)]));
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge for command-line overrides (`--train.epochs 3`): objects merge, everything else replaces. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** Validates raw config data; errors name the source and each offending field. */
export function parseConfig(raw: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  const result = pipelineConfigSchema.safeParse(expandEnv(raw, env));
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new CaptionerError(`${source}: invalid configuration\n${lines.join('\n')}`);
  }
  return result.data;
}
