// The attention figures, colormaps and text layout moved to @captioner/caption (the inference package draws
// attention too); what viz's README documents is re-exported so its API is unchanged.
export {
  renderAttentionFigure,
  renderSideBySide,
  renderDatasetSample,
  normalizeAttention,
  upsampleAttention,
  overlayAttention,
  colormapLut,
  panelGrid,
  wrapText,
  textWidth,
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
export {
  readIngest,
  readPredictions,
  readEvalMetrics,
  readTrainMetrics,
  type PredictionRecord,
  type Predictions,
  type EvalMetrics,
  type EpochMetrics,
  type IngestData,
} from './inputs.js';
export { buildReportHtml, type ReportInput, type ReportCard, type ReportPrediction } from './report.js';
export { runViz, type VizOptions, type VizResult, type VizFigure } from './run.js';
export { stage } from './stage.js';
