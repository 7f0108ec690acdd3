/**
 * The one CBOR (RFC 8949) decoder of the project. It walks the input, checks it, and hands
 * every item to a builder that says how the caller represents it: SUIT builds plain values
 * that re-encode byte for byte, the LwM2M content formats build kinded items with offsets.
 *
 * Why our own and not a library: every limit is checked before anything is allocated (a
 * declared length or count is compared with the bytes that remain), nesting is bounded, no
 * partial result ever escapes, and each layer keeps its own error code — the decoder throws
 * only what the caller's `error` factory makes.
 *
 * Two dialects:
 * - `deterministic: true` accepts only the core deterministic encoding of RFC 8949 §4.2.1
 *   (preferred argument encoding, definite lengths, map keys sorted bytewise by their
 *   encoding, no duplicate keys); SUIT needs it for `encode(decode(b)) === b`.
 * - `deterministic: false` accepts any well-formed item (§3), indefinite lengths included, as
 *   LwM2M devices may send them.
 *
 * This folder is a leaf: it imports nothing from the rest of `src/`.
 */

/** Makes the error a layer throws for malformed input at byte `offset`. */
export type CborErrorFactory = (message: string, offset: number, cause?: unknown) => Error;

/**
 * How a caller represents decoded items. `at` is the offset of the item's initial byte.
 * Every method returns the caller's representation of one complete item.
 */
export interface CborBuilder<T> {
  /** Major types 0 and 1: a `number` when safe, else a `bigint` (−2^64 … 2^64 − 1). */
  int(value: number | bigint, at: number): T;
  /** Major type 2. `view` aliases the input (or a concatenation of chunks): copy it to keep it apart. */
  bytes(view: Uint8Array, at: number): T;
  /** Major type 3, already checked to be UTF-8. */
  text(value: string, at: number): T;
  array(items: T[], at: number): T;
  map(entries: Array<[T, T]>, at: number): T;
  tag(tag: number | bigint, item: T, at: number): T;
  /** Simple values 0…23 (20 false, 21 true, 22 null, 23 undefined) and 32…255. */
  simple(value: number, at: number): T;
  /** A float: `bits` are the 2, 4 or 8 bytes after the initial byte, big-endian (a view). */
  float(bits: Uint8Array, at: number): T;
}

/** What a layer fixes once for all its decodes. */
export interface CborDialect<T> {
  readonly builder: CborBuilder<T>;
  readonly error: CborErrorFactory;
  /** Accept only the core deterministic encoding (RFC 8949 §4.2.1). */
  readonly deterministic: boolean;
  /** Deepest nesting of arrays, maps and tags when a call gives none. */
  readonly maxDepth: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytewise lexicographic comparison, the key order of RFC 8949 §4.2.1. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** compareBytes over two ranges of one buffer, without making views of them. */
function compareRanges(b: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    const d = b[a0 + i]! - b[b0 + i]!;
    if (d !== 0) return d;
  }
  return a1 - a0 - (b1 - b0);
}

/** The value of an IEEE 754 half-precision number (RFC 8949 Appendix D). */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (mant + 1024) * 2 ** (exp - 25);
}

/** The number a float item's 2, 4 or 8 big-endian bytes hold. */
export function floatValue(bits: Uint8Array): number {
  const dv = new DataView(bits.buffer, bits.byteOffset, bits.byteLength);
  if (bits.length === 8) return dv.getFloat64(0);
  if (bits.length === 4) return dv.getFloat32(0);
  return halfToNumber(dv.getUint16(0));
}

/** Text without a byte above 0x7f is its own UTF-8; short ones skip the TextDecoder call. */
function decodeText(b: Uint8Array): string | undefined {
  if (b.length > 32) return undefined;
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c > 0x7f) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Marks an indefinite length (additional information 31) in `argument`'s result. */
const INDEFINITE = -1;

class Reader<T> {
  pos = 0;
  private readonly b: CborBuilder<T>;
  private readonly fail: CborErrorFactory;
  private readonly strict: boolean;

  constructor(
    private readonly buf: Uint8Array,
    private readonly maxDepth: number,
    d: CborDialect<T>,
  ) {
    this.b = d.builder;
    this.fail = d.error;
    this.strict = d.deterministic;
  }

