import { colormapLut, colormapStops, escapeXml as esc, normalizeAttention, type ColormapName, type Grid } from '@captioner/caption';
import type { EpochMetrics, EvalMetrics } from './inputs.js';
import { REPORT_SCRIPT } from './report-script.js';

export interface ReportPrediction {
  method: string;
  words: string[];
  logProb: number | null;
  ciderD?: number | null;
  /** Raw attention weights, one map per word. */
  attention: ArrayLike<number>[];
}

export interface ReportCard {
  image: string;
  split: string;
  /** data: URI of the photo, and its pixel size (the heatmap is drawn at this size). */
  photo: { dataUri: string; width: number; height: number };
  references: string[];
  predictions: ReportPrediction[];
}

export interface ReportInput {
  title: string;
  metrics: EvalMetrics | null;
  /** Inline SVG of the training curves (from vega). */
  trainingSvg: string | null;
  epochs: EpochMetrics[];
  datasetSample: { dataUri: string; alt: string } | null;
  cards: ReportCard[];
  grid: Grid;
  colormap: ColormapName;
  alpha: number;
  /** Things that could not be shown (missing inputs), listed at the top. */
  notes: string[];
  /** One line about where the numbers come from (split, counts). */
  summary: string;
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

function fmt(n: number | null | undefined, digits = 3): string {
  return n == null || !Number.isFinite(n) ? '–' : n.toFixed(digits);
}

function metricsSection(metrics: EvalMetrics | null): string {
  if (!metrics) return '';
  const multi = metrics.rows.length > 1;
  const best = new Map<string, number>();
  for (const c of metrics.columns) best.set(c, Math.max(...metrics.rows.map((r) => r.scores[c] ?? -Infinity)));
  const head = metrics.columns.map((c) => `<th scope="col">${esc(c)}</th>`).join('');
  const body = metrics.rows
    .map((r) => {
      const cells = metrics.columns
        .map((c) => {
          const v = r.scores[c];
          const top = multi && v !== undefined && v === best.get(c);
          const text = v === undefined ? '–' : (v * 100).toFixed(2);
          return top ? `<td class="best"><strong>${text}</strong></td>` : `<td>${text}</td>`;
        })
        .join('');
      const distinct = r.distinctRatio != null ? `${(r.distinctRatio * 100).toFixed(1)}%` : '–';
      return `<tr><th scope="row">${esc(r.label)}</th>${cells}<td>${fmt(r.meanWords, 1)}</td><td>${distinct}</td></tr>`;
    })
    .join('\n');
  const where = [metrics.split && `${esc(metrics.split)} split`, metrics.images != null && `${metrics.images} images`].filter(Boolean).join(', ');
  return `<section id="metrics" aria-labelledby="metrics-h">
<h2 id="metrics-h">Scores</h2>
<table class="metrics"><caption>Corpus scores${where ? ` on the ${where}` : ''}, ×100 as papers print them (CIDEr-D 100 = 1.0)${multi ? '; best per column in bold' : ''}. “Distinct” is the share of different captions: low means the model says the same thing for many images.</caption>
<thead><tr><th scope="col">method</th>${head}<th scope="col">words / caption</th><th scope="col">distinct</th></tr></thead>
<tbody>
${body}
</tbody></table>
</section>`;
}

function trainingSection(svg: string | null, epochs: EpochMetrics[]): string {
  if (!svg) return '';
  const last = epochs[epochs.length - 1];
  const label =
    `Training curves over ${epochs.length} epochs: training loss ends at ${fmt(last?.trainLoss)}` +
    (last?.valLoss != null ? `, validation loss at ${fmt(last.valLoss)}` : '') +
    '; and tokens per second per epoch.';
  const rows = epochs
    .map(
      (e) =>
        `<tr><th scope="row">${e.epoch}</th><td>${fmt(e.trainLoss, 4)}</td><td>${fmt(e.valLoss ?? null, 4)}</td><td>${e.tokensPerSec != null ? Math.round(e.tokensPerSec).toLocaleString('en-US') : '–'}</td><td>${fmt(e.epochSeconds ?? null, 1)}</td><td>${e.lr != null ? e.lr.toExponential(2) : '–'}</td></tr>`,
    )
    .join('\n');
  return `<section id="training" aria-labelledby="training-h">
<h2 id="training-h">Training</h2>
<figure class="chart"><div role="img" aria-label="${esc(label)}">${svg}</div>
<figcaption>${esc(label)}</figcaption></figure>
<details><summary>Per-epoch numbers</summary>
<table class="epochs"><thead><tr><th scope="col">epoch</th><th scope="col">train loss</th><th scope="col">val loss</th><th scope="col">tokens/s</th><th scope="col">seconds</th><th scope="col">learning rate</th></tr></thead>
<tbody>
${rows}
</tbody></table></details>
</section>`;
}

function datasetSection(sample: ReportInput['datasetSample']): string {
  if (!sample) return '';
  return `<section id="dataset" aria-labelledby="dataset-h">
<h2 id="dataset-h">Dataset sample</h2>
<figure><img class="sample" src="${sample.dataUri}" alt="${esc(sample.alt)}"></figure>
</section>`;
}

function cardHtml(card: ReportCard, index: number): string {
  const preds = card.predictions
    .map((p, pi) => {
      const words = p.words.map((w, wi) => `<button type="button" class="word" data-pred="${pi}" data-step="${wi}" aria-pressed="false">${esc(w)}</button>`).join('');
      const lp =
        (p.logProb != null ? ` <span class="score" title="log-probability of the caption">log p ${fmt(p.logProb, 2)}</span>` : '') +
        (p.ciderD != null ? ` <span class="score" title="CIDEr-D of this caption against its references">CIDEr-D ${fmt(p.ciderD, 2)}</span>` : '');
      return `<div class="prediction" data-method="${esc(p.method)}"><span class="method">${esc(p.method)}</span>${lp}
<div class="words" role="group" aria-label="${esc(p.method)} caption, one button per word: ${esc(p.words.join(' '))}">${words}</div></div>`;
    })
    .join('\n');
  const refs = card.references.map((r) => `<li>${esc(r)}</li>`).join('');
  const alt = `Photo ${card.image}` + (card.references[0] ? `. A reference caption: ${card.references[0]}` : '');
  return `<article class="card" data-card="${index}" aria-labelledby="card-${index}-h">
<h3 id="card-${index}-h">${esc(card.image)} <span class="split">${esc(card.split)}</span></h3>
<div class="viewer"><img class="photo" src="${card.photo.dataUri}" width="${card.photo.width}" height="${card.photo.height}" alt="${esc(alt)}"><img class="overlay" alt="" hidden></div>
<p class="status" aria-live="polite">Hover or focus a word to see its attention</p>
${preds}
<details><summary>References (${card.references.length})</summary><ol>${refs}</ol></details>
</article>`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --accent: #0b57d0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; color: var(--ink); background: #f6f7f9; }
header, main { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { font-size: 20px; margin: 28px 0 12px; }
h3 { font-size: 14px; margin: 0 0 8px; font-weight: 600; word-break: break-all; }
.summary, .notes { color: var(--muted); margin: 4px 0; }
.notes li { margin: 2px 0; }
table { border-collapse: collapse; background: #fff; }
caption { caption-side: bottom; text-align: left; color: var(--muted); font-size: 13px; padding-top: 6px; }
th, td { border: 1px solid var(--line); padding: 6px 10px; text-align: right; font-variant-numeric: tabular-nums; }
th[scope=row], thead th:first-child { text-align: left; }
thead th { background: #eef0f3; }
.chart { margin: 0; overflow-x: auto; background: #fff; border: 1px solid var(--line); padding: 8px; display: inline-block; max-width: 100%; }
.chart svg { display: block; max-width: 100%; height: auto; }
figure { margin: 0; }
img.sample { max-width: 100%; height: auto; border: 1px solid var(--line); background: #fff; }
details { margin-top: 8px; }
.legend { display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 13px; margin: 0 0 12px; }
.legend .bar { width: 180px; height: 10px; border: 1px solid #999; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 16px; padding-bottom: 40px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.split { color: var(--muted); font-weight: normal; font-size: 12px; }
.viewer { position: relative; line-height: 0; display: block; width: fit-content; max-width: 100%; margin: 0 auto; }
.viewer .photo { display: block; max-width: 100%; max-height: 384px; width: auto; height: auto; border-radius: 4px; }
.viewer .overlay { position: absolute; inset: 0; width: 100%; height: 100%; border-radius: 4px; opacity: var(--overlay-alpha); pointer-events: none; }
.viewer .overlay[hidden] { display: none; }
.status { color: var(--muted); font-size: 12px; min-height: 1.45em; margin: 6px 0; }
.prediction { margin: 6px 0; }
.method { display: inline-block; font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: #fff; background: #5f6368; border-radius: 3px; padding: 1px 6px; }
.score { color: var(--muted); font-size: 12px; margin-left: 6px; }
.words { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; }
.word { font: inherit; font-size: 15px; padding: 2px 6px; border: 1px solid var(--line); border-radius: 4px; background: #fff; color: var(--ink); cursor: pointer; }
.word:hover, .word[aria-pressed=true] { background: #e8f0fe; border-color: var(--accent); }
.word:focus-visible { outline: 3px solid var(--accent); outline-offset: 1px; }
ol { margin: 6px 0 0; padding-left: 22px; font-size: 13px; }
.hint { color: var(--muted); font-size: 13px; }
`;

/** The self-contained HTML report: inline CSS, JS, SVG and data: images; nothing is fetched. */
export function buildReportHtml(input: ReportInput): string {
  const [gh, gw] = input.grid;
  const attentionData = {
    grid: input.grid,
    lut: b64(colormapLut(input.colormap)),
    // Per card, per prediction: every word's map min-max scaled to bytes, concatenated, base64.
    cards: input.cards.map((card) =>
      card.predictions.map((p) => {
        const all = new Uint8Array(p.attention.length * gh * gw);
        p.attention.forEach((a, k) => all.set(normalizeAttention(a), k * gh * gw));
        return b64(all);
      }),
    ),
  };
  const gradient = `linear-gradient(to right, ${colormapStops(input.colormap, 11).join(', ')})`;
  const notes = input.notes.length ? `<ul class="notes">${input.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  const cards = input.cards.length
    ? `<section id="predictions" aria-labelledby="predictions-h">
<h2 id="predictions-h">Predictions and attention</h2>
<p class="hint">Hover, click or Tab to a word to see where the model looked when it produced it; arrow keys move between words, Escape hides the heatmap.</p>
<div class="legend" aria-hidden="true"><span>low</span><span class="bar" style="background: ${gradient}"></span><span>high attention (scaled per word, ${esc(input.colormap)})</span></div>
<div class="cards">
${input.cards.map(cardHtml).join('\n')}
</div>
</section>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(input.title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}:root { --overlay-alpha: ${input.alpha}; }</style>
</head>
<body>
<header>
<h1>${esc(input.title)}</h1>
<p class="summary">${esc(input.summary)}</p>
${notes}
</header>
<main>
${metricsSection(input.metrics)}
${trainingSection(input.trainingSvg, input.epochs)}
${cards}
${datasetSection(input.datasetSample)}
</main>
<script type="application/json" id="attention-data">${scriptJson(attentionData)}</script>
<script>${REPORT_SCRIPT}</script>
</body>
</html>
`;
}
