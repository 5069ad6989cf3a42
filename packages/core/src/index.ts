// Browser-safe: no node:, fs, Arrow file IO, yargs or cli-progress below this entry (a test walks
// its imports). Node plumbing (atomic writes, Arrow files, readJson, CLI, locks, logging) is
// `@captioner/core/node`.
export { CaptionerError } from './errors.js';
export * from './config.js';
export { seededRandom, shuffleInPlace } from './random.js';
export { parseWithSchema, parseJsonText, formatIssues, formatIssuePath } from './json.js';
export {
  featureSettingsSchema,
  featureSetSchema,
  featureSetOf,
  featureSetDifferences,
  FEATURE_SETTING_KEYS,
  FEATURE_COMPARED_KEYS,
  type FeatureSettings,
  type FeatureSet,
} from './feature-set.js';
export { vocabularySchema, type Vocabulary } from './vocabulary.js';
export { STAGE_NAMES, STAGE_CONFIG, type StageName } from './stages.js';
export type { Stage } from './stage.js';
