/**
 * SUIT's view of CBOR (RFC 8949): plain values that re-encode byte for byte, over the shared
 * core in `src/cbor` (deterministic dialect, ERR_SUIT_CBOR).
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
import { CborWriter, compareBytes, decodeWith, floatValue, type CborBuilder, type CborDialect } from '../cbor';
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
    return floatValue(this.bytes);
  }
}

/** Limits that keep a hostile input from exhausting the stack or memory. */
export interface CborDecodeOptions {
  /** Deepest nesting of arrays, maps and tags (default 32). */
  maxDepth?: number;
}

function cborError(message: string, offset: number, cause?: unknown): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_SUIT_CBOR', message, { cause, context: { offset } });
}

/** Plain values: integers as numbers (bigint beyond ±2^53), byte strings as views of the input. */
const builder: CborBuilder<CborValue> = {
  int: (v) => v,
  bytes: (view) => view,
  text: (v) => v,
  array: (items) => items,
  map: (entries) => new CborMap(entries),
  tag: (tag, item) => new CborTag(tag, item),
  simple: (v) => (v === 20 ? false : v === 21 ? true : v === 22 ? null : v === 23 ? undefined : new CborSimple(v)),
  // A copy: the float keeps its width and bytes apart from the input it came from.
  float: (bits) => new CborFloat(bits.slice()),
};

/** draft-ietf-suit-manifest-34 §8.1 read as RFC 8949 §4.2.1: only the deterministic encoding. */
const dialect: CborDialect<CborValue> = { builder, error: cborError, deterministic: true, maxDepth: 32 };

export { compareBytes };

/**
 * Decodes exactly one deterministically encoded CBOR item. Returned byte strings are views
 * into `bytes` (no copy).
 *
 * @throws Lwm2mFotaError `ERR_SUIT_CBOR` when the input is truncated, ill-formed, not in
 *   deterministic encoding, nested too deeply, or followed by trailing bytes.
 */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): CborValue {
  return decodeWith(dialect, bytes, options.maxDepth);
}

function write(w: CborWriter, v: CborValue): void {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`CBOR encoder: ${v} is not an integer (use CborFloat)`);
    w.int(v);
  } else if (typeof v === 'bigint') w.int(v);
  else if (typeof v === 'string') w.text(v);
  else if (v instanceof Uint8Array) w.bytes(v);
  else if (v === false || v === true) w.bool(v);
  else if (v === null) w.null();
  else if (v === undefined) w.undefined();
  else if (Array.isArray(v)) {
    w.arrayHeader(v.length);
    for (const item of v) write(w, item);
  } else if (v instanceof CborMap) writeMap(w, v);
  else if (v instanceof CborTag) {
    w.tag(v.tag);
    write(w, v.value);
  } else if (v instanceof CborSimple) w.simple(v.value);
  else if (v instanceof CborFloat) w.floatBits(v.bytes);
  else throw new TypeError('CBOR encoder: unsupported value');
}

/**
 * The bytewise order of two integer keys' shortest encodings (RFC 8949 §4.2.1): every
 * unsigned before every negative, each by magnitude (a longer head has a larger first byte).
 */
function compareIntKeys(a: number, b: number): number {
  if (a >= 0 !== b >= 0) return a >= 0 ? -1 : 1;
  return a >= 0 ? a - b : b - a;
}

/** Canonical order: entries sorted by their encoded key bytes (RFC 8949 §4.2.1). */
function writeMap(w: CborWriter, m: CborMap): void {
  const entries = m.entries;
  const n = entries.length;
  w.mapHeader(n);
  if (n === 0) return;
  // SUIT maps are keyed by small integers: sort those by rank, with no key encoded twice.
  let ints = true;
  for (const [k] of entries) {
    if (typeof k !== 'number' || !Number.isSafeInteger(k)) {
      ints = false;
      break;
    }
  }
  if (ints) {
    let ordered = entries;
    for (let i = 1; i < n; i++) {
      if (compareIntKeys(entries[i - 1]![0] as number, entries[i]![0] as number) >= 0) {
        ordered = [...entries].sort((a, b) => compareIntKeys(a[0] as number, b[0] as number));
        break;
      }
    }
    for (let i = 0; i < n; i++) {
      const [k, v] = ordered[i]!;
      if (i > 0 && k === ordered[i - 1]![0]) throw new TypeError('CBOR encoder: duplicate map key');
      w.int(k as number);
      write(w, v);
    }
    return;
  }
  // Any other keys: all into one scratch writer, then views of it, sorted bytewise.
  const kw = new CborWriter(16 * n);
  const ends: number[] = [];
  for (const [k] of entries) {
    write(kw, k);
    ends.push(kw.length);
  }
  const all = kw.toBytes();
  const keys = ends.map((end, i) => all.subarray(i === 0 ? 0 : ends[i - 1]!, end));
  const order = keys.map((_, i) => i).sort((a, b) => compareBytes(keys[a]!, keys[b]!));
  for (let i = 1; i < n; i++) {
    if (compareBytes(keys[order[i - 1]!]!, keys[order[i]!]!) === 0) throw new TypeError('CBOR encoder: duplicate map key');
  }
  for (const i of order) {
    w.raw(keys[i]!);
    write(w, entries[i]![1]);
  }
}

/**
 * One writer for every top-level encode: `write` calls nothing outside this module, so an
 * encode never starts while another is under way, and the memory is reused.
 */
const shared = new CborWriter(1024);

/** Encodes a value in deterministic CBOR (RFC 8949 §4.2.1): shortest heads, sorted map keys. */
export function encodeCbor(v: CborValue): Uint8Array {
  write(shared.reset(), v);
  return shared.toBytes();
}

/** The encoded head of a byte string of `length` bytes (used to digest bstr-wrapped items). */
export function bstrHeader(length: number): Uint8Array {
  return new CborWriter(9).head(2, length).toBytes();
}

/** `bstr .cbor` wrapping as it appears on the wire: the encoded bstr, header included. */
export function wrapBstr(content: Uint8Array): Uint8Array {
  return new CborWriter(content.length + 9).bytes(content).toBytes();
}

/** Builds a CborMap from entries (order does not matter: the encoder sorts). */
export function cborMap(entries: Array<[CborValue, CborValue]>): CborMap {
  return new CborMap(entries);
}
