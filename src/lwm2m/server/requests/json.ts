/**
 * Operations and their answers as JSON: the REST API's bodies, the event stream, `--json`,
 * and the persisted request queue (a queued request is stored as its JSON and decoded
 * again with the device's model when it goes out).
 *
 * Request JSON: `{ "operation": "read", "path": "/3/0", "format"?: 11542 }`, and
 * - write: `"mode": "replace" | "update", "content": <node JSON>`;
 * - execute: `"arguments"?: "0='x'"`;
 * - create: `"path": "/1", "instance": { "id"?: 1, "resources": […] }`;
 * - writeAttributes: `"attributes": { "pmin": 10, "gt": null }`;
 * - readComposite / observeComposite: `"paths": ["/3/0/9", "/1/0/1"]`;
 * - writeComposite: `"entries": [{ "path": "/1/0/1", "content": <node JSON> }]`.
 *
 * Response JSON: `{ "operation", "code": "2.05", "success": true, "diagnostic"?,
 * "path"?, "paths"?, "format"?: 11542, "formatName"?: "tlv", "content"?: <node JSON>,
 * "entries"?: [{ "path", "content" }], "links"?: [{ "uri", "path"?, "attributes": {} }],
 * "location"?: "/1/1", "observationId"?: "a1b2…", "fallback"?: "perResource" }`.
 */
import { Lwm2mFotaError } from '../../../errors';
import type { CompositeEntry } from '../../core/content-formats/codec';
import type { Link } from '../../core/content-formats/link-format';
import { formatPath, parsePath, type LwM2mPath } from '../../core/model/path';
import type { Lwm2mModel } from '../../core/model/types';
import { attributesFromJson } from './attributes';
import { formatName } from './formats';
import { createInstanceFromJson, nodeFromJson, nodeToJson, type NodeJson } from './node-json';
import type { CreateRequest, Lwm2mRequest, Lwm2mResponse } from './types';

export type RequestJson = { readonly operation: string; readonly [key: string]: unknown };

export interface LinkJson {
  uri: string;
  /** The LwM2M path the link names, when it names one. */
  path?: string;
  attributes: Record<string, string | true>;
}

export interface ResponseJson {
  operation: string;
  code: string;
  success: boolean;
  diagnostic?: string;
  path?: string;
  paths?: string[];
  format?: number;
  formatName?: string;
  content?: NodeJson;
  entries?: Array<{ path: string; content: NodeJson }>;
  links?: LinkJson[];
  location?: string;
  observationId?: string;
  fallback?: 'perResource';
}

function bad(message: string): never {
  throw new Lwm2mFotaError('ERR_LWM2M_VALUE', message);
}

function pathField(json: Record<string, unknown>, key = 'path'): LwM2mPath {
  const p = json[key];
  if (typeof p !== 'string') bad(`"${key}" must be an LwM2M path such as "/3/0"`);
  return parsePath(p as string);
}

function pathsField(json: Record<string, unknown>): LwM2mPath[] {
  const ps = json.paths;
  if (!Array.isArray(ps) || ps.length === 0 || !ps.every((p) => typeof p === 'string')) bad('"paths" must be a non-empty array of LwM2M paths');
  return (ps as string[]).map(parsePath);
}

function formatField(json: Record<string, unknown>): { format?: number } {
  const f = json.format;
  if (f === undefined || f === null) return {};
  if (typeof f !== 'number' || !Number.isInteger(f) || f < 0 || f > 65535) bad('"format" must be a content-format number');
  return { format: f as number };
}

export function entriesToJson(entries: readonly CompositeEntry[], model: Lwm2mModel): Array<{ path: string; content: NodeJson }> {
  return entries.map((e) => ({ path: formatPath(e.path), content: nodeToJson(e.node, e.path, model) }));
}

export function entriesFromJson(json: unknown, model: Lwm2mModel): CompositeEntry[] {
  if (!Array.isArray(json) || json.length === 0) bad('"entries" must be a non-empty array of { "path", "value" | "content" }');
  return (json as unknown[]).map((e) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) bad('each entry must be an object with "path"');
    const o = e as Record<string, unknown>;
    const path = pathField(o);
    const body = 'content' in o ? o.content : 'value' in o || 'instances' in o || 'resources' in o ? o : bad(`entry ${String(o.path)} needs "value" or "content"`);
    return { path, node: nodeFromJson(body, path, model) };
  });
}

