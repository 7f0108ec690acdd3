/**
 * Every broken envelope is rejected with the code of the layer it breaks, and nothing crashes.
 */
import fc from 'fast-check';
import { isLwm2mFotaError, type ErrorCode } from '../../src/errors';
import {
  buildEnvelope,
  CborMap,
  createManifest,
  CborTag,
  decodeEnvelope,
  encodeCbor,
  encodeEnvelope,
  generateKeyPair,
  inspectUnverified,
  loadPrivateKey,
  loadPublicKey,
  signEnvelope,
  verifyEnvelope,
  type SuitPolicy,
} from '../../src/suit';
import { EXAMPLES, expected, flip, fromHex, indexOf, vector } from './helpers';

const draftKey = loadPublicKey(expected.publicKey.spkiPem);
const draftPrivate = loadPrivateKey(expected.privateKey.pkcs8Pem);
const policy: SuitPolicy = { trustedKeys: [{ id: 'draft', key: draftKey }] };

const ARM_VENDOR = 'fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe';
const ARM_CLASS = '1492af14-2569-5e48-bf42-9b2d51f2ab45';
const OTHER_UUID = '00000000-0000-5000-8000-000000000000';

/** The code `fn` throws; fails the test when it does not throw one of ours. */
function codeOf(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (err) {
    if (isLwm2mFotaError(err)) return err.code;
    throw err;
  }
  throw new Error('expected an error, got a result');
}

describe.each(EXAMPLES)('negative vectors from %s', (name) => {
  const ex = expected.examples[name]!;
  const bytes = vector(ex.file);
  const env = decodeEnvelope(bytes);

  it('rejects one flipped byte in the signature', () => {
    const at = indexOf(bytes, fromHex(ex.authentication.signatures[0]!.signatureHex));
    expect(at).toBeGreaterThan(0);
    for (const offset of [0, 31, 32, 63]) expect(codeOf(() => verifyEnvelope(flip(bytes, at + offset), policy))).toBe('ERR_SUIT_SIGNATURE_INVALID');
  });

  it('rejects one flipped byte in the signed digest', () => {
    const at = indexOf(bytes, fromHex(ex.authentication.manifestDigest));
    expect(codeOf(() => verifyEnvelope(flip(bytes, at + 5), policy))).toBe('ERR_SUIT_SIGNATURE_INVALID');
  });

  it('rejects one flipped byte anywhere in the manifest', () => {
    const at = indexOf(bytes, env.manifestBytes);
    for (const offset of [0, 1, Math.floor(env.manifestBytes.length / 2), env.manifestBytes.length - 1]) {
      expect(codeOf(() => verifyEnvelope(flip(bytes, at + offset), policy))).toBe('ERR_SUIT_MANIFEST_DIGEST');
    }
  });

  it('rejects a wrong key', () => {
    const other = generateKeyPair('esp256').privateKey;
    expect(codeOf(() => verifyEnvelope(bytes, { trustedKeys: [{ key: other }] }))).toBe('ERR_SUIT_SIGNATURE_INVALID');
    const ed = generateKeyPair('ed25519').privateKey;
    expect(codeOf(() => verifyEnvelope(bytes, { trustedKeys: [{ key: ed }] }))).toBe('ERR_SUIT_SIGNATURE_INVALID');
  });

  it('rejects an algorithm the policy does not allow', () => {
    expect(codeOf(() => verifyEnvelope(bytes, { ...policy, allowedAlgorithms: [-9, -19] }))).toBe('ERR_SUIT_ALGORITHM_NOT_ALLOWED');
  });

  it('rejects a lower sequence number and accepts the same one', () => {
    const seq = ex.manifest.sequenceNumber;
    expect(codeOf(() => verifyEnvelope(bytes, { ...policy, minSequenceNumber: seq + 1 }))).toBe('ERR_SUIT_ROLLBACK');
    expect(verifyEnvelope(bytes, { ...policy, minSequenceNumber: seq }).valid).toBe(true);
  });

  it('rejects a wrong vendor or class and accepts the right ones', () => {
    expect(codeOf(() => verifyEnvelope(bytes, { ...policy, classIds: [OTHER_UUID] }))).toBe('ERR_SUIT_CLASS_MISMATCH');
    expect(codeOf(() => verifyEnvelope(bytes, { ...policy, vendorIds: [OTHER_UUID] }))).toBe('ERR_SUIT_VENDOR_MISMATCH');
    expect(verifyEnvelope(bytes, { ...policy, vendorIds: [ARM_VENDOR], classIds: [ARM_CLASS] }).valid).toBe(true);
  });

  it('rejects every truncation as malformed CBOR', () => {
    for (let n = 0; n < bytes.length; n++) expect(codeOf(() => verifyEnvelope(bytes.subarray(0, n), policy))).toBe('ERR_SUIT_CBOR');
  });

  it('rejects trailing bytes', () => {
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(codeOf(() => verifyEnvelope(longer, policy))).toBe('ERR_SUIT_CBOR');
  });

  it('rejects the unsigned variant as unsigned', () => {
    const unsigned = name === 'example2' ? 'example2-severed-unsigned.hex' : `${name}-unsigned.hex`;
    expect(codeOf(() => verifyEnvelope(vector(unsigned), policy))).toBe('ERR_SUIT_UNSIGNED');
  });
});

