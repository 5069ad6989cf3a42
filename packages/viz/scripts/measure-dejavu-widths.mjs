// Measures DejaVu Sans advance widths (in em) as librsvg renders them through sharp, for the width
// tables in src/layout.ts: the ink width of "H" + 20 x char + "H" minus that of "HH", over 20.
// Run: node packages/viz/scripts/measure-dejavu-widths.mjs
import sharp from 'sharp';
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
async function ink(text, weight) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="30000" height="200"><rect width="100%" height="100%" fill="white"/><text x="10" y="150" font-family="DejaVu Sans" font-weight="${weight}" font-size="100" xml:space="preserve">${esc(text)}</text></svg>`;
  const { info } = await sharp(Buffer.from(svg)).trim().toBuffer({ resolveWithObject: true });
  return info.width;
}
for (const weight of ['normal', 'bold']) {
  const base = await ink('HH', weight);
  const out = {};
  for (let c = 32; c < 127; c++) {
    const ch = String.fromCharCode(c);
    const w = await ink('H' + ch.repeat(20) + 'H', weight);
    out[ch] = Math.round(((w - base) / 20 / 100) * 1000) / 1000;
  }
  console.log(weight, JSON.stringify(out));
}
