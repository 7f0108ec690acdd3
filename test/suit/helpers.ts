/**
 * Test vectors (copied from the shared vector set into test/vectors/suit) and conversions of
 * our model into the shape of expected.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SUIT_COMMAND_NAMES,
  SUIT_PARAMETER_NAMES,
  type SuitCommandSequence,
  type SuitDigest,
  type SuitManifest,
  type SuitParameterValue,
  type SuitText,
} from '../../src/suit';

export const VECTOR_DIR = join(__dirname, '..', 'vectors', 'suit');

export function vector(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(join(VECTOR_DIR, name), 'utf8').trim(), 'hex'));
}

export interface ExpectedSignature {
  protectedHex: string;
  alg: number;
  signatureHex: string;
  highS: boolean;
  sigStructureHex: string;
}

export interface ExpectedExample {
  title: string;
  file: string;
  sizeBytes: number;
  envelopeKeys: number[];
  authentication: { digestAlg: number; manifestDigest: string; signatures: ExpectedSignature[] };
  manifest: { version: number; sequenceNumber: number; referenceUri: string | null; manifestKeys: number[]; components: string[][] };
  summary: {
    vendorIdUuid: string;
    classIdUuid: string;
    imageDigest: { alg: number; bytes: string } | null;
    imageSize: number | null;
    uris: string[];
  };
  parametersPerComponent: Record<string, Record<string, unknown>>;
  severable: Record<string, { envelopeKey: number; digestAlg: number; digest: string }>;
  text: Record<string, Record<string, unknown>> | null;
  commands: Record<string, unknown[]>;
}

export interface Expected {
  publicKey: { spkiPem: string; sec1UncompressedHex: string; coseKeyHex: string; x: string; y: string };
  privateKey: { pkcs8Pem: string; dHex: string };
  examples: Record<string, ExpectedExample>;
  libcsuitEsp256: { files: Record<string, { signatureHex: string; protectedHex: string; alg: number; highS: boolean }> };
  derived: {
    ed25519Key: { secretKeyHex: string; publicKeyHex: string };
    files: Record<string, { alg?: number; signatureHex?: string; protectedHex?: string; sizeBytes: number; authBlocks?: number }>;
  };
}

export const expected = JSON.parse(readFileSync(join(VECTOR_DIR, 'expected.json'), 'utf8')) as Expected;

export const EXAMPLES = ['example0', 'example1', 'example2', 'example3', 'example4', 'example5'] as const;

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

function digestJson(d: SuitDigest): { alg: number; bytes: string } {
  return { alg: d.alg, bytes: hex(d.bytes) };
}

function paramJson(p: SuitParameterValue): unknown {
  switch (p.type) {
    case 'bytes':
    case 'pen':
      return hex(p.bytes);
    case 'digest':
      return digestJson(p.digest);
    case 'uint':
    case 'bool':
    case 'text':
      return typeof p.value === 'bigint' ? p.value.toString() : p.value;
    case 'raw':
      return p.value;
  }
}

/** Our parameters as `{ "vendor-id": "fa6b…", … }` (expected.json's form). */
export function parametersJson(params: Iterable<[number, SuitParameterValue]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [label, v] of params) out[SUIT_PARAMETER_NAMES[label] ?? String(label)] = paramJson(v);
  return out;
}

/** A command sequence as expected.json writes it: `[{ cmd, name, arg }]`. */
export function sequenceJson(seq: SuitCommandSequence): unknown[] {
  return seq.map((c) => {
    const a = c.arg;
    let arg: unknown;
    switch (a.kind) {
      case 'reportingPolicy':
      case 'componentIndex':
        arg = a.value;
        break;
      case 'parameters':
        arg = parametersJson(a.parameters.map((p) => [p.label, p.value] as [number, SuitParameterValue]));
        break;
      case 'tryEach':
        arg = a.sequences.map(sequenceJson);
        break;
      case 'sequence':
        arg = sequenceJson(a.sequence);
        break;
      case 'raw':
        arg = a.value;
        break;
    }
    return { cmd: c.code, name: SUIT_COMMAND_NAMES[c.code], arg };
  });
}

/** All command sequences of a manifest keyed as in expected.json. */
export function commandsJson(m: SuitManifest): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  if (m.common.sharedSequence) out['shared-sequence'] = sequenceJson(m.common.sharedSequence);
  if (m.validate) out.validate = sequenceJson(m.validate);
  if (m.load) out.load = sequenceJson(m.load);
  if (m.invoke) out.invoke = sequenceJson(m.invoke);
  if (m.payloadFetch?.value) out['payload-fetch'] = sequenceJson(m.payloadFetch.value);
  if (m.install?.value) out.install = sequenceJson(m.install.value);
  return out;
}

const TEXT_KEYS: Record<number, string> = { 1: 'manifest-description', 2: 'update-description', 3: 'manifest-json-source', 4: 'manifest-yaml-source' };
const TEXT_COMPONENT_KEYS: Record<number, string> = {
  1: 'vendor-name',
  2: 'model-name',
  3: 'vendor-domain',
  4: 'model-info',
  5: 'component-description',
  6: 'component-version',
};

/** Text in expected.json's form: `{ "en-US": { "manifest-description": …, 'component:["00"]': {…} } }`. */
export function textExpectedJson(t: SuitText): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const lang of t) {
    const l: Record<string, unknown> = {};
    for (const [k, v] of lang.fields) l[TEXT_KEYS[k] ?? String(k)] = v;
    for (const c of lang.components) {
      const o: Record<string, string> = {};
      for (const [k, v] of c.fields) o[TEXT_COMPONENT_KEYS[k] ?? String(k)] = v;
      l[`component:${JSON.stringify(c.id.map(hex))}`] = o;
    }
    out[lang.tag] = l;
  }
  return out;
}

/** A copy of `b` with byte `i` XORed with `mask`. */
export function flip(b: Uint8Array, i: number, mask = 0x01): Uint8Array {
  const out = b.slice();
  out[i] = out[i]! ^ mask;
  return out;
}

/** Offset of the first occurrence of `needle` in `hay`. */
export function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay).indexOf(Buffer.from(needle));
}
