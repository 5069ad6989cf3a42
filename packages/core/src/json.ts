/**
 * Validating parsed JSON against a zod schema, with errors that name the file, the field and the
 * problem. Browser-safe (no fs): a page that fetched a file validates it the same way Node's
 * `readJson` (node.ts) does.
 */
import type { z } from 'zod';
import { CaptionerError } from './errors.js';

/** `shards[0].file` for zod's ['shards', 0, 'file']; `(top level)` for []. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out || '(top level)';
}

/** One line per problem: `field "shards[0].file": Invalid input: expected string, received number`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], max = 8): string[] {
  const lines = issues.slice(0, max).map((i) => `field "${formatIssuePath(i.path)}": ${i.message}`);
  if (issues.length > max) lines.push(`… and ${issues.length - max} more`);
  return lines;
}

/** Validates an already-parsed value; the CaptionerError starts with `where` (a file path or URL). */
export function parseWithSchema<S extends z.ZodType>(value: unknown, schema: S, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // One line per problem, each starting with the file (as compilers print errors).
  throw new CaptionerError(
    formatIssues(result.error.issues)
      .map((line) => `${where}: ${line}`)
      .join('\n'),
  );
}

/** JSON.parse's "at position N" as "line L column C" (1-based), so the spot can be found in an editor. */
function describeSyntaxError(text: string, err: Error): string {
  const m = /at position (\d+)/.exec(err.message);
  if (!m) return err.message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `${err.message.replace(/ in JSON at position \d+/, '')} at line ${line} column ${column}`;
}

/** Parses JSON text and validates it; errors name `where`, and the line/column of a syntax error. */
export function parseJsonText<S extends z.ZodType>(text: string, schema: S, where: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CaptionerError(`${where}: not valid JSON: ${describeSyntaxError(text, err as Error)}`);
  }
  return parseWithSchema(value, schema, where);
}
