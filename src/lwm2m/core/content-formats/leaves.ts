/**
 * Between trees and flat lists of (absolute path, value): the shape that SenML, LwM2M JSON
 * and LwM2M CBOR actually carry. `flattenNode` checks a tree before it is encoded;
 * `buildNode` rebuilds a whole tree from decoded records, or throws.
 */
import { Lwm2mFotaError } from '../../../errors';
import {
  formatPath,
  isPathPrefix,
  pathFromIds,
  pathIds,
  type LwM2mPath,
  type ResourceInstancePath,
  type ResourcePath,
} from '../model/path';
import type { Lwm2mModel, ValueType } from '../model/types';
import type {
  Lwm2mNode,
  Lwm2mObject,
  Lwm2mResource,
  Lwm2mValue,
  MultipleResource,
  ObjectInstance,
  TypedValue,
} from './node';
import { checkValue, contentError, typeRawValue, valueError, type RawValue, type TypingOptions } from './values';

export type LeafPath = ResourcePath | ResourceInstancePath;

/** One value at its absolute path. */
export interface Leaf {
  readonly path: LeafPath;
  readonly value: TypedValue;
}

/** The path of `node` when it sits at `path`'s level: node kind and id must fit the path. */
function checkNodeFitsPath(node: Lwm2mNode, path: LwM2mPath): void {
  const text = formatPath(path);
  const fail = (msg: string): never => {
    throw new Lwm2mFotaError('ERR_LWM2M_PATH', `${text}: ${msg}`, { context: { path: text } });
  };
  switch (path.level) {
    case 'root':
      return fail('a node cannot be encoded at the root path');
    case 'object':
      if (node.kind !== 'object' || node.id !== path.objectId) fail(`expected object ${path.objectId}, got ${node.kind} ${node.id}`);
      return;
    case 'objectInstance':
      if (node.kind !== 'objectInstance' || node.id !== path.instanceId) {
        fail(`expected object instance ${path.instanceId}, got ${node.kind} ${node.id}`);
      }
      return;
    case 'resource':
      if ((node.kind !== 'resource' && node.kind !== 'multipleResource') || node.id !== path.resourceId) {
        fail(`expected resource ${path.resourceId}, got ${node.kind} ${node.id}`);
      }
      return;
    case 'resourceInstance':
      if (node.kind !== 'resourceInstance' || node.id !== path.resourceInstanceId) {
        fail(`expected resource instance ${path.resourceInstanceId}, got ${node.kind} ${node.id}`);
      }
      return;
  }
}

function checkId(id: unknown, max: number, where: string): void {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > max) {
    throw valueError(`${where}: id ${String(id)} is out of range 0..${max}`, where);
  }
}

/** Checks one resource against the model (type, multiplicity) and returns its leaves. */
function resourceLeaves(r: Lwm2mResource, o: number, i: number, model: Lwm2mModel, out: Leaf[]): void {
  const where = `/${o}/${i}/${r.id}`;
  checkId(r.id, 0xffff, where);
  const m = model.getResource(o, r.id);
  if (m !== undefined) {
    if (m.type === 'none') throw valueError(`${where}: resource ${r.id} (${m.name}) is executable and has no value`, where);
    if (m.type !== r.type) throw valueError(`${where}: the model says ${m.type}, the node says ${r.type}`, where);
    if (m.multiple !== (r.kind === 'multipleResource')) {
      throw valueError(`${where}: the model says ${m.multiple ? 'multiple' : 'single'}-instance, the node is ${r.kind}`, where);
    }
  }
  if (r.kind === 'resource') {
    checkValue(r.type, r.value, where);
    out.push({ path: { level: 'resource', objectId: o, instanceId: i, resourceId: r.id }, value: { type: r.type, value: r.value } as TypedValue });
    return;
  }
  if (!(r.instances instanceof Map)) throw valueError(`${where}: instances must be a Map`, where);
  for (const [ri, v] of [...(r.instances as ReadonlyMap<number, Lwm2mValue>).entries()].sort((a, b) => a[0] - b[0])) {
    const w = `${where}/${ri}`;
    checkId(ri, 0xffff, w);
    checkValue(r.type, v, w);
    out.push({
      path: { level: 'resourceInstance', objectId: o, instanceId: i, resourceId: r.id, resourceInstanceId: ri },
      value: { type: r.type, value: v } as TypedValue,
    });
  }
}

function uniqueIds(ids: readonly number[], where: string): void {
  if (new Set(ids).size !== ids.length) throw valueError(`${where}: duplicate ids`, where);
}

