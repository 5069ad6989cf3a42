import { existsSync } from 'node:fs';
import sharp, { type OverlayOptions } from 'sharp';
import { CaptionerError } from '@captioner/core';
import { DEFAULT_HEATMAP, checkGrid, loadPhoto, overlayAttentionRaw, type Grid, type HeatmapStyle, type Photo } from './attention.js';
import { colormapStops } from './colormap.js';
import { ellipsize, panelCell, panelGrid, textWidth, wrapText, type TextStyle } from './layout.js';
import { lineHeightFor, svgDocument, textBlock } from './svg.js';

const MARGIN = 16;
const GAP = 14;
const TITLE: TextStyle = { fontSize: 18, bold: true };
const PANEL_TITLE: TextStyle = { fontSize: 16, bold: true };
const BODY: TextStyle = { fontSize: 13 };
const COLORBAR_HEIGHT = 34;

export interface FigureOptions extends Partial<HeatmapStyle> {
  /** Longest side of each photo panel in pixels. */
  panelSize?: number;
  /** Figure title (default: the caption). */
  title?: string;
}

function heatmapStyle(opts: FigureOptions): HeatmapStyle {
  return { colormap: opts.colormap ?? DEFAULT_HEATMAP.colormap, alpha: opts.alpha ?? DEFAULT_HEATMAP.alpha };
}

async function loadImage(image: Buffer | string, maxSide: number): Promise<Photo> {
  if (typeof image === 'string' && !existsSync(image)) throw new CaptionerError(`image not found: ${image}`);
  try {
    return await loadPhoto(image, maxSide);
  } catch (err) {
    const what = typeof image === 'string' ? image : `image buffer (${image.byteLength} bytes)`;
    throw new CaptionerError(`${what}: cannot decode image: ${(err as Error).message}`);
  }
}

/** A "low ▭ high" colour bar explaining the heatmap, as SVG at (x, y), at most `width` wide. */
function colorbarSvg(x: number, y: number, width: number, style: HeatmapStyle, id: string): string {
  const stops = colormapStops(style.colormap, 11)
    .map((c, i) => `<stop offset="${i * 10}%" stop-color="${c}"/>`)
    .join('');
  const label: TextStyle = { fontSize: 12 };
  const legend = 'attention, scaled per word';
  const barX = x + textWidth('low', label) + 6;
  const barWidth = Math.max(40, Math.min(240, width - (barX - x) - textWidth('high', label) - textWidth(legend, label) - 24));
  const highX = barX + barWidth + 6;
  return [
    `<defs><linearGradient id="${id}" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient></defs>`,
    textBlock(['low'], { ...label, x, y: y + 2, color: '#555' }),
    `<rect x="${barX}" y="${y + 5}" width="${barWidth}" height="10" fill="url(#${id})" stroke="#999" stroke-width="0.5"/>`,
    textBlock(['high'], { ...label, x: highX, y: y + 2, color: '#555' }),
    textBlock([legend], { ...label, x: highX + textWidth('high', label) + 18, y: y + 2, color: '#555' }),
  ].join('\n');
}

/** A composite layer from raw RGB at the photo's size (no PNG round trip). */
function rawLayer(photo: Photo, rgb: Buffer): OverlayOptions {
  return { input: rgb, raw: { width: photo.width, height: photo.height, channels: 3 } };
}

async function compose(width: number, height: number, layers: OverlayOptions[], svgBody: string): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([...layers, { input: Buffer.from(svgDocument(width, height, svgBody)), top: 0, left: 0 }])
    .png({ compressionLevel: 7 })
    .toBuffer();
}

function checkSteps(words: string[], attention: ArrayLike<number>[], grid: Grid): void {
  if (words.length === 0) throw new CaptionerError('attention figure: no words to show');
  if (attention.length !== words.length) {
    throw new CaptionerError(`attention figure: ${words.length} words but ${attention.length} attention maps (need one per word)`);
  }
  attention.forEach((a, i) => {
    try {
      checkGrid(a, grid, `attention map ${i} ("${words[i]}")`);
    } catch (err) {
      throw new CaptionerError((err as Error).message);
    }
  });
}

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface AttentionFigureLayout {
  width: number;
  height: number;
  titleLines: string[];
  /** Per word: where its title and its photo go. */
  panels: { title: Rect; photo: Rect }[];
  colorbarTop: number;
}

