import { join } from 'node:path';
import { CaptionerError } from '@captioner/core';
import { column, readArrowFile } from '@captioner/core/node';

/** A split with reference captions (ingest's 'none' rows have no split). */
export type ReferenceSplit = 'train' | 'val' | 'test';

/**
 * Reference captions of one split from ingest's captions.arrow: the raw captions (not the cleaned
 * training text), because the COCO evaluation scores against human captions tokenized its own way.
 * Images keep the file's order; each image's captions are ordered by caption_index.
 */
export function readReferences(ingestDir: string, split: ReferenceSplit): Map<string, string[]> {
  const path = join(ingestDir, 'captions.arrow');
  const table = readArrowFile(path, 'ingest');
  const images = column<string>(table, 'image', path);
  const captions = column<string | null>(table, 'caption', path);
  const indexes = column<number>(table, 'caption_index', path);
  const splits = column<string>(table, 'split', path);
  const byImage = new Map<string, { index: number; caption: string }[]>();
  for (let i = 0; i < table.numRows; i++) {
    if (splits.get(i) !== split) continue;
    const caption = captions.get(i);
    if (caption == null) throw new CaptionerError(`${path}: row ${i}: caption is null`);
    const image = images.get(i);
    let list = byImage.get(image);
    if (!list) byImage.set(image, (list = []));
    list.push({ index: indexes.get(i), caption });
  }
  if (byImage.size === 0) {
    const present = [...new Set(Array.from({ length: table.numRows }, (_, i) => splits.get(i)))].join(', ');
    throw new CaptionerError(`${path}: no images in split "${split}" (splits present: ${present || 'none'})`);
  }
  return new Map([...byImage].map(([image, list]) => [image, list.sort((a, b) => a.index - b.index).map((c) => c.caption)]));
}
