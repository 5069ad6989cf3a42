/**
 * Output geometry of every feature layer, keyed by the names in core's FEATURE_BACKBONES (the
 * mapped type makes a missing or extra layer a compile error). Browser-safe.
 */
import { FEATURE_BACKBONES, type FeatureBackbone, type FeatureLayerName } from '@captioner/core';

export type LayerOf<B extends FeatureBackbone> = (typeof FEATURE_BACKBONES)[B]['layers'][number];
export type InceptionLayer = LayerOf<'inception_v3'>;
export type MobileNetLayer = LayerOf<'mobilenet_v2'>;

export interface LayerGeometry {
  /** Grid after pooling. */
  grid: [number, number];
  /** Channels per location. */
  dim: number;
  /** Average-pool the layer's output poolBy x poolBy, stride poolBy, 'valid' (1 = none). */
  poolBy: number;
}

export const LAYER_GEOMETRY: { [B in FeatureBackbone]: Record<LayerOf<B>, LayerGeometry> } = {
  inception_v3: {
    // 8x8x2048: the tutorial's feature map.
    mixed10: { grid: [8, 8], dim: 2048, poolBy: 1 },
    // 17x17x768 average-pooled 2x2 stride 2 'valid' → 8x8 (the last row/column is dropped, as in Keras).
    mixed5: { grid: [8, 8], dim: 768, poolBy: 2 },
  },
  mobilenet_v2: {
    // The input of the classifier's 7x7 average pool: Conv_1 after ReLU6.
    Conv_1: { grid: [7, 7], dim: 1280, poolBy: 1 },
    // The last inverted-residual block's linear 1x1 projection (no residual: 160 → 320 channels).
    expanded_conv_16: { grid: [7, 7], dim: 320, poolBy: 1 },
  },
};

/** Native square input side of each backbone. */
export const BACKBONE_INPUT_SIZE: Record<FeatureBackbone, number> = { inception_v3: 299, mobilenet_v2: 224 };

/** The backbone a layer belongs to, checked against an explicitly given backbone. */
export function resolveBackbone(layer: FeatureLayerName, backbone?: FeatureBackbone): FeatureBackbone {
  const owner = (Object.keys(FEATURE_BACKBONES) as FeatureBackbone[]).find((b) => (FEATURE_BACKBONES[b].layers as readonly string[]).includes(layer));
  if (!owner) throw new Error(`featurize.layer: unknown layer "${layer}"`);
  if (backbone && backbone !== owner) throw new Error(`featurize.layer: "${layer}" is a layer of ${owner}, not of backbone ${backbone}`);
  return owner;
}

export function layerGeometry(layer: FeatureLayerName): LayerGeometry {
  const backbone = resolveBackbone(layer);
  return (LAYER_GEOMETRY[backbone] as Record<string, LayerGeometry>)[layer];
}
