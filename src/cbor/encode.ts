/**
 * The one CBOR (RFC 8949) writer of the project: heads in their shortest form (§4.2.1
 * preferred serialization), into one growing buffer. Layers walk their own value trees with
 * it; SUIT sorts map keys itself (it knows what a key is), the LwM2M formats write in the
 * order their specifications show.
 */

const utf8 = new TextEncoder();

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
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  const back = (bits & 0x8000 ? -1 : 1) * (e === 0 ? m * 2 ** -24 : (m + 1024) * 2 ** (e - 25));
  return back === v ? bits : undefined;
}

/** Writes CBOR items with the shortest heads. Methods chain; `toBytes()` ends the writing. */
export class CborWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
  }

  /** Forgets what was written (the memory stays, for the next item). */
  reset(): this {
    this.len = 0;
    return this;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    if (this.len === this.buf.length) this.ensure(1);
    this.buf[this.len++] = b;
  }

  /**
   * A head: major type and argument (0 … 2^64 − 1) in the shortest form.
   * @throws RangeError for an argument outside 0 … 2^64 − 1 (a programming error, not input).
   */
  head(major: number, arg: number | bigint): this {
    const m = major << 5;
    if (typeof arg === 'bigint') {
      if (arg < 0n || arg > 0xffffffffffffffffn) throw new RangeError(`CBOR argument out of range: ${arg}`);
      if (arg <= 0xffffffffn) return this.head(major, Number(arg));
      this.ensure(9);
      this.buf[this.len++] = m | 27;
      const hi = Number(arg >> 32n);
      const lo = Number(arg & 0xffffffffn);
      this.u32(hi);
      this.u32(lo);
      return this;
    }
    if (!(arg >= 0) || !Number.isInteger(arg)) throw new RangeError(`CBOR argument out of range: ${arg}`);
    this.ensure(9);
    const b = this.buf;
    if (arg < 24) b[this.len++] = m | arg;
    else if (arg < 0x100) {
      b[this.len++] = m | 24;
      b[this.len++] = arg;
    } else if (arg < 0x10000) {
      b[this.len++] = m | 25;
      b[this.len++] = arg >> 8;
      b[this.len++] = arg & 0xff;
    } else if (arg < 0x100000000) {
      b[this.len++] = m | 26;
      this.u32(arg);
    } else if (arg <= Number.MAX_SAFE_INTEGER) {
      b[this.len++] = m | 27;
      this.u32(Math.floor(arg / 0x100000000));
      this.u32(arg % 0x100000000);
    } else return this.head(major, BigInt(arg));
    return this;
  }

  /** Four bytes big-endian; the caller has ensured room. */
  private u32(v: number): void {
    const b = this.buf;
    b[this.len++] = (v >>> 24) & 0xff;
    b[this.len++] = (v >>> 16) & 0xff;
    b[this.len++] = (v >>> 8) & 0xff;
    b[this.len++] = v & 0xff;
  }

  /** An integer from −2^64 to 2^64 − 1. @throws TypeError for a non-integer number. */
  int(v: number | bigint): this {
    if (typeof v === 'bigint') return v >= 0n ? this.head(0, v) : this.head(1, -1n - v);
    if (!Number.isInteger(v)) throw new TypeError(`CBOR encoder: ${v} is not an integer`);
    return v >= 0 ? this.head(0, v) : this.head(1, -1 - v);
  }

  /** The shortest of half, single and double precision that holds `v` exactly. */
  float(v: number): this {
    const half = numberToHalf(v);
    this.ensure(9);
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset + this.len + 1);
    if (half !== undefined) {
      this.buf[this.len] = 0xf9;
      dv.setUint16(0, half);
      this.len += 3;
    } else if (Math.fround(v) === v) {
      this.buf[this.len] = 0xfa;
      dv.setFloat32(0, v);
      this.len += 5;
    } else {
      this.buf[this.len] = 0xfb;
      dv.setFloat64(0, v);
      this.len += 9;
    }
    return this;
  }

  /** A float of the width `bits` has (2, 4 or 8 big-endian bytes), as decoded: byte-exact. */
  floatBits(bits: Uint8Array): this {
    this.byte(bits.length === 2 ? 0xf9 : bits.length === 4 ? 0xfa : 0xfb);
    return this.raw(bits);
  }

  /** An integer when `v` is a safe integer (not −0), else a float: what SenML's JSON/CBOR equivalence allows. */
  number(v: number): this {
    return Number.isSafeInteger(v) && !Object.is(v, -0) ? this.int(v) : this.float(v);
  }

  bytes(v: Uint8Array): this {
    return this.head(2, v.length).raw(v);
  }

  text(v: string): this {
    const n = v.length;
    // ASCII is its own UTF-8: write it without an intermediate buffer.
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (v.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (!ascii) {
      const b = utf8.encode(v);
      return this.head(3, b.length).raw(b);
    }
    this.head(3, n);
    this.ensure(n);
    const b = this.buf;
    for (let i = 0; i < n; i++) b[this.len++] = v.charCodeAt(i);
    return this;
  }

  arrayHeader(n: number): this {
    return this.head(4, n);
  }

  mapHeader(n: number): this {
    return this.head(5, n);
  }

  tag(t: number | bigint): this {
    return this.head(6, t);
  }

  bool(v: boolean): this {
    this.byte(v ? 0xf5 : 0xf4);
    return this;
  }

  null(): this {
    this.byte(0xf6);
    return this;
  }

  undefined(): this {
    this.byte(0xf7);
    return this;
  }

  /** A simple value: 0…23 in the initial byte, 32…255 in the two-byte form. */
  simple(v: number): this {
    if (v < 24) this.byte(0xe0 | v);
    else {
      this.byte(0xf8);
      this.byte(v);
    }
    return this;
  }

  /** Bytes already encoded as CBOR (or a string's content after its head), copied as they are. */
  raw(v: Uint8Array): this {
    this.ensure(v.length);
    this.buf.set(v, this.len);
    this.len += v.length;
    return this;
  }

  /** A copy of what was written. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** What was written, as a Buffer over the writer's memory (no copy): write no more after it. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset, this.len);
  }
}
