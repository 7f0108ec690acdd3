/**
 * A server killed with SIGKILL in the middle of an update (`lwm2m-fota serve` as a child
 * process, same data directory and CoAP port after the restart): the job finishes after
 * the restart, and the device sees exactly one Update (/5/0/2) — counted on the wire, at a
 * relay in front of the device.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmulatedDevice } from '../../src/device';
import type { UpdateJobView } from '../../src/api/views';
import { runCli } from '../helpers/cli';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';
import { freeUdpPort } from '../helpers/ports';
import { ExecuteCounter, release, startDevice, until, writeTrustedKey } from './update-harness';

jest.setTimeout(120_000);

interface Setup {
  tmp: ReturnType<typeof tempDir>;
  coapPort: number;
  args: string[];
  server: ServerProcess;
  counter: ExecuteCounter;
  device?: EmulatedDevice;
}

async function setup(): Promise<Setup> {
  const tmp = tempDir();
  const coapPort = await freeUdpPort();
  const args = ['--coap-port', String(coapPort), '--trust', writeTrustedKey(tmp.dir), '--update-backoff', '1', '--quiet'];
  const server = await startServerProcess(tmp.dir, args);
  const counter = await ExecuteCounter.start(() => coapPort);
  return { tmp, coapPort, args, server, counter };
}

async function teardown(s: Setup): Promise<void> {
  await s.device?.stop({ deregister: false });
  await s.server.kill('SIGKILL');
  await s.counter.close();
  s.tmp.remove();
}

function api(s: Setup): { get: <T>(path: string) => Promise<T>; post: <T>(path: string, body: unknown) => Promise<{ status: number; body: T }> } {
  const token = readFileSync(join(s.tmp.dir, 'api-token'), 'utf8').trim();
  const base = (): string => `http://127.0.0.1:${s.server.httpPort}`;
  return {
    get: async <T>(path: string) => (await (await fetch(base() + path, { headers: { authorization: `Bearer ${token}` } })).json()) as T,
    post: async <T>(path: string, body: unknown) => {
      const res = await fetch(base() + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as T };
    },
  };
}

/** Adds a release with the CLI (`firmware add --image --json`); returns its id. */
async function addFirmware(s: Setup, size: number, version: string): Promise<string> {
  const r = release({ size, version });
  writeFileSync(join(s.tmp.dir, 'fw.suit'), r.envelope);
  writeFileSync(join(s.tmp.dir, 'fw.bin'), r.image);
  const out = await runCli(['firmware', 'add', join(s.tmp.dir, 'fw.suit'), '--image', join(s.tmp.dir, 'fw.bin'), '--json', '--server', `http://127.0.0.1:${s.server.httpPort}`, '--data-dir', s.tmp.dir]);
  expect(out.stderr).toBe('');
  return (JSON.parse(out.stdout) as { id: string }).id;
}

async function finishedJob(s: Setup, endpoint: string): Promise<UpdateJobView> {
  return until(
    async () => {
      try {
        const j = await api(s).get<UpdateJobView>(`/api/devices/${endpoint}/update`);
        return j.active ? undefined : j;
      } catch {
        return undefined; // the server is restarting
      }
    },
    60_000,
    'the job to finish',
  );
}

test.each(['pull', 'push'] as const)('SIGKILL during a %s: the job resumes after the restart and the device runs the new firmware, with one Update', async (method) => {
  const s = await setup();
  try {
    const id = await addFirmware(s, 32 * 1024, '2.0.0');
    s.device = await startDevice(s.counter.uri, { blockSize: 16 });
    const started = await api(s).post<UpdateJobView>(`/api/devices/${s.device.endpoint}/update`, { firmware: id, method });
    expect(started.status).toBe(201);
    await s.device.waitFor('blockReceived', (e) => e.what !== 'envelope' && e.num >= 200, 30_000);
    await s.server.kill('SIGKILL');
    const mid = s.device.info();
    expect(mid.state).toBe(1); // still downloading when the server died
    s.server = await startServerProcess(s.tmp.dir, s.args);

    const job = await finishedJob(s, s.device.endpoint);
    expect(job).toMatchObject({ id: started.body.id, state: 'succeeded', updateResult: 1, version: '2.0.0' });
    expect(job.history.some((h) => h.input === 'resumed')).toBe(true);
    expect(s.device.firmwareVersion).toBe('2.0.0');
    expect(s.counter.count()).toBe(1);
  } finally {
    await teardown(s);
  }
});

test('SIGKILL while the device installs: after the restart the job confirms the new version without sending Update again', async () => {
  const s = await setup();
  try {
    const id = await addFirmware(s, 8 * 1024, '3.0.0');
    s.device = await startDevice(s.counter.uri, { blockSize: 256, installDelayMs: 1500, rebootDelayMs: 1000 });
    const started = await api(s).post<UpdateJobView>(`/api/devices/${s.device.endpoint}/update`, { firmware: id });
    expect(started.status).toBe(201);
    await s.device.waitFor('updating', undefined, 30_000);
    await s.server.kill('SIGKILL');
    expect(s.counter.count()).toBe(1);
    s.server = await startServerProcess(s.tmp.dir, s.args);

    const job = await finishedJob(s, s.device.endpoint);
    expect(job).toMatchObject({ id: started.body.id, state: 'succeeded', updateResult: 1, version: '3.0.0' });
    const resumed = job.history.find((h) => h.input === 'resumed');
    expect(['updating', 'rebooting']).toContain(resumed?.state);
    expect(s.device.firmwareVersion).toBe('3.0.0');
    // Exactly one Update reached the device, across the crash.
    expect(s.counter.count()).toBe(1);
    const device = await api(s).get<{ firmwareVersion: string | null }>(`/api/devices/${s.device.endpoint}`);
    expect(device.firmwareVersion).toBe('3.0.0');
  } finally {
    await teardown(s);
  }
});
