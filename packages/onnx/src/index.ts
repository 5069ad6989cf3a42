/**
 * @captioner/onnx: write ONNX models from TypeScript (browser-safe; protobufjs only).
 */
export { ONNX_PROTO, onnxRoot, modelProtoType } from './proto.js';
export {
  DataType,
  AttrType,
  attr,
  floatTensor,
  doubleTensor,
  float16Tensor,
  float16TensorFromFloat32,
  int32Tensor,
  int64Tensor,
  uint8Tensor,
  int8Tensor,
  boolTensor,
  scalarTensor,
  toHalfBits,
  valueInfo,
  type DataTypeCode,
  type Dim,
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './tensor.js';
export { GraphBuilder, type NodeOptions } from './graph.js';
export { encodeModel, decodeModel, modelObject, DEFAULT_IR_VERSION, DEFAULT_OPSET, type EncodeModelOptions, type DecodedModel, type OpsetImport } from './model.js';
