import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { CaptionerError } from '@captioner/core';
import { log, readJson, tempPathFor } from '@captioner/core/node';
import * as z from 'zod';

export const KAGGLE_DATASET = 'adityajn105/flickr8k';

export interface KaggleCredentials {
  username: string;
  key: string;
  source: string;
}

/** KAGGLE_USERNAME/KAGGLE_KEY, else ~/.kaggle/kaggle.json (warns when that file is readable by others). */
export function kaggleCredentials(env: NodeJS.ProcessEnv = process.env, home = homedir()): KaggleCredentials {
  if (env.KAGGLE_USERNAME && env.KAGGLE_KEY) {
    return { username: env.KAGGLE_USERNAME, key: env.KAGGLE_KEY, source: 'KAGGLE_USERNAME/KAGGLE_KEY' };
  }
  const file = join(env.KAGGLE_CONFIG_DIR ?? join(home, '.kaggle'), 'kaggle.json');
  if (!existsSync(file)) {
    throw new CaptionerError(
      `no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY, or save your API token as ${file} ` + '(Kaggle → Settings → API → Create New Token), chmod 600',
    );
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    log('ingest', `warning: ${file} is readable by other users; run: chmod 600 ${file}`);
  }
  const parsed = readJson(file, kaggleTokenSchema);
  return { username: parsed.username, key: parsed.key, source: file };
}

/** Kaggle's API token file (~/.kaggle/kaggle.json), as Kaggle writes it. */
const kaggleTokenSchema = z.object({ username: z.string().min(1), key: z.string().min(1) });

/** Where an archive entry would land, or null if it escapes `dir` (zip-slip) or is absolute. */
export function safeEntryPath(dir: string, entryName: string): string | null {
  const name = entryName.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name) || name.includes('\0')) return null;
  const target = resolve(dir, name);
  const root = resolve(dir);
  return target === root || target.startsWith(root + sep) ? target : null;
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((ok, fail) => yauzl.open(path, { lazyEntries: true, decodeStrings: true, validateEntrySizes: true }, (err, zip) => (err ? fail(err) : ok(zip!))));
}

/**
 * Unpacks a zip into `dir` (which must not exist yet). Any entry that would land outside `dir`
 * rejects the whole archive: a dataset zip has no business writing elsewhere.
 */
export async function unzipSafely(zipPath: string, dir: string): Promise<{ files: number; bytes: number }> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(zipPath);
  } catch (err) {
    throw new CaptionerError(`${zipPath}: not a valid zip archive (${(err as Error).message})`);
  }
  mkdirSync(dir, { recursive: true });
  let files = 0;
  let bytes = 0;
  await new Promise<void>((ok, reject) => {
    // yauzl itself refuses absolute and `..` names ("invalid relative path"); our own check below
    // also covers names that resolve outside `dir` in other ways. Either way the archive is rejected.
    const fail = (err: Error) => {
      zip.close();
      reject(err instanceof CaptionerError ? err : new CaptionerError(`${zipPath}: archive rejected: ${err.message}`));
    };
    zip.on('error', fail);
    zip.on('end', ok);
    zip.on('entry', (entry: yauzl.Entry) => {
      const target = safeEntryPath(dir, entry.fileName);
      if (!target) {
        fail(new CaptionerError(`${zipPath}: entry "${entry.fileName}" would be written outside ${dir}; archive rejected`));
        return;
      }
      if (entry.fileName.endsWith('/')) {
        mkdirSync(target, { recursive: true });
        zip.readEntry();
        return;
      }
      mkdirSync(dirname(target), { recursive: true });
      zip.openReadStream(entry, (err, stream) => {
        if (err) return fail(err);
        pipeline(stream!, createWriteStream(target)).then(() => {
          files++;
          bytes += entry.uncompressedSize;
          zip.readEntry();
        }, fail);
      });
    });
    zip.readEntry();
  });
  return { files, bytes };
}

export interface DownloadOptions {
  to: string;
  dataset?: string;
  /** Kaggle API base URL (tests point it at a local server). */
  apiBase?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
  force?: boolean;
}

/** Downloads a Kaggle dataset zip and unpacks it into `to`, atomically (temp folder + rename). */
export async function downloadKaggleDataset(opts: DownloadOptions): Promise<{ dir: string; files: number; bytes: number }> {
  const env = opts.env ?? process.env;
  const dataset = opts.dataset ?? KAGGLE_DATASET;
  const apiBase = (opts.apiBase ?? env.KAGGLE_API_BASE ?? 'https://www.kaggle.com/api/v1').replace(/\/$/, '');
  const dir = resolve(opts.to);
  if (existsSync(dir) && !opts.force) throw new CaptionerError(`${dir} already exists; pass --force to replace it`);
  const creds = kaggleCredentials(env, opts.home);
  log('ingest', `downloading ${dataset} as ${creds.username} (credentials from ${creds.source})`);
  const url = `${apiBase}/datasets/download/${dataset}`;
  const auth = Buffer.from(`${creds.username}:${creds.key}`).toString('base64');
  let res: Response;
  try {
    res = await fetch(url, { headers: { Authorization: `Basic ${auth}` }, redirect: 'follow' });
  } catch (err) {
    throw new CaptionerError(`cannot reach ${apiBase}: ${(err as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) {
    throw new CaptionerError(`Kaggle refused the credentials from ${creds.source} (HTTP ${res.status}); check username and key`);
  }
  if (!res.ok || !res.body) throw new CaptionerError(`download of ${dataset} failed: HTTP ${res.status} ${res.statusText}`);
  mkdirSync(dirname(dir), { recursive: true });
  const zipPath = tempPathFor(dir) + '.zip';
  const tmpDir = tempPathFor(dir);
  try {
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(zipPath));
    const { files, bytes } = await unzipSafely(zipPath, tmpDir);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmpDir, dir);
    log('ingest', `unpacked ${files} files (${(bytes / 2 ** 20).toFixed(1)} MiB) into ${dir}`);
    return { dir, files, bytes };
  } finally {
    rmSync(zipPath, { force: true });
    rmSync(tmpDir, { recursive: true, force: true });
  }
}
