export { KerasTokenizer, TUTORIAL_FILTERS, indexToWord, padPost, type TokenizerOptions, type VocabJson } from './tokenizer.js';
export { runTokenize, fixedSizeListInt32, type TokenizeReport } from './tokenize.js';
export { tokenizeCommand } from './command.js';
