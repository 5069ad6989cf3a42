/**
 * tokenize's file contract, browser-safe: vocab.json exactly as the stage writes it. Readers that
 * only need the vocabulary (train, the model folder's copy) use core's `vocabularySchema`, which
 * this extends.
 */
import * as z from 'zod';
import { vocabularySchema } from '@captioner/core';

export const VOCAB_FILE = 'vocab.json';

export const vocabSchema = vocabularySchema
  .extend({
    padToken: z.literal('<pad>'),
    /** Characters turned into spaces before splitting (Keras `filters`). */
    filters: z.string(),
    wordCounts: z.record(z.string(), z.number().int().min(0)),
    /** How the vocabulary was chosen, for reports. */
    rule: z.string(),
  })
  .strip();
export type VocabJson = z.infer<typeof vocabSchema>;
