/**
 * Every emulator fault against the real server, end to end on loopback: configuration
 * failures end the job at once with the device's Update Result, transient ones are
 * retried to a success; manifests the device must refuse (untrusted signer, rollback,
 * another class) fail with 5/6 while the old firmware keeps running.
 */
import type { Lwm2mFotaServer } from '../../src/server';
import type { DeviceOptions, EmulatedDevice } from '../../src/device';
import { generateKeyPair } from '../../src/suit';
import { parseFaultSpec } from '../../src/device';
import { tempDir } from '../helpers/tmp';
import { addRelease, finished, serverUri, startDevice, startServer, writeTrustedKey } from './update-harness';

jest.setTimeout(120_000);

/** Trusted by the server (its policy), never by the devices. */
const stranger = generateKeyPair('esp256');

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
const devices: EmulatedDevice[] = [];

beforeAll(async () => {
  tmp = tempDir();
  server = await startServer(tmp.dir, { trust: [writeTrustedKey(tmp.dir), writeTrustedKey(tmp.dir, stranger.privateKey, 'stranger.pub.pem')] });
});

afterAll(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
  await server.close();
  tmp.remove();
});

async function device(extra: Partial<DeviceOptions>): Promise<EmulatedDevice> {
  const d = await startDevice(serverUri(server), extra);
  devices.push(d);
  return d;
}

interface Case {
  readonly name: string;
  readonly fault?: string;
  readonly method: 'pull' | 'push';
  readonly device?: Partial<DeviceOptions>;
  readonly release?: Parameters<typeof addRelease>[1];
  /** The outcome. */
  readonly state: 'succeeded' | 'failed';
  readonly updateResult?: number;
  readonly reason?: string;
  /** For retried successes: an earlier attempt failed with this Update Result. */
  readonly retriedAfter?: number;
  /** Attempts at least. */
  readonly attempts?: number;
}

const CASES: readonly Case[] = [
  { name: 'out of flash (pull)', fault: 'out-of-flash', method: 'pull', state: 'failed', updateResult: 2, reason: 'notEnoughFlash' },
  { name: 'out of flash (push: 4.13 + Size1)', fault: 'out-of-flash', method: 'push', state: 'failed', updateResult: 2, reason: 'notEnoughFlash' },
  { name: 'a package larger than the flash slot (push)', method: 'push', device: { flashSize: 4096 }, state: 'failed', updateResult: 2, reason: 'notEnoughFlash' },
  { name: 'out of RAM', fault: 'out-of-ram', method: 'pull', state: 'failed', updateResult: 3, reason: 'outOfMemory' },
  { name: 'connection lost, then retried', fault: 'connection-lost', method: 'pull', state: 'succeeded', retriedAfter: 4, attempts: 2 },
  { name: 'connection lost during a push, then retried', fault: 'connection-lost', method: 'push', state: 'succeeded', attempts: 2 },
  { name: 'a corrupted block', fault: 'corrupt-block', method: 'pull', state: 'failed', updateResult: 5, reason: 'integrityCheckFailed' },
  { name: 'a corrupted block (push)', fault: 'corrupt-block', method: 'push', state: 'failed', updateResult: 5, reason: 'integrityCheckFailed' },
  { name: 'install failure', fault: 'fail-install', method: 'pull', state: 'failed', updateResult: 8, reason: 'updateFailed' },
  { name: 'the new image does not boot (fallback)', fault: 'fail-boot', method: 'pull', state: 'failed', updateResult: 8, reason: 'updateFailed' },
  { name: 'a reboot in the middle of the download, then done', fault: 'reboot-mid-download', method: 'pull', state: 'succeeded' },
  { name: 'a reboot in the middle of a push, then done', fault: 'reboot-mid-download', method: 'push', state: 'succeeded' },
  { name: '5% of the datagrams dropped (pull)', fault: 'drop=5%', method: 'pull', device: { blockSize: 64 }, state: 'succeeded' },
  { name: '5% of the datagrams dropped (push)', fault: 'drop=5%', method: 'push', device: { blockSize: 64 }, state: 'succeeded' },
  { name: 'a manifest signed by a key the device does not trust', method: 'pull', release: { signer: stranger.privateKey }, state: 'failed', updateResult: 5, reason: 'integrityCheckFailed' },
  { name: 'a manifest whose sequence number is not above the installed one', method: 'pull', release: { sequence: 5 }, state: 'failed', updateResult: 6, reason: 'unsupportedPackage' },
  { name: 'a manifest for another device class', method: 'pull', release: { className: 'gateway-v1' }, state: 'failed', updateResult: 6, reason: 'unsupportedPackage' },
  { name: 'an untrusted manifest pushed', method: 'push', release: { signer: stranger.privateKey, integrated: true }, state: 'failed', updateResult: 5, reason: 'integrityCheckFailed' },
];

test(`${CASES.length} devices with faults or refused manifests, updated at once, each end as the fault dictates`, async () => {
  const fleet = await Promise.all(
    CASES.map(async (c) => {
      const fw = await addRelease(server, { version: '2.0.0', size: 6 * 1024, ...c.release });
      const d = await device({ blockSize: 256, ...(c.fault === undefined ? {} : { faults: parseFaultSpec(c.fault) }), ...c.device });
      const executes: number[] = [];
      d.on('updating', () => executes.push(Date.now()));
      return { c, fw, d, executes };
    }),
  );
  await Promise.all(fleet.map(({ c, fw, d }) => server.updates.start(d.endpoint, { firmwareId: fw.id, method: c.method })));
  const done = await Promise.all(fleet.map(({ d }) => finished(server, d.endpoint, 90_000)));

  for (const [i, { c, fw, d, executes }] of fleet.entries()) {
    const job = done[i]!;
    const s = job.state;
    const got = { name: c.name, state: s.value, updateResult: s.value === 'failed' ? s.updateResult : s.value === 'succeeded' ? 1 : undefined, reason: s.value === 'failed' ? s.reason : undefined };
    const want = { name: c.name, state: c.state, updateResult: c.state === 'succeeded' ? 1 : c.updateResult, reason: c.state === 'succeeded' ? undefined : c.reason };
    expect(got).toEqual(want);
    if (c.state === 'succeeded') {
      expect(d.firmwareVersion).toBe('2.0.0');
      expect(d.info().slots.running.digest).toBe(fw.images[0]?.digest ?? d.info().slots.running.digest);
    } else {
      // The device keeps running what it ran.
      expect({ name: c.name, version: d.firmwareVersion }).toEqual({ name: c.name, version: '1.0.0' });
      expect(s.value === 'failed' && s.explanation.length > 0).toBe(true);
      // The explanation of the device's Update Result is in the history.
      const entry = job.history.find((h) => h.updateResult === c.updateResult);
      expect(entry?.explanation ?? '').toContain(`Update Result ${c.updateResult}`);
    }
    if (c.retriedAfter !== undefined) {
      expect(job.history.some((h) => h.state === 'queued' && h.updateResult === c.retriedAfter)).toBe(true);
    }
    if (c.attempts !== undefined) expect({ name: c.name, attempt: Math.max(...job.history.map((h) => h.attempt)) >= c.attempts }).toEqual({ name: c.name, attempt: true });
    // Never more than one Update per job (the failed install counts its one).
    expect({ name: c.name, executes: executes.length <= 1 }).toEqual({ name: c.name, executes: true });
  }
});
