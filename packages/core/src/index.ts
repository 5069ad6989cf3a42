export { CaptionerError } from './errors.js';
export { tempPathFor, writeFileAtomic, writeJsonAtomic, withAtomicPath } from './atomic.js';
export { writeArrowFile, readArrowFile, column, MAX_RECORD_BATCH_BYTES, MAX_ARROW_FILE_BYTES } from './arrow.js';
export { workspaceRoot, fromRoot, stageDir, readJson, sharedFlickr8kDir } from './paths.js';
export { log, progress, peakRssMiB, timer, type Progress, type ProgressOptions } from './log.js';
export * from './config.js';
export { seededRandom, shuffleInPlace } from './random.js';
export { withCommonOptions, stageContext, runHandler, type CommonArgs, type StageContext } from './cli.js';
export { acquireStageLock, withStageLock, stageLockPath, type StageLock } from './lock.js';
