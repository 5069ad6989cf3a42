/**
 * The demo page: load the shipped captioner (model + MobileNetV2 .tflite, fetched from beside the
 * page), caption a dropped/chosen/sample image greedily and with beam search, and draw each word's
 * attention over the photo on hover/focus/click. Everything runs here; nothing is uploaded.
 */
import { attentionRgba, decodeImageFile, loadBrowserCaptioner, colormapStops, type CaptionResult, type Captioner, type DecodedImage } from '@captioner/caption/browser';
import { initBrowserBackend } from './shims/tf.js';

const BEAM = 3;
const MAX_SIDE = 448;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string) => ($('status').textContent = text);
const setState = (state: 'loading' | 'ready' | 'busy' | 'done' | 'error') => (document.body.dataset.state = state);

interface Shown {
  bitmap: ImageBitmap;
  width: number;
  height: number;
  results: Record<'greedy' | 'beam', CaptionResult>;
}
let shown: Shown | null = null;
let captioner: Captioner<DecodedImage> | null = null;

/** Photo, plus the attention of word `index` of `method` when given (grid RGBA smoothed up by the canvas). */
function draw(method?: 'greedy' | 'beam', index?: number): void {
  if (!shown) return;
  const canvas = $<HTMLCanvasElement>('photo');
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(shown.bitmap, 0, 0, shown.width, shown.height);
  const label = $('focus-word');
  if (method === undefined || index === undefined) {
    label.textContent = '';
    return;
  }
  const r = shown.results[method];
  const [gh, gw] = r.grid;
  const small = new OffscreenCanvas(gw, gh);
  small.getContext('2d')!.putImageData(new ImageData(attentionRgba(r.attention[index], r.grid), gw, gh), 0, 0);
  ctx.drawImage(small, 0, 0, shown.width, shown.height);
  label.textContent = r.words[index];
}

function renderWords(method: 'greedy' | 'beam', r: CaptionResult): void {
  const p = $(`${method}-caption`);
  p.replaceChildren(
    ...r.words.map((word, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = word;
      b.dataset.index = String(i);
      b.title = `where the model looked for "${word}"`;
      const show = () => {
        document.querySelectorAll('.words button.active').forEach((x) => x.classList.remove('active'));
        b.classList.add('active');
        draw(method, i);
      };
      b.addEventListener('mouseenter', show);
      b.addEventListener('focus', show);
      b.addEventListener('click', show);
      return b;
    }),
  );
  if (r.words.length === 0) p.textContent = '(empty caption)';
}

export interface DemoTiming {
  decodeMs: number;
  featurizeMs: number;
  greedyMs: number;
  beamMs: number;
  totalMs: number;
}

/** Captions one image file; resolves with both captions and the times (the browser test reads these). */
async function captionBlob(blob: Blob, name: string): Promise<{ greedy: string; beam: string; timing: DemoTiming }> {
  if (!captioner) throw new Error('the model is not loaded yet');
  setState('busy');
  status(`Captioning ${name}…`);
  try {
    const t0 = performance.now();
    const image = await decodeImageFile(blob);
    const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
    const t1 = performance.now();
    const features = await captioner.featurize(image);
    const t2 = performance.now();
    const greedy = captioner.captionFeatures(features, { beam: 1 });
    const t3 = performance.now();
    const beam = captioner.captionFeatures(features, { beam: BEAM });
    const t4 = performance.now();
    const scale = Math.min(MAX_SIDE / bitmap.width, MAX_SIDE / bitmap.height);
    shown?.bitmap.close();
    shown = { bitmap, width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale), results: { greedy, beam } };
    const canvas = $<HTMLCanvasElement>('photo');
    canvas.width = shown.width;
    canvas.height = shown.height;
    draw();
    renderWords('beam', beam);
    renderWords('greedy', greedy);
    $('beam-k').textContent = `(k = ${BEAM})`;
    const timing = { decodeMs: t1 - t0, featurizeMs: t2 - t1, greedyMs: t3 - t2, beamMs: t4 - t3, totalMs: t4 - t0 };
    $('timing').textContent =
      `${name}: ${image.width}x${image.height}; decode ${timing.decodeMs.toFixed(0)} ms, MobileNetV2 ${timing.featurizeMs.toFixed(0)} ms, ` +
      `greedy ${timing.greedyMs.toFixed(0)} ms, beam ${timing.beamMs.toFixed(0)} ms — ${timing.totalMs.toFixed(0)} ms in all`;
    $('result').hidden = false;
    status('Hover or click a word.');
    setState('done');
    return { greedy: greedy.caption, beam: beam.caption, timing };
  } catch (err) {
    status(`Could not caption ${name}: ${(err as Error).message}`);
    setState('error');
    throw err;
  }
}

function wireInputs(): void {
  const input = $<HTMLInputElement>('file');
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void captionBlob(file, file.name).catch(() => {});
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void captionBlob(file, file.name).catch(() => {});
  });
}

async function loadSamples(): Promise<void> {
  const res = await fetch('samples/samples.json');
  if (!res.ok) return;
  const samples = (await res.json()) as { file: string; title: string }[];
  $('samples').replaceChildren(
    ...samples.map((s) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.title = s.title;
      const img = document.createElement('img');
      img.src = `samples/${s.file}`;
      img.alt = s.title;
      b.append(img);
      b.addEventListener('click', async () => {
        const blob = await (await fetch(`samples/${s.file}`)).blob();
        void captionBlob(blob, s.file).catch(() => {});
      });
      return b;
    }),
  );
}

async function start(): Promise<void> {
  $('legend')
    .querySelector('i')!
    .setAttribute('style', `background: linear-gradient(to right, ${colormapStops('viridis', 11).join(', ')})`);
  wireInputs();
  void loadSamples();
  const base = new URL('.', location.href).href;
  const backend = await initBrowserBackend(`${base}wasm/`);
  $('backend').textContent = `${backend} backend`;
  const t0 = performance.now();
  captioner = await loadBrowserCaptioner({ modelUrl: `${base}model/`, tfliteUrl: `${base}mobilenet_v2.tflite` });
  const loadMs = performance.now() - t0;
  const s = captioner.featureSettings;
  $('model-info').textContent =
    `Model: Show, Attend and Tell trained on Flickr8k (research use only), ${captioner.quantized ? 'quantized (uint8/float16) ' : ''}weights; ` +
    `features: MobileNetV2 ${s.layer} ${s.grid.join('x')}x${s.dim} (Apache-2.0). Loaded in ${loadMs.toFixed(0)} ms.`;
  status('Ready: drop a photo, choose a file, or pick a sample.');
  setState('ready');
  (window as unknown as { captionerDemo: unknown }).captionerDemo = { captionBlob, backend, loadMs };
}

start().catch((err) => {
  status(`Could not start: ${(err as Error).message}`);
  setState('error');
  console.error(err);
});
