import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { RecordBatchReader, type Data, type FixedSizeList, type Int32 } from 'apache-arrow';
import { CaptionerError, vocabularySchema, type Vocabulary } from '@captioner/core';
import { readJson } from '@captioner/core/node';

/** tokenize's vocab.json, the fields training relies on (the whole object is passed on to model.save). */
export type Vocab = Vocabulary;

export function readVocab(path: string): Vocab {
  return readJson(path, vocabularySchema, 'tokenize');
}

/** Token rows of one split, packed into typed arrays (the whole Flickr8k train split is ~5 MiB). */
export interface TokenRows {
  split: string;
  /** Width of the padded `tokens` rows in the file (vocab maxLength). */
  maxLength: number;
  /** Distinct images, in order of first appearance. */
  images: string[];
  /** Per row: index into `images`. */
  rowImage: Int32Array;
  captionIndex: Int32Array;
  /** Per row: non-pad tokens (<sos> … <eos>). */
  lengths: Int32Array;
  /** rows × maxLength, post-padded with 0. */
  tokens: Int32Array;
  count: number;
}

class RowsBuilder {
  images: string[] = [];
  imageIds = new Map<string, number>();
  rowImage: number[] = [];
  captionIndex: number[] = [];
  lengths: number[] = [];
  tokenChunks: Int32Array[] = [];

  constructor(
    readonly split: string,
    readonly maxLength: number,
  ) {}

  add(image: string, captionIndex: number, length: number, tokens: Int32Array): void {
    let id = this.imageIds.get(image);
    if (id === undefined) {
      id = this.images.length;
      this.images.push(image);
      this.imageIds.set(image, id);
    }
    this.rowImage.push(id);
    this.captionIndex.push(captionIndex);
    this.lengths.push(length);
    this.tokenChunks.push(tokens);
  }

  build(): TokenRows {
    const count = this.lengths.length;
    const tokens = new Int32Array(count * this.maxLength);
    this.tokenChunks.forEach((row, i) => tokens.set(row, i * this.maxLength));
    return {
      split: this.split,
      maxLength: this.maxLength,
      images: this.images,
      rowImage: Int32Array.from(this.rowImage),
      captionIndex: Int32Array.from(this.captionIndex),
      lengths: Int32Array.from(this.lengths),
      tokens,
      count,
    };
  }
}

/**
 * Streams tokenize's tokens.arrow record batch by record batch (random-access file reader, so
 * only one batch is decoded at a time) and keeps the rows of the requested splits. Every kept row
 * is validated; errors name the file, row, image and field.
 */
export async function readTokenSplits(path: string, splits: readonly string[], opts: { vocabSize?: number } = {}): Promise<Map<string, TokenRows>> {
  if (!existsSync(path)) throw new CaptionerError(`missing input ${path} (run \`captioner tokenize\` first)`);
  const handle = await open(path);
  try {
    let reader;
    try {
      reader = await RecordBatchReader.from(handle);
      await reader.open();
    } catch (err) {
      throw new CaptionerError(`${path}: not a readable Arrow IPC file: ${(err as Error).message}`);
    }
    const fields = new Map(reader.schema.fields.map((f) => [f.name, f]));
    for (const name of ['image', 'caption_index', 'split', 'tokens', 'length']) {
      if (!fields.has(name)) throw new CaptionerError(`${path}: missing column "${name}" (has ${[...fields.keys()].join(', ')})`);
    }
    const tokensType = fields.get('tokens')!.type as FixedSizeList<Int32>;
    if (String(tokensType) !== `FixedSizeList[${tokensType.listSize}]<Int32>`) {
      throw new CaptionerError(`${path}: column "tokens" must be FixedSizeList<Int32>, got ${String(tokensType)}`);
    }
    const maxLength = tokensType.listSize;
    const builders = new Map(splits.map((s) => [s, new RowsBuilder(s, maxLength)]));
    let rowBase = 0;
    for await (const batch of reader) {
      const image = batch.getChild('image')!;
      const captionIndex = batch.getChild('caption_index')!;
      const split = batch.getChild('split')!;
      const length = batch.getChild('length')!;
      const tokenData = batch.getChild('tokens')!.data as Data<FixedSizeList<Int32>>[];
      let row = 0;
      for (const data of tokenData) {
        const child = data.children[0] as Data<Int32>;
        for (let i = 0; i < data.length; i++, row++) {
          const builder = builders.get(split.get(row) as string);
          if (!builder) continue;
          const where = () => `${path}: row ${rowBase + row} (image ${image.get(row)})`;
          if (!data.getValid(i)) throw new CaptionerError(`${where()}: field "tokens" is null`);
          const start = child.offset + (data.offset + i) * maxLength;
          const values = child.values.slice(start, start + maxLength);
          const len = length.get(row) as number;
          if (!Number.isInteger(len) || len < 2 || len > maxLength) {
            throw new CaptionerError(`${where()}: field "length" = ${len}, expected 2..${maxLength} (<sos> … <eos>)`);
          }
          for (let t = 0; t < maxLength; t++) {
            const id = values[t];
            if (t < len && (id <= 0 || (opts.vocabSize !== undefined && id >= opts.vocabSize))) {
              throw new CaptionerError(`${where()}: field "tokens"[${t}] = ${id}, expected 1..${(opts.vocabSize ?? 2 ** 31) - 1}`);
            }
            if (t >= len && id !== 0) throw new CaptionerError(`${where()}: field "tokens"[${t}] = ${id} after length ${len}, expected padding 0`);
          }
          builder.add(image.get(row) as string, captionIndex.get(row) as number, len, values);
        }
      }
      rowBase += batch.numRows;
    }
    return new Map([...builders].map(([s, b]) => [s, b.build()]));
  } finally {
    await handle.close();
  }
}
