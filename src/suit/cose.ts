/**
 * COSE_Sign1 (RFC 9052 §4.2) as SUIT uses it: detached payload, the payload being the
 * bstr-wrapped SUIT_Digest (draft-ietf-suit-manifest-34 §8.3). Algorithms: ESP256 (-9) and
 * Ed25519 (-19) are emitted; ES256 (-7) and EdDSA (-8) are accepted (RFC 9864 made them the
 * polymorphic names of the same computations for P-256 and Ed25519 keys).
 */
import { verify as nodeVerify, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { Lwm2mFotaError } from '../errors';
import { CborMap, CborTag, decodeCbor, encodeCbor, type CborValue } from './cbor';
import { COSE_ALGORITHM_NAMES, CoseAlgorithm, SuitTag } from './constants';
import { publicKeyObject, type SuitKeyType, type SuitPrivateKey, type SuitPublicKey } from './keys';

/** A decoded COSE_Sign1. */
export interface CoseSign1 {
  /** The encoded COSE_Sign1_Tagged, byte for byte as found (or as made). */
  raw: Uint8Array;
  /** The protected header bucket as serialized (part of what is signed). */
  protectedBytes: Uint8Array;
  protectedHeaders: CborMap;
  unprotectedHeaders: CborMap;
  /** Always `null` in SUIT: the payload is detached. */
  payload: null;
  signature: Uint8Array;
  /** Header label 1 from the protected bucket (an alg in the unprotected bucket is ignored). */
  alg: number | undefined;
  /** Header label 4, from either bucket. */
  kid: Uint8Array | undefined;
}

/** Which implementation checks signatures: OpenSSL via node:crypto (fast) or @noble/curves. */
export type SignatureVerifier = 'openssl' | 'noble';

const HeaderLabel = { alg: 1, crit: 2, kid: 4 } as const;

/** The protected header bytes we emit: `{1: alg}` only (RFC 9052 §3.1). */
export function protectedHeaderFor(alg: number): Uint8Array {
  return encodeCbor(new CborMap([[HeaderLabel.alg, alg]]));
}

/** The key type an algorithm works with, or undefined for one we do not implement. */
export function keyTypeForAlgorithm(alg: number): SuitKeyType | undefined {
  if (alg === CoseAlgorithm.ES256 || alg === CoseAlgorithm.ESP256) return 'p256';
  if (alg === CoseAlgorithm.EdDSA || alg === CoseAlgorithm.Ed25519) return 'ed25519';
  return undefined;
}

/** Human name of a COSE algorithm id ("ESP256", or the number as text when unknown). */
export function algorithmName(alg: number | undefined): string {
  if (alg === undefined) return 'none';
  return COSE_ALGORITHM_NAMES[alg] ?? String(alg);
}

/** Sig_structure for COSE_Sign1 (RFC 9052 §4.4) with empty external_aad. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, new Uint8Array(0), payload]);
}

function structure(message: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_SUIT_STRUCTURE', message);
}

/**
 * Decodes a COSE_Sign1_Tagged (tag 18) from an already decoded item; `raw` is its encoding.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_CBOR` (protected bucket not CBOR), `ERR_SUIT_STRUCTURE`.
 */
export function coseSign1FromCbor(v: CborValue, raw: Uint8Array): CoseSign1 {
  if (!(v instanceof CborTag) || v.tag !== SuitTag.CoseSign1) throw structure('authentication block is not a COSE_Sign1_Tagged (tag 18)');
  const a = v.value;
  if (!Array.isArray(a) || a.length !== 4) throw structure('COSE_Sign1 must be an array of 4 items');
  const [prot, unprot, payload, signature] = a;
  if (!(prot instanceof Uint8Array)) throw structure('COSE_Sign1 protected header must be a byte string');
  if (!(unprot instanceof CborMap)) throw structure('COSE_Sign1 unprotected header must be a map');
  // draft-ietf-suit-manifest-34 §8.3: "The SUIT_Authentication_Block is computed using detached
  // payloads" — an attached payload would be a second, unchecked copy of what is signed.
  if (payload !== null) throw structure('COSE_Sign1 payload must be nil (detached)');
  if (!(signature instanceof Uint8Array)) throw structure('COSE_Sign1 signature must be a byte string');
  // RFC 9052 §3: a zero-length bstr stands for the empty protected map.
  const protectedHeaders = prot.length === 0 ? new CborMap() : decodeCbor(prot);
  if (!(protectedHeaders instanceof CborMap)) throw structure('COSE_Sign1 protected header must encode a map');
  // RFC 9052 §3: "Labels in each of the maps MUST be unique." and applications SHOULD verify
  // that the same label does not occur in both buckets — we reject it.
  for (const [k] of unprot.entries) {
    if ((typeof k === 'number' || typeof k === 'string') && protectedHeaders.has(k)) throw structure(`COSE header label ${String(k)} in both buckets`);
  }
  // We understand no critical headers, and RFC 9052 §3.1 says an unknown one in crit MUST fail.
  if (protectedHeaders.has(HeaderLabel.crit)) throw structure('COSE crit header parameters are not supported');
  const algV = protectedHeaders.get(HeaderLabel.alg);
  const kidV = protectedHeaders.get(HeaderLabel.kid) ?? unprot.get(HeaderLabel.kid);
  if (algV !== undefined && typeof algV !== 'number' && typeof algV !== 'string') throw structure('COSE alg must be an integer or text');
  if (kidV !== undefined && !(kidV instanceof Uint8Array)) throw structure('COSE kid must be a byte string');
  return {
    raw,
    protectedBytes: prot,
    protectedHeaders,
    unprotectedHeaders: unprot,
    payload: null,
    signature,
    alg: typeof algV === 'number' ? algV : undefined,
    kid: kidV,
  };
}

/** Options for making a COSE_Sign1. */
export interface CoseSignOptions {
  /** COSE algorithm; default ESP256 (-9) for P-256 keys and Ed25519 (-19) for Ed25519 keys. */
  alg?: number;
  /** Key identifier put in the unprotected bucket (label 4); default: the key's own kid. */
  kid?: Uint8Array;
}

/**
 * Makes a COSE_Sign1_Tagged with a detached (nil) payload over `payload`. ECDSA is
 * deterministic (RFC 6979) and not normalized to low S, so signing the draft examples with
 * the draft key reproduces libcsuit's envelopes byte for byte.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_ALGORITHM_NOT_ALLOWED` when `alg` does not fit the key.
 */
export function signCoseSign1(payload: Uint8Array, key: SuitPrivateKey, options: CoseSignOptions = {}): Uint8Array {
  const alg = options.alg ?? (key.type === 'p256' ? CoseAlgorithm.ESP256 : CoseAlgorithm.Ed25519);
  if (keyTypeForAlgorithm(alg) !== key.type) {
    throw new Lwm2mFotaError('ERR_SUIT_ALGORITHM_NOT_ALLOWED', `algorithm ${algorithmName(alg)} cannot sign with a ${key.type} key`);
  }
  const prot = protectedHeaderFor(alg);
  const toSign = sigStructure(prot, payload);
  const signature = key.type === 'p256' ? p256.sign(toSign, key.secretKey, { lowS: false }) : ed25519.sign(toSign, key.secretKey);
  const kid = options.kid ?? key.kid;
  const unprotected = kid ? new CborMap([[HeaderLabel.kid, kid]]) : new CborMap();
  return encodeCbor(new CborTag(SuitTag.CoseSign1, [prot, unprotected, null, signature]));
}

const keyObjects = new WeakMap<SuitPublicKey, KeyObject>();

function keyObjectFor(key: SuitPublicKey): KeyObject {
  let ko = keyObjects.get(key);
  if (!ko) {
    ko = publicKeyObject(key);
    keyObjects.set(key, ko);
  }
  return ko;
}

/**
 * Checks a COSE_Sign1 signature over the detached `payload` with `key`. False for a wrong
 * signature, an algorithm that does not fit the key, or a malformed signature; never throws
 * for those. High-S ECDSA signatures are valid (RFC 9053 does not ask for low S; two of the
 * draft's examples have one).
 */
export function verifyCoseSign1(sign1: CoseSign1, payload: Uint8Array, key: SuitPublicKey, verifier: SignatureVerifier = 'openssl'): boolean {
  if (sign1.alg === undefined || keyTypeForAlgorithm(sign1.alg) !== key.type) return false;
  // Raw r‖s for ECDSA, R‖S for EdDSA: both 64 bytes (RFC 9053 §2.1, §2.2).
  if (sign1.signature.length !== 64) return false;
  const msg = sigStructure(sign1.protectedBytes, payload);
  try {
    if (verifier === 'noble') {
      return key.type === 'p256'
        ? p256.verify(sign1.signature, msg, key.publicKey, { lowS: false })
        : ed25519.verify(sign1.signature, msg, key.publicKey, { zip215: false });
    }
    const ko = keyObjectFor(key);
    return key.type === 'p256'
      ? nodeVerify('sha256', msg, { key: ko, dsaEncoding: 'ieee-p1363' }, sign1.signature)
      : nodeVerify(null, msg, ko, sign1.signature);
  } catch {
    return false;
  }
}
