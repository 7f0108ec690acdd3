import { join } from 'node:path';
import { Lwm2mFotaError } from '../../../../src/errors';
import { EventBus } from '../../../../src/events';
import type { ResponseJson } from '../../../../src/lwm2m/server/requests/json';
import { AwakeTracker, RequestQueue } from '../../../../src/lwm2m/server/requests/request-queue';
import { openSqliteStore, type DeviceRequestRecord, type SqliteStore } from '../../../../src/store';
import { tempDir } from '../../../helpers/tmp';

describe('the request queue of sleeping devices', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let events: EventBus;
  let sent: string[];
  let behaviour: (rec: DeviceRequestRecord) => Promise<Record<string, unknown>>;

  const open = (): SqliteStore => openSqliteStore({ file: join(tmp.dir, 'q.sqlite'), synchronous: 'NORMAL' });
  const queue = (maxAttempts = 3): RequestQueue =>
    new RequestQueue({
      store: store.requests,
      events,
      maxAttempts,
      send: (rec) => {
        sent.push(`${rec.endpoint}:${String(rec.request.n)}`);
        // The fakes answer with bare objects; the queue passes the answer on untouched.
        return behaviour(rec) as unknown as Promise<ResponseJson>;
      },
    });

  beforeEach(() => {
    tmp = tempDir();
    store = open();
    events = new EventBus(store.events);
    sent = [];
    behaviour = async (rec) => ({ code: '2.05', n: rec.request.n });
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  it('delivers each endpoint\'s requests in the order they were queued, one at a time', async () => {
    const q = queue();
    for (let n = 0; n < 5; n++) await q.enqueue('a', { operation: 'read', n });
    await q.enqueue('b', { operation: 'read', n: 0 });
    let inFlight = 0;
    let most = 0;
    behaviour = async (rec) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return { n: rec.request.n };
    };
    // Two wake-ups at once must not interleave or duplicate.
    await Promise.all([q.flush('a'), q.flush('a')]);
    expect(sent).toEqual(['a:0', 'a:1', 'a:2', 'a:3', 'a:4']);
    expect(most).toBe(1);
    expect(q.hasPending('a')).toBe(false);
    expect(q.hasPending('b')).toBe(true);
    const done = await store.requests.listByEndpoint('a');
    expect(done.map((r) => [r.request.n, r.state, r.result])).toEqual([4, 3, 2, 1, 0].map((n) => [n, 'completed', { n }]));
    const types = (await events.since(0)).map((e) => `${e.type}:${e.endpoint}:${String((e.type === 'requestCompleted' ? (e.data.result as { n?: number }) : undefined)?.n ?? '')}`);
    expect(types.filter((t) => t.startsWith('requestCompleted'))).toEqual(['requestCompleted:a:0', 'requestCompleted:a:1', 'requestCompleted:a:2', 'requestCompleted:a:3', 'requestCompleted:a:4']);
  });

  it('stops at the first request the device does not answer and keeps it (and those behind it) queued', async () => {
    const q = queue();
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await q.enqueue('a', { operation: 'read', n })).id);
    behaviour = async (rec) => {
      if (rec.request.n === 1) throw new Lwm2mFotaError('ERR_LWM2M_NO_RESPONSE', 'asleep again');
      return {};
    };
    await q.flush('a');
    expect(sent).toEqual(['a:0', 'a:1']);
    const pending = await store.requests.listPending('a');
    expect(pending.map((r) => [r.id, r.state, r.attempts])).toEqual([
      [ids[1], 'queued', 1],
      [ids[2], 'queued', 0],
    ]);
    behaviour = async () => ({});
    await q.flush('a');
    expect(sent).toEqual(['a:0', 'a:1', 'a:1', 'a:2']);
  });

  it('fails a request after maxAttempts unanswered deliveries, and one that can never be sent at once', async () => {
    const q = queue(2);
    const never = await q.enqueue('a', { operation: 'read', n: 0 });
    const broken = await q.enqueue('a', { operation: 'read', n: 1 });
    const finished = Promise.all([q.whenFinished(never.id), q.whenFinished(broken.id)]);
    behaviour = async (rec) => {
      if (rec.request.n === 0) throw new Lwm2mFotaError('ERR_LWM2M_NO_RESPONSE', 'silence');
      throw new Lwm2mFotaError('ERR_LWM2M_PATH', 'no such path in the model');
    };
    await q.flush('a');
    expect((await store.requests.get(never.id))?.state).toBe('queued');
    await q.flush('a');
    expect((await store.requests.get(never.id))?.state).toBe('failed');
    // The device went silent again: the next request waits for the next wake-up.
    expect((await store.requests.get(broken.id))?.state).toBe('queued');
    await q.flush('a');
    const [a, b] = await finished;
    expect(a).toMatchObject({ state: 'failed', attempts: 2, error: { code: 'ERR_LWM2M_NO_RESPONSE' } });
    expect(b).toMatchObject({ state: 'failed', error: { code: 'ERR_LWM2M_PATH', message: 'no such path in the model' } });
    expect((await events.since(0)).filter((e) => e.type === 'requestFailed').map((e) => e.data.requestId)).toEqual([never.id, broken.id]);
  });

  it('cancels a request that has not gone out, and refuses to cancel a finished one', async () => {
    const q = queue();
    const a = await q.enqueue('a', { operation: 'read', n: 0 });
    const b = await q.enqueue('a', { operation: 'read', n: 1 });
    const waiting = q.whenFinished(a.id);
    expect((await q.cancel(a.id)).state).toBe('cancelled');
    expect((await waiting).state).toBe('cancelled');
    await q.flush('a');
    expect(sent).toEqual(['a:1']);
    await expect(q.cancel(b.id)).rejects.toMatchObject({ code: 'ERR_API_CONFLICT' });
    await expect(q.cancel('nope')).rejects.toMatchObject({ code: 'ERR_LWM2M_REQUEST_NOT_FOUND' });
    expect((await q.whenFinished(b.id)).state).toBe('completed');
  });

  it('survives a restart: the order stays, a request that was on the wire goes out again', async () => {
    const q = queue();
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await q.enqueue('a', { operation: 'read', n })).id);
    // The server dies while the first request is on the wire.
    const first = (await store.requests.listPending('a'))[0] as DeviceRequestRecord;
    await store.requests.put({ ...first, state: 'sending' });
    await store.close();
    store = open();
    events = new EventBus(store.events);
    const q2 = queue();
    await q2.recover();
    expect(q2.hasPending('a')).toBe(true);
    expect((await store.requests.listPending('a')).map((r) => [r.id, r.state])).toEqual(ids.map((id) => [id, 'queued']));
    await q2.flush('a');
    expect(sent).toEqual(['a:0', 'a:1', 'a:2']);
  });

  it('keeps a request\'s place when it is put again, and refuses an id of another endpoint', async () => {
    const q = queue();
    const a = await q.enqueue('a', { operation: 'read', n: 0 });
    await q.enqueue('a', { operation: 'read', n: 1 });
    await store.requests.put({ ...a, attempts: 2, updatedAt: a.updatedAt + 1 });
    expect((await store.requests.listPending('a')).map((r) => r.request.n)).toEqual([0, 1]);
    await expect(store.requests.put({ ...a, endpoint: 'b' })).rejects.toMatchObject({ code: 'ERR_STORE_WRITE' });
    await expect(store.requests.put({ ...a, state: 'weird' as never })).rejects.toMatchObject({ code: 'ERR_STORE_WRITE' });
    expect(await store.requests.pendingEndpoints()).toEqual(['a']);
  });
});

