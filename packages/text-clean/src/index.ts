export { cleanCaption, cleanWords, runTextClean, PYTHON_PUNCTUATION, START_TOKEN, END_TOKEN, type TextCleanReport } from './clean.js';
export { textCleanCommand } from './command.js';
