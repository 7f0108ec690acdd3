/**
 * Verification in layers. Each layer fails with its own code, and a later layer runs only
 * when every earlier one passed:
 *
 * 1. CBOR well-formed (deterministic encoding)        ERR_SUIT_CBOR
 * 2. envelope, authentication wrapper, COSE structure  ERR_SUIT_STRUCTURE, ERR_SUIT_UNSIGNED
 * 3. algorithms on the allow-list                      ERR_SUIT_ALGORITHM_NOT_ALLOWED
 * 4. a signature verifies with a trusted key, and the
 *    signers the policy requires did sign              ERR_SUIT_SIGNATURE_INVALID, ERR_SUIT_SIGNERS_MISSING
 * 5. the manifest matches the signed digest            ERR_SUIT_MANIFEST_DIGEST
 *    (only now is the manifest parsed:                 ERR_SUIT_CBOR, ERR_SUIT_STRUCTURE)
 * 6. severed elements match their digests              ERR_SUIT_SEVERED_DIGEST
 *    integrated payloads match their image digests,
 *    no unknown (unauthenticated) envelope members     ERR_SUIT_IMAGE_DIGEST, ERR_SUIT_STRUCTURE
 * 7. policy: sequence number, vendor, class            ERR_SUIT_ROLLBACK, ERR_SUIT_VENDOR_MISMATCH, ERR_SUIT_CLASS_MISMATCH
 */
import { createHash } from 'node:crypto';
import { Lwm2mFotaError, type SuitErrorCode } from '../errors';
import { wrapBstr } from './cbor';
import { CoseHashAlgorithm } from './constants';
import { algorithmName, keyTypeForAlgorithm, verifyCoseSign1 } from './cose';
import { decodeEnvelope, type SuitEnvelope } from './envelope';
import { decodeManifest, decodeSequence, decodeText, structureError } from './manifest';
import { resolvePolicy, type ResolvedPolicy, type SuitPolicy } from './policy';
import { identifierChecks, summarizeComponents, type SuitComponentSummary } from './summary';
import type { SuitDigest, SuitManifest, SuitSeverable, SuitText } from './types';
import { formatUuid } from './uuid';

/** What became of one authentication block. */
export interface SuitSignatureReport {
  /** Position among the authentication blocks (0 = first after the digest). */
  index: number;
  /** COSE algorithm id from the protected header (undefined when absent or not a COSE_Sign1). */
  alg: number | undefined;
  /** "ES256", "ESP256", "EdDSA", "Ed25519", or the number. */
  algName: string;
  kid?: Uint8Array;
  /** True when it verified with a trusted key. Always false in an unverified inspection. */
  verified: boolean;
  /** The trusted key that verified it. */
  keyId?: string;
  /** The roles of that key. */
  roles?: readonly string[];
  /** Why it was not verified: not a COSE_Sign1, algorithm not allowed, or no trusted key verified it. */
  skipped?: 'not-sign1' | 'algorithm-not-allowed' | 'no-trusted-key' | 'unverified-inspection';
}

/**
 * Where a severable element stands: in the manifest, present and matching its digest, or
 * severed and absent. Inspections (nothing checked) say 'unverified' or 'undecodable'.
 */
export type SuitSeveredStatus = 'inline' | 'verified' | 'absent' | 'unverified' | 'undecodable';

/** What both a verification and an inspection report. */
export interface SuitEnvelopeReport {
  envelope: SuitEnvelope;
  /** The manifest; severed members carry their `value` when the envelope had them. */
  manifest: SuitManifest;
  /** The SUIT_Digest from the authentication wrapper. */
  manifestDigest: SuitDigest;
  sequenceNumber: number | bigint;
  signatures: SuitSignatureReport[];
  components: SuitComponentSummary[];
  text?: SuitText;
  severed: { payloadFetch?: SuitSeveredStatus; install?: SuitSeveredStatus; text?: SuitSeveredStatus };
}

