import { createHash } from 'node:crypto';
import { isLwm2mFotaError, type ErrorCode } from '../../src/errors';
import {
  checkImage,
  createManifest,
  decodeEnvelope,
  describeEnvelope,
  encodeEnvelope,
  envelopeTree,
  formatUuid,
  generateKeyPair,
  inspectUnverified,
  resolveUriReference,
  signEnvelope,
  verifyEnvelope,
  type SuitPolicy,
} from '../../src/suit';
import { flip, hex, indexOf } from './helpers';

function codeOf(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (err) {
    if (isLwm2mFotaError(err)) return err.code;
    throw err;
  }
  throw new Error('expected an error');
}

const image = new Uint8Array(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));
const imageSha = createHash('sha256').update(image).digest('hex');
const oem = generateKeyPair('esp256').privateKey;
const operator = generateKeyPair('ed25519').privateKey;
const base = { image, sequenceNumber: 42, vendorDomain: 'example.com', className: 'sensor-v2' };

describe('createManifest', () => {
  it('builds a manifest with digest, size, vendor/class UUIDv5, URI and text, which verifies', () => {
    const created = createManifest({ ...base, uri: 'coaps://fw.example.com/img.bin', version: '1.2.3', description: 'fixes', signers: [oem] });
    expect(hex(created.imageDigest)).toBe(imageSha);
    expect(formatUuid(created.vendorId)).toBe('cfbff0d1-9375-5685-968c-48ce8b15ae17');
    const r = verifyEnvelope(created.envelope, {
      trustedKeys: [{ key: oem }],
      minSequenceNumber: 42,
      vendorIds: [formatUuid(created.vendorId)],
      classIds: [formatUuid(created.classId)],
    });
    const j = describeEnvelope(r);
    expect(j.valid).toBe(true);
    expect(j.sequenceNumber).toBe(42);
    expect(j.components).toEqual([
      {
        index: 0,
        id: ['00'],
        vendorId: 'cfbff0d1-9375-5685-968c-48ce8b15ae17',
        classId: formatUuid(created.classId),
        imageDigest: { alg: 'sha-256', hex: imageSha },
        imageSize: 5000,
        uri: 'coaps://fw.example.com/img.bin',
        uris: ['coaps://fw.example.com/img.bin'],
      },
    ]);
    expect(j.signatures).toEqual([{ alg: 'ESP256', algId: -9, kid: null, verified: true, keyId: r.signers[0] }]);
    expect(j.text).toEqual({
      'en-US': { 'manifest-description': 'fixes', components: [{ id: ['00'], 'vendor-domain': 'example.com', 'model-name': 'sensor-v2', 'component-version': '1.2.3' }] },
    });
    expect(j.severed).toEqual({ install: 'inline', text: 'verified' });
    // shared: override + vendor + class; install: uri + fetch + image-match; validate: image-match
    expect(r.manifest.common.sharedSequence!.map((c) => c.code)).toEqual([20, 1, 2]);
    expect(r.manifest.install!.value!.map((c) => c.code)).toEqual([20, 21, 3]);
    expect(r.manifest.validate!.map((c) => c.code)).toEqual([3]);
    expect(envelopeTree(r)).toContain('VERIFIED');
    checkImage(image, r.components[0]!);
  });

  it('with relativeUri names the image /fw/<sha256>, which resolves against the envelope URI', () => {
    const { envelope, uri } = createManifest({ ...base, relativeUri: true, signers: [oem] });
    expect(uri).toBe(`/fw/${imageSha}`);
    const r = verifyEnvelope(envelope, { trustedKeys: [{ key: oem }] });
    expect(r.components[0]!.uri).toBe(`/fw/${imageSha}`);
    expect(resolveUriReference('coap://[2001:db8::1]:5683/fw/abcd', r.components[0]!.uri!)).toBe(`coap://[2001:db8::1]:5683/fw/${imageSha}`);
  });

  it('with integrated carries the image in the envelope under its fragment URI', () => {
    const { envelope } = createManifest({ ...base, integrated: true, signers: [oem] });
    const r = verifyEnvelope(envelope, { trustedKeys: [{ key: oem }] });
    expect(r.components[0]!.uri).toBe('#firmware');
    expect(r.envelope.integratedPayloads).toHaveLength(1);
    expect(r.envelope.integratedPayloads[0]!.key).toBe('#firmware');
    checkImage(r.envelope.integratedPayloads[0]!.bytes, r.components[0]!);
    expect(hex(encodeEnvelope(decodeEnvelope(envelope)))).toBe(hex(envelope));
    // the payload is checked against the image digest during verification
    const swapped = decodeEnvelope(envelope);
    swapped.integratedPayloads[0]!.bytes = flip(image, 1);
    expect(codeOf(() => verifyEnvelope(encodeEnvelope(swapped), { trustedKeys: [{ key: oem }] }))).toBe('ERR_SUIT_IMAGE_DIGEST');
  });

  it('needs exactly one of uri, integrated, relativeUri', () => {
    expect(codeOf(() => createManifest({ ...base }))).toBe('ERR_SUIT_STRUCTURE');
    expect(codeOf(() => createManifest({ ...base, uri: 'x', relativeUri: true }))).toBe('ERR_SUIT_STRUCTURE');
  });

  it('checkImage rejects an image that does not match', () => {
    const r = inspectUnverified(createManifest({ ...base, uri: 'coap://x/y' }).envelope);
    expect(codeOf(() => checkImage(flip(image, 10), r.components[0]!))).toBe('ERR_SUIT_IMAGE_DIGEST');
    expect(codeOf(() => checkImage(image.subarray(1), r.components[0]!))).toBe('ERR_SUIT_IMAGE_DIGEST');
  });

  it('rejects a flipped byte in its severable text', () => {
    const { envelope } = createManifest({ ...base, uri: 'coap://x/y', description: 'hello', signers: [oem] });
    const text = decodeEnvelope(envelope).severable.text!;
    const at = indexOf(envelope, text);
    expect(codeOf(() => verifyEnvelope(flip(envelope, at + text.length - 1), { trustedKeys: [{ key: oem }] }))).toBe('ERR_SUIT_SEVERED_DIGEST');
  });

  it('sequence numbers beyond 2^53 survive as bigint', () => {
    const seq = 2n ** 60n + 1n;
    const { envelope } = createManifest({ ...base, sequenceNumber: seq, uri: 'coap://x/y', signers: [oem] });
    const r = verifyEnvelope(envelope, { trustedKeys: [{ key: oem }], minSequenceNumber: seq });
    expect(r.sequenceNumber).toBe(seq);
    expect(describeEnvelope(r).sequenceNumber).toBe(seq.toString());
    expect(codeOf(() => verifyEnvelope(envelope, { trustedKeys: [{ key: oem }], minSequenceNumber: seq + 1n }))).toBe('ERR_SUIT_ROLLBACK');
  });
});

