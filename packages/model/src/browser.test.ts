/**
 * A saved model loads and decodes in a real browser (Chromium via playwright-core) with only the
 * inference code: artifacts.ts + model.ts + decode.ts bundled by esbuild, files fetched over HTTP,
 * plain @tensorflow/tfjs on the cpu backend. Node-only imports are stubbed exactly as a browser
 * app would (see the aliases below), so the test also guards against new Node dependencies in
 * the inference path.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend } from '@captioner/tf';
import { CaptionModel, greedyDecode, type CaptionModelConfig } from './index.js';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));

beforeAll(async () => {
  try {
    await initBackend({ backend: 'wasm', threads: 1, quiet: true });
  } catch {
    await initBackend({ backend: 'cpu', quiet: true });
  }
});

const root = mkdtempSync(join(tmpdir(), 'captioner-model-browser-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(!existsSync(chromium))('browser loading', () => {
  it('decodes the same caption in Chromium as in Node', async () => {
    const config: CaptionModelConfig = { vocabSize: 12, locations: 4, featureDim: 6, embeddingDim: 5, units: 7, attentionUnits: 3 };
    const model = CaptionModel.create(config, 5);
    const wordIndex = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i === 0 ? '<unk>' : `w${i + 1}`, i + 1]));
    const vocab = { numWords: 11, vocabSize: 12, oovToken: '<unk>', padToken: '<pad>', maxLength: 8, wordIndex };
    const featureInfo = { layer: 'mixed10', scaling: '0,1', dim: 6, locations: 4, grid: [2, 2], inputSize: 299, weightsHash: 'h' };
    const modelDir = join(root, 'model');
    await model.save(modelDir, { vocab, features: featureInfo });
    const features = tf.randomNormal([2, 4, 6], 0, 2, 'float32', 3) as tf.Tensor3D;
    const opts = { startId: 2, endId: 3, maxLength: 6 };
    const expected = greedyDecode(model, features, opts);
    const expectedLogits = model.step(model.encode(features), tf.tensor1d([2, 2], 'int32'), model.initialHidden(2)).logits.arraySync();

    // Bundle the inference code; Node-only modules are replaced like a browser build would.
    writeFileSync(join(root, 'tf-shim.js'), "export * as tf from '@tensorflow/tfjs';\n");
    writeFileSync(
      join(root, 'entry.ts'),
      `import { tf } from '@captioner/tf';
import { modelFromArtifacts } from ${JSON.stringify(join(here, 'artifacts.ts'))};
import { greedyDecode } from ${JSON.stringify(join(here, 'decode.ts'))};
(window as any).run = async (features: number[][][], opts: any) => {
  await tf.setBackend('cpu');
  const get = (f: string) => fetch('/model/' + f);
  const model = modelFromArtifacts({
    modelJson: await (await get('model.json')).json(),
    weightData: await (await get('weights.bin')).arrayBuffer(),
    vocab: await (await get('vocab.json')).json(),
    features: await (await get('features.json')).json(),
    config: await (await get('config.json')).json(),
  });
  const f = tf.tensor3d(features);
  const decoded = greedyDecode(model, f, opts).map((d) => ({ tokens: d.tokens, words: d.words }));
  const logits = model.step(model.encode(f), tf.tensor1d([2, 2], 'int32'), model.initialHidden(2)).logits.arraySync();
  return { decoded, logits, backend: tf.getBackend() };
};
`,
    );
    const esbuild = await import('esbuild');
    await esbuild.build({
      entryPoints: [join(root, 'entry.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      outfile: join(root, 'bundle.js'),
      // @captioner/core's main entry is browser-safe; workspace packages resolve to their sources.
      alias: { '@captioner/tf': join(root, 'tf-shim.js') },
      conditions: ['source'],
      // model.ts imports nothing Node-only (save/load/useEngine are plugged in by index.ts, not bundled here).
      external: ['node:*'],
      nodePaths: [resolve(here, '../../../node_modules')],
      logLevel: 'silent',
    });

    const { chromium: browserType } = await import('playwright-core');
    const browser = await browserType.launch({ executablePath: chromium, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.route('http://captioner.test/**', (route) => {
        const path = new URL(route.request().url()).pathname;
        if (path === '/') return route.fulfill({ contentType: 'text/html', body: '<script type="module" src="/bundle.js"></script>' });
        const file = path === '/bundle.js' ? join(root, 'bundle.js') : join(modelDir, path.replace('/model/', ''));
        return route.fulfill({ body: readFileSync(file), contentType: path.endsWith('.js') ? 'text/javascript' : 'application/octet-stream' });
      });
      await page.goto('http://captioner.test/');
      await page.waitForFunction(() => typeof (window as unknown as { run?: unknown }).run === 'function');
      const result = (await page.evaluate(([f, o]) => (window as unknown as { run: (f: unknown, o: unknown) => Promise<unknown> }).run(f, o), [
        features.arraySync(),
        opts,
      ] as const)) as { decoded: { tokens: number[]; words: string[] }[]; logits: number[][]; backend: string };
      expect(result.backend).toBe('cpu');
      expect(result.decoded.map((d) => d.tokens)).toEqual(expected.map((d) => d.tokens));
      expect(result.decoded[0].words).toEqual(expected[0].tokens.map((t) => `w${t}`));
      result.logits.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(expectedLogits[i][j], 4)));
    } finally {
      await browser.close();
      model.dispose();
    }
  });
});
