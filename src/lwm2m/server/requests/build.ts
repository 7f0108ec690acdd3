/**
 * Pure translation between operation values and CoAP messages (TS Transport 1.1 §6.4,
 * Table 6.4-1 "Device Management and Service Enablement interface"):
 *
 * | Operation           | CoAP                               |
 * |---------------------|------------------------------------|
 * | Read                | GET /o[/i[/r[/ri]]], Accept        |
 * | Discover            | GET …, Accept: application/link-format |
 * | Write (replace)     | PUT …                              |
 * | Write (update)      | POST /o/i[/r]                      |
 * | Write-Attributes    | PUT …?pmin=…                       |
 * | Execute             | POST /o/i/r, arguments as text     |
 * | Create              | POST /o                            |
 * | Delete              | DELETE /o/i                        |
 * | Observe / Cancel    | GET with Observe 0 / 1             |
 * | Read-Composite      | FETCH / (body: the paths)          |
 * | Observe-Composite   | FETCH / with Observe 0 / 1         |
 * | Write-Composite     | iPATCH / (body: the values)        |
 */
import type { IncomingResponse, OutgoingRequest } from '../../../coap/types';
import { Lwm2mFotaError } from '../../../errors';
import type { CompositeEntry } from '../../core/content-formats/codec';
import type { Lwm2mNode, ObjectInstance } from '../../core/content-formats/node';
import { ContentFormat, type ContentFormatRegistry, type RequestKind } from '../../core/content-formats/registry';
import { formatPath, parsePath, pathIds, validatePath, type LwM2mPath } from '../../core/model/path';
import type { Lwm2mModel, ValueType } from '../../core/model/types';
import { attributesToQuery, validateAttributes } from './attributes';
import type { DeviceContext } from './device-context';
import {
  isSuccessCode,
  type CompositeResponse,
  type CreateResponse,
  type DiscoverResponse,
  type Lwm2mRequest,
  type Lwm2mResponse,
  type PlainResponse,
  type ReadResponse,
} from './types';

/** Formats that carry exactly one value. */
const SINGLE_VALUE_FORMATS: ReadonlySet<number> = new Set([ContentFormat.TextPlain, ContentFormat.OctetStream, ContentFormat.Cbor]);
/** Formats that carry several absolute paths (Read/Write/Observe-Composite, Send). */
export const COMPOSITE_FORMATS: ReadonlySet<number> = new Set([ContentFormat.SenmlJson, ContentFormat.SenmlCbor, ContentFormat.Lwm2mCbor]);

/** The Uri-Path segments of an LwM2M path under the device's root path. */
export function uriPath(path: LwM2mPath, rootPath: string): string[] {
  const root = rootPath === '/' ? [] : rootPath.split('/').filter((s) => s.length > 0);
  return [...root, ...pathIds(path).map(String)];
}

/** The LwM2M path of a Location-Path under the device's root path ("rd"-style segments). */
export function locationToPath(location: readonly string[], rootPath: string): string {
  const root = rootPath === '/' ? [] : rootPath.split('/').filter((s) => s.length > 0);
  const rest = root.every((s, i) => location[i] === s) ? location.slice(root.length) : location;
  return `/${rest.join('/')}`;
}

/**
 * What a read of `path` returns: one value ('single') or a tree ('multi'). A resource is
 * 'single' unless the model says it has instances.
 */
export function readKind(path: LwM2mPath, model: Lwm2mModel): Exclude<RequestKind, 'composite'> {
  if (path.level === 'resourceInstance') return 'single';
  if (path.level === 'resource') return model.getResource(path.objectId, path.resourceId)?.multiple === true ? 'multi' : 'single';
  return 'multi';
}

/** The model's type of a single-value target, if known. */
export function valueTypeAt(path: LwM2mPath, model: Lwm2mModel): ValueType | undefined {
  if (path.level !== 'resource' && path.level !== 'resourceInstance') return undefined;
  const t = model.getResource(path.objectId, path.resourceId)?.type;
  return t === undefined || t === 'none' ? undefined : t;
}