describe('several signers and roles', () => {
  const unsigned = createManifest({ ...base, uri: 'coap://x/y' }).envelope;
  const byOem = signEnvelope(unsigned, oem, { kid: new TextEncoder().encode('oem') });
  const byBoth = signEnvelope(byOem, operator, { kid: new TextEncoder().encode('operator') });
  const policy: SuitPolicy = {
    trustedKeys: [
      { id: 'oem', key: oem, roles: ['oem'] },
      { id: 'operator', key: operator, roles: ['operator'] },
    ],
    signers: { roles: ['oem', 'operator'] },
  };

  it('appending a signature leaves every other element byte for byte', () => {
    const a = decodeEnvelope(byOem);
    const b = decodeEnvelope(byBoth);
    expect(hex(b.manifestBytes)).toBe(hex(a.manifestBytes));
    expect(hex(b.authentication.digestBytes)).toBe(hex(a.authentication.digestBytes));
    expect(hex(b.authentication.blocks[0]!.raw)).toBe(hex(a.authentication.blocks[0]!.raw));
    expect(hex(b.severable.text!)).toBe(hex(a.severable.text!));
    expect(b.authentication.blocks).toHaveLength(2);
  });

  it('OEM and operator both signed: the policy requiring both roles accepts', () => {
    const r = verifyEnvelope(byBoth, policy);
    expect(r.signers).toEqual(['oem', 'operator']);
    expect(r.roles.sort()).toEqual(['oem', 'operator']);
    expect(r.signatures.map((s) => [s.algName, Buffer.from(s.kid!).toString()])).toEqual([
      ['ESP256', 'oem'],
      ['Ed25519', 'operator'],
    ]);
  });

  it('only the OEM signed: the policy requiring the operator role refuses', () => {
    expect(codeOf(() => verifyEnvelope(byOem, policy))).toBe('ERR_SUIT_SIGNERS_MISSING');
    expect(codeOf(() => verifyEnvelope(byOem, { ...policy, signers: { minSigners: 2 } }))).toBe('ERR_SUIT_SIGNERS_MISSING');
    expect(codeOf(() => verifyEnvelope(byOem, { ...policy, signers: { keyIds: ['operator'] } }))).toBe('ERR_SUIT_SIGNERS_MISSING');
  });

  it('a misleading kid does not stop the right key from verifying', () => {
    const wrongKid = signEnvelope(unsigned, oem, { kid: new TextEncoder().encode('operator') });
    expect(verifyEnvelope(wrongKid, { trustedKeys: policy.trustedKeys }).signers).toEqual(['oem']);
  });

  it('refuses to sign twice with the same key and algorithm', () => {
    expect(codeOf(() => signEnvelope(byOem, oem))).toBe('ERR_SUIT_KEY');
  });

  it('refuses to sign an envelope whose manifest does not match its digest', () => {
    const at = indexOf(unsigned, decodeEnvelope(unsigned).manifestBytes);
    expect(codeOf(() => signEnvelope(flip(unsigned, at + 3), oem))).toBe('ERR_SUIT_MANIFEST_DIGEST');
  });

  it('an algorithm that does not fit the key cannot sign', () => {
    expect(codeOf(() => signEnvelope(unsigned, oem, { alg: -19 }))).toBe('ERR_SUIT_ALGORITHM_NOT_ALLOWED');
  });

  it('ES256 (-7) and EdDSA (-8) are accepted, ESP256 and Ed25519 are the defaults', () => {
    const legacy = signEnvelope(signEnvelope(unsigned, oem, { alg: -7 }), operator, { alg: -8 });
    expect(verifyEnvelope(legacy, policy).signatures.map((s) => s.alg)).toEqual([-7, -8]);
    expect(verifyEnvelope(byBoth, policy).signatures.map((s) => s.alg)).toEqual([-9, -19]);
  });
});