  private truncated(at: number): Error {
    return this.fail('truncated CBOR item', at);
  }

  /**
   * The argument of a head, `INDEFINITE` for additional information 31 (which the
   * deterministic dialect refuses outright). In the deterministic dialect the argument must
   * be in its shortest form (RFC 8949 §4.2.1).
   */
  private argument(ai: number, at: number): number | bigint {
    if (ai < 24) return ai;
    const b = this.buf;
    const p = this.pos;
    let v: number | bigint;
    let min: number;
    switch (ai) {
      case 24:
        if (p + 1 > b.length) throw this.truncated(at);
        v = b[p]!;
        this.pos = p + 1;
        min = 24;
        break;
      case 25:
        if (p + 2 > b.length) throw this.truncated(at);
        v = (b[p]! << 8) | b[p + 1]!;
        this.pos = p + 2;
        min = 0x100;
        break;
      case 26:
        if (p + 4 > b.length) throw this.truncated(at);
        v = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
        this.pos = p + 4;
        min = 0x10000;
        break;
      case 27: {
        if (p + 8 > b.length) throw this.truncated(at);
        const hi = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
        const lo = b[p + 4]! * 0x1000000 + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!);
        this.pos = p + 8;
        // hi < 2^21 keeps hi·2^32 + lo below 2^53: still a safe number.
        v = hi < 0x200000 ? hi * 0x100000000 + lo : (BigInt(hi) << 32n) | BigInt(lo);
        min = 0x100000000;
        break;
      }
      case 31:
        if (this.strict) throw this.fail('indefinite-length item: not allowed in deterministic CBOR', at);
        return INDEFINITE;
      default:
        throw this.fail(`reserved CBOR additional information ${ai}`, at);
    }
    if (this.strict && v < min) throw this.fail('CBOR argument not in its shortest form (RFC 8949 §4.2.1)', at);
    return v;
  }

  /**
   * A definite length or count, refused before it reaches an allocation when `unit` bytes per
   * element cannot fit in what remains (RFC 8949 §3: lengths go up to 2^64 − 1; anything
   * beyond the input is a lie).
   */
  private count(arg: number | bigint, unit: number, at: number): number {
    const remaining = this.buf.length - this.pos;
    if (typeof arg === 'bigint' || arg * unit > remaining) throw this.fail(`CBOR length ${arg} exceeds the remaining ${remaining} bytes`, at);
    return arg;
  }

  private take(n: number): Uint8Array {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** True (and consumed) when the next byte is a break; a missing byte is truncation. */
  private atBreak(at: number): boolean {
    const c = this.buf[this.pos];
    if (c === undefined) throw this.truncated(at);
    if (c !== 0xff) return false;
    this.pos++;
    return true;
  }

  /** The chunks of an indefinite-length string (§3.2.3), concatenated. */
  private chunks(major: 2 | 3, at: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    while (!this.atBreak(at)) {
      const cAt = this.pos;
      const head = this.buf[this.pos++]!;
      if (head >> 5 !== major || (head & 31) === 31) throw this.fail('invalid chunk in an indefinite-length string', cAt);
      const part = this.take(this.count(this.argument(head & 31, cAt), 1, cAt));
      parts.push(part);
      total += part.length;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  private text(bytes: Uint8Array, at: number): string {
    const fast = decodeText(bytes);
    if (fast !== undefined) return fast;
    try {
      return utf8.decode(bytes);
    } catch (err) {
      throw this.fail('text string is not valid UTF-8', at, err);
    }
  }

  item(depth: number): T {
    const at = this.pos;
    if (depth > this.maxDepth) throw this.fail(`CBOR nesting deeper than ${this.maxDepth}`, at);
    const head = this.buf[at];
    if (head === undefined) throw this.truncated(at);
    this.pos = at + 1;
    const major = head >> 5;
    const ai = head & 31;
    if (major === 7) return this.simpleOrFloat(ai, at);
    const arg = this.argument(ai, at);
    const b = this.b;
    switch (major) {
      case 0:
        if (arg === INDEFINITE) throw this.fail('indefinite length on an integer', at);
        return b.int(arg, at);
      case 1: {
        if (arg === INDEFINITE) throw this.fail('indefinite length on an integer', at);
        if (typeof arg === 'bigint') return b.int(-1n - arg, at);
        const n = -1 - arg;
        return b.int(Number.isSafeInteger(n) ? n : -1n - BigInt(arg), at);
      }
      case 2:
        return b.bytes(arg === INDEFINITE ? this.chunks(2, at) : this.take(this.count(arg, 1, at)), at);
      case 3:
        return b.text(this.text(arg === INDEFINITE ? this.chunks(3, at) : this.take(this.count(arg, 1, at)), at), at);
      case 4: {
        const items: T[] = [];
        if (arg === INDEFINITE) {
          while (!this.atBreak(at)) items.push(this.item(depth + 1));
        } else {
          // Each element takes at least one byte, so the count cannot exceed what is left.
          const n = this.count(arg, 1, at);
          for (let i = 0; i < n; i++) items.push(this.item(depth + 1));
        }
        return b.array(items, at);
      }
      case 5:
        return b.map(arg === INDEFINITE ? this.indefiniteMap(depth) : this.definiteMap(this.count(arg, 2, at), depth), at);
      default:
        // major 6: tag
        if (arg === INDEFINITE) throw this.fail('indefinite length on a tag', at);
        return b.tag(arg, this.item(depth + 1), at);
    }
  }

  private definiteMap(n: number, depth: number): Array<[T, T]> {
    const entries: Array<[T, T]> = [];
    let prevStart = -1;
    let prevEnd = -1;
    for (let i = 0; i < n; i++) {
      const keyStart = this.pos;
      const k = this.item(depth + 1);
      if (this.strict) {
        const keyEnd = this.pos;
        if (prevStart >= 0) {
          const c = compareRanges(this.buf, prevStart, prevEnd, keyStart, keyEnd);
          if (c === 0) throw this.fail('duplicate map key', keyStart);
          if (c > 0) throw this.fail('map keys not in canonical order (RFC 8949 §4.2.1)', keyStart);
        }
        prevStart = keyStart;
        prevEnd = keyEnd;
      }
      entries.push([k, this.item(depth + 1)]);
    }
    return entries;
  }

  private indefiniteMap(depth: number): Array<[T, T]> {
    const at = this.pos - 1;
    const entries: Array<[T, T]> = [];
    while (!this.atBreak(at)) {
      const k = this.item(depth + 1);
      entries.push([k, this.item(depth + 1)]);
    }
    return entries;
  }

  private simpleOrFloat(ai: number, at: number): T {
    const b = this.b;
    if (ai < 24) return b.simple(ai, at);
    switch (ai) {
      case 24: {
        const v = this.buf[this.pos];
        if (v === undefined) throw this.truncated(at);
        this.pos++;
        // RFC 8949 §3.3: simple values below 32 in the two-byte form are not well-formed.
        if (v < 32) throw this.fail(`not well-formed simple value ${v}`, at);
        return b.simple(v, at);
      }
      case 25:
      case 26:
      case 27: {
        const n = ai === 25 ? 2 : ai === 26 ? 4 : 8;
        if (n > this.buf.length - this.pos) throw this.truncated(at);
        return b.float(this.take(n), at);
      }
      case 31:
        throw this.fail('unexpected CBOR break', at);
      default:
        throw this.fail(`reserved CBOR additional information ${ai}`, at);
    }
  }
}

/**
 * Decodes exactly one CBOR item that fills `bytes`, in the caller's representation. Nothing
 * is returned unless the whole input is one well-formed item (in the deterministic dialect:
 * one deterministically encoded item).
 *
 * @throws whatever `dialect.error` makes, with the offset of the offending item: truncated
 *   or ill-formed input, a length beyond the input, nesting deeper than `maxDepth`, trailing
 *   bytes, and in the deterministic dialect any non-deterministic encoding.
 */
export function decodeWith<T>(dialect: CborDialect<T>, bytes: Uint8Array, maxDepth = dialect.maxDepth): T {
  const r = new Reader(bytes, maxDepth, dialect);
  const item = r.item(0);
  if (r.pos !== bytes.length) throw dialect.error(`${bytes.length - r.pos} trailing bytes after the CBOR item`, r.pos);
  return item;
}
