/**
 * Trust policy: the data a verifier needs to decide whether a SUIT envelope may be acted on.
 * A device emulator, the firmware repository and the CLI all pass one of these to
 * `verifyEnvelope`.
 */
import { Lwm2mFotaError } from '../errors';
import { COSE_ALGORITHM_NAMES, CoseAlgorithm } from './constants';
import type { SignatureVerifier } from './cose';
import { decodeCoseKey, keyFingerprint, loadPublicKey, type SuitPublicKey } from './keys';
import { formatUuid, parseUuid } from './uuid';

/** A key the verifier trusts, with the roles it may sign for. */
export interface SuitTrustedKey {
  /** Name used in results and in `signers.keyIds`; default: `keyFingerprint(key)`. */
  id?: string;
  key: SuitPublicKey;
  /**
   * Roles this key may sign for, e.g. `['oem']` or `['operator']`. A key without roles can
   * still sign, but satisfies no role requirement.
   */
  roles?: readonly string[];
}

/** Who must have signed. Every condition given must hold. */
export interface SuitSignerRequirement {
  /** At least this many distinct trusted keys must have a verified signature (default 1). */
  minSigners?: number;
  /** Each role must be held by at least one key whose signature verified (e.g. OEM *and* operator). */
  roles?: readonly string[];
  /** Each of these trusted key ids must have a verified signature. */
  keyIds?: readonly string[];
  /** Every signature block in the envelope must verify with a trusted key (none unverifiable). */
  allSignaturesValid?: boolean;
}

/**
 * The verification policy. Only `trustedKeys` is required; every other check is skipped when
 * its field is absent (except the algorithm allow-list, which defaults to the four SUIT
 * signature algorithms).
 */
export interface SuitPolicy {
  trustedKeys: readonly SuitTrustedKey[];
  /** Signer requirement; default: one trusted signature. */
  signers?: SuitSignerRequirement;
  /** COSE algorithms accepted: default ES256 (-7), EdDSA (-8), ESP256 (-9), Ed25519 (-19). */
  allowedAlgorithms?: readonly number[];
  /** Vendor IDs (UUID strings) this device class accepts. Absent: not checked. */
  vendorIds?: readonly string[];
  /** Class IDs (UUID strings) this device class accepts. Absent: not checked. */
  classIds?: readonly string[];
  /**
   * Lowest acceptable sequence number (anti-rollback): a manifest whose sequence number is
   * lower is rejected. A device sets it to the sequence number of its installed manifest
   * (draft §8.4.2: "MUST reject any manifest that has a sequence number lower than its current
   * sequence number"), or one more to refuse reinstalling the same manifest.
   */
  minSequenceNumber?: number | bigint;
  /** Signature implementation: 'openssl' (node:crypto, default, fast) or 'noble'. */
  verifier?: SignatureVerifier;
}

export const DEFAULT_ALLOWED_ALGORITHMS: readonly number[] = [CoseAlgorithm.ES256, CoseAlgorithm.EdDSA, CoseAlgorithm.ESP256, CoseAlgorithm.Ed25519];

/** A policy checked and completed with its defaults (internal form). */
export interface ResolvedPolicy {
  keys: Array<{ id: string; key: SuitPublicKey; roles: readonly string[] }>;
  minSigners: number;
  roles: readonly string[];
  keyIds: readonly string[];
  allSignaturesValid: boolean;
  allowedAlgorithms: ReadonlySet<number>;
  vendorIds: ReadonlySet<string> | undefined;
  classIds: ReadonlySet<string> | undefined;
  minSequenceNumber: bigint;
  verifier: SignatureVerifier;
}

function policyError(message: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_SUIT_POLICY', message);
}

/** The id a trusted key goes by. */
export function trustedKeyId(k: SuitTrustedKey): string {
  return k.id ?? keyFingerprint(k.key);
}

function normalizeUuid(s: unknown, what: string): string {
  if (typeof s !== 'string') throw policyError(`${what} must be UUID strings`);
  try {
    return formatUuid(parseUuid(s));
  } catch {
    throw policyError(`${what}: "${s}" is not a UUID`);
  }
}

const cache = new WeakMap<SuitPolicy, ResolvedPolicy>();

/**
 * Checks a policy and fills in its defaults. Cached per policy object (treat policies as
 * immutable values: build a new one to change it).
 *
 * @throws Lwm2mFotaError `ERR_SUIT_POLICY` when the policy is malformed or cannot be met.
 */
