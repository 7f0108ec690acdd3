/**
 * Presentation of verification results and inspections: the stable `--json` schema of
 * `manifest verify` / `manifest show`, and a human-readable tree.
 */
import { CborFloat, CborMap, CborSimple, CborTag, type CborValue } from './cbor';
import { COSE_ALGORITHM_NAMES, SUIT_COMMAND_NAMES, SUIT_PARAMETER_NAMES, SUIT_TEXT_COMPONENT_KEY_NAMES, SUIT_TEXT_KEY_NAMES } from './constants';
import type { SuitAlternativeSummary, SuitComponentSummary } from './summary';
import type { SuitCommandSequence, SuitDigest, SuitParameterValue, SuitSeverable, SuitText } from './types';
import { formatUuid } from './uuid';
import type { SuitInspection, SuitVerifiedEnvelope } from './verify';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** JSON form of a SUIT_Digest. */
export interface SuitDigestJson {
  /** "sha-256", or the COSE id as text for others. */
  alg: string;
  hex: string;
}

/** JSON form of a component. */
export interface SuitComponentJson {
  index: number;
  /** Component identifier: each bstr as hex. */
  id: string[];
  vendorId: string | null;
  classId: string | null;
  imageDigest: SuitDigestJson | null;
  imageSize: number | string | null;
  uri: string | null;
  uris: string[];
  /**
   * The try-each alternatives (e.g. A/B slots), each with what it sets. Absent when there are
   * none, so a single-image manifest's JSON is what it always was; `imageDigest`, `imageSize`
   * and `uri` above stay what is set outside try-each (null for the draft's A/B example).
   */
  alternatives?: SuitAlternativeJson[];
}

/** JSON form of one try-each alternative of a component. */
export interface SuitAlternativeJson {
  /** component-slot, or null when the alternative names none. */
  slot: number | string | null;
  imageDigest: SuitDigestJson | null;
  imageSize: number | string | null;
  uri: string | null;
}

/** JSON form of a signature. */
export interface SuitSignatureJson {
  alg: string;
  algId: number | null;
  kid: string | null;
  verified: boolean;
  keyId?: string;
}

/** The `--json` schema of `manifest verify` and `manifest show`. */
export interface SuitEnvelopeJson {
  /** verify: true; show: false (nothing was verified). */
  valid: boolean;
  verified: boolean;
  sequenceNumber: number | string;
  manifestDigest: SuitDigestJson;
  manifestDigestMatches?: boolean;
  referenceUri: string | null;
  components: SuitComponentJson[];
  signatures: SuitSignatureJson[];
  signers?: string[];
  roles?: string[];
  severed: Record<string, string>;
  integratedPayloads: Array<{ key: string; size: number }>;
  text: Record<string, Record<string, unknown>> | null;
}

function digestJson(d: SuitDigest): SuitDigestJson {
  return { alg: d.alg === -16 ? 'sha-256' : String(d.alg), hex: hex(d.bytes) };
}

function idString(b: Uint8Array | undefined): string | null {
  if (b === undefined) return null;
  return b.length === 16 ? formatUuid(b) : hex(b);
}

function num(v: number | bigint): number | string {
  return typeof v === 'bigint' ? v.toString() : v;
}

function componentJson(c: SuitComponentSummary): SuitComponentJson {
  const j: SuitComponentJson = {
    index: c.index,
    id: c.id.map(hex),
    vendorId: idString(c.vendorId),
    classId: idString(c.classId),
    imageDigest: c.imageDigest ? digestJson(c.imageDigest) : null,
    imageSize: c.imageSize === undefined ? null : num(c.imageSize),
    uri: c.uri ?? null,
    uris: c.uris,
  };
  if (c.alternatives.length > 0) j.alternatives = c.alternatives.map(alternativeJson);
  return j;
}

function alternativeJson(a: SuitAlternativeSummary): SuitAlternativeJson {
  return {
    slot: a.slot === undefined ? null : num(a.slot),
    imageDigest: a.imageDigest ? digestJson(a.imageDigest) : null,
    imageSize: a.imageSize === undefined ? null : num(a.imageSize),
    uri: a.uri ?? null,
  };
}

