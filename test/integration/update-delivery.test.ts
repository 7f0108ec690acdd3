/**
 * Firmware updates end to end over real UDP on loopback: the server (in process) and
 * emulated devices (this process, their own sockets). Pull and push at every block size,
 * payload-only delivery to raw-image devices, cancel, and what the operator sees (events,
 * progress, the device's firmware version).
 */
import type { Lwm2mFotaServer } from '../../src/server';
import type { EmulatedDevice } from '../../src/device';
import type { EventName, TypedEvent } from '../../src/events';
import { tempDir } from '../helpers/tmp';
import { addRelease, finished, mainPath, serverUri, startDevice, startServer, until } from './update-harness';

jest.setTimeout(90_000);

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
const devices: EmulatedDevice[] = [];
const events: TypedEvent[] = [];

beforeAll(async () => {
  tmp = tempDir();
  server = await startServer(tmp.dir);
  server.events.subscribe((e) => events.push(e));
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
});

afterAll(async () => {
  await server.close();
  tmp.remove();
});

async function device(extra: Parameters<typeof startDevice>[1] = {}): Promise<EmulatedDevice> {
  const d = await startDevice(serverUri(server), extra);
  devices.push(d);
  return d;
}

const eventsOf = <K extends EventName = EventName>(endpoint: string, type?: K): TypedEvent<K>[] =>
  events.filter((e): e is TypedEvent<K> => e.endpoint === endpoint && (type === undefined || e.type === type));

describe('pull and push at every block size', () => {
  const cases = (['pull', 'push'] as const).flatMap((method) => [16, 64, 256, 1024].map((blockSize) => ({ method, blockSize })));

  test(`${cases.length} devices (pull and push × 16, 64, 256, 1024-byte blocks) all end on the new version`, async () => {
    const fw = await addRelease(server, { version: '2.0.0', size: 8 * 1024 });
    const fleet = await Promise.all(cases.map((c) => device({ blockSize: c.blockSize })));
    const jobs = await Promise.all(fleet.map((d, i) => server.updates.start(d.endpoint, { firmwareId: fw.id, method: cases[i]!.method })));
    expect(jobs.map((j) => j.state.value)).toEqual(cases.map(() => 'queued'));

    const done = await Promise.all(fleet.map((d) => finished(server, d.endpoint, 60_000)));
    // Events reach subscribers once committed, a moment after the job's last step.
    await until(() => fleet.every((d) => eventsOf(d.endpoint, 'updateSucceeded').length > 0));
    for (const [i, d] of fleet.entries()) {
      const c = cases[i]!;
      const job = done[i]!;
      expect({ ...c, state: job.state.value }).toEqual({ ...c, state: 'succeeded' });
      expect(job.state).toMatchObject({ value: 'succeeded', version: '2.0.0', updateResult: 1, attempt: 1, method: c.method });
      expect(d.firmwareVersion).toBe('2.0.0');
      expect(d.info().slots.running.digest).toBe(fw.images[0]!.digest);
      // The history names the method the server used.
      expect(mainPath(job.history.map((h) => h.state))).toEqual(['queued', 'delivering', 'updating', 'verifying', 'succeeded']);
      const types = eventsOf(d.endpoint).map((e) => e.type).filter((t) => t.startsWith('update') && t !== 'updateProgressed');
      expect(mainPath(types)).toEqual(['updateQueued', 'updateDeliveryStarted', 'updateExecuted', 'updateVerificationStarted', 'updateSucceeded']);
      // Every transition of the history has its event.
      expect(types.filter((t) => t !== 'updateAnomalyRecorded')).toHaveLength(job.history.filter((h) => h.note === undefined).length);
      expect(eventsOf(d.endpoint, 'updateDeliveryStarted')[0]!.data['method']).toBe(c.method);
      // Progress was seen: from the Block2 requests (pull) or the acknowledged blocks (push).
      const progress = eventsOf(d.endpoint, 'updateProgressed');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.every((e) => e.data['method'] === c.method)).toBe(true);
      const last = progress[progress.length - 1]!.data;
      expect(Number(last['bytes'])).toBeGreaterThan(0);
      expect(Number(last['bytes'])).toBeLessThanOrEqual(Number(last['total']));
      if (c.method === 'pull') expect(last['blockSize']).toBe(c.blockSize);
      // The version shown for the device is the new one.
      expect(await server.updates.firmwareVersion(d.endpoint)).toBe('2.0.0');
    }
  });
});

