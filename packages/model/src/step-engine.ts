/**
 * The step-engine seam: what the search loops of decode.ts need from a model, so the same loops run
 * on TF.js (decode.ts tfjsStepEngine) or natively (native/decode-engine.ts): encode a batch once,
 * then one decoder step at a time. Types only; a CaptionModel holds the engine it decodes with.
 */
import type { tf } from '@captioner/tf';

export interface StepEngine {
  /** 'tfjs', 'onnx', … (for logs and tests). */
  readonly name?: string;
  /** Starts decoding `features` [B, L, D], each image repeated `copies` times (image-major rows). */
  start(features: tf.Tensor3D, copies: number): StepSession;
}

export interface StepSession {
  /**
   * One step for every row from its previous token: log-probabilities [rows·V] of
   * softmax(logits / temperature) with <pad> (0) and <sos> excluded (−Infinity), and the attention
   * weights [rows·L] the step used.
   */
  step(prevTokens: Int32Array, startId: number, temperature: number): { logProbs: Float32Array; attention: Float32Array };
  /** Row i continues from the state of row parents[i] (beam search reordering). */
  reorder(parents: Int32Array): void;
  dispose(): void;
}
