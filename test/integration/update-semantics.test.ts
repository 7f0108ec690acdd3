/**
 * Silent devices and honest failure reasons end to end (issues 19.3, 20.5, 20.6): the real
 * server and emulated devices over UDP on loopback, with short contact, reboot and settle
 * timeouts.
 */
import type { Lwm2mFotaServer } from '../../src/server';
import type { DeviceOptions, EmulatedDevice } from '../../src/device';
import { parseFaultSpec } from '../../src/device';
import type { Job } from '../../src/fota/update';
import { tempDir } from '../helpers/tmp';
import { addRelease, finished, serverUri, startDevice, startServer, TEST_UPDATE_CONFIG, until } from './update-harness';

jest.setTimeout(60_000);

const ANJAY_LIKE = 'anjay-like';

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
const devices: EmulatedDevice[] = [];

beforeAll(async () => {
  tmp = tempDir();
  server = await startServer(tmp.dir, {
    update: {
      config: { ...TEST_UPDATE_CONFIG, timeouts: { ...TEST_UPDATE_CONFIG.timeouts, contact: 4_000, reboot: 3_000, settle: 1_500 } },
      progressIntervalMs: 100,
      confirmByClass: { [ANJAY_LIKE]: 'result' },
    },
  });
});

afterAll(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
  await server.close();
  tmp.remove();
});

async function device(extra: Partial<DeviceOptions> = {}): Promise<EmulatedDevice> {
  const d = await startDevice(serverUri(server), { blockSize: 256, ...extra });
  devices.push(d);
  return d;
}

const failure = (job: Job): { state: string; reason?: string } => (job.state.value === 'failed' ? { state: 'failed', reason: job.state.reason } : { state: job.state.value });

describe('a device that went silent (issue 19 item 3)', () => {
  test('its expiry is in the job history and the contact timeout fails it deviceUnreachable; with contact timeout 0 it stays queued', async () => {
    const fw = await addRelease(server, { version: '2.0.0' });
    const bounded = await device({ lifetime: 2 });
    const forever = await device({ lifetime: 2 });
    // Silent from now on: no De-register, the registrations run out.
    await bounded.stop({ deregister: false });
    await forever.stop({ deregister: false });
    await server.updates.start(bounded.endpoint, { firmwareId: fw.id });
    await server.updates.start(forever.endpoint, { firmwareId: fw.id, contactTimeout: 0 });

    const job = await finished(server, bounded.endpoint, 20_000);
    expect(failure(job)).toEqual({ state: 'failed', reason: 'deviceUnreachable' });
    expect(job.history.some((h) => h.input === 'deregistered (expired)' && /expired/.test(h.explanation ?? ''))).toBe(true);
    expect(job.state.value === 'failed' && job.state.explanation).toMatch(/went silent/);

    const waiting = await until(async () => {
      const j = await server.updates.current(forever.endpoint);
      return j !== undefined && j.history.some((h) => h.input === 'deregistered (expired)') ? j : undefined;
    });
    expect(waiting.history.find((h) => h.input === 'deregistered (expired)')?.explanation).toMatch(/for ever/);
    await new Promise((r) => setTimeout(r, 4_500)); // past the server's contact timeout
    expect((await server.updates.current(forever.endpoint))?.state.value).toBe('queued');
    await server.updates.cancel(forever.endpoint);
  });
});

