/**
 * LwM2M paths (TS Core §6.1, §6.3): /{Object ID}/{Object Instance ID}/{Resource ID}/{Resource Instance ID},
 * each level optional from the right. IDs are 16-bit; Object Instance ID 65535 is reserved
 * (MAX_ID in TS Core §6.1 / Appendix) and never names an instance.
 */
import { Lwm2mFotaError } from '../../../errors';
import type { Lwm2mModel } from './types';

export interface RootPath {
  readonly level: 'root';
}
export interface ObjectPath {
  readonly level: 'object';
  readonly objectId: number;
}
export interface ObjectInstancePath {
  readonly level: 'objectInstance';
  readonly objectId: number;
  readonly instanceId: number;
}
export interface ResourcePath {
  readonly level: 'resource';
  readonly objectId: number;
  readonly instanceId: number;
  readonly resourceId: number;
}
export interface ResourceInstancePath {
  readonly level: 'resourceInstance';
  readonly objectId: number;
  readonly instanceId: number;
  readonly resourceId: number;
  readonly resourceInstanceId: number;
}

export type LwM2mPath = RootPath | ObjectPath | ObjectInstancePath | ResourcePath | ResourceInstancePath;
export type PathLevel = LwM2mPath['level'];

export const MAX_ID = 65535;
/** 65535 is reserved for instances: "no instance" in Bootstrap and Access Control. */
export const MAX_INSTANCE_ID = 65534;

function pathError(message: string, path: string): never {
  throw new Lwm2mFotaError('ERR_LWM2M_PATH', message, { context: { path } });
}

const LEVELS: readonly PathLevel[] = ['root', 'object', 'objectInstance', 'resource', 'resourceInstance'];
const NAMES = ['Object ID', 'Object Instance ID', 'Resource ID', 'Resource Instance ID'] as const;

/**
 * A path from its IDs ([] → root, [5] → /5, [3,0,11,0] → /3/0/11/0).
 *
 * @throws Lwm2mFotaError ERR_LWM2M_PATH for more than 4 IDs or an ID out of range.
 */
export function pathFromIds(ids: readonly number[]): LwM2mPath {
  if (ids.length > 4) pathError(`a path has at most 4 levels, got ${ids.length}`, `/${ids.join('/')}`);
  ids.forEach((id, i) => {
    const max = i === 1 ? MAX_INSTANCE_ID : MAX_ID;
    if (!Number.isInteger(id) || id < 0 || id > max) {
      pathError(`${NAMES[i] ?? 'ID'} ${id} is out of range 0..${max}`, `/${ids.join('/')}`);
    }
  });
  const [o, i, r, ri] = ids as [number, number, number, number];
  switch (ids.length) {
    case 0:
      return { level: 'root' };
    case 1:
      return { level: 'object', objectId: o };
    case 2:
      return { level: 'objectInstance', objectId: o, instanceId: i };
    case 3:
      return { level: 'resource', objectId: o, instanceId: i, resourceId: r };
    default:
      return { level: 'resourceInstance', objectId: o, instanceId: i, resourceId: r, resourceInstanceId: ri };
  }
}

/** The IDs of a path, outermost first (/3/0/11/0 → [3, 0, 11, 0]). */
export function pathIds(path: LwM2mPath): number[] {
  switch (path.level) {
    case 'root':
      return [];
    case 'object':
      return [path.objectId];
    case 'objectInstance':
      return [path.objectId, path.instanceId];
    case 'resource':
      return [path.objectId, path.instanceId, path.resourceId];
    case 'resourceInstance':
      return [path.objectId, path.instanceId, path.resourceId, path.resourceInstanceId];
  }
}

/** Number of IDs in the path: root 0 … resource instance 4. */
export function pathDepth(path: LwM2mPath): number {
  return LEVELS.indexOf(path.level);
}

/**
 * Parses "/", "/5", "/5/0", "/5/0/3", "/3/0/11/0". IDs are decimal without sign or leading
 * zeros; a trailing slash is accepted only on the root.
 *
 * @example parsePath('/5/0/3') // { level: 'resource', objectId: 5, instanceId: 0, resourceId: 3 }
 * @throws Lwm2mFotaError ERR_LWM2M_PATH, with `context.path`, for anything else.
 */
export function parsePath(text: string): LwM2mPath {
  if (text === '/') return { level: 'root' };
  if (!text.startsWith('/')) pathError(`path "${text}" must start with "/"`, text);
  const segments = text.slice(1).split('/');
  if (segments.length > 4) pathError(`path "${text}" has more than 4 levels`, text);
  const ids = segments.map((s, i) => {
    if (!/^(0|[1-9]\d{0,4})$/.test(s)) {
      pathError(`path "${text}": ${NAMES[i] ?? 'ID'} "${s}" is not a decimal integer`, text);
    }
    return Number(s);
  });
  return pathFromIds(ids);
}

/** "/5/0/3"; the root is "/". */
export function formatPath(path: LwM2mPath): string {
  return `/${pathIds(path).join('/')}`;
}

/** True when `prefix` is `path` or one of its ancestors (the root is everyone's ancestor). */
export function isPathPrefix(prefix: LwM2mPath, path: LwM2mPath): boolean {
  const a = pathIds(prefix);
  const b = pathIds(path);
  return a.length <= b.length && a.every((id, i) => id === b[i]);
}

export function pathsEqual(a: LwM2mPath, b: LwM2mPath): boolean {
  return pathDepth(a) === pathDepth(b) && isPathPrefix(a, b);
}

/** The parent level (/5/0/3 → /5/0); the root has none. */
export function parentPath(path: LwM2mPath): LwM2mPath | undefined {
  const ids = pathIds(path);
  return ids.length === 0 ? undefined : pathFromIds(ids.slice(0, -1));
}

/** Orders paths by their IDs, ancestors first. */
export function comparePaths(a: LwM2mPath, b: LwM2mPath): number {
  const x = pathIds(a);
  const y = pathIds(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * Checks a path against the model: the object is defined, a single-instance object is
 * only addressed as instance 0, the resource is defined, and a resource instance is only
 * addressed on a multiple-instance resource.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_PATH with a message that says which part is wrong.
 */
export function validatePath(path: LwM2mPath, model: Lwm2mModel): void {
  if (path.level === 'root') return;
  const text = formatPath(path);
  const object = model.getObject(path.objectId);
  if (object === undefined) pathError(`${text}: object ${path.objectId} is not defined in the model`, text);
  if (path.level === 'object') return;
  if (!object.multiple && path.instanceId !== 0) {
    pathError(`${text}: object ${path.objectId} (${object.name}) is single-instance; its only instance is 0`, text);
  }
  if (path.level === 'objectInstance') return;
  const resource = model.getResource(path.objectId, path.resourceId);
  if (resource === undefined) {
    pathError(
      `${text}: resource ${path.resourceId} is not defined in object ${path.objectId} (${object.name}) version ${object.version}`,
      text,
    );
  }
  if (path.level === 'resourceInstance' && !resource.multiple) {
    pathError(`${text}: resource ${path.resourceId} (${resource.name}) is single-instance and has no resource instances`, text);
  }
}
