/**
 * application/cbor (Content-Format 60), TS Core 1.1 §7.4 (CBOR): one resource value as one CBOR
 * item. Object links travel as text "objectId:instanceId"; times as integer seconds
 * (tag 1 accepted on input); floats may arrive as integers or decimal fractions (tag 4).
 */
import type { LwM2mPath } from '../model/path';
import type { Lwm2mModel } from '../model/types';
import { CBOR_FALSE, CBOR_TRUE, CborWriter, decodeCbor, describeCbor, type CborItem } from './cbor';
import type { NodeCodec } from './codec';
import type { Lwm2mNode, TypedValue } from './node';
import { singleNode, singleTarget, singleValueOf } from './single-value';
import { contentError, dateToSeconds, formatObjectLink, integerOf, typeRawValue, type RawValue } from './values';

/** Writes one typed value as a CBOR item. `numbersAsSenml`: integral floats as integers (SenML). */
export function writeCborValue(w: CborWriter, v: TypedValue, numbersAsSenml = false): void {
  switch (v.type) {
    case 'integer':
    case 'unsigned':
      w.int(integerOf(v.value));
      return;
    case 'float':
      if (numbersAsSenml) w.number(v.value);
      else w.float(v.value);
      return;
    case 'boolean':
      w.bool(v.value);
      return;
    case 'string':
    case 'corelnk':
      w.text(v.value);
      return;
    case 'opaque':
      w.bytes(v.value);
      return;
    case 'time':
      w.int(dateToSeconds(v.value));
      return;
    case 'objlnk':
      w.text(formatObjectLink(v.value));
      return;
  }
}

/** A CBOR item as a raw value for typing; maps, arrays, null and unknown tags are refused. */
export function cborToRaw(item: CborItem): RawValue {
  const offset = item.offset ?? 0;
  switch (item.kind) {
    case 'int':
      return { kind: 'number', value: item.value, offset };
    case 'float':
      if (!Number.isFinite(item.value)) throw contentError('NaN and infinities are not LwM2M values', offset);
      return { kind: 'number', value: item.value, offset };
    case 'text':
      return { kind: 'string', value: item.value, offset };
    case 'bytes':
      return { kind: 'bytes', value: item.value, offset };
    case 'simple':
      if (item.value === CBOR_TRUE || item.value === CBOR_FALSE) return { kind: 'boolean', value: item.value === CBOR_TRUE, offset };
      throw contentError(`${describeCbor(item)} is not an LwM2M value`, offset);
    case 'tag': {
      // RFC 8949 §3.4.2: tag 1, epoch-based date/time.
      if (item.tag === 1n && (item.item.kind === 'int' || item.item.kind === 'float')) {
        const inner = cborToRaw(item.item);
        return { kind: 'time', value: inner.value as number | bigint, offset };
      }
      // RFC 8949 §3.4.4: tag 4, decimal fraction [exponent, mantissa].
      if (item.tag === 4n && item.item.kind === 'array' && item.item.items.length === 2) {
        const [e, m] = item.item.items as [CborItem, CborItem];
        if (e.kind === 'int' && m.kind === 'int' && e.value >= -400n && e.value <= 400n) {
          const v = Number(`${m.value}e${e.value}`);
          if (Number.isFinite(v)) return { kind: 'number', value: v, offset };
        }
        throw contentError('unusable decimal fraction', offset);
      }
      throw contentError(`CBOR tag ${item.tag} is not an LwM2M value`, offset);
    }
    case 'array':
    case 'map':
      throw contentError(`${describeCbor(item)} where a resource value was expected`, offset);
  }
}

export class PlainCborCodec implements NodeCodec {
  readonly format = 60;
  readonly mediaType = 'application/cbor';

  encode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer {
    const w = new CborWriter();
    writeCborValue(w, singleValueOf(node, path, model, 'application/cbor'));
    return w.toBuffer();
  }

  decode(bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
    const m = singleTarget(path, model, 'application/cbor');
    const item = decodeCbor(bytes, { maxDepth: 4 });
    return singleNode(path, typeRawValue(cborToRaw(item), m));
  }
}
