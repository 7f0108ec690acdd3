/**
 * What must outlive the moment: observations across a server restart (same data
 * directory, same port, the device keeps notifying the same token), and requests queued
 * for a sleeping device until it wakes — also across a restart.
 */
import { resource } from '../../src/lwm2m/core/content-formats/node';
import { parsePath } from '../../src/lwm2m/core/model/path';
import type { ReadResponse } from '../../src/lwm2m/server/requests/types';
import { createServer, type Lwm2mFotaServer, type ServerOptions } from '../../src/server';
import { openSqliteStore } from '../../src/store';
import { FAST, codeOf, collect, nextEvent } from '../helpers/device-management';
import { TestDevice } from '../helpers/lwm2m-test-device';
import { tempDir } from '../helpers/tmp';
import { freeUdpPort } from '../helpers/ports';

const p = parsePath;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('device management across restarts and sleep', () => {
  let tmp: ReturnType<typeof tempDir>;
  let port: number;
  let server: Lwm2mFotaServer | undefined;
  let device: TestDevice | undefined;
  let options: ServerOptions;

  beforeEach(async () => {
    tmp = tempDir();
    port = await freeUdpPort();
    options = { dataDir: tmp.dir, coapPort: port, coapHost: '::', httpPort: false, transmission: FAST, token: 't', awakeWindowMs: 300 };
  });
  afterEach(async () => {
    await device?.close();
    await server?.close();
    device = undefined;
    server = undefined;
    tmp.remove();
  });

  async function restart(): Promise<Lwm2mFotaServer> {
    await server?.close();
    server = await createServer(options);
    return server;
  }

  it('keeps an observation across a restart: the device notifies the same token, the new server publishes it', async () => {
    const s1 = await restart();
    device = await TestDevice.start({ endpoint: 'obs', server: { address: '::1', port }, lwm2mVersion: '1.1', transmission: FAST });
    await device.register();
    const res = (await s1.devices.perform('obs', { operation: 'observe', path: p('/3/0/9') })) as ReadResponse;
    const id = res.observationId as string;
    const first = nextEvent(s1, 'notified', (e) => e.data.observationId === id);
    await device.set('/3/0/9', 50);
    expect((await first).data.content).toMatchObject({ value: 50 });

    const s2 = await restart();
    expect(s2.devices.observations.list('obs').map((o) => o.token)).toEqual([id]);
    const after = nextEvent(s2, 'notified', (e) => e.data.observationId === id);
    await device.set('/3/0/9', 49);
    const e = await after;
    expect(e.endpoint).toBe('obs');
    expect(e.data).toMatchObject({ path: '/3/0/9', content: { name: 'Battery Level', value: 49 } });
    // Still the same observation at the device: the server ACKed instead of RST.
    expect(device.observations.has(id)).toBe(true);

    // An update keeps it; the server can still cancel it actively.
    expect(await device.update()).toBe('2.04');
    const again = nextEvent(s2, 'notified', (x) => x.data.observationId === id);
    await device.notifyToken(id);
    await again;
    expect((await s2.devices.cancelObservation(id)).code).toBe('2.05');
    expect(device.observations.size).toBe(0);
  });

  it('ends observations when the device registers again, and rejects their notifications with RST', async () => {
    const s1 = await restart();
    device = await TestDevice.start({ endpoint: 'rereg', server: { address: '::1', port }, lwm2mVersion: '1.0', transmission: FAST });
    await device.register();
    const id = ((await s1.devices.perform('rereg', { operation: 'observe', path: p('/3/0/9') })) as ReadResponse).observationId as string;
    const ended = nextEvent(s1, 'observationCancelled', (e) => e.data.observationId === id);
    await device.register();
    expect((await ended).data.reason).toBe('reregistered');
    expect(await s1.store.observations.get(id)).toBeUndefined();
    expect(await codeOf(device.notifyToken(id))).toBe('ERR_COAP_RESET');
    const notified = collect(s1, ['notified']);
    await sleep(50);
    notified.stop();
    expect(notified.events).toEqual([]);
  });

  it('drops stored observations of a registration that is gone when the server starts', async () => {
    const s1 = await restart();
    device = await TestDevice.start({ endpoint: 'gone', server: { address: '::1', port }, lwm2mVersion: '1.1', transmission: FAST });
    await device.register();
    const id = ((await s1.devices.perform('gone', { operation: 'observe', path: p('/3/0/9') })) as ReadResponse).observationId as string;
    await s1.close();
    server = undefined;
    // The registration goes while the server is down (as if it had expired then).
    const store = openSqliteStore({ file: `${tmp.dir}/lwm2m-fota.sqlite` });
    await store.registrations.delete('gone');
    await store.close();
    const s3 = await restart();
    expect(s3.devices.observations.list()).toEqual([]);
    expect(await s3.store.observations.get(id)).toBeUndefined();
    const reasons = (await s3.events.since(0)).filter((e) => e.type === 'observationCancelled').map((e) => e.data.reason);
    expect(reasons).toContain('registrationGone');
  });

  it.each([
    ['1.0 with binding UQ', { lwm2mVersion: '1.0' as const, binding: 'UQ' }],
    ['1.1 with Q', { lwm2mVersion: '1.1' as const, queueMode: true }],
  ])('queues requests for a sleeping %s device and delivers them in order when it updates', async (_name, mode) => {
    const s = await restart();
    device = await TestDevice.start({ endpoint: 'sleepy', server: { address: '::1', port }, transmission: FAST, ...mode });
    await device.register();
    // Right after registering it listens: requests go out at once.
    const direct = await s.devices.submit('sleepy', { operation: 'read', path: p('/3/0/9') });
    expect(direct.queued).toBe(false);
    await sleep(400);
    expect(s.devices.isAwake('sleepy')).toBe(false);
    expect(await codeOf(s.devices.perform('sleepy', { operation: 'read', path: p('/3/0/9') }))).toBe('ERR_LWM2M_DEVICE_ASLEEP');
    const seenBefore = device.seen.length;
    const events = collect(s, ['requestQueued', 'requestCompleted']);
    const a = await s.devices.submit('sleepy', { operation: 'read', path: p('/3/0/9') });
    const b = await s.devices.submit('sleepy', { operation: 'write', mode: 'replace', path: p('/1/0/1'), node: resource(1, 'integer', 1234) });
    const c = await s.devices.submit('sleepy', { operation: 'read', path: p('/1/0/1') });
    const ids = [a, b, c].map((r) => {
      expect(r.queued).toBe(true);
      return r.queued ? r.request.id : '';
    });
    expect((await s.store.requests.listPending('sleepy')).map((r) => r.id)).toEqual(ids);
    await sleep(100);
    expect(device.seen.length).toBe(seenBefore);

    const finished = Promise.all(ids.map((id) => s.devices.queue.whenFinished(id)));
    expect(await device.update()).toBe('2.04');
    const [ra, rb, rc] = await finished;
    expect(device.seen.slice(seenBefore).map((x) => `${x.method} ${x.path}`)).toEqual(['GET /3/0/9', 'PUT /1/0/1', 'GET /1/0/1']);
    expect(ra).toMatchObject({ state: 'completed', result: { code: '2.05', content: { value: 87, name: 'Battery Level' } } });
    expect(rb).toMatchObject({ state: 'completed', result: { code: '2.04' } });
    expect(rc).toMatchObject({ state: 'completed', result: { code: '2.05', content: { value: 1234 } } });
    events.stop();
    expect(events.events.map((e) => `${e.type} ${String(e.data.requestId)}`)).toEqual([
      ...ids.map((id) => `requestQueued ${id}`),
      ...ids.map((id) => `requestCompleted ${id}`),
    ]);
    expect(await s.store.requests.listPending('sleepy')).toEqual([]);
  });

  it('keeps queued requests across a restart and delivers them when the device wakes', async () => {
    const s1 = await restart();
    device = await TestDevice.start({ endpoint: 'nap', server: { address: '::1', port }, lwm2mVersion: '1.0', binding: 'UQ', transmission: FAST });
    await device.register();
    await sleep(400);
    const q = await s1.devices.submit('nap', { operation: 'execute', path: p('/3/0/4') });
    expect(q.queued).toBe(true);
    const id = q.queued ? q.request.id : '';
    const s2 = await restart();
    expect((await s2.store.requests.get(id))?.state).toBe('queued');
    const done = s2.devices.queue.whenFinished(id);
    await device.update();
    expect(await done).toMatchObject({ state: 'completed', result: { operation: 'execute', code: '2.04' } });
    expect(device.executed).toEqual([{ path: '/3/0/4', args: '' }]);
  });

  it('starts a queued observation when the device wakes, and its notifications follow', async () => {
    const s = await restart();
    device = await TestDevice.start({ endpoint: 'obs-q', server: { address: '::1', port }, lwm2mVersion: '1.1', queueMode: true, transmission: FAST });
    await device.register();
    await sleep(400);
    const q = await s.devices.submit('obs-q', { operation: 'observe', path: p('/3/0/9') });
    expect(q.queued).toBe(true);
    const done = s.devices.queue.whenFinished(q.queued ? q.request.id : '');
    await device.update();
    const rec = await done;
    const id = (rec.result as { observationId?: string }).observationId as string;
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    const n = nextEvent(s, 'notified', (e) => e.data.observationId === id);
    await device.set('/3/0/9', 3);
    expect((await n).data.content).toMatchObject({ value: 3 });
    // Asleep again: cancel is local; the next notification gets RST.
    await sleep(400);
    expect((await s.devices.cancelObservation(id)).code).toBe('2.05');
    expect(device.observations.has(id)).toBe(true);
    expect(await codeOf(device.notifyToken(id))).toBe('ERR_COAP_RESET');
  });
});
