import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep, join } from 'node:path';
import { makeVector, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { CaptionerError, seededRandom, shuffleInPlace, type IngestConfig } from '@captioner/core';
import { log, timer, writeArrowFile, writeJsonAtomic } from '@captioner/core/node';
import { detectLayout, type DatasetLayout, type LayoutKind } from './layout.js';
import { readKaggleCaptions, readTokenCaptions, type RawCaption } from './read-captions.js';
import { INGEST_MANIFEST_FILE, type IngestManifest } from './contract.js';

export type Split = 'train' | 'val' | 'test' | 'none';

export interface CaptionRow {
  image: string;
  caption: string;
  captionIndex: number;
  split: Split;
}

/** What was dropped and why: every count has the rows behind it (capped lists keep reports small). */
export interface IngestReport {
  layout: LayoutKind;
  captionsFile: string;
  splitSource: 'official' | 'seeded';
  rowsRead: number;
  captions: number;
  images: number;
  splits: Record<Split, { images: number; captions: number }>;
  dropped: {
    missingImage: { count: number; rows: { line: number; image: string }[] };
    /** The file exists but is not an image format the pipeline reads (e.g. `.svg`): not "missing". */
    unsupportedImageFormat: { count: number; rows: { line: number; image: string }[] };
    unsafeImageName: { count: number; rows: { line: number; image: string }[] };
    emptyCaption: { count: number; rows: { line: number; image: string }[] };
    duplicate: { count: number; rows: { line: number; image: string }[] };
  };
  /**
   * Identical (image, caption) pairs in the Kaggle layout. Flickr8k itself has 10 (two annotators
   * wrote the same sentence; the original token file gives them distinct #N), so they are kept
   * unless `ingest.dropRepeatedCaptions` is set.
   */
  repeatedCaptions: { count: number; dropped: boolean; rows: { line: number; image: string }[] };
  imagesWithoutCaption: { count: number; images: string[] };
  splitListsMissingImages: { count: number; images: string[] };
  seconds: number;
}

export interface IngestResult {
  rows: CaptionRow[];
  report: IngestReport;
  layout: DatasetLayout;
}

const LIST_CAP = 1000;
const IMAGE_EXT = /\.(jpe?g|png|webp|gif|tiff?|bmp)$/i;
const IMAGE_EXT_LIST = '.jpg .jpeg .png .webp .gif .tif .tiff .bmp';

/** An image name must stay inside the images folder: no absolute paths, no `..`, no empty name. */
export function isSafeImageName(name: string): boolean {
  if (name === '' || isAbsolute(name) || /^[a-zA-Z]:[\\/]/.test(name) || name.includes('\0')) return false;
  return !name.split(/[\\/]/).some((part) => part === '..');
}

function readSplitList(path: string): string[] {
  return readFileSync(path, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Seeded split by image (never by caption row: that leaks a training image's other captions into val/test). */
export function splitByImage(images: string[], seed: number, ratios: IngestConfig['ratios']): Map<string, Split> {
  const order = shuffleInPlace([...images].sort(), seededRandom(seed));
  const nTrain = Math.round(order.length * ratios.train);
  const nVal = Math.round(order.length * ratios.val);
  const split = new Map<string, Split>();
  order.forEach((img: string, i: number) => split.set(img, i < nTrain ? 'train' : i < nTrain + nVal ? 'val' : 'test'));
  return split;
}

export interface IngestOptions {
  datasetDir: string;
  layout?: 'auto' | LayoutKind;
  config: IngestConfig;
}

/** Reads and validates a Flickr8k-style dataset; pure (writes nothing). */
export function ingest(opts: IngestOptions): IngestResult {
  const elapsed = timer();
  const layout = detectLayout(resolve(opts.datasetDir), opts.layout ?? 'auto');
  const raw: RawCaption[] = layout.kind === 'kaggle' ? readKaggleCaptions(layout.captionsFile) : readTokenCaptions(layout.captionsFile);
  const listed = readdirSync(layout.imagesDir);
  const onDisk = new Set(listed.filter((f) => IMAGE_EXT.test(f)));
  const otherFiles = new Set(listed.filter((f) => !IMAGE_EXT.test(f)));

  const dropped: IngestReport['dropped'] = {
    missingImage: { count: 0, rows: [] },
    unsupportedImageFormat: { count: 0, rows: [] },
    unsafeImageName: { count: 0, rows: [] },
    emptyCaption: { count: 0, rows: [] },
    duplicate: { count: 0, rows: [] },
  };
  const drop = (kind: keyof IngestReport['dropped'], row: RawCaption) => {
    dropped[kind].count++;
    if (dropped[kind].rows.length < LIST_CAP) dropped[kind].rows.push({ line: row.line, image: row.image });
  };

  const repeated: IngestReport['repeatedCaptions'] = { count: 0, dropped: opts.config.dropRepeatedCaptions, rows: [] };
  const kept: RawCaption[] = [];
  const seenKeys = new Set<string>();
  const seenTexts = new Set<string>();
  for (const row of raw) {
    if (!isSafeImageName(row.image)) drop('unsafeImageName', row);
    else if (row.caption.trim() === '') drop('emptyCaption', row);
    else if (!onDisk.has(row.image)) drop(otherFiles.has(row.image) ? 'unsupportedImageFormat' : 'missingImage', row);
    else if (row.index !== undefined && seenKeys.has(`${row.image}#${row.index}`)) drop('duplicate', row);
    else {
      const text = `${row.image}\u0000${row.caption.trim()}`;
      if (seenTexts.has(text)) {
        repeated.count++;
        if (repeated.rows.length < LIST_CAP) repeated.rows.push({ line: row.line, image: row.image });
        if (opts.config.dropRepeatedCaptions) continue;
      }
      seenTexts.add(text);
      if (row.index !== undefined) seenKeys.add(`${row.image}#${row.index}`);
      kept.push(row);
    }
  }

  // caption_index: `#N` in the original layout, else the position among the image's kept captions (0-based).
  const perImage = new Map<string, number>();
  const images: string[] = [];
  const rowsNoSplit = kept.map((row) => {
    const n = perImage.get(row.image) ?? 0;
    if (n === 0) images.push(row.image);
    perImage.set(row.image, n + 1);
    return { image: row.image, caption: row.caption.trim(), captionIndex: row.index ?? n };
  });

  let splitOf: Map<string, Split>;
  let splitSource: IngestReport['splitSource'];
  const splitListsMissing: string[] = [];
  if (opts.config.officialSplit && layout.splitFiles) {
    splitSource = 'official';
    splitOf = new Map();
    for (const [split, file] of Object.entries(layout.splitFiles) as [Split, string][]) {
      for (const img of readSplitList(file)) {
        if (!perImage.has(img)) splitListsMissing.push(img);
        else splitOf.set(img, split);
      }
    }
  } else {
    splitSource = 'seeded';
    splitOf = splitByImage(images, opts.config.seed, opts.config.ratios);
  }

  const rows: CaptionRow[] = rowsNoSplit.map((r) => ({ ...r, split: splitOf.get(r.image) ?? 'none' }));
  const splits = { train: { images: 0, captions: 0 }, val: { images: 0, captions: 0 }, test: { images: 0, captions: 0 }, none: { images: 0, captions: 0 } };
  for (const r of rows) splits[r.split].captions++;
  for (const img of images) splits[splitOf.get(img) ?? 'none'].images++;
  const withoutCaption = [...onDisk].filter((f) => !perImage.has(f)).sort();

  const report: IngestReport = {
    layout: layout.kind,
    captionsFile: layout.captionsFile,
    splitSource,
    rowsRead: raw.length,
    captions: rows.length,
    images: images.length,
    splits,
    dropped,
    repeatedCaptions: repeated,
    imagesWithoutCaption: { count: withoutCaption.length, images: withoutCaption.slice(0, LIST_CAP) },
    splitListsMissingImages: { count: splitListsMissing.length, images: splitListsMissing.slice(0, LIST_CAP) },
    seconds: 0,
  };
  report.seconds = elapsed();
  return { rows, report, layout };
}

export function captionsTable(rows: CaptionRow[]): Table {
  return new Table({
    image: vectorFromArray(
      rows.map((r) => r.image),
      new Utf8(),
    ),
    caption: vectorFromArray(
      rows.map((r) => r.caption),
      new Utf8(),
    ),
    caption_index: makeVector(Int32Array.from(rows.map((r) => r.captionIndex))),
    split: vectorFromArray(
      rows.map((r) => r.split),
      new Utf8(),
    ),
  });
}

/** Path as stored in the manifest: relative to the workspace root when inside it, so cached outputs move with the repo. */
function portablePath(path: string, root: string): string {
  const rel = relative(root, path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel.split(sep).join('/');
}

export interface RunIngestOptions extends IngestOptions {
  outDir: string;
  root: string;
}

/** The ingest stage: captions.arrow + manifest.json + report.json, each written atomically. */
export function runIngest(opts: RunIngestOptions): IngestReport {
  const { rows, report, layout } = ingest(opts);
  if (rows.length === 0) throw new CaptionerError(`${layout.captionsFile}: no usable captions (see the counts above)`);
  writeArrowFile(join(opts.outDir, 'captions.arrow'), captionsTable(rows));
  writeJsonAtomic(join(opts.outDir, 'report.json'), report);
  const manifest: IngestManifest = {
    imagesDir: portablePath(layout.imagesDir, opts.root),
    layout: layout.kind,
    splitSource: report.splitSource,
    captions: report.captions,
    images: report.images,
  };
  writeJsonAtomic(join(opts.outDir, INGEST_MANIFEST_FILE), manifest);
  const d = report.dropped;
  log('ingest', `${report.captions} captions, ${report.images} images (${layout.kind} layout, ${report.splitSource} split)`);
  log('ingest', `split images: train ${report.splits.train.images}, val ${report.splits.val.images}, test ${report.splits.test.images}, none ${report.splits.none.images}`);
  const problems: [string, number][] = [
    ['rows whose image file is missing (dropped)', d.missingImage.count],
    [`rows whose image file is not a supported format, ${IMAGE_EXT_LIST} (dropped)`, d.unsupportedImageFormat.count],
    ['rows with an unsafe image name (rejected)', d.unsafeImageName.count],
    ['empty captions (dropped)', d.emptyCaption.count],
    ['duplicate rows (same image#N; dropped)', d.duplicate.count],
    [`repeated identical captions of one image (${report.repeatedCaptions.dropped ? 'dropped' : 'kept'})`, report.repeatedCaptions.count],
    ['images with no caption (ignored)', report.imagesWithoutCaption.count],
    ['split-list images with no caption', report.splitListsMissingImages.count],
  ];
  for (const [what, n] of problems) if (n > 0) log('ingest', `warning: ${n} ${what}; listed in report.json`);
  return report;
}
