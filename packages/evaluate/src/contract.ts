/**
 * evaluate's file contracts, browser-safe (zod + the metric names): metrics.json (read by viz and
 * by people comparing runs) and predictions.jsonl (one readable line per image). predictions.arrow's
 * columns are in the README.
 */
import * as z from 'zod';
import { METRIC_NAMES } from '@captioner/metrics';
import { captionModelConfigSchema } from '@captioner/model/contract';

export const METRICS_FILE = 'metrics.json';
export const PREDICTIONS_JSONL_FILE = 'predictions.jsonl';

export const DECODING_METHODS = ['greedy', 'beam'] as const;
export type DecodingMethod = (typeof DECODING_METHODS)[number];

/** Corpus scores of every metric (0–1 scale, CIDEr-D on its own 0–10 scale; or x100 where named so). */
export const captionScoresSchema = z.record(z.enum(METRIC_NAMES), z.number());

const bleuLengthsSchema = z.object({ candidate: z.number(), reference: z.number(), ratio: z.number() });

export const methodReportSchema = z.object({
  decoding: z.object({
    method: z.enum(DECODING_METHODS),
    beam: z.number().int().optional(),
    lengthPenalty: z.number().optional(),
    noRepeatNgram: z.number().int(),
    maxSteps: z.number().int(),
  }),
  /** Corpus scores on the 0–1 scale (CIDEr-D as pycocoevalcap returns it: 1.0 = "100" in papers). */
  scores: captionScoresSchema,
  stats: z.object({
    bleuLengths: bleuLengthsSchema,
    /** Mean generated words per caption. */
    meanWords: z.number(),
    /** Captions that hit the length cap (maxSteps) without producing <eos>. */
    unfinished: z.number().int(),
    /** unfinished / images: the share of captions cut by the length cap (looping captions end here). */
    capHitShare: z.number(),
    /** Distinct captions / images: low values mean the model says the same thing for everything. */
    distinctRatio: z.number(),
    decodeSeconds: z.number(),
    imagesPerSecond: z.number(),
  }),
});
export type MethodReport = z.infer<typeof methodReportSchema>;

const baselineRowSchema = z.object({
  /** Corpus scores on the 0–1 scale, against the raw references (as `methods.*.scores`). */
  scores: captionScoresSchema,
  /** x100 against text-cleaned references (as `x100CleanedReferences`). */
  x100CleanedReferences: captionScoresSchema,
  stats: z.object({ bleuLengths: bleuLengthsSchema, meanWords: z.number(), distinctRatio: z.number() }),
  seconds: z.number(),
});
export type BaselineRow = z.infer<typeof baselineRowSchema>;

export const constantBaselineRowSchema = baselineRowSchema.extend({
  /** The raw training caption given for every image. */
  caption: z.string(),
  selection: z.object({
    /** The split whose references chose the caption: val, or train when val is the evaluated split. */
    split: z.enum(['train', 'val', 'test']),
    /** What chose it: CIDEr-D for `constant`, BLEU-4 for `constantBleu4`. */
    metric: z.enum(['CIDEr-D', 'BLEU-4']),
    /** That metric x100 for the chosen caption on the selection split. */
    score: z.number(),
    candidates: z.number().int(),
    frequent: z.number().int(),
    central: z.number().int(),
    /** How the chosen caption became a candidate, and how many training captions have its tokenized form. */
    source: z.enum(['frequent', 'central', 'both']),
    trainCount: z.number().int(),
  }),
});
export type ConstantBaselineRow = z.infer<typeof constantBaselineRowSchema>;

export const nearestNeighbourRowSchema = baselineRowSchema.extend({
  retrieval: z.object({
    pool: z.literal('train'),
    poolImages: z.number().int(),
    pooling: z.literal('mean over locations'),
    similarity: z.literal('cosine'),
    captionChoice: z.literal('consensus'),
    /** Mean cosine of each evaluated image to its neighbour. */
    meanCosine: z.number(),
  }),
});
export type NearestNeighbourRow = z.infer<typeof nearestNeighbourRowSchema>;

