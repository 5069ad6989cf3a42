// @captioner/core for the page: the two browser-safe pieces inference uses (its index also
// exports Arrow, fs and CLI plumbing).
export { CaptionerError } from '../../../core/src/errors.js';
export { seededRandom } from '../../../core/src/random.js';