/** A verified envelope: every layer passed. */
export interface SuitVerifiedEnvelope extends SuitEnvelopeReport {
  valid: true;
  /** Ids of the trusted keys whose signature verified, in block order. */
  signers: string[];
  /** Union of the roles of those keys. */
  roles: string[];
}

/** An unverified inspection: nothing in it is authenticated. */
export interface SuitInspection extends SuitEnvelopeReport {
  valid: false;
  verified: false;
  /** Whether the manifest bytes match the digest in the authentication wrapper. */
  manifestDigestMatches: boolean;
}

function fail(code: SuitErrorCode, message: string, context: Record<string, string | number> = {}): Lwm2mFotaError {
  return new Lwm2mFotaError(code, message, { context });
}

/** SHA-256 over the bstr-wrapped element, as SUIT digests cover it (draft §8.3, §8.4.12). */
export function suitDigestOf(content: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(wrapBstr(content)).digest());
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function checkDigestAlgorithm(d: SuitDigest, what: string): void {
  // SHA-256 is the one REQUIRED digest; we accept no other (an unknown digest cannot be checked).
  if (d.alg !== CoseHashAlgorithm.Sha256) throw fail('ERR_SUIT_ALGORITHM_NOT_ALLOWED', `${what} uses digest algorithm ${d.alg}; only SHA-256 (-16) is allowed`);
  if (d.bytes.length !== 32) throw structureError(`${what}: a SHA-256 digest has 32 bytes, got ${d.bytes.length}`);
}

/** Layers 3 and 4: which blocks verify with which trusted key, and whether that is enough. */
function authenticate(env: SuitEnvelope, p: ResolvedPolicy): SuitSignatureReport[] {
  const auth = env.authentication;
  // §8.3: "The Manifest Processor requires a SUIT_Authentication_Block to be present."
  if (auth.blocks.length === 0) throw fail('ERR_SUIT_UNSIGNED', 'the envelope carries no signature');
  checkDigestAlgorithm(auth.digest, 'the manifest digest');
  const reports: SuitSignatureReport[] = auth.blocks.map((b, index) => {
    if (b.kind !== 'sign1') return { index, alg: undefined, algName: 'none', verified: false, skipped: 'not-sign1' };
    const r: SuitSignatureReport = { index, alg: b.sign1.alg, algName: algorithmName(b.sign1.alg), verified: false };
    if (b.sign1.kid) r.kid = b.sign1.kid;
    if (b.sign1.alg === undefined || !p.allowedAlgorithms.has(b.sign1.alg) || keyTypeForAlgorithm(b.sign1.alg) === undefined) r.skipped = 'algorithm-not-allowed';
    return r;
  });
  const candidates = reports.filter((r) => r.skipped === undefined);
  if (candidates.length === 0) {
    throw fail('ERR_SUIT_ALGORITHM_NOT_ALLOWED', `no signature uses an allowed algorithm (found ${reports.map((r) => r.algName).join(', ')})`);
  }
  if (p.allSignaturesValid && candidates.length !== reports.length) {
    const bad = reports.find((r) => r.skipped !== undefined)!;
    throw fail('ERR_SUIT_ALGORITHM_NOT_ALLOWED', `signature ${bad.index + 1} uses ${bad.algName}, which the policy does not allow`);
  }
  // The detached payload is the bstr-wrapped SUIT_Digest (§8.3), i.e. the digest bstr's content.
  const payload = auth.digestBytes;
  for (const r of candidates) {
    const block = auth.blocks[r.index]!;
    if (block.kind !== 'sign1') continue;
    const type = keyTypeForAlgorithm(r.alg!);
    const keys = p.keys.filter((k) => k.key.type === type);
    // The kid is an unprotected hint (it proves nothing): try the keys it names first — by
    // their COSE kid or by their id as text — then the others.
    if (r.kid) {
      const kid = r.kid;
      const named = (k: ResolvedPolicy['keys'][number]): number => ((k.key.kid && equalBytes(k.key.kid, kid)) || Buffer.from(k.id).equals(Buffer.from(kid)) ? 0 : 1);
      keys.sort((a, b) => named(a) - named(b));
    }
    const hit = keys.find((k) => verifyCoseSign1(block.sign1, payload, k.key, p.verifier));
    if (hit) {
      r.verified = true;
      r.keyId = hit.id;
      r.roles = hit.roles;
    } else r.skipped = 'no-trusted-key';
  }
  const verified = reports.filter((r) => r.verified);
  if (verified.length === 0) throw fail('ERR_SUIT_SIGNATURE_INVALID', `none of ${candidates.length} signature(s) verifies with a trusted key`);
  if (p.allSignaturesValid) {
    const bad = reports.find((r) => !r.verified);
    if (bad) {
      throw fail('ERR_SUIT_SIGNATURE_INVALID', `signature ${bad.index + 1} (${bad.algName}${bad.kid ? `, kid ${hex(bad.kid)}` : ''}) does not verify with a trusted key`);
    }
  }
  const signerIds = [...new Set(verified.map((r) => r.keyId!))];
  if (signerIds.length < p.minSigners) throw fail('ERR_SUIT_SIGNERS_MISSING', `${signerIds.length} trusted signer(s), the policy requires ${p.minSigners}`);
  const missingKey = p.keyIds.find((id) => !signerIds.includes(id));
  if (missingKey !== undefined) throw fail('ERR_SUIT_SIGNERS_MISSING', `key "${missingKey}" did not sign`, { keyId: missingKey });
  const roles = new Set(verified.flatMap((r) => r.roles ?? []));
  const missingRole = p.roles.find((role) => !roles.has(role));
  if (missingRole !== undefined) throw fail('ERR_SUIT_SIGNERS_MISSING', `no signer with role "${missingRole}" signed`, { role: missingRole });
  return reports;
}

