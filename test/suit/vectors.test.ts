/**
 * draft-ietf-suit-manifest-34 Appendix B: the six example envelopes, their unsigned and
 * severed variants, libcsuit's ESP256 re-signatures and the derived Ed25519/multi-signer cases.
 */
import { p256 } from '@noble/curves/nist.js';
import {
  decodeEnvelope,
  decodeManifest,
  encodeEnvelope,
  encodeManifest,
  inspectUnverified,
  loadPrivateKey,
  loadPublicKey,
  signEnvelope,
  sigStructure,
  verifyEnvelope,
  type SuitPolicy,
  type SuitPublicKey,
} from '../../src/suit';
import { readdirSync } from 'node:fs';
import { commandsJson, EXAMPLES, expected, fromHex, hex, parametersJson, textExpectedJson, vector, VECTOR_DIR } from './helpers';

const draftKey = loadPublicKey(expected.publicKey.spkiPem);
const draftPrivate = loadPrivateKey(expected.privateKey.pkcs8Pem);
const edKey: SuitPublicKey = { type: 'ed25519', publicKey: fromHex(expected.derived.ed25519Key.publicKeyHex) };
const draftPolicy: SuitPolicy = { trustedKeys: [{ id: 'draft', key: draftKey }] };

function withoutSignatures(bytes: Uint8Array): Uint8Array {
  const env = decodeEnvelope(bytes);
  env.authentication.blocks = [];
  return encodeEnvelope(env);
}

