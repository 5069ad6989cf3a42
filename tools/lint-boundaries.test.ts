import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The module-boundary rule in eslint.config.mjs, on snippets placed (virtually) in real projects:
 * it must reject a stage importing a later stage and a library importing a stage, and accept the
 * imports the architecture allows. The rule reads Nx's cached project graph and only warns (and
 * passes) without one, so the graph is computed first.
 */
const repo = resolve(__dirname, '..');
const RULE = '@nx/enforce-module-boundaries';
let eslint: ESLint;

beforeAll(() => {
  execFileSync(join(repo, 'node_modules', '.bin', 'nx'), ['show', 'projects'], {
    cwd: repo,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    stdio: 'ignore',
  });
  eslint = new ESLint({ cwd: repo });
});

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repo, file) });
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

describe('module boundaries (eslint.config.mjs)', () => {
  it('rejects a stage importing a later stage', async () => {
    const errors = await boundaryErrors('packages/tokenize/src/probe.ts', "export { trainStage } from '@captioner/train';\n");
    expect(errors).toEqual([expect.stringMatching(/tagged with "layer:3" can only depend on libs tagged with "scope:lib", "scope:inference", "layer:1", "layer:2"$/)]);
  });

  it('rejects a library importing a stage or the inference package', async () => {
    for (const target of ['@captioner/ingest', '@captioner/caption']) {
      expect(await boundaryErrors('packages/metrics/src/probe.ts', `export * from '${target}';\n`)).toEqual([
        expect.stringMatching(/tagged with "scope:lib" can only depend on libs tagged with "scope:lib"$/),
      ]);
    }
  });

  it('accepts libraries and earlier stages', async () => {
    const code = "export * from '@captioner/core';\nexport * from '@captioner/caption';\nexport * from '@captioner/train';\n";
    expect(await boundaryErrors('packages/evaluate/src/probe.ts', code)).toEqual([]);
  });
});
