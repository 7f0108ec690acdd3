import { join } from 'node:path';
import type { IncomingRequest } from '../../../../src/coap/types';
import { EventBus } from '../../../../src/events';
import { RegistrationService } from '../../../../src/lwm2m/server/registration/registration-service';
import { openSqliteStore } from '../../../../src/store';
import type { SqliteStore } from '../../../../src/store';
import { tempDir } from '../../../helpers/tmp';

function request(partial: Partial<IncomingRequest> & Pick<IncomingRequest, 'method' | 'path'>): IncomingRequest {
  return {
    peer: { address: '::ffff:192.0.2.1', port: 40000 },
    query: [],
    contentFormat: 40,
    accept: undefined,
    observe: undefined,
    token: Buffer.alloc(0),
    confirmable: true,
    payload: Buffer.alloc(0),
    options: [],
    block2: undefined,
    block1: undefined,
    ...partial,
  };
}

const LINKS = Buffer.from('</1/0>,</3/0>,</5/0>');

describe('RegistrationService over a real SQLite store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let now: number;
  const clock = { now: () => now };

  beforeEach(() => {
    tmp = tempDir();
    store = openSqliteStore({ file: join(tmp.dir, 'db.sqlite') });
    now = Date.parse('2026-01-01T00:00:00Z');
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  async function start(): Promise<RegistrationService> {
    return RegistrationService.start({ store: store.registrations, events: new EventBus(store.events), clock, sweepIntervalMs: 0 });
  }

  it('registers, answers 2.01 with rd/<id> and has committed the record and its event before answering', async () => {
    const svc = await start();
    const res = await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1', 'lt=60', 'lwm2m=1.1', 'b=U'], payload: LINKS }));
    expect(res.code).toBe('2.01');
    expect(res.locationPath?.[0]).toBe('rd');
    const id = res.locationPath![1]!;
    expect(await store.registrations.getById(id)).toMatchObject({ endpoint: 'dev1', lifetime: 60, lwm2mVersion: '1.1', address: '::ffff:192.0.2.1' });
    const events = await store.events.since(0);
    expect(events.map((e) => e.type)).toEqual(['registered']);
    expect(events[0]!.data).toMatchObject({ registrationId: id });
    svc.close();
  });

  it('re-registration of a known endpoint replaces the old registration', async () => {
    const svc = await start();
    const a = await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS }));
    const b = await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS }));
    const [idA, idB] = [a.locationPath![1]!, b.locationPath![1]!];
    expect(idA).not.toBe(idB);
    expect(svc.getById(idA)).toBeUndefined();
    expect((await svc.handle(request({ method: 'POST', path: ['rd', idA] }))).code).toBe('4.04');
    expect(svc.get('dev1')?.registrationId).toBe(idB);
    expect(await store.registrations.count()).toBe(1);
  });

  it('keeps just the last of registrations of one endpoint committed together, with or without an update in between', async () => {
    const svc = await start();
    const first = (await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS }))).locationPath![1]!;
    // Three registrations and an update of the first id, none awaited before the next: they commit together.
    const answers = await Promise.all([
      svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS })),
      svc.handle(request({ method: 'POST', path: ['rd', first], query: ['lt=77'] })),
      svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS })),
      svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS })),
    ]);
    expect(answers.map((a) => a.code)).toEqual(['2.01', '4.04', '2.01', '2.01']);
    const ids = [first, ...[answers[0]!, answers[2]!, answers[3]!].map((a) => a.locationPath![1]!)];
    const last = ids[3]!;
    expect(svc.get('dev1')?.registrationId).toBe(last);
    // Every earlier id is gone: an update with it is refused and it is not found.
    for (const id of ids.slice(0, 3)) {
      expect(svc.getById(id)).toBeUndefined();
      expect((await svc.handle(request({ method: 'POST', path: ['rd', id] }))).code).toBe('4.04');
    }
    expect((await svc.handle(request({ method: 'POST', path: ['rd', last] }))).code).toBe('2.04');
    expect(svc.count()).toBe(1);
    expect((await store.registrations.get('dev1'))?.registrationId).toBe(last);
    // Then, alone again: a new registration replaces the last one without a second search.
    const next = (await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS }))).locationPath![1]!;
    expect(svc.getById(last)).toBeUndefined();
    expect(svc.getById(next)?.endpoint).toBe('dev1');
  });

  it('forgets nothing about an endpoint whose registration failed to commit', async () => {
    const svc = await start();
    const id = (await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS }))).locationPath![1]!;
    await store.close();
    await expect(svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=dev1'], payload: LINKS }))).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' });
    expect(svc.get('dev1')?.registrationId).toBe(id);
    expect(svc.getById(id)?.endpoint).toBe('dev1');
    store = openSqliteStore({ file: join(tmp.dir, 'db.sqlite') });
  });

  it('update moves the address, changes lifetime and links, and restarts the lifetime', async () => {
    const svc = await start();
    const id = (await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=d', 'lt=10'], payload: LINKS }))).locationPath![1]!;
    now += 9000;
    const res = await svc.handle(
      request({ method: 'POST', path: ['rd', id], query: ['lt=20'], payload: Buffer.from('</1/0>,</3/0>,</5/0>,</4/0>'), peer: { address: '2001:db8::7', port: 5 } }),
    );
    expect(res.code).toBe('2.04');
    const rec = svc.get('d')!;
    expect(rec).toMatchObject({ address: '2001:db8::7', port: 5, lifetime: 20, lastSeen: now });
    expect(rec.links).toContain('</4/0>');
    const ev = (await store.events.since(0)).pop()!;
    expect(ev.type).toBe('updated');
    expect(ev.data).toMatchObject({ address: '2001:db8::7', port: 5, lifetime: 20, objectLinks: ['/1/0', '/3/0', '/5/0', '/4/0'] });
    now += 19_000;
    await svc.sweep();
    expect(svc.get('d')).toBeDefined();
    now += 1001;
    await svc.sweep();
    expect(svc.get('d')).toBeUndefined();
  });

  it('expires a silent device, deletes it from the store and publishes expired', async () => {
    const svc = await start();
    await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=quiet', 'lt=30'], payload: LINKS }));
    await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=chatty', 'lt=300'], payload: LINKS }));
    now += 30_001;
    await svc.sweep();
    expect(svc.get('quiet')).toBeUndefined();
    expect(svc.get('chatty')).toBeDefined();
    expect(await store.registrations.get('quiet')).toBeUndefined();
    const types = (await store.events.since(0)).map((e) => [e.type, e.endpoint]);
    expect(types).toContainEqual(['expired', 'quiet']);
  });

  it('hands out short, unique, time-ordered registration ids', async () => {
    const svc = await start();
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 50 === 0) now += 1;
      const res = await svc.handle(request({ method: 'POST', path: ['rd'], query: [`ep=id-${i}`], payload: LINKS }));
      ids.push(res.locationPath![1]!);
    }
    expect(new Set(ids).size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[-0-9A-Za-z_]{12}$/);
    const prefixes = ids.map((id) => id.slice(0, 8));
    expect([...prefixes].sort()).toEqual(prefixes);
  });

  it('de-registers with 2.02 and 4.04 afterwards', async () => {
    const svc = await start();
    const id = (await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=d'], payload: LINKS }))).locationPath![1]!;
    expect((await svc.handle(request({ method: 'DELETE', path: ['rd', id] }))).code).toBe('2.02');
    expect((await svc.handle(request({ method: 'DELETE', path: ['rd', id] }))).code).toBe('4.04');
    expect(await store.registrations.count()).toBe(0);
  });

  it.each([
    ['missing ep', { query: ['lt=60'] }, '4.00'],
    ['non-numeric lt', { query: ['ep=a', 'lt=soon'] }, '4.00'],
    ['malformed link format', { query: ['ep=a'], payload: Buffer.from('</1/0>;;') }, '4.00'],
    ['links that are not objects', { query: ['ep=a'], payload: Buffer.from('</x/y>') }, '4.00'],
    ['unsupported version', { query: ['ep=a', 'lwm2m=9.9'] }, '4.12'],
    ['wrong content format', { query: ['ep=a'], contentFormat: 0 }, '4.15'],
    ['invalid UTF-8', { query: ['ep=a'], payload: Buffer.from([0x3c, 0xff, 0x3e]) }, '4.00'],
    ['GET on /rd', { method: 'GET' as const }, '4.05'],
  ])('answers %s with %s, a diagnostic, and changes nothing', async (_name, partial, code) => {
    const svc = await start();
    const res = await svc.handle(request({ method: 'POST', path: ['rd'], payload: LINKS, ...partial }));
    expect(res.code).toBe(code);
    expect(res.payload?.toString().length).toBeGreaterThan(5);
    expect(await store.registrations.count()).toBe(0);
    expect(await store.events.lastId()).toBe(0);
  });

  it('answers an update of an unknown registration id with 4.04', async () => {
    const svc = await start();
    const res = await svc.handle(request({ method: 'POST', path: ['rd', 'nope'] }));
    expect(res.code).toBe('4.04');
  });

  it('reloads registrations after a restart and keeps the lifetime running from the last contact', async () => {
    let svc = await start();
    await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=keep', 'lt=100'], payload: LINKS }));
    await svc.handle(request({ method: 'POST', path: ['rd'], query: ['ep=lapse', 'lt=10'], payload: LINKS }));
    svc.close();
    await store.close();
    now += 50_000;
    store = openSqliteStore({ file: join(tmp.dir, 'db.sqlite') });
    svc = await start();
    expect(svc.get('keep')).toBeDefined();
    expect(svc.get('lapse')).toBeUndefined();
    expect(svc.expiresAt(svc.get('keep')!)).toBe(now - 50_000 + 100_000);
    expect((await store.events.since(0)).map((e) => e.type)).toEqual(['registered', 'registered', 'expired']);
  });
});
