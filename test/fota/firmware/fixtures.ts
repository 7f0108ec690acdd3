import { createHash } from 'node:crypto';
import { createManifest, generateKeyPair, keyFingerprint, type CreateManifestOptions, type SuitPolicy } from '../../../src/suit';

/** A deterministic pseudo-random image of `n` bytes (distinct per seed). */
export function image(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export const oem = generateKeyPair('esp256');
export const stranger = generateKeyPair('ed25519');

/** Trusts the OEM key only. */
export const policy: SuitPolicy = { trustedKeys: [{ id: keyFingerprint(oem.privateKey), key: oem.privateKey }] };

type Where = { relativeUri: true } | { integrated: true } | { uri: string };

/** An envelope for `img`, signed by the OEM key unless `signer` says otherwise. */
export function envelopeFor(img: Buffer, where: Where = { relativeUri: true }, extra: Partial<CreateManifestOptions> = {}): Buffer {
  const { envelope } = createManifest({
    image: img,
    sequenceNumber: 7,
    vendorDomain: 'example.com',
    className: 'sensor-v2',
    version: '2.1.0',
    description: 'test firmware',
    signers: [oem.privateKey],
    ...where,
    ...extra,
  });
  return Buffer.from(envelope);
}
