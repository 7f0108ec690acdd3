import { join } from 'node:path';
import { statSync } from 'node:fs';
import { createApiServer, type ApiServer } from '../../src/api/api-server';
import { loadOrCreateToken } from '../../src/api/token';
import type { IncomingRequest } from '../../src/coap/types';
import { EventBus } from '../../src/events';
import { RegistrationService } from '../../src/lwm2m/server/registration/registration-service';
import { openSqliteStore, type SqliteStore } from '../../src/store';
import { tempDir } from '../helpers/tmp';

function register(svc: RegistrationService, ep: string): Promise<unknown> {
  const req: IncomingRequest = {
    peer: { address: '::ffff:127.0.0.1', port: 40001 },
    method: 'POST',
    path: ['rd'],
    query: [`ep=${ep}`, 'lt=300', 'lwm2m=1.1', 'b=U'],
    contentFormat: 40,
    accept: undefined,
    observe: undefined,
    token: Buffer.alloc(0),
    confirmable: true,
    payload: Buffer.from('</1/0>,</3/0>,</5/0>'),
    options: [],
    block2: undefined,
    block1: undefined,
  };
  return svc.handle(req);
}

/** Reads SSE frames until `count` events arrived or the deadline passed. */
async function readEvents(res: Response, count: number, ms = 5000): Promise<Array<{ id: number; event: string; data: { endpoint?: string } }>> {
  const out: Array<{ id: number; event: string; data: { endpoint?: string } }> = [];
  const reader = res.body!.getReader();
  const deadline = setTimeout(() => void reader.cancel(), ms);
  let buf = '';
  try {
    while (out.length < count) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += Buffer.from(value).toString();
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f: Record<string, string> = {};
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) continue;
          const c = line.indexOf(': ');
          f[line.slice(0, c)] = line.slice(c + 2);
        }
        if (f.id) out.push({ id: Number(f.id), event: f.event!, data: JSON.parse(f.data!) });
      }
    }
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => {});
  }
  return out;
}

describe('REST API', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let svc: RegistrationService;
  let api: ApiServer;
  let base: string;
  let token: string;

  beforeEach(async () => {
    tmp = tempDir();
    store = openSqliteStore({ file: join(tmp.dir, 'db.sqlite') });
    const events = new EventBus(store.events);
    svc = await RegistrationService.start({ store: store.registrations, events, sweepIntervalMs: 0 });
    token = loadOrCreateToken(tmp.dir, {});
    api = await createApiServer({ host: '127.0.0.1', port: 0, token, registrations: svc, events });
    base = `http://127.0.0.1:${api.address().port}`;
  });
  afterEach(async () => {
    await api.close();
    svc.close();
    await store.close();
    tmp.remove();
  });

  const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }): Promise<Response> => fetch(base + path, { headers });

  it('creates a random token file with mode 0600 and reuses it', () => {
    expect(token.length).toBeGreaterThanOrEqual(40);
    expect(statSync(join(tmp.dir, 'api-token')).mode & 0o777).toBe(0o600);
    expect(loadOrCreateToken(tmp.dir, {})).toBe(token);
    expect(loadOrCreateToken(tmp.dir, { LWM2M_FOTA_TOKEN: 'from-env' })).toBe('from-env');
  });

  it.each(['/api/devices', '/api/devices/x', '/api/events', '/api/nothing'])('answers 401 with a JSON error to %s without the token', async (path) => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: token }]) {
      const res = await get(path, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'ERR_API_UNAUTHORIZED', message: expect.any(String) } });
    }
  });

  it('lists and shows registered devices with the stable schema', async () => {
    await register(svc, 'b-dev');
    await register(svc, 'a-dev');
    const list = (await (await get('/api/devices')).json()) as { devices: Array<Record<string, unknown>> };
    expect(list.devices.map((d) => d.endpoint)).toEqual(['a-dev', 'b-dev']);
    const one = (await (await get('/api/devices/a-dev')).json()) as Record<string, unknown>;
    expect(one).toMatchObject({
      endpoint: 'a-dev',
      registrationId: expect.any(String),
      address: '127.0.0.1',
      port: 40001,
      lifetime: 300,
      lwm2mVersion: '1.1',
      binding: 'U',
      objectLinks: ['/1/0', '/3/0', '/5/0'],
      registeredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      lastSeen: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('answers an unknown device, an unknown route and a wrong method with JSON errors', async () => {
    const r1 = await get('/api/devices/ghost');
    expect(r1.status).toBe(404);
    expect(((await r1.json()) as { error: { code: string } }).error.code).toBe('ERR_LWM2M_NOT_REGISTERED');
    const r2 = await get('/api/nope');
    expect(r2.status).toBe(404);
    const r3 = await fetch(base + '/api/devices', { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(r3.status).toBe(405);
    expect(((await r3.json()) as { error: { code: string } }).error.code).toBe('ERR_API_BAD_REQUEST');
    const r4 = await get('/api/devices/%E0%A4%A');
    expect(r4.status).toBe(400);
  });

  it('streams events live and replays from Last-Event-ID', async () => {
    await register(svc, 'first');
    const live = await get('/api/events');
    expect(live.headers.get('content-type')).toMatch(/text\/event-stream/);
    const pending = readEvents(live, 1);
    await new Promise((r) => setTimeout(r, 50));
    await register(svc, 'second');
    const got = await pending;
    expect(got.map((e) => [e.event, e.data.endpoint])).toEqual([['registered', 'second']]);

    const replay = await get('/api/events', { authorization: `Bearer ${token}`, 'last-event-id': '0' });
    const all = await readEvents(replay, 2);
    expect(all.map((e) => e.data.endpoint)).toEqual(['first', 'second']);
    expect(all[0]!.id).toBeLessThan(all[1]!.id);

    const bad = await get('/api/events?since=abc');
    expect(bad.status).toBe(400);
  });

  it('filters the stream by endpoint', async () => {
    const res = await get('/api/events?since=0&endpoint=wanted');
    const pending = readEvents(res, 1);
    await register(svc, 'other');
    await register(svc, 'wanted');
    expect((await pending).map((e) => e.data.endpoint)).toEqual(['wanted']);
  });
});