describe('negative vectors: severed elements', () => {
  const bytes = vector('example2.hex');
  const env = decodeEnvelope(bytes);

  it('rejects one flipped byte in the install element', () => {
    const at = indexOf(bytes, env.severable.install!);
    expect(codeOf(() => verifyEnvelope(flip(bytes, at + 3), policy))).toBe('ERR_SUIT_SEVERED_DIGEST');
  });

  it('rejects one flipped byte in the text element', () => {
    const at = indexOf(bytes, env.severable.text!);
    expect(codeOf(() => verifyEnvelope(flip(bytes, at + env.severable.text!.length - 2), policy))).toBe('ERR_SUIT_SEVERED_DIGEST');
  });

  it('rejects a severable element the manifest does not cover', () => {
    const e = decodeEnvelope(vector('example1.hex'));
    e.severable.text = env.severable.text!;
    expect(codeOf(() => verifyEnvelope(encodeEnvelope(e), policy))).toBe('ERR_SUIT_SEVERED_DIGEST');
  });

  it('an inspection still shows a tampered element but never calls it valid', () => {
    const at = indexOf(bytes, env.severable.install!);
    const r = inspectUnverified(flip(bytes, at + 3));
    expect(r.valid).toBe(false);
    expect(r.verified).toBe(false);
    expect(r.severed.install).toMatch(/^(unverified|undecodable)$/);
    expect(inspectUnverified(bytes).severed).toEqual({ install: 'unverified', text: 'unverified' });
  });
});

describe('negative vectors: structure', () => {
  it('rejects well-formed CBOR that is no envelope', () => {
    expect(codeOf(() => verifyEnvelope(encodeCbor([1, 2, 3]), policy))).toBe('ERR_SUIT_STRUCTURE');
    expect(codeOf(() => verifyEnvelope(encodeCbor(new CborTag(107, new CborMap([[3, new Uint8Array(1)]]))), policy))).toBe('ERR_SUIT_STRUCTURE');
    expect(codeOf(() => verifyEnvelope(encodeCbor(new CborTag(1070, new CborMap())), policy))).toBe('ERR_SUIT_STRUCTURE');
  });

  it('rejects an authentication block that is not a valid COSE_Sign1', () => {
    const e = decodeEnvelope(vector('example0.hex'));
    const bad = encodeCbor(new CborTag(18, [new Uint8Array([0xa1, 0x01, 0x26]), new CborMap(), null]));
    e.authentication.blocks = [{ kind: 'other', raw: bad, tag: 18 }];
    expect(codeOf(() => verifyEnvelope(encodeEnvelope(e), policy))).toBe('ERR_SUIT_STRUCTURE');
  });

  it('rejects a COSE_Sign1 with an attached payload', () => {
    const e = decodeEnvelope(vector('example0.hex'));
    const b = e.authentication.blocks[0]!;
    if (b.kind !== 'sign1') throw new Error('expected a COSE_Sign1');
    const attached = encodeCbor(new CborTag(18, [b.sign1.protectedBytes, new CborMap(), new Uint8Array([1]), b.sign1.signature]));
    e.authentication.blocks = [{ kind: 'other', raw: attached, tag: 18 }];
    expect(codeOf(() => verifyEnvelope(encodeEnvelope(e), policy))).toBe('ERR_SUIT_STRUCTURE');
  });

  it('rejects a signed manifest that is not a SUIT manifest, after the signature checks out', () => {
    const garbage = encodeCbor(new CborMap([[1, 2]]));
    const signed = signEnvelope(buildEnvelope(garbage), draftPrivate);
    expect(codeOf(() => verifyEnvelope(signed, policy))).toBe('ERR_SUIT_STRUCTURE');
  });

  it('rejects a digest algorithm other than SHA-256', () => {
    const e = decodeEnvelope(vector('example0.hex'));
    e.authentication.digestBytes = encodeCbor([-44, e.authentication.digest.bytes]);
    expect(codeOf(() => verifyEnvelope(encodeEnvelope(e), policy))).toBe('ERR_SUIT_ALGORITHM_NOT_ALLOWED');
  });

  it('rejects non-deterministic CBOR (a length in a longer form than needed)', () => {
    const b = vector('example0.hex');
    // d8 6b a2 02 58 73 … : re-encode the map head a2 as b9 00 02.
    const longForm = new Uint8Array([...b.subarray(0, 2), 0xb9, 0x00, 0x02, ...b.subarray(3)]);
    expect(codeOf(() => verifyEnvelope(longForm, policy))).toBe('ERR_SUIT_CBOR');
  });

  it('rejects a policy that cannot be met as a policy error', () => {
    expect(codeOf(() => verifyEnvelope(vector('example0.hex'), { trustedKeys: [] }))).toBe('ERR_SUIT_POLICY');
    expect(codeOf(() => verifyEnvelope(vector('example0.hex'), { ...policy, signers: { keyIds: ['nobody'] } }))).toBe('ERR_SUIT_POLICY');
    expect(codeOf(() => verifyEnvelope(vector('example0.hex'), { ...policy, vendorIds: ['not-a-uuid'] }))).toBe('ERR_SUIT_POLICY');
  });
});