const SEVERABLE = [
  { member: 'payloadFetch', name: 'suit-payload-fetch', decode: decodeSequence },
  { member: 'install', name: 'suit-install', decode: decodeSequence },
  { member: 'text', name: 'suit-text', decode: decodeText },
] as const;

/**
 * Layer 6, and the inspection's view of severable elements: fill in severed members from
 * the envelope. `check` verifies each against its digest first.
 */
function resolveSeverable(env: SuitEnvelope, manifest: SuitManifest, check: boolean): SuitEnvelopeReport['severed'] {
  const status: SuitEnvelopeReport['severed'] = {};
  for (const s of SEVERABLE) {
    const element = env.severable[s.member];
    const member = manifest[s.member] as SuitSeverable<unknown> | undefined;
    if (member === undefined) {
      // Bytes in the envelope that no digest in the manifest covers would be unauthenticated.
      if (element !== undefined && check) throw fail('ERR_SUIT_SEVERED_DIGEST', `the envelope carries ${s.name}, but the manifest has no digest for it`);
      continue;
    }
    if (!member.severed) {
      if (element !== undefined && check) throw fail('ERR_SUIT_SEVERED_DIGEST', `${s.name} is inline in the manifest and also in the envelope`);
      status[s.member] = 'inline';
      continue;
    }
    if (element === undefined) {
      status[s.member] = 'absent';
      continue;
    }
    if (check) {
      checkDigestAlgorithm(member.digest, s.name);
      if (!equalBytes(suitDigestOf(element), member.digest.bytes)) throw fail('ERR_SUIT_SEVERED_DIGEST', `${s.name} does not match its digest in the manifest`);
    }
    if (check) {
      (member as { value?: unknown }).value = s.decode(element);
      status[s.member] = 'verified';
      continue;
    }
    // An inspection shows what it can: an element that does not even parse stays unset.
    try {
      (member as { value?: unknown }).value = s.decode(element);
      status[s.member] = 'unverified';
    } catch {
      status[s.member] = 'undecodable';
    }
  }
  return status;
}

