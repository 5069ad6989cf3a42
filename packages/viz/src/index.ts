// The attention figures, colormaps and text layout moved to @captioner/caption (the inference package draws
// attention too); re-exported so viz's API is unchanged.
export {
  renderAttentionFigure,
  renderSideBySide,
  renderDatasetSample,
  normalizeAttention,
  upsampleAttention,
  attentionHeatmap,
  overlayAttention,
  loadPhoto,
  colormapLut,
  colorize,
  colormapStops,
  COLORMAPS,
  panelGrid,
  panelCell,
  wrapText,
  textWidth,
  ellipsize,
  type FigureOptions,
  type SideBySideInput,
  type SampleImage,
  type DatasetSampleOptions,
  type Grid,
  type HeatmapStyle,
  type Photo,
  type ColormapName,
  type ColormapLut,
  type PanelGrid,
  type TextStyle,
} from '@captioner/caption';
export { trainingCurvesSpec, renderVegaLiteSvg, svgToPng } from './charts.js';
export { readIngest, readPredictions, readEvalMetrics, readTrainMetrics, resolveGrid, type PredictionRecord, type Predictions, type EvalMetrics, type EpochMetrics, type IngestData } from './inputs.js';
export { buildReportHtml, type ReportInput, type ReportCard, type ReportPrediction } from './report.js';
export { runViz, chooseMethod, type VizOptions, type VizResult, type VizFigure } from './run.js';
export { vizCommand } from './command.js';
