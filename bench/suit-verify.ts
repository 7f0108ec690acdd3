/**
 * SUIT verification throughput: full `verifyEnvelope` (decode, signature, digest, manifest
 * parse, severed text, policy) of a manifest created by `createManifest`, for ESP256 and
 * Ed25519 signers, with both signature back ends (OpenSSL via node:crypto, the default, and
 * @noble/curves). Also: signing and decoding rates, and verification with two signers.
 *
 *   npm run bench -- suit-verify [--seconds 2]
 */

import {
  createManifest,
  decodeEnvelope,
  generateKeyPair,
  signEnvelope,
  verifyEnvelope,
  type SuitPolicy,
  type SuitPrivateKey,
} from '../src/suit';
import { numberArg } from './lib/args';
import { rate } from './lib/rate';

const SECONDS = numberArg('seconds', 2);

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(9);

const image = new Uint8Array(256 * 1024).map((_, i) => (i * 131) & 0xff);
const base = { image, sequenceNumber: 1000, vendorDomain: 'example.com', className: 'sensor-v2', uri: 'coap://[2001:db8::1]/fw/x', version: '1.0.0', description: 'bench' };

function envelopeFor(key: SuitPrivateKey): Uint8Array {
  return createManifest({ ...base, signers: [key] }).envelope;
}

const rows: Array<[string, number]> = [];
for (const alg of ['esp256', 'ed25519'] as const) {
  const key = generateKeyPair(alg).privateKey;
  const env = envelopeFor(key);
  const policy: SuitPolicy = { trustedKeys: [{ key }], minSequenceNumber: 1000, vendorIds: ['cfbff0d1-9375-5685-968c-48ce8b15ae17'] };
  const noble: SuitPolicy = { ...policy, verifier: 'noble' };
  verifyEnvelope(env, policy);
  rows.push([`${alg.toUpperCase()} verifyEnvelope (OpenSSL)`, rate(() => verifyEnvelope(env, policy), SECONDS, 200)]);
  rows.push([`${alg.toUpperCase()} verifyEnvelope (noble)`, rate(() => verifyEnvelope(env, noble), SECONDS, 200)]);
  const unsigned = createManifest(base).envelope;
  rows.push([`${alg.toUpperCase()} signEnvelope (noble, RFC 6979)`, rate(() => signEnvelope(unsigned, key), SECONDS, 200)]);
}
{
  const a = generateKeyPair('esp256').privateKey;
  const b = generateKeyPair('ed25519').privateKey;
  const env = signEnvelope(envelopeFor(a), b);
  const policy: SuitPolicy = { trustedKeys: [{ id: 'oem', key: a, roles: ['oem'] }, { id: 'op', key: b, roles: ['operator'] }], signers: { roles: ['oem', 'operator'] } };
  rows.push(['ESP256 + Ed25519, both required (OpenSSL)', rate(() => verifyEnvelope(env, policy), SECONDS, 200)]);
  rows.push(['decodeEnvelope only (no crypto)', rate(() => decodeEnvelope(env), SECONDS, 200)]);
}

process.stdout.write(`SUIT verification, ${SECONDS}s per row, ${process.version}, ${process.arch}\n`);
for (const [name, r] of rows) process.stdout.write(`${name.padEnd(44)} ${fmt(r)} /s\n`);
