/**
 * A sleeping (queue-mode, binding UQ) device: requests for it wait in the server's queue
 * until it wakes up (a registration Update), and the update goes through across its sleeps.
 */
import type { Lwm2mFotaServer } from '../../src/server';
import type { EmulatedDevice } from '../../src/device';
import { tempDir } from '../helpers/tmp';
import { addRelease, finished, serverUri, startDevice, startServer } from './update-harness';

jest.setTimeout(90_000);

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
let device: EmulatedDevice | undefined;

beforeAll(async () => {
  tmp = tempDir();
  // The server thinks a device listens 300 ms after its last contact.
  server = await startServer(tmp.dir, { awakeWindowMs: 300 });
});

afterAll(async () => {
  await device?.stop();
  await server.close();
  tmp.remove();
});

test.each(['pull', 'push'] as const)('a queue-mode device that sleeps between contacts is updated by %s', async (method) => {
  const fw = await addRelease(server, { version: '2.0.0', size: 4096 });
  device = await startDevice(serverUri(server), { binding: 'UQ', queueWindowMs: 400, faults: { sleepMs: 1000 }, blockSize: 256 });
  const d = device;
  // Let it fall asleep first: every request of the job has to wait for a wake-up.
  await d.waitFor('asleep', undefined, 10_000);
  const sleeps: number[] = [];
  d.on('asleep', () => sleeps.push(Date.now()));
  await server.updates.start(d.endpoint, { firmwareId: fw.id, method });
  const job = await finished(server, d.endpoint, 60_000);
  expect(job.state).toMatchObject({ value: 'succeeded', version: '2.0.0' });
  expect(d.firmwareVersion).toBe('2.0.0');
  // Requests went through the queue of the sleeping device.
  const queued = (await server.events.since(0, 100_000)).filter((e) => e.type === 'requestQueued' && e.endpoint === d.endpoint);
  expect(queued.length).toBeGreaterThan(0);
  await d.stop();
  device = undefined;
});
