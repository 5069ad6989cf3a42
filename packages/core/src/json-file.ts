/** Reading JSON and JSON-lines files that another stage wrote, validated by the writer's zod schema. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';
import { CaptionerError } from './errors.js';
import { parseJsonText } from './json.js';

function readText(path: string, producedBy?: string): string {
  if (!existsSync(path)) {
    const hint = producedBy ? ` (run \`captioner ${producedBy}\` or \`npx nx run ${producedBy}:run\` first)` : '';
    throw new CaptionerError(`missing input ${path}${hint}`);
  }
  if (statSync(path).isDirectory()) throw new CaptionerError(`${path}: expected a JSON file, found a folder`);
  return readFileSync(path, 'utf8');
}

/**
 * Reads `path`, parses it and validates it with `schema` (the contract the writing package exports).
 * Every failure is a CaptionerError naming the file: missing ("missing input <path>", and which
 * stage writes it when `producedBy` is given), not valid JSON (with line and column), or each field that breaks the schema.
 */
export function readJson<S extends z.ZodType>(path: string, schema: S, producedBy?: string): z.output<S> {
  return parseJsonText(readText(path, producedBy), schema, path);
}

/** A JSON-lines file (one value per non-blank line), each line validated; errors name `path:line`. */
export function readJsonLines<S extends z.ZodType>(path: string, schema: S, producedBy?: string): z.output<S>[] {
  const out: z.output<S>[] = [];
  readText(path, producedBy)
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() !== '') out.push(parseJsonText(line, schema, `${path}:${i + 1}`));
    });
  return out;
}
