import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { CaptionerError } from './errors.js';
import { formatIssuePath, parseJsonText, parseWithSchema } from './json.js';
import { readJson, readJsonLines } from './json-file.js';

const dir = mkdtempSync(join(tmpdir(), 'captioner-json-'));
const schema = z.object({ name: z.string(), shards: z.array(z.object({ file: z.string(), rows: z.number().int().min(0) })) });
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const errorOf = (fn: () => unknown): CaptionerError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CaptionerError);
    return err as CaptionerError;
  }
  throw new Error('expected a CaptionerError');
};

describe('readJson', () => {
  it('returns the validated value (unknown keys stripped as the schema says)', () => {
    const path = write('ok.json', JSON.stringify({ name: 'a', shards: [{ file: 'f', rows: 2 }], extra: 1 }));
    expect(readJson(path, schema)).toEqual({ name: 'a', shards: [{ file: 'f', rows: 2 }] });
  });

  it('a missing file names the path and, when given, the stage that writes it', () => {
    const path = join(dir, 'nope.json');
    expect(errorOf(() => readJson(path, schema)).message).toBe(`missing input ${path}`);
    expect(errorOf(() => readJson(path, schema, 'featurize')).message).toBe(`missing input ${path} (run \`captioner featurize\` or \`npx nx run featurize:run\` first)`);
    mkdirSync(join(dir, 'folder.json'));
    expect(errorOf(() => readJson(join(dir, 'folder.json'), schema)).message).toMatch(/folder\.json: expected a JSON file, found a folder/);
  });

  it('bad JSON names the file, and the line and column when JSON.parse gives a position', () => {
    const path = write('bad.json', '{\n  "name": "a"\n  "shards": []\n}\n');
    const message = errorOf(() => readJson(path, schema)).message;
    expect(message).toBe(`${path}: not valid JSON: Expected ',' or '}' after property value at line 3 column 3`);
    expect(errorOf(() => readJson(write('token.json', '{"name": }'), schema)).message).toMatch(/token\.json: not valid JSON: Unexpected token/);
    expect(errorOf(() => readJson(write('empty.json', ''), schema)).message).toMatch(/empty\.json: not valid JSON: Unexpected end of JSON input/);
  });

  it('a schema violation names the file, the field path and the problem', () => {
    const path = write(
      'wrong.json',
      JSON.stringify({
        name: 'a',
        shards: [
          { file: 'f', rows: 1 },
          { file: 3, rows: -1 },
        ],
      }),
    );
    const message = errorOf(() => readJson(path, schema)).message;
    // One line per problem, each naming the file.
    expect(message.split('\n')).toEqual([
      `${path}: field "shards[1].file": Invalid input: expected string, received number`,
      `${path}: field "shards[1].rows": Too small: expected number to be >=0`,
    ]);
    expect(errorOf(() => readJson(write('one.json', JSON.stringify({ shards: [] })), schema)).message).toMatch(
      /one\.json: field "name": Invalid input: expected string, received undefined$/,
    );
    expect(errorOf(() => readJson(write('array.json', '[]'), schema)).message).toMatch(/array\.json: field "\(top level\)": Invalid input: expected object, received array/);
  });
});

describe('readJsonLines', () => {
  it('validates every non-blank line and names the line of a bad one', () => {
    const row = z.object({ epoch: z.number().int() });
    expect(readJsonLines(write('ok.jsonl', '{"epoch":1}\n\n{"epoch":2}\n'), row)).toEqual([{ epoch: 1 }, { epoch: 2 }]);
    const path = write('bad.jsonl', '{"epoch":1}\n{"epoch":"two"}\n');
    expect(errorOf(() => readJsonLines(path, row)).message).toMatch(new RegExp(`${path.replace(/[.]/g, '\\.')}:2: field "epoch": Invalid input: expected number, received string`));
    expect(errorOf(() => readJsonLines(write('syntax.jsonl', '{"epoch":1}\n{"epoch" 2}\n'), row)).message).toMatch(
      /syntax\.jsonl:2: not valid JSON: Expected ':' after property name at line 1 column 10/,
    );
  });
});

describe('parseWithSchema / parseJsonText (browser-safe)', () => {
  it('use the same messages for fetched text, prefixed by the URL', () => {
    expect(parseJsonText('{"name":"x","shards":[]}', schema, 'http://h/m.json')).toEqual({ name: 'x', shards: [] });
    expect(() => parseWithSchema({ name: 1, shards: [] }, schema, 'http://h/m.json')).toThrow(/^http:\/\/h\/m\.json: field "name": Invalid input/);
  });

  it('formats zod paths as field paths', () => {
    expect(formatIssuePath(['shards', 0, 'file'])).toBe('shards[0].file');
    expect(formatIssuePath([0, 'a'])).toBe('[0].a');
    expect(formatIssuePath([])).toBe('(top level)');
  });
});
