// ESLint flat config for the whole monorepo. Run it through Nx (`npm run lint` =
// `nx run-many -t lint`): the module-boundary rule reads the project graph Nx caches in
// .nx/workspace-data, and a bare `npx eslint` before any nx command only warns that the rule is
// skipped. The constraint table is explained in docs/ARCHITECTURE.md (Module boundaries).
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Stages are tagged layer:1..6 in their project.json (layer = position in the pipeline); a stage
// may import libraries and stages of a lower layer only.
const STAGE_LAYERS = 6;
const layers = (below) => Array.from({ length: below - 1 }, (_, i) => `layer:${i + 1}`);
const stageConstraints = Array.from({ length: STAGE_LAYERS }, (_, i) => {
  const n = i + 1;
  return {
    sourceTag: `layer:${n}`,
    // scope:inference (caption) builds on featurize (layer 2), so only later stages may use it.
    onlyDependOnLibsWithTags: ['scope:lib', ...(n > 2 ? ['scope:inference'] : []), ...layers(n)],
  };
});

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', 'data/**', 'test-artifacts/**', 'tmp/**', 'packages/*/models/**', 'packages/caption/pretrained/**', 'docs/**'],
  },
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_name` marks a parameter or binding kept on purpose (a callback's position, a destructured rest).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `let [c, h, w] = …` where only h and w change later stays one statement.
      'prefer-const': ['error', { destructuring: 'all' }],
    },
  },
  {
    // Tests build malformed inputs on purpose (`(m: any) => (m.version = 2)`).
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node, ...globals.commonjs } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Browser entries and the demo run in a page (or a worker), not in Node.
    files: ['packages/demo/src/**/*.ts', 'packages/*/src/**/browser*.ts', 'packages/tf/worker/**'],
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
  },
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          // Test files count too: a test importing a later stage is the same coupling.
          depConstraints: [
            // Libraries (core, tf, onnx, metrics, model) build only on each other.
            { sourceTag: 'scope:lib', onlyDependOnLibsWithTags: ['scope:lib'] },
            // Inference (caption: load a trained model, featurize + caption images) needs featurize's extractor.
            { sourceTag: 'scope:inference', onlyDependOnLibsWithTags: ['scope:lib', 'layer:1', 'layer:2'] },
            ...stageConstraints,
            // Apps on top (cli, demo, pipelines, tools) may import anything; nothing imports them.
            { sourceTag: 'scope:app', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
    },
  },
  {
    // The demo's bundler shims re-export the browser-safe source files of model and tf by relative
    // path, to keep their Node-only entry files out of the page bundle.
    files: ['packages/demo/src/shims/**'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
);
