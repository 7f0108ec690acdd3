import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Lwm2mFotaError } from '../errors';
import type { EventBus, TypedEvent } from '../events';
import type { RegistrationService } from '../lwm2m/server/registration/registration-service';
import { errorAnswer } from './error-status';
import { HttpError, Router, badRequest, notFound, sendError, sendJson } from './http';
import { tokenMatches } from './token';
import { deviceView, eventView } from './views';

export interface ApiServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080; 0 = any free port. */
  readonly port?: number;
  readonly token: string;
  readonly registrations: RegistrationService;
  readonly events: EventBus;
  /**
   * What other services know of a device, merged into `GET /api/devices` (detail false:
   * cached facts only) and `GET /api/devices/:endpoint` (detail true), e.g. its firmware version.
   */
  readonly describeDevice?: (endpoint: string, detail: boolean) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Later capabilities add their routes here. */
  readonly extraRoutes?: (router: Router) => void;
  /** SSE keep-alive comment interval (default 15 s). */
  readonly keepAliveMs?: number;
}

export interface ApiServer {
  address(): { address: string; port: number };
  close(): Promise<void>;
}

const SSE_MAX_BUFFERED = 4 * 1024 * 1024;

/**
 * The REST API: token-authenticated JSON over Node's own http module (no framework: the
 * surface is small, and SSE wants direct control of the socket). Every error is
 * `{ "error": { "code", "message" } }` with a 4xx/5xx status.
 */
export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { registrations, events } = options;
  const router = new Router();
  const streams = new Set<ServerResponse>();

  const describe = options.describeDevice;
  router.add('GET', '/api/devices', async () => ({
    devices: await Promise.all(
      registrations.list().map(async (r) => ({ ...deviceView(r, registrations.expiresAt(r)), ...(describe ? await describe(r.endpoint, false) : {}) })),
    ),
  }));
  router.add('GET', '/api/devices/:endpoint', async ({ params }) => {
    const rec = registrations.get(params.endpoint!);
    // The code every route answers for an unknown endpoint (device operations, updates): one code, not two.
    if (!rec) throw new Lwm2mFotaError('ERR_LWM2M_NOT_REGISTERED', `device ${params.endpoint} is not registered`, { context: { endpoint: params.endpoint! } });
    return { ...deviceView(rec, registrations.expiresAt(rec)), ...(describe ? await describe(rec.endpoint, true) : {}) };
  });
  router.add('GET', '/api/events', (ctx) => streamEvents(ctx.req, ctx.res, ctx.url, events, streams, options.keepAliveMs ?? 15000));
  options.extraRoutes?.(router);

  const server: Server = createHttpServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const auth = req.headers.authorization;
      const presented = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
      if (!tokenMatches(presented, options.token)) {
        res.setHeader('www-authenticate', 'Bearer');
        throw new HttpError(401, 'ERR_API_UNAUTHORIZED', 'missing or wrong API token (Authorization: Bearer <token>)');
      }
      const match = router.match(req.method ?? 'GET', url.pathname);
      if (match === undefined) throw notFound(`no route ${req.method} ${url.pathname}`);
      if (match === 'method') throw new HttpError(405, 'ERR_API_BAD_REQUEST', `${req.method} is not allowed on ${url.pathname}`);
      const body = await match.handler({ req, res, params: match.params, url });
      if (res.headersSent || res.writableEnded) return;
      if (body !== null && typeof body === 'object' && 'status' in body && 'body' in body) {
        const b = body as { status: number; body: unknown };
        sendJson(res, b.status, b.body);
      } else {
        sendJson(res, 200, body ?? {});
      }
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const answer = errorAnswer(err);
      sendError(res, answer.status, answer.code, answer.message);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Lwm2mFotaError('ERR_API_UNREACHABLE', `cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 8080}: ${err.message}`, { cause: err })),
    );
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolve());
  });

  return {
    address: () => {
      const a = server.address() as AddressInfo;
      return { address: a.address, port: a.port };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Server-Sent Events of the event log. `Last-Event-ID` (or `?since=<id>`) replays what was
 * missed, then live events follow; `?type=a,b` and `?endpoint=x` filter. A client that
 * stops reading is dropped once 4 MiB are buffered for it.
 */
async function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  events: EventBus,
  streams: Set<ServerResponse>,
  keepAliveMs: number,
): Promise<void> {
  const sinceRaw = req.headers['last-event-id'] ?? url.searchParams.get('since') ?? undefined;
  let since: number | undefined;
  if (sinceRaw !== undefined) {
    const s = String(sinceRaw);
    if (!/^\d+$/.test(s)) throw badRequest(`since / Last-Event-ID must be an event id, got "${s}"`);
    since = Number(s);
  }
  const types = url.searchParams.get('type')?.split(',').filter(Boolean);
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  const wanted = (e: TypedEvent): boolean => (!types || types.includes(e.type)) && (endpoint === undefined || e.endpoint === endpoint);

  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': lwm2m-fota event stream\n\n');
  streams.add(res);

  let lastSent = since ?? (await events.lastId());
  let replaying = true;
  const pending: TypedEvent[] = [];
  const write = (e: TypedEvent): void => {
    if (e.id <= lastSent) return;
    lastSent = e.id;
    if (!wanted(e)) return;
    res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(eventView(e))}\n\n`);
    if (res.writableLength > SSE_MAX_BUFFERED) res.destroy();
  };
  const unsubscribe = events.subscribe((e) => (replaying ? pending.push(e) : write(e)));
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
  keepAlive.unref();
  const cleanup = (): void => {
    unsubscribe();
    clearInterval(keepAlive);
    streams.delete(res);
  };
  res.on('close', cleanup);

  if (since !== undefined) {
    // Replay in pages until we reach what the live subscription has buffered.
    for (;;) {
      const page = await events.since(lastSent, 1000);
      for (const e of page) write(e);
      if (page.length < 1000 || res.destroyed) break;
    }
  }
  replaying = false;
  for (const e of pending) write(e);
  pending.length = 0;
}