describe('properties', () => {
  const edKey = { type: 'ed25519' as const, publicKey: fromHex(expected.derived.ed25519Key.publicKeyHex) };
  const edPrivate = { ...edKey, secretKey: fromHex(expected.derived.ed25519Key.secretKeyHex) };
  // Ours: image integrated, text severable, two signers.
  const created = createManifest({
    image: new Uint8Array(300).fill(7),
    sequenceNumber: 9,
    vendorDomain: 'example.com',
    className: 'c',
    integrated: true,
    version: '1.0',
    signers: [draftPrivate, edPrivate],
  }).envelope;
  const valid = EXAMPLES.map((n) => vector(`${n}.hex`)).concat([vector('derived-example0-multisig.hex'), vector('libcsuit-example2-esp256.hex'), created]);
  const both: SuitPolicy = { trustedKeys: [{ key: draftKey }, { key: edKey }], signers: { allSignaturesValid: true } };

  function rejectsWithSuitCode(b: Uint8Array): boolean {
    try {
      verifyEnvelope(b, both);
      return false;
    } catch (err) {
      return isLwm2mFotaError(err) && err.code.startsWith('ERR_SUIT_');
    }
  }

  // These envelopes have no unprotected header content (a kid there is an unauthenticated
  // hint, so changing it would not change what verifies).
  it('no single-byte change of a valid envelope verifies', () => {
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 1, max: 255 }), (b, pos, mask) => rejectsWithSuitCode(flip(b, pos % b.length, mask))),
      { numRuns: 1500 },
    );
  });

  it('no insertion, deletion or overwrite of a byte range verifies', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.nat(),
        fc.integer({ min: 0, max: 8 }),
        fc.uint8Array({ minLength: 0, maxLength: 8 }),
        (b, pos, del, ins) => {
          const at = pos % b.length;
          const mutated = new Uint8Array([...b.subarray(0, at), ...ins, ...b.subarray(Math.min(b.length, at + del))]);
          fc.pre(Buffer.compare(Buffer.from(mutated), Buffer.from(b)) !== 0);
          return rejectsWithSuitCode(mutated);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('random bytes never crash the decoder, the verifier or the inspection', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        for (const fn of [() => decodeEnvelope(b), () => verifyEnvelope(b, policy), () => inspectUnverified(b)]) {
          try {
            fn();
            return false; // random bytes are never a valid envelope
          } catch (err) {
            if (!isLwm2mFotaError(err) || !err.code.startsWith('ERR_SUIT_')) return false;
          }
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes behind a valid envelope prefix never crash either', () => {
    const head = vector('example2.hex').subarray(0, 40);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => rejectsWithSuitCode(new Uint8Array([...head, ...tail]))),
      { numRuns: 1000 },
    );
  });
});
