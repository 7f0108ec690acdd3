/**
 * The SenML record model (RFC 8428) as LwM2M uses it (TS Core 1.1 §7.4 (SenML JSON, SenML CBOR)): names are
 * LwM2M paths (base name + name), values in v / vs / vb / vd, plus "vlo" for object links.
 * Shared by the JSON and CBOR representations.
 */
import {
  comparePaths,
  formatPath,
  isPathPrefix,
  parsePath,
  pathIds,
  type LwM2mPath,
} from '../model/path';
import type { Lwm2mModel } from '../model/types';
import type { CompositeCodec, CompositeEntry } from './codec';
import { buildNode, flattenNode, typeLeaves, type Leaf, type LeafPath, type RawLeaf } from './leaves';
import type { Lwm2mNode, TypedValue } from './node';
import { contentError, valueError, type RawValue, type TypingOptions } from './values';

/** One decoded record, before base values are applied. */
export interface SenmlRecord {
  readonly offset: number;
  readonly bn?: string;
  readonly bt?: number;
  readonly bv?: number;
  readonly n?: string;
  readonly t?: number;
  readonly value?: RawValue;
}

/** A record with its resolved name. */
export interface ResolvedRecord {
  readonly offset: number;
  readonly name: string;
  readonly value?: RawValue;
}

/** Applies base name and base value (RFC 8428 §4.6: "resolved records"). */
export function resolveRecords(records: readonly SenmlRecord[]): ResolvedRecord[] {
  let bn = '';
  let bv: number | undefined;
  return records.map((r) => {
    if (r.bn !== undefined) bn = r.bn;
    if (r.bv !== undefined) bv = r.bv;
    let value = r.value;
    if (value !== undefined && value.kind === 'number' && bv !== undefined) {
      value = { ...value, value: Number(value.value) + bv };
    }
    return value === undefined ? { offset: r.offset, name: bn + (r.n ?? '') } : { offset: r.offset, name: bn + (r.n ?? ''), value };
  });
}

function recordPath(r: ResolvedRecord): LwM2mPath {
  try {
    return parsePath(r.name);
  } catch (err) {
    throw contentError(`record name "${r.name}" is not an LwM2M path`, r.offset, err);
  }
}

/** Resolved records with values → raw leaves (resource or resource-instance paths). */
export function recordsToLeaves(records: readonly ResolvedRecord[]): RawLeaf[] {
  return records.map((r) => {
    const path = recordPath(r);
    if (path.level !== 'resource' && path.level !== 'resourceInstance') {
      throw contentError(`a value record must name a resource or resource instance, not "${r.name}"`, r.offset);
    }
    if (r.value === undefined) throw contentError(`record "${r.name}" has no value`, r.offset);
    return { path, value: r.value };
  });
}

/** Decodes records into the node at `path`. */
export function recordsToNode(
  records: readonly SenmlRecord[],
  path: LwM2mPath,
  model: Lwm2mModel,
  options: TypingOptions = {},
): Lwm2mNode {
  const resolved = resolveRecords(records);
  const leaves = typeLeaves(recordsToLeaves(resolved), model, options);
  return buildNode(path, leaves, model, resolved[0]?.offset ?? 0);
}

/** Decodes a composite body's records into entries (see CompositeCodec.decodeComposite). */
export function leavesToComposite(
  leaves: readonly Leaf[],
  model: Lwm2mModel,
  paths: readonly LwM2mPath[] | undefined,
  offset: number,
): CompositeEntry[] {
  if (paths === undefined) {
    const seen = new Set<string>();
    return [...leaves]
      .sort((a, b) => comparePaths(a.path, b.path))
      .map((l) => {
        const key = formatPath(l.path);
        if (seen.has(key)) throw contentError(`${key} appears twice`, offset);
        seen.add(key);
        return { path: l.path, node: buildNode(l.path, [l], model, offset) };
      });
  }
  // Each value goes to the most specific requested path that contains it.
  const groups = new Map<number, Leaf[]>();
  for (const l of leaves) {
    let best = -1;
    paths.forEach((p, i) => {
      if (isPathPrefix(p, l.path) && (best < 0 || pathIds(p).length > pathIds(paths[best] as LwM2mPath).length)) best = i;
    });
    if (best < 0) throw contentError(`${formatPath(l.path)} was not requested`, offset);
    const g = groups.get(best) ?? [];
    g.push(l);
    groups.set(best, g);
  }
  return [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, ls]) => {
      const p = paths[i] as LwM2mPath;
      if (p.level === 'root') throw contentError('a composite entry at the root path cannot be a node', offset);
      return { path: p, node: buildNode(p, ls, model, offset) };
    });
}

