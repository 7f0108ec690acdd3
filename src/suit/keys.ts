/**
 * Signing keys: generation, PEM (SPKI / PKCS#8) and COSE_Key (RFC 9052 §7) in and out.
 *
 * node:crypto parses and writes PEM/DER (it knows every ASN.1 variant OpenSSL writes); the
 * library works on raw keys: P-256 as a 32-byte scalar and a 65-byte SEC1 uncompressed
 * point, Ed25519 as a 32-byte seed and a 32-byte public key. @noble/curves signs.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { Lwm2mFotaError } from '../errors';
import { CborMap, decodeCbor, encodeCbor, type CborValue } from './cbor';
import { CoseAlgorithm } from './constants';

/** The two key types SUIT signs with here: P-256 (ESP256/ES256) and Ed25519 (Ed25519/EdDSA). */
export type SuitKeyType = 'p256' | 'ed25519';

/** A public key, raw. */
export interface SuitPublicKey {
  readonly type: SuitKeyType;
  /** P-256: 65-byte SEC1 uncompressed point; Ed25519: 32 bytes. */
  readonly publicKey: Uint8Array;
  /** COSE key identifier, when the key came with one (COSE_Key label 2). */
  readonly kid?: Uint8Array;
}

/** A private key with its public half. */
export interface SuitPrivateKey extends SuitPublicKey {
  /** P-256: 32-byte scalar; Ed25519: 32-byte seed. */
  readonly secretKey: Uint8Array;
}

/** What `generateKeyPair` returns: the key and both PEM files' contents. */
export interface SuitGeneratedKeyPair {
  privateKey: SuitPrivateKey;
  /** PKCS#8 PEM. */
  privatePem: string;
  /** SPKI PEM. */
  publicPem: string;
}

/** The name of a key-generation algorithm as the CLI spells it. */
export type SuitKeyAlgorithmName = 'esp256' | 'ed25519';

function keyError(message: string, cause?: unknown): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_SUIT_KEY', message, cause === undefined ? {} : { cause });
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const fromB64u = (s: unknown, what: string): Uint8Array => {
  if (typeof s !== 'string') throw keyError(`key has no ${what}`);
  return new Uint8Array(Buffer.from(s, 'base64url'));
};

/**
 * Generates a fresh key pair.
 *
 * @example
 * const { privatePem, publicPem } = generateKeyPair('esp256');
 * @throws Lwm2mFotaError `ERR_SUIT_KEY` for an unknown algorithm name.
 */
export function generateKeyPair(alg: SuitKeyAlgorithmName): SuitGeneratedKeyPair {
  let privateKey: SuitPrivateKey;
  if (alg === 'esp256') {
    const secretKey = p256.utils.randomSecretKey();
    privateKey = { type: 'p256', secretKey, publicKey: p256.getPublicKey(secretKey, false) };
  } else if (alg === 'ed25519') {
    const secretKey = ed25519.utils.randomSecretKey();
    privateKey = { type: 'ed25519', secretKey, publicKey: ed25519.getPublicKey(secretKey) };
  } else {
    throw keyError(`unknown key algorithm "${String(alg)}" (esp256 or ed25519)`);
  }
  return { privateKey, privatePem: privateKeyToPem(privateKey), publicPem: publicKeyToPem(privateKey) };
}

function jwkOf(key: SuitPublicKey, withPrivate: boolean): Record<string, string> {
  if (key.type === 'p256') {
    const pt = key.publicKey;
    const jwk: Record<string, string> = { kty: 'EC', crv: 'P-256', x: b64u(pt.subarray(1, 33)), y: b64u(pt.subarray(33, 65)) };
    if (withPrivate) jwk.d = b64u((key as SuitPrivateKey).secretKey);
    return jwk;
  }
  const jwk: Record<string, string> = { kty: 'OKP', crv: 'Ed25519', x: b64u(key.publicKey) };
  if (withPrivate) jwk.d = b64u((key as SuitPrivateKey).secretKey);
  return jwk;
}

/** A node:crypto KeyObject for a raw public key (used by the OpenSSL verifier). */
export function publicKeyObject(key: SuitPublicKey): KeyObject {
  return createPublicKey({ key: jwkOf(key, false), format: 'jwk' });
}

