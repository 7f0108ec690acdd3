/**
 * A small, strict CBOR codec for SUIT (RFC 8949).
 *
 * Why not cbor-x: SUIT needs byte-exact round trips (a digest covers the encoded bytes),
 * integer map keys in canonical order, bstr-wrapped sub-structures and preserved unknown
 * elements. A strict decoder that accepts only the deterministic encoding, paired with an
 * encoder that emits exactly that encoding, gives `encode(decode(b)) === b` for every input the
 * decoder accepts, without bookkeeping of original spans.
 *
 * draft-ietf-suit-manifest-34 §8.1: "All CBOR maps in the Manifest and manifest envelope MUST
 * be encoded with the canonical CBOR ordering as defined in RFC8949." — we read that as the
 * core deterministic encoding of RFC 8949 §4.2.1: preferred (shortest) argument encoding,
 * definite lengths only, map keys sorted bytewise by their encoding, no duplicate keys.
 */
import { Lwm2mFotaError } from '../errors';

/** A decoded CBOR data item. Integers are `number` when safe, `bigint` beyond ±2^53. */
export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | CborMap
  | CborTag
  | CborSimple
  | CborFloat;

/** A CBOR map: ordered entries (keys may be any item, e.g. component identifiers). */
export class CborMap {
  constructor(readonly entries: Array<[CborValue, CborValue]> = []) {}

  /** The value of an integer or text key, or `undefined` when absent. */
  get(key: number | string): CborValue | undefined {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  has(key: number | string): boolean {
    return this.entries.some(([k]) => k === key);
  }

  set(key: CborValue, value: CborValue): this {
    this.entries.push([key, value]);
    return this;
  }
}

/** A tagged item (major type 6). */
export class CborTag {
  constructor(
    readonly tag: number | bigint,
    readonly value: CborValue,
  ) {}
}

/** A simple value other than false/true/null/undefined, preserved as its number. */
export class CborSimple {
  constructor(readonly value: number) {}
}

/** A float, preserved with its original width so it re-encodes to the same bytes. */
export class CborFloat {
  /** `bytes` holds the 2, 4 or 8 bytes after the initial byte, big-endian. */
  constructor(readonly bytes: Uint8Array) {}

  get value(): number {
    const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    if (this.bytes.length === 8) return dv.getFloat64(0);
    if (this.bytes.length === 4) return dv.getFloat32(0);
    return halfToNumber(dv.getUint16(0));
  }
}

function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (mant + 1024) * 2 ** (exp - 25);
}

/** Limits that keep a hostile input from exhausting the stack or memory. */
export interface CborDecodeOptions {
  /** Deepest nesting of arrays, maps and tags (default 32). */
  maxDepth?: number;
}

function cborError(message: string, offset: number): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_SUIT_CBOR', message, { context: { offset } });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