/** Where everything goes in the per-word figure (pure geometry, so it is testable without pixels). */
export function attentionFigureLayout(count: number, photoWidth: number, photoHeight: number, title: string): AttentionFigureLayout {
  const grid = panelGrid(count);
  const titleHeight = lineHeightFor(PANEL_TITLE.fontSize) + 4;
  const cellHeight = titleHeight + photoHeight;
  const gridWidth = grid.cols * photoWidth + (grid.cols - 1) * GAP;
  // At least wide enough for the colour bar legend.
  const width = Math.max(MARGIN * 2 + gridWidth, 420);
  const titleLines = wrapText(title, width - 2 * MARGIN, TITLE);
  const headerHeight = MARGIN + titleLines.length * lineHeightFor(TITLE.fontSize) + 8;
  const gridHeight = grid.rows * cellHeight + (grid.rows - 1) * GAP;
  const gridLeft = Math.round((width - gridWidth) / 2);
  const panels = Array.from({ length: count }, (_, i) => {
    const { row, col } = panelCell(i, grid);
    const left = gridLeft + col * (photoWidth + GAP);
    const top = headerHeight + row * (cellHeight + GAP);
    return { title: { left, top, width: photoWidth, height: titleHeight }, photo: { left, top: top + titleHeight, width: photoWidth, height: photoHeight } };
  });
  const colorbarTop = headerHeight + gridHeight + 10;
  return { width, height: colorbarTop + COLORBAR_HEIGHT, titleLines, panels, colorbarTop };
}

/**
 * One panel per generated word: the photo with that step's attention upsampled smoothly over it and
 * the word as the panel title; the panels form a near-square grid whatever the caption length.
 * `attention[i]` is step i's weights over the grid (row-major, grid[0] x grid[1]).
 */
export async function renderAttentionFigure(image: Buffer | string, words: string[], attention: ArrayLike<number>[], grid: Grid, options: FigureOptions = {}): Promise<Buffer> {
  checkSteps(words, attention, grid);
  const style = heatmapStyle(options);
  const photo = await loadImage(image, options.panelSize ?? 224);
  const layout = attentionFigureLayout(words.length, photo.width, photo.height, options.title ?? words.join(' '));
  const layers: OverlayOptions[] = [];
  const svg: string[] = [textBlock(layout.titleLines, { ...TITLE, x: MARGIN, y: MARGIN })];
  for (const [i, panel] of layout.panels.entries()) {
    layers.push({ ...rawLayer(photo, await overlayAttentionRaw(photo, attention[i], grid, style)), left: panel.photo.left, top: panel.photo.top });
    svg.push(
      textBlock([ellipsize(words[i], panel.title.width, PANEL_TITLE)], { ...PANEL_TITLE, x: panel.title.left + panel.title.width / 2, y: panel.title.top, anchor: 'middle' }),
    );
  }
  svg.push(colorbarSvg(MARGIN, layout.colorbarTop, layout.width - 2 * MARGIN, style, 'cbar'));
  return compose(layout.width, layout.height, layers, svg.join('\n'));
}

export interface SideBySideInput {
  image: Buffer | string;
  /** One reference caption shown under the photo. */
  reference: string;
  /** The predicted caption's words and one attention map per word. */
  words: string[];
  attention: ArrayLike<number>[];
  grid: Grid;
}

/**
 * Three panels: the photo with a reference caption | attention of the first predicted word | attention
 * of the last predicted word, under the predicted caption as the title.
 */
export async function renderSideBySide(input: SideBySideInput, options: FigureOptions = {}): Promise<Buffer> {
  checkSteps(input.words, input.attention, input.grid);
  const style = heatmapStyle(options);
  const photo = await loadImage(input.image, options.panelSize ?? 256);
  const cellWidth = photo.width;
  const width = MARGIN * 2 + 3 * cellWidth + 2 * GAP;
  const titleLines = wrapText(options.title ?? `Predicted: ${input.words.join(' ')}`, width - 2 * MARGIN, TITLE);
  const headerHeight = MARGIN + titleLines.length * lineHeightFor(TITLE.fontSize) + 8;
  const last = input.words.length - 1;
  const captions = [
    wrapText(`Reference: ${input.reference}`, cellWidth, BODY),
    wrapText(`First word: “${input.words[0]}”`, cellWidth, BODY),
    wrapText(`Last word: “${input.words[last]}”`, cellWidth, BODY),
  ];
  const captionHeight = Math.max(...captions.map((c) => c.length)) * lineHeightFor(BODY.fontSize);
  const bodyTop = headerHeight;
  const height = bodyTop + photo.height + 6 + captionHeight + 10 + COLORBAR_HEIGHT;
  const panels = [photo.rgb, await overlayAttentionRaw(photo, input.attention[0], input.grid, style), await overlayAttentionRaw(photo, input.attention[last], input.grid, style)];
  const layers: OverlayOptions[] = panels.map((rgb, i) => ({ ...rawLayer(photo, rgb), left: MARGIN + i * (cellWidth + GAP), top: bodyTop }));
  const svg = [textBlock(titleLines, { ...TITLE, x: MARGIN, y: MARGIN })];
  captions.forEach((lines, i) => svg.push(textBlock(lines, { ...BODY, x: MARGIN + i * (cellWidth + GAP), y: bodyTop + photo.height + 6 })));
  svg.push(colorbarSvg(MARGIN + cellWidth + GAP, bodyTop + photo.height + 6 + captionHeight + 10, 2 * cellWidth + GAP, style, 'cbar'));
  return compose(width, height, layers, svg.join('\n'));
}

