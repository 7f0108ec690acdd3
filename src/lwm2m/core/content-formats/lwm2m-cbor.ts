/**
 * LwM2M CBOR (Content-Format 11544), TS Core 1.2 §7.4 (LwM2M CBOR): nested CBOR maps whose keys are
 * path segments — an unsigned integer for one level, or an array of unsigned integers for
 * several — and whose leaves are resource values, e.g. `{[3, 0]: {0: "Open Mobile
 * Alliance", 6: {0: 1, 1: 5}}}` or `{3: {0: {0: …}}}`. Object links are text
 * "objectId:instanceId"; times are integer seconds; a composite read request maps each
 * path to null.
 */
import { formatPath, pathFromIds, pathIds, type LwM2mPath } from '../model/path';
import type { Lwm2mModel } from '../model/types';
import { CBOR_NULL, CborWriter, decodeCbor, describeCbor, type CborItem } from './cbor';
import type { CompositeCodec, CompositeEntry } from './codec';
import { buildNode, flattenNode, typeLeaves, type ContainerPath, type Leaf, type RawLeaf } from './leaves';
import type { Lwm2mNode } from './node';
import { cborToRaw, writeCborValue } from './plain-cbor';
import { leavesToComposite } from './senml';
import { contentError, valueError } from './values';

interface Walked {
  readonly leaves: RawLeaf[];
  readonly containers: ContainerPath[];
  readonly nulls: LwM2mPath[];
}

function keyIds(k: CborItem): number[] {
  const at = k.offset ?? 0;
  const one = (i: CborItem): number => {
    if (i.kind !== 'int' || i.value < 0n || i.value > 0xffffn) throw contentError('a path key must be an unsigned 16-bit integer', i.offset ?? at);
    return Number(i.value);
  };
  if (k.kind === 'array') {
    if (k.items.length === 0) throw contentError('an empty path key', at);
    return k.items.map(one);
  }
  return [one(k)];
}

/** The path of a key's IDs; a path the model cannot have is a content error at `at`. */
function toPath(ids: readonly number[], at: number): LwM2mPath {
  try {
    return pathFromIds(ids);
  } catch (err) {
    throw contentError((err as Error).message, at);
  }
}

function walk(map: CborItem, prefix: readonly number[], out: Walked, allowNull: boolean): void {
  if (map.kind !== 'map') throw contentError(`${describeCbor(map)} where a map was expected`, map.offset ?? 0);
  for (const [k, v] of map.entries) {
    const at = k.offset ?? 0;
    const ids = [...prefix, ...keyIds(k)];
    const path = toPath(ids, at);
    if (v.kind === 'map') {
      if (ids.length >= 4) throw contentError('a map below a resource instance', v.offset ?? at);
      if (v.entries.length === 0) out.containers.push(path as ContainerPath);
      walk(v, ids, out, allowNull);
      continue;
    }
    if (v.kind === 'simple' && v.value === CBOR_NULL) {
      if (!allowNull) throw contentError(`null value for ${formatPath(path)}`, v.offset ?? at);
      out.nulls.push(path);
      continue;
    }
    if (path.level !== 'resource' && path.level !== 'resourceInstance') {
      throw contentError(`a value at ${formatPath(path)}; values belong to resources`, v.offset ?? at);
    }
    out.leaves.push({ path, value: cborToRaw(v) });
  }
}

function parse(bytes: Buffer, allowNull: boolean): Walked {
  // Depth: at most 4 nested maps, each key an array: 9 levels of CBOR items, plus a tag and
  // its array inside a value.
  const root = decodeCbor(bytes, { maxDepth: 12 });
  const out: Walked = { leaves: [], containers: [], nulls: [] };
  walk(root, [], out, allowNull);
  return out;
}

/** Writes leaves as nested maps below the `base` key. */
function writeTree(w: CborWriter, leaves: readonly Leaf[], depth: number): void {
  // Group by the id at `depth`.
  const groups = new Map<number, Leaf[]>();
  for (const l of leaves) {
    const id = pathIds(l.path)[depth] as number;
    const g = groups.get(id) ?? [];
    g.push(l);
    groups.set(id, g);
  }
  w.mapHeader(groups.size);
  for (const [id, g] of groups) {
    w.int(id);
    const only = g[0] as Leaf;
    if (g.length === 1 && pathIds(only.path).length === depth + 1) writeCborValue(w, only.value);
    else writeTree(w, g, depth + 1);
  }
}

function writeKey(w: CborWriter, ids: readonly number[]): void {
  if (ids.length === 1) w.int(ids[0] as number);
  else {
    w.arrayHeader(ids.length);
    for (const id of ids) w.int(id);
  }
}

/** One top-level entry: the path as key, then its value or nested map. */
function writeEntry(w: CborWriter, node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): void {
  const ids = pathIds(path);
  const leaves = flattenNode(node, path, model);
  writeKey(w, ids);
  const only = leaves[0];
  if (leaves.length === 1 && only !== undefined && pathIds(only.path).length === ids.length) writeCborValue(w, only.value);
  else if (leaves.length === 0) w.mapHeader(0);
  else writeTree(w, leaves, ids.length);
}

export class Lwm2mCborCodec implements CompositeCodec {
  readonly format = 11544;
  readonly mediaType = 'application/vnd.oma.lwm2m+cbor';

  encode(node: Lwm2mNode, path: LwM2mPath, model: Lwm2mModel): Buffer {
    if (path.level === 'root') throw valueError('LwM2M CBOR cannot encode a node at the root path');
    const w = new CborWriter().mapHeader(1);
    writeEntry(w, node, path, model);
    return w.toBuffer();
  }

  decode(bytes: Buffer, path: LwM2mPath, model: Lwm2mModel): Lwm2mNode {
    const walked = parse(bytes, false);
    return buildNode(path, typeLeaves(walked.leaves, model), model, 0, walked.containers);
  }

  encodeComposite(entries: readonly CompositeEntry[], model: Lwm2mModel): Buffer {
    const w = new CborWriter().mapHeader(entries.length);
    const seen = new Set<string>();
    for (const e of entries) {
      if (e.path.level === 'root') throw valueError('a composite entry cannot be at the root path');
      const key = formatPath(e.path);
      if ([...seen].some((s) => key.startsWith(`${s}/`) || s.startsWith(`${key}/`) || s === key)) {
        throw valueError(`${key} overlaps another composite entry`, key);
      }
      seen.add(key);
      writeEntry(w, e.node, e.path, model);
    }
    return w.toBuffer();
  }

  decodeComposite(bytes: Buffer, model: Lwm2mModel, paths?: readonly LwM2mPath[]): CompositeEntry[] {
    const walked = parse(bytes, false);
    return leavesToComposite(typeLeaves(walked.leaves, model), model, paths, 0);
  }

  encodePaths(paths: readonly LwM2mPath[]): Buffer {
    const w = new CborWriter().mapHeader(paths.length);
    for (const p of paths) {
      if (p.level === 'root') throw valueError('LwM2M CBOR cannot name the root path');
      writeKey(w, pathIds(p));
      w.null();
    }
    return w.toBuffer();
  }

  decodePaths(bytes: Buffer): LwM2mPath[] {
    const walked = parse(bytes, true);
    if (walked.leaves.length > 0 || walked.containers.length > 0) {
      throw contentError('a composite read request maps paths to null only', 0);
    }
    return walked.nulls;
  }
}