/** Text as JSON: `{ "en-US": { "manifest-description": …, "components": [{ "id": ["00"], "component-version": … }] } }`. */
export function textJson(text: SuitText): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const lang of text) {
    const l: Record<string, unknown> = {};
    for (const [k, v] of lang.fields) l[SUIT_TEXT_KEY_NAMES[k] ?? String(k)] = v;
    if (lang.components.length > 0) {
      l.components = lang.components.map((c) => {
        const o: Record<string, unknown> = { id: c.id.map(hex) };
        for (const [k, v] of c.fields) o[SUIT_TEXT_COMPONENT_KEY_NAMES[k] ?? String(k)] = v;
        return o;
      });
    }
    out[lang.tag] = l;
  }
  return out;
}

/** The stable JSON object for a verification result or an unverified inspection. */
export function describeEnvelope(r: SuitVerifiedEnvelope | SuitInspection): SuitEnvelopeJson {
  const out: SuitEnvelopeJson = {
    valid: r.valid,
    verified: r.valid,
    sequenceNumber: num(r.sequenceNumber),
    manifestDigest: digestJson(r.manifestDigest),
    referenceUri: r.manifest.referenceUri ?? null,
    components: r.components.map(componentJson),
    signatures: r.signatures.map((s) => {
      const j: SuitSignatureJson = { alg: s.algName, algId: s.alg ?? null, kid: s.kid ? hex(s.kid) : null, verified: s.verified };
      if (s.keyId !== undefined) j.keyId = s.keyId;
      return j;
    }),
    severed: { ...r.severed },
    integratedPayloads: r.envelope.integratedPayloads.map((p) => ({ key: p.key, size: p.bytes.length })),
    text: r.text ? textJson(r.text) : null,
  };
  if (r.valid) {
    out.signers = r.signers;
    out.roles = r.roles;
  } else out.manifestDigestMatches = r.manifestDigestMatches;
  return out;
}

// ---------------------------------------------------------------------------------------
// Tree