/** Whether `format` can carry a node of this kind (and, for opaque-only 42, this type). */
export function formatCarries(format: number, kind: RequestKind, type?: ValueType): boolean {
  if (kind === 'composite') return COMPOSITE_FORMATS.has(format);
  if (format === ContentFormat.OctetStream) return kind === 'single' && (type === undefined || type === 'opaque');
  if (SINGLE_VALUE_FORMATS.has(format)) return kind === 'single';
  return format !== ContentFormat.LinkFormat;
}

function lwm2mError(message: string, path: string): never {
  throw new Lwm2mFotaError('ERR_LWM2M_PATH', message, { context: { path } });
}

/**
 * Checks that a request addresses what its operation allows (TS Core §6.3 / §6.4) and that
 * its paths exist in the device's model.
 *
 * @throws Lwm2mFotaError ERR_LWM2M_PATH, ERR_LWM2M_ATTRIBUTES, ERR_LWM2M_VALUE.
 */
export function validateRequest(req: Lwm2mRequest, model: Lwm2mModel): void {
  const need = (path: LwM2mPath, levels: readonly LwM2mPath['level'][], what: string): void => {
    validatePath(path, model);
    if (!levels.includes(path.level)) lwm2mError(`${req.operation} ${what}, not ${formatPath(path)}`, formatPath(path));
  };
  switch (req.operation) {
    case 'read':
    case 'observe':
      need(req.path, ['object', 'objectInstance', 'resource', 'resourceInstance'], 'addresses an object, instance, resource or resource instance');
      return;
    case 'discover':
      need(req.path, ['object', 'objectInstance', 'resource'], 'addresses an object, instance or resource');
      return;
    case 'write':
      need(req.path, ['objectInstance', 'resource', 'resourceInstance'], 'addresses an object instance, resource or resource instance');
      if (req.mode === 'update' && req.path.level === 'resourceInstance') {
        lwm2mError('a partial update (POST) addresses an object instance or resource', formatPath(req.path));
      }
      return;
    case 'execute': {
      need(req.path, ['resource'], 'addresses a resource');
      const p = req.path as Extract<LwM2mPath, { level: 'resource' }>;
      const m = model.getResource(p.objectId, p.resourceId);
      if (m !== undefined && m.operations !== 'E') lwm2mError(`${formatPath(p)} (${m.name}) is not executable`, formatPath(p));
      return;
    }
    case 'create':
      need(req.path, ['object'], 'addresses an object');
      return;
    case 'delete':
      need(req.path, ['objectInstance'], 'addresses an object instance');
      return;
    case 'writeAttributes':
      need(req.path, ['object', 'objectInstance', 'resource', 'resourceInstance'], 'addresses an object, instance, resource or resource instance');
      validateAttributes(req.attributes, req.path, model);
      return;
    case 'readComposite':
    case 'observeComposite':
      if (req.paths.length === 0) lwm2mError(`${req.operation} needs at least one path`, '/');
      for (const p of req.paths) validatePath(p, model);
      return;
    case 'writeComposite':
      if (req.entries.length === 0) lwm2mError('writeComposite needs at least one value', '/');
      for (const e of req.entries) {
        validatePath(e.path, model);
        if (e.path.level !== 'resource' && e.path.level !== 'resourceInstance' && e.path.level !== 'objectInstance') {
          lwm2mError('writeComposite writes resources, resource instances or object instances', formatPath(e.path));
        }
      }
      return;
  }
}

/**
 * 1.1 §5.4.5 Execute arguments: `arg *("," arg)`, arg = DIGIT ["=" "'" *CHAR "'"], CHAR
 * any printable ASCII but "'"; the empty string means none.
 */
export function checkExecuteArguments(args: string): void {
  if (args === '') return;
  if (!/^[0-9](='[\x20-\x26\x28-\x7e]*')?(,[0-9](='[\x20-\x26\x28-\x7e]*')?)*$/.test(args)) {
    throw new Lwm2mFotaError('ERR_LWM2M_VALUE', `execute arguments "${args}" do not follow 1.1 §5.4.5 (e.g. 0='v1',1)`);
  }
}

