/** Helpers for the formats that carry exactly one value (text, opaque, plain CBOR). */
import { Lwm2mFotaError } from '../../../errors';
import { formatPath, type LwM2mPath } from '../model/path';
import type { Lwm2mModel, ResourceModel } from '../model/types';
import { flattenNode } from './leaves';
import type { Lwm2mNode, TypedValue } from './node';
import { contentError, valueError } from './values';

/** The one value of a single resource or resource instance node, checked. */
export function singleValueOf(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel, format: string): TypedValue {
  if (path.level !== 'resource' && path.level !== 'resourceInstance') {
    const text = formatPath(path);
    throw new Lwm2mFotaError('ERR_LWM2M_PATH', `${text}: ${format} carries a single resource value only`, { context: { path: text } });
  }
  if (node.kind === 'multipleResource') throw valueError(`${formatPath(path)}: ${format} cannot carry a multiple-instance resource`, formatPath(path));
  const leaves = flattenNode(node, path, model);
  const leaf = leaves[0];
  if (leaves.length !== 1 || leaf === undefined) throw valueError(`${formatPath(path)}: ${format} carries exactly one value`, formatPath(path));
  return leaf.value;
}

/** The resource model of a single-value target, or undefined when unknown. */
export function singleTarget(path: LwM2mPath, model: Lwm2mModel, format: string): ResourceModel | undefined {
  if (path.level !== 'resource' && path.level !== 'resourceInstance') {
    throw contentError(`${format} carries a single resource value, not ${formatPath(path)}`, 0);
  }
  const m = model.getResource(path.objectId, path.resourceId);
  if (m !== undefined && path.level === 'resource' && m.multiple) {
    throw contentError(`${formatPath(path)} is a multiple-instance resource; ${format} carries a single value`, 0);
  }
  if (m !== undefined && path.level === 'resourceInstance' && !m.multiple) {
    throw contentError(`${formatPath(path)} addresses an instance of a single-instance resource`, 0);
  }
  if (m?.type === 'none') throw contentError(`${formatPath(path)} is executable and has no value`, 0);
  return m;
}

/** The node for a single decoded value at `path`. */
export function singleNode(path: LwM2mPath, value: TypedValue): Lwm2mNode {
  if (path.level === 'resourceInstance') return { kind: 'resourceInstance', id: path.resourceInstanceId, ...value } as Lwm2mNode;
  if (path.level === 'resource') return { kind: 'resource', id: path.resourceId, ...value } as Lwm2mNode;
  throw contentError(`a single value cannot be placed at ${formatPath(path)}`, 0);
}
