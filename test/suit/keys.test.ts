import { isLwm2mFotaError } from '../../src/errors';
import {
  decodeCoseKey,
  encodeCoseKey,
  generateKeyPair,
  keyFingerprint,
  loadPrivateKey,
  loadPublicKey,
  parsePolicy,
  privateKeyToPem,
  publicKeyToPem,
} from '../../src/suit';
import { expected, fromHex, hex } from './helpers';

function keyCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isLwm2mFotaError(err) ? err.code : 'not ours';
  }
}

describe('keys', () => {
  it.each(['esp256', 'ed25519'] as const)('generates %s pairs that round-trip through PEM and COSE_Key', (alg) => {
    const { privateKey, privatePem, publicPem } = generateKeyPair(alg);
    expect(privatePem).toContain('BEGIN PRIVATE KEY');
    expect(publicPem).toContain('BEGIN PUBLIC KEY');
    const priv = loadPrivateKey(privatePem);
    expect(hex(priv.secretKey)).toBe(hex(privateKey.secretKey));
    expect(hex(loadPublicKey(publicPem).publicKey)).toBe(hex(privateKey.publicKey));
    expect(hex(loadPublicKey(privatePem).publicKey)).toBe(hex(privateKey.publicKey));
    expect(hex(decodeCoseKey(encodeCoseKey(privateKey)).publicKey)).toBe(hex(privateKey.publicKey));
    const withPrivate = loadPrivateKey(encodeCoseKey(privateKey, true));
    expect(hex(withPrivate.secretKey)).toBe(hex(privateKey.secretKey));
    expect(keyFingerprint(loadPublicKey(publicPem))).toBe(keyFingerprint(privateKey));
    expect(privateKeyToPem(priv)).toBe(privatePem);
    expect(publicKeyToPem(priv)).toBe(publicPem);
  });

  it('encodes the draft key as the COSE_Key of expected.json (RFC 9052 §7)', () => {
    expect(hex(encodeCoseKey(loadPublicKey(expected.publicKey.spkiPem)))).toBe(expected.publicKey.coseKeyHex);
  });

  it('loads the RFC 8032 TEST 1 Ed25519 key from a COSE_Key', () => {
    const cose = new Uint8Array([0xa4, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20, ...fromHex(expected.derived.ed25519Key.publicKeyHex), 0x23, 0x58, 0x20, ...fromHex(expected.derived.ed25519Key.secretKeyHex)]);
    const k = loadPrivateKey(cose);
    expect(k.type).toBe('ed25519');
    expect(hex(k.publicKey)).toBe(expected.derived.ed25519Key.publicKeyHex);
  });

  it('rejects unusable keys with ERR_SUIT_KEY', () => {
    expect(keyCode(() => loadPublicKey('not a pem'))).toBe('ERR_SUIT_KEY');
    expect(keyCode(() => loadPrivateKey(expected.publicKey.spkiPem))).toBe('ERR_SUIT_KEY');
    // a point not on P-256 (y changed)
    const bad = expected.publicKey.coseKeyHex.slice(0, -2) + '00';
    expect(keyCode(() => loadPublicKey(fromHex(bad)))).toBe('ERR_SUIT_KEY');
    // a COSE_Key whose private part does not match its public part
    const other = generateKeyPair('esp256').privateKey;
    const mixed = encodeCoseKey({ ...other, publicKey: loadPublicKey(expected.publicKey.spkiPem).publicKey }, true);
    expect(keyCode(() => loadPrivateKey(mixed))).toBe('ERR_SUIT_KEY');
    expect(keyCode(() => loadPublicKey(new Uint8Array([0xa1, 0x01, 0x03])))).toBe('ERR_SUIT_KEY');
  });

  it('parses a JSON policy with PEM and COSE_Key trust anchors', () => {
    const policy = parsePolicy({
      trustedKeys: [
        { id: 'oem', roles: ['oem'], pem: expected.publicKey.spkiPem },
        { id: 'op', roles: ['operator'], coseKey: expected.publicKey.coseKeyHex },
      ],
      signers: { roles: ['oem'] },
      allowedAlgorithms: ['ES256', 'ESP256', -19],
      vendorIds: ['FA6B4A53-D5AD-5FDF-BE9D-E663E4D41FFE'],
      minSequenceNumber: '7',
    });
    expect(policy.trustedKeys.map((k) => k.id)).toEqual(['oem', 'op']);
    expect(policy.allowedAlgorithms).toEqual([-7, -9, -19]);
    expect(policy.minSequenceNumber).toBe(7);
    expect(keyCode(() => parsePolicy({ trustedKeys: [{ id: 'x' }] }))).toBe('ERR_SUIT_POLICY');
    expect(keyCode(() => parsePolicy({ trustedKeys: [], allowedAlgorithms: ['RS256'] }))).toBe('ERR_SUIT_POLICY');
    expect(keyCode(() => parsePolicy('nope'))).toBe('ERR_SUIT_POLICY');
  });
});
