// captions.arrow belongs to ingest, which owns its reader; re-exported for evaluate's public API.
export { readReferences, type ReferenceSplit as Split } from '@captioner/ingest';
