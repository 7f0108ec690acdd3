/**
 * SenML JSON (Content-Format 110), RFC 8428 §5 with the LwM2M rules of TS Core 1.1 §7.4 (SenML JSON):
 * opaque values in "vd" as base64url without padding, object links in "vlo".
 */
import { parseJson, jsonString, type JsonValue } from './json';
import { SenmlCodec, type OutRecord, type SenmlRecord } from './senml';
import type { TypedValue } from './node';
import {
  contentError,
  dateToSeconds,
  decodeBase64,
  formatFloat,
  formatObjectLink,
  integerOf,
  parseIntegerText,
  parseObjectLink,
  type RawValue,
} from './values';

/** JSON number text → number or bigint (integers beyond 2^53 keep every digit). */
export function jsonNumber(v: Extract<JsonValue, { kind: 'number' }>): number | bigint {
  const b = /^-?\d+$/.test(v.text) ? parseIntegerText(v.text) : undefined;
  if (b !== undefined && (b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER))) return b;
  const n = Number(v.text);
  if (!Number.isFinite(n)) throw contentError(`number ${v.text} is out of range`, v.offset);
  return n;
}

function numberOf(v: JsonValue, label: string): number {
  if (v.kind !== 'number') throw contentError(`"${label}" must be a number`, v.offset);
  return Number(jsonNumber(v));
}

function stringOf(v: JsonValue, label: string): string {
  if (v.kind !== 'string') throw contentError(`"${label}" must be a string`, v.offset);
  return v.value;
}

/** Parses a SenML JSON pack into records; RFC 8428 §4.4: unknown labels ending in "_" are refused. */
export function senmlJsonRecords(bytes: Buffer): SenmlRecord[] {
  const root = parseJson(bytes, 4);
  if (root.kind !== 'array') throw contentError('a SenML pack must be a JSON array', root.offset);
  return root.items.map((rec) => {
    if (rec.kind !== 'object') throw contentError('a SenML record must be a JSON object', rec.offset);
    const r: { -readonly [K in keyof SenmlRecord]: SenmlRecord[K] } = { offset: rec.offset };
    const seen = new Set<string>();
    for (const [label, v] of rec.entries) {
      if (seen.has(label)) throw contentError(`label "${label}" appears twice in a record`, v.offset);
      seen.add(label);
      let value: RawValue | undefined;
      switch (label) {
        case 'bn':
          r.bn = stringOf(v, label);
          break;
        case 'n':
          r.n = stringOf(v, label);
          break;
        case 'bt':
          r.bt = numberOf(v, label);
          break;
        case 't':
          r.t = numberOf(v, label);
          break;
        case 'bv':
          r.bv = numberOf(v, label);
          break;
        case 'v':
          if (v.kind !== 'number') throw contentError('"v" must be a number', v.offset);
          value = { kind: 'number', value: jsonNumber(v), offset: v.offset };
          break;
        case 'vs':
          value = { kind: 'string', value: stringOf(v, label), offset: v.offset };
          break;
        case 'vb':
          if (v.kind !== 'boolean') throw contentError('"vb" must be true or false', v.offset);
          value = { kind: 'boolean', value: v.value, offset: v.offset };
          break;
        case 'vd': {
          const d = decodeBase64(stringOf(v, label), 'base64url') ?? decodeBase64(stringOf(v, label), 'base64');
          if (d === undefined) throw contentError('"vd" is not base64url', v.offset);
          value = { kind: 'bytes', value: d, offset: v.offset };
          break;
        }
        case 'vlo': {
          const l = parseObjectLink(stringOf(v, label));
          if (l === undefined) throw contentError('"vlo" is not an object link (objectId:instanceId)', v.offset);
          value = { kind: 'objlnk', value: l, offset: v.offset };
          break;
        }
        default:
          if (label.endsWith('_')) throw contentError(`must-understand label "${label}" is not supported`, v.offset);
      }
      if (value !== undefined) {
        if (r.value !== undefined) throw contentError('a record carries more than one value', v.offset);
        r.value = value;
      }
    }
    return r;
  });
}

/** The labels a JSON representation gives each kind of value: SenML JSON's, or LwM2M 1.0 JSON's. */
export interface JsonValueLabels {
  readonly boolean: string;
  readonly string: string;
  readonly opaque: string;
  readonly objlnk: string;
  /** How opaque bytes are spelt in their string. */
  readonly base64: 'base64' | 'base64url';
}

const SENML_LABELS: JsonValueLabels = { boolean: 'vb', string: 'vs', opaque: 'vd', objlnk: 'vlo', base64: 'base64url' };

/** `"label":value` of one typed value, with the labels of the representation. */
export function jsonValueField(v: TypedValue, labels: JsonValueLabels): string {
  switch (v.type) {
    case 'integer':
    case 'unsigned':
      return `"v":${integerOf(v.value)}`;
    case 'float':
      return `"v":${formatFloat(v.value)}`;
    case 'time':
      return `"v":${dateToSeconds(v.value)}`;
    case 'boolean':
      return `"${labels.boolean}":${v.value}`;
    case 'string':
    case 'corelnk':
      return `"${labels.string}":${jsonString(v.value)}`;
    case 'opaque':
      return `"${labels.opaque}":${jsonString(Buffer.from(v.value).toString(labels.base64))}`;
    case 'objlnk':
      return `"${labels.objlnk}":${jsonString(formatObjectLink(v.value))}`;
  }
}

export function writeSenmlJson(records: readonly OutRecord[]): Buffer {
  const parts = records.map((r) => {
    const fields: string[] = [];
    if (r.bn !== undefined) fields.push(`"bn":${jsonString(r.bn)}`);
    if (r.n !== undefined) fields.push(`"n":${jsonString(r.n)}`);
    if (r.value !== undefined) fields.push(jsonValueField(r.value, SENML_LABELS));
    return `{${fields.join(',')}}`;
  });
  return Buffer.from(`[${parts.join(',')}]`, 'utf8');
}

export class SenmlJsonCodec extends SenmlCodec {
  readonly format = 110;
  readonly mediaType = 'application/senml+json';

  constructor() {
    super(senmlJsonRecords, writeSenmlJson);
  }
}
