// README's API plus what later stages read (readReferences, Split) and the captions.arrow builder their test
// fixtures use; the download internals stay inside.
export { readReferences, type ReferenceSplit } from './references.js';
export { captionsTable, ingest, runIngest, splitByImage } from './ingest.js';
export type { CaptionRow, IngestReport, IngestResult, IngestOptions, RunIngestOptions, Split } from './ingest.js';
export { detectLayout, type DatasetLayout, type LayoutKind } from './layout.js';
export { readKaggleCaptions, readTokenCaptions, type RawCaption } from './read-captions.js';
export { downloadKaggleDataset, unzipSafely } from './download.js';
export { stage } from './stage.js';