function instanceLeaves(inst: ObjectInstance, o: number, model: Lwm2mModel, out: Leaf[]): void {
  const where = `/${o}/${inst.id}`;
  checkId(inst.id, 0xfffe, where);
  uniqueIds(inst.resources.map((r) => r.id), where);
  for (const r of [...inst.resources].sort((a, b) => a.id - b.id)) resourceLeaves(r, o, inst.id, model, out);
}

/**
 * The leaves of `node` placed at `path`, checked against the model and the value types.
 * Empty object instances and empty multiple resources produce no leaf.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_PATH when node and path do not fit; ERR_LWM2M_VALUE
 *   for values that do not fit their type or the model.
 */
export function flattenNode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Leaf[] {
  checkNodeFitsPath(node, path);
  const out: Leaf[] = [];
  switch (node.kind) {
    case 'object': {
      checkId(node.id, 0xffff, `/${node.id}`);
      uniqueIds(node.instances.map((i) => i.id), `/${node.id}`);
      for (const inst of [...node.instances].sort((a, b) => a.id - b.id)) instanceLeaves(inst, node.id, model, out);
      break;
    }
    case 'objectInstance': {
      const p = path as Extract<LwM2mPath, { level: 'objectInstance' }>;
      instanceLeaves(node, p.objectId, model, out);
      break;
    }
    case 'resource':
    case 'multipleResource': {
      const p = path as ResourcePath;
      resourceLeaves(node, p.objectId, p.instanceId, model, out);
      break;
    }
    case 'resourceInstance': {
      const p = path as ResourceInstancePath;
      const m = model.getResource(p.objectId, p.resourceId);
      const where = formatPath(p);
      if (m !== undefined && (m.type !== node.type || !m.multiple)) {
        throw valueError(`${where}: the model says ${m.multiple ? '' : 'single-instance '}${m.type}, the node says ${node.type}`, where);
      }
      checkValue(node.type, node.value, where);
      out.push({ path: p, value: { type: node.type, value: node.value } as TypedValue });
      break;
    }
  }
  return out;
}

/** A decoded value not yet typed, at its absolute path. */
export interface RawLeaf {
  readonly path: LeafPath;
  readonly value: RawValue;
}

/** Types raw leaves with the model. */
export function typeLeaves(leaves: readonly RawLeaf[], model: Lwm2mModel, options: TypingOptions = {}): Leaf[] {
  return leaves.map((l) => ({ path: l.path, value: typeRawValue(l.value, model.getResource(l.path.objectId, l.path.resourceId), options) }));
}

/** Paths that exist even without leaves under them (an empty object instance `{}` in LwM2M CBOR). */
export type ContainerPath = Exclude<LwM2mPath, { level: 'root' } | ResourceInstancePath>;

interface ResourceAcc {
  single?: TypedValue;
  instances: Map<number, TypedValue>;
  present: boolean;
}

function buildResource(
  id: number,
  acc: ResourceAcc,
  objectId: number,
  instanceId: number,
  model: Lwm2mModel,
  offset: number,
): Lwm2mResource {
  const where = `/${objectId}/${instanceId}/${id}`;
  const m = model.getResource(objectId, id);
  const multiple = m !== undefined ? m.multiple : acc.single === undefined;
  if (acc.single !== undefined && multiple) {
    throw contentError(`${where}: a single value for a multiple-instance resource`, offset);
  }
  if (acc.single !== undefined) return { kind: 'resource', id, ...acc.single } as Lwm2mResource;
  if (!multiple && acc.instances.size > 0) {
    throw contentError(`${where}: resource instances for a single-instance resource`, offset);
  }
  if (!multiple) throw contentError(`${where}: no value for a single-instance resource`, offset);
  const entries = [...acc.instances.entries()].sort((a, b) => a[0] - b[0]);
  let type: ValueType | undefined = m?.type === 'none' ? undefined : m?.type;
  if (type === undefined) {
    const types = new Set(entries.map(([, v]) => v.type));
    if (types.size > 1 && [...types].every((t) => t === 'integer' || t === 'float' || t === 'unsigned')) {
      // Without a model, 1 and 1.5 in one resource are floats.
      type = 'float';
      for (const e of entries) e[1] = { type: 'float', value: Number(e[1].value) };
    } else if (types.size > 1) {
      throw contentError(`${where}: resource instances of different types`, offset);
    } else type = entries[0]?.[1].type ?? 'opaque';
  }
  return {
    kind: 'multipleResource',
    id,
    type,
    instances: new Map(entries.map(([k, v]) => [k, v.value])),
  } as MultipleResource;
}

