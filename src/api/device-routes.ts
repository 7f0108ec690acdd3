/**
 * REST routes of device management, under `/api/devices/:endpoint/…`:
 *
 * | Method | Path                         | Operation                                          |
 * |--------|------------------------------|----------------------------------------------------|
 * | GET    | /3/0[?format=tlv]            | Read                                               |
 * | PUT    | /1/0/1  body: node JSON      | Write (replace)                                    |
 * | POST   | /1/0    body: node JSON      | Write (partial update)                             |
 * | POST   | /3/0/4  body: {"arguments"}  | Execute (an executable resource)                   |
 * | POST   | /1      body: {"id"?, "resources"} | Create                                       |
 * | DELETE | /1/1                         | Delete                                             |
 * | GET    | /3/0/discover                | Discover                                           |
 * | PUT    | /3/0/9/attributes body: {"pmin":10,"gt":null} | Write-Attributes                  |
 * | POST   | /3/0/9/observe[?format=]     | Observe (the answer carries `observationId`)       |
 * | DELETE | /3/0/9/observe               | Cancel the observations of that path               |
 * | GET    | /composite?paths=/3/0/9,/1/0/1 | Read-Composite                                   |
 * | POST   | /composite  body: {"entries"} | Write-Composite                                   |
 * | POST   | /composite/observe body: {"paths"} | Observe-Composite                            |
 * | GET    | /observations, /observations/:id | live observations                              |
 * | DELETE | /observations/:id            | Cancel Observation                                 |
 * | GET    | /requests, /requests/:id     | queued requests and their results                  |
 * | DELETE | /requests/:id                | cancel a request that has not gone out             |
 *
 * An answer of the device is 200 with its code in the body (`"code": "4.04"`); a request
 * for a sleeping queue-mode device is 202 `{ "queued": true, "requestId", "request" }`,
 * its result comes later as a `requestCompleted` event and from `GET …/requests/:id`.
 * "No answer" is 504 (ERR_LWM2M_NO_RESPONSE); a bad body or path is 400.
 */
import { Lwm2mFotaError } from '../errors';
import { attributesFromJson } from '../lwm2m/server/requests/attributes';
import type { DeviceManagement } from '../lwm2m/server/requests/device-management';
import { parseFormat } from '../lwm2m/server/requests/formats';
import { entriesFromJson, responseToJson } from '../lwm2m/server/requests/json';
import { createInstanceFromJson, nodeFromJson } from '../lwm2m/server/requests/node-json';
import type { CreateRequest, Lwm2mRequest } from '../lwm2m/server/requests/types';
import { formatPath, parsePath, type LwM2mPath } from '../lwm2m/core/model/path';
import { HttpError, badRequest, notFound, readJsonBody, type RouteContext, type Router } from './http';
import { deviceRequestView, observationView } from './views';

const ACTIONS = new Set(['discover', 'attributes', 'observe']);

function formatQuery(url: URL): { format?: number } {
  const f = url.searchParams.get('format');
  if (f === null || f === '') return {};
  try {
    return { format: parseFormat(f) };
  } catch (err) {
    throw badRequest((err as Error).message);
  }
}

async function body(ctx: RouteContext, what: string): Promise<unknown> {
  const b = await readJsonBody(ctx.req);
  if (b === undefined) throw badRequest(`${what} needs a JSON body`);
  return b;
}

function pathsFrom(value: unknown): LwM2mPath[] {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((p) => typeof p === 'string')) {
    throw badRequest('"paths" must be a non-empty list of LwM2M paths ("/3/0/9,/1/0/1" or ["/3/0/9"])');
  }
  return (list as string[]).map(parsePath);
}

/** Adds the device-management routes to the API router. */
export function registerDeviceRoutes(router: Router, dm: DeviceManagement): void {
  for (const method of ['GET', 'PUT', 'POST', 'DELETE'] as const) {
    router.add(method, '/api/devices/:endpoint/*rest', (ctx) => route(dm, method, ctx));
  }
}

