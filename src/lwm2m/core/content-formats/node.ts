/**
 * The decoded form of LwM2M content: a typed tree, the same whatever format carried it.
 *
 * Values by resource type:
 * - integer: `number` when it is a safe integer (|v| ≤ 2^53 − 1), else `bigint` (int64);
 * - unsigned: the same, 0 … 2^64 − 1;
 * - float: `number` (finite);
 * - boolean: `boolean`; string and corelnk: `string`; opaque: `Buffer`;
 * - time: `Date`, whole seconds (LwM2M Time is an integer count of seconds since the Unix
 *   epoch, TS Core Appendix C). A Date keeps it apart from plain integers in the tree;
 *   decoders refuse times outside the Date range (±8.64e12 s);
 * - objlnk: `{ objectId, instanceId }`.
 *
 * Decoders return integers in canonical form (a `number` whenever it is safe), so decoded
 * trees compare equal with `toEqual`.
 */
import type { ValueType } from '../model/types';

export interface ObjectLink {
  readonly objectId: number;
  readonly instanceId: number;
}

export interface ValueOfType {
  integer: number | bigint;
  unsigned: number | bigint;
  float: number;
  boolean: boolean;
  string: string;
  opaque: Buffer;
  time: Date;
  objlnk: ObjectLink;
  corelnk: string;
}

export type Lwm2mValue = ValueOfType[ValueType];

/** A value with its type, e.g. `{ type: 'integer', value: 42 }`. */
export type TypedValue = { [T in ValueType]: { readonly type: T; readonly value: ValueOfType[T] } }[ValueType];

export type SingleResource = { readonly kind: 'resource'; readonly id: number } & TypedValue;

export type MultipleResource = {
  [T in ValueType]: {
    readonly kind: 'multipleResource';
    readonly id: number;
    readonly type: T;
    /** Resource instance id → value. */
    readonly instances: ReadonlyMap<number, ValueOfType[T]>;
  };
}[ValueType];

export type Lwm2mResource = SingleResource | MultipleResource;

/** One instance of a multiple-instance resource, addressed on its own (/3/0/6/1). */
export type ResourceInstance = { readonly kind: 'resourceInstance'; readonly id: number } & TypedValue;

export interface ObjectInstance {
  readonly kind: 'objectInstance';
  readonly id: number;
  /** By ascending id; ids are unique. */
  readonly resources: readonly Lwm2mResource[];
}

export interface Lwm2mObject {
  readonly kind: 'object';
  readonly id: number;
  /** By ascending id; ids are unique. */
  readonly instances: readonly ObjectInstance[];
}

export type Lwm2mNode = Lwm2mObject | ObjectInstance | Lwm2mResource | ResourceInstance;

// Builders: small helpers so callers and tests write trees without ceremony.

export function resource<T extends ValueType>(id: number, type: T, value: ValueOfType[T]): SingleResource {
  return { kind: 'resource', id, type, value } as SingleResource;
}

export function multipleResource<T extends ValueType>(
  id: number,
  type: T,
  instances: ReadonlyMap<number, ValueOfType[T]> | Iterable<readonly [number, ValueOfType[T]]> | Readonly<Record<number, ValueOfType[T]>>,
): MultipleResource {
  let map: Map<number, ValueOfType[T]>;
  if (instances instanceof Map) map = new Map(instances);
  else if (Symbol.iterator in (instances as object)) map = new Map(instances as Iterable<readonly [number, ValueOfType[T]]>);
  else map = new Map(Object.entries(instances as Record<number, ValueOfType[T]>).map(([k, v]) => [Number(k), v]));
  return { kind: 'multipleResource', id, type, instances: sortMap(map) } as MultipleResource;
}

export function resourceInstance<T extends ValueType>(id: number, type: T, value: ValueOfType[T]): ResourceInstance {
  return { kind: 'resourceInstance', id, type, value } as ResourceInstance;
}

export function objectInstance(id: number, resources: readonly Lwm2mResource[]): ObjectInstance {
  return { kind: 'objectInstance', id, resources: [...resources].sort((a, b) => a.id - b.id) };
}

export function lwm2mObject(id: number, instances: readonly ObjectInstance[]): Lwm2mObject {
  return { kind: 'object', id, instances: [...instances].sort((a, b) => a.id - b.id) };
}

export function objectLink(objectId: number, instanceId: number): ObjectLink {
  return { objectId, instanceId };
}

export function sortMap<V>(map: ReadonlyMap<number, V>): Map<number, V> {
  return new Map([...map.entries()].sort((a, b) => a[0] - b[0]));
}
