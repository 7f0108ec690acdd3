/**
 * CBOR throughput of the two layers that use it: SUIT (envelope decode + structure: the outer
 * envelope, the authentication wrapper, the manifest with its command sequences; and the
 * deterministic re-encoding of a manifest) and the LwM2M content formats (SenML CBOR and
 * LwM2M CBOR, encode and decode, of a /3/0 Device read and of a three-resource composite).
 * Nothing is hashed or verified cryptographically here: only the CBOR work and the structure
 * around it is measured.
 *
 *   npm run bench -- cbor [--seconds 1] [--rounds 1]
 *
 * `--rounds n` repeats every row n times and prints the best and the spread, so two builds can
 * be compared from alternating runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ContentFormat, createContentFormatRegistry } from '../src/lwm2m/core/content-formats';
import { decodeCbor as decodeContentCbor } from '../src/lwm2m/core/content-formats/cbor';
import { loadObjectModels, parsePath } from '../src/lwm2m/core/model';
import { createManifest, decodeCbor, decodeEnvelope, decodeManifest, encodeCbor } from '../src/suit';
import { numberArg } from './lib/args';
import { rate } from './lib/rate';

const SECONDS = numberArg('seconds', 1);
const ROUNDS = numberArg('rounds', 1, true);

// --- SUIT workloads ------------------------------------------------------------------------

// The draft's Appendix B Example 3 (A/B images, try-each) as published, and an envelope as
// `manifest create` makes it (integrated-less, one signer slot left empty).
const vectors = join(__dirname, '..', '..', 'test', 'vectors', 'suit');
const example3 = Buffer.from(readFileSync(join(vectors, 'example3.hex'), 'utf8').trim(), 'hex');
const created = createManifest({
  image: new Uint8Array(64 * 1024).map((_, i) => (i * 131) & 0xff),
  sequenceNumber: 1000,
  vendorDomain: 'example.com',
  className: 'sensor-v2',
  uri: 'coap://[2001:db8::1]/fw/x',
  version: '1.0.0',
  description: 'bench',
}).envelope;

/** decode + structure: what a verifier does before any signature or digest is computed. */
function suitStructure(bytes: Uint8Array): void {
  // decodeEnvelope decodes the authentication wrapper (digest, COSE_Sign1 blocks) as well.
  decodeManifest(decodeEnvelope(bytes).manifestBytes);
}

// --- LwM2M workloads -----------------------------------------------------------------------

const { registry: model } = loadObjectModels();
const formats = createContentFormatRegistry();
/** TS Core 1.1 §7.4 (SenML JSON) example: Read /3/0. */
const DEVICE_SENML_JSON =
  '[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},' +
  '{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},' +
  '{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]';
const devicePath = parsePath('/3/0');
const device = formats.decode(ContentFormat.SenmlJson, Buffer.from(DEVICE_SENML_JSON), devicePath, model);
const compositePaths = ['/3/0/9', '/5/0/3', '/5/0/5'].map(parsePath);
const composite = formats.decodeComposite(
  ContentFormat.SenmlJson,
  Buffer.from('[{"n":"/3/0/9","v":87},{"n":"/5/0/3","v":1},{"n":"/5/0/5","v":0}]'),
  model,
  compositePaths,
);

// --- run -----------------------------------------------------------------------------------

type Row = [name: string, bytes: number, fn: () => void];
const rows: Row[] = [
  ['SUIT Example 3 (A/B) decode + structure', example3.length, () => suitStructure(example3)],
  ['SUIT created envelope decode + structure', created.length, () => suitStructure(created)],
  ['SUIT manifest decodeCbor + encodeCbor', decodeEnvelope(created).manifestBytes.length, ((m: Uint8Array) => () => encodeCbor(decodeCbor(m)))(decodeEnvelope(created).manifestBytes)],
];
for (const [label, format] of [
  ['SenML CBOR', ContentFormat.SenmlCbor],
  ['LwM2M CBOR', ContentFormat.Lwm2mCbor],
] as const) {
  const dev = formats.encode(format, device, devicePath, model);
  const comp = formats.encodeComposite(format, composite, model);
  rows.push([`${label} /3/0 encode`, dev.length, () => formats.encode(format, device, devicePath, model)]);
  rows.push([`${label} /3/0 decode`, dev.length, () => formats.decode(format, dev, devicePath, model)]);
  rows.push([`${label} /3/0 CBOR items only`, dev.length, () => decodeContentCbor(dev, { maxDepth: 12 })]);
  rows.push([`${label} composite (3) encode`, comp.length, () => formats.encodeComposite(format, composite, model)]);
  rows.push([`${label} composite (3) decode`, comp.length, () => formats.decodeComposite(format, comp, model, compositePaths)]);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(10);
process.stdout.write(`CBOR, ${SECONDS}s per row, best of ${ROUNDS}, ${process.version}, ${process.arch}\n`);
process.stdout.write(`${'workload'.padEnd(44)} ${'bytes'.padStart(6)} ${'ops/s'.padStart(10)} ${'MB/s'.padStart(7)}${ROUNDS > 1 ? '  spread' : ''}\n`);
for (const [name, bytes, fn] of rows) {
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(rate(fn, SECONDS));
  const best = Math.max(...rates);
  const worst = Math.min(...rates);
  const spread = ROUNDS > 1 ? `  ±${(((best - worst) / best) * 50).toFixed(1)}%` : '';
  process.stdout.write(`${name.padEnd(44)} ${String(bytes).padStart(6)} ${fmt(best)} ${((best * bytes) / 1e6).toFixed(1).padStart(7)}${spread}\n`);
}