/** A request as JSON (for the queue and for events). */
export function requestToJson(req: Lwm2mRequest, model: Lwm2mModel): RequestJson {
  const fmt = 'format' in req && req.format !== undefined ? { format: req.format } : {};
  switch (req.operation) {
    case 'read':
    case 'observe':
    case 'delete':
    case 'discover':
      return { operation: req.operation, path: formatPath(req.path), ...fmt };
    case 'write':
      return { operation: 'write', path: formatPath(req.path), mode: req.mode, content: nodeToJson(req.node, req.path, model), ...fmt };
    case 'execute':
      return { operation: 'execute', path: formatPath(req.path), ...(req.arguments ? { arguments: req.arguments } : {}) };
    case 'create': {
      const inst = req.instance;
      const asJson = nodeToJson({ kind: 'objectInstance', id: inst.id ?? 0, resources: inst.resources }, parsePath(`/${req.path.objectId}/${inst.id ?? 0}`), model);
      const resources = (asJson as { resources: unknown[] }).resources;
      return { operation: 'create', path: formatPath(req.path), instance: { ...(inst.id === undefined ? {} : { id: inst.id }), resources }, ...fmt };
    }
    case 'writeAttributes':
      return { operation: 'writeAttributes', path: formatPath(req.path), attributes: { ...req.attributes } };
    case 'readComposite':
    case 'observeComposite':
      return { operation: req.operation, paths: req.paths.map(formatPath), ...fmt };
    case 'writeComposite':
      return { operation: 'writeComposite', entries: entriesToJson(req.entries, model), ...fmt };
  }
}

/**
 * A request from its JSON, typed by the device's model.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_VALUE / ERR_LWM2M_PATH / ERR_LWM2M_ATTRIBUTES.
 */
export function requestFromJson(json: unknown, model: Lwm2mModel): Lwm2mRequest {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('a request must be a JSON object with "operation"');
  const o = json as Record<string, unknown>;
  switch (o.operation) {
    case 'read':
    case 'observe':
      return { operation: o.operation, path: pathField(o), ...formatField(o) };
    case 'delete':
    case 'discover':
      return { operation: o.operation, path: pathField(o) };
    case 'write': {
      const path = pathField(o);
      if (o.mode !== 'replace' && o.mode !== 'update') bad('"mode" must be "replace" or "update"');
      return { operation: 'write', path, mode: o.mode as 'replace' | 'update', node: nodeFromJson(o.content, path, model), ...formatField(o) };
    }
    case 'execute': {
      if (o.arguments !== undefined && typeof o.arguments !== 'string') bad('"arguments" must be a string');
      return { operation: 'execute', path: pathField(o), ...(typeof o.arguments === 'string' && o.arguments !== '' ? { arguments: o.arguments } : {}) };
    }
    case 'create': {
      const path = pathField(o);
      if (path.level !== 'object') bad('create addresses an object ("/1")');
      const instance = createInstanceFromJson(o.instance, (path as { objectId: number }).objectId, model);
      return { operation: 'create', path: path as CreateRequest['path'], instance: instance as CreateRequest['instance'], ...formatField(o) };
    }
    case 'writeAttributes':
      return { operation: 'writeAttributes', path: pathField(o), attributes: attributesFromJson(o.attributes) };
    case 'readComposite':
    case 'observeComposite':
      return { operation: o.operation, paths: pathsField(o), ...formatField(o) };
    case 'writeComposite':
      return { operation: 'writeComposite', entries: entriesFromJson(o.entries, model), ...formatField(o) };
    default:
      return bad(`unknown operation ${JSON.stringify(o.operation)}`);
  }
}

