import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFeatureStore } from '@captioner/featurize';
import { CaptionModel, greedyDecode, beamSearch } from '@captioner/model';
import { tf } from '@captioner/tf';
import { createTinyPipeline, LOCATIONS, type TinyPipeline } from './pipeline.fixture.js';
import yargs from 'yargs';
import { decodeGrid, tuneDecoding } from './tune.js';
import { tuneDecodingCommand } from './tune-command.js';
import { loadTrainedModel } from './trained-model.js';

let p: TinyPipeline;
beforeAll(async () => {
  p = await createTinyPipeline();
});
afterAll(() => {
  if (p) rmSync(p.root, { recursive: true, force: true });
});

describe('decodeGrid', () => {
  it('crosses beam widths, penalties and n-gram blocks; greedy rows take one penalty', () => {
    const grid = decodeGrid([1, 3], [0.5, 1], [0, 2]);
    expect(grid).toEqual([
      { beam: 1, lengthPenalty: 0.5, noRepeatNgram: 0 },
      { beam: 1, lengthPenalty: 0.5, noRepeatNgram: 2 },
      { beam: 3, lengthPenalty: 0.5, noRepeatNgram: 0 },
      { beam: 3, lengthPenalty: 0.5, noRepeatNgram: 2 },
      { beam: 3, lengthPenalty: 1, noRepeatNgram: 0 },
      { beam: 3, lengthPenalty: 1, noRepeatNgram: 2 },
    ]);
  });
});

describe('tune-decoding command', () => {
  it('parses the grid flags as lists of numbers (no --no-X negation trap)', async () => {
    let seen: Record<string, unknown> = {};
    await yargs(['tune-decoding', '--beams', '1', '3', '--length-penalties', '0.7', '--block-ngram', '0', '2'])
      .command({ ...tuneDecodingCommand, handler: (argv) => void (seen = argv) })
      .parseAsync();
    expect(seen.beams).toEqual([1, 3]);
    expect(seen['length-penalties']).toEqual([0.7]);
    expect(seen['block-ngram']).toEqual([0, 2]);
  });
});

describe('tuneDecoding', () => {
  it('decodes the split once per setting, reports each row, and picks the best CIDEr-D', async () => {
    const outPath = join(p.root, 'tune.json');
    const settings = decodeGrid([1, 2], [0.5, 1], [0, 1]);
    const report = await tuneDecoding({ modelDir: p.modelDir, featurizeDir: p.featurizeDir, ingestDir: p.ingestDir, split: 'train', settings, outPath });
    expect(report.images).toBe(1); // e.png is the only train image
    expect(report.rows.map((r) => r.setting)).toEqual(settings);
    const ciders = report.rows.map((r) => r.scores['CIDEr-D']);
    expect(report.best.scores['CIDEr-D']).toBe(Math.max(...ciders));
    expect(JSON.parse(readFileSync(outPath, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));

    // The greedy rows' caption lengths are those of greedyDecode / beamSearch on the same features.
    const trained = await loadTrainedModel(p.modelDir);
    const store = openFeatureStore(p.featurizeDir);
    const features = tf.tensor3d(store.getBatch(['e.png']), [1, LOCATIONS, trained.model.config.featureDim]);
    const common = { startId: trained.startId, endId: trained.endId, maxLength: trained.defaultMaxSteps, words: trained.model.words };
    expect(report.rows[0].meanWords).toBe(greedyDecode(trained.model, features, { ...common, noRepeatNgram: 0 })[0].words.length);
    expect(report.rows[1].meanWords).toBe(greedyDecode(trained.model, features, { ...common, noRepeatNgram: 1 })[0].words.length);
    expect(report.rows[4].meanWords).toBe(beamSearch(trained.model, features, { ...common, beam: 2, lengthPenalty: 1, noRepeatNgram: 0 })[0].words.length);
    features.dispose();
    (trained.model as CaptionModel).dispose();
  });

  it('refuses the test split and an empty grid', async () => {
    const base = { modelDir: p.modelDir, featurizeDir: p.featurizeDir, ingestDir: p.ingestDir };
    await expect(tuneDecoding({ ...base, split: 'test' as 'val', settings: decodeGrid([1], [1], [0]) })).rejects.toThrow(/test split is only reported/);
    await expect(tuneDecoding({ ...base, settings: [] })).rejects.toThrow(/empty grid/);
  });
});
