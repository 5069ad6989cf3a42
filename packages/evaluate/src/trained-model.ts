// Moved to @captioner/caption (the inference package); re-exported so evaluate's API is unchanged.
export { loadTrainedModel, checkFeatureCompatibility, checkpointInfo, START_TOKEN, END_TOKEN, type TrainedModel } from '@captioner/caption';