class Reader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly maxDepth: number,
  ) {}

  byte(): number {
    const b = this.buf[this.pos];
    if (b === undefined) throw cborError('truncated CBOR: unexpected end of input', this.pos);
    this.pos++;
    return b;
  }

  take(n: number): Uint8Array {
    // Check the declared length against what is left before slicing (no large allocation
    // driven by a length field).
    if (n > this.buf.length - this.pos) throw cborError(`truncated CBOR: ${n} bytes declared, ${this.buf.length - this.pos} left`, this.pos);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads the argument of a head; enforces the shortest (preferred) encoding. */
  argument(ai: number, start: number): number | bigint {
    if (ai < 24) return ai;
    let v: number | bigint;
    let min: number | bigint;
    switch (ai) {
      case 24:
        v = this.byte();
        min = 24;
        break;
      case 25: {
        const b = this.take(2);
        v = (b[0]! << 8) | b[1]!;
        min = 0x100;
        break;
      }
      case 26: {
        const b = this.take(4);
        v = ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
        min = 0x10000;
        break;
      }
      case 27: {
        const b = this.take(8);
        const hi = ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
        const lo = ((b[4]! << 24) >>> 0) + ((b[5]! << 16) | (b[6]! << 8) | b[7]!);
        const big = (BigInt(hi) << 32n) | BigInt(lo);
        v = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
        min = 0x100000000;
        break;
      }
      case 31:
        throw cborError('indefinite-length item: not allowed in deterministic CBOR', start);
      default:
        throw cborError(`reserved additional information ${ai}`, start);
    }
    if (v < min) throw cborError('argument not in its shortest form (RFC 8949 §4.2.1)', start);
    return v;
  }

  length(ai: number, start: number): number {
    const n = this.argument(ai, start);
    if (typeof n === 'bigint' || n > this.buf.length) throw cborError(`length ${n} exceeds the input`, start);
    return n;
  }

  item(depth: number): CborValue {
    if (depth > this.maxDepth) throw cborError(`nesting deeper than ${this.maxDepth}`, this.pos);
    const start = this.pos;
    const ib = this.byte();
    const mt = ib >> 5;
    const ai = ib & 0x1f;
    switch (mt) {
      case 0:
        return this.argument(ai, start);
      case 1: {
        const a = this.argument(ai, start);
        if (typeof a === 'bigint') return -1n - a;
        const n = -1 - a;
        return Number.isSafeInteger(n) ? n : -1n - BigInt(a);
      }
      case 2:
        return this.take(this.length(ai, start));
      case 3: {
        const bytes = this.take(this.length(ai, start));
        try {
          return utf8.decode(bytes);
        } catch {
          throw cborError('text string is not valid UTF-8', start);
        }
      }
      case 4: {
        const n = this.length(ai, start);
        // Each element takes at least one byte, so n cannot exceed what is left.
        if (n > this.buf.length - this.pos) throw cborError(`array of ${n} items exceeds the input`, start);
        const out: CborValue[] = new Array<CborValue>(n);
        for (let i = 0; i < n; i++) out[i] = this.item(depth + 1);
        return out;
      }
      case 5: {
        const n = this.length(ai, start);
        if (2 * n > this.buf.length - this.pos) throw cborError(`map of ${n} pairs exceeds the input`, start);
        const map = new CborMap();
        let prevKey: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          const key = this.item(depth + 1);
          const keyBytes = this.buf.subarray(keyStart, this.pos);
          if (prevKey !== undefined) {
            const c = compareBytes(prevKey, keyBytes);
            if (c === 0) throw cborError('duplicate map key', keyStart);
            if (c > 0) throw cborError('map keys not in canonical order (RFC 8949 §4.2.1)', keyStart);
          }
          prevKey = keyBytes;
          map.entries.push([key, this.item(depth + 1)]);
        }
        return map;
      }
      case 6: {
        const tag = this.argument(ai, start);
        return new CborTag(tag, this.item(depth + 1));
      }
      default: {
        // major type 7
        if (ai < 20) return new CborSimple(ai);
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 23) return undefined;
        if (ai === 24) {
          const v = this.byte();
          if (v < 32) throw cborError('simple value below 32 in two-byte form', start);
          return new CborSimple(v);
        }
        if (ai === 25) return new CborFloat(this.take(2).slice());
        if (ai === 26) return new CborFloat(this.take(4).slice());
        if (ai === 27) return new CborFloat(this.take(8).slice());
        if (ai === 31) throw cborError('unexpected break', start);
        throw cborError(`reserved additional information ${ai}`, start);
      }
    }
  }
}

/** Bytewise lexicographic comparison, the key order of RFC 8949 §4.2.1. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Decodes exactly one deterministically encoded CBOR item. Returned byte strings are views
 * into `bytes` (no copy).
 *
 * @throws Lwm2mFotaError `ERR_SUIT_CBOR` when the input is truncated, ill-formed, not in
 *   deterministic encoding, nested too deeply, or followed by trailing bytes.
 */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): CborValue {
  const r = new Reader(bytes, options.maxDepth ?? 32);
  const v = r.item(0);
  if (r.pos !== bytes.length) throw cborError(`${bytes.length - r.pos} trailing bytes after the CBOR item`, r.pos);
  return v;
}

