#!/usr/bin/env node
// In the workspace, runs the TypeScript source through tsx (what Nx targets and tests use, so a
// stale build can never run); an installed package, which ships no src/, runs the compiled dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, '..', 'src', 'main.ts');
if (existsSync(source)) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', source, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (r.signal) process.kill(process.pid, r.signal);
  process.exit(r.status ?? 1);
} else {
  await import(pathToFileURL(join(here, '..', 'dist', 'main.js')).href);
}