async function submit(dm: DeviceManagement, endpoint: string, req: Lwm2mRequest): Promise<unknown> {
  const r = await dm.submit(endpoint, req);
  if (r.queued) return { status: 202, body: { endpoint, queued: true, requestId: r.request.id, request: deviceRequestView(r.request) } };
  return { endpoint, ...responseToJson(r.response, r.context.model, r.context.rootPath) };
}

async function route(dm: DeviceManagement, method: 'GET' | 'PUT' | 'POST' | 'DELETE', ctx: RouteContext): Promise<unknown> {
  const endpoint = ctx.params.endpoint as string;
  const segs = (ctx.params.rest ?? '').split('/').filter((s) => s.length > 0);
  const head = segs[0];
  const notAllowed = (): never => {
    throw new HttpError(405, 'ERR_API_BAD_REQUEST', `${method} is not allowed on /api/devices/${endpoint}/${segs.join('/')}`);
  };

  if (head === 'requests') {
    if (segs.length === 1) {
      if (method !== 'GET') notAllowed();
      dm.context(endpoint);
      return { requests: (await dm.queue.list(endpoint)).map(deviceRequestView) };
    }
    if (segs.length !== 2) throw notFound(`no route ${ctx.url.pathname}`);
    const id = segs[1] as string;
    const rec = await dm.queue.get(id);
    if (rec === undefined || rec.endpoint !== endpoint) {
      throw new Lwm2mFotaError('ERR_LWM2M_REQUEST_NOT_FOUND', `no request ${id} for ${endpoint}`, { context: { endpoint, requestId: id } });
    }
    if (method === 'GET') return deviceRequestView(rec);
    if (method === 'DELETE') return deviceRequestView(await dm.queue.cancel(id));
    return notAllowed();
  }

  if (head === 'observations') {
    if (segs.length === 1) {
      if (method !== 'GET') notAllowed();
      dm.context(endpoint);
      return { observations: dm.observations.list(endpoint).map(observationView) };
    }
    if (segs.length !== 2) throw notFound(`no route ${ctx.url.pathname}`);
    const id = segs[1] as string;
    const rec = dm.observations.get(id);
    if (rec === undefined || rec.endpoint !== endpoint) {
      throw new Lwm2mFotaError('ERR_LWM2M_OBSERVATION_NOT_FOUND', `no observation ${id} of ${endpoint}`, { context: { endpoint, observationId: id } });
    }
    if (method === 'GET') return observationView(rec);
    if (method === 'DELETE') return { endpoint, observationId: id, ...responseToJson(await dm.cancelObservation(id), dm.context(endpoint).model) };
    return notAllowed();
  }

  if (head === 'composite') {
    const c = dm.context(endpoint);
    const fmt = formatQuery(ctx.url);
    if (segs.length === 1 && method === 'GET') {
      return submit(dm, endpoint, { operation: 'readComposite', paths: pathsFrom(ctx.url.searchParams.get('paths') ?? ''), ...fmt });
    }
    if (segs.length === 1 && method === 'POST') {
      const b = await body(ctx, 'Write-Composite');
      const entries = entriesFromJson((b as { entries?: unknown } | null)?.entries, c.model);
      return submit(dm, endpoint, { operation: 'writeComposite', entries, ...fmt });
    }
    if (segs.length === 2 && segs[1] === 'observe' && method === 'POST') {
      const b = (await readJsonBody(ctx.req)) as { paths?: unknown } | undefined;
      const paths = pathsFrom(b?.paths ?? ctx.url.searchParams.get('paths') ?? '');
      return submit(dm, endpoint, { operation: 'observeComposite', paths, ...fmt });
    }
    if (segs.length <= 2) return notAllowed();
    throw notFound(`no route ${ctx.url.pathname}`);
  }

  // An LwM2M path, then at most one action.
  let k = 0;
  while (k < segs.length && /^\d+$/.test(segs[k] as string)) k++;
  const action = segs[k];
  if (k < segs.length - 1 || (action !== undefined && !ACTIONS.has(action))) throw notFound(`no route ${ctx.url.pathname}`);
  if (k === 0) throw badRequest('an LwM2M path is needed after the endpoint, e.g. /api/devices/<ep>/3/0');
  const path = parsePath(`/${segs.slice(0, k).join('/')}`);
  const c = dm.context(endpoint);
  const fmt = formatQuery(ctx.url);

  switch (action) {
    case 'discover':
      if (method !== 'GET') notAllowed();
      return submit(dm, endpoint, { operation: 'discover', path });
    case 'attributes': {
      if (method !== 'PUT' && method !== 'POST') notAllowed();
      const attributes = attributesFromJson(await body(ctx, 'Write-Attributes'));
      return submit(dm, endpoint, { operation: 'writeAttributes', path, attributes });
    }
    case 'observe': {
      if (method === 'POST') return submit(dm, endpoint, { operation: 'observe', path, ...fmt });
      if (method !== 'DELETE') notAllowed();
      const text = formatPath(path);
      const ids = dm.observations.list(endpoint).filter((o) => o.kind === 'single' && o.paths[0] === text).map((o) => o.token);
      if (ids.length === 0) {
        throw new Lwm2mFotaError('ERR_LWM2M_OBSERVATION_NOT_FOUND', `${endpoint} has no observation of ${text}`, { context: { endpoint, path: text } });
      }
      const cancelled = [];
      for (const id of ids) cancelled.push({ observationId: id, ...responseToJson(await dm.cancelObservation(id), c.model) });
      return { endpoint, path: text, cancelled };
    }
    default:
      break;
  }

  switch (method) {
    case 'GET':
      return submit(dm, endpoint, { operation: 'read', path, ...fmt });
    case 'PUT': {
      const node = nodeFromJson(await body(ctx, 'Write'), path, c.model);
      return submit(dm, endpoint, { operation: 'write', mode: 'replace', path, node, ...fmt });
    }
    case 'DELETE':
      return submit(dm, endpoint, { operation: 'delete', path });
    case 'POST': {
      if (path.level === 'object') {
        const instance = createInstanceFromJson(await body(ctx, 'Create'), path.objectId, c.model);
        return submit(dm, endpoint, { operation: 'create', path, instance: instance as CreateRequest['instance'], ...fmt });
      }
      const m = path.level === 'resource' ? c.model.getResource(path.objectId, path.resourceId) : undefined;
      const b = (await readJsonBody(ctx.req)) as { arguments?: unknown } | undefined;
      if (m?.operations === 'E') {
        if (b !== undefined && (b === null || typeof b !== 'object' || Array.isArray(b))) throw badRequest('Execute takes {"arguments": "…"} or no body');
        const args = b?.arguments;
        if (args !== undefined && typeof args !== 'string') throw badRequest('"arguments" must be a string, e.g. "0=\'v\',1"');
        return submit(dm, endpoint, { operation: 'execute', path, ...(args ? { arguments: args } : {}) });
      }
      // No body (or Execute's arguments) on a resource is an Execute: refused by the device's
      // own object model before anything is sent, not read as a Write without a value.
      if (m !== undefined && (b === undefined || (b !== null && typeof b === 'object' && !Array.isArray(b) && 'arguments' in b))) {
        throw new Lwm2mFotaError(
          'ERR_LWM2M_NOT_EXECUTABLE',
          `${formatPath(path)} (${m.name}) is not executable: its operations are ${m.operations === '' ? 'none' : m.operations}; ${m.operations.includes('R') ? 'read it' : 'write it'} instead`,
          { context: { endpoint, path: formatPath(path) } },
        );
      }
      if (b === undefined) throw badRequest('Write needs a JSON body');
      const node = nodeFromJson(b, path, c.model);
      return submit(dm, endpoint, { operation: 'write', mode: 'update', path, node, ...fmt });
    }
  }
}
