/**
 * The browser-safe part of featurize (no node:, no sharp, no onnxruntime-node, no value import of
 * @captioner/core): MobileNetV2 built from fetched .tflite bytes on a TF.js namespace the page
 * owns, the stage's exact resize + pixel scaling, and float16 rounding. A page decodes the image
 * itself (canvas / createImageBitmap) and gets the same features as `featurizeImage` in Node:
 *
 *   const net = mobileNetToTfjs(mobileNetFromTflite(tfliteBytes, 'Conv_1'), tf);
 *   const pixels = resizeAndScale({ data: rgb, width, height }, { inputSize: 224, scaling: '-1,1' });
 *   const grid = net.predict(tf.tensor4d(pixels, [1, 224, 224, 3]));   // [1, 49, 1280]
 */
export { readTflite, dequantize, TfliteFormatError, type TfliteModel } from './engines/tflite.js';
export { mobileNetFromTflite, type FloatNet, type MobileNetTarget } from './engines/mobilenet.js';
export { mobileNetToTfjs, type MobileNetTfjs } from './engines/mobilenet-tfjs.js';
export { ModelFormatError } from './engines/padding.js';
export { resizeAndScale, type DecodedImage, type PreprocessOptions } from './resize.js';
export { float32ToFloat16, float16ToFloat32 } from './float16.js';
export { featurizeManifestSchema, MANIFEST_FILE, MANIFEST_VERSION, type FeaturizeManifest, type ShardEntry, type FailedImage } from './contract.js';
