/**
 * SenML CBOR (Content-Format 112), RFC 8428 §6: the JSON records with integer labels
 * (bver −1, bn −2, bt −3, bu −4, bv −5, bs −6, n 0, u 1, v 2, vs 3, vb 4, s 5, t 6, ut 7,
 * vd 8); LwM2M's "vlo" keeps its text label (TS Core 1.1 §7.4 (SenML CBOR)). Opaque values are byte
 * strings.
 */
import { CBOR_FALSE, CBOR_TRUE, CborWriter, decodeCbor, type CborItem } from './cbor';
import { cborToRaw, writeCborValue } from './plain-cbor';
import { SenmlCodec, type OutRecord, type SenmlRecord } from './senml';
import { contentError, parseObjectLink, type RawValue } from './values';

export const SenmlLabel = { bver: -1, bn: -2, bt: -3, bu: -4, bv: -5, bs: -6, n: 0, u: 1, v: 2, vs: 3, vb: 4, s: 5, t: 6, ut: 7, vd: 8 } as const;

function numberOf(item: CborItem, label: string): number {
  const raw = cborToRaw(item);
  if (raw.kind !== 'number') throw contentError(`"${label}" must be a number`, item.offset ?? 0);
  return Number(raw.value);
}

function textOf(item: CborItem, label: string): string {
  if (item.kind !== 'text') throw contentError(`"${label}" must be a text string`, item.offset ?? 0);
  return item.value;
}

export function senmlCborRecords(bytes: Buffer): SenmlRecord[] {
  const root = decodeCbor(bytes, { maxDepth: 4 });
  if (root.kind !== 'array') throw contentError('a SenML pack must be a CBOR array', root.offset ?? 0);
  return root.items.map((rec) => {
    if (rec.kind !== 'map') throw contentError('a SenML record must be a CBOR map', rec.offset ?? 0);
    const r: { -readonly [K in keyof SenmlRecord]: SenmlRecord[K] } = { offset: rec.offset ?? 0 };
    const seen = new Set<string>();
    for (const [k, v] of rec.entries) {
      const at = k.offset ?? 0;
      let label: string;
      if (k.kind === 'int') label = String(k.value);
      else if (k.kind === 'text') label = k.value;
      else throw contentError('a SenML label must be an integer or a text string', at);
      if (seen.has(label)) throw contentError(`label ${label} appears twice in a record`, at);
      seen.add(label);
      let value: RawValue | undefined;
      switch (label) {
        case '-2':
          r.bn = textOf(v, 'bn');
          break;
        case '0':
          r.n = textOf(v, 'n');
          break;
        case '-3':
          r.bt = numberOf(v, 'bt');
          break;
        case '6':
          r.t = numberOf(v, 't');
          break;
        case '-5':
          r.bv = numberOf(v, 'bv');
          break;
        case '2': {
          const raw = cborToRaw(v);
          if (raw.kind !== 'number') throw contentError('"v" must be a number', v.offset ?? 0);
          value = raw;
          break;
        }
        case '3':
          value = { kind: 'string', value: textOf(v, 'vs'), offset: v.offset ?? 0 };
          break;
        case '4':
          if (v.kind !== 'simple' || (v.value !== CBOR_TRUE && v.value !== CBOR_FALSE)) throw contentError('"vb" must be a boolean', v.offset ?? 0);
          value = { kind: 'boolean', value: v.value === CBOR_TRUE, offset: v.offset ?? 0 };
          break;
        case '8':
          if (v.kind !== 'bytes') throw contentError('"vd" must be a byte string', v.offset ?? 0);
          value = { kind: 'bytes', value: v.value, offset: v.offset ?? 0 };
          break;
        case 'vlo': {
          const l = parseObjectLink(textOf(v, 'vlo'));
          if (l === undefined) throw contentError('"vlo" is not an object link (objectId:instanceId)', v.offset ?? 0);
          value = { kind: 'objlnk', value: l, offset: v.offset ?? 0 };
          break;
        }
        default:
          // RFC 8428 §4.4 / §12.2: labels ending in "_" (text) or below −255… must be understood.
          if (label.endsWith('_')) throw contentError(`must-understand label "${label}" is not supported`, at);
      }
      if (value !== undefined) {
        if (r.value !== undefined) throw contentError('a record carries more than one value', at);
        r.value = value;
      }
    }
    return r;
  });
}

export function writeSenmlCbor(records: readonly OutRecord[]): Buffer {
  const w = new CborWriter().arrayHeader(records.length);
  for (const r of records) {
    const n = (r.bn !== undefined ? 1 : 0) + (r.n !== undefined ? 1 : 0) + (r.value !== undefined ? 1 : 0);
    w.mapHeader(n);
    if (r.bn !== undefined) w.int(SenmlLabel.bn).text(r.bn);
    if (r.n !== undefined) w.int(SenmlLabel.n).text(r.n);
    const v = r.value;
    if (v !== undefined) {
      switch (v.type) {
        case 'integer':
        case 'unsigned':
        case 'float':
        case 'time':
          w.int(SenmlLabel.v);
          break;
        case 'boolean':
          w.int(SenmlLabel.vb);
          break;
        case 'string':
        case 'corelnk':
          w.int(SenmlLabel.vs);
          break;
        case 'opaque':
          w.int(SenmlLabel.vd);
          break;
        case 'objlnk':
          w.text('vlo');
          break;
      }
      writeCborValue(w, v, true);
    }
  }
  return w.toBuffer();
}

export class SenmlCborCodec extends SenmlCodec {
  readonly format = 112;
  readonly mediaType = 'application/senml+cbor';

  constructor() {
    super(senmlCborRecords, writeSenmlCbor);
  }
}
