import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { settingsHash, validateManifest, type FeatureSettings } from './manifest.js';

const settings: FeatureSettings = {
  backbone: 'inception_v3',
  layer: 'mixed10',
  scaling: '0,1',
  dtype: 'float16',
  inputSize: 299,
  halfPixelCenters: false,
  alpha: 'dropped',
  weightsHash: 'w',
  preprocessVersion: 1,
};

const manifest = () => ({
  version: 1,
  ...settings,
  grid: [2, 2],
  locations: 4,
  dim: 8,
  settingsHash: settingsHash(settings),
  weights: null,
  engine: 'x',
  shards: [{ file: 'features-00000.arrow', rows: 2, bytes: 10, images: ['a.jpg', 'b.jpg'], hashes: ['1', '2'] }],
  failed: [{ image: 'c.jpg', reason: 'empty: zero-byte file' }],
  counts: { images: 3, features: 2, computed: 2, reused: 0, failed: 1 },
  timeSec: 1,
  computeSec: 0.5,
  imagesPerSec: 4,
  peakRssMiB: 100,
  createdAt: '2026-01-01T00:00:00.000Z',
});

describe('settingsHash', () => {
  it('changes with every setting and ignores key order and extra fields', () => {
    const base = settingsHash(settings);
    for (const [key, value] of Object.entries({
      layer: 'mixed5',
      scaling: '-1,1',
      dtype: 'float32',
      inputSize: 300,
      halfPixelCenters: true,
      weightsHash: 'v',
      preprocessVersion: 2,
    })) {
      expect(settingsHash({ ...settings, [key]: value })).not.toBe(base);
    }
    const reordered = Object.fromEntries(Object.entries(settings).reverse()) as unknown as FeatureSettings;
    expect(settingsHash({ ...reordered, engine: 'onnx' } as FeatureSettings)).toBe(base);
  });

  it('is the sha256 of the settings JSON in FEATURE_SETTING_KEYS order (so existing shards stay valid)', () => {
    const canonical =
      '{"backbone":"inception_v3","layer":"mixed10","scaling":"0,1","dtype":"float16","inputSize":299,"halfPixelCenters":false,"alpha":"dropped","weightsHash":"w","preprocessVersion":1}';
    expect(settingsHash(settings)).toBe(createHash('sha256').update(canonical).digest('hex'));
  });
});

describe('validateManifest', () => {
  it('accepts a well-formed manifest', () => {
    expect(validateManifest(manifest(), 'm.json').shards[0].rows).toBe(2);
  });

  it.each([
    [(m: any) => (m.version = 2), /^m\.json: field "version": is 2, this reader understands 1$/],
    [(m: any) => (m.dtype = 'int8'), /field "dtype": Invalid option: expected one of "float16"\|"float32"/],
    [(m: any) => (m.layer = 'Conv_1'), /field "layer": must be a layer of inception_v3 \(mixed10, mixed5\), got "Conv_1"/],
    [(m: any) => (m.grid = [3, 3]), /field "grid": does not multiply to locations \(4\)/],
    [(m: any) => (m.shards[0].file = '../x.arrow'), /field "shards\[0\]\.file": must be a plain \.arrow file name/],
    [(m: any) => (m.shards[0].images = ['a.jpg']), /field "shards\[0\]\.images": must list 2 image names, has 1/],
    [(m: any) => (m.shards[0].images = ['a.jpg', 'a.jpg']), /field "shards\[0\]\.images": repeats "a\.jpg"/],
    [(m: any) => (m.failed = [{ image: 'c.jpg' }]), /field "failed\[0\]\.reason": Invalid input: expected string, received undefined/],
    [(m: any) => delete m.settingsHash, /field "settingsHash": Invalid input: expected string, received undefined/],
    [(m: any) => delete m.counts, /field "counts": Invalid input: expected object, received undefined/],
  ])('rejects a malformed field (%#)', (mutate, message) => {
    const m = manifest();
    mutate(m);
    expect(() => validateManifest(m, 'm.json')).toThrow(message);
  });
});