/** SPKI PEM of a key's public half. */
export function publicKeyToPem(key: SuitPublicKey): string {
  return publicKeyObject(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** PKCS#8 PEM of a private key. */
export function privateKeyToPem(key: SuitPrivateKey): string {
  return createPrivateKey({ key: jwkOf(key, true), format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

function fromKeyObject(ko: KeyObject, kid: Uint8Array | undefined): SuitPublicKey | SuitPrivateKey {
  const jwk = ko.export({ format: 'jwk' });
  const extra = kid ? { kid } : {};
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    const x = fromB64u(jwk.x, 'x');
    const y = fromB64u(jwk.y, 'y');
    const publicKey = new Uint8Array(65);
    publicKey[0] = 4;
    publicKey.set(x, 1 + 32 - x.length);
    publicKey.set(y, 33 + 32 - y.length);
    if (jwk.d === undefined) return { type: 'p256', publicKey, ...extra };
    return { type: 'p256', publicKey, secretKey: leftPad(fromB64u(jwk.d, 'd'), 32), ...extra };
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    const publicKey = fromB64u(jwk.x, 'x');
    if (jwk.d === undefined) return { type: 'ed25519', publicKey, ...extra };
    return { type: 'ed25519', publicKey, secretKey: fromB64u(jwk.d, 'd'), ...extra };
  }
  throw keyError(`unsupported key type ${String(jwk.kty)}/${String(jwk.crv)} (P-256 or Ed25519 only)`);
}

function leftPad(b: Uint8Array, n: number): Uint8Array {
  if (b.length >= n) return b;
  const out = new Uint8Array(n);
  out.set(b, n - b.length);
  return out;
}

/** Bytes starting with a CBOR map head (major type 5) are a COSE_Key; text and other bytes are read as PEM. */
function isCoseKeyBytes(input: string | Uint8Array): input is Uint8Array {
  return typeof input !== 'string' && input[0] !== undefined && input[0] >> 5 === 5;
}

/**
 * Loads a public key from SPKI PEM (a private-key PEM gives its public half) or from a
 * CBOR COSE_Key.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_KEY` when the input is no usable P-256 or Ed25519 key.
 */
export function loadPublicKey(input: string | Uint8Array): SuitPublicKey {
  if (isCoseKeyBytes(input)) return publicOnly(decodeCoseKey(input));
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  try {
    const ko = text.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(text)) : createPublicKey(text);
    return fromKeyObject(ko, undefined);
  } catch (err) {
    if (err instanceof Lwm2mFotaError) throw err;
    throw keyError(`not a usable public key PEM: ${(err as Error).message}`, err);
  }
}

/**
 * Loads a private key from PKCS#8 (or SEC1 "EC PRIVATE KEY") PEM or from a CBOR COSE_Key
 * that holds the private part (label -4).
 *
 * @throws Lwm2mFotaError `ERR_SUIT_KEY` when the input is no usable private key.
 */
export function loadPrivateKey(input: string | Uint8Array): SuitPrivateKey {
  let key: SuitPublicKey | SuitPrivateKey;
  if (isCoseKeyBytes(input)) key = decodeCoseKey(input);
  else {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
    try {
      key = fromKeyObject(createPrivateKey(text), undefined);
    } catch (err) {
      if (err instanceof Lwm2mFotaError) throw err;
      throw keyError(`not a usable private key PEM: ${(err as Error).message}`, err);
    }
  }
  if (!('secretKey' in key)) throw keyError('the key has no private part');
  return key;
}

function publicOnly(k: SuitPublicKey | SuitPrivateKey): SuitPublicKey {
  return k.kid ? { type: k.type, publicKey: k.publicKey, kid: k.kid } : { type: k.type, publicKey: k.publicKey };
}

// COSE_Key labels (RFC 9052 §7.1, RFC 9053 §7): kty 1, kid 2, alg 3, crv -1, x -2, y -3, d -4.
const Kty = { OKP: 1, EC2: 2 } as const;
const Crv = { P256: 1, Ed25519: 6 } as const;

/** COSE_Key (CBOR map) of a key; the private part only when `includePrivate`. */
export function encodeCoseKey(key: SuitPublicKey | SuitPrivateKey, includePrivate = false): Uint8Array {
  const m = new CborMap();
  if (key.type === 'p256') {
    m.set(1, Kty.EC2).set(-1, Crv.P256).set(-2, key.publicKey.slice(1, 33)).set(-3, key.publicKey.slice(33, 65));
  } else {
    m.set(1, Kty.OKP).set(-1, Crv.Ed25519).set(-2, key.publicKey);
  }
  if (key.kid) m.set(2, key.kid);
  if (includePrivate) {
    if (!('secretKey' in key)) throw keyError('the key has no private part');
    m.set(-4, key.secretKey);
  }
  return encodeCbor(m);
}

/**
 * Decodes a COSE_Key (RFC 9052 §7): EC2 on P-256 or OKP Ed25519, public and optionally
 * private. The public point is checked to be on the curve.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_KEY` for anything else.
 */
export function decodeCoseKey(bytes: Uint8Array): SuitPublicKey | SuitPrivateKey {
  let v: CborValue;
  try {
    v = decodeCbor(bytes);
  } catch (err) {
    throw keyError('COSE_Key is not well-formed CBOR', err);
  }
  return coseKeyFromCbor(v);
}

/** COSE_Key from an already decoded map. @throws ERR_SUIT_KEY */
export function coseKeyFromCbor(v: CborValue): SuitPublicKey | SuitPrivateKey {
  if (!(v instanceof CborMap)) throw keyError('COSE_Key must be a map');
  const kty = v.get(1);
  const crv = v.get(-1);
  const x = v.get(-2);
  const d = v.get(-4);
  const kidV = v.get(2);
  const kid = kidV instanceof Uint8Array ? { kid: kidV } : {};
  const alg = v.get(3);
  if (!(x instanceof Uint8Array) || x.length !== 32) throw keyError('COSE_Key x must be 32 bytes');
  if (d !== undefined && (!(d instanceof Uint8Array) || d.length !== 32)) throw keyError('COSE_Key d must be 32 bytes');
  let key: SuitPublicKey | SuitPrivateKey;
  if (kty === Kty.EC2 && crv === Crv.P256) {
    if (alg !== undefined && alg !== CoseAlgorithm.ES256 && alg !== CoseAlgorithm.ESP256) throw keyError(`COSE_Key alg ${String(alg)} does not fit P-256`);
    const y = v.get(-3);
    if (!(y instanceof Uint8Array) || y.length !== 32) throw keyError('COSE_Key y must be 32 bytes (compressed points are not supported)');
    const publicKey = new Uint8Array(65);
    publicKey[0] = 4;
    publicKey.set(x, 1);
    publicKey.set(y, 33);
    try {
      p256.Point.fromBytes(publicKey).assertValidity();
    } catch (err) {
      throw keyError('COSE_Key point is not on P-256', err);
    }
    key = d instanceof Uint8Array ? { type: 'p256', publicKey, secretKey: d, ...kid } : { type: 'p256', publicKey, ...kid };
  } else if (kty === Kty.OKP && crv === Crv.Ed25519) {
    if (alg !== undefined && alg !== CoseAlgorithm.EdDSA && alg !== CoseAlgorithm.Ed25519) throw keyError(`COSE_Key alg ${String(alg)} does not fit Ed25519`);
    key = d instanceof Uint8Array ? { type: 'ed25519', publicKey: x, secretKey: d, ...kid } : { type: 'ed25519', publicKey: x, ...kid };
  } else {
    throw keyError(`unsupported COSE_Key kty ${String(kty)} crv ${String(crv)} (EC2/P-256 or OKP/Ed25519)`);
  }
  if ('secretKey' in key) {
    const derived = key.type === 'p256' ? p256.getPublicKey(key.secretKey, false) : ed25519.getPublicKey(key.secretKey);
    if (Buffer.compare(Buffer.from(derived), Buffer.from(key.publicKey)) !== 0) throw keyError('COSE_Key private part does not match its public part');
  }
  return key;
}

/**
 * A short, stable name for a key: the first 8 bytes of SHA-256 over its raw public key, in
 * hex. Used as the default key id in policies and results.
 */
export function keyFingerprint(key: SuitPublicKey): string {
  return createHash('sha256').update(key.type).update(key.publicKey).digest('hex').slice(0, 16);
}
