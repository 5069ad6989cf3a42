// Node entry: everything in the browser entry, plus model folders on disk and the shipped model.
export * from './browser.js';
export { loadCaptioner, loadTrainedModel, readModelArtifacts, PRETRAINED_MODEL_DIR, type LoadCaptionerOptions } from './node.js';
