/**
 * Reads the data out of the browserify-wrapped model files nsfwjs ships (`model.min.js`,
 * `group1-shardNofM.min.js`) WITHOUT executing them: each bundle's module 1 is
 * `<param>.exports=<literal>}` where the literal is a minified JS object/string. We locate that
 * assignment and parse the literal with a small strict parser for the subset minifiers emit
 * (JSON plus unquoted keys, `.5` numbers, `!0`/`!1` booleans, `void 0`). Anything else is an error,
 * so a changed bundle format fails loudly instead of being evaluated.
 */
import { CaptionerError } from '@captioner/core';

export type JsLiteral = null | boolean | number | string | JsLiteral[] | { [key: string]: JsLiteral | undefined } | undefined;

/** Parses the value assigned to `module.exports` in module 1 of a browserify bundle. */
export function parseBrowserifyExport(source: string, file: string): JsLiteral {
  // Module 1 is `{1:[function(a,n,i){n.exports=…},{}]}`: find the factory's 2nd parameter name.
  const header = /\{1:\[function\((\w+),(\w+),(\w+)\)\{/.exec(source);
  if (!header) throw new CaptionerError(`${file}: not a browserify bundle (no "{1:[function(a,b,c){" module header)`);
  const assign = `${header[2]}.exports=`;
  const start = source.indexOf(assign, header.index + header[0].length);
  if (start !== header.index + header[0].length) {
    throw new CaptionerError(`${file}: module 1 does not start with "${assign}"; unsupported bundle format`);
  }
  const parser = new LiteralParser(source, start + assign.length, file);
  const value = parser.parseValue();
  parser.expect('}');
  return value;
}

class LiteralParser {
  constructor(
    private readonly src: string,
    private pos: number,
    private readonly file: string,
  ) {}

  private fail(what: string): never {
    const snippet = this.src.slice(this.pos, this.pos + 40);
    throw new CaptionerError(`${this.file}: offset ${this.pos}: ${what} (at "${snippet}")`);
  }

  private skipWs(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
  }

  expect(ch: string): void {
    this.skipWs();
    if (this.src[this.pos] !== ch) this.fail(`expected "${ch}"`);
    this.pos++;
  }

  parseValue(): JsLiteral {
    this.skipWs();
    const c = this.src[this.pos];
    if (c === '{') return this.parseObject();
    if (c === '[') return this.parseArray();
    if (c === '"' || c === "'") return this.parseString();
    if (c === '!') {
      // Minifiers write true/false as !0/!1.
      const m = /^!([01])/.exec(this.src.slice(this.pos, this.pos + 2));
      if (!m) this.fail('unsupported "!" expression');
      this.pos += 2;
      return m[1] === '0';
    }
    if (c === '-' || c === '.' || (c >= '0' && c <= '9')) return this.parseNumber();
    for (const [word, value] of [
      ['null', null],
      ['true', true],
      ['false', false],
      ['void 0', undefined],
    ] as const) {
      if (this.src.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    return this.fail('unsupported literal');
  }

  private parseNumber(): number {
    const m = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(this.src.slice(this.pos, this.pos + 64));
    if (!m) this.fail('bad number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private parseString(): string {
    const quote = this.src[this.pos++];
    let out = '';
    let chunkStart = this.pos;
    for (;;) {
      // Fast path: base64 weight shards are megabytes without escapes.
      const next = this.src.indexOf(quote, this.pos);
      const backslash = this.src.indexOf('\\', this.pos);
      if (next < 0) this.fail('unterminated string');
      if (backslash < 0 || backslash > next) {
        out += this.src.slice(chunkStart, next);
        this.pos = next + 1;
        return out;
      }
      out += this.src.slice(chunkStart, backslash);
      const e = this.src[backslash + 1];
      this.pos = backslash + 2;
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };
      if (e === 'u') {
        const hex = this.src.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 4;
      } else if (e === 'x') {
        const hex = this.src.slice(this.pos, this.pos + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail('bad \\x escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 2;
      } else {
        out += simple[e] ?? e;
      }
      chunkStart = this.pos;
    }
  }

  private parseKey(): string {
    this.skipWs();
    const c = this.src[this.pos];
    if (c === '"' || c === "'") return this.parseString();
    const m = /^[A-Za-z_$][\w$]*|^\d+/.exec(this.src.slice(this.pos, this.pos + 256));
    if (!m) this.fail('bad object key');
    this.pos += m[0].length;
    return m[0];
  }

  private parseObject(): { [key: string]: JsLiteral } {
    this.expect('{');
    const obj: { [key: string]: JsLiteral } = Object.create(null);
    this.skipWs();
    if (this.src[this.pos] === '}') {
      this.pos++;
      return obj;
    }
    for (;;) {
      const key = this.parseKey();
      this.expect(':');
      obj[key] = this.parseValue();
      this.skipWs();
      const c = this.src[this.pos++];
      if (c === '}') return obj;
      if (c !== ',') {
        this.pos--;
        this.fail('expected "," or "}"');
      }
    }
  }

  private parseArray(): JsLiteral[] {
    this.expect('[');
    const arr: JsLiteral[] = [];
    this.skipWs();
    if (this.src[this.pos] === ']') {
      this.pos++;
      return arr;
    }
    for (;;) {
      arr.push(this.parseValue());
      this.skipWs();
      const c = this.src[this.pos++];
      if (c === ']') return arr;
      if (c !== ',') {
        this.pos--;
        this.fail('expected "," or "]"');
      }
    }
  }
}
