/**
 * The LwM2M formats' view of CBOR (RFC 8949): kinded items that carry the offset of their
 * initial byte, over the shared core in `src/cbor`. Any well-formed item is accepted
 * (indefinite lengths included: devices may send them); every limit is checked before
 * anything is allocated, and every failure is ERR_LWM2M_CONTENT_FORMAT with the offset of
 * the offending item.
 */
import { decodeWith, floatValue, type CborBuilder, type CborDialect } from '../../../cbor';
import { contentError } from './values';

export { CborWriter } from '../../../cbor';

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

const builder: CborBuilder<CborItem> = {
  int: (v, offset) => ({ kind: 'int', value: BigInt(v), offset }),
  // A copy: a decoded opaque value must not pin, or change with, the datagram it came in.
  bytes: (view, offset) => ({ kind: 'bytes', value: Buffer.from(view), offset }),
  text: (value, offset) => ({ kind: 'text', value, offset }),
  array: (items, offset) => ({ kind: 'array', items, offset }),
  map: (entries, offset) => ({ kind: 'map', entries, offset }),
  tag: (tag, item, offset) => ({ kind: 'tag', tag: BigInt(tag), item, offset }),
  simple: (value, offset) => ({ kind: 'simple', value, offset }),
  float: (bits, offset) => ({ kind: 'float', value: floatValue(bits), offset }),
};

const dialect: CborDialect<CborItem> = { builder, error: contentError, deterministic: false, maxDepth: 16 };

/**
 * Decodes exactly one CBOR item that fills `bytes`.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_CONTENT_FORMAT (with `context.offset`) for malformed
 *   or truncated input, lengths beyond the input, excessive nesting or trailing bytes.
 */
export function decodeCbor(bytes: Buffer, options: CborDecodeOptions = {}): CborItem {
  return decodeWith(dialect, bytes, options.maxDepth);
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