function textOf(m: SuitManifest): SuitText | undefined {
  return m.text?.value;
}

/** Layer 7. */
function applyPolicy(manifest: SuitManifest, p: ResolvedPolicy): void {
  const seq = BigInt(manifest.sequenceNumber);
  // §8.4.2: "Each Recipient MUST reject any manifest that has a sequence number lower than its
  // current sequence number."
  if (seq < p.minSequenceNumber) {
    throw fail('ERR_SUIT_ROLLBACK', `sequence number ${seq} is below the lowest acceptable ${p.minSequenceNumber}`, { sequenceNumber: seq.toString() });
  }
  if (p.vendorIds === undefined && p.classIds === undefined) return;
  // The vendor and class conditions belong in the shared sequence (§6.2: "SHOULD check that
  // the shared sequence contains at least Check Vendor Identifier command and at least one
  // Check Class Identifier command"); a policy that names IDs insists on them.
  const checks = identifierChecks(manifest);
  // Every identifier condition counts, those in try-each alternatives included: a manifest
  // whose alternatives name a vendor this device class does not accept is refused as a whole.
  const judge = (condition: 'vendor' | 'class', accepted: ReadonlySet<string> | undefined, code: SuitErrorCode): void => {
    if (accepted === undefined) return;
    const mine = checks.filter((c) => c.condition === condition);
    if (mine.length === 0) throw fail(code, `the manifest has no ${condition}-identifier condition`);
    for (const c of mine) {
      const id = c.value?.length === 16 ? formatUuid(c.value) : undefined;
      if (id === undefined || !accepted.has(id)) {
        throw fail(code, `${condition} ID ${id ?? (c.value ? hex(c.value) : 'unset')} of component ${c.component} is not accepted`);
      }
    }
  };
  judge('vendor', p.vendorIds, 'ERR_SUIT_VENDOR_MISMATCH');
  judge('class', p.classIds, 'ERR_SUIT_CLASS_MISMATCH');
}

/**
 * Verifies a SUIT envelope against a trust policy, layer by layer (see the module comment),
 * and returns the authenticated manifest. An envelope that fails any layer throws; the
 * result is only ever `valid: true`.
 *
 * @example
 * const policy: SuitPolicy = { trustedKeys: [{ key: loadPublicKey(pem), roles: ['oem'] }], minSequenceNumber: 3 };
 * const { manifest, components } = verifyEnvelope(bytes, policy);
 *
 * @throws Lwm2mFotaError with one of `ERR_SUIT_POLICY` (the policy itself is malformed),
 *   `ERR_SUIT_CBOR`, `ERR_SUIT_STRUCTURE`, `ERR_SUIT_UNSIGNED`, `ERR_SUIT_ALGORITHM_NOT_ALLOWED`,
 *   `ERR_SUIT_SIGNATURE_INVALID`, `ERR_SUIT_SIGNERS_MISSING`, `ERR_SUIT_MANIFEST_DIGEST`,
 *   `ERR_SUIT_SEVERED_DIGEST`, `ERR_SUIT_IMAGE_DIGEST` (an integrated payload), `ERR_SUIT_ROLLBACK`, `ERR_SUIT_VENDOR_MISMATCH`,
 *   `ERR_SUIT_CLASS_MISMATCH`.
 */
