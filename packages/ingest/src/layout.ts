import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CaptionerError } from '@captioner/core';

export type LayoutKind = 'kaggle' | 'original';

export interface DatasetLayout {
  kind: LayoutKind;
  root: string;
  imagesDir: string;
  captionsFile: string;
  /** Official split lists, when all three are present. */
  splitFiles?: { train: string; val: string; test: string };
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

function findSplitFiles(root: string): DatasetLayout['splitFiles'] {
  for (const dir of [root, join(root, 'Flickr8k_text')]) {
    const files = {
      train: join(dir, 'Flickr_8k.trainImages.txt'),
      val: join(dir, 'Flickr_8k.devImages.txt'),
      test: join(dir, 'Flickr_8k.testImages.txt'),
    };
    if (isFile(files.train) && isFile(files.val) && isFile(files.test)) return files;
  }
  return undefined;
}

const HOW_TO_GET =
  'Get Flickr8k with `npx captioner ingest download --to <dir>` (needs a Kaggle API token) or point ' +
  'FLICKR8K_DIR / dataset.dir at a folder holding Images/ + captions.txt (Kaggle) or ' +
  'Flicker8k_Dataset/ + Flickr8k.token.txt (original).';

/** Detects the Kaggle (`Images/` + `captions.txt`) or original (`Flickr8k.token.txt`) layout. */
export function detectLayout(root: string, wanted: 'auto' | LayoutKind = 'auto'): DatasetLayout {
  if (!isDir(root)) throw new CaptionerError(`dataset folder not found: ${root}. ${HOW_TO_GET}`);
  const imagesDir = [join(root, 'Images'), join(root, 'Flicker8k_Dataset'), join(root, 'Flickr8k_Dataset')].find(isDir);
  const kaggle = join(root, 'captions.txt');
  const token = [join(root, 'Flickr8k.token.txt'), join(root, 'Flickr8k_text', 'Flickr8k.token.txt')].find(isFile);
  if (!imagesDir) throw new CaptionerError(`${root}: no Images/ or Flicker8k_Dataset/ folder. ${HOW_TO_GET}`);
  const splitFiles = findSplitFiles(root);
  if ((wanted === 'auto' || wanted === 'kaggle') && isFile(kaggle)) {
    return { kind: 'kaggle', root, imagesDir, captionsFile: kaggle, splitFiles };
  }
  if ((wanted === 'auto' || wanted === 'original') && token) {
    return { kind: 'original', root, imagesDir, captionsFile: token, splitFiles };
  }
  throw new CaptionerError(
    `${root}: no ${wanted === 'original' ? 'Flickr8k.token.txt' : wanted === 'kaggle' ? 'captions.txt' : 'captions.txt or Flickr8k.token.txt'}. ${HOW_TO_GET}`,
  );
}
