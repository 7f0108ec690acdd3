/**
 * Key rotation: announcing a new trust anchor through a manifest signed by the current one.
 *
 * Design. A key announcement is an ordinary SUIT envelope whose manifest carries one extra
 * member under the application-specific key `KEY_ANNOUNCEMENT_MEMBER` (-1; the draft reserves
 * negative manifest keys for application use, §8.1 "Negative numbers are used to identify
 * application-specific values"):
 *
 *     -1 => bstr .cbor { 1: COSE_Key (public, with kid), 2: [* role tstr], ? 3: [* retired key id tstr] }
 *
 * Because the member sits inside the manifest, the manifest digest and therefore every
 * signature cover it. A verifier accepts the announcement only through `acceptKeyRotation`,
 * which runs the full `verifyEnvelope` with the *current* policy — so the current trust anchors
 * (as many of them, and in the roles, that policy requires) must have signed it, and the
 * sequence number must pass anti-rollback like any manifest. The new key may only receive roles
 * that at least one verified signer itself holds: an operator key cannot mint an OEM key. The
 * result is a new policy value; the old one is not changed. The shared sequence may carry
 * vendor/class conditions, so an announcement can be scoped to one device class.
 *
 * Why not the text section: text is "recipient-unnecessary" and may be severed; a trust anchor
 * must never ride on something a recipient is allowed to drop.
 */
import { Lwm2mFotaError } from '../errors';
import { CborMap, decodeCbor, encodeCbor, type CborValue } from './cbor';
import { SuitCommandCode as C, SuitParameterLabel as P } from './constants';
import { buildEnvelope, signEnvelope, type SuitSigner } from './build';
import { coseKeyFromCbor, encodeCoseKey, keyFingerprint, type SuitPublicKey } from './keys';
import { encodeManifest } from './manifest';
import type { SuitPolicy, SuitTrustedKey } from './policy';
import { trustedKeyId } from './policy';
import type { SuitCommandSequence, SuitManifest } from './types';
import { verifyEnvelope, type SuitVerifiedEnvelope } from './verify';

/** Manifest member that carries a key announcement (application-specific, negative). */
export const KEY_ANNOUNCEMENT_MEMBER = -1;

/** A new trust anchor, as announced. */
export interface SuitKeyAnnouncement {
  key: SuitPublicKey;
  /** Id the new key goes by; default: the hex of its kid, else its fingerprint. */
  id: string;
  roles: string[];
  /** Ids of trusted keys the announcement retires. */
  retire: string[];
}

/** Options for `createKeyRotationEnvelope`. */
export interface KeyRotationOptions {
  newKey: SuitPublicKey;
  /** Id for the new key in policies (encoded as its COSE kid). Default: its fingerprint. */
  id?: string;
  roles: string[];
  retire?: string[];
  sequenceNumber: number | bigint;
  /** Scope to a device class: vendor and class IDs checked in the shared sequence. */
  vendorId?: Uint8Array;
  classId?: Uint8Array;
  /** The current trust anchors that sign the announcement. */
  signers: readonly SuitSigner[];
}

/**
 * Makes a signed key-announcement envelope.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_KEY` when no signer is given; errors of `signEnvelope`.
 */
export function createKeyRotationEnvelope(o: KeyRotationOptions): Uint8Array {
  if (o.signers.length === 0) throw new Lwm2mFotaError('ERR_SUIT_KEY', 'a key announcement must be signed by the current trust anchor');
  const id = o.id ?? keyFingerprint(o.newKey);
  const kid = new TextEncoder().encode(id);
  const announcement = new CborMap([
    [1, decodeCbor(encodeCoseKey({ type: o.newKey.type, publicKey: o.newKey.publicKey, kid }))],
    [2, [...o.roles]],
  ]);
  if (o.retire && o.retire.length > 0) announcement.set(3, [...o.retire]);
  const shared: SuitCommandSequence = [];
  const params = [];
  if (o.vendorId) params.push({ label: P.VendorIdentifier, value: { type: 'bytes' as const, bytes: o.vendorId } });
  if (o.classId) params.push({ label: P.ClassIdentifier, value: { type: 'bytes' as const, bytes: o.classId } });
  if (params.length > 0) {
    shared.push({ code: C.OverrideParameters, arg: { kind: 'parameters', parameters: params } });
    if (o.vendorId) shared.push({ code: C.VendorIdentifier, arg: { kind: 'reportingPolicy', value: 15 } });
    if (o.classId) shared.push({ code: C.ClassIdentifier, arg: { kind: 'reportingPolicy', value: 15 } });
  }
  const manifest: SuitManifest = {
    version: 1,
    sequenceNumber: o.sequenceNumber,
    common: shared.length > 0 ? { components: [[new Uint8Array([0])]], sharedSequence: shared } : { components: [[new Uint8Array([0])]] },
    extensions: [[KEY_ANNOUNCEMENT_MEMBER, encodeCbor(announcement)]],
  };
  let env = buildEnvelope(encodeManifest(manifest));
  for (const s of o.signers) {
    const { key, ...opts } = 'key' in s ? s : { key: s };
    env = signEnvelope(env, key, opts);
  }
  return env;
}