function cborText(v: CborValue): string {
  if (v instanceof Uint8Array) return `h'${hex(v)}'`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(cborText).join(', ')}]`;
  if (v instanceof CborMap) return `{${v.entries.map(([k, x]) => `${cborText(k)}: ${cborText(x)}`).join(', ')}}`;
  if (v instanceof CborTag) return `${String(v.tag)}(${cborText(v.value)})`;
  if (v instanceof CborSimple) return `simple(${v.value})`;
  if (v instanceof CborFloat) return String(v.value);
  return String(v);
}

function paramText(label: number, p: SuitParameterValue): string {
  switch (p.type) {
    case 'bytes':
      return label === 1 || label === 2 || label === 24 ? (idString(p.bytes) ?? '') : `h'${hex(p.bytes)}'`;
    case 'pen':
      return `pen h'${hex(p.bytes)}'`;
    case 'digest':
      return `${digestJson(p.digest).alg}:${hex(p.digest.bytes)}`;
    case 'uint':
      return String(p.value);
    case 'bool':
      return String(p.value);
    case 'text':
      return JSON.stringify(p.value);
    case 'raw':
      return cborText(p.value);
  }
}

function sequenceLines(seq: SuitCommandSequence, indent: string, out: string[]): void {
  for (const c of seq) {
    const name = SUIT_COMMAND_NAMES[c.code] ?? (c.code < 0 ? `custom(${c.code})` : `unknown(${c.code})`);
    const a = c.arg;
    switch (a.kind) {
      case 'reportingPolicy':
        out.push(`${indent}${name} (report ${a.value})`);
        break;
      case 'componentIndex':
        out.push(`${indent}${name} ${Array.isArray(a.value) ? `[${a.value.join(', ')}]` : String(a.value)}`);
        break;
      case 'parameters':
        out.push(`${indent}${name}`);
        for (const p of a.parameters) out.push(`${indent}  ${SUIT_PARAMETER_NAMES[p.label] ?? `parameter(${p.label})`}: ${paramText(p.label, p.value)}`);
        break;
      case 'tryEach':
        out.push(`${indent}${name}${a.nilFallback ? ' (or nothing)' : ''}`);
        a.sequences.forEach((s, i) => {
          out.push(`${indent}  alternative ${i + 1}`);
          sequenceLines(s, indent + '    ', out);
        });
        break;
      case 'sequence':
        out.push(`${indent}${name}`);
        sequenceLines(a.sequence, indent + '  ', out);
        break;
      case 'raw':
        out.push(`${indent}${name} ${cborText(a.value)}`);
        break;
    }
  }
}

function severableLines<T>(name: string, s: SuitSeverable<T> | undefined, indent: string, out: string[], body: (v: T) => void): void {
  if (!s) return;
  if (s.severed) {
    out.push(`${indent}${name}: severed, digest ${hex(s.digest.bytes)}${s.value === undefined ? ' (not in envelope)' : ''}`);
    if (s.value !== undefined) body(s.value);
  } else {
    out.push(`${indent}${name}`);
    body(s.value);
  }
}

/** A human-readable tree of an envelope (for `manifest show` / `manifest verify`). */
export function envelopeTree(r: SuitVerifiedEnvelope | SuitInspection): string {
  const m = r.manifest;
  const out: string[] = [];
  out.push(`SUIT envelope — ${r.valid ? 'VERIFIED' : 'NOT VERIFIED (inspection only)'}`);
  out.push(`  authentication: manifest digest ${digestJson(r.manifestDigest).alg}:${hex(r.manifestDigest.bytes)}${r.valid ? '' : (r as SuitInspection).manifestDigestMatches ? ' (matches)' : ' (DOES NOT MATCH)'}`);
  for (const s of r.signatures) {
    const alg = s.alg === undefined ? s.algName : `${COSE_ALGORITHM_NAMES[s.alg] ?? s.alg} (${s.alg})`;
    out.push(`    signature ${s.index + 1}: ${alg}${s.kid ? ` kid ${hex(s.kid)}` : ''} — ${s.verified ? `verified by ${s.keyId}` : (s.skipped ?? 'not verified')}`);
  }
  out.push(`  manifest${m.tagged ? ' (tag 1070)' : ''}: version ${m.version}, sequence number ${String(m.sequenceNumber)}`);
  if (m.referenceUri !== undefined) out.push(`    reference-uri: ${m.referenceUri}`);
  out.push('    common');
  if (m.common.components) out.push(`      components: ${m.common.components.map((c) => `[${c.map(hex).join(', ')}]`).join(' ')}`);
  if (m.common.sharedSequence) {
    out.push('      shared-sequence');
    sequenceLines(m.common.sharedSequence, '        ', out);
  }
  for (const [k, v] of m.common.extensions ?? []) out.push(`      ${cborText(k)}: ${cborText(v)}`);
  const seqs: Array<[string, SuitCommandSequence | undefined]> = [
    ['validate', m.validate],
    ['load', m.load],
    ['invoke', m.invoke],
  ];
  for (const [name, s] of seqs) {
    if (!s) continue;
    out.push(`    ${name}`);
    sequenceLines(s, '      ', out);
  }
  severableLines('payload-fetch', m.payloadFetch, '    ', out, (s) => sequenceLines(s, '      ', out));
  severableLines('install', m.install, '    ', out, (s) => sequenceLines(s, '      ', out));
  severableLines('text', m.text, '    ', out, (t) => {
    for (const line of JSON.stringify(textJson(t), null, 2).split('\n')) out.push(`      ${line}`);
  });
  for (const [k, v] of m.extensions ?? []) out.push(`    extension ${cborText(k)}: ${cborText(v)}`);
  out.push('  components');
  for (const c of r.components) {
    const j = componentJson(c);
    out.push(`    ${j.index}: [${j.id.join(', ')}] vendor ${j.vendorId ?? '-'} class ${j.classId ?? '-'}`);
    if (j.imageDigest) out.push(`       image ${j.imageDigest.alg}:${j.imageDigest.hex}, ${String(j.imageSize ?? '?')} bytes`);
    for (const u of j.uris) out.push(`       uri ${u}`);
    for (const a of j.alternatives ?? []) {
      const image = a.imageDigest ? `image ${a.imageDigest.alg}:${a.imageDigest.hex}, ${String(a.imageSize ?? '?')} bytes` : a.imageSize !== null ? `${a.imageSize} bytes` : undefined;
      out.push(`       alternative${a.slot !== null ? ` slot ${a.slot}` : ''}: ${[image, a.uri !== null ? `uri ${a.uri}` : undefined].filter((x) => x !== undefined).join(', ') || '-'}`);
    }
  }
  for (const p of r.envelope.integratedPayloads) out.push(`  integrated payload ${JSON.stringify(p.key)}: ${p.bytes.length} bytes`);
  return out.join('\n');
}
