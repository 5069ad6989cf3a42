/**
 * The report's inline script (plain browser JavaScript, kept as a string so the report has no
 * external files). Hovering, focusing or clicking a word draws that step's attention over its photo:
 * the 8-bit grid is upsampled by the canvas's smoothing (bilinear), then coloured through the same
 * colormap LUT the PNG figures use. Arrow keys / Home / End move between words; Escape hides the overlay.
 */
export const REPORT_SCRIPT = String.raw`(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('attention-data').textContent);
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const lut = bytes(data.lut);
  const [gh, gw] = data.grid;
  const small = document.createElement('canvas');
  small.width = gw;
  small.height = gh;
  const smallCtx = small.getContext('2d');
  const cache = new Map();
  const levelsCache = new Map();

  function heatmapUrl(levels, width, height) {
    const grid = smallCtx.createImageData(gw, gh);
    for (let i = 0; i < gw * gh; i++) {
      grid.data[4 * i] = grid.data[4 * i + 1] = grid.data[4 * i + 2] = levels[i];
      grid.data[4 * i + 3] = 255;
    }
    smallCtx.putImageData(grid, 0, 0);
    const big = document.createElement('canvas');
    big.width = width;
    big.height = height;
    const ctx = big.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(small, 0, 0, width, height);
    const pixels = ctx.getImageData(0, 0, width, height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      const c = d[i] * 3;
      d[i] = lut[c];
      d[i + 1] = lut[c + 1];
      d[i + 2] = lut[c + 2];
      d[i + 3] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
    return big.toDataURL('image/png');
  }

  function show(button) {
    const card = button.closest('.card');
    const photo = card.querySelector('.photo');
    const overlay = card.querySelector('.overlay');
    const cardIndex = Number(card.dataset.card);
    const predIndex = Number(button.dataset.pred);
    const step = Number(button.dataset.step);
    const key = cardIndex + '/' + predIndex + '/' + step;
    let url = cache.get(key);
    if (!url) {
      const levelsKey = cardIndex + '/' + predIndex;
      let levels = levelsCache.get(levelsKey);
      if (!levels) levelsCache.set(levelsKey, (levels = bytes(data.cards[cardIndex][predIndex])));
      const cells = gw * gh;
      url = heatmapUrl(levels.subarray(step * cells, (step + 1) * cells), photo.naturalWidth || photo.width, photo.naturalHeight || photo.height);
      cache.set(key, url);
    }
    const word = button.textContent;
    overlay.src = url;
    overlay.hidden = false;
    overlay.dataset.key = key;
    overlay.dataset.word = word;
    overlay.alt = 'Attention heatmap for the word “' + word + '” (step ' + (step + 1) + '); brighter means more attention';
    card.querySelector('.status').textContent = 'Showing attention for “' + word + '” (' + button.closest('.prediction').dataset.method + ', step ' + (step + 1) + ')';
    for (const b of card.querySelectorAll('.word[aria-pressed="true"]')) b.setAttribute('aria-pressed', 'false');
    button.setAttribute('aria-pressed', 'true');
  }

  function hide(card) {
    const overlay = card.querySelector('.overlay');
    overlay.hidden = true;
    overlay.removeAttribute('src');
    overlay.dataset.key = '';
    overlay.dataset.word = '';
    card.querySelector('.status').textContent = 'Hover or focus a word to see its attention';
    for (const b of card.querySelectorAll('.word[aria-pressed="true"]')) b.setAttribute('aria-pressed', 'false');
  }

  const wordOf = (target) => (target instanceof Element ? target.closest('.word') : null);
  document.addEventListener('focusin', (e) => { const b = wordOf(e.target); if (b) show(b); });
  document.addEventListener('mouseover', (e) => { const b = wordOf(e.target); if (b) show(b); });
  document.addEventListener('click', (e) => { const b = wordOf(e.target); if (b) show(b); });
  document.addEventListener('keydown', (e) => {
    const b = wordOf(e.target);
    if (!b) return;
    const words = Array.from(b.closest('.words').querySelectorAll('.word'));
    const i = words.indexOf(b);
    let j = null;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = Math.min(words.length - 1, i + 1);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = Math.max(0, i - 1);
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = words.length - 1;
    else if (e.key === 'Escape') { e.preventDefault(); hide(b.closest('.card')); return; }
    if (j !== null) { e.preventDefault(); words[j].focus(); }
  });
})();
`;