/**
 * The CoAP request for an operation. `format` is the Content-Format to ask for (reads,
 * observe, composite) or to encode with (writes, create); required where a body is encoded.
 * `bodyFormat` is the Content-Format of the paths a Read/Observe-Composite carries in its
 * body (default: `format`): a device may emit a format it does not read (TS Core 1.2 lets
 * the two differ: Content-Format for the request, Accept for the answer).
 *
 * @throws Lwm2mFotaError ERR_LWM2M_UNSUPPORTED_FORMAT, ERR_LWM2M_VALUE, ERR_LWM2M_PATH
 *   when the content cannot be encoded.
 */
export function buildCoapRequest(
  req: Lwm2mRequest,
  ctx: Pick<DeviceContext, 'model' | 'rootPath' | 'lwm2mVersion'>,
  formats: ContentFormatRegistry,
  format: number | undefined,
  bodyFormat?: number,
): OutgoingRequest {
  const root = ctx.rootPath;
  const need = (): number => {
    if (format === undefined) throw new Lwm2mFotaError('ERR_LWM2M_UNSUPPORTED_FORMAT', `${req.operation} needs a content format`);
    return format;
  };
  switch (req.operation) {
    case 'read':
      return { method: 'GET', path: uriPath(req.path, root), ...(format === undefined ? {} : { accept: format }) };
    case 'observe':
      return { method: 'GET', path: uriPath(req.path, root), observe: 0, ...(format === undefined ? {} : { accept: format }) };
    case 'discover':
      return { method: 'GET', path: uriPath(req.path, root), accept: ContentFormat.LinkFormat };
    case 'write': {
      const f = need();
      return {
        method: req.mode === 'replace' ? 'PUT' : 'POST',
        path: uriPath(req.path, root),
        contentFormat: f,
        payload: formats.encode(f, req.node, req.path, ctx.model),
      };
    }
    case 'execute': {
      const args = req.arguments ?? '';
      if (ctx.lwm2mVersion !== '1.0') checkExecuteArguments(args);
      return {
        method: 'POST',
        path: uriPath(req.path, root),
        ...(args === '' ? {} : { payload: Buffer.from(args, 'utf8'), contentFormat: ContentFormat.TextPlain }),
      };
    }
    case 'create': {
      const f = need();
      const inst = req.instance;
      let payload: Buffer;
      if (inst.id === undefined) {
        // Without an instance id the device chooses one; only TLV can say "these resources,
        // no instance" (TS Core 1.0 §5.4.5: the payload is the resources alone).
        if (f !== ContentFormat.Tlv) {
          throw new Lwm2mFotaError('ERR_LWM2M_VALUE', `create without an instance id needs TLV (11542), not ${f}`, {
            context: { path: formatPath(req.path) },
          });
        }
        const pseudo = parsePath(`/${req.path.objectId}/0`);
        payload = formats.encode(f, { kind: 'objectInstance', id: 0, resources: inst.resources }, pseudo, ctx.model);
      } else {
        const node: Lwm2mNode = { kind: 'object', id: req.path.objectId, instances: [inst as ObjectInstance] };
        payload = formats.encode(f, node, req.path, ctx.model);
      }
      return { method: 'POST', path: uriPath(req.path, root), contentFormat: f, payload };
    }
    case 'delete':
      return { method: 'DELETE', path: uriPath(req.path, root) };
    case 'writeAttributes':
      return { method: 'PUT', path: uriPath(req.path, root), query: attributesToQuery(req.attributes) };
    case 'readComposite':
    case 'observeComposite': {
      const f = need();
      const body = bodyFormat ?? f;
      return {
        method: 'FETCH',
        path: uriPath({ level: 'root' }, root),
        contentFormat: body,
        accept: f,
        payload: formats.encodePaths(body, req.paths),
        ...(req.operation === 'observeComposite' ? { observe: 0 } : {}),
      };
    }
    case 'writeComposite': {
      const f = need();
      return {
        method: 'iPATCH',
        path: uriPath({ level: 'root' }, root),
        contentFormat: f,
        payload: formats.encodeComposite(f, req.entries, ctx.model),
      };
    }
  }
}

