import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend } from '@captioner/tf';
import { beamSearch, CaptionModel, greedyDecode, repeatedNgramTokens, sampleDecode, type CaptionModelConfig } from './index.js';

beforeAll(async () => {
  try {
    await initBackend({ backend: 'wasm', threads: 1, quiet: true });
  } catch {
    await initBackend({ backend: 'cpu', quiet: true });
  }
});

const config: CaptionModelConfig = { vocabSize: 30, locations: 6, featureDim: 10, embeddingDim: 8, units: 16, attentionUnits: 8 };
const opts = { startId: 1, endId: 2, maxLength: 12 };

function setup(seed: number) {
  const model = CaptionModel.create(config, seed);
  // Make <eos> likely enough that random models finish captions of varied lengths.
  const bias = model.variables[model.parameterNames.indexOf('fc2/bias')];
  const b = bias.dataSync().slice();
  b[2] = 1.5;
  bias.assign(tf.tensor1d(b));
  const features = tf.randomNormal([5, config.locations, config.featureDim], 0, 3, 'float32', seed) as tf.Tensor3D;
  return { model, features };
}

describe('decoding', () => {
  it('greedy: one result per image, attention rows per token that sum to 1, no <pad>/<sos>', () => {
    const { model, features } = setup(1);
    const results = greedyDecode(model, features, { ...opts, words: Array.from({ length: 30 }, (_, i) => `w${i}`) });
    expect(results).toHaveLength(5);
    for (const r of results) {
      expect(r.attention).toHaveLength(r.tokens.length);
      expect(r.words).toEqual(r.tokens.map((t) => `w${t}`));
      for (const a of r.attention) {
        expect(a).toHaveLength(config.locations);
        expect(a.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
      }
      expect(r.tokens.every((t) => t !== 0 && t !== 1 && t !== 2)).toBe(true);
      expect(r.logProb).toBeLessThan(0);
      expect(r.tokens.length + (r.finished ? 1 : 0)).toBeLessThanOrEqual(opts.maxLength);
    }
    expect(results.some((r) => r.finished)).toBe(true);
    model.dispose();
  });

  it('beam 1 equals greedy', () => {
    for (const seed of [1, 2, 3]) {
      const { model, features } = setup(seed);
      const greedy = greedyDecode(model, features, opts);
      const beam = beamSearch(model, features, { ...opts, beam: 1 });
      beam.forEach((b, i) => {
        expect(b.tokens).toEqual(greedy[i].tokens);
        expect(b.finished).toBe(greedy[i].finished);
        expect(b.logProb).toBeCloseTo(greedy[i].logProb, 4);
      });
      model.dispose();
    }
  });

  it('beam search with a beam wider than the search space finds the best length-normalized caption', () => {
    // Vocabulary {<pad>=0, <sos>=1, <eos>=2, 3, 4}, at most 3 steps: 2 + 4 + 8 = 14 finished captions
    // exist, so beam 16 never prunes or stops early and must return the exhaustive optimum.
    const tiny: CaptionModelConfig = { vocabSize: 5, locations: 3, featureDim: 4, embeddingDim: 4, units: 6, attentionUnits: 4 };
    const model = CaptionModel.create(tiny, 12);
    const features = tf.randomNormal([2, 3, 4], 0, 2, 'float32', 12) as tf.Tensor3D;
    const logProbOf = (image: number, caption: number[]): number => {
      const f = features.slice([image, 0, 0], [1, -1, -1]) as tf.Tensor3D;
      const encoded = model.encode(f);
      let hidden = model.initialHidden(1);
      let prev = 1;
      let total = 0;
      for (const id of caption) {
        const out = model.step(encoded, tf.tensor1d([prev], 'int32'), hidden);
        const logits = out.logits.dataSync().slice();
        logits[0] = -Infinity; // decoding never produces <pad> or <sos>
        logits[1] = -Infinity;
        total += tf.logSoftmax(tf.tensor1d(logits)).dataSync()[id];
        hidden = out.hidden;
        prev = id;
      }
      return total;
    };
    for (const lengthPenalty of [0, 1]) {
      const results = beamSearch(model, features, { startId: 1, endId: 2, maxLength: 3, beam: 16, lengthPenalty });
      results.forEach((r, image) => {
        let best = { caption: [] as number[], score: -Infinity };
        for (const words of [[], [3], [4], [3, 3], [3, 4], [4, 3], [4, 4]]) {
          const score = logProbOf(image, [...words, 2]) / Math.pow(words.length + 1, lengthPenalty);
          if (score > best.score) best = { caption: words, score };
        }
        expect(r.finished).toBe(true);
        expect(r.tokens).toEqual(best.caption);
        expect(r.logProb / Math.pow(r.tokens.length + 1, lengthPenalty)).toBeCloseTo(best.score, 4);
      });
    }
    model.dispose();
  });

  it('returns the best unfinished caption at maxLength when <eos> is out of reach', () => {
    const { model, features } = setup(5);
    const bias = model.variables[model.parameterNames.indexOf('fc2/bias')];
    const b = bias.dataSync().slice();
    b[2] = -1e4; // <eos> practically impossible
    bias.assign(tf.tensor1d(b));
    for (const beam of [1, 3]) {
      const results = beamSearch(model, features, { ...opts, beam, maxLength: 7 });
      expect(results).toHaveLength(5);
      for (const r of results) {
        expect(r.finished).toBe(false);
        expect(r.tokens).toHaveLength(7);
        expect(Number.isFinite(r.logProb)).toBe(true);
      }
    }
    const greedy = greedyDecode(model, features, { ...opts, maxLength: 7 });
    greedy.forEach((r) => expect(r.tokens).toHaveLength(7));
    model.dispose();
  });

  it('sampling is reproducible with a seed and varies across seeds', () => {
    const { model, features } = setup(6);
    const a = sampleDecode(model, features, { ...opts, seed: 7, temperature: 1.5 });
    const b = sampleDecode(model, features, { ...opts, seed: 7, temperature: 1.5 });
    const c = sampleDecode(model, features, { ...opts, seed: 8, temperature: 1.5 });
    expect(b.map((r) => r.tokens)).toEqual(a.map((r) => r.tokens));
    expect(c.map((r) => r.tokens)).not.toEqual(a.map((r) => r.tokens));
    expect(() => sampleDecode(model, features, { ...opts, seed: 1, temperature: 0 })).toThrow(/temperature/);
    model.dispose();
  });

  it('rejects bad options', () => {
    const { model, features } = setup(1);
    expect(() => greedyDecode(model, features, { ...opts, endId: 99 })).toThrow(/endId/);
    expect(() => beamSearch(model, features, { ...opts, beam: 0 })).toThrow(/beam/);
    expect(() => greedyDecode(model, features, { ...opts, maxLength: 0 })).toThrow(/maxLength/);
    model.dispose();
  });
});

describe('n-gram repetition blocking', () => {
  it('repeatedNgramTokens: the tokens that followed earlier copies of the last n−1 tokens', () => {
    // "a man in a" → next "man" would repeat the bigram "a man".
    expect(repeatedNgramTokens([5, 6, 7, 5], 2)).toEqual([6]);
    // trigram: last two (7, 5) seen before at 1..2 followed by 9.
    expect(repeatedNgramTokens([5, 7, 5, 9, 7, 5], 3)).toEqual([9]);
    expect(repeatedNgramTokens([5, 6, 7], 3)).toEqual([]);
    expect(repeatedNgramTokens([5, 6], 1)).toEqual([5, 6]);
    expect(repeatedNgramTokens([], 2)).toEqual([]);
  });

  /** All n-grams of a caption are distinct. */
  const distinctNgrams = (tokens: number[], n: number) => {
    const seen = new Set<string>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(',');
      if (seen.has(key)) return false;
      seen.add(key);
    }
    return true;
  };

  it('greedy and beam never repeat an n-gram when blocking is on, and loop without it', () => {
    // A model that loves one token: fc2 bias makes id 7 dominant and <eos> unlikely.
    const model = CaptionModel.create(config, 3);
    const bias = model.variables[model.parameterNames.indexOf('fc2/bias')];
    const b = new Float32Array(config.vocabSize);
    b[7] = 6;
    b[8] = 5;
    b[2] = -5;
    bias.assign(tf.tensor1d(b));
    const features = tf.randomNormal([3, config.locations, config.featureDim], 0, 1, 'float32', 3) as tf.Tensor3D;
    const plain = greedyDecode(model, features, opts);
    expect(plain.some((r) => !distinctNgrams(r.tokens, 2))).toBe(true);
    for (const n of [1, 2, 3]) {
      for (const r of greedyDecode(model, features, { ...opts, noRepeatNgram: n })) expect(distinctNgrams(r.tokens, n)).toBe(true);
      for (const r of beamSearch(model, features, { ...opts, beam: 3, noRepeatNgram: n })) expect(distinctNgrams(r.tokens, n)).toBe(true);
    }
    model.dispose();
    features.dispose();
  });

  it('rejects a negative or fractional noRepeatNgram', () => {
    const { model, features } = setup(4);
    expect(() => greedyDecode(model, features, { ...opts, noRepeatNgram: -1 })).toThrow(/noRepeatNgram/);
    expect(() => beamSearch(model, features, { ...opts, beam: 2, noRepeatNgram: 1.5 })).toThrow(/noRepeatNgram/);
    model.dispose();
    features.dispose();
  });
});