describe('failure reasons that say what happened (issue 20 item 5)', () => {
  test('a device stuck in Updating fails notRebooted and is sent no new delivery', async () => {
    const fw = await addRelease(server, { version: '2.0.0' });
    const d = await device({ faults: parseFaultSpec('stuck-updating'), lifetime: 2 });
    const refused: string[] = [];
    d.on('writeRefused', (e) => refused.push(`${e.resource} ${e.code}`));
    await server.updates.start(d.endpoint, { firmwareId: fw.id, method: 'pull' });
    const job = await finished(server, d.endpoint, 30_000);
    expect(failure(job)).toEqual({ state: 'failed', reason: 'notRebooted' });
    expect(job.state.value === 'failed' && job.state.explanation).toMatch(/State 3 \(Updating\)/);
    expect(Math.max(...job.history.map((h) => h.attempt))).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(refused).toEqual([]);
    expect(d.info().reboots).toBe(0);
  });

  test('a stub object 5: State 1 before any delivery is an anomaly at once, and the job fails stubFirmwareObject soon after the last block', async () => {
    const fw = await addRelease(server, { version: '2.0.0', integrated: true });
    const d = await device({ faults: parseFaultSpec('stub-object') });
    const started = Date.now();
    await server.updates.start(d.endpoint, { firmwareId: fw.id, method: 'push' });
    const job = await finished(server, d.endpoint, 20_000);
    expect(failure(job)).toEqual({ state: 'failed', reason: 'stubFirmwareObject' });
    // The delivery timeout is 60 s: the settle timeout (1.5 s) ended it.
    expect(Date.now() - started).toBeLessThan(15_000);
    const anomaly = job.history.find((h) => /State 1 \(Downloading\) before anything was delivered/.test(h.note ?? ''));
    expect(anomaly?.state).toBe('queued');
    expect(job.state.value === 'failed' && job.state.explanation).toMatch(/stub/);
  });

  test('an ordinary download failure (Downloading → Idle, Update Result 5) records no anomaly', async () => {
    const fw = await addRelease(server, { version: '2.0.0' });
    const d = await device({ faults: parseFaultSpec('corrupt-block') });
    await server.updates.start(d.endpoint, { firmwareId: fw.id, method: 'pull' });
    const job = await finished(server, d.endpoint);
    expect(failure(job)).toEqual({ state: 'failed', reason: 'integrityCheckFailed' });
    expect(job.history.filter((h) => h.note !== undefined)).toEqual([]);
  });

  test('Update Result 5 of a payload-only delivery is explained without SUIT', async () => {
    const fw = await addRelease(server, { version: '2.0.0' });
    const d = await device({ packageFormat: 'raw', rawImageDigest: Buffer.alloc(32) });
    await server.updates.start(d.endpoint, { firmwareId: fw.id, method: 'push', payloadOnly: true });
    const job = await finished(server, d.endpoint);
    expect(failure(job)).toEqual({ state: 'failed', reason: 'integrityCheckFailed' });
    const explanation = job.state.value === 'failed' ? job.state.explanation : '';
    expect(explanation).toContain('Update Result 5');
    expect(explanation).toMatch(/own integrity check/);
    expect(explanation).not.toMatch(/signature or a digest of the SUIT/);
  });
});

describe('what confirms success (issue 20 item 6)', () => {
  const confirmedBy = (job: Job): string | undefined => (job.state.value === 'succeeded' ? job.state.confirmedBy : undefined);
  const successEntry = (job: Job): string => job.history.find((h) => h.state === 'succeeded')?.explanation ?? '';

  test('by default /3/0/3, named in the history', async () => {
    const fw = await addRelease(server, { version: '2.0.0' });
    const d = await device();
    await server.updates.start(d.endpoint, { firmwareId: fw.id });
    const job = await finished(server, d.endpoint);
    expect(confirmedBy(job)).toBe('firmwareVersion');
    expect(successEntry(job)).toMatch(/confirmed by firmware version \/3\/0\/3 = "2.0.0"/);
  });

  test('pkgVersion (/5/0/7) for a device whose /3/0/3 never changes', async () => {
    const fw = await addRelease(server, { version: '2.0.0' });
    const d = await device({ faults: parseFaultSpec('fixed-version') });
    await server.updates.start(d.endpoint, { firmwareId: fw.id, confirm: 'pkgVersion' });
    const job = await finished(server, d.endpoint);
    expect(confirmedBy(job)).toBe('pkgVersion');
    expect(successEntry(job)).toMatch(/PkgVersion \/5\/0\/7 = "2.0.0"/);
    expect(d.firmwareVersion).toBe('2.0.0');
  });

  test('Update Result 1 alone, chosen per device class on the server (and per job)', async () => {
    const fw = await addRelease(server, { version: '2.0.0', className: ANJAY_LIKE });
    const byClass = await device({ faults: parseFaultSpec('fixed-version'), className: ANJAY_LIKE });
    await server.updates.start(byClass.endpoint, { firmwareId: fw.id });
    const job = await finished(server, byClass.endpoint);
    expect(confirmedBy(job)).toBe('result');
    expect(successEntry(job)).toMatch(/confirmed by Update Result 1 alone/);

    const other = await addRelease(server, { version: '2.0.0' });
    const byJob = await device({ faults: parseFaultSpec('fixed-version') });
    await server.updates.start(byJob.endpoint, { firmwareId: other.id, confirm: 'result' });
    expect(confirmedBy(await finished(server, byJob.endpoint))).toBe('result');
  });
});