export interface SampleImage {
  /** Path to the image file. */
  path: string;
  /** File name shown under the photo. */
  name: string;
  captions: string[];
}

export interface DatasetSampleOptions {
  title?: string;
  cols?: number;
  cellWidth?: number;
  photoHeight?: number;
}

/** A grid of dataset photos (3 per row) with their numbered captions wrapped under each. */
export async function renderDatasetSample(samples: SampleImage[], options: DatasetSampleOptions = {}): Promise<Buffer> {
  if (samples.length === 0) throw new CaptionerError('dataset sample: no images to show');
  const cols = Math.min(options.cols ?? 3, samples.length);
  const cellWidth = options.cellWidth ?? 300;
  const photoHeight = options.photoHeight ?? 225;
  const nameStyle: TextStyle = { fontSize: 12 };
  const width = MARGIN * 2 + cols * cellWidth + (cols - 1) * GAP * 2;
  const titleLines = options.title ? wrapText(options.title, width - 2 * MARGIN, TITLE) : [];
  const headerHeight = MARGIN + titleLines.length * lineHeightFor(TITLE.fontSize) + (titleLines.length ? 10 : 0);

  const photos = await Promise.all(samples.map((s) => loadImage(s.path, Math.max(cellWidth, photoHeight))));
  const captionBlocks = samples.map((s) => s.captions.map((c, i) => wrapText(`${i + 1}. ${c}`, cellWidth, BODY)));
  const textHeight = (k: number) => lineHeightFor(nameStyle.fontSize) + 4 + captionBlocks[k].reduce((sum, lines) => sum + lines.length * lineHeightFor(BODY.fontSize) + 3, 0);
  const rows = Math.ceil(samples.length / cols);
  const rowHeights = Array.from({ length: rows }, (_, r) => photoHeight + 8 + Math.max(...samples.slice(r * cols, r * cols + cols).map((_, j) => textHeight(r * cols + j))));
  const height = headerHeight + rowHeights.reduce((a, b) => a + b, 0) + (rows - 1) * GAP * 2 + MARGIN;

  const layers: OverlayOptions[] = [];
  const svg = [textBlock(titleLines, { ...TITLE, x: MARGIN, y: MARGIN })];
  let top = headerHeight;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols && r * cols + c < samples.length; c++) {
      const k = r * cols + c;
      const left = MARGIN + c * (cellWidth + GAP * 2);
      // Fit inside the cell's photo box, centred, whatever the aspect ratio.
      const fitted = await sharp(photos[k].rgb, { raw: { width: photos[k].width, height: photos[k].height, channels: 3 } })
        .resize({ width: cellWidth, height: photoHeight, fit: 'inside' })
        .png()
        .toBuffer({ resolveWithObject: true });
      layers.push({ input: fitted.data, left: left + Math.floor((cellWidth - fitted.info.width) / 2), top: top + Math.floor((photoHeight - fitted.info.height) / 2) });
      let y = top + photoHeight + 8;
      svg.push(textBlock([ellipsize(samples[k].name, cellWidth, nameStyle)], { ...nameStyle, x: left, y, color: '#777' }));
      y += lineHeightFor(nameStyle.fontSize) + 4;
      for (const lines of captionBlocks[k]) {
        svg.push(textBlock(lines, { ...BODY, x: left, y }));
        y += lines.length * lineHeightFor(BODY.fontSize) + 3;
      }
    }
    top += rowHeights[r] + GAP * 2;
  }
  return compose(width, height, layers, svg.join('\n'));
}
