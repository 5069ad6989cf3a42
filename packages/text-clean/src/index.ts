// README's API; the caption markers are in the contract entry (`@captioner/text-clean/contract`).
export { cleanCaption, cleanWords, runTextClean, type CleanOptions, type TextCleanReport } from './clean.js';
export { stage } from './stage.js';
