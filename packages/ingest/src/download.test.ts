import { createServer, type Server } from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import yazl from 'yazl';
import { downloadKaggleDataset, kaggleCredentials, safeEntryPath } from './download.js';

/** Builds a zip in memory; `rename` patches entry names afterwards (yazl itself refuses unsafe names). */
async function makeZip(files: Record<string, string>, rename: Record<string, string> = {}): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, text] of Object.entries(files)) zip.addBuffer(Buffer.from(text), name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  let buf = Buffer.concat(chunks);
  for (const [from, to] of Object.entries(rename)) {
    if (from.length !== to.length) throw new Error('same-length rename only');
    buf = Buffer.from(buf.toString('latin1').split(from).join(to), 'latin1');
  }
  return buf;
}

/** Stands in for Kaggle's API on 127.0.0.1: checks Basic auth, redirects to a "storage" URL like the real one. */
let server: Server;
let base: string;
const zips: Record<string, Buffer> = {};
const seenAuth: string[] = [];

beforeAll(async () => {
  zips.good = await makeZip({ 'captions.txt': 'image,caption\na.jpg,A dog .\n', 'Images/a.jpg': 'jpeg bytes' });
  zips.evil = await makeZip({ 'captions.txt': 'x', 'zz/evil.txt': 'pwned' }, { 'zz/evil.txt': '../evil.txt' });
  server = createServer((req, res) => {
    const m = /^\/api\/v1\/datasets\/download\/(\w+)\/(\w+)$/.exec(req.url ?? '');
    if (m) {
      seenAuth.push(req.headers.authorization ?? '');
      if (req.headers.authorization !== `Basic ${Buffer.from('alice:secret-key').toString('base64')}`) {
        res.writeHead(401).end('unauthorized');
        return;
      }
      res.writeHead(302, { location: `/storage/${m[2]}.zip` }).end();
      return;
    }
    const s = /^\/storage\/(\w+)\.zip$/.exec(req.url ?? '');
    if (s && zips[s[1]]) {
      res.writeHead(200, { 'content-type': 'application/zip' }).end(zips[s[1]]);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

const env = { KAGGLE_USERNAME: 'alice', KAGGLE_KEY: 'secret-key' };

describe('downloadKaggleDataset (against a local stand-in for the Kaggle API)', () => {
  it('downloads with Basic auth, follows the redirect and unpacks into the target folder', async () => {
    const to = join(mkdtempSync(join(tmpdir(), 'dl-')), 'flickr8k');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const result = await downloadKaggleDataset({ to, dataset: 'owner/good', apiBase: base, env });
    const printed = stderr.mock.calls.map((c) => String(c[0])).join('');
    stderr.mockRestore();
    expect(result.files).toBe(2);
    expect(readFileSync(join(to, 'captions.txt'), 'utf8')).toContain('A dog');
    expect(readFileSync(join(to, 'Images', 'a.jpg'), 'utf8')).toBe('jpeg bytes');
    expect(printed).not.toContain('secret-key');
    expect(readdirSync(join(to, '..'))).toEqual(['flickr8k']); // no temp files left beside it
  });

  it('rejects an archive with an entry escaping the target, leaving nothing behind', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'dl-'));
    const to = join(parent, 'flickr8k');
    await expect(downloadKaggleDataset({ to, dataset: 'owner/evil', apiBase: base, env })).rejects.toThrow(
      /archive rejected.*\.\.\/evil\.txt|"\.\.\/evil\.txt" would be written outside/,
    );
    expect(existsSync(join(parent, 'evil.txt'))).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('reports refused credentials without printing the key', async () => {
    const to = join(mkdtempSync(join(tmpdir(), 'dl-')), 'x');
    const err = await downloadKaggleDataset({ to, dataset: 'owner/good', apiBase: base, env: { KAGGLE_USERNAME: 'alice', KAGGLE_KEY: 'wrong-key' } }).catch((e) => e);
    expect(String(err.message)).toMatch(/refused the credentials.*HTTP 401/);
    expect(String(err.message)).not.toContain('wrong-key');
  });

  it('refuses to overwrite an existing folder without --force', async () => {
    const to = mkdtempSync(join(tmpdir(), 'dl-'));
    await expect(downloadKaggleDataset({ to, dataset: 'owner/good', apiBase: base, env })).rejects.toThrow(/already exists/);
  });
});

describe('kaggleCredentials', () => {
  it('reads ~/.kaggle/kaggle.json and warns when others can read it', () => {
    const home = mkdtempSync(join(tmpdir(), 'home-'));
    mkdirSync(join(home, '.kaggle'));
    const file = join(home, '.kaggle', 'kaggle.json');
    writeFileSync(file, JSON.stringify({ username: 'bob', key: 'k3y' }));
    chmodSync(file, 0o644);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(kaggleCredentials({}, home)).toMatchObject({ username: 'bob', key: 'k3y' });
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/readable by other users.*chmod 600/);
    stderr.mockClear();
    chmodSync(file, 0o600);
    kaggleCredentials({}, home);
    expect(stderr).not.toHaveBeenCalled();
    stderr.mockRestore();
  });

  it('says how to get a token when there is none', () => {
    expect(() => kaggleCredentials({}, mkdtempSync(join(tmpdir(), 'home-')))).toThrow(/KAGGLE_USERNAME.*kaggle\.json/s);
  });
});

describe('safeEntryPath', () => {
  it.each([
    ['a/b.txt', true],
    ['../x', false],
    ['a/../../x', false],
    ['/etc/passwd', false],
    ['C:/x', false],
    ['..\\x', false],
  ])('%s → %s', (name, ok) => expect(safeEntryPath('/tmp/t', name) !== null).toBe(ok));
});
