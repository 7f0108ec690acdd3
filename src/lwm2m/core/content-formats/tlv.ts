/**
 * OMA-TLV (Content-Format 11542), TS Core 1.1 §7.4 (TLV; 1.0 §6.4.3).
 *
 * Each TLV: a type byte — bits 7-6 the kind (00 object instance, 01 resource instance,
 * 10 multiple resource, 11 resource with value), bit 5 the identifier width (8 or 16 bits),
 * bits 4-3 the length width (0 = in bits 2-0, else 8, 16 or 24 bits) — then identifier,
 * length and value. Values: integers (and Time) as 1, 2, 4 or 8-byte two's complement,
 * unsigned integers as 1, 2, 4 or 8 bytes, floats as 4 or 8-byte IEEE 754, booleans as one
 * byte 0/1, objlnk as two 16-bit ids, text as UTF-8. Values are typed by the model; a
 * resource the model does not know decodes as opaque.
 */
import { formatPath, type LwM2mPath } from '../model/path';
import type { Lwm2mModel, ResourceModel, ValueType } from '../model/types';
import type { NodeCodec } from './codec';
import { flattenNode, type Leaf } from './leaves';
import type { Lwm2mNode, Lwm2mResource, Lwm2mValue, ObjectInstance, TypedValue } from './node';
import {
  canonicalInteger,
  contentError,
  dateToSeconds,
  integerOf,
  secondsToDate,
  valueError,
} from './values';

const Kind = { ObjectInstance: 0, ResourceInstance: 1, MultipleResource: 2, Resource: 3 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** "The maximum size of an Object Instance or Resource in this format is 16.7 MB" (24-bit length). */
const MAX_TLV_LENGTH = 0xffffff;

interface Tlv {
  readonly kind: Kind;
  readonly id: number;
  /** Offset of the type byte. */
  readonly offset: number;
  /** Value bounds in the whole buffer. */
  readonly start: number;
  readonly end: number;
}

const KIND_NAMES = ['object instance', 'resource instance', 'multiple resource', 'resource'] as const;

/** Splits buf[start, end) into TLVs; lengths are checked against what remains before anything is sliced. */
function readTlvs(buf: Buffer, start: number, end: number): Tlv[] {
  const out: Tlv[] = [];
  let p = start;
  while (p < end) {
    const offset = p;
    const t = buf[p++] as number;
    const kind = (t >> 6) as Kind;
    const idBytes = t & 0x20 ? 2 : 1;
    const lenType = (t >> 3) & 0x03;
    const headerRest = idBytes + lenType;
    if (headerRest > end - p) throw contentError('truncated TLV header', offset);
    const id = idBytes === 2 ? buf.readUInt16BE(p) : (buf[p] as number);
    p += idBytes;
    let length: number;
    if (lenType === 0) length = t & 0x07;
    else {
      length = buf.readUIntBE(p, lenType);
      p += lenType;
    }
    if (length > end - p) throw contentError(`TLV length ${length} exceeds the remaining ${end - p} bytes`, offset);
    out.push({ kind, id, offset, start: p, end: p + length });
    p += length;
  }
  return out;
}

function header(kind: Kind, id: number, length: number): Buffer {
  if (length > MAX_TLV_LENGTH) throw valueError(`a TLV value of ${length} bytes exceeds the 24-bit length field`);
  const idBytes = id > 0xff ? 2 : 1;
  const lenType = length < 8 ? 0 : length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
  const h = Buffer.alloc(1 + idBytes + lenType);
  h[0] = (kind << 6) | (idBytes === 2 ? 0x20 : 0) | (lenType << 3) | (lenType === 0 ? length : 0);
  if (idBytes === 2) h.writeUInt16BE(id, 1);
  else h[1] = id;
  if (lenType > 0) h.writeUIntBE(length, 1 + idBytes, lenType);
  return h;
}

function tlv(kind: Kind, id: number, value: Buffer | readonly Buffer[]): Buffer {
  const body = Buffer.isBuffer(value) ? value : Buffer.concat(value as Buffer[]);
  return Buffer.concat([header(kind, id, body.length), body]);
}

export function encodeTlvValue(v: TypedValue): Buffer {
  switch (v.type) {
    case 'integer':
      return intBytes(integerOf(v.value));
    case 'time':
      return intBytes(dateToSeconds(v.value));
    case 'unsigned': {
      const u = integerOf(v.value);
      for (const n of [1, 2, 4, 8]) {
        if (u < 1n << BigInt(n * 8)) {
          const b = Buffer.alloc(8);
          b.writeBigUInt64BE(u);
          return b.subarray(8 - n);
        }
      }
      throw valueError(`${u} does not fit in 64 bits`);
    }
    case 'float': {
      if (Math.fround(v.value) === v.value || Number.isNaN(v.value)) {
        const b = Buffer.alloc(4);
        b.writeFloatBE(v.value);
        return b;
      }
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v.value);
      return b;
    }
    case 'boolean':
      return Buffer.from([v.value ? 1 : 0]);
    case 'string':
    case 'corelnk':
      return Buffer.from(v.value, 'utf8');
    case 'opaque':
      return Buffer.from(v.value);
    case 'objlnk': {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(v.value.objectId, 0);
      b.writeUInt16BE(v.value.instanceId, 2);
      return b;
    }
  }
}