export const baselinesReportSchema = z.object({
  rows: z.object({ constant: constantBaselineRowSchema.optional(), constantBleu4: constantBaselineRowSchema.optional(), nearestNeighbour: nearestNeighbourRowSchema.optional() }),
  /** Baselines that could not be computed (e.g. no val split) and why; the others still are. */
  skipped: z.array(z.object({ name: z.string(), reason: z.string() })),
});
export type BaselinesReport = z.infer<typeof baselinesReportSchema>;

export const baselineWarningSchema = z.object({
  /** The decoding row (`greedy`, `beam`). */
  row: z.string(),
  metric: z.enum(['CIDEr-D', 'BLEU-4']),
  /** The row's score, x100. */
  value: z.number(),
  /** The baseline that is not clearly beaten and its score, x100. */
  baseline: z.string(),
  baselineValue: z.number(),
  /** What the row needed: baselineValue + margin for CIDEr-D, baselineValue for BLEU-4. */
  required: z.number(),
  message: z.string(),
});
export type BaselineWarning = z.infer<typeof baselineWarningSchema>;

const perMethod = <S extends z.ZodType>(schema: S) => z.object({ greedy: schema, beam: schema });

/** metrics.json. */
export const evaluateReportSchema = z.object({
  split: z.string(),
  images: z.number().int(),
  /** Split images left out: featurize failed on them / they are not in the feature store / over `limit`. */
  skipped: z.object({ failed: z.array(z.string()), absent: z.array(z.string()), overLimit: z.number().int() }),
  scale: z.literal('0-1'),
  /** The exported epoch (the best one when validation picked it) and the last trained epoch. */
  checkpoint: z.object({ path: z.string(), epoch: z.number().int().nullable(), lastEpoch: z.number().int().nullable(), valLoss: z.number().nullable() }),
  model: captionModelConfigSchema,
  methods: perMethod(methodReportSchema),
  /** The same scores x100, as papers print them (2 decimals). */
  x100: perMethod(captionScoresSchema),
  /**
   * x100 scores against references cleaned the way training captions are (text-clean: no one-letter
   * words such as "a", no punctuation). The model can never say "a", so this shows what the dropped
   * articles cost; it is not comparable to published numbers, which use the raw references (`x100`).
   */
  x100CleanedReferences: perMethod(captionScoresSchema),
  /** The trivial baselines on the same images and scorer (null when `evaluate.baselines` is false). */
  baselines: baselinesReportSchema.nullable(),
  /** Baseline scores x100, next to `x100`'s decoding rows. */
  x100Baselines: z.record(z.string(), captionScoresSchema),
  /** Decoding rows that do not clearly beat the baselines (see `baselineWarnings`); empty when they all do. */
  warnings: z.array(baselineWarningSchema),
  metricNotes: z.record(z.string(), z.string()),
  backend: z.string(),
  seconds: z.number(),
  peakRssMiB: z.number(),
  createdAt: z.string(),
});
export type EvaluateReport = z.infer<typeof evaluateReportSchema>;

/** One line of predictions.jsonl: an image's references and each method's caption, log-probability and CIDEr-D (+ the nearest-neighbour baseline's caption when it ran). */
export const predictionLineSchema = z.object({
  image: z.string(),
  split: z.string(),
  references: z.array(z.string()),
  greedy: z.string().optional(),
  greedyLogProb: z.number().optional(),
  greedyCiderD: z.number().optional(),
  beam: z.string().optional(),
  beamLogProb: z.number().optional(),
  beamCiderD: z.number().optional(),
  nearestNeighbour: z.string().optional(),
  nearestNeighbourImage: z.string().optional(),
  nearestNeighbourCosine: z.number().optional(),
});
export type PredictionLine = z.infer<typeof predictionLineSchema>;
