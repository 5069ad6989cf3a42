import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptionerError } from '@captioner/core';
import { openFeatureStore } from '@captioner/featurize';
import { loadCaptioner } from './captioner.js';
import { attentionPngPath, expandImageArguments } from '@captioner/caption';
import { createTinyPipeline, LOCATIONS, quadrantExtractor, type TinyPipeline } from './pipeline.fixture.js';

let p: TinyPipeline;
beforeAll(async () => {
  p = await createTinyPipeline();
});
afterAll(() => {
  if (p) rmSync(p.root, { recursive: true, force: true });
});

/** A copy of the saved model folder, to break on purpose. */
function modelCopy(name: string): string {
  const dir = join(p.root, name);
  cpSync(p.modelDir, dir, { recursive: true });
  return dir;
}

describe('loadCaptioner', () => {
  it('captions an image file or its bytes with the same features the featurize stage stored', async () => {
    const captioner = await loadCaptioner(p.modelDir, { extractor: quadrantExtractor() });
    const store = openFeatureStore(p.featurizeDir);
    try {
      for (const image of p.testImages) {
        const path = join(p.imagesDir, image);
        const fromFile = await captioner.caption(path, { beam: 3 });
        const fromBytes = await captioner.caption(readFileSync(path), { beam: 3 });
        // Same preprocessing as the stage: decoding the stored features gives the same caption.
        const fromStore = captioner.captionFeatures(store.get(image), { beam: 3 });
        expect(fromFile.caption).toBe(fromStore.caption);
        expect(fromBytes.caption).toBe(fromStore.caption);
        expect(fromFile.logProb).toBeCloseTo(fromStore.logProb, 4);
        expect(fromFile.method).toBe('beam');
        expect(fromFile.words).toHaveLength(fromFile.tokens.length);
        expect(fromFile.attention).toHaveLength(fromFile.tokens.length);
        for (const row of fromFile.attention) {
          expect(row).toHaveLength(LOCATIONS);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        }
        expect(fromFile.grid).toEqual([2, 2]);
        expect(captioner.captionFeatures(store.get(image), { beam: 1 }).method).toBe('greedy');
      }
    } finally {
      store.close();
      captioner.dispose();
    }
  });

  it('names the folder when the model folder is missing', async () => {
    await expect(loadCaptioner(join(p.root, 'no-such-model'), { extractor: quadrantExtractor() })).rejects.toThrow(/model folder not found: .*no-such-model/);
  });

  it('names the missing file when the model folder is incomplete', async () => {
    const dir = modelCopy('model-without-weights');
    rmSync(join(dir, 'weights.bin'));
    const err = await loadCaptioner(dir, { extractor: quadrantExtractor() }).catch((e) => e);
    expect(err).toBeInstanceOf(CaptionerError);
    expect(err.message).toMatch(/missing weights\.bin/);
  });

  it('rejects a vocabulary that does not match the model', async () => {
    const dir = modelCopy('model-vocab-mismatch');
    const vocabPath = join(dir, 'vocab.json');
    const vocab = JSON.parse(readFileSync(vocabPath, 'utf8'));
    writeFileSync(vocabPath, JSON.stringify({ ...vocab, vocabSize: vocab.vocabSize + 5 }));
    await expect(loadCaptioner(dir, { extractor: quadrantExtractor() })).rejects.toThrow(/vocab\.json: vocabSize 14 does not match the model's 9/);
  });

  it('rejects a vocabulary without the <sos>/<eos> tokens the decoder needs', async () => {
    const dir = modelCopy('model-no-eos');
    const vocabPath = join(dir, 'vocab.json');
    const vocab = JSON.parse(readFileSync(vocabPath, 'utf8'));
    delete vocab.wordIndex['<eos>'];
    writeFileSync(vocabPath, JSON.stringify(vocab));
    await expect(loadCaptioner(dir, { extractor: quadrantExtractor() })).rejects.toThrow(/vocab\.json: token "<eos>" is missing/);
  });

  it('rejects a feature network whose feature size differs from the model', async () => {
    await expect(loadCaptioner(p.modelDir, { extractor: quadrantExtractor({ dim: 6 }) })).rejects.toThrow(
      /feature size mismatch: .* gives 4 locations x 6 channels, the model .* expects 4 x 4/,
    );
  });

  it('rejects a feature network with other weights than the model was trained on', async () => {
    await expect(loadCaptioner(p.modelDir, { extractor: quadrantExtractor({ inputSize: 20 }) })).rejects.toThrow(
      /features\.json: the model was trained on features of network weights/,
    );
  });

  it('names the file when the input is not an image', async () => {
    const captioner = await loadCaptioner(p.modelDir, { extractor: quadrantExtractor() });
    try {
      const textFile = join(p.root, 'notes.txt');
      writeFileSync(textFile, 'hello, I am a text file\n');
      const err = await captioner.caption(textFile).catch((e) => e);
      expect(err).toBeInstanceOf(CaptionerError);
      expect(err.message).toContain(textFile);
      expect(err.message).toMatch(/not-an-image/);
      await expect(captioner.caption(join(p.root, 'absent.jpg'))).rejects.toThrow(/absent\.jpg: missing/);
    } finally {
      captioner.dispose();
    }
  });
});

describe('caption CLI helpers', () => {
  it('expands folders to their image files and keeps files as given', () => {
    const files = expandImageArguments([p.imagesDir, join(p.imagesDir, 'a.png')]);
    expect(files.map((f) => f.slice(p.imagesDir.length + 1))).toEqual(['a.png', 'b.png', 'broken.jpg', 'c.png', 'd.png', 'e.png', 'f.png', 'a.png']);
    expect(() => expandImageArguments([join(p.root, 'nothing-here')])).toThrow(/no such file or folder/);
    expect(() => expandImageArguments([p.featurizeDir])).toThrow(/folder has no image files/);
  });
  it('derives one attention figure path per image when there are several', () => {
    expect(attentionPngPath('out/att.png', 'x/dog.jpg', false)).toMatch(/out\/att\.png$/);
    expect(attentionPngPath('out/att.png', 'x/dog.jpg', true)).toMatch(/out\/att-dog\.png$/);
  });
});