describe('payload-only delivery to devices that take raw images', () => {
  test.each(['pull', 'push'] as const)('a raw-image device gets the payload alone by %s and ends on the new version', async (method) => {
    const fw = await addRelease(server, { version: '3.1.0', size: 6000 });
    const d = await device({ packageFormat: 'raw', rawImageDigest: Buffer.from(fw.payload!.digest, 'hex'), blockSize: 128 });
    const job = await server.updates.start(d.endpoint, { firmwareId: fw.id, method, payloadOnly: true });
    if (method === 'pull') expect(job.packageUris?.coap).toMatch(new RegExp(`^coap://\\[::1\\]:\\d+/fw/${fw.payload!.digest}$`));
    const done = await finished(server, d.endpoint);
    expect(done.state).toMatchObject({ value: 'succeeded', version: '3.1.0' });
    expect(d.firmwareVersion).toBe('3.1.0');
    expect(d.info().slots.running.digest).toBe(fw.payload!.digest);
  });

  test('the same raw device given the whole envelope refuses it (Update Result 6) and keeps its firmware', async () => {
    const fw = await addRelease(server, { version: '3.2.0', size: 3000 });
    const d = await device({ packageFormat: 'raw', rawImageDigest: Buffer.from(fw.payload!.digest, 'hex') });
    await server.updates.start(d.endpoint, { firmwareId: fw.id, method: 'push' });
    const done = await finished(server, d.endpoint);
    expect(done.state).toMatchObject({ value: 'failed', updateResult: 5 });
    expect(d.firmwareVersion).toBe('1.0.0');
  });
});

describe('operator controls', () => {
  test('a second update while one is active is refused with ERR_FOTA_JOB_CONFLICT; an unknown firmware with ERR_FOTA_FIRMWARE_NOT_FOUND', async () => {
    const fw = await addRelease(server, { version: '2.0.1', size: 16 * 1024 });
    const d = await device({ blockSize: 16 });
    await server.updates.start(d.endpoint, { firmwareId: fw.id });
    await expect(server.updates.start(d.endpoint, { firmwareId: fw.id })).rejects.toMatchObject({ code: 'ERR_FOTA_JOB_CONFLICT' });
    await expect(server.updates.start('nobody', { firmwareId: 'a'.repeat(64) })).rejects.toMatchObject({ code: 'ERR_FOTA_FIRMWARE_NOT_FOUND' });
    await expect(server.updates.start('nobody', { firmwareId: fw.id })).rejects.toMatchObject({ code: 'ERR_LWM2M_NOT_REGISTERED' });
    await finished(server, d.endpoint, 60_000);
  });

  test('cancel during a pull: the device is told (Cancel /5/0/10), the job ends cancelled and the old firmware keeps running', async () => {
    const fw = await addRelease(server, { version: '2.5.0', size: 32 * 1024 });
    const d = await device({ blockSize: 16 });
    await server.updates.start(d.endpoint, { firmwareId: fw.id, method: 'pull' });
    await d.waitFor('blockReceived', (e) => e.what === 'image' && e.num >= 100, 20_000);
    const cancelling = await server.updates.cancel(d.endpoint);
    expect(['cancelling', 'cancelled']).toContain(cancelling.state.value);
    const done = await finished(server, d.endpoint);
    expect(done.state).toMatchObject({ value: 'cancelled', confirmed: true });
    await until(() => d.state === 0);
    expect(d.updateResult).toBe(10);
    expect(d.firmwareVersion).toBe('1.0.0');
    await expect(server.updates.cancel(d.endpoint)).rejects.toMatchObject({ code: 'ERR_FOTA_JOB_NOT_FOUND' });
  });

  test('cancel after Update was executed is refused with ERR_FOTA_CANCEL_TOO_LATE and the update completes', async () => {
    const fw = await addRelease(server, { version: '2.6.0', size: 2048 });
    const d = await device({ installDelayMs: 800 });
    await server.updates.start(d.endpoint, { firmwareId: fw.id });
    await d.waitFor('updating', undefined, 20_000);
    await until(async () => ['updating', 'rebooting'].includes((await server.updates.current(d.endpoint))!.state.value));
    await expect(server.updates.cancel(d.endpoint)).rejects.toMatchObject({ code: 'ERR_FOTA_CANCEL_TOO_LATE' });
    const done = await finished(server, d.endpoint);
    expect(done.state.value).toBe('succeeded');
    expect(d.firmwareVersion).toBe('2.6.0');
  });

  test('the device’s firmware version is read after it registers', async () => {
    const d = await device({ firmwareVersion: '1.4.2' });
    expect(await until(() => server.updates.firmwareVersion(d.endpoint))).toBe('1.4.2');
  });
});
