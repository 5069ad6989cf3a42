#!/usr/bin/env node
// In the workspace, runs the TypeScript source through tsx (what Nx targets and tests use, so a
// stale build can never run); an installed package, which ships no src/, runs the compiled dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, '..', 'src', 'main.ts');
if (existsSync(source)) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', source, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Stay alive until the stage has finished its own shutdown (train writes a checkpoint on SIGINT):
  // pass signals on instead of dying with them.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  await import(pathToFileURL(join(here, '..', 'dist', 'main.js')).href);
}
