/**
 * A strict JSON (RFC 8259) reader for SenML JSON and LwM2M JSON that keeps numbers as their
 * text (so int64 values beyond 2^53 survive), bounds nesting, and reports byte offsets.
 */
import { contentError } from './values';

export type JsonValue =
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, JsonValue])[]; readonly offset: number }
  | { readonly kind: 'array'; readonly items: readonly JsonValue[]; readonly offset: number }
  | { readonly kind: 'string'; readonly value: string; readonly offset: number }
  | { readonly kind: 'number'; readonly text: string; readonly offset: number }
  | { readonly kind: 'boolean'; readonly value: boolean; readonly offset: number }
  | { readonly kind: 'null'; readonly offset: number };

/** Offset of the first byte that breaks UTF-8, or -1. */
function invalidUtf8At(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    let n: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Parser {
  private pos = 0;
  constructor(
    private readonly s: string,
    private readonly bytes: Buffer,
    private readonly maxDepth: number,
  ) {}

  /** Byte offset of a character offset (computed only when an error is raised). */
  private byteOffset(charOffset: number): number {
    return Buffer.byteLength(this.s.slice(0, charOffset), 'utf8');
  }

  fail(message: string, at = this.pos): never {
    throw contentError(message, Math.min(this.byteOffset(at), this.bytes.length));
  }

  private ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  value(depth: number): JsonValue {
    this.ws();
    const at = this.pos;
    if (depth > this.maxDepth) this.fail(`JSON nesting deeper than ${this.maxDepth}`);
    const c = this.s[this.pos];
    switch (c) {
      case '{': {
        this.pos++;
        const entries: [string, JsonValue][] = [];
        this.ws();
        if (this.s[this.pos] === '}') {
          this.pos++;
          return { kind: 'object', entries, offset: this.byteOffset(at) };
        }
        for (;;) {
          this.ws();
          if (this.s[this.pos] !== '"') this.fail('expected a member name');
          const key = this.string();
          this.ws();
          if (this.s[this.pos] !== ':') this.fail('expected ":"');
          this.pos++;
          entries.push([key, this.value(depth + 1)]);
          this.ws();
          const d = this.s[this.pos++];
          if (d === '}') return { kind: 'object', entries, offset: this.byteOffset(at) };
          if (d !== ',') this.fail('expected "," or "}"', this.pos - 1);
        }
      }
      case '[': {
        this.pos++;
        const items: JsonValue[] = [];
        this.ws();
        if (this.s[this.pos] === ']') {
          this.pos++;
          return { kind: 'array', items, offset: this.byteOffset(at) };
        }
        for (;;) {
          items.push(this.value(depth + 1));
          this.ws();
          const d = this.s[this.pos++];
          if (d === ']') return { kind: 'array', items, offset: this.byteOffset(at) };
          if (d !== ',') this.fail('expected "," or "]"', this.pos - 1);
        }
      }
      case '"':
        return { kind: 'string', value: this.string(), offset: this.byteOffset(at) };
      case 't':
      case 'f':
      case 'n': {
        for (const [word, v] of [
          ['true', true],
          ['false', false],
          ['null', null],
        ] as const) {
          if (this.s.startsWith(word, this.pos)) {
            this.pos += word.length;
            return v === null ? { kind: 'null', offset: this.byteOffset(at) } : { kind: 'boolean', value: v, offset: this.byteOffset(at) };
          }
        }
        return this.fail('unexpected token');
      }
      default: {
        NUMBER.lastIndex = this.pos;
        const m = NUMBER.exec(this.s);
        if (!m || m[0].length === 0) return this.fail(c === undefined ? 'unexpected end of JSON' : 'unexpected token');
        this.pos += m[0].length;
        return { kind: 'number', text: m[0], offset: this.byteOffset(at) };
      }
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++; // opening quote
    let out = '';
    let run = this.pos;
    for (;;) {
      const c = this.s.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.fail('unterminated string', start);
      if (c === 0x22) {
        out += this.s.slice(run, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in a string');
      if (c === 0x5c) {
        out += this.s.slice(run, this.pos);
        const e = this.s[this.pos + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          this.pos += 2;
        } else if (e === 'u') {
          const hex = this.s.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 6;
        } else this.fail('invalid escape');
        run = this.pos;
        continue;
      }
      this.pos++;
    }
  }

  end(): void {
    this.ws();
    if (this.pos !== this.s.length) this.fail('trailing characters after the JSON value');
  }
}

/**
 * Parses a whole JSON document from UTF-8 bytes.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_CONTENT_FORMAT with the byte offset of the error.
 */
export function parseJson(bytes: Buffer, maxDepth = 8): JsonValue {
  const bad = invalidUtf8At(bytes);
  if (bad >= 0) throw contentError('JSON text is not valid UTF-8', bad);
  const p = new Parser(bytes.toString('utf8'), bytes, maxDepth);
  const v = p.value(0);
  p.end();
  return v;
}

/** JSON string literal. */
export function jsonString(s: string): string {
  return JSON.stringify(s);
}