describe('draft-ietf-suit-manifest Appendix B examples', () => {
  describe.each(EXAMPLES)('%s', (name) => {
    const ex = expected.examples[name]!;
    const bytes = vector(ex.file);

    it('verifies with the published P-256 key', () => {
      const r = verifyEnvelope(bytes, draftPolicy);
      expect(r.valid).toBe(true);
      expect(r.signers).toEqual(['draft']);
      expect(r.signatures.map((s) => s.alg)).toEqual(ex.authentication.signatures.map((s) => s.alg));
    });

    it('verifies with the noble verifier as well (high-S accepted)', () => {
      expect(verifyEnvelope(bytes, { ...draftPolicy, verifier: 'noble' }).valid).toBe(true);
    });

    it('decodes to the values expected.json gives', () => {
      expect(bytes.length).toBe(ex.sizeBytes);
      const r = verifyEnvelope(bytes, draftPolicy);
      const env = r.envelope;
      expect(hex(env.authentication.digestBytes).endsWith(ex.authentication.manifestDigest)).toBe(true);
      expect(r.manifestDigest.alg).toBe(ex.authentication.digestAlg);
      expect(hex(r.manifestDigest.bytes)).toBe(ex.authentication.manifestDigest);
      const sigs = env.authentication.blocks.map((b) => (b.kind === 'sign1' ? b.sign1 : undefined));
      ex.authentication.signatures.forEach((s, i) => {
        expect(hex(sigs[i]!.protectedBytes)).toBe(s.protectedHex);
        expect(hex(sigs[i]!.signature)).toBe(s.signatureHex);
        expect(sigs[i]!.payload).toBeNull();
        expect(hex(sigStructure(sigs[i]!.protectedBytes, env.authentication.digestBytes))).toBe(s.sigStructureHex);
      });
      const m = r.manifest;
      expect(m.version).toBe(ex.manifest.version);
      expect(r.sequenceNumber).toBe(ex.manifest.sequenceNumber);
      expect(m.referenceUri ?? null).toBe(ex.manifest.referenceUri);
      expect(m.common.components!.map((c) => c.map(hex))).toEqual(ex.manifest.components);
      expect(commandsJson(m)).toEqual(ex.commands);
      const c0 = r.components[0]!;
      expect(r.components).toHaveLength(ex.manifest.components.length);
      expect(c0.vendorId && hex(c0.vendorId)).toBe(ex.summary.vendorIdUuid.replace(/-/g, ''));
      expect(c0.classId && hex(c0.classId)).toBe(ex.summary.classIdUuid.replace(/-/g, ''));
      expect(c0.imageDigest ? { alg: c0.imageDigest.alg, bytes: hex(c0.imageDigest.bytes) } : null).toEqual(ex.summary.imageDigest);
      expect(c0.imageSize ?? null).toBe(ex.summary.imageSize);
      expect(r.components.flatMap((c) => c.uris)).toEqual(ex.summary.uris);
      for (const [index, params] of Object.entries(ex.parametersPerComponent)) {
        expect(parametersJson(r.components[Number(index)]!.parameters)).toEqual(params);
      }
      expect(r.text ? textExpectedJson(r.text) : null).toEqual(ex.text);
      for (const [member, sev] of Object.entries(ex.severable)) {
        const s = m[member as 'install' | 'text']!;
        expect(s.severed).toBe(true);
        if (s.severed) expect({ alg: s.digest.alg, hex: hex(s.digest.bytes) }).toEqual({ alg: sev.digestAlg, hex: sev.digest });
        expect(r.severed[member as 'install' | 'text']).toBe('verified');
      }
    });

    it('re-encodes byte for byte (envelope and manifest model)', () => {
      const env = decodeEnvelope(bytes);
      expect(hex(encodeEnvelope(env))).toBe(hex(bytes));
      expect(hex(encodeManifest(decodeManifest(env.manifestBytes)))).toBe(hex(env.manifestBytes));
    });

    it('signing the unsigned variant with the draft key and ESP256 reproduces libcsuit', () => {
      // The vector set has no unsigned full Example 2: strip the draft's signature instead.
      const unsigned = name === 'example2' ? withoutSignatures(bytes) : vector(`${name}-unsigned.hex`);
      expect(decodeEnvelope(unsigned).authentication.blocks).toHaveLength(0);
      const signed = signEnvelope(unsigned, draftPrivate);
      expect(hex(signed)).toBe(hex(vector(`libcsuit-${name}-esp256.hex`)));
    });
  });

  it('every vector file re-encodes byte for byte, the unknown and severed parts included', () => {
    const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.hex'));
    expect(files.length).toBeGreaterThanOrEqual(23);
    for (const f of files) {
      const b = vector(f);
      expect([f, hex(encodeEnvelope(decodeEnvelope(b)))]).toEqual([f, hex(b)]);
      const m = decodeEnvelope(b).manifestBytes;
      expect([f, hex(encodeManifest(decodeManifest(m)))]).toEqual([f, hex(m)]);
    }
  });

  it('libcsuit ESP256 envelopes verify, and their signatures match expected.json', () => {
    for (const [file, info] of Object.entries(expected.libcsuitEsp256.files)) {
      const r = verifyEnvelope(vector(file), draftPolicy);
      expect(r.signatures[0]!.alg).toBe(-9);
      const b = r.envelope.authentication.blocks[0]!;
      expect(b.kind === 'sign1' && hex(b.sign1.signature)).toBe(info.signatureHex);
    }
  });

  it('signing severed Example 2 reproduces libcsuit (same digest, same signature)', () => {
    expect(hex(signEnvelope(vector('example2-severed-unsigned.hex'), draftPrivate))).toBe(hex(vector('libcsuit-example2-severed-esp256.hex')));
  });

  it('our ECDSA signature over Example 0 is the RFC 6979 one (noble, no low-S normalization)', () => {
    const env = decodeEnvelope(vector('libcsuit-example0-esp256.hex'));
    const b = env.authentication.blocks[0]!;
    if (b.kind !== 'sign1') throw new Error('expected a COSE_Sign1');
    const msg = sigStructure(b.sign1.protectedBytes, env.authentication.digestBytes);
    expect(hex(p256.sign(msg, draftPrivate.secretKey, { lowS: false }))).toBe(hex(b.sign1.signature));
    expect(expected.libcsuitEsp256.files['libcsuit-example0-esp256.hex']!.highS).toBe(true);
  });

  it('severed Example 2 verifies with install and text absent', () => {
    const r = verifyEnvelope(vector('example2-severed.hex'), draftPolicy);
    expect(r.severed).toEqual({ install: 'absent', text: 'absent' });
    expect(r.manifest.install?.value).toBeUndefined();
    expect(r.text).toBeUndefined();
  });

  it('derived Ed25519 (-19) and EdDSA (-8) envelopes verify with the RFC 8032 TEST 1 key', () => {
    for (const file of ['derived-example0-ed25519.hex', 'derived-example0-eddsa.hex']) {
      const r = verifyEnvelope(vector(file), { trustedKeys: [{ id: 'ed', key: edKey }] });
      expect(r.signatures[0]!.alg).toBe(expected.derived.files[file]!.alg);
      expect(r.signers).toEqual(['ed']);
    }
  });

  it('signing Example 0 with the Ed25519 key reproduces the derived envelope', () => {
    const edPrivate = { type: 'ed25519' as const, publicKey: edKey.publicKey, secretKey: fromHex(expected.derived.ed25519Key.secretKeyHex) };
    expect(hex(signEnvelope(vector('example0-unsigned.hex'), edPrivate))).toBe(hex(vector('derived-example0-ed25519.hex')));
    expect(hex(signEnvelope(vector('example0-unsigned.hex'), edPrivate, { alg: -8 }))).toBe(hex(vector('derived-example0-eddsa.hex')));
  });

  it('the multi-signer envelope needs both keys when the policy requires both', () => {
    const bytes = vector('derived-example0-multisig.hex');
    const both: SuitPolicy = { trustedKeys: [{ id: 'draft', key: draftKey }, { id: 'ed', key: edKey }], signers: { keyIds: ['draft', 'ed'] } };
    expect(verifyEnvelope(bytes, both).signers).toEqual(['draft', 'ed']);
    expect(() => verifyEnvelope(bytes, { trustedKeys: [{ id: 'draft', key: draftKey }], signers: { allSignaturesValid: true } })).toThrow(
      expect.objectContaining({ code: 'ERR_SUIT_SIGNATURE_INVALID' }),
    );
    // One trusted signature is enough by default.
    expect(verifyEnvelope(bytes, draftPolicy).signers).toEqual(['draft']);
  });

  it('appending a signature to Example 0 keeps the existing block and the manifest bytes', () => {
    const edPrivate = { type: 'ed25519' as const, publicKey: edKey.publicKey, secretKey: fromHex(expected.derived.ed25519Key.secretKeyHex) };
    const original = vector('example0.hex');
    const both = signEnvelope(original, edPrivate);
    expect(hex(both)).toBe(hex(vector('derived-example0-multisig.hex')));
    const before = decodeEnvelope(original);
    const after = decodeEnvelope(both);
    expect(hex(after.manifestBytes)).toBe(hex(before.manifestBytes));
    expect(hex(after.authentication.blocks[0]!.raw)).toBe(hex(before.authentication.blocks[0]!.raw));
  });

  it('an unverified inspection reads the unsigned examples but reports nothing as verified', () => {
    const r = inspectUnverified(vector('example1-unsigned.hex'));
    expect(r.valid).toBe(false);
    expect(r.manifestDigestMatches).toBe(true);
    expect(r.signatures).toEqual([]);
    expect(r.components[0]!.uri).toBe('http://example.com/file.bin');
  });

  it('the draft key loads from SPKI PEM, SEC1 and COSE_Key to the same raw point', () => {
    expect(hex(draftKey.publicKey)).toBe(expected.publicKey.sec1UncompressedHex);
    expect(hex(loadPublicKey(fromHex(expected.publicKey.coseKeyHex)).publicKey)).toBe(expected.publicKey.sec1UncompressedHex);
    expect(hex(draftPrivate.secretKey)).toBe(expected.privateKey.dHex);
  });
});
