/**
 * Name-based UUIDs (RFC 9562 §5.5, version 5: SHA-1). SUIT vendor IDs are
 * UUIDv5(DNS namespace, vendor domain) and class IDs UUIDv5(vendor ID, class name)
 * (draft-ietf-suit-manifest-34 §8.4.8.2–8.4.8.3).
 */
import { createHash } from 'node:crypto';

/** The DNS namespace UUID of RFC 9562 §6.6. */
export const UUID_NAMESPACE_DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

/** Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (or 32 hex digits) into 16 bytes. */
export function parseUuid(text: string): Uint8Array {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex) || (text.includes('-') && !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text))) {
    throw new TypeError(`not a UUID: "${text}"`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Formats 16 bytes as a lower-case UUID string. */
export function formatUuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new TypeError(`a UUID has 16 bytes, got ${bytes.length}`);
  const h = Buffer.from(bytes).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * UUIDv5 of `name` in `namespace` (a UUID string or its 16 bytes), as 16 bytes.
 *
 * @example formatUuid(uuidV5(UUID_NAMESPACE_DNS, 'arm.com')) // 'fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe'
 */
export function uuidV5(namespace: string | Uint8Array, name: string): Uint8Array {
  const ns = typeof namespace === 'string' ? parseUuid(namespace) : namespace;
  if (ns.length !== 16) throw new TypeError('namespace must be a UUID');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const out = new Uint8Array(hash.subarray(0, 16));
  out[6] = (out[6]! & 0x0f) | 0x50; // version 5
  out[8] = (out[8]! & 0x3f) | 0x80; // variant 10xx
  return out;
}

/** SUIT vendor ID for a vendor domain: UUIDv5(DNS, domain). */
export function vendorIdFor(vendorDomain: string): Uint8Array {
  return uuidV5(UUID_NAMESPACE_DNS, vendorDomain);
}

/** SUIT class ID for a class name under a vendor ID: UUIDv5(vendorId, className). */
export function classIdFor(vendorId: Uint8Array, className: string): Uint8Array {
  return uuidV5(vendorId, className);
}
