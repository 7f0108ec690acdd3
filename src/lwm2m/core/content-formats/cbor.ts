/**
 * A small CBOR (RFC 8949) reader and writer for the LwM2M formats. Written here rather than
 * taken from a library so that every limit is checked before anything is allocated: a
 * declared length or item count is compared with the bytes that remain, nesting is bounded,
 * and every failure is ERR_LWM2M_CONTENT_FORMAT with the offset of the offending item.
 */
import { contentError } from './values';

export type CborItem =
  | { readonly kind: 'int'; readonly value: bigint; readonly offset?: number }
  | { readonly kind: 'float'; readonly value: number; readonly offset?: number }
  | { readonly kind: 'bytes'; readonly value: Buffer; readonly offset?: number }
  | { readonly kind: 'text'; readonly value: string; readonly offset?: number }
  | { readonly kind: 'array'; readonly items: readonly CborItem[]; readonly offset?: number }
  | { readonly kind: 'map'; readonly entries: readonly (readonly [CborItem, CborItem])[]; readonly offset?: number }
  | { readonly kind: 'tag'; readonly tag: bigint; readonly item: CborItem; readonly offset?: number }
  | { readonly kind: 'simple'; readonly value: number; readonly offset?: number };

export const CBOR_FALSE = 20;
export const CBOR_TRUE = 21;
export const CBOR_NULL = 22;

export interface CborDecodeOptions {
  /** Deepest nesting of arrays, maps and tags (default 16). */
  readonly maxDepth?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly maxDepth: number,
  ) {}

  private need(n: number, at: number): void {
    if (n > this.buf.length - this.pos) throw contentError('truncated CBOR item', at);
  }

  /** The argument of a head; -1n for indefinite length (ai 31). */
  private argument(ai: number, at: number): bigint {
    if (ai < 24) return BigInt(ai);
    const b = this.buf;
    switch (ai) {
      case 24:
        this.need(1, at);
        return BigInt(b[this.pos++] as number);
      case 25:
        this.need(2, at);
        this.pos += 2;
        return BigInt(b.readUInt16BE(this.pos - 2));
      case 26:
        this.need(4, at);
        this.pos += 4;
        return BigInt(b.readUInt32BE(this.pos - 4));
      case 27:
        this.need(8, at);
        this.pos += 8;
        return b.readBigUInt64BE(this.pos - 8);
      case 31:
        return -1n;
      default:
        throw contentError(`reserved CBOR additional information ${ai}`, at);
    }
  }

  private length(arg: bigint, unit: number, at: number): number {
    // RFC 8949 §3: a length can be up to 2^64−1; anything beyond the remaining input is a
    // lie, and is refused before it reaches an allocation.
    const remaining = BigInt(this.buf.length - this.pos);
    if (arg * BigInt(unit) > remaining) throw contentError(`CBOR length ${arg} exceeds the remaining ${remaining} bytes`, at);
    return Number(arg);
  }

  private isBreak(): boolean {
    return this.buf[this.pos] === 0xff;
  }

  private chunks(major: 2 | 3, at: number): Buffer {
    const parts: Buffer[] = [];
    for (;;) {
      this.need(1, at);
      if (this.isBreak()) {
        this.pos++;
        return Buffer.concat(parts);
      }
      const cAt = this.pos;
      const head = this.buf[this.pos++] as number;
      if (head >> 5 !== major || (head & 31) === 31) throw contentError('invalid chunk in an indefinite-length string', cAt);
      const n = this.length(this.argument(head & 31, cAt), 1, cAt);
      parts.push(this.buf.subarray(this.pos, this.pos + n));
      this.pos += n;
    }
  }

  private text(bytes: Buffer, at: number): string {
    try {
      return utf8.decode(bytes);
    } catch (err) {
      throw contentError('text string is not valid UTF-8', at, err);
    }
  }

  item(depth: number): CborItem {
    const at = this.pos;
    if (depth > this.maxDepth) throw contentError(`CBOR nesting deeper than ${this.maxDepth}`, at);
    this.need(1, at);
    const head = this.buf[this.pos++] as number;
    const major = head >> 5;
    const ai = head & 31;
    if (major === 7) return this.simpleOrFloat(ai, at);
    const arg = this.argument(ai, at);
    switch (major) {
      case 0:
        if (arg < 0n) throw contentError('indefinite length on an integer', at);
        return { kind: 'int', value: arg, offset: at };
      case 1:
        if (arg < 0n) throw contentError('indefinite length on an integer', at);
        return { kind: 'int', value: -1n - arg, offset: at };
      case 2:
      case 3: {
        let bytes: Buffer;
        if (arg < 0n) bytes = this.chunks(major, at);
        else {
          const n = this.length(arg, 1, at);
          bytes = this.buf.subarray(this.pos, this.pos + n);
          this.pos += n;
        }
        return major === 2 ? { kind: 'bytes', value: Buffer.from(bytes), offset: at } : { kind: 'text', value: this.text(bytes, at), offset: at };
      }
      case 4: {
        const items: CborItem[] = [];
        if (arg < 0n) {
          for (;;) {
            this.need(1, at);
            if (this.isBreak()) {
              this.pos++;
              break;
            }
            items.push(this.item(depth + 1));
          }
        } else {
          const n = this.length(arg, 1, at);
          for (let i = 0; i < n; i++) items.push(this.item(depth + 1));
        }
        return { kind: 'array', items, offset: at };
      }
      case 5: {
        const entries: [CborItem, CborItem][] = [];
        if (arg < 0n) {
          for (;;) {
            this.need(1, at);
            if (this.isBreak()) {
              this.pos++;
              break;
            }
            const k = this.item(depth + 1);
            entries.push([k, this.item(depth + 1)]);
          }
        } else {
          const n = this.length(arg, 2, at);
          for (let i = 0; i < n; i++) {
            const k = this.item(depth + 1);
            entries.push([k, this.item(depth + 1)]);
          }
        }
        return { kind: 'map', entries, offset: at };
      }
      default: {
        // major 6: tag
        if (arg < 0n) throw contentError('indefinite length on a tag', at);
        return { kind: 'tag', tag: arg, item: this.item(depth + 1), offset: at };
      }
    }
  }

  private simpleOrFloat(ai: number, at: number): CborItem {
    const b = this.buf;
    switch (ai) {
      case 24: {
        this.need(1, at);
        const v = b[this.pos++] as number;
        // RFC 8949 §3.3: simple values below 32 in the two-byte form are not well-formed.
        if (v < 32) throw contentError(`not well-formed simple value ${v}`, at);
        return { kind: 'simple', value: v, offset: at };
      }
      case 25:
        this.need(2, at);
        this.pos += 2;
        return { kind: 'float', value: halfToNumber(b.readUInt16BE(this.pos - 2)), offset: at };
      case 26:
        this.need(4, at);
        this.pos += 4;
        return { kind: 'float', value: b.readFloatBE(this.pos - 4), offset: at };
      case 27:
        this.need(8, at);
        this.pos += 8;
        return { kind: 'float', value: b.readDoubleBE(this.pos - 8), offset: at };
      case 28:
      case 29:
      case 30:
        throw contentError(`reserved CBOR additional information ${ai}`, at);
      case 31:
        throw contentError('unexpected CBOR break', at);
      default:
        return { kind: 'simple', value: ai, offset: at };
    }
  }

  atEnd(): boolean {
    return this.pos === this.buf.length;
  }
}