/**
 * Rebuilds the node at `path` from leaves that all sit at or under it. Duplicated paths,
 * leaves outside `path`, single/multiple mismatches with the model and a missing value are
 * ERR_LWM2M_CONTENT_FORMAT; `offset` is reported with them (the offset of the payload part
 * that held the leaves).
 */
export function buildNode(
  path: LwM2mPath,
  leaves: readonly Leaf[],
  model: Lwm2mModel,
  offset = 0,
  containers: readonly ContainerPath[] = [],
): Lwm2mNode {
  if (path.level === 'root') throw contentError('content cannot be decoded at the root path', offset);
  const objects = new Map<number, Map<number, Map<number, ResourceAcc>>>();
  const inst = (o: number, i: number): Map<number, ResourceAcc> => {
    let byInst = objects.get(o);
    if (byInst === undefined) objects.set(o, (byInst = new Map()));
    let res = byInst.get(i);
    if (res === undefined) byInst.set(i, (res = new Map()));
    return res;
  };
  const res = (o: number, i: number, r: number): ResourceAcc => {
    const m = inst(o, i);
    let acc = m.get(r);
    if (acc === undefined) m.set(r, (acc = { instances: new Map(), present: true }));
    return acc;
  };
  for (const c of containers) {
    if (!isPathPrefix(path, c) && !isPathPrefix(c, path)) {
      throw contentError(`${formatPath(c)} is outside the requested ${formatPath(path)}`, offset);
    }
    if (!isPathPrefix(path, c)) continue;
    if (c.level === 'object') objects.set(c.objectId, objects.get(c.objectId) ?? new Map());
    else if (c.level === 'objectInstance') inst(c.objectId, c.instanceId);
    else res(c.objectId, c.instanceId, c.resourceId);
  }
  for (const leaf of leaves) {
    const p = leaf.path;
    const text = formatPath(p);
    if (!isPathPrefix(path, p)) throw contentError(`${text} is outside the requested ${formatPath(path)}`, offset);
    const acc = res(p.objectId, p.instanceId, p.resourceId);
    if (p.level === 'resource') {
      if (acc.single !== undefined || acc.instances.size > 0) throw contentError(`${text} appears twice`, offset);
      acc.single = leaf.value;
    } else {
      if (acc.single !== undefined || acc.instances.has(p.resourceInstanceId)) throw contentError(`${text} appears twice`, offset);
      acc.instances.set(p.resourceInstanceId, leaf.value);
    }
  }
  const ids = pathIds(path);
  const objectId = ids[0] as number;
  const buildInstance = (o: number, i: number, resources: Map<number, ResourceAcc>): ObjectInstance => ({
    kind: 'objectInstance',
    id: i,
    resources: [...resources.entries()].sort((a, b) => a[0] - b[0]).map(([r, acc]) => buildResource(r, acc, o, i, model, offset)),
  });
  switch (path.level) {
    case 'object': {
      const byInst = objects.get(objectId) ?? new Map<number, Map<number, ResourceAcc>>();
      const node: Lwm2mObject = {
        kind: 'object',
        id: objectId,
        instances: [...byInst.entries()].sort((a, b) => a[0] - b[0]).map(([i, r]) => buildInstance(objectId, i, r)),
      };
      return node;
    }
    case 'objectInstance':
      return buildInstance(objectId, path.instanceId, objects.get(objectId)?.get(path.instanceId) ?? new Map());
    case 'resource': {
      const acc = objects.get(objectId)?.get(path.instanceId)?.get(path.resourceId);
      if (acc === undefined) throw contentError(`no value for ${formatPath(path)}`, offset);
      return buildResource(path.resourceId, acc, objectId, path.instanceId, model, offset);
    }
    case 'resourceInstance': {
      const v = objects.get(objectId)?.get(path.instanceId)?.get(path.resourceId)?.instances.get(path.resourceInstanceId);
      if (v === undefined) throw contentError(`no value for ${formatPath(path)}`, offset);
      return { kind: 'resourceInstance', id: path.resourceInstanceId, ...v } as Lwm2mNode;
    }
  }
}

/** `pathFromIds` for decoders: a malformed id list is a content error, not a path error. */
export function pathFromIdsOrFail(ids: readonly number[], offset: number): LwM2mPath {
  try {
    return pathFromIds(ids);
  } catch (err) {
    throw contentError((err as Error).message, offset, err);
  }
}
