import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS, commandModules, commandName, selectedCommand } from './commands.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const main = join(root, 'packages/cli/src/main.ts');

/** Runs the CLI source with a module-resolution hook that records every URL resolved. */
function runRecordingModules(args: string[]): { status: number | null; stdout: string; modules: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'cli-modules-'));
  try {
    const log = join(dir, 'modules.txt');
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}`,
    );
    const register = join(dir, 'register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify('file://' + hooks)});\n`);
    writeFileSync(log, '');
    // tsx first, the recorder after it: hooks registered later run first, so it sees tsx's answers.
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', register, '--conditions=source', main, ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('command table', () => {
  it("matches each stage package's own command string and description", async () => {
    // Stage entries are built from the package's `stage` (src/stage.ts); compare with it directly too.
    for (const pkg of ['ingest', 'text-clean', 'tokenize', 'featurize', 'train', 'evaluate', 'viz'] as const) {
      const { stage } = await import(`@captioner/${pkg}`);
      const entry = COMMANDS.find((e) => e.command === stage.name);
      expect(entry?.describe, pkg).toBe(stage.describe);
    }
    for (const entry of COMMANDS) {
      const real = await entry.load();
      expect({ command: real.command, describe: real.describe }).toEqual({ command: entry.command, describe: entry.describe });
    }
  }, 120_000);

  it('selects the first argument naming a command, wherever the options are', () => {
    expect(selectedCommand(['--config', 'pipelines/configs/sample.json', 'featurize'])?.command).toBe('featurize');
    expect(selectedCommand(['caption', 'train', '--beam', '1'])?.command).toBe('caption <images..>');
    expect(selectedCommand(['ingest', 'download'])?.command).toBe('ingest');
    expect(selectedCommand(['--help'])).toBeUndefined();
    expect(selectedCommand(['nope'])).toBeUndefined();
  });

  it('loads only the selected command; the others are placeholders', async () => {
    const modules = await commandModules(['tokenize', '--help']);
    const tokenize = modules.find((m) => m.command === 'tokenize')!;
    const { stage } = await import('@captioner/tokenize');
    expect(tokenize).toMatchObject({ command: stage.name, describe: stage.describe });
    expect(typeof tokenize.builder).toBe('function');
    for (const m of modules.filter((m) => m.command !== 'tokenize')) expect(m.builder).toEqual({});
  });
});

describe('captioner --help', () => {
  it('lists every command without importing any stage, the model or TF.js', () => {
    const r = runRecordingModules(['--help']);
    expect(r.status).toBe(0);
    for (const entry of COMMANDS) expect(r.stdout).toContain(`captioner ${entry.command}`);
    // The recorder works: yargs and the CLI's own table were resolved.
    expect(r.modules.some((u) => u.includes('/yargs/'))).toBe(true);
    expect(r.modules.some((u) => u.endsWith('packages/cli/src/commands.ts'))).toBe(true);
    const heavy = r.modules.filter((u) => /\/packages\/(model|tf|caption|featurize|train|evaluate|viz|ingest|tokenize|text-clean)\/|@tensorflow|onnxruntime|sharp/.test(u));
    expect(heavy).toEqual([]);
  }, 60_000);

  it('`tokenize --help` loads that stage but not the model or TF.js', () => {
    const r = runRecordingModules(['tokenize', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--config');
    expect(r.modules.some((u) => u.includes('/packages/tokenize/src/'))).toBe(true);
    expect(r.modules.filter((u) => /\/packages\/(model|tf|featurize|train)\/|@tensorflow/.test(u))).toEqual([]);
    expect(commandName(COMMANDS.find((e) => e.command.startsWith('tokenize'))!)).toBe('tokenize');
  }, 60_000);
});
