/**
 * Builds the demo into packages/demo/dist/ (static files only; `npx nx run demo:build`, cached):
 *
 *   index.html, style.css, app.js        the page and one esbuild bundle (ESM, minified)
 *   wasm/tfjs-backend-wasm*.wasm          TF.js wasm binaries, served from here (no CDN)
 *   model/                                the shipped captioner (@captioner/caption/pretrained/…)
 *   mobilenet_v2.tflite                   the feature network the model was trained on
 *   samples/                              a few photos to click, and samples.json
 *
 * esbuild (not vite): one call bundles the TypeScript sources of the workspace packages through
 * their `source` condition, with aliases standing in for the Node-only package entries (tf, model); no dev
 * server or config file is needed for a page this size, and it is already in the workspace.
 * The folder is written under a temp name and renamed into place.
 */
import { copyFileSync, cpSync, mkdirSync, readdirSync, writeFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import * as esbuild from 'esbuild';
import { withAtomicPath } from '@captioner/core/node';
import { PRETRAINED_MODEL_DIR } from '@captioner/caption';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(here, '../..');
const require = createRequire(import.meta.url);
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm'));
const TFLITE = join(root, 'packages/featurize/models/mobilenet_v2/mobilenet_v2_1.0_224_quant.tflite');

/** Photos offered as buttons: Flickr8k test-split images from the committed sample, then the non-Flickr8k ones. */
const SAMPLES: { path: string; title: string }[] = [
  ...['1561658940_a947f2446a.jpg', '2073105823_6dacade004.jpg', '2101457132_69c950bc45.jpg'].map((f) => ({
    path: join(root, 'data/sample/Images', f),
    title: `Flickr8k test image ${f} (research use only)`,
  })),
];
const EXTRA_DIR = join(root, 'docs/figures/demo-images');

/** Builds the demo into `out` (replaced atomically as a whole). */
export async function buildDemo(out = join(here, 'dist'), opts: { quiet?: boolean } = {}): Promise<void> {
  const started = performance.now();
  const say = (line: string) => (opts.quiet ? undefined : process.stderr.write(line));
  await withAtomicPath(out, async (tmp) => {
    mkdirSync(tmp, { recursive: true });
    const result = await esbuild.build({
      entryPoints: [join(here, 'src/main.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      sourcemap: true,
      conditions: ['source'],
      outfile: join(tmp, 'app.js'),
      alias: {
        '@captioner/tf': join(here, 'src/shims/tf.ts'),
        '@captioner/model': join(here, 'src/shims/model.ts'),
        // The kernel patches import the umbrella package; the page only bundles its core.
        '@tensorflow/tfjs': '@tensorflow/tfjs-core',
      },
      // model.ts reaches io.ts (fs) only through CaptionModel.save/load's dynamic import, never here.
      external: ['node:*'],
      // The wasm backend's emscripten glue mentions Node modules behind runtime checks.
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'warning',
      metafile: true,
    });
    for (const f of ['index.html', 'style.css']) copyFileSync(join(here, 'src', f), join(tmp, f));
    mkdirSync(join(tmp, 'wasm'));
    for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join(tmp, 'wasm', f));
    cpSync(PRETRAINED_MODEL_DIR, join(tmp, 'model'), { recursive: true });
    copyFileSync(TFLITE, join(tmp, 'mobilenet_v2.tflite'));
    mkdirSync(join(tmp, 'samples'));
    const samples = [...SAMPLES];
    try {
      for (const f of readdirSync(EXTRA_DIR)
        .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
        .sort())
        samples.push({ path: join(EXTRA_DIR, f), title: `${f} (see docs/figures/demo-images/README.md)` });
    } catch {
      // no extra photos
    }
    for (const s of samples) copyFileSync(s.path, join(tmp, 'samples', basename(s.path)));
    writeFileSync(
      join(tmp, 'samples', 'samples.json'),
      JSON.stringify(
        samples.map((s) => ({ file: basename(s.path), title: s.title })),
        null,
        2,
      ) + '\n',
    );
    const js = Object.entries(result.metafile.outputs).find(([f]) => f.endsWith('app.js'))![1].bytes;
    say(`[demo] app.js ${(js / 1024).toFixed(0)} KiB, model ${(dirBytes(join(tmp, 'model')) / 2 ** 20).toFixed(2)} MiB, ${samples.length} samples\n`);
  });
  say(`[demo] built ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s; serve it: node --import tsx packages/demo/src/serve.ts (http://127.0.0.1:8080/)\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildDemo();

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}
