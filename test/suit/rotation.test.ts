/**
 * Key rotation: a new trust anchor announced in a manifest is accepted only when the current
 * trust anchor signed that manifest (see src/suit/rotation.ts for the design).
 */
import { isLwm2mFotaError, type ErrorCode } from '../../src/errors';
import {
  acceptKeyRotation,
  createKeyRotationEnvelope,
  createManifest,
  decodeEnvelope,
  generateKeyPair,
  inspectUnverified,
  KEY_ANNOUNCEMENT_MEMBER,
  verifyEnvelope,
  vendorIdFor,
  classIdFor,
  formatUuid,
  type SuitPolicy,
  type SuitSigner,
} from '../../src/suit';
import { flip, indexOf } from './helpers';

function codeOf(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (err) {
    if (isLwm2mFotaError(err)) return err.code;
    throw err;
  }
  throw new Error('expected an error');
}

const oldOem = generateKeyPair('esp256').privateKey;
const newOem = generateKeyPair('ed25519').privateKey;
const operator = generateKeyPair('esp256').privateKey;
const attacker = generateKeyPair('esp256').privateKey;
const vendorId = vendorIdFor('example.com');
const classId = classIdFor(vendorId, 'sensor');
const policy: SuitPolicy = {
  trustedKeys: [
    { id: 'oem-2024', key: oldOem, roles: ['oem'] },
    { id: 'operator', key: operator, roles: ['operator'] },
  ],
  minSequenceNumber: 10,
  vendorIds: [formatUuid(vendorId)],
  classIds: [formatUuid(classId)],
};
const firmware = (signers: SuitSigner[], seq = 20): Uint8Array =>
  createManifest({ image: new Uint8Array(100), sequenceNumber: seq, vendorDomain: 'example.com', className: 'sensor', uri: 'coap://x/fw', signers }).envelope;

describe('key rotation', () => {
  it('accepts a new key announced by the current trust anchor, and trusts it afterwards', () => {
    expect(codeOf(() => verifyEnvelope(firmware([newOem]), policy))).toBe('ERR_SUIT_SIGNATURE_INVALID');
    const announcement = createKeyRotationEnvelope({ newKey: newOem, id: 'oem-2025', roles: ['oem'], retire: ['oem-2024'], sequenceNumber: 11, vendorId, classId, signers: [oldOem] });
    const { policy: next, announcement: a } = acceptKeyRotation(announcement, policy);
    expect(a.id).toBe('oem-2025');
    expect(next.trustedKeys.map((k) => k.id)).toEqual(['operator', 'oem-2025']);
    expect(next.minSequenceNumber).toBe(11);
    expect(verifyEnvelope(firmware([newOem]), next).signers).toEqual(['oem-2025']);
    // the retired key no longer counts
    expect(codeOf(() => verifyEnvelope(firmware([oldOem]), next))).toBe('ERR_SUIT_SIGNATURE_INVALID');
    // the old policy value is unchanged
    expect(policy.trustedKeys).toHaveLength(2);
  });

  it('rejects an announcement signed by the new key itself (no trust bootstrapping)', () => {
    const selfSigned = createKeyRotationEnvelope({ newKey: newOem, roles: ['oem'], sequenceNumber: 11, signers: [newOem] });
    expect(codeOf(() => acceptKeyRotation(selfSigned, policy))).toBe('ERR_SUIT_SIGNATURE_INVALID');
  });

  it('rejects an announcement signed by an unknown key', () => {
    const forged = createKeyRotationEnvelope({ newKey: attacker, roles: ['oem'], sequenceNumber: 11, signers: [attacker] });
    expect(codeOf(() => acceptKeyRotation(forged, policy))).toBe('ERR_SUIT_SIGNATURE_INVALID');
  });

  it('rejects a tampered announcement (new key swapped after signing)', () => {
    const genuine = createKeyRotationEnvelope({ newKey: newOem, roles: ['oem'], sequenceNumber: 11, signers: [oldOem] });
    const at = indexOf(genuine, newOem.publicKey);
    expect(at).toBeGreaterThan(0);
    expect(codeOf(() => acceptKeyRotation(flip(genuine, at + 4), policy))).toBe('ERR_SUIT_MANIFEST_DIGEST');
  });

  it('rejects a role the signer does not hold: an operator cannot mint an OEM key', () => {
    const escalation = createKeyRotationEnvelope({ newKey: attacker, roles: ['oem'], sequenceNumber: 11, vendorId, classId, signers: [operator] });
    expect(codeOf(() => acceptKeyRotation(escalation, policy))).toBe('ERR_SUIT_SIGNERS_MISSING');
  });

  it('rejects a replayed old announcement (anti-rollback applies)', () => {
    const old = createKeyRotationEnvelope({ newKey: newOem, roles: ['oem'], sequenceNumber: 5, signers: [oldOem] });
    expect(codeOf(() => acceptKeyRotation(old, policy))).toBe('ERR_SUIT_ROLLBACK');
  });

  it('rejects an announcement for another device class', () => {
    const otherClass = classIdFor(vendorId, 'gateway');
    const env = createKeyRotationEnvelope({ newKey: newOem, roles: ['oem'], sequenceNumber: 11, vendorId, classId: otherClass, signers: [oldOem] });
    expect(codeOf(() => acceptKeyRotation(env, policy))).toBe('ERR_SUIT_CLASS_MISMATCH');
  });

  it('rejects an ordinary firmware manifest as an announcement', () => {
    expect(codeOf(() => acceptKeyRotation(firmware([oldOem]), policy))).toBe('ERR_SUIT_STRUCTURE');
  });

  it('the announcement is a manifest member, covered by the signature, readable by inspection', () => {
    const env = createKeyRotationEnvelope({ newKey: newOem, roles: ['oem'], sequenceNumber: 11, signers: [oldOem] });
    const r = inspectUnverified(env);
    expect(r.manifest.extensions?.map(([k]) => k)).toEqual([KEY_ANNOUNCEMENT_MEMBER]);
    expect(decodeEnvelope(env).authentication.blocks).toHaveLength(1);
  });
});