export function linksToJson(links: readonly Link[], rootPath = '/'): LinkJson[] {
  const prefix = rootPath === '/' ? '' : rootPath;
  return links.map((l) => {
    const attributes: Record<string, string | true> = {};
    for (const a of l.attributes) if (!(a.name in attributes)) attributes[a.name] = a.value ?? true;
    const rel = prefix !== '' && l.uri.startsWith(prefix + '/') ? l.uri.slice(prefix.length) : l.uri;
    let path: string | undefined;
    try {
      path = formatPath(parsePath(rel));
    } catch {
      path = undefined;
    }
    return { uri: l.uri, ...(path === undefined ? {} : { path }), attributes };
  });
}

/** An answer as JSON, with the model's names in its content. */
export function responseToJson(res: Lwm2mResponse, model: Lwm2mModel, rootPath = '/'): ResponseJson {
  const out: ResponseJson = { operation: res.operation, code: res.code, success: res.success };
  if (res.diagnostic !== undefined) out.diagnostic = res.diagnostic;
  if ('path' in res && res.path !== undefined) out.path = formatPath(res.path);
  if ('paths' in res) out.paths = res.paths.map(formatPath);
  if ('format' in res && res.format !== undefined) {
    out.format = res.format;
    out.formatName = formatName(res.format);
  }
  switch (res.operation) {
    case 'read':
    case 'observe':
      if (res.content !== undefined) out.content = nodeToJson(res.content, res.path, model);
      if (res.observationId !== undefined) out.observationId = res.observationId;
      if (res.fallback !== undefined) out.fallback = res.fallback;
      break;
    case 'readComposite':
    case 'observeComposite':
      if (res.entries !== undefined) out.entries = entriesToJson(res.entries, model);
      if (res.observationId !== undefined) out.observationId = res.observationId;
      break;
    case 'discover':
      if (res.links !== undefined) out.links = linksToJson(res.links, rootPath);
      break;
    case 'create':
      if (res.location !== undefined) out.location = res.location;
      break;
    default:
      if (res.fallback !== undefined) out.fallback = res.fallback;
  }
  return out;
}

/**
 * The typed answer again from its JSON (a queued request's stored result): the inverse of
 * {@link responseToJson}, with the device's model. Throws ERR_LWM2M_VALUE for JSON that is
 * not an answer.
 */
export function responseFromJson(json: unknown, model: Lwm2mModel): Lwm2mResponse {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('an answer must be an object');
  const o = json as Record<string, unknown>;
  if (typeof o.code !== 'string') bad('an answer needs "code"');
  const base = {
    code: o.code as string,
    success: o.success === true,
    ...(typeof o.diagnostic === 'string' ? { diagnostic: o.diagnostic } : {}),
    ...formatField(o),
  };
  const observationId = typeof o.observationId === 'string' ? { observationId: o.observationId } : {};
  const fallback = o.fallback === 'perResource' ? { fallback: 'perResource' as const } : {};
  switch (o.operation) {
    case 'read':
    case 'observe': {
      const path = pathField(o);
      const content = o.content === undefined ? {} : { content: nodeFromJson(o.content, path, model) };
      return { operation: o.operation, path, ...base, ...content, ...observationId, ...fallback };
    }
    case 'readComposite':
    case 'observeComposite': {
      const entries = Array.isArray(o.entries) ? { entries: o.entries.length === 0 ? [] : entriesFromJson(o.entries, model) } : {};
      return { operation: o.operation, paths: pathsField(o), ...base, ...entries, ...observationId };
    }
    case 'discover': {
      const links = Array.isArray(o.links) ? { links: (o.links as LinkJson[]).map(linkFromJson) } : {};
      return { operation: 'discover', path: pathField(o), ...base, ...links };
    }
    case 'create':
      return { operation: 'create', path: pathField(o) as CreateRequest['path'], ...base, ...(typeof o.location === 'string' ? { location: o.location } : {}) };
    case 'write':
    case 'execute':
    case 'delete':
    case 'writeAttributes':
    case 'writeComposite':
    case 'cancelObservation':
      return { operation: o.operation, ...(typeof o.path === 'string' ? { path: parsePath(o.path) } : {}), ...base, ...fallback };
    default:
      return bad(`unknown operation ${JSON.stringify(o.operation)}`);
  }
}

function linkFromJson(l: LinkJson): Link {
  return { uri: l.uri, attributes: Object.entries(l.attributes ?? {}).map(([name, value]) => (value === true ? { name } : { name, value })) };
}
