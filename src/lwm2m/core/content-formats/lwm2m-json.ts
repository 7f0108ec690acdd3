/**
 * LwM2M JSON (Content-Format 11543), OMA-TS-LightweightM2M 1.0 §6.4.4: `{"bn": base name,
 * "bt": base time, "e": [ {"n": name, "v" | "sv" | "bv" | "ov": value, "t": time} ]}`.
 * Opaque values travel base64-encoded in "sv", object links as "ov": "objectId:instanceId".
 */
import { pathIds, type LwM2mPath } from '../model/path';
import type { Lwm2mModel } from '../model/types';
import type { NodeCodec } from './codec';
import { jsonString, parseJson } from './json';
import type { Lwm2mNode } from './node';
import { nodeToRecords, recordsToNode, type OutRecord, type SenmlRecord } from './senml';
import { jsonNumber, jsonValueField, type JsonValueLabels } from './senml-json';
import { contentError, parseObjectLink, type RawValue } from './values';

/** LwM2M 1.0 JSON's labels: "bv", "sv" (opaque too, in base64), "ov". */
const LWM2M_JSON_LABELS: JsonValueLabels = { boolean: 'bv', string: 'sv', opaque: 'sv', objlnk: 'ov', base64: 'base64' };

function write(records: readonly OutRecord[]): Buffer {
  const bn = records[0]?.bn;
  const entries = records.map((r) => {
    const fields: string[] = [];
    if (r.n !== undefined) fields.push(`"n":${jsonString(r.n)}`);
    if (r.value !== undefined) fields.push(jsonValueField(r.value, LWM2M_JSON_LABELS));
    return `{${fields.join(',')}}`;
  });
  return Buffer.from(`{${bn === undefined ? '' : `"bn":${jsonString(bn)},`}"e":[${entries.join(',')}]}`, 'utf8');
}

/**
 * Below an object instance, the base name is the instance and every entry is named by its
 * resource (`{"bn":"/1/0/","e":[{"n":"1","v":222}]}`), the form of the 1.0 specification's
 * examples. A base name that is the whole resource path with nameless entries is valid
 * SenML, but strict clients (OMA 1.0 JSON readers) insist on "n" and answer 4.06.
 */
function instanceBased(records: OutRecord[], path: LwM2mPath): OutRecord[] {
  const ids = pathIds(path);
  if (ids.length < 3) return records;
  const instance = `/${ids[0]}/${ids[1]}/`;
  const prefix = ids.slice(2).join('/');
  return records.map((r, i) => {
    const n = r.n === undefined || r.n === '' ? prefix : `${prefix}/${r.n}`;
    const { bn: _bn, ...rest } = r;
    return i === 0 ? { ...rest, bn: instance, n } : { ...rest, n };
  });
}

function records(bytes: Buffer): SenmlRecord[] {
  const root = parseJson(bytes, 4);
  if (root.kind !== 'object') throw contentError('LwM2M JSON must be a JSON object', root.offset);
  let bn: string | undefined;
  let e: SenmlRecord[] | undefined;
  const seen = new Set<string>();
  for (const [label, v] of root.entries) {
    if (seen.has(label)) throw contentError(`"${label}" appears twice`, v.offset);
    seen.add(label);
    if (label === 'bn') {
      if (v.kind !== 'string') throw contentError('"bn" must be a string', v.offset);
      bn = v.value;
    } else if (label === 'bt') {
      if (v.kind !== 'number') throw contentError('"bt" must be a number', v.offset);
    } else if (label === 'e') {
      if (v.kind !== 'array') throw contentError('"e" must be an array', v.offset);
      e = v.items.map((item) => {
        if (item.kind !== 'object') throw contentError('an entry of "e" must be an object', item.offset);
        let n: string | undefined;
        let value: RawValue | undefined;
        const labels = new Set<string>();
        for (const [k, x] of item.entries) {
          if (labels.has(k)) throw contentError(`"${k}" appears twice in an entry`, x.offset);
          labels.add(k);
          let raw: RawValue | undefined;
          switch (k) {
            case 'n':
              if (x.kind !== 'string') throw contentError('"n" must be a string', x.offset);
              n = x.value;
              break;
            case 't':
              if (x.kind !== 'number') throw contentError('"t" must be a number', x.offset);
              break;
            case 'v':
              if (x.kind !== 'number') throw contentError('"v" must be a number', x.offset);
              raw = { kind: 'number', value: jsonNumber(x), offset: x.offset };
              break;
            case 'sv':
              if (x.kind !== 'string') throw contentError('"sv" must be a string', x.offset);
              raw = { kind: 'string', value: x.value, offset: x.offset };
              break;
            case 'bv':
              if (x.kind !== 'boolean') throw contentError('"bv" must be true or false', x.offset);
              raw = { kind: 'boolean', value: x.value, offset: x.offset };
              break;
            case 'ov': {
              const l = x.kind === 'string' ? parseObjectLink(x.value) : undefined;
              if (l === undefined) throw contentError('"ov" is not an object link (objectId:instanceId)', x.offset);
              raw = { kind: 'objlnk', value: l, offset: x.offset };
              break;
            }
            default:
              break;
          }
          if (raw !== undefined) {
            if (value !== undefined) throw contentError('an entry carries more than one value', x.offset);
            value = raw;
          }
        }
        const rec: SenmlRecord = { offset: item.offset, ...(n === undefined ? {} : { n }), ...(value === undefined ? {} : { value }) };
        return rec;
      });
    }
  }
  if (e === undefined) throw contentError('LwM2M JSON needs an "e" array', root.offset);
  const first = e[0];
  if (bn !== undefined && first !== undefined) e[0] = { ...first, bn };
  return e;
}

export class Lwm2mJsonCodec implements NodeCodec {
  readonly format = 11543;
  readonly mediaType = 'application/vnd.oma.lwm2m+json';

  encode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer {
    return write(instanceBased(nodeToRecords(node, path, model), path));
  }

  decode(bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
    return recordsToNode(records(bytes), path, model, { opaqueAsBase64: true });
  }
}
