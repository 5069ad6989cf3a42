import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cocoTokenize, scoreCaptions } from './index.js';

/**
 * Parity with pycocoevalcap on real captions. The expected numbers were produced by the Python
 * scorers of tylin/coco-caption (bleu_scorer.py with option 'closest', cider_scorer.py, rouge.py)
 * run on exactly these inputs (our tokenization, joined with spaces), so they pin the scoring
 * arithmetic, not the tokenizer. Inputs: the 200 alphabetically first Flickr8k images; references
 * are captions 1..4 of each image; the candidate is caption 0 of the same image (human agreement)
 * or of the next image (a mismatched caption).
 */
const captionsFile = '/work/shared/flickr8k/captions.txt';

function loadCaptions(): Map<string, string[]> {
  const byImage = new Map<string, string[]>();
  for (const line of readFileSync(captionsFile, 'utf8').trim().split('\n').slice(1)) {
    const comma = line.indexOf(',');
    let caption = line.slice(comma + 1);
    if (caption.startsWith('"')) caption = caption.slice(1, -1).replace(/""/g, '"');
    const image = line.slice(0, comma);
    if (!byImage.has(image)) byImage.set(image, []);
    byImage.get(image)!.push(caption);
  }
  return byImage;
}

describe.skipIf(!existsSync(captionsFile))('pycocoevalcap parity on Flickr8k captions (needs /work/shared/flickr8k)', () => {
  const captions = existsSync(captionsFile) ? loadCaptions() : new Map<string, string[]>();
  const images = [...captions.keys()].sort().slice(0, 200);
  const itemsWithShift = (shift: number) =>
    images.map((image, i) => ({
      candidate: cocoTokenize(captions.get(images[(i + shift) % images.length])![0]),
      references: captions.get(image)!.slice(1).map(cocoTokenize),
    }));

  it('human agreement: caption 0 against captions 1..4', () => {
    const { corpus } = scoreCaptions(itemsWithShift(0));
    expect(corpus['BLEU-1']).toBeCloseTo(0.6705670567053688, 12);
    expect(corpus['BLEU-2']).toBeCloseTo(0.4855850771186417, 12);
    expect(corpus['BLEU-3']).toBeCloseTo(0.34669378321153477, 12);
    expect(corpus['BLEU-4']).toBeCloseTo(0.24533053520446138, 12);
    expect(corpus['CIDEr-D']).toBeCloseTo(0.8806368579329003, 12);
    expect(corpus['ROUGE-L']).toBeCloseTo(0.5216475287832063, 12);
  });

  it('mismatched captions: the next image’s caption 0', () => {
    const { corpus } = scoreCaptions(itemsWithShift(1));
    expect(corpus['BLEU-1']).toBeCloseTo(0.310981098109671, 12);
    expect(corpus['BLEU-2']).toBeCloseTo(0.12214122964235935, 12);
    expect(corpus['BLEU-3']).toBeCloseTo(0.04857745367331521, 12);
    expect(corpus['BLEU-4']).toBeCloseTo(0.023058356268534277, 12);
    expect(corpus['CIDEr-D']).toBeCloseTo(0.06041012363366196, 12);
    expect(corpus['ROUGE-L']).toBeCloseTo(0.2522391925160358, 12);
  });
});
