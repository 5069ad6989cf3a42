import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, readFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The Nx task graph on a temporary copy of this workspace: a second run is all cache hits, and an
 * edit to one stage's source re-runs that stage and its downstream stages only.
 */
const repo = resolve(__dirname, '..');
let work: string;

/** Copies the tracked + untracked (not ignored) files; links node_modules so workspace packages resolve to the copy. */
function copyWorkspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nx-cache-'));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(repo, f))) continue;
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(repo, f), join(dir, f));
  }
  mkdirSync(join(dir, 'node_modules', '@captioner'), { recursive: true });
  for (const entry of readdirSync(join(repo, 'node_modules'))) {
    if (entry !== '@captioner') symlinkSync(join(repo, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
  for (const pkg of readdirSync(join(repo, 'node_modules', '@captioner'))) {
    const target = pkg === 'cli' || existsSync(join(dir, 'packages', pkg)) ? join(dir, 'packages', pkg) : join(dir, pkg);
    symlinkSync(target, join(dir, 'node_modules', '@captioner', pkg));
  }
  for (const pkg of readdirSync(join(repo, 'packages'))) {
    const nested = join(repo, 'packages', pkg, 'node_modules');
    if (existsSync(nested)) symlinkSync(nested, join(dir, 'packages', pkg, 'node_modules'));
  }
  // A smaller, faster pipeline than the sample: 24 images, a tiny model, one epoch.
  const captions = readFileSync(join(dir, 'data/sample/captions.txt'), 'utf8').split('\n');
  const keep = new Set(readdirSync(join(dir, 'data/sample/Images')).sort().slice(0, 24));
  writeFileSync(join(dir, 'data/sample/captions.txt'), [captions[0], ...captions.slice(1).filter((l) => keep.has(l.split(',')[0]))].join('\n'));
  for (const f of readdirSync(join(dir, 'data/sample')).filter((f) => f.startsWith('Flickr_8k.'))) rmSync(join(dir, 'data/sample', f));
  writeFileSync(
    join(dir, 'pipelines/configs/sample.json'),
    JSON.stringify({
      dataset: { dir: 'data/sample' },
      model: { embeddingDim: 16, units: 16, attentionUnits: 16 },
      train: { epochs: 1, batchSize: 32 },
      evaluate: { limit: 3, beam: 2 },
      viz: { reportImages: 3 },
    }),
  );
  return dir;
}

/** Runs an Nx target; returns, per task, whether it came from the cache. */
function nx(target: string): Record<string, 'cache' | 'ran'> {
  const r = spawnSync(join(work, 'node_modules', '.bin', 'nx'), ['run', target, '--output-style=static', '--skip-nx-cache=false'], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true', FORCE_COLOR: '0' },
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`nx run ${target} failed:\n${r.stdout}\n${r.stderr}`);
  const tasks: Record<string, 'cache' | 'ran'> = {};
  for (const m of r.stdout.matchAll(/^> nx run ([\w-]+):[\w-]+(?::[\w-]+)?(.*)$/gm)) {
    tasks[m[1]] = /cache/.test(m[2]) ? 'cache' : 'ran';
  }
  return tasks;
}

describe('Nx stage caching (on a temporary copy of the workspace)', () => {
  beforeAll(() => {
    work = copyWorkspace();
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const ALL = ['ingest', 'text-clean', 'tokenize', 'featurize', 'train', 'evaluate', 'viz', 'pipelines'];
  const expectTasks = (tasks: Record<string, string>, ran: string[]) => expect(tasks).toEqual(Object.fromEntries(ALL.map((t) => [t, ran.includes(t) ? 'ran' : 'cache'])));

  it('first run executes every stage; the second is all cache hits', () => {
    expectTasks(nx('pipelines:full'), ALL);
    expectTasks(nx('pipelines:full'), []);
  });

  it("editing text-clean's source re-runs text-clean and what is downstream of it, never ingest or featurize", () => {
    appendFileSync(join(work, 'packages/text-clean/src/clean.ts'), '\n// an edit\n');
    expectTasks(nx('pipelines:full'), ['text-clean', 'tokenize', 'train', 'evaluate', 'viz', 'pipelines']);
  });

  it("editing a config's train section re-runs train, evaluate and viz only", () => {
    const cfg = join(work, 'pipelines/configs/sample.json');
    const config = JSON.parse(readFileSync(cfg, 'utf8'));
    writeFileSync(cfg, JSON.stringify({ ...config, train: { ...config.train, learningRate: 0.002 } }));
    expectTasks(nx('pipelines:full'), ['train', 'evaluate', 'viz', 'pipelines']);
  });

  it('nx run featurize:run after those changes is a cache hit', () => {
    expect(nx('featurize:run')).toEqual({ ingest: 'cache', featurize: 'cache' });
  });
});