/** Two's complement in the fewest of 1, 2, 4 or 8 bytes. */
function intBytes(v: bigint): Buffer {
  for (const n of [1, 2, 4, 8]) {
    const lim = 1n << BigInt(n * 8 - 1);
    if (v >= -lim && v < lim) {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(v);
      return b.subarray(8 - n);
    }
  }
  throw valueError(`${v} does not fit in 64 bits`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeValue(buf: Buffer, t: Tlv, type: ValueType): Lwm2mValue {
  const len = t.end - t.start;
  const v = buf.subarray(t.start, t.end);
  const bad = (what: string): never => {
    throw contentError(`${KIND_NAMES[t.kind]} ${t.id}: ${what}`, t.offset);
  };
  switch (type) {
    case 'integer':
    case 'time': {
      if (len !== 1 && len !== 2 && len !== 4 && len !== 8) return bad(`an integer of ${len} bytes (1, 2, 4 or 8 expected)`);
      const b = Buffer.alloc(8, v[0] !== undefined && v[0] & 0x80 ? 0xff : 0);
      v.copy(b, 8 - len);
      const n = b.readBigInt64BE();
      return type === 'time' ? secondsToDate(n, t.offset) : canonicalInteger(n);
    }
    case 'unsigned': {
      if (len !== 1 && len !== 2 && len !== 4 && len !== 8) return bad(`an unsigned integer of ${len} bytes (1, 2, 4 or 8 expected)`);
      const b = Buffer.alloc(8);
      v.copy(b, 8 - len);
      return canonicalInteger(b.readBigUInt64BE());
    }
    case 'float': {
      if (len !== 4 && len !== 8) return bad(`a float of ${len} bytes (4 or 8 expected)`);
      const f = len === 4 ? v.readFloatBE() : v.readDoubleBE();
      if (!Number.isFinite(f)) return bad('NaN and infinities are not LwM2M values');
      return f;
    }
    case 'boolean':
      if (len !== 1 || (v[0] !== 0 && v[0] !== 1)) return bad('a boolean must be one byte, 0 or 1');
      return v[0] === 1;
    case 'string':
    case 'corelnk':
      try {
        return utf8.decode(v);
      } catch (err) {
        throw contentError(`${KIND_NAMES[t.kind]} ${t.id}: text is not valid UTF-8`, t.offset, err);
      }
    case 'opaque':
      return Buffer.from(v);
    case 'objlnk':
      if (len !== 4) return bad(`an object link of ${len} bytes (4 expected)`);
      return { objectId: v.readUInt16BE(0), instanceId: v.readUInt16BE(2) };
  }
}

function typeOf(m: ResourceModel | undefined, t: Tlv): ValueType {
  if (m === undefined) return 'opaque';
  if (m.type === 'none') throw contentError(`resource ${t.id} (${m.name}) is executable and has no value`, t.offset);
  return m.type;
}

function decodeResource(buf: Buffer, t: Tlv, objectId: number, model: Lwm2mModel): Lwm2mResource {
  const m = model.getResource(objectId, t.id);
  const type = typeOf(m, t);
  if (t.kind === Kind.Resource) {
    if (m?.multiple === true) throw contentError(`resource ${t.id} is multiple-instance but came as a single value`, t.offset);
    return { kind: 'resource', id: t.id, type, value: decodeValue(buf, t, type) } as Lwm2mResource;
  }
  if (t.kind !== Kind.MultipleResource) {
    throw contentError(`a ${KIND_NAMES[t.kind]} TLV where a resource was expected`, t.offset);
  }
  if (m?.multiple === false) throw contentError(`resource ${t.id} is single-instance but came as multiple`, t.offset);
  const instances = new Map<number, Lwm2mValue>();
  for (const ri of readTlvs(buf, t.start, t.end)) {
    if (ri.kind !== Kind.ResourceInstance) throw contentError(`a ${KIND_NAMES[ri.kind]} TLV inside multiple resource ${t.id}`, ri.offset);
    if (instances.has(ri.id)) throw contentError(`resource instance ${ri.id} appears twice`, ri.offset);
    instances.set(ri.id, decodeValue(buf, ri, type));
  }
  return { kind: 'multipleResource', id: t.id, type, instances: new Map([...instances].sort((a, b) => a[0] - b[0])) } as Lwm2mResource;
}

function decodeResources(buf: Buffer, tlvs: readonly Tlv[], objectId: number, instanceId: number, model: Lwm2mModel): ObjectInstance {
  const seen = new Set<number>();
  const resources: Lwm2mResource[] = [];
  for (const t of tlvs) {
    if (seen.has(t.id)) throw contentError(`resource ${t.id} appears twice`, t.offset);
    seen.add(t.id);
    resources.push(decodeResource(buf, t, objectId, model));
  }
  return { kind: 'objectInstance', id: instanceId, resources: resources.sort((a, b) => a.id - b.id) };
}

function encodeResource(r: readonly Leaf[]): Buffer {
  const first = r[0];
  if (first === undefined) return Buffer.alloc(0);
  if (first.path.level === 'resource') return tlv(Kind.Resource, first.path.resourceId, encodeTlvValue(first.value));
  return tlv(
    Kind.MultipleResource,
    first.path.resourceId,
    r.map((l) => tlv(Kind.ResourceInstance, (l.path as { resourceInstanceId: number }).resourceInstanceId, encodeTlvValue(l.value))),
  );
}

function byResource(leaves: readonly Leaf[]): Leaf[][] {
  const groups = new Map<string, Leaf[]>();
  for (const l of leaves) {
    const key = `${l.path.objectId}/${l.path.instanceId}/${l.path.resourceId}`;
    const g = groups.get(key) ?? [];
    g.push(l);
    groups.set(key, g);
  }
  return [...groups.values()];
}

export class TlvCodec implements NodeCodec {
  readonly format = 11542;
  readonly mediaType = 'application/vnd.oma.lwm2m+tlv';

  encode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer {
    const leaves = flattenNode(node, path, model);
    switch (node.kind) {
      case 'object':
        return Buffer.concat(
          node.instances.map((inst) =>
            tlv(
              Kind.ObjectInstance,
              inst.id,
              byResource(leaves.filter((l) => l.path.instanceId === inst.id)).map(encodeResource),
            ),
          ),
        );
      case 'objectInstance':
        // TS Core §7.4 TLV example: a Read on an instance answers with its resources only.
        return Buffer.concat(byResource(leaves).map(encodeResource));
      case 'resource':
        return encodeResource(leaves);
      case 'multipleResource':
        return tlv(
          Kind.MultipleResource,
          node.id,
          leaves.map((l) => tlv(Kind.ResourceInstance, (l.path as { resourceInstanceId: number }).resourceInstanceId, encodeTlvValue(l.value))),
        );
      case 'resourceInstance':
        return tlv(Kind.ResourceInstance, node.id, encodeTlvValue(leaves[0]?.value as TypedValue));
    }
  }

  decode(bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
    const top = readTlvs(bytes, 0, bytes.length);
    switch (path.level) {
      case 'root':
        throw contentError('TLV content cannot be decoded at the root path', 0);
      case 'object': {
        const objectModel = model.getObject(path.objectId);
        if (top.length > 0 && top.every((t) => t.kind === Kind.Resource || t.kind === Kind.MultipleResource) && objectModel?.multiple !== true) {
          // Some clients answer a Read on a single-instance object with the resources of
          // instance 0, without the object-instance TLV around them.
          return { kind: 'object', id: path.objectId, instances: [decodeResources(bytes, top, path.objectId, 0, model)] };
        }
        const seen = new Set<number>();
        const instances: ObjectInstance[] = [];
        for (const t of top) {
          if (t.kind !== Kind.ObjectInstance) throw contentError(`a ${KIND_NAMES[t.kind]} TLV where an object instance was expected`, t.offset);
          if (t.id > 0xfffe) throw contentError('object instance id 65535 is reserved', t.offset);
          if (seen.has(t.id)) throw contentError(`object instance ${t.id} appears twice`, t.offset);
          seen.add(t.id);
          instances.push(decodeResources(bytes, readTlvs(bytes, t.start, t.end), path.objectId, t.id, model));
        }
        return { kind: 'object', id: path.objectId, instances: instances.sort((a, b) => a.id - b.id) };
      }
      case 'objectInstance': {
        const only = top[0];
        if (top.length === 1 && only !== undefined && only.kind === Kind.ObjectInstance) {
          if (only.id !== path.instanceId) throw contentError(`object instance ${only.id} where ${path.instanceId} was requested`, only.offset);
          return decodeResources(bytes, readTlvs(bytes, only.start, only.end), path.objectId, path.instanceId, model);
        }
        return decodeResources(bytes, top, path.objectId, path.instanceId, model);
      }
      case 'resource': {
        const m = model.getResource(path.objectId, path.resourceId);
        const only = top[0];
        if (top.length === 1 && only !== undefined && (only.kind === Kind.Resource || only.kind === Kind.MultipleResource)) {
          if (only.id !== path.resourceId) throw contentError(`resource ${only.id} where ${path.resourceId} was requested`, only.offset);
          return decodeResource(bytes, only, path.objectId, model);
        }
        if (top.length > 0 && top.every((t) => t.kind === Kind.ResourceInstance) && m?.multiple !== false) {
          // Resource instances without their multiple-resource TLV: accepted from lenient clients.
          const type = typeOf(m, top[0] as Tlv);
          const instances = new Map<number, Lwm2mValue>();
          for (const t of top) {
            if (instances.has(t.id)) throw contentError(`resource instance ${t.id} appears twice`, t.offset);
            instances.set(t.id, decodeValue(bytes, t, type));
          }
          return { kind: 'multipleResource', id: path.resourceId, type, instances: new Map([...instances].sort((a, b) => a[0] - b[0])) } as Lwm2mNode;
        }
        throw contentError(`expected one TLV for resource ${formatPath(path)}, got ${top.length}`, top[1]?.offset ?? 0);
      }
      case 'resourceInstance': {
        const m = model.getResource(path.objectId, path.resourceId);
        if (m !== undefined && !m.multiple) throw contentError(`${formatPath(path)} addresses an instance of a single-instance resource`, 0);
        const only = top[0];
        if (top.length !== 1 || only === undefined || only.kind !== Kind.ResourceInstance || only.id !== path.resourceInstanceId) {
          throw contentError(`expected one resource instance TLV with id ${path.resourceInstanceId}`, only?.offset ?? 0);
        }
        const type = typeOf(m, only);
        return { kind: 'resourceInstance', id: only.id, type, value: decodeValue(bytes, only, type) } as Lwm2mNode;
      }
    }
  }
}