export function verifyEnvelope(bytes: Uint8Array, policy: SuitPolicy): SuitVerifiedEnvelope {
  const p = resolvePolicy(policy);
  const envelope = decodeEnvelope(bytes);
  const signatures = authenticate(envelope, p);
  const digest = envelope.authentication.digest;
  // §8.3: "The SUIT_Digest is computed over the bstr-wrapped SUIT_Manifest that is present in
  // the SUIT_Envelope at the suit-manifest key."
  if (!equalBytes(suitDigestOf(envelope.manifestBytes), digest.bytes)) {
    throw fail('ERR_SUIT_MANIFEST_DIGEST', 'the manifest does not match the signed digest');
  }
  const manifest = decodeManifest(envelope.manifestBytes);
  const severed = resolveSeverable(envelope, manifest, true);
  const components = summarizeComponents(manifest);
  checkUnauthenticatedMembers(envelope, components);
  applyPolicy(manifest, p);
  const signers = [...new Set(signatures.filter((s) => s.verified).map((s) => s.keyId!))];
  const roles = [...new Set(signatures.flatMap((s) => (s.verified ? (s.roles ?? []) : [])))];
  const result: SuitVerifiedEnvelope = {
    valid: true,
    envelope,
    manifest,
    manifestDigest: digest,
    sequenceNumber: manifest.sequenceNumber,
    signatures,
    signers,
    roles,
    components,
    severed,
  };
  const text = textOf(manifest);
  if (text) result.text = text;
  return result;
}

/**
 * Envelope members outside the signed manifest. No digest covers an unknown envelope member,
 * so a verified envelope must not carry one (decoding keeps them; verification refuses them).
 * An integrated payload must be named by a URI of the manifest, and when that component has
 * an image digest the payload must match it (§7.6: the payload key is the URI it stands for).
 */
function checkUnauthenticatedMembers(env: SuitEnvelope, components: SuitComponentSummary[]): void {
  const unknown = env.extensions[0];
  if (unknown !== undefined) throw structureError(`envelope member ${String(unknown[0])} is not covered by any digest`);
  for (const p of env.integratedPayloads) {
    const users = components.filter((c) => c.uris.includes(p.key));
    if (users.length === 0) throw structureError(`integrated payload "${p.key}" is not named by the manifest`);
    for (const c of users) {
      if (c.uri !== p.key || !c.imageDigest) continue;
      checkDigestAlgorithm(c.imageDigest, `image digest of component ${c.index}`);
      const actual = new Uint8Array(createHash('sha256').update(p.bytes).digest());
      if (!equalBytes(actual, c.imageDigest.bytes) || (c.imageSize !== undefined && BigInt(p.bytes.length) !== BigInt(c.imageSize))) {
        throw fail('ERR_SUIT_IMAGE_DIGEST', `integrated payload "${p.key}" does not match the image digest of component ${c.index}`);
      }
    }
  }
}

/**
 * Parses everything in an envelope WITHOUT authenticating it — for display (`manifest show`)
 * and debugging only. Severed elements present in the envelope are decoded whether or not
 * they match their digests; signatures are reported, never checked.
 *
 * @throws Lwm2mFotaError `ERR_SUIT_CBOR`, `ERR_SUIT_STRUCTURE` when the envelope or the
 *   manifest cannot be parsed.
 */
export function inspectUnverified(bytes: Uint8Array): SuitInspection {
  const envelope = decodeEnvelope(bytes);
  const manifest = decodeManifest(envelope.manifestBytes);
  const severed = resolveSeverable(envelope, manifest, false);
  const digest = envelope.authentication.digest;
  const signatures: SuitSignatureReport[] = envelope.authentication.blocks.map((b, index) => {
    if (b.kind !== 'sign1') return { index, alg: undefined, algName: 'none', verified: false, skipped: 'not-sign1' };
    const r: SuitSignatureReport = { index, alg: b.sign1.alg, algName: algorithmName(b.sign1.alg), verified: false, skipped: 'unverified-inspection' };
    if (b.sign1.kid) r.kid = b.sign1.kid;
    return r;
  });
  const result: SuitInspection = {
    valid: false,
    verified: false,
    envelope,
    manifest,
    manifestDigest: digest,
    manifestDigestMatches: digest.alg === CoseHashAlgorithm.Sha256 && equalBytes(suitDigestOf(envelope.manifestBytes), digest.bytes),
    sequenceNumber: manifest.sequenceNumber,
    signatures,
    components: summarizeComponents(manifest),
    severed,
  };
  const text = textOf(manifest);
  if (text) result.text = text;
  return result;
}