class Writer {
  private buf = new Uint8Array(256);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  push(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  head(mt: number, v: number | bigint): void {
    const m = mt << 5;
    if (typeof v === 'bigint') {
      if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`CBOR argument out of range: ${v}`);
      if (v <= 0xffffffffn) return this.head(mt, Number(v));
      this.push(m | 27);
      for (let i = 7; i >= 0; i--) this.push(Number((v >> BigInt(8 * i)) & 0xffn));
      return;
    }
    if (v < 24) this.push(m | v);
    else if (v < 0x100) {
      this.push(m | 24);
      this.push(v);
    } else if (v < 0x10000) {
      this.push(m | 25);
      this.push(v >> 8);
      this.push(v & 0xff);
    } else if (v < 0x100000000) {
      this.push(m | 26);
      this.push((v >>> 24) & 0xff);
      this.push((v >>> 16) & 0xff);
      this.push((v >>> 8) & 0xff);
      this.push(v & 0xff);
    } else {
      this.head(mt, BigInt(v));
    }
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function write(w: Writer, v: CborValue): void {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`CBOR encoder: ${v} is not an integer (use CborFloat)`);
    if (v >= 0) w.head(0, v);
    else w.head(1, -1 - v);
  } else if (typeof v === 'bigint') {
    if (v >= 0n) w.head(0, v);
    else w.head(1, -1n - v);
  } else if (typeof v === 'string') {
    const b = utf8Encoder.encode(v);
    w.head(3, b.length);
    w.bytes(b);
  } else if (v instanceof Uint8Array) {
    w.head(2, v.length);
    w.bytes(v);
  } else if (v === false) w.push(0xf4);
  else if (v === true) w.push(0xf5);
  else if (v === null) w.push(0xf6);
  else if (v === undefined) w.push(0xf7);
  else if (Array.isArray(v)) {
    w.head(4, v.length);
    for (const item of v) write(w, item);
  } else if (v instanceof CborMap) {
    // Canonical order: sort by the encoded key bytes (RFC 8949 §4.2.1).
    const pairs = v.entries.map(([k, val]) => [encodeCbor(k), val] as const);
    pairs.sort((a, b) => compareBytes(a[0], b[0]));
    for (let i = 1; i < pairs.length; i++) {
      if (compareBytes(pairs[i - 1]![0], pairs[i]![0]) === 0) throw new TypeError('CBOR encoder: duplicate map key');
    }
    w.head(5, pairs.length);
    for (const [k, val] of pairs) {
      w.bytes(k);
      write(w, val);
    }
  } else if (v instanceof CborTag) {
    w.head(6, v.tag);
    write(w, v.value);
  } else if (v instanceof CborSimple) {
    if (v.value < 24) w.push(0xe0 | v.value);
    else {
      w.push(0xf8);
      w.push(v.value);
    }
  } else if (v instanceof CborFloat) {
    w.push(v.bytes.length === 2 ? 0xf9 : v.bytes.length === 4 ? 0xfa : 0xfb);
    w.bytes(v.bytes);
  } else {
    throw new TypeError('CBOR encoder: unsupported value');
  }
}

/** Encodes a value in deterministic CBOR (RFC 8949 §4.2.1): shortest heads, sorted map keys. */
export function encodeCbor(v: CborValue): Uint8Array {
  const w = new Writer();
  write(w, v);
  return w.result();
}

/** The encoded head of a byte string of `length` bytes (used to digest bstr-wrapped items). */
export function bstrHeader(length: number): Uint8Array {
  const w = new Writer();
  w.head(2, length);
  return w.result();
}

/** `bstr .cbor` wrapping as it appears on the wire: the encoded bstr, header included. */
export function wrapBstr(content: Uint8Array): Uint8Array {
  const h = bstrHeader(content.length);
  const out = new Uint8Array(h.length + content.length);
  out.set(h);
  out.set(content, h.length);
  return out;
}

/** Builds a CborMap from entries (order does not matter: the encoder sorts). */
export function cborMap(entries: Array<[CborValue, CborValue]>): CborMap {
  return new CborMap(entries);
}
