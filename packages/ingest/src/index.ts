export { readReferences, type ReferenceSplit } from './references.js';
export { ingest, runIngest, captionsTable, splitByImage, isSafeImageName } from './ingest.js';
export type { CaptionRow, IngestReport, IngestResult, IngestOptions, RunIngestOptions, Split } from './ingest.js';
export { detectLayout, type DatasetLayout, type LayoutKind } from './layout.js';
export { readKaggleCaptions, readTokenCaptions, type RawCaption } from './read-captions.js';
export { downloadKaggleDataset, unzipSafely, safeEntryPath, kaggleCredentials, KAGGLE_DATASET } from './download.js';
export { ingestCommand } from './command.js';
