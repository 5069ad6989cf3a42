import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { vizSchema } from '@captioner/core';
import { runViz } from './run.js';
import { makeFixture, type Fixture } from '../test/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[viz] skipping the HTML report browser test: ${CHROMIUM} is absent (apt-get install -y chromium)`);

/** The headless Debian chromium, never a downloaded browser; no network-facing background services. */
async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

describe.skipIf(!hasChromium)('HTML report in headless Chromium', () => {
  let fixture: Fixture;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    fixture = await makeFixture({ images: 5 });
    const result = await runViz({
      root: fixture.root,
      ingestDir: fixture.dir('ingest'),
      featurizeDir: fixture.dir('featurize'),
      trainDir: fixture.dir('train'),
      evaluateDir: fixture.dir('evaluate'),
      outDir: fixture.dir('viz'),
      config: vizSchema.parse({ examples: 1 }),
    });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(result.report).href, { waitUntil: 'load' });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('loads from disk with no console errors and no requests beyond the file itself', () => {
    expect(problems).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file://') && !u.startsWith('data:'))).toEqual([]);
  });

  it('has alt text on every image and a focusable button per word', async () => {
    expect(await page.locator('img:not([alt])').count()).toBe(0);
    expect(await page.locator('img.photo[alt=""]').count()).toBe(0);
    const words = [...fixture.words.values()].reduce((n, w) => n + w.length, 0) * 2; // greedy + beam
    expect(await page.locator('button.word').count()).toBe(words);
  });

  /** Where the overlay is brightest, as a fraction of its width and height (drawn in the page). */
  const overlayPeak = (card: number) =>
    page
      .locator('.card')
      .nth(card)
      .locator('.overlay')
      .evaluate(async (img: HTMLImageElement) => {
        await img.decode();
        const c = document.createElement('canvas');
        c.width = img.naturalWidth;
        c.height = img.naturalHeight;
        const ctx = c.getContext('2d')!;
        ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let best = -1;
        let at = 0;
        for (let i = 0; i < d.length; i += 4) {
          const lum = d[i] + d[i + 1];
          if (lum > best) [best, at] = [lum, i / 4];
        }
        return { x: ((at % c.width) + 0.5) / c.width, y: (Math.floor(at / c.width) + 0.5) / c.height };
      });

  it('focusing a word shows its attention; arrow keys move to the next word and its heatmap', async () => {
    const card = page.locator('.card').first();
    const overlay = card.locator('.overlay');
    expect(await overlay.isHidden()).toBe(true);
    const words = card.locator('.prediction[data-method="beam"] .word');
    expect(await words.count()).toBeGreaterThan(3);
    await words.nth(2).focus();
    const first = await overlay.getAttribute('src');
    expect(first).toMatch(/^data:image\/png;base64,/);
    expect(await overlay.isVisible()).toBe(true);
    expect(await overlay.getAttribute('data-word')).toBe(await words.nth(2).textContent());
    expect(await words.nth(2).getAttribute('aria-pressed')).toBe('true');
    // Fixture word k attends to grid cell (k mod 8, 2k mod 8): word 2 → row 2, col 4.
    const peak2 = await overlayPeak(0);
    expect(Math.floor(peak2.y * 8)).toBe(2);
    expect(Math.floor(peak2.x * 8)).toBe(4);

    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(await words.nth(3).textContent());
    expect(await overlay.getAttribute('src')).not.toBe(first);
    expect(await words.nth(2).getAttribute('aria-pressed')).toBe('false');
    const peak3 = await overlayPeak(0);
    expect([Math.floor(peak3.y * 8), Math.floor(peak3.x * 8)]).toEqual([3, 6]);

    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(await words.nth(4).textContent());
    expect(await card.locator('.status').textContent()).toContain(`“${await words.nth(4).textContent()}”`);

    await page.keyboard.press('Escape');
    expect(await overlay.isHidden()).toBe(true);
  });

  it('hovering a word shows its attention over that card’s photo', async () => {
    const card = page.locator('.card').nth(1);
    const overlay = card.locator('.overlay');
    const word = card.locator('.word').first();
    await word.hover();
    expect(await overlay.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(await overlay.getAttribute('data-word')).toBe(await word.textContent());
    // Word 0 attends to the top-left cell.
    const peak = await overlayPeak(1);
    expect([Math.floor(peak.y * 8), Math.floor(peak.x * 8)]).toEqual([0, 0]);
    // The overlay sits exactly over the photo.
    const [photoBox, overlayBox] = [await card.locator('.photo').boundingBox(), await overlay.boundingBox()];
    expect(overlayBox).toEqual(photoBox);
  });

  it('saves a screenshot for people to look at', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator('.card').first().locator('.word').nth(1).focus();
    const path = join(ARTIFACTS, 'viz-report.png');
    await page.screenshot({ path, fullPage: true });
    expect(existsSync(path)).toBe(true);
    expect(problems).toEqual([]);
  });
});
