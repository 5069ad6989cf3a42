// Attention figures (Node: sharp + SVG text); the browser-safe half is heatmap.ts.
export {
  renderAttentionFigure,
  renderSideBySide,
  renderDatasetSample,
  attentionFigureLayout,
  type FigureOptions,
  type SideBySideInput,
  type SampleImage,
  type DatasetSampleOptions,
} from './figures.js';
export {
  normalizeAttention,
  upsampleAttention,
  attentionHeatmap,
  overlayAttention,
  overlayAttentionRaw,
  loadPhoto,
  checkGrid,
  DEFAULT_HEATMAP,
  type Grid,
  type HeatmapStyle,
  type Photo,
} from './attention.js';
export { colormapLut, colorize, colormapStops, COLORMAPS, type ColormapName, type ColormapLut } from './colormap.js';
export { panelGrid, panelCell, wrapText, textWidth, ellipsize, FONT_FAMILY, type PanelGrid, type TextStyle } from './layout.js';
export { svgDocument, textBlock, escapeXml, lineHeightFor } from './svg.js';
