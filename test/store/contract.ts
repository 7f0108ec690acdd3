/**
 * The contract every `Store` backend passes. A backend's test file calls
 * `storeContract('name', (dir) => openMyStore(dir))`; `dir` is a fresh, empty directory
 * per test that the backend may keep its files in, and that survives `close()` so that
 * reopening the same directory must find everything again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isLwm2mFotaError } from '../../src/errors';
import type { RegistrationRecord, Store, UpdateJobRecord } from '../../src/store';

export type OpenStore = (dir: string) => Promise<Store> | Store;

/** A valid registration for `endpoint`; `overrides` replace fields. */
export function registration(endpoint: string, overrides: Partial<RegistrationRecord> = {}): RegistrationRecord {
  return {
    registrationId: `id-${endpoint}`,
    endpoint,
    address: '::ffff:192.0.2.1',
    port: 5683,
    lifetime: 86400,
    lwm2mVersion: '1.1',
    binding: 'U',
    queueMode: false,
    links: '</1/0>,</3/0>,</5/0>',
    registeredAt: 1_700_000_000_000,
    lastSeen: 1_700_000_000_000,
    ...overrides,
  };
}

/** A valid active update job `id` for `endpoint`; `overrides` replace fields. */
export function updateJob(id: string, endpoint: string, overrides: Partial<UpdateJobRecord> = {}): UpdateJobRecord {
  return {
    id,
    endpoint,
    firmwareId: 'a'.repeat(64),
    expectedVersion: '2.0.0',
    payloadOnly: false,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    state: { value: 'queued', attempt: 1, probing: true, device: {} },
    history: [{ at: 1_700_000_000_000, attempt: 1, state: 'queued', input: 'created' }],
    ...overrides,
  };
}

/** The job as finished: a terminal state and finishedAt. */
export function finished(job: UpdateJobRecord, at = job.updatedAt + 1000): UpdateJobRecord {
  return { ...job, updatedAt: at, finishedAt: at, state: { value: 'succeeded', attempt: 1, version: '2.0.0', updateResult: 1 } };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return undefined;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeDefined();
  expect(isLwm2mFotaError(caught) ? caught.code : caught).toBe(code);
}

