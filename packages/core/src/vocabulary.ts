/**
 * What every reader of a vocabulary relies on, browser-safe. tokenize writes vocab.json (its
 * contract, `vocabSchema`, extends this); train copies it into each saved model folder, where the
 * model library, caption and evaluate read it back. It lives in core because the model library
 * reads it and libraries do not import stages.
 */
import * as z from 'zod';

/** A model folder's copy may leave out tokenize's other fields (the shipped model drops `wordCounts`); unknown keys pass through. */
export const vocabularySchema = z
  .object({
    /** Keras `num_words`: ids >= numWords encode as `<unk>`. */
    numWords: z.number().int().min(1),
    /** Output size of the model: numWords + 1 (ids 0..numWords, as the tutorial sizes its layers). */
    vocabSize: z.number().int().min(1),
    oovToken: z.string().min(1),
    padToken: z.string().min(1),
    /** Width of the padded token rows: the longest training caption, <sos> and <eos> included. */
    maxLength: z.number().int().min(1),
    /** Full Keras-style ranking (every word seen in the fit texts), `<unk>` = 1. */
    wordIndex: z.record(z.string(), z.number().int().min(1)),
  })
  .loose();
export type Vocabulary = z.infer<typeof vocabularySchema>;
