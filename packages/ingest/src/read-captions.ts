import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { CaptionerError } from '@captioner/core';

/** One caption row as read from the dataset's caption file, before any validation. */
export interface RawCaption {
  image: string;
  caption: string;
  /** 1-based line in the caption file (for messages). */
  line: number;
  /** Caption number within its image from the file (`#N`), when the format has one. */
  index?: number;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Kaggle `captions.txt`: CSV with header `image,caption`, quoted where a caption holds a comma.
 * A real CSV parser, so quoting, embedded commas and CRLF are handled; a malformed line is an error
 * naming the file and line.
 */
export function readKaggleCaptions(path: string): RawCaption[] {
  const text = stripBom(readFileSync(path, 'utf8'));
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { relax_column_count: false, skip_empty_lines: true, info: true, trim: false }) as never;
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new CaptionerError(`${path}:${e.lines ?? '?'}: malformed CSV: ${e.message}`);
  }
  if (records.length === 0) throw new CaptionerError(`${path}: empty caption file`);
  const header = records[0].record.map((h) => h.trim().toLowerCase());
  if (header.length !== 2 || header[0] !== 'image' || header[1] !== 'caption') {
    throw new CaptionerError(`${path}:1: expected header "image,caption", found "${records[0].record.join(',')}"`);
  }
  return records.slice(1).map(({ record, info }) => ({ image: record[0].trim(), caption: record[1], line: info.lines }));
}

/** Original `Flickr8k.token.txt`: `name.jpg#N<TAB>caption` per line. */
export function readTokenCaptions(path: string): RawCaption[] {
  const lines = stripBom(readFileSync(path, 'utf8')).split(/\r?\n/);
  const rows: RawCaption[] = [];
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    const m = /^([^\t#]+)#(\d+)\t(.*)$/.exec(text);
    if (!m) throw new CaptionerError(`${path}:${i + 1}: expected "name.jpg#N<TAB>caption", found "${text.slice(0, 80)}"`);
    rows.push({ image: m[1].trim(), index: Number(m[2]), caption: m[3], line: i + 1 });
  });
  return rows;
}
