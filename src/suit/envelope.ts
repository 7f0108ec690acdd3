/**
 * SUIT_Envelope codec (draft-ietf-suit-manifest-34 §8.2–8.3).
 *
 * `decodeEnvelope` parses only what authentication needs — the envelope map, the
 * authentication wrapper, its SUIT_Digest and COSE_Sign1 blocks — and keeps the manifest and
 * the severable elements as the bytes found. Nothing inside the manifest is parsed before
 * a signature over it has verified (§6.2: "The manifest processor MUST verify the signature of
 * the manifest prior to parsing/executing any section of the manifest").
 *
 * Every bstr-wrapped element is kept as its content bytes and every authentication block as
 * its encoding, so `encodeEnvelope(decodeEnvelope(b))` gives back `b`, and appending a
 * signature leaves the manifest, the severable elements and every other block untouched.
 */
import { CborMap, CborTag, decodeCbor, encodeCbor, type CborValue } from './cbor';
import { EnvelopeKey, SuitTag } from './constants';
import { coseSign1FromCbor, type CoseSign1 } from './cose';
import { digestFromCbor, structureError } from './manifest';
import type { CborEntry, SuitDigest } from './types';

/** One element of the authentication wrapper after the digest. */
export type SuitAuthenticationBlock =
  | { kind: 'sign1'; raw: Uint8Array; sign1: CoseSign1 }
  /** COSE_Sign, COSE_Mac, COSE_Mac0 or unknown: kept as found, never counted as a signature. */
  | { kind: 'other'; raw: Uint8Array; tag: number | bigint | undefined };

/** SUIT_Authentication = [bstr .cbor SUIT_Digest, * bstr .cbor SUIT_Authentication_Block]. */
export interface SuitAuthentication {
  /** The content of the digest bstr: the detached COSE payload is exactly these bytes. */
  digestBytes: Uint8Array;
  digest: SuitDigest;
  blocks: SuitAuthenticationBlock[];
}

/** The severable elements carried in the envelope, as content bytes of their bstr. */
export interface SuitSeverableElements {
  payloadFetch?: Uint8Array;
  install?: Uint8Array;
  text?: Uint8Array;
}

/** A decoded SUIT_Envelope. */
export interface SuitEnvelope {
  authentication: SuitAuthentication;
  /** The content of the bstr at key 3: a SUIT_Manifest, possibly tagged 1070. Not parsed. */
  manifestBytes: Uint8Array;
  severable: SuitSeverableElements;
  /** Integrated payloads: text keys (the URI the manifest names, e.g. "#firmware") to bytes. */
  integratedPayloads: Array<{ key: string; bytes: Uint8Array }>;
  /** Envelope members this library does not interpret, preserved. */
  extensions: CborEntry[];
}

function bstrAt(m: CborMap, key: number, what: string): Uint8Array | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw structureError(`${what} must be a byte string`);
  return v;
}

/** Decodes the content of the authentication-wrapper bstr. @throws ERR_SUIT_CBOR, ERR_SUIT_STRUCTURE */
export function decodeAuthentication(bytes: Uint8Array): SuitAuthentication {
  const a = decodeCbor(bytes);
  if (!Array.isArray(a) || a.length === 0) throw structureError('authentication wrapper must be a non-empty array');
  const [d, ...rest] = a;
  if (!(d instanceof Uint8Array)) throw structureError('authentication wrapper digest must be a byte string');
  const digest = digestFromCbor(decodeCbor(d), 'manifest digest');
  const blocks = rest.map((b, i): SuitAuthenticationBlock => {
    if (!(b instanceof Uint8Array)) throw structureError(`authentication block ${i + 1} must be a byte string`);
    const v = decodeCbor(b);
    if (v instanceof CborTag && v.tag !== SuitTag.CoseSign1) return { kind: 'other', raw: b, tag: v.tag };
    return { kind: 'sign1', raw: b, sign1: coseSign1FromCbor(v, b) };
  });
  return { digestBytes: d, digest, blocks };
}

/** Encodes the content of the authentication-wrapper bstr. */
export function encodeAuthentication(auth: SuitAuthentication): Uint8Array {
  return encodeCbor([auth.digestBytes, ...auth.blocks.map((b) => b.raw)]);
}

/**
 * Decodes a SUIT envelope far enough to authenticate it. The envelope must be tagged 107
 * (SUIT_Envelope_Tagged, the draft's start rule): accepting the bare map as well would give
 * every envelope a second encoding that verifies.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_CBOR` when the bytes (or a bstr-wrapped part the
 *   authentication needs) are not well-formed deterministic CBOR; `ERR_SUIT_STRUCTURE` when
 *   they are not a SUIT envelope.
 */
export function decodeEnvelope(bytes: Uint8Array): SuitEnvelope {
  const outer: CborValue = decodeCbor(bytes);
  if (!(outer instanceof CborTag) || outer.tag !== SuitTag.Envelope) throw structureError('not a SUIT_Envelope_Tagged (tag 107)');
  const v = outer.value;
  if (!(v instanceof CborMap)) throw structureError('SUIT envelope must be a map');
  const authBytes = bstrAt(v, EnvelopeKey.AuthenticationWrapper, 'authentication wrapper');
  if (authBytes === undefined) throw structureError('authentication wrapper (key 2) is missing');
  const manifestBytes = bstrAt(v, EnvelopeKey.Manifest, 'manifest');
  if (manifestBytes === undefined) throw structureError('manifest (key 3) is missing');
  const severable: SuitSeverableElements = {};
  const integratedPayloads: SuitEnvelope['integratedPayloads'] = [];
  const extensions: CborEntry[] = [];
  for (const [k, val] of v.entries) {
    switch (k) {
      case EnvelopeKey.AuthenticationWrapper:
      case EnvelopeKey.Manifest:
        break;
      case EnvelopeKey.PayloadFetch:
        severable.payloadFetch = bstrAt(v, k, 'suit-payload-fetch')!;
        break;
      case EnvelopeKey.Install:
        severable.install = bstrAt(v, k, 'suit-install')!;
        break;
      case EnvelopeKey.Text:
        severable.text = bstrAt(v, k, 'suit-text')!;
        break;
      default:
        if (typeof k === 'string') {
          // §7.6: "The payload envelope key MUST be a string. The payload MUST be serialized in a bstr element."
          if (!(val instanceof Uint8Array)) throw structureError(`integrated payload "${k}" must be a byte string`);
          integratedPayloads.push({ key: k, bytes: val });
        } else {
          extensions.push([k, val]);
        }
    }
  }
  return { authentication: decodeAuthentication(authBytes), manifestBytes, severable, integratedPayloads, extensions };
}

/** Encodes an envelope deterministically; the exact inverse of `decodeEnvelope`. */
export function encodeEnvelope(env: SuitEnvelope): Uint8Array {
  const m = new CborMap();
  m.set(EnvelopeKey.AuthenticationWrapper, encodeAuthentication(env.authentication));
  m.set(EnvelopeKey.Manifest, env.manifestBytes);
  if (env.severable.payloadFetch) m.set(EnvelopeKey.PayloadFetch, env.severable.payloadFetch);
  if (env.severable.install) m.set(EnvelopeKey.Install, env.severable.install);
  if (env.severable.text) m.set(EnvelopeKey.Text, env.severable.text);
  for (const p of env.integratedPayloads) m.set(p.key, p.bytes);
  for (const e of env.extensions) m.set(e[0], e[1]);
  return encodeCbor(new CborTag(SuitTag.Envelope, m));
}
