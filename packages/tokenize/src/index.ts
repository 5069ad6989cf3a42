export { KerasTokenizer, indexToWord, padPost, type TokenizerOptions, type VocabJson } from './tokenizer.js';
export { vocabSchema, VOCAB_FILE } from './contract.js';
export { runTokenize, fixedSizeListInt32, type TokenizeReport } from './tokenize.js';
export { stage } from './stage.js';
