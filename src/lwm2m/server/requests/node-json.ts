/**
 * The JSON form of LwM2M nodes, for the REST API, the event stream, `--json` and the
 * persisted request queue. Stable: scripts rely on it.
 *
 * ```json
 * { "kind": "objectInstance", "path": "/3/0", "id": 0, "resources": [
 *   { "kind": "resource", "path": "/3/0/0", "id": 0, "name": "Manufacturer", "type": "string", "value": "Acme" },
 *   { "kind": "multipleResource", "path": "/3/0/6", "id": 6, "name": "Available Power Sources", "type": "integer",
 *     "instances": { "0": 1, "1": 5 } } ] }
 * ```
 *
 * Values by type:
 * - integer, unsigned: a JSON number when it is a safe integer, else a decimal string
 *   ("18446744073709551615");
 * - float: number; boolean: true/false; string, corelnk: string;
 * - opaque: base64 (RFC 4648 §4, with padding) string;
 * - time: ISO 8601 UTC string ("2024-05-01T12:00:00.000Z"); on input also whole seconds
 *   since the epoch as a number;
 * - objlnk: "objectId:instanceId" ("3:0").
 *
 * Input is lenient where it is unambiguous: numbers and booleans may come as strings
 * ("300", "true"/"1"), opaque as `{ "hex": "cafe" }` or `{ "base64": "yv4=" }`, objlnk as
 * `{ "objectId": 3, "instanceId": 0 }`. Names are output only (from the model); `type` is
 * needed on input only for resources the model does not know.
 */
import { Lwm2mFotaError } from '../../../errors';
import {
  type Lwm2mNode,
  type Lwm2mResource,
  type Lwm2mValue,
  type ObjectInstance,
  sortMap,
} from '../../core/content-formats/node';
import { formatObjectLink, parseObjectLink } from '../../core/content-formats/values';
import { formatPath, pathIds, type LwM2mPath } from '../../core/model/path';
import { VALUE_TYPES, type Lwm2mModel, type ValueType } from '../../core/model/types';

export type JsonValue = number | string | boolean;

export interface ResourceJson {
  kind: 'resource';
  path: string;
  id: number;
  name?: string;
  type: ValueType;
  value: JsonValue;
}

export interface MultipleResourceJson {
  kind: 'multipleResource';
  path: string;
  id: number;
  name?: string;
  type: ValueType;
  /** Resource instance id (as a decimal key) → value. */
  instances: Record<string, JsonValue>;
}

export interface ResourceInstanceJson {
  kind: 'resourceInstance';
  path: string;
  id: number;
  name?: string;
  type: ValueType;
  value: JsonValue;
}

export interface ObjectInstanceJson {
  kind: 'objectInstance';
  path: string;
  id: number;
  resources: Array<ResourceJson | MultipleResourceJson>;
}

export interface ObjectJson {
  kind: 'object';
  path: string;
  id: number;
  name?: string;
  instances: ObjectInstanceJson[];
}

export type NodeJson = ObjectJson | ObjectInstanceJson | ResourceJson | MultipleResourceJson | ResourceInstanceJson;

function valueError(message: string, where: string): never {
  throw new Lwm2mFotaError('ERR_LWM2M_VALUE', `${where}: ${message}`, { context: { path: where } });
}

/** One value as JSON (see the module comment for the mapping). */
export function valueToJson(type: ValueType, value: Lwm2mValue): JsonValue {
  switch (type) {
    case 'integer':
    case 'unsigned':
      return typeof value === 'bigint' ? value.toString() : (value as number);
    case 'float':
    case 'boolean':
    case 'string':
    case 'corelnk':
      return value as number | boolean | string;
    case 'opaque':
      return Buffer.from(value as Uint8Array).toString('base64');
    case 'time':
      return (value as Date).toISOString();
    case 'objlnk':
      return formatObjectLink(value as { objectId: number; instanceId: number });
  }
}

