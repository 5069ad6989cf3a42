// Moved to @captioner/caption (the inference package); re-exported so evaluate's API is unchanged.
export { loadCaptioner, type Captioner, type CaptionOptions, type CaptionResult, type LoadCaptionerOptions } from '@captioner/caption';
