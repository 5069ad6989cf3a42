/**
 * The built demo in headless Debian Chromium (playwright-core, never a downloaded browser), served
 * from a loopback static server: it loads the shipped model with no request beyond that server,
 * captions a committed sample photo exactly as Node's loadCaptioner does with the same model
 * (greedy and beam 3), and draws a different attention overlay for different words.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { initBackend } from '@captioner/tf';
import { loadCaptioner } from '@captioner/caption';
import { buildDemo } from './build.js';
import { serveStatic, type StaticServer } from './serve.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[demo] skipping the browser demo test: ${CHROMIUM} is absent (apt-get install -y chromium)`);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts');
/** A Flickr8k test-split photo from the committed sample (a cat on a stone stair rail). */
const PHOTO = join(ROOT, 'data/sample/Images/2073105823_6dacade004.jpg');

describe.skipIf(!hasChromium)('browser demo in headless Chromium', () => {
  let out: string;
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const offServer: string[] = [];
  let node: { greedy: string; beam: string };

  beforeAll(async () => {
    out = join(mkdtempSync(join(tmpdir(), 'captioner-demo-')), 'dist');
    await buildDemo(out, { quiet: true });
    server = await serveStatic(out);
    await initBackend({ quiet: true });
    const captioner = await loadCaptioner();
    try {
      node = { greedy: (await captioner.caption(PHOTO, { beam: 1 })).caption, beam: (await captioner.caption(PHOTO, { beam: 3 })).caption };
    } finally {
      captioner.dispose();
    }
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) offServer.push(r.url());
    });
    await page.goto(server.url);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 40_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (out) rmSync(join(out, '..'), { recursive: true, force: true });
  });

  const words = (id: string) => page.$$eval(`#${id} button`, (bs) => bs.map((b) => b.textContent ?? ''));
  /** The photo canvas's pixels, summed per channel (a cheap fingerprint of what is drawn). */
  const canvasSums = () =>
    page.$eval('#photo', (c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const s = [0, 0, 0];
      for (let i = 0; i < d.length; i += 4) {
        s[0] += d[i];
        s[1] += d[i + 1];
        s[2] += d[i + 2];
      }
      return s;
    });

  it('captions an uploaded photo exactly as Node does with the same model, greedy and beam', async () => {
    const started = Date.now();
    await page.setInputFiles('#file', PHOTO);
    await page.waitForSelector('body[data-state="done"]', { timeout: 30_000 });
    const beam = (await words('beam-caption')).join(' ');
    const greedy = (await words('greedy-caption')).join(' ');
    console.log(`[demo] Node: greedy "${node.greedy}", beam "${node.beam}"; browser: greedy "${greedy}", beam "${beam}" (${Date.now() - started} ms)`);
    console.log(`[demo] ${await page.textContent('#timing')}`);
    expect(greedy).toBe(node.greedy);
    expect(beam).toBe(node.beam);
    expect(beam.length).toBeGreaterThan(0);
  });

  it("draws each word's attention over the photo, different for different words", async () => {
    const plain = await canvasSums();
    const buttons = await page.$$('#beam-caption button');
    expect(buttons.length).toBeGreaterThanOrEqual(2);
    const sums: number[][] = [];
    for (const b of buttons) {
      await b.hover();
      expect(await page.textContent('#focus-word')).toBe(await b.textContent());
      sums.push(await canvasSums());
    }
    // Every word's overlay changes the photo, and not every word looks at the same place.
    for (const s of sums) expect(s).not.toEqual(plain);
    expect(new Set(sums.map((s) => s.join(','))).size).toBeGreaterThan(1);
    mkdirSync(ARTIFACTS, { recursive: true });
    await buttons[Math.min(1, buttons.length - 1)].hover();
    await page.screenshot({ path: join(ARTIFACTS, 'demo.png') });
  });

  it('loads with no console errors and no request beyond the local server', () => {
    expect(problems).toEqual([]);
    expect(offServer).toEqual([]);
  });
});