export function resolvePolicy(policy: SuitPolicy): ResolvedPolicy {
  const hit = cache.get(policy);
  if (hit) return hit;
  if (policy === null || typeof policy !== 'object' || !Array.isArray(policy.trustedKeys)) throw policyError('policy.trustedKeys must be an array');
  const keys = policy.trustedKeys.map((k, i) => {
    if (!k || typeof k !== 'object' || !k.key || !(k.key.publicKey instanceof Uint8Array) || (k.key.type !== 'p256' && k.key.type !== 'ed25519')) {
      throw policyError(`trustedKeys[${i}] is not a key`);
    }
    if (k.roles !== undefined && (!Array.isArray(k.roles) || !(k.roles as readonly unknown[]).every((r) => typeof r === 'string'))) throw policyError(`trustedKeys[${i}].roles must be strings`);
    return { id: trustedKeyId(k), key: k.key, roles: k.roles ?? [] };
  });
  const ids = new Set<string>();
  for (const k of keys) {
    if (ids.has(k.id)) throw policyError(`two trusted keys named "${k.id}"`);
    ids.add(k.id);
  }
  const s = policy.signers ?? {};
  const minSigners = s.minSigners ?? 1;
  if (!Number.isInteger(minSigners) || minSigners < 1) throw policyError('signers.minSigners must be a positive integer');
  if (minSigners > keys.length) throw policyError(`signers.minSigners is ${minSigners} but only ${keys.length} keys are trusted`);
  const keyIds = s.keyIds ?? [];
  for (const id of keyIds) if (!ids.has(id)) throw policyError(`signers.keyIds names "${id}", which is not a trusted key`);
  const roles = s.roles ?? [];
  for (const r of roles) if (!keys.some((k) => k.roles.includes(r))) throw policyError(`signers.roles requires "${r}", which no trusted key holds`);
  const allowed = policy.allowedAlgorithms ?? DEFAULT_ALLOWED_ALGORITHMS;
  if (!Array.isArray(allowed) || allowed.length === 0 || !allowed.every((a) => typeof a === 'number')) throw policyError('allowedAlgorithms must be a non-empty list of COSE algorithm ids');
  let minSeq: bigint;
  try {
    minSeq = BigInt(policy.minSequenceNumber ?? 0);
  } catch {
    throw policyError('minSequenceNumber must be an integer');
  }
  if (minSeq < 0n) throw policyError('minSequenceNumber must not be negative');
  const verifier = policy.verifier ?? 'openssl';
  if (verifier !== 'openssl' && verifier !== 'noble') throw policyError(`unknown verifier "${String(verifier)}"`);
  const resolved: ResolvedPolicy = {
    keys,
    minSigners,
    roles,
    keyIds,
    allSignaturesValid: s.allSignaturesValid ?? false,
    allowedAlgorithms: new Set(allowed),
    vendorIds: policy.vendorIds ? new Set(policy.vendorIds.map((v) => normalizeUuid(v, 'vendorIds'))) : undefined,
    classIds: policy.classIds ? new Set(policy.classIds.map((v) => normalizeUuid(v, 'classIds'))) : undefined,
    minSequenceNumber: minSeq,
    verifier,
  };
  cache.set(policy, resolved);
  return resolved;
}

/**
 * The JSON form of a policy, for files and the REST API:
 *
 * ```json
 * { "trustedKeys": [{ "id": "oem", "roles": ["oem"], "pem": "-----BEGIN PUBLIC KEY-----…" },
 *                   { "id": "op", "roles": ["operator"], "coseKey": "a401…" }],
 *   "signers": { "roles": ["oem", "operator"] },
 *   "allowedAlgorithms": ["ESP256", "Ed25519"],
 *   "vendorIds": ["fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe"],
 *   "classIds": ["1492af14-2569-5e48-bf42-9b2d51f2ab45"],
 *   "minSequenceNumber": 5 }
 * ```
 */
export interface SuitPolicyJson {
  trustedKeys: Array<{ id?: string; roles?: string[]; pem?: string; coseKey?: string }>;
  signers?: SuitSignerRequirement;
  allowedAlgorithms?: Array<string | number>;
  vendorIds?: string[];
  classIds?: string[];
  minSequenceNumber?: number | string;
  verifier?: SignatureVerifier;
}

/**
 * Builds a policy from its JSON form (see `SuitPolicyJson`).
 *
 * @throws Lwm2mFotaError `ERR_SUIT_POLICY` when the document is malformed, `ERR_SUIT_KEY`
 *   when a key in it cannot be used.
 */
export function parsePolicy(doc: unknown): SuitPolicy {
  if (!doc || typeof doc !== 'object') throw policyError('policy must be a JSON object');
  const d = doc as Partial<SuitPolicyJson>;
  if (!Array.isArray(d.trustedKeys)) throw policyError('policy.trustedKeys must be an array');
  const trustedKeys = d.trustedKeys.map((k, i): SuitTrustedKey => {
    if (!k || typeof k !== 'object') throw policyError(`trustedKeys[${i}] must be an object`);
    let key: SuitPublicKey;
    if (typeof k.pem === 'string') key = loadPublicKey(k.pem);
    else if (typeof k.coseKey === 'string' && /^([0-9a-fA-F]{2})+$/.test(k.coseKey)) {
      const full = decodeCoseKey(new Uint8Array(Buffer.from(k.coseKey, 'hex')));
      key = full.kid ? { type: full.type, publicKey: full.publicKey, kid: full.kid } : { type: full.type, publicKey: full.publicKey };
    } else throw policyError(`trustedKeys[${i}] needs "pem" or "coseKey" (hex)`);
    const out: SuitTrustedKey = { key };
    if (k.id !== undefined) out.id = String(k.id);
    if (k.roles !== undefined) out.roles = k.roles;
    return out;
  });
  const policy: SuitPolicy = { trustedKeys };
  if (d.signers !== undefined) policy.signers = d.signers;
  if (d.allowedAlgorithms !== undefined) {
    if (!Array.isArray(d.allowedAlgorithms)) throw policyError('allowedAlgorithms must be an array');
    policy.allowedAlgorithms = d.allowedAlgorithms.map((a) => {
      if (typeof a === 'number') return a;
      const id = Object.entries(COSE_ALGORITHM_NAMES).find(([, n]) => n.toLowerCase() === String(a).toLowerCase())?.[0];
      if (id === undefined) throw policyError(`unknown algorithm "${String(a)}"`);
      return Number(id);
    });
  }
  if (d.vendorIds !== undefined) policy.vendorIds = d.vendorIds;
  if (d.classIds !== undefined) policy.classIds = d.classIds;
  if (d.minSequenceNumber !== undefined) {
    if (!/^\d+$/.test(String(d.minSequenceNumber))) throw policyError('minSequenceNumber must be a non-negative integer');
    const big = BigInt(d.minSequenceNumber);
    policy.minSequenceNumber = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  if (d.verifier !== undefined) policy.verifier = d.verifier;
  resolvePolicy(policy);
  return policy;
}
