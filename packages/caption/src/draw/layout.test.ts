import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ellipsize, panelCell, panelGrid, textWidth, wrapText } from './layout.js';
import { svgDocument, textBlock } from './svg.js';

describe('panelGrid', () => {
  it.each([
    [1, 1, 1],
    [2, 1, 2],
    [7, 3, 3],
    [13, 4, 4],
    [20, 4, 5],
  ])('%i words → %i x %i', (count, rows, cols) => {
    const grid = panelGrid(count);
    expect(grid).toEqual({ rows, cols });
  });

  it('holds every panel, has no empty row and is never taller than wide, for any length', () => {
    for (let n = 1; n <= 60; n++) {
      const { rows, cols } = panelGrid(n);
      expect(rows * cols).toBeGreaterThanOrEqual(n);
      expect((rows - 1) * cols).toBeLessThan(n);
      expect(cols).toBeGreaterThanOrEqual(rows);
      expect(cols - rows).toBeLessThanOrEqual(1);
      const cells = new Set(Array.from({ length: n }, (_, i) => JSON.stringify(panelCell(i, { rows, cols }))));
      expect(cells.size).toBe(n);
      for (let i = 0; i < n; i++) expect(panelCell(i, { rows, cols }).row).toBeLessThan(rows);
    }
  });

  it('rejects zero panels', () => {
    expect(() => panelGrid(0)).toThrow(/at least one/);
  });
});

describe('wrapText', () => {
  const style = { fontSize: 13 };
  const caption = 'A black dog and a white dog with brown spots are staring at each other in the street .';

  it('keeps every word, in order, and no line is wider than the column', () => {
    const lines = wrapText(caption, 200, style);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join(' ')).toBe(caption);
    for (const line of lines) expect(textWidth(line, style)).toBeLessThanOrEqual(200);
  });

  it('is greedy: the next line’s first word would not have fitted', () => {
    const lines = wrapText(caption, 180, style);
    for (let i = 0; i + 1 < lines.length; i++) {
      const next = lines[i + 1].split(' ')[0];
      expect(textWidth(`${lines[i]} ${next}`, style)).toBeGreaterThan(180);
    }
  });

  it('breaks a word longer than a line and collapses whitespace', () => {
    const lines = wrapText('a   supercalifragilisticexpialidocious\tword', 60, style);
    for (const line of lines) expect(textWidth(line, style)).toBeLessThanOrEqual(60);
    expect(lines.join('').replace(/ /g, '')).toBe('asupercalifragilisticexpialidociousword');
    expect(wrapText('  ', 100, style)).toEqual([]);
  });

  it('keeps a detached full stop with its word', () => {
    const text = 'A black dog leaps for a ball held by a man .';
    const width = textWidth('A black dog leaps for a ball held by a man', style) + 2;
    const lines = wrapText(text, width, style);
    expect(lines.join(' ')).toBe(text);
    expect(lines[lines.length - 1]).toBe('man .');
  });

  it('bold text is wider than regular', () => {
    expect(textWidth('climbing', { fontSize: 16, bold: true })).toBeGreaterThan(textWidth('climbing', { fontSize: 16 }));
  });

  it('ellipsize shortens only what does not fit', () => {
    expect(ellipsize('dog', 100, style)).toBe('dog');
    const short = ellipsize('a very long word sequence indeed', 60, style);
    expect(short.endsWith('…')).toBe(true);
    expect(textWidth(short, style)).toBeLessThanOrEqual(60);
  });

  // The width table must match the font librsvg actually draws with (DejaVu Sans via fontconfig).
  it('wrapped lines fit when librsvg renders them in DejaVu Sans', async () => {
    const width = 260;
    const lines = wrapText(`${caption} Two dogs of different breeds looking at each other on the road WWW mmm.`, width, style);
    for (const line of lines) {
      const svg = svgDocument(width * 2, 40, `<rect width="100%" height="100%" fill="white"/>${textBlock([line], { ...style, x: 0, y: 10 })}`);
      const { info } = await sharp(Buffer.from(svg)).trim({ threshold: 10 }).toBuffer({ resolveWithObject: true });
      const estimate = textWidth(line, style);
      expect(info.width, `"${line}" rendered ${info.width}px wide; is fonts-dejavu-core installed?`).toBeLessThanOrEqual(width);
      // Ink is a little narrower than the advance width, but not much.
      expect(info.width).toBeGreaterThan(estimate * 0.9);
    }
  });
});
