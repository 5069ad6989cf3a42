/**
 * The pipeline's stages and the configuration sections each one reads. One copy for everyone:
 * the config schema takes the stage names from it (`stageDirs`), and the Nx runtime input
 * (tools/nx-input.mjs, plain Node that cannot import TypeScript) reads the same JSON file to
 * fingerprint only a stage's own sections, so editing `train.epochs` never re-runs featurize.
 * Browser-safe.
 */
import stageSections from './stage-sections.json' with { type: 'json' };

export type StageName = keyof typeof stageSections;

/** Stage names in pipeline order. */
export const STAGE_NAMES = Object.keys(stageSections) as [StageName, ...StageName[]];

/**
 * Per stage: the top-level config keys its outputs depend on, and whether it reads the dataset
 * folder itself (then an external dataset folder is fingerprinted too).
 */
export const STAGE_CONFIG: Readonly<Record<StageName, { readonly sections: readonly string[]; readonly readsDataset: boolean }>> = stageSections;
