export { renderAttentionFigure, renderSideBySide, renderDatasetSample, type FigureOptions, type SideBySideInput, type SampleImage, type DatasetSampleOptions } from './figures.js';
export { normalizeAttention, upsampleAttention, attentionHeatmap, overlayAttention, loadPhoto, type Grid, type HeatmapStyle, type Photo } from './attention.js';
export { colormapLut, colorize, colormapStops, COLORMAPS, type ColormapName, type ColormapLut } from './colormap.js';
export { panelGrid, panelCell, wrapText, textWidth, ellipsize, type PanelGrid, type TextStyle } from './layout.js';
export { trainingCurvesSpec, renderVegaLiteSvg, svgToPng } from './charts.js';
export { readIngest, readPredictions, readEvalMetrics, readTrainMetrics, resolveGrid, type PredictionRecord, type Predictions, type EvalMetrics, type EpochMetrics, type IngestData } from './inputs.js';
export { buildReportHtml, type ReportInput, type ReportCard, type ReportPrediction } from './report.js';
export { runViz, chooseMethod, type VizOptions, type VizResult, type VizFigure } from './run.js';
export { vizCommand } from './command.js';
