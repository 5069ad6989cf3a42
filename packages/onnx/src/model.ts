/** Model serialisation: a graph + opsets + metadata → ONNX ModelProto bytes, and back (for checks). */
import { modelProtoType } from './proto.js';
import type { OnnxGraph } from './tensor.js';

/** IR version 8 (ONNX 1.10+): read by every onnxruntime this project uses. */
export const DEFAULT_IR_VERSION = 8;
export const DEFAULT_OPSET = 13;

export interface OpsetImport {
  /** '' = the default ONNX domain. */
  domain: string;
  version: number;
}

export interface EncodeModelOptions {
  graph: OnnxGraph;
  /** Default: the ONNX domain at opset 13. */
  opsets?: OpsetImport[];
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  doc?: string;
  /** Free key/value text stored in metadata_props. */
  metadata?: Record<string, string>;
}

/** The ModelProto as a plain object (validated, not yet encoded). */
export function modelObject(opts: EncodeModelOptions) {
  return {
    ir_version: opts.irVersion ?? DEFAULT_IR_VERSION,
    producer_name: opts.producerName ?? '@captioner/onnx',
    producer_version: opts.producerVersion ?? '',
    doc_string: opts.doc ?? '',
    opset_import: opts.opsets ?? [{ domain: '', version: DEFAULT_OPSET }],
    metadata_props: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: opts.graph,
  };
}

/** Serialises a model; throws if the object does not fit the proto subset. */
export function encodeModel(opts: EncodeModelOptions): Uint8Array {
  const ModelProto = modelProtoType();
  const model = modelObject(opts);
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`onnx: invalid ModelProto (${problem})`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

export interface DecodedModel {
  ir_version: number;
  producer_name: string;
  producer_version: string;
  doc_string: string;
  opset_import: OpsetImport[];
  metadata_props: { key: string; value: string }[];
  graph: OnnxGraph;
}

/** Parses ModelProto bytes (fields outside the subset are skipped); int64 values become numbers. */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const ModelProto = modelProtoType();
  const message = ModelProto.decode(bytes);
  // bytes stay Uint8Array (the default when no `bytes` conversion is asked for).
  return ModelProto.toObject(message, { longs: Number, defaults: true, arrays: true }) as DecodedModel;
}