const INT = /^[+-]?\d{1,20}$/;
const FLOAT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function canonical(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/**
 * A value of `type` from JSON.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_VALUE naming `where` when it does not fit the type.
 */
export function valueFromJson(type: ValueType, json: unknown, where: string): Lwm2mValue {
  const bad = (what: string): never => valueError(`${what}, got ${JSON.stringify(json) ?? String(json)}`, where);
  switch (type) {
    case 'integer':
    case 'unsigned': {
      let b: bigint;
      if (typeof json === 'number' && Number.isSafeInteger(json)) b = BigInt(json);
      else if (typeof json === 'string' && INT.test(json.trim())) b = BigInt(json.trim());
      else return bad(`${type} value must be an integer (a number, or a decimal string beyond 2^53)`);
      const [min, max] = type === 'integer' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      if (b < min || b > max) return bad(`out of the ${type === 'integer' ? 'int64' : 'uint64'} range`);
      return canonical(b);
    }
    case 'float': {
      if (typeof json === 'number' && Number.isFinite(json)) return json;
      if (typeof json === 'string' && FLOAT.test(json.trim()) && Number.isFinite(Number(json))) return Number(json);
      return bad('float value must be a finite number');
    }
    case 'boolean':
      if (typeof json === 'boolean') return json;
      if (json === 'true' || json === '1' || json === 1) return true;
      if (json === 'false' || json === '0' || json === 0) return false;
      return bad('boolean value must be true or false');
    case 'string':
    case 'corelnk':
      if (typeof json !== 'string') return bad(`${type} value must be a string`);
      return json;
    case 'opaque': {
      if (typeof json === 'string') {
        if (!B64.test(json)) return bad('opaque value must be base64 (or {"hex": "…"})');
        return Buffer.from(json, 'base64');
      }
      if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
        const o = json as Record<string, unknown>;
        if (typeof o.hex === 'string' && /^([0-9a-fA-F]{2})*$/.test(o.hex)) return Buffer.from(o.hex, 'hex');
        if (typeof o.base64 === 'string' && B64.test(o.base64)) return Buffer.from(o.base64, 'base64');
      }
      return bad('opaque value must be a base64 string, {"base64": "…"} or {"hex": "…"}');
    }
    case 'time': {
      if (typeof json === 'number' && Number.isSafeInteger(json)) return new Date(json * 1000);
      if (typeof json === 'string') {
        if (INT.test(json.trim())) return new Date(Number(json.trim()) * 1000);
        // ISO 8601 with a date and a time zone; Date.parse alone accepts too much.
        if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(json)) {
          const t = Date.parse(json);
          if (Number.isFinite(t)) return new Date(Math.floor(t / 1000) * 1000);
        }
      }
      return bad('time value must be an ISO 8601 date-time with zone, or seconds since the epoch');
    }
    case 'objlnk': {
      if (typeof json === 'string') {
        const l = parseObjectLink(json);
        if (l !== undefined) return l;
      } else if (json !== null && typeof json === 'object') {
        const o = json as Record<string, unknown>;
        const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
        if (ok(o.objectId) && ok(o.instanceId)) return { objectId: o.objectId, instanceId: o.instanceId };
      }
      return bad('objlnk value must be "objectId:instanceId"');
    }
  }
}

function resourceToJson(r: Lwm2mResource, o: number, i: number, model: Lwm2mModel): ResourceJson | MultipleResourceJson {
  const name = model.getResource(o, r.id)?.name;
  const path = `/${o}/${i}/${r.id}`;
  if (r.kind === 'resource') {
    return { kind: 'resource', path, id: r.id, ...(name ? { name } : {}), type: r.type, value: valueToJson(r.type, r.value) };
  }
  const instances: Record<string, JsonValue> = {};
  for (const [k, v] of (r.instances as ReadonlyMap<number, Lwm2mValue>).entries()) instances[String(k)] = valueToJson(r.type, v);
  return { kind: 'multipleResource', path, id: r.id, ...(name ? { name } : {}), type: r.type, instances };
}

function instanceToJson(inst: ObjectInstance, o: number, model: Lwm2mModel): ObjectInstanceJson {
  return {
    kind: 'objectInstance',
    path: `/${o}/${inst.id}`,
    id: inst.id,
    resources: inst.resources.map((r) => resourceToJson(r, o, inst.id, model)),
  };
}

