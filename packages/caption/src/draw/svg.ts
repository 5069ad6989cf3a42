import { FONT_FAMILY, type TextStyle } from './layout.js';

/** Escapes text for SVG/HTML element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export interface TextBlockOptions extends TextStyle {
  /** Left edge (or centre with anchor "middle"). */
  x: number;
  /** Top of the first line's box. */
  y: number;
  anchor?: 'start' | 'middle';
  color?: string;
  lineHeight?: number;
}

/** Line height used for a font size (matches what textBlock advances by). */
export function lineHeightFor(fontSize: number): number {
  return Math.round(fontSize * 1.3);
}

/** Lines of text as SVG `<text>` elements, one per line (librsvg does not wrap text itself). */
export function textBlock(lines: string[], opts: TextBlockOptions): string {
  const lh = opts.lineHeight ?? lineHeightFor(opts.fontSize);
  const weight = opts.bold ? 'bold' : 'normal';
  const anchor = opts.anchor ?? 'start';
  // Baseline sits ~0.95 em below the top of a line box of 1.3 em.
  const baseline = opts.y + Math.round(opts.fontSize * 0.95);
  return lines
    .map(
      (line, i) =>
        `<text x="${opts.x}" y="${baseline + i * lh}" font-family="${FONT_FAMILY}" font-size="${opts.fontSize}" ` +
        `font-weight="${weight}" text-anchor="${anchor}" fill="${opts.color ?? '#222'}" xml:space="preserve">${escapeXml(line)}</text>`,
    )
    .join('\n');
}

/** A complete SVG document with a transparent background. */
export function svgDocument(width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n${body}\n</svg>`;
}