/**
 * Decodes exactly one CBOR item that fills `bytes`.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_CONTENT_FORMAT (with `context.offset`) for malformed
 *   or truncated input, lengths beyond the input, excessive nesting or trailing bytes.
 */
export function decodeCbor(bytes: Buffer, options: CborDecodeOptions = {}): CborItem {
  const r = new Reader(bytes, options.maxDepth ?? 16);
  const item = r.item(0);
  if (!r.atEnd()) throw contentError('trailing bytes after the CBOR item', r.pos);
  return item;
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The half-precision bits of `v` when it is exactly representable, else undefined. */
function numberToHalf(v: number): number | undefined {
  if (Number.isNaN(v)) return 0x7e00;
  if (v === Infinity) return 0x7c00;
  if (v === -Infinity) return 0xfc00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  const exp = Math.floor(Math.log2(a));
  if (exp < -24 || exp > 15) return undefined;
  let bits: number;
  if (exp < -14) {
    const mant = a / 2 ** -24;
    if (!Number.isInteger(mant)) return undefined;
    bits = sign | mant;
  } else {
    const mant = (a / 2 ** exp - 1) * 1024;
    if (!Number.isInteger(mant) || mant >= 1024) return undefined;
    bits = sign | ((exp + 15) << 10) | mant;
  }
  return halfToNumber(bits) === v ? bits : undefined;
}

/** Writes CBOR items with the shortest heads (RFC 8949 §4.2.1 preferred serialization). */
export class CborWriter {
  private readonly parts: Buffer[] = [];

  private head(major: number, arg: bigint): this {
    const m = major << 5;
    if (arg < 24n) this.parts.push(Buffer.from([m | Number(arg)]));
    else if (arg < 0x100n) this.parts.push(Buffer.from([m | 24, Number(arg)]));
    else if (arg < 0x10000n) {
      const b = Buffer.alloc(3);
      b[0] = m | 25;
      b.writeUInt16BE(Number(arg), 1);
      this.parts.push(b);
    } else if (arg < 0x100000000n) {
      const b = Buffer.alloc(5);
      b[0] = m | 26;
      b.writeUInt32BE(Number(arg), 1);
      this.parts.push(b);
    } else {
      const b = Buffer.alloc(9);
      b[0] = m | 27;
      b.writeBigUInt64BE(arg, 1);
      this.parts.push(b);
    }
    return this;
  }

  /** An integer from −2^64 to 2^64 − 1. */
  int(v: bigint | number): this {
    const b = BigInt(v);
    return b >= 0n ? this.head(0, b) : this.head(1, -1n - b);
  }

  /** The shortest of half, single and double precision that holds `v` exactly. */
  float(v: number): this {
    const half = numberToHalf(v);
    if (half !== undefined) {
      const b = Buffer.alloc(3);
      b[0] = 0xf9;
      b.writeUInt16BE(half, 1);
      this.parts.push(b);
    } else if (Math.fround(v) === v) {
      const b = Buffer.alloc(5);
      b[0] = 0xfa;
      b.writeFloatBE(v, 1);
      this.parts.push(b);
    } else {
      const b = Buffer.alloc(9);
      b[0] = 0xfb;
      b.writeDoubleBE(v, 1);
      this.parts.push(b);
    }
    return this;
  }

  /** An integer when `v` is a safe integer (not −0), else a float: what SenML's JSON/CBOR equivalence allows. */
  number(v: number): this {
    return Number.isSafeInteger(v) && !Object.is(v, -0) ? this.int(v) : this.float(v);
  }

  bytes(v: Uint8Array): this {
    this.head(2, BigInt(v.length));
    this.parts.push(Buffer.from(v.buffer, v.byteOffset, v.length));
    return this;
  }

  text(v: string): this {
    const b = Buffer.from(v, 'utf8');
    this.head(3, BigInt(b.length));
    this.parts.push(b);
    return this;
  }

  arrayHeader(n: number): this {
    return this.head(4, BigInt(n));
  }

  mapHeader(n: number): this {
    return this.head(5, BigInt(n));
  }

  tag(t: number | bigint): this {
    return this.head(6, BigInt(t));
  }

  bool(v: boolean): this {
    this.parts.push(Buffer.from([v ? 0xf5 : 0xf4]));
    return this;
  }

  null(): this {
    this.parts.push(Buffer.from([0xf6]));
    return this;
  }

  /** Writes a whole item tree. */
  item(i: CborItem): this {
    switch (i.kind) {
      case 'int':
        return this.int(i.value);
      case 'float':
        return this.float(i.value);
      case 'bytes':
        return this.bytes(i.value);
      case 'text':
        return this.text(i.value);
      case 'array':
        this.arrayHeader(i.items.length);
        for (const x of i.items) this.item(x);
        return this;
      case 'map':
        this.mapHeader(i.entries.length);
        for (const [k, v] of i.entries) this.item(k).item(v);
        return this;
      case 'tag':
        return this.tag(i.tag).item(i.item);
      case 'simple':
        if (i.value < 24) this.parts.push(Buffer.from([0xe0 | i.value]));
        else this.parts.push(Buffer.from([0xf8, i.value]));
        return this;
    }
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Describes an item for error messages ("a text string"). */
export function describeCbor(i: CborItem): string {
  switch (i.kind) {
    case 'int':
      return 'an integer';
    case 'float':
      return 'a float';
    case 'bytes':
      return 'a byte string';
    case 'text':
      return 'a text string';
    case 'array':
      return 'an array';
    case 'map':
      return 'a map';
    case 'tag':
      return `tag ${i.tag}`;
    case 'simple':
      return i.value === CBOR_NULL ? 'null' : i.value === CBOR_TRUE || i.value === CBOR_FALSE ? 'a boolean' : `simple value ${i.value}`;
  }
}