/**
 * A node as JSON, with paths and the model's names. `path` is where the node sits (for
 * an object instance, /o/i …).
 */
export function nodeToJson(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): NodeJson {
  const ids = pathIds(path);
  const [o = 0, i = 0] = ids;
  switch (node.kind) {
    case 'object': {
      const name = model.getObject(node.id)?.name;
      return {
        kind: 'object',
        path: `/${node.id}`,
        id: node.id,
        ...(name ? { name } : {}),
        instances: node.instances.map((inst) => instanceToJson(inst, node.id, model)),
      };
    }
    case 'objectInstance':
      return instanceToJson(node, o, model);
    case 'resource':
    case 'multipleResource':
      return resourceToJson(node, o, i, model);
    case 'resourceInstance': {
      const r = ids[2] ?? 0;
      const name = model.getResource(o, r)?.name;
      return {
        kind: 'resourceInstance',
        path: `/${o}/${i}/${r}/${node.id}`,
        id: node.id,
        ...(name ? { name } : {}),
        type: node.type,
        value: valueToJson(node.type, node.value),
      };
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function idOf(v: unknown, max: number, where: string): number {
  const n = typeof v === 'string' && /^(0|[1-9]\d{0,4})$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) valueError(`id ${JSON.stringify(v)} is not an integer in 0..${max}`, where);
  return n as number;
}

function typeFor(json: Record<string, unknown>, o: number, r: number, model: Lwm2mModel, where: string): { type: ValueType; multiple: boolean | undefined } {
  const m = model.getResource(o, r);
  const given = json.type;
  if (given !== undefined && (typeof given !== 'string' || !(VALUE_TYPES as readonly string[]).includes(given))) {
    valueError(`type must be one of ${VALUE_TYPES.join(', ')}`, where);
  }
  if (m !== undefined) {
    if (m.type === 'none') valueError(`resource ${r} (${m.name}) is executable and has no value`, where);
    if (given !== undefined && given !== m.type) valueError(`the model says ${m.type}, the JSON says ${String(given)}`, where);
    return { type: m.type, multiple: m.multiple };
  }
  if (given === undefined) valueError(`resource ${r} is not in the model: give its "type"`, where);
  return { type: given as ValueType, multiple: undefined };
}

function instancesFromJson(json: unknown, type: ValueType, where: string): Map<number, Lwm2mValue> {
  const map = new Map<number, Lwm2mValue>();
  if (Array.isArray(json)) {
    json.forEach((v, k) => map.set(k, valueFromJson(type, v, `${where}/${k}`)));
  } else if (isObject(json)) {
    for (const [k, v] of Object.entries(json)) {
      const id = idOf(k, 0xffff, `${where}/${k}`);
      map.set(id, valueFromJson(type, v, `${where}/${id}`));
    }
  } else {
    valueError('"instances" must be an object of resource instance id → value', where);
  }
  return sortMap(map);
}

/** A resource at /o/i/r from `{ value }`, `{ instances }`, or a bare value / bare map. */
function resourceFromJson(json: unknown, o: number, i: number, r: number, model: Lwm2mModel): Lwm2mResource {
  const where = `/${o}/${i}/${r}`;
  const obj = isObject(json) && ('value' in json || 'instances' in json || 'kind' in json) ? json : undefined;
  const { type, multiple } = typeFor(obj ?? {}, o, r, model, where);
  const wantsMultiple = obj !== undefined ? 'instances' in obj : isObject(json) || Array.isArray(json);
  if (multiple === false && wantsMultiple) valueError('a single-instance resource takes "value", not "instances"', where);
  if (multiple === true && !wantsMultiple) valueError('a multiple-instance resource takes "instances": { "0": value, … }', where);
  if (wantsMultiple) {
    const instances = instancesFromJson(obj !== undefined ? obj.instances : json, type, where);
    return { kind: 'multipleResource', id: r, type, instances } as Lwm2mResource;
  }
  const value = valueFromJson(type, obj !== undefined ? obj.value : json, where);
  return { kind: 'resource', id: r, type, value } as Lwm2mResource;
}

/** Resources from `[{ id, value | instances }]` or `{ "<id>": value | { "<ri>": value } }`. */
function resourcesFromJson(json: unknown, o: number, i: number, model: Lwm2mModel): Lwm2mResource[] {
  const where = `/${o}/${i}`;
  const out: Lwm2mResource[] = [];
  if (Array.isArray(json)) {
    for (const item of json) {
      if (!isObject(item)) valueError('each resource must be an object with "id"', where);
      out.push(resourceFromJson(item, o, i, idOf(item.id, 0xffff, where), model));
    }
  } else if (isObject(json)) {
    for (const [k, v] of Object.entries(json)) out.push(resourceFromJson(v, o, i, idOf(k, 0xffff, `${where}/${k}`), model));
  } else {
    valueError('"resources" must be an array of resources or an object of resource id → value', where);
  }
  if (new Set(out.map((r) => r.id)).size !== out.length) valueError('a resource appears twice', where);
  return out.sort((a, b) => a.id - b.id);
}

function instanceFromJson(json: unknown, o: number, i: number | undefined, model: Lwm2mModel): { id: number | undefined; resources: Lwm2mResource[] } {
  const where = `/${o}${i === undefined ? '' : `/${i}`}`;
  if (!isObject(json)) valueError('an object instance must be a JSON object with "resources"', where);
  const id = json.id === undefined ? i : idOf(json.id, 0xfffe, where);
  if (i !== undefined && id !== i) valueError(`instance id ${String(id)} does not match the path`, where);
  if (!('resources' in json)) valueError('an object instance needs "resources"', where);
  return { id, resources: resourcesFromJson(json.resources, o, id ?? 0, model) };
}

/**
 * The node to write at `path` from its JSON: an object (`{ instances: [...] }`), an object
 * instance (`{ resources: [...] | {...} }`), a resource (`{ value }` / `{ instances }`,
 * or the bare value), a resource instance (`{ value }` or the bare value).
 *
 * @throws Lwm2mFotaError ERR_LWM2M_VALUE (what and where is wrong), ERR_LWM2M_PATH for the root.
 */
export function nodeFromJson(json: unknown, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
  const where = formatPath(path);
  switch (path.level) {
    case 'root':
      throw new Lwm2mFotaError('ERR_LWM2M_PATH', 'nothing can be written at the root path', { context: { path: where } });
    case 'object': {
      if (!isObject(json) || !Array.isArray(json.instances)) valueError('an object must be { "instances": [ { "id", "resources" } … ] }', where);
      const instances = (json.instances as unknown[]).map((inst) => {
        const { id, resources } = instanceFromJson(inst, path.objectId, undefined, model);
        if (id === undefined) valueError('each instance needs an "id"', where);
        return { kind: 'objectInstance', id, resources } as ObjectInstance;
      });
      if (new Set(instances.map((x) => x.id)).size !== instances.length) valueError('an instance appears twice', where);
      return { kind: 'object', id: path.objectId, instances: instances.sort((a, b) => a.id - b.id) };
    }
    case 'objectInstance': {
      const { resources } = instanceFromJson(json, path.objectId, path.instanceId, model);
      return { kind: 'objectInstance', id: path.instanceId, resources };
    }
    case 'resource':
      return resourceFromJson(json, path.objectId, path.instanceId, path.resourceId, model);
    case 'resourceInstance': {
      const obj = isObject(json) && 'value' in json ? json : undefined;
      const { type, multiple } = typeFor(obj ?? {}, path.objectId, path.resourceId, model, where);
      if (multiple === false) valueError('a single-instance resource has no resource instances', where);
      const value = valueFromJson(type, obj !== undefined ? obj.value : json, where);
      return { kind: 'resourceInstance', id: path.resourceInstanceId, type, value } as Lwm2mNode;
    }
  }
}

/** An object instance for Create from `{ id?, resources }` (id absent: the device chooses). */
export function createInstanceFromJson(
  json: unknown,
  objectId: number,
  model: Lwm2mModel,
): { kind: 'objectInstance'; id: number | undefined; resources: Lwm2mResource[] } {
  const { id, resources } = instanceFromJson(json, objectId, undefined, model);
  return { kind: 'objectInstance', id, resources };
}
