import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** The workspace root: nearest ancestor with nx.json (or CAPTIONER_ROOT). */
export function workspaceRoot(start = process.cwd()): string {
  if (process.env.CAPTIONER_ROOT) return resolve(process.env.CAPTIONER_ROOT);
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(start);
    dir = parent;
  }
}

/** Resolves a config path against the workspace root (absolute paths pass through). */
export function fromRoot(path: string, root = workspaceRoot()): string {
  return isAbsolute(path) ? path : join(root, path);
}

/** Where a stage writes: `<dataDir>/stages/<stage>/`. */
export function stageDir(stagesDir: string, stage: string): string {
  return join(stagesDir, stage);
}

/**
 * The full Flickr8k folder for real-data tests and benchmarks: FLICKR8K_DIR, else `../shared/flickr8k`
 * beside the workspace (as on the dev machines and CI). Undefined when neither exists.
 */
export function sharedFlickr8kDir(root = workspaceRoot()): string | undefined {
  const candidates = [process.env.FLICKR8K_DIR, join(root, '..', 'shared', 'flickr8k'), join(root, 'data', 'flickr8k')];
  return candidates.find((d): d is string => !!d && existsSync(join(d, 'captions.txt')));
}
