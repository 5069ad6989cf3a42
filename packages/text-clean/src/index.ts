export {
  cleanCaption,
  cleanWords,
  runTextClean,
  PYTHON_PUNCTUATION,
  SEED_MIN_WORD_LENGTH,
  START_TOKEN,
  END_TOKEN,
  type CleanOptions,
  type TextCleanReport,
} from './clean.js';
export { textCleanCommand } from './command.js';