function structure(message: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_SUIT_STRUCTURE', message);
}

/** Reads the announcement out of an (already verified) manifest. @throws ERR_SUIT_STRUCTURE, ERR_SUIT_KEY */
export function readKeyAnnouncement(manifest: SuitManifest): SuitKeyAnnouncement {
  const member = manifest.extensions?.find(([k]) => k === KEY_ANNOUNCEMENT_MEMBER)?.[1];
  if (member === undefined) throw structure('the manifest announces no key');
  if (!(member instanceof Uint8Array)) throw structure('key announcement must be a byte string');
  const m: CborValue = decodeCbor(member);
  if (!(m instanceof CborMap)) throw structure('key announcement must be a map');
  const full = coseKeyFromCbor(m.get(1));
  if ('secretKey' in full) throw new Lwm2mFotaError('ERR_SUIT_KEY', 'a key announcement must not carry a private key');
  const roles = m.get(2) ?? [];
  const retire = m.get(3) ?? [];
  const strings = (v: CborValue, what: string): string[] => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw structure(`key announcement ${what} must be text strings`);
    return v as string[];
  };
  const key: SuitPublicKey = full.kid ? { type: full.type, publicKey: full.publicKey, kid: full.kid } : { type: full.type, publicKey: full.publicKey };
  let id = keyFingerprint(key);
  if (full.kid) {
    try {
      id = new TextDecoder('utf-8', { fatal: true }).decode(full.kid);
    } catch {
      id = Buffer.from(full.kid).toString('hex');
    }
  }
  return { key, id, roles: strings(roles, 'roles'), retire: strings(retire, 'retire list') };
}

/** What `acceptKeyRotation` returns. */
export interface SuitKeyRotationResult {
  /** The new policy: the announced key added, retired keys removed, minSequenceNumber raised. */
  policy: SuitPolicy;
  announcement: SuitKeyAnnouncement;
  verification: SuitVerifiedEnvelope;
}

/**
 * Verifies a key announcement with the current policy and returns the policy that trusts the
 * new key. Nothing is accepted unless the whole envelope verifies under `policy`.
 *
 * @throws Lwm2mFotaError every code of `verifyEnvelope`; `ERR_SUIT_STRUCTURE` when the
 *   manifest announces no key; `ERR_SUIT_KEY` for an unusable key; `ERR_SUIT_SIGNERS_MISSING`
 *   when it grants a role no verified signer holds; `ERR_SUIT_POLICY` when the new key's id
 *   is taken by a different key.
 */
export function acceptKeyRotation(envelope: Uint8Array, policy: SuitPolicy): SuitKeyRotationResult {
  const verification = verifyEnvelope(envelope, policy);
  const announcement = readKeyAnnouncement(verification.manifest);
  const held = new Set(verification.roles);
  const ungranted = announcement.roles.find((r) => !held.has(r));
  if (ungranted !== undefined) throw new Lwm2mFotaError('ERR_SUIT_SIGNERS_MISSING', `the announcement grants role "${ungranted}", which no signer holds`);
  const kept = policy.trustedKeys.filter((k) => !announcement.retire.includes(trustedKeyId(k)));
  const clash = kept.find((k) => trustedKeyId(k) === announcement.id);
  if (clash && Buffer.compare(Buffer.from(clash.key.publicKey), Buffer.from(announcement.key.publicKey)) !== 0) {
    throw new Lwm2mFotaError('ERR_SUIT_POLICY', `a different key is already trusted as "${announcement.id}"`);
  }
  const added: SuitTrustedKey = { id: announcement.id, key: announcement.key, roles: announcement.roles };
  const trustedKeys = clash ? kept : [...kept, added];
  const seq = BigInt(verification.sequenceNumber);
  const current = BigInt(policy.minSequenceNumber ?? 0);
  const next: SuitPolicy = { ...policy, trustedKeys, minSequenceNumber: seq > current ? verification.sequenceNumber : (policy.minSequenceNumber ?? 0) };
  // Signer requirements may name retired keys; drop those names so the policy stays valid.
  if (policy.signers?.keyIds) next.signers = { ...policy.signers, keyIds: policy.signers.keyIds.filter((id) => !announcement.retire.includes(id)) };
  return { policy: next, announcement, verification };
}
