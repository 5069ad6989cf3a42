import { mkdtempSync, mkdirSync, readdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestSchema, type IngestConfig } from '@captioner/core';
import { readArrowFile } from '@captioner/core/node';
import { ingest, isSafeImageName, runIngest, splitByImage } from './ingest.js';

const config: IngestConfig = ingestSchema.parse({});

/** A dataset folder in the Kaggle layout: Images/<names> + captions.txt with the given text. */
function kaggleDataset(images: string[], captionsText: string, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ingest-'));
  mkdirSync(join(dir, 'Images'));
  for (const img of images) writeFileSync(join(dir, 'Images', img), 'x');
  writeFileSync(join(dir, 'captions.txt'), captionsText);
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

const fiveEach = (imgs: string[]) => imgs.flatMap((img) => [0, 1, 2, 3, 4].map((k) => `${img},caption ${k} of ${img}`));

describe('ingest: Kaggle layout', () => {
  it('reads quoted CSV captions with commas, a BOM and CRLF line ends', () => {
    const text = '\uFEFFimage,caption\r\na.jpg,"A dog , a ball ."\r\na.jpg,A dog runs .\r\nb.jpg,"He said ""hi"""\r\n';
    const { rows, report } = ingest({ datasetDir: kaggleDataset(['a.jpg', 'b.jpg'], text), config });
    expect(rows.map((r) => r.caption)).toEqual(['A dog , a ball .', 'A dog runs .', 'He said "hi"']);
    expect(rows.map((r) => r.captionIndex)).toEqual([0, 1, 0]);
    expect(report.layout).toBe('kaggle');
    expect(report.captions).toBe(3);
  });

  it('fails on a malformed CSV line, naming the file and line', () => {
    const dir = kaggleDataset(['a.jpg'], 'image,caption\na.jpg,ok\na.jpg,"unterminated\n');
    expect(() => ingest({ datasetDir: dir, config })).toThrow(/captions\.txt:3.*malformed CSV/s);
  });

  it('fails on a wrong header and on an extra column, with line numbers', () => {
    expect(() => ingest({ datasetDir: kaggleDataset(['a.jpg'], 'file,text\na.jpg,x\n'), config })).toThrow(/captions\.txt:1: expected header/);
    expect(() => ingest({ datasetDir: kaggleDataset(['a.jpg'], 'image,caption\na.jpg,x\na.jpg,x,y\n'), config })).toThrow(/captions\.txt:3/);
  });

  it('an existing file in an unsupported format is reported as such, not as a missing image', () => {
    const text = ['image,caption', 'a.jpg,A dog .', 'drawing.svg,A vector dog .', 'gone.jpg,Nobody home .'].join('\n');
    const dir = kaggleDataset(['a.jpg'], text);
    writeFileSync(join(dir, 'Images', 'drawing.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    const { rows, report } = ingest({ datasetDir: dir, config });
    expect(rows.map((r) => r.image)).toEqual(['a.jpg']);
    expect(report.dropped.unsupportedImageFormat).toEqual({ count: 1, rows: [{ line: 3, image: 'drawing.svg' }] });
    expect(report.dropped.missingImage).toEqual({ count: 1, rows: [{ line: 4, image: 'gone.jpg' }] });
  });

  it('drops rows whose image is missing, empty captions and unsafe names; lists each; loses nothing else', () => {
    const text = [
      'image,caption',
      'a.jpg,A dog .',
      'missing.jpg,Nobody home .',
      'a.jpg,   ',
      '../etc/passwd,escape',
      '/abs/path.jpg,absolute',
      'sub/../../x.jpg,nested escape',
      'b.jpg,A cat .',
    ].join('\n');
    const { rows, report } = ingest({ datasetDir: kaggleDataset(['a.jpg', 'b.jpg', 'lonely.jpg'], text), config });
    expect(rows.map((r) => `${r.image}:${r.caption}`)).toEqual(['a.jpg:A dog .', 'b.jpg:A cat .']);
    expect(report.dropped.missingImage).toEqual({ count: 1, rows: [{ line: 3, image: 'missing.jpg' }] });
    expect(report.dropped.emptyCaption).toEqual({ count: 1, rows: [{ line: 4, image: 'a.jpg' }] });
    expect(report.dropped.unsafeImageName.count).toBe(3);
    expect(report.dropped.unsafeImageName.rows.map((r) => r.line)).toEqual([5, 6, 7]);
    expect(report.imagesWithoutCaption).toEqual({ count: 1, images: ['lonely.jpg'] });
    expect(report.rowsRead).toBe(7);
  });

  it('keeps repeated identical captions of one image by default (Flickr8k has genuine ones), drops them on request', () => {
    const text = 'image,caption\na.jpg,A dog .\na.jpg,A dog .\na.jpg,Another .\n';
    const dir = kaggleDataset(['a.jpg'], text);
    const kept = ingest({ datasetDir: dir, config });
    expect(kept.rows).toHaveLength(3);
    expect(kept.report.repeatedCaptions).toMatchObject({ count: 1, dropped: false, rows: [{ line: 3, image: 'a.jpg' }] });
    const dropped = ingest({ datasetDir: dir, config: { ...config, dropRepeatedCaptions: true } });
    expect(dropped.rows.map((r) => r.caption)).toEqual(['A dog .', 'Another .']);
  });
});

describe('ingest: original layout', () => {
  it('reads Flickr8k.token.txt (name#N<TAB>caption), keeps #N, drops duplicate image#N rows', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-orig-'));
    mkdirSync(join(dir, 'Flicker8k_Dataset'));
    writeFileSync(join(dir, 'Flicker8k_Dataset', 'a.jpg'), 'x');
    writeFileSync(join(dir, 'Flickr8k.token.txt'), 'a.jpg#0\tA dog .\na.jpg#1\tA dog runs .\na.jpg#1\tA dog runs again .\n');
    const { rows, report } = ingest({ datasetDir: dir, config });
    expect(report.layout).toBe('original');
    expect(rows.map((r) => [r.captionIndex, r.caption])).toEqual([
      [0, 'A dog .'],
      [1, 'A dog runs .'],
    ]);
    expect(report.dropped.duplicate).toEqual({ count: 1, rows: [{ line: 3, image: 'a.jpg' }] });
  });

  it('rejects a malformed token line with its line number', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-orig-'));
    mkdirSync(join(dir, 'Images'));
    writeFileSync(join(dir, 'Flickr8k.token.txt'), 'a.jpg#0\tok\nthis line has no tab\n');
    expect(() => ingest({ datasetDir: dir, config })).toThrow(/Flickr8k\.token\.txt:2/);
  });

  it('explains how to get the dataset when the folder is missing', () => {
    expect(() => ingest({ datasetDir: '/nonexistent/flickr8k', config })).toThrow(/dataset folder not found.*FLICKR8K_DIR/s);
  });
});

describe('splits', () => {
  const images = Array.from({ length: 50 }, (_, i) => `img${i}.jpg`);

  it('official lists win when present; images in none of them get split "none"', () => {
    const dir = kaggleDataset(images.slice(0, 5), ['image,caption', ...fiveEach(images.slice(0, 5))].join('\n'), {
      'Flickr_8k.trainImages.txt': 'img0.jpg\nimg1.jpg\n',
      'Flickr_8k.devImages.txt': 'img2.jpg\n',
      'Flickr_8k.testImages.txt': 'img3.jpg\nimg99.jpg\n',
    });
    const { rows, report } = ingest({ datasetDir: dir, config });
    const splitOf = Object.fromEntries(rows.map((r) => [r.image, r.split]));
    expect(splitOf).toEqual({ 'img0.jpg': 'train', 'img1.jpg': 'train', 'img2.jpg': 'val', 'img3.jpg': 'test', 'img4.jpg': 'none' });
    expect(report.splitSource).toBe('official');
    expect(report.splits.train).toEqual({ images: 2, captions: 10 });
    expect(report.splitListsMissingImages).toEqual({ count: 1, images: ['img99.jpg'] });
  });

  it('seeded split is by image: all captions of an image share its split, ratios hold, seed is reproducible', () => {
    const dir = kaggleDataset(images, ['image,caption', ...fiveEach(images)].join('\n'));
    const a = ingest({ datasetDir: dir, config });
    const b = ingest({ datasetDir: dir, config });
    expect(a.rows).toEqual(b.rows);
    expect(a.report.splitSource).toBe('seeded');
    const byImage = new Map<string, Set<string>>();
    for (const r of a.rows) byImage.set(r.image, (byImage.get(r.image) ?? new Set()).add(r.split));
    for (const s of byImage.values()) expect(s.size).toBe(1);
    expect(a.report.splits.train.images).toBe(40);
    expect(a.report.splits.val.images).toBe(5);
    expect(a.report.splits.test.images).toBe(5);
    const other = splitByImage(images, 7, config.ratios);
    expect([...other.entries()]).not.toEqual([...splitByImage(images, 31, config.ratios).entries()]);
  });
});

describe('runIngest', () => {
  it('writes captions.arrow, manifest.json and report.json atomically (no temp files left)', () => {
    const dir = kaggleDataset(['a.jpg'], 'image,caption\na.jpg,A dog .\n');
    const out = mkdtempSync(join(tmpdir(), 'ingest-out-'));
    runIngest({ datasetDir: dir, config, outDir: out, root: dir });
    expect(readdirSync(out).sort()).toEqual(['captions.arrow', 'manifest.json', 'report.json']);
    const table = readArrowFile(join(out, 'captions.arrow'));
    expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['image:Utf8', 'caption:Utf8', 'caption_index:Int32', 'split:Utf8']);
    expect(table.getChild('caption')!.get(0)).toBe('A dog .');
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).imagesDir).toBe('Images');
    expect(existsSync(join(out, 'captions.arrow'))).toBe(true);
  });
});

describe('isSafeImageName', () => {
  it.each([
    ['a.jpg', true],
    ['sub/a.jpg', true],
    ['..a.jpg', true],
    ['', false],
    ['../a.jpg', false],
    ['sub/../../a.jpg', false],
    ['/etc/passwd', false],
    ['C:\\x.jpg', false],
    ['..\\a.jpg', false],
  ])('%s → %s', (name, ok) => expect(isSafeImageName(name)).toBe(ok));
});