export function storeContract(name: string, open: OpenStore): void {
  describe(`${name} store contract`, () => {
    let dir: string;
    let store: Store;
    const opened: Store[] = [];

    const openStore = async (): Promise<Store> => {
      const s = await open(dir);
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lwm2m-fota-store-'));
      store = await openStore();
    });

    afterEach(async () => {
      // Tests close stores themselves too; a second close must not hide the cleanup.
      for (const s of opened.splice(0)) await s.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });

    describe('registrations', () => {
      it('returns a stored registration by endpoint and by registration id', async () => {
        const rec = registration('dev-1', { smsNumber: '+15550100', queueMode: true, binding: 'UQ' });
        await store.registrations.put(rec);
        expect(await store.registrations.get('dev-1')).toEqual(rec);
        expect(await store.registrations.getById('id-dev-1')).toEqual(rec);
      });

      it('keeps every field, and leaves smsNumber absent when it was absent', async () => {
        const rec = registration('dev-2', { address: '2001:db8::1', port: 61616, lifetime: 0, lwm2mVersion: '1.2', links: '' });
        await store.registrations.put(rec);
        const got = await store.registrations.get('dev-2');
        expect(got).toEqual(rec);
        expect(got !== undefined && 'smsNumber' in got).toBe(false);
      });

      it('answers undefined for an unknown endpoint or registration id', async () => {
        expect(await store.registrations.get('nobody')).toBeUndefined();
        expect(await store.registrations.getById('nothing')).toBeUndefined();
      });

      it('lists every registration in endpoint order and counts them', async () => {
        for (const ep of ['c', 'a', 'b10', 'b2']) await store.registrations.put(registration(ep));
        expect((await store.registrations.list()).map((r) => r.endpoint)).toEqual(['a', 'b10', 'b2', 'c']);
        expect(await store.registrations.count()).toBe(4);
      });

      it('lists nothing and counts 0 when empty', async () => {
        expect(await store.registrations.list()).toEqual([]);
        expect(await store.registrations.count()).toBe(0);
      });

      it('replaces the registration of an endpoint that registers again', async () => {
        await store.registrations.put(registration('dev-1', { registrationId: 'old' }));
        const again = registration('dev-1', { registrationId: 'new', port: 40000, lastSeen: 1_700_000_100_000 });
        await store.registrations.put(again);
        expect(await store.registrations.get('dev-1')).toEqual(again);
        expect(await store.registrations.getById('new')).toEqual(again);
        expect(await store.registrations.getById('old')).toBeUndefined();
        expect(await store.registrations.count()).toBe(1);
      });

      it('updates a registration in place when it keeps its registration id (an LwM2M Update)', async () => {
        await store.registrations.put(registration('dev-1'));
        const updated = registration('dev-1', { lifetime: 60, lastSeen: 1_700_000_060_000, address: '::ffff:192.0.2.99' });
        await store.registrations.put(updated);
        expect(await store.registrations.getById('id-dev-1')).toEqual(updated);
        expect(await store.registrations.count()).toBe(1);
      });

      it('deletes a registration and says whether there was one', async () => {
        await store.registrations.put(registration('dev-1'));
        await store.registrations.put(registration('dev-2'));
        expect(await store.registrations.delete('dev-1')).toBe(true);
        expect(await store.registrations.delete('dev-1')).toBe(false);
        expect(await store.registrations.delete('never')).toBe(false);
        expect(await store.registrations.get('dev-1')).toBeUndefined();
        expect(await store.registrations.getById('id-dev-1')).toBeUndefined();
        expect((await store.registrations.list()).map((r) => r.endpoint)).toEqual(['dev-2']);
        expect(await store.registrations.count()).toBe(1);
      });

      it('applies writes issued together in the order they were issued', async () => {
        const results = await Promise.all([
          store.registrations.put(registration('dev-1', { registrationId: 'r1' })),
          store.registrations.delete('dev-1'),
          store.registrations.put(registration('dev-1', { registrationId: 'r2' })),
        ]);
        expect(results[1]).toBe(true);
        expect((await store.registrations.get('dev-1'))?.registrationId).toBe('r2');
      });

      it('rejects a registration whose id belongs to another endpoint with ERR_STORE_WRITE', async () => {
        await store.registrations.put(registration('dev-1', { registrationId: 'same' }));
        await expectCode(store.registrations.put(registration('dev-2', { registrationId: 'same' })), 'ERR_STORE_WRITE');
        expect(await store.registrations.get('dev-2')).toBeUndefined();
        expect((await store.registrations.getById('same'))?.endpoint).toBe('dev-1');
      });

      it('stores a registration with its event (putWithEvent) and resolves with the stored event', async () => {
        const before = await store.events.append({ type: 'marker' });
        const rec = registration('dev-1');
        const event = await store.registrations.putWithEvent(rec, { type: 'registered', endpoint: 'dev-1', time: 5, data: { registrationId: 'id-dev-1' } });
        expect(event).toEqual({ id: expect.any(Number), type: 'registered', endpoint: 'dev-1', time: 5, data: { registrationId: 'id-dev-1' } });
        expect(event.id).toBeGreaterThan(before.id);
        expect(await store.registrations.get('dev-1')).toEqual(rec);
        expect(await store.events.since(before.id)).toEqual([event]);
      });

      it('stores neither the registration nor its event when one of them cannot be stored', async () => {
        await store.registrations.put(registration('dev-1', { registrationId: 'same' }));
        const bad = { ...registration('dev-2'), lifetime: -1 };
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        await expectCode(store.registrations.putWithEvent(bad, { type: 'registered', endpoint: 'dev-2' }), 'ERR_STORE_WRITE');
        await expectCode(store.registrations.putWithEvent(registration('dev-2'), { type: 'registered', data: circular }), 'ERR_STORE_WRITE');
        await expectCode(store.registrations.putWithEvent(registration('dev-2'), { type: '' }), 'ERR_STORE_WRITE');
        // The id belongs to dev-1: refused when committed, and the event goes with it.
        await expectCode(store.registrations.putWithEvent(registration('dev-2', { registrationId: 'same' }), { type: 'registered', endpoint: 'dev-2' }), 'ERR_STORE_WRITE');
        expect(await store.registrations.get('dev-2')).toBeUndefined();
        expect(await store.registrations.count()).toBe(1);
        expect(await store.events.since(0)).toEqual([]);
      });

      it('rejects a malformed registration with ERR_STORE_WRITE and stores nothing', async () => {
        const bad = { ...registration('dev-1'), port: 'x' } as unknown as RegistrationRecord;
        await expectCode(store.registrations.put(bad), 'ERR_STORE_WRITE');
        expect(await store.registrations.count()).toBe(0);
      });
    });

    describe('update jobs', () => {
      it('returns a stored job by id with every field, optional ones absent when absent', async () => {
        const full = updateJob('job-1', 'dev-1', {
          method: 'push',
          payloadOnly: true,
          packageUris: { coap: 'coap://[2001:db8::1]/fw/abc', coaps: 'coaps://[2001:db8::1]/fw/abc' },
          state: { value: 'delivering', attempt: 2, method: 'push', bytes: 4096, timer: { name: 'delivery', at: 1_700_000_600_000 }, device: { state: 1 } },
        });
        const plain = updateJob('job-2', 'dev-2');
        await Promise.all([store.jobs.put(full), store.jobs.put(plain)]);
        expect(await store.jobs.get('job-1')).toEqual(full);
        const got = await store.jobs.get('job-2');
        expect(got).toEqual(plain);
        expect(got !== undefined && ('method' in got || 'packageUris' in got || 'finishedAt' in got)).toBe(false);
        expect(await store.jobs.get('nope')).toBeUndefined();
      });

      it('replaces a job with the same id (its state and history move on)', async () => {
        const j = updateJob('job-1', 'dev-1');
        await store.jobs.put(j);
        const moved = {
          ...j,
          updatedAt: j.updatedAt + 5,
          state: { value: 'updating', attempt: 1, executionId: 'job-1#1', updateSentAt: j.updatedAt + 5 },
          history: [...j.history, { at: j.updatedAt + 5, attempt: 1, state: 'updating', input: 'stateObserved 2 (Downloaded)' }],
        };
        await store.jobs.put(moved);
        expect(await store.jobs.get('job-1')).toEqual(moved);
        expect(await store.jobs.listRecent()).toHaveLength(1);
      });

      it('finds the active job of an endpoint, and none once it finished', async () => {
        const j = updateJob('job-1', 'dev-1');
        await store.jobs.put(j);
        expect(await store.jobs.getActiveByEndpoint('dev-1')).toEqual(j);
        expect(await store.jobs.getActiveByEndpoint('dev-2')).toBeUndefined();
        await store.jobs.put(finished(j));
        expect(await store.jobs.getActiveByEndpoint('dev-1')).toBeUndefined();
        expect((await store.jobs.get('job-1'))?.finishedAt).toBe(j.updatedAt + 1000);
      });

      it('refuses a second active job for an endpoint with ERR_STORE_WRITE, alone, and keeps the first', async () => {
        const first = updateJob('job-1', 'dev-1');
        await store.jobs.put(first);
        const batch = [
          store.registrations.put(registration('dev-1')),
          store.jobs.put(updateJob('job-2', 'dev-1', { createdAt: first.createdAt + 1 })),
          store.jobs.put(updateJob('job-3', 'dev-3')),
          store.events.append({ type: 'updateQueued', endpoint: 'dev-3' }),
        ];
        const [reg, second, third, appended] = await Promise.all(batch.map(errorOf));
        expect(isLwm2mFotaError(second, 'ERR_STORE_WRITE')).toBe(true);
        expect(isLwm2mFotaError(second) ? second.context['reason'] : undefined).toBe('activeJobExists');
        expect([reg, third, appended]).toEqual([undefined, undefined, undefined]);
        expect(await store.jobs.get('job-2')).toBeUndefined();
        expect(await store.jobs.getActiveByEndpoint('dev-1')).toEqual(first);
        expect((await store.jobs.get('job-3'))?.endpoint).toBe('dev-3');
        expect(await store.registrations.get('dev-1')).toEqual(registration('dev-1'));
        expect(await store.events.lastId()).toBeGreaterThan(0);
      });

      it('refuses to make a finished job active again while another job is active', async () => {
        const old = finished(updateJob('job-1', 'dev-1'));
        const current = updateJob('job-2', 'dev-1', { createdAt: old.createdAt + 10 });
        await store.jobs.put(old);
        await store.jobs.put(current);
        const { finishedAt: _f, ...reopened } = old;
        await expectCode(store.jobs.put(reopened), 'ERR_STORE_WRITE');
        expect(await store.jobs.get('job-1')).toEqual(old);
      });

      it('takes a new job for an endpoint once the previous one finished, and keeps both', async () => {
        const a = updateJob('job-a', 'dev-1');
        await store.jobs.put(a);
        await store.jobs.put(finished(a));
        const b = updateJob('job-b', 'dev-1', { createdAt: a.createdAt + 5000, updatedAt: a.createdAt + 5000 });
        await store.jobs.put(b);
        expect(await store.jobs.getActiveByEndpoint('dev-1')).toEqual(b);
        expect((await store.jobs.listByEndpoint('dev-1')).map((j) => j.id)).toEqual(['job-b', 'job-a']);
      });

      it('never moves a job to another endpoint', async () => {
        await store.jobs.put(updateJob('job-1', 'dev-1'));
        await expectCode(store.jobs.put(updateJob('job-1', 'dev-2')), 'ERR_STORE_WRITE');
        expect((await store.jobs.get('job-1'))?.endpoint).toBe('dev-1');
        expect(await store.jobs.getActiveByEndpoint('dev-2')).toBeUndefined();
      });

      it('lists active jobs oldest first, and jobs newest first by endpoint and overall, at most limit', async () => {
        const jobs = [
          updateJob('j1', 'dev-1', { createdAt: 1000 }),
          finished(updateJob('j2', 'dev-2', { createdAt: 2000 })),
          updateJob('j3', 'dev-2', { createdAt: 3000 }),
          updateJob('j4', 'dev-3', { createdAt: 500 }),
          finished(updateJob('j5', 'dev-1', { createdAt: 100 })),
        ];
        for (const j of jobs) await store.jobs.put(j);
        expect((await store.jobs.listActive()).map((j) => j.id)).toEqual(['j4', 'j1', 'j3']);
        expect((await store.jobs.listByEndpoint('dev-2')).map((j) => j.id)).toEqual(['j3', 'j2']);
        expect((await store.jobs.listByEndpoint('dev-1', 1)).map((j) => j.id)).toEqual(['j1']);
        expect(await store.jobs.listByEndpoint('nobody')).toEqual([]);
        expect((await store.jobs.listRecent()).map((j) => j.id)).toEqual(['j3', 'j2', 'j1', 'j4', 'j5']);
        expect((await store.jobs.listRecent(2)).map((j) => j.id)).toEqual(['j3', 'j2']);
        expect(await store.jobs.listRecent(0)).toEqual([]);
      });

      it('rejects a malformed job or one that is not JSON with ERR_STORE_WRITE, and stores nothing', async () => {
        const circular: Record<string, unknown> = { value: 'queued' };
        circular['self'] = circular;
        await expectCode(store.jobs.put({ ...updateJob('j', 'dev-1'), state: circular as UpdateJobRecord['state'] }), 'ERR_STORE_WRITE');
        await expectCode(store.jobs.put({ ...updateJob('j', 'dev-1'), createdAt: 'now' } as unknown as UpdateJobRecord), 'ERR_STORE_WRITE');
        await expectCode(store.jobs.put({ ...updateJob('j', 'dev-1'), state: {} } as unknown as UpdateJobRecord), 'ERR_STORE_WRITE');
        await expectCode(store.jobs.put({ ...updateJob('j', ''), endpoint: '' }), 'ERR_STORE_WRITE');
        await expectCode(store.jobs.put({ ...updateJob('j', 'dev-1'), method: 'carrier-pigeon' } as unknown as UpdateJobRecord), 'ERR_STORE_WRITE');
        expect(await store.jobs.listRecent()).toEqual([]);
      });

      it('stores what the job was when put, not what it became afterwards', async () => {
        const history: object[] = [{ at: 1, attempt: 1, state: 'queued', input: 'created' }];
        const j = updateJob('job-1', 'dev-1', { history });
        const put = store.jobs.put(j);
        history.push({ at: 2, attempt: 1, state: 'queued', input: 'mutated' });
        await put;
        expect((await store.jobs.get('job-1'))?.history).toHaveLength(1);
      });

      it('keeps every job, active and finished, when the same directory is opened again', async () => {
        const active = Array.from({ length: 10 }, (_, i) => updateJob(`job-${i}`, `dev-${i}`, { createdAt: 1000 + i }));
        const done = Array.from({ length: 5 }, (_, i) => finished(updateJob(`old-${i}`, `dev-${i}`, { createdAt: i })));
        await Promise.all([...active, ...done].map((j) => store.jobs.put(j)));
        await store.close();

        const again = await openStore();
        expect(await again.jobs.listActive()).toEqual(active);
        expect(await again.jobs.get('old-3')).toEqual(done[3]);
        expect(await again.jobs.getActiveByEndpoint('dev-4')).toEqual(active[4]);
        await expectCode(again.jobs.put(updateJob('dup', 'dev-4')), 'ERR_STORE_WRITE');
      });
    });

    describe('events', () => {
      it('appends events with strictly increasing ids and reads them back in order', async () => {
        const a = await store.events.append({ type: 'registered', endpoint: 'dev-1', data: { lifetime: 60 }, time: 1000 });
        const b = await store.events.append({ type: 'updated', endpoint: 'dev-1', time: 2000 });
        const c = await store.events.append({ type: 'campaignPaused', data: { nested: { n: [1, 'two', null] } } });
        expect(b.id).toBeGreaterThan(a.id);
        expect(c.id).toBeGreaterThan(b.id);
        expect(a).toEqual({ id: a.id, type: 'registered', endpoint: 'dev-1', data: { lifetime: 60 }, time: 1000 });
        expect(typeof c.time).toBe('number');
        const all = await store.events.since(0);
        expect(all).toEqual([
          a,
          { id: b.id, type: 'updated', endpoint: 'dev-1', data: {}, time: 2000 },
          { id: c.id, type: 'campaignPaused', endpoint: undefined, data: { nested: { n: [1, 'two', null] } }, time: c.time },
        ]);
      });

      it('fills in the time when it is absent', async () => {
        const before = Date.now();
        const e = await store.events.append({ type: 'registered' });
        expect(e.time).toBeGreaterThanOrEqual(before);
        expect(e.time).toBeLessThanOrEqual(Date.now());
      });

      it('returns the events after an id, at most limit, oldest first', async () => {
        const ids: number[] = [];
        for (let i = 0; i < 10; i++) ids.push((await store.events.append({ type: 'updated', data: { i } })).id);
        const third = ids[2] as number;
        expect((await store.events.since(third, 3)).map((e) => e.id)).toEqual(ids.slice(3, 6));
        expect((await store.events.since(third)).map((e) => e.data['i'])).toEqual([3, 4, 5, 6, 7, 8, 9]);
        expect(await store.events.since(ids[9] as number)).toEqual([]);
        expect(await store.events.since(0, 0)).toEqual([]);
        expect(await store.events.since(0, Number.POSITIVE_INFINITY)).toHaveLength(10);
      });

      it('limits since() to 1000 events by default', async () => {
        await Promise.all(Array.from({ length: 1005 }, (_, i) => store.events.append({ type: 'updated', data: { i } })));
        const page = await store.events.since(0);
        expect(page).toHaveLength(1000);
        expect(page[999]?.data['i']).toBe(999);
      });

      it('reports the id of the newest event, 0 when there is none', async () => {
        expect(await store.events.lastId()).toBe(0);
        await store.events.append({ type: 'registered' });
        const last = await store.events.append({ type: 'deregistered' });
        expect(await store.events.lastId()).toBe(last.id);
      });

      it('rejects data that cannot be stored as JSON with ERR_STORE_WRITE, alone', async () => {
        const circular: Record<string, unknown> = {};
        circular['self'] = circular;
        const good = store.events.append({ type: 'registered' });
        await expectCode(store.events.append({ type: 'updated', data: circular }), 'ERR_STORE_WRITE');
        await expect(good).resolves.toMatchObject({ type: 'registered' });
        expect(await store.events.since(0)).toHaveLength(1);
      });
    });

    describe('concurrency', () => {
      it('resolves 1000 puts issued without awaiting, and all of them are readable', async () => {
        const puts: Promise<void>[] = [];
        for (let i = 0; i < 1000; i++) puts.push(store.registrations.put(registration(`ep-${String(i).padStart(4, '0')}`)));
        await Promise.all(puts);
        expect(await store.registrations.count()).toBe(1000);
        const list = await store.registrations.list();
        expect(list.map((r) => r.endpoint)).toEqual(Array.from({ length: 1000 }, (_, i) => `ep-${String(i).padStart(4, '0')}`));
        for (let i = 0; i < 1000; i += 97) {
          expect((await store.registrations.getById(`id-ep-${String(i).padStart(4, '0')}`))?.endpoint).toBe(`ep-${String(i).padStart(4, '0')}`);
        }
      });

      it('gives concurrent appends distinct, increasing ids in issue order', async () => {
        const events = await Promise.all(Array.from({ length: 500 }, (_, i) => store.events.append({ type: 'updated', data: { i } })));
        for (let i = 1; i < events.length; i++) expect((events[i] as { id: number }).id).toBeGreaterThan((events[i - 1] as { id: number }).id);
        expect(await store.events.lastId()).toBe(events[499]?.id);
      });

      it('sees a write in a read issued after the write resolved', async () => {
        for (let i = 0; i < 50; i++) {
          await store.registrations.put(registration(`seq-${i}`));
          expect(await store.registrations.count()).toBe(i + 1);
          const e = await store.events.append({ type: 'registered', endpoint: `seq-${i}` });
          expect(await store.events.lastId()).toBe(e.id);
        }
      });
    });

    describe('lifecycle', () => {
      it('rejects every call after close with ERR_STORE_CLOSED', async () => {
        await store.registrations.put(registration('dev-1'));
        await store.close();
        await expectCode(store.registrations.put(registration('dev-2')), 'ERR_STORE_CLOSED');
        await expectCode(store.registrations.delete('dev-1'), 'ERR_STORE_CLOSED');
        await expectCode(store.registrations.get('dev-1'), 'ERR_STORE_CLOSED');
        await expectCode(store.registrations.getById('id-dev-1'), 'ERR_STORE_CLOSED');
        await expectCode(store.registrations.list(), 'ERR_STORE_CLOSED');
        await expectCode(store.registrations.count(), 'ERR_STORE_CLOSED');
        await expectCode(store.events.append({ type: 'registered' }), 'ERR_STORE_CLOSED');
        await expectCode(store.events.since(0), 'ERR_STORE_CLOSED');
        await expectCode(store.events.lastId(), 'ERR_STORE_CLOSED');
        await expectCode(store.jobs.put(updateJob('j', 'dev-1')), 'ERR_STORE_CLOSED');
        await expectCode(store.jobs.get('j'), 'ERR_STORE_CLOSED');
        await expectCode(store.jobs.getActiveByEndpoint('dev-1'), 'ERR_STORE_CLOSED');
        await expectCode(store.jobs.listActive(), 'ERR_STORE_CLOSED');
        await expectCode(store.jobs.listByEndpoint('dev-1'), 'ERR_STORE_CLOSED');
        await expectCode(store.jobs.listRecent(), 'ERR_STORE_CLOSED');
      });

      it('commits writes still pending when close is called', async () => {
        const put = store.registrations.put(registration('dev-1'));
        const appended = store.events.append({ type: 'registered', endpoint: 'dev-1' });
        const job = store.jobs.put(updateJob('job-1', 'dev-1'));
        await store.close();
        await put;
        await job;
        const e = await appended;
        const again = await openStore();
        expect(await again.registrations.get('dev-1')).toEqual(registration('dev-1'));
        expect(await again.jobs.get('job-1')).toEqual(updateJob('job-1', 'dev-1'));
        expect(await again.events.lastId()).toBe(e.id);
      });

      it('keeps everything when the same directory is opened again', async () => {
        const recs = Array.from({ length: 20 }, (_, i) => registration(`dev-${String(i).padStart(2, '0')}`, { port: 1000 + i }));
        await Promise.all(recs.map((r) => store.registrations.put(r)));
        await store.registrations.delete('dev-05');
        const events = await Promise.all(recs.map((r) => store.events.append({ type: 'registered', endpoint: r.endpoint, data: { port: r.port } })));
        await store.close();

        const again = await openStore();
        expect(await again.registrations.list()).toEqual(recs.filter((r) => r.endpoint !== 'dev-05'));
        expect(await again.registrations.getById('id-dev-07')).toEqual(recs[7]);
        expect(await again.events.since(0)).toEqual(events);
        const lastBefore = await again.events.lastId();
        const next = await again.events.append({ type: 'updated' });
        expect(next.id).toBeGreaterThan(lastBefore);
      });
    });
  });
}