function diagnosticOf(res: IncomingResponse): string | undefined {
  if (isSuccessCode(res.code) || res.payload.length === 0) return undefined;
  return res.payload.toString('utf8').slice(0, 1024);
}

/** Decodes a read or notification payload at `path`: whatever registered format came back. */
export function decodeContent(
  res: Pick<IncomingResponse, 'payload' | 'contentFormat'>,
  path: LwM2mPath,
  model: Lwm2mModel,
  formats: ContentFormatRegistry,
  asked: number | undefined,
): { format: number; content: Lwm2mNode } {
  // No Content-Format option: the device answered in what we asked for; failing that,
  // text/plain for one value and TLV (the 1.0 default) for more.
  const format = res.contentFormat ?? asked ?? (readKind(path, model) === 'single' ? ContentFormat.TextPlain : ContentFormat.Tlv);
  if (res.payload.length === 0 && path.level === 'object') return { format, content: { kind: 'object', id: path.objectId, instances: [] } };
  if (res.payload.length === 0 && path.level === 'objectInstance') {
    return { format, content: { kind: 'objectInstance', id: path.instanceId, resources: [] } };
  }
  return { format, content: formats.decode(format, res.payload, path, model) };
}

/**
 * The operation's answer as a value. Throws only when a success response carries content
 * that does not decode (ERR_LWM2M_CONTENT_FORMAT, ERR_LWM2M_UNSUPPORTED_FORMAT).
 */
export function decodeCoapResponse(
  req: Lwm2mRequest,
  res: IncomingResponse,
  ctx: Pick<DeviceContext, 'model' | 'rootPath'>,
  formats: ContentFormatRegistry,
  asked: number | undefined,
): Lwm2mResponse {
  const base = { code: res.code, success: isSuccessCode(res.code) };
  const diagnostic = diagnosticOf(res);
  const withDiag = diagnostic === undefined ? base : { ...base, diagnostic };
  switch (req.operation) {
    case 'read':
    case 'observe': {
      const out: ReadResponse = { operation: req.operation, path: req.path, ...withDiag };
      if (res.code !== '2.05') return out;
      const { format, content } = decodeContent(res, req.path, ctx.model, formats, asked);
      return { ...out, format, content };
    }
    case 'discover': {
      const out: DiscoverResponse = { operation: 'discover', path: req.path, ...withDiag };
      if (res.code !== '2.05') return out;
      return { ...out, links: formats.decodeLinks(res.payload) };
    }
    case 'create': {
      const out: CreateResponse = { operation: 'create', path: req.path, ...withDiag };
      if (res.code !== '2.01') return out;
      if (res.locationPath.length > 0) return { ...out, location: locationToPath(res.locationPath, ctx.rootPath) };
      return req.instance.id === undefined ? out : { ...out, location: `/${req.path.objectId}/${req.instance.id}` };
    }
    case 'readComposite':
    case 'observeComposite': {
      const out: CompositeResponse = { operation: req.operation, paths: req.paths, ...withDiag };
      if (res.code !== '2.05') return out;
      const format = res.contentFormat ?? asked ?? ContentFormat.SenmlCbor;
      const entries: CompositeEntry[] = res.payload.length === 0 ? [] : formats.decodeComposite(format, res.payload, ctx.model, req.paths);
      return { ...out, format, entries };
    }
    case 'write':
      return { operation: 'write', path: req.path, ...withDiag, ...(asked === undefined ? {} : { format: asked }) } satisfies PlainResponse;
    case 'writeComposite':
      return { operation: 'writeComposite', ...withDiag, ...(asked === undefined ? {} : { format: asked }) } satisfies PlainResponse;
    case 'execute':
    case 'delete':
    case 'writeAttributes':
      return { operation: req.operation, path: req.path, ...withDiag } satisfies PlainResponse;
  }
}
