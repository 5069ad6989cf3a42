/**
 * The browser-safe entries stay browser-safe: each is bundled by esbuild for the browser (workspace
 * packages through their `source` condition) and no module reachable from it may import Node
 * built-ins or the Node-only dependencies (Arrow file IO, yargs, cli-progress, sharp,
 * onnxruntime-node). A failure names the importing file, so a new `node:` import in a schema module
 * or in `@captioner/core`'s main entry is caught here rather than in the demo build.
 */
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The entries pages (the demo, caption's browser entry) and tolerant readers may bundle. */
const ENTRIES = [
  '@captioner/core',
  '@captioner/ingest/contract',
  '@captioner/text-clean/contract',
  '@captioner/tokenize/contract',
  '@captioner/featurize/contract',
  '@captioner/featurize/browser',
  '@captioner/model/contract',
  '@captioner/train/contract',
  '@captioner/evaluate/contract',
];

const NODE_ONLY_PACKAGES = ['apache-arrow', 'yargs', 'cli-progress', 'sharp', 'onnxruntime-node', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@captioner/core/node'];
const builtins = new Set(builtinModules);

function isNodeOnly(path: string): boolean {
  if (path.startsWith('node:') || builtins.has(path.split('/')[0])) return true;
  return NODE_ONLY_PACKAGES.some((p) => path === p || path.startsWith(`${p}/`));
}

/** Bundles `entry` for the browser; returns the Node-only imports found, as "importer → import". */
async function nodeImports(entry: string): Promise<string[]> {
  const found: string[] = [];
  await esbuild.build({
    stdin: { contents: `export * from ${JSON.stringify(entry)};`, resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    conditions: ['source'],
    logLevel: 'silent',
    plugins: [
      {
        name: 'node-only',
        setup(build) {
          build.onResolve({ filter: /.*/ }, (args) => {
            if (!isNodeOnly(args.path)) return undefined;
            found.push(`${relative(root, args.importer) || entry} → ${args.path}`);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return found;
}

describe('browser-safe entries', () => {
  it.each(ENTRIES)('%s imports nothing Node-only', async (entry) => {
    expect(await nodeImports(entry)).toEqual([]);
  });

  it('the check sees Node-only imports deep in the graph (core/node is not browser-safe)', async () => {
    const found = await nodeImports('./packages/core/src/node.ts');
    expect(found.some((f) => f.includes('→ node:fs'))).toBe(true);
    expect(found.some((f) => f.includes('→ apache-arrow'))).toBe(true);
  });
});
