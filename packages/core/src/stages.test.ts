import { describe, expect, it } from 'vitest';
import { parseConfig, pipelineConfigSchema } from './config.js';
import { STAGE_CONFIG, STAGE_NAMES } from './stages.js';

describe('stage → config sections map', () => {
  it("names only real top-level config keys, each stage's own section among them", () => {
    const keys = new Set(Object.keys(pipelineConfigSchema.shape));
    for (const name of STAGE_NAMES) {
      for (const section of STAGE_CONFIG[name].sections) expect(keys, `${name}: ${section}`).toContain(section);
      // text-clean's section is textClean: the camelCase of the stage name.
      const own = name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
      expect(STAGE_CONFIG[name].sections).toContain(own);
    }
  });

  it('gives the schema its stage names: stageDirs accepts exactly these stages', () => {
    expect(STAGE_NAMES).toEqual(['ingest', 'text-clean', 'tokenize', 'featurize', 'train', 'evaluate', 'viz']);
    expect(parseConfig({ stageDirs: { 'text-clean': 'x' } }).stageDirs).toEqual({ 'text-clean': 'x' });
    expect(() => parseConfig({ stageDirs: { caption: 'x' } })).toThrow(/stageDirs/);
  });
});