describe('the awake window of queue-mode devices', () => {
  it('is open for windowMs after the last contact, the registration\'s lastSeen included', () => {
    let now = 10_000;
    const t = new AwakeTracker(1000, () => now);
    expect(t.isAwake('d')).toBe(false);
    expect(t.isAwake('d', 9_500)).toBe(true);
    now = 10_600;
    expect(t.isAwake('d', 9_500)).toBe(false);
    t.touch('d');
    now = 11_500;
    expect(t.isAwake('d', 9_500)).toBe(true);
    t.touch('d', 5_000); // an older contact never moves it back
    expect(t.lastContact('d')).toBe(10_600);
    t.forget('d');
    expect(t.isAwake('d')).toBe(false);
  });
});

describe('the observation store', () => {
  it('keeps observations by token, lists them per endpoint, and deletes them', async () => {
    const tmp = tempDir();
    const store = openSqliteStore({ file: join(tmp.dir, 'o.sqlite') });
    try {
      const rec = { token: '0a0b', endpoint: 'a', registrationId: 'r1', kind: 'single' as const, paths: ['/3/0/9'], format: 0, createdAt: 1 };
      await store.observations.put(rec);
      await store.observations.put({ ...rec, token: '0c', kind: 'composite', paths: ['/3/0/9', '/1/0/1'], createdAt: 2 });
      await store.observations.put({ ...rec, token: 'ff', endpoint: 'b', createdAt: 3 });
      const { format: _f, ...noFormat } = rec;
      await store.observations.put({ ...noFormat, token: '01', endpoint: 'c' });
      expect(await store.observations.get('0a0b')).toEqual(rec);
      expect((await store.observations.get('01'))?.format).toBeUndefined();
      expect((await store.observations.listByEndpoint('a')).map((o) => o.token)).toEqual(['0a0b', '0c']);
      expect(await store.observations.deleteByEndpoint('a')).toBe(2);
      expect(await store.observations.delete('ff')).toBe(true);
      expect(await store.observations.delete('ff')).toBe(false);
      expect((await store.observations.list()).map((o) => o.token)).toEqual(['01']);
      await expect(store.observations.put({ ...rec, token: 'XYZ' })).rejects.toMatchObject({ code: 'ERR_STORE_WRITE' });
      await expect(store.observations.put({ ...rec, paths: ['/1', '/2'] })).rejects.toMatchObject({ code: 'ERR_STORE_WRITE' });
    } finally {
      await store.close();
      tmp.remove();
    }
  });
});
