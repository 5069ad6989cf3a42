// Node entry: everything in the browser entry, plus model folders on disk, the shipped model, the
// attention figures and the `caption` command.
export * from './browser.js';
export { loadCaptioner, loadTrainedModel, readModelArtifacts, PRETRAINED_MODEL_DIR, type LoadCaptionerOptions } from './node.js';
export * from './draw/index.js';
export { captionCommand, chooseModel, expandImageArguments, attentionPngPath, IMAGE_EXTENSIONS, type ModelSource } from './command.js';
