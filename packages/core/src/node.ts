// Node-only plumbing: files, Arrow IO, CLI, locks, logging. The browser-safe part (errors, config
// schema, pure helpers) is `@captioner/core`.
export { tempPathFor, writeFileAtomic, writeJsonAtomic, withAtomicPath } from './atomic.js';
export { writeArrowFile, readArrowFile, column, MAX_RECORD_BATCH_BYTES, MAX_ARROW_FILE_BYTES } from './arrow.js';
export { workspaceRoot, fromRoot, stageDir, sharedFlickr8kDir } from './paths.js';
export { readJson, readJsonLines } from './json-file.js';
export { loadConfig } from './config-file.js';
export { log, progress, peakRssMiB, timer, type Progress, type ProgressOptions } from './log.js';
export { withCommonOptions, stageContext, runHandler, type CommonArgs, type StageContext } from './cli.js';
export { acquireStageLock, withStageLock, stageLockPath, type StageLock } from './lock.js';
export { stageCommand } from './stage-command.js';
