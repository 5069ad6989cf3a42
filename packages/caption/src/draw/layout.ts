/**
 * Figure layout without a browser: panel grids and caption wrapping. Widths come from DejaVu Sans
 * advance widths (the font the figures name; measured once from the font as rendered by librsvg,
 * in em), so wrapped lines fit their column without a text-measuring canvas.
 */

export const FONT_FAMILY = "'DejaVu Sans', 'Bitstream Vera Sans', sans-serif";

// prettier-ignore
const REGULAR: Record<string, number> = {" ":0.318,"!":0.401,"\"":0.46,"#":0.838,"$":0.636,"%":0.95,"&":0.78,"'":0.275,"(":0.39,")":0.39,"*":0.5,"+":0.838,",":0.318,"-":0.361,".":0.317,"/":0.337,":":0.337,";":0.337,"<":0.838,"=":0.838,">":0.838,"?":0.531,"@":1,"A":0.711,"B":0.686,"C":0.698,"D":0.77,"E":0.632,"F":0.575,"G":0.775,"H":0.752,"I":0.295,"J":0.295,"K":0.656,"L":0.557,"M":0.863,"N":0.748,"O":0.787,"P":0.603,"Q":0.787,"R":0.695,"S":0.635,"T":0.594,"U":0.732,"V":0.684,"W":0.989,"X":0.685,"Y":0.611,"Z":0.685,"[":0.39,"\\":0.337,"]":0.39,"^":0.838,"_":0.5,"`":0.5,"a":0.613,"b":0.635,"c":0.55,"d":0.635,"e":0.615,"f":0.352,"g":0.635,"h":0.634,"i":0.278,"j":0.278,"k":0.579,"l":0.278,"m":0.974,"n":0.634,"o":0.612,"p":0.635,"q":0.635,"r":0.395,"s":0.521,"t":0.392,"u":0.634,"v":0.592,"w":0.818,"x":0.592,"y":0.592,"z":0.525,"{":0.636,"|":0.337,"}":0.636,"~":0.838};
// prettier-ignore
const BOLD: Record<string, number> = {" ":0.348,"!":0.456,"\"":0.521,"#":0.838,"$":0.696,"%":1.002,"&":0.872,"'":0.306,"(":0.457,")":0.457,"*":0.523,"+":0.838,",":0.38,"-":0.415,".":0.38,"/":0.365,":":0.4,";":0.4,"<":0.838,"=":0.838,">":0.838,"?":0.58,"@":1,"A":0.774,"B":0.762,"C":0.733,"D":0.83,"E":0.683,"F":0.683,"G":0.821,"H":0.837,"I":0.372,"J":0.372,"K":0.775,"L":0.637,"M":0.995,"N":0.837,"O":0.85,"P":0.733,"Q":0.85,"R":0.77,"S":0.678,"T":0.704,"U":0.812,"V":0.774,"W":1.103,"X":0.771,"Y":0.724,"Z":0.725,"[":0.457,"\\":0.365,"]":0.457,"^":0.838,"_":0.5,"`":0.5,"a":0.675,"b":0.716,"c":0.593,"d":0.716,"e":0.678,"f":0.435,"g":0.716,"h":0.712,"i":0.343,"j":0.343,"k":0.665,"l":0.343,"m":1.042,"n":0.712,"o":0.687,"p":0.716,"q":0.716,"r":0.493,"s":0.595,"t":0.478,"u":0.712,"v":0.652,"w":0.924,"x":0.645,"y":0.652,"z":0.582,"{":0.712,"|":0.365,"}":0.712,"~":0.838};

export interface TextStyle {
  fontSize: number;
  bold?: boolean;
}

function charWidthEm(ch: string, bold: boolean): number {
  const known = (bold ? BOLD : REGULAR)[ch];
  if (known !== undefined) return known;
  // Outside ASCII: wide scripts take a full em; accented Latin etc. are at most a wide lowercase letter.
  return (ch.codePointAt(0) ?? 0) >= 0x2e80 ? 1 : bold ? 0.85 : 0.8;
}

/** Advance width of `text` in pixels when set in DejaVu Sans at `style.fontSize`. */
export function textWidth(text: string, style: TextStyle): number {
  let em = 0;
  for (const ch of text) em += charWidthEm(ch, !!style.bold);
  return em * style.fontSize;
}

/**
 * Greedy word wrap to `maxWidth` pixels. A word wider than a whole line is broken across lines (with
 * no hyphen), so no line ever overflows. Whitespace runs collapse to one space; empty text gives [].
 */
export function wrapText(text: string, maxWidth: number, style: TextStyle): string[] {
  if (!(maxWidth > 0)) throw new RangeError(`wrapText: maxWidth must be positive, got ${maxWidth}`);
  // Punctuation written as its own token ("a dog ." in Flickr8k) stays with the word before it.
  const words: string[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    if (words.length > 0 && /^[.,;:!?)\]}"'»”’]+$/.test(token)) words[words.length - 1] += ` ${token}`;
    else words.push(token);
  }
  const lines: string[] = [];
  let line = '';
  const fits = (s: string) => textWidth(s, style) <= maxWidth;
  for (const word of words) {
    const candidate = line ? `${line} ${word}` : word;
    if (fits(candidate)) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    // Break an over-long word into the largest pieces that fit.
    let rest = word;
    while (!fits(rest)) {
      let cut = 1;
      const chars = Array.from(rest);
      while (cut < chars.length && fits(chars.slice(0, cut + 1).join(''))) cut++;
      lines.push(chars.slice(0, cut).join(''));
      rest = chars.slice(cut).join('');
    }
    line = rest;
  }
  if (line) lines.push(line);
  return lines;
}

/** Shortens `text` with an ellipsis so it fits `maxWidth` on one line. */
export function ellipsize(text: string, maxWidth: number, style: TextStyle): string {
  if (textWidth(text, style) <= maxWidth) return text;
  const chars = Array.from(text);
  while (chars.length > 0 && textWidth(chars.join('') + '…', style) > maxWidth) chars.pop();
  return chars.join('') + '…';
}

export interface PanelGrid {
  rows: number;
  cols: number;
}

/**
 * Rows x columns for `count` panels: the smallest near-square grid that holds them all, never
 * taller than wide and never with an empty row (the tutorial's len//2 x len//2 has no room for 7 words
 * and a 0x0 grid for one).
 */
export function panelGrid(count: number, maxCols = Infinity): PanelGrid {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`panelGrid: need at least one panel, got ${count}`);
  const cols = Math.max(1, Math.min(count, Math.ceil(Math.sqrt(count)), maxCols));
  return { rows: Math.ceil(count / cols), cols };
}

/** Row-major position of panel `index` in a grid. */
export function panelCell(index: number, grid: PanelGrid): { row: number; col: number } {
  return { row: Math.floor(index / grid.cols), col: index % grid.cols };
}