/** A record to write. */
export interface OutRecord {
  readonly bn?: string;
  readonly n?: string;
  readonly value?: TypedValue;
}

function relativeName(base: LwM2mPath, leaf: LeafPath): string {
  return pathIds(leaf).slice(pathIds(base).length).join('/');
}

/**
 * Records for a node at `path`: one record named by `bn` alone when the node is a single
 * value at `path` itself; otherwise `bn` = path + "/" on the first record and relative
 * names — the shape of the TS Core examples (`{"bn":"/3/0/","n":"0",…}`).
 */
export function nodeToRecords(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): OutRecord[] {
  const leaves = flattenNode(node, path, model);
  const only = leaves[0];
  if (leaves.length === 1 && only !== undefined && pathIds(only.path).length === pathIds(path).length) {
    return [{ bn: formatPath(path), value: only.value }];
  }
  const bn = `${formatPath(path)}/`;
  return leaves.map((l, i) => (i === 0 ? { bn, n: relativeName(path, l.path), value: l.value } : { n: relativeName(path, l.path), value: l.value }));
}

/** Records for composite entries: absolute names, no base name. */
export function compositeToRecords(entries: readonly CompositeEntry[], model: Lwm2mModel): OutRecord[] {
  const seen = new Set<string>();
  const out: OutRecord[] = [];
  for (const e of entries) {
    for (const l of flattenNode(e.node, e.path, model)) {
      const name = formatPath(l.path);
      if (seen.has(name)) throw valueError(`${name} appears in two composite entries`, name);
      seen.add(name);
      out.push({ n: name, value: l.value });
    }
  }
  return out;
}

/** Resolved records without values → the requested paths of a Read-Composite. */
export function recordsToPaths(records: readonly SenmlRecord[]): LwM2mPath[] {
  return resolveRecords(records).map((r) => {
    if (r.value !== undefined) throw contentError(`a path record "${r.name}" must not carry a value`, r.offset);
    return recordPath(r);
  });
}

/**
 * A SenML representation as a composite codec: the record model above, read and written by
 * one pair of functions (`read`: bytes → records, `write`: records → bytes). SenML JSON and
 * SenML CBOR differ only in that pair.
 */
export abstract class SenmlCodec implements CompositeCodec {
  abstract readonly format: number;
  abstract readonly mediaType: string;

  protected constructor(
    private readonly read: (bytes: Buffer) => SenmlRecord[],
    private readonly write: (records: readonly OutRecord[]) => Buffer,
  ) {}

  encode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer {
    return this.write(nodeToRecords(node, path, model));
  }

  decode(bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
    return recordsToNode(this.read(bytes), path, model);
  }

  encodeComposite(entries: readonly CompositeEntry[], model: Lwm2mModel): Buffer {
    return this.write(compositeToRecords(entries, model));
  }

  decodeComposite(bytes: Buffer, model: Lwm2mModel, paths?: readonly LwM2mPath[]): CompositeEntry[] {
    const resolved = resolveRecords(this.read(bytes));
    return leavesToComposite(typeLeaves(recordsToLeaves(resolved), model), model, paths, resolved[0]?.offset ?? 0);
  }

  encodePaths(paths: readonly LwM2mPath[]): Buffer {
    return this.write(paths.map((p) => ({ n: formatPath(p) })));
  }

  decodePaths(bytes: Buffer): LwM2mPath[] {
    return recordsToPaths(this.read(bytes));
  }
}
