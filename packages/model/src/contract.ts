/**
 * The saved-model folder's file contracts, browser-safe (zod + core): model.json (TF.js weights
 * manifest + the model config), config.json, and the copies of the inputs it was trained on:
 * vocab.json (core's `vocabularySchema`, written by tokenize) and features.json (core's feature set,
 * written by featurize). weights.bin is float32 little-endian in manifest order.
 */
import * as z from 'zod';
import { featureSetSchema } from '@captioner/core';

export const MODEL_FORMAT = 'captioner-show-attend-tell/1';
export const MODEL_FILES = ['model.json', 'weights.bin', 'vocab.json', 'features.json', 'config.json'] as const;

const positiveInt = z.number().int().min(1);

/** Show-Attend-Tell sizes: vocabulary V, grid locations L, channels D, embedding E, GRU units U, attention A. */
export const captionModelConfigSchema = z.object({
  vocabSize: positiveInt,
  locations: positiveInt,
  featureDim: positiveInt,
  embeddingDim: positiveInt,
  units: positiveInt,
  attentionUnits: positiveInt,
});

const weightSpecSchema = z
  .object({
    name: z.string(),
    shape: z.array(z.number().int().min(0)),
    dtype: z.string(),
    /** caption's quantized storage: uint8 (value = min + scale * byte) or float16 (IEEE binary16). */
    quantization: z
      .discriminatedUnion('dtype', [z.object({ dtype: z.literal('uint8'), min: z.number(), scale: z.number() }).loose(), z.object({ dtype: z.literal('float16') }).loose()])
      .optional(),
  })
  .loose();

/** model.json: the standard TF.js weights manifest (tf.io.decodeWeights reads it) plus the topology. */
export const modelJsonSchema = z
  .object({
    format: z.literal(MODEL_FORMAT, { error: `not a captioner model (format must be "${MODEL_FORMAT}")` }),
    generatedBy: z.string().optional(),
    convertedBy: z.string().nullable().optional(),
    modelTopology: z
      .object({
        className: z.string(),
        config: captionModelConfigSchema,
        gru: z.record(z.string(), z.unknown()).optional(),
        parameters: z.array(z.string()).optional(),
      })
      .loose(),
    weightsManifest: z.tuple([z.object({ paths: z.array(z.string()), weights: z.array(weightSpecSchema) }).loose()], {
      error: 'must hold one group of weights',
    }),
  })
  .loose();
export type ModelJson = z.infer<typeof modelJsonSchema>;

/**
 * features.json: the feature set the model was trained on. Models saved before these fields were
 * recorded lack backbone, weights, halfPixelCenters, alpha, dtype and preprocessVersion (caption
 * fills in the featurize defaults). Other manifest fields are dropped on save.
 */
export const modelFeaturesSchema = featureSetSchema.partial({ backbone: true, weights: true, halfPixelCenters: true, alpha: true, dtype: true, preprocessVersion: true });
export type FeatureInfo = z.infer<typeof modelFeaturesSchema>;

/** config.json's `training`: what train records about the exported checkpoint (free-form beyond these). */
export const trainingInfoSchema = z
  .object({
    epoch: z.number().int().optional(),
    globalStep: z.number().int().optional(),
    best: z.object({ epoch: z.number().int(), valLoss: z.number() }).loose().nullable().optional(),
  })
  .loose();
export type TrainingInfo = z.infer<typeof trainingInfoSchema>;

/** config.json: the model sizes again (must agree with model.json) and the training record. */
export const modelConfigJsonSchema = z.object({ model: captionModelConfigSchema, training: trainingInfoSchema.optional() }).loose();
export type ModelConfigJson = z.infer<typeof modelConfigJsonSchema>;

export { vocabularySchema, type Vocabulary } from '@captioner/core';
