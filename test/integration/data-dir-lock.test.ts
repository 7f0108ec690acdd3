/**
 * Two `lwm2m-fota serve` on one data directory: the second refuses to start with one
 * stderr line that names the holder, and the first's push goes on unharmed (one Update,
 * the new version confirmed). Before the lock, the second server resumed the same job and
 * pushed blocks beside the first.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmulatedDevice } from '../../src/device';
import { runCli } from '../helpers/cli';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';
import { ExecuteCounter, release, startDevice, until, writeTrustedKey } from './update-harness';

jest.setTimeout(90_000);

interface JobBody {
  id: string;
  state: string;
  active: boolean;
  updateResult?: number | null;
  version?: string | null;
}

test('a second server on the same data directory is refused and the first one\'s push finishes with one Update', async () => {
  const tmp = tempDir();
  let server: ServerProcess | undefined;
  let counter: ExecuteCounter | undefined;
  let device: EmulatedDevice | undefined;
  try {
    const trust = writeTrustedKey(tmp.dir);
    server = await startServerProcess(tmp.dir, ['--trust', trust, '--quiet']);
    const first = server;
    counter = await ExecuteCounter.start(() => first.coapPort);
    const token = readFileSync(join(tmp.dir, 'api-token'), 'utf8').trim();
    const base = `http://127.0.0.1:${server.httpPort}`;
    const r = release({ size: 24 * 1024, version: '2.0.0' });
    writeFileSync(join(tmp.dir, 'fw.suit'), r.envelope);
    writeFileSync(join(tmp.dir, 'fw.bin'), r.image);
    const added = await runCli(['firmware', 'add', join(tmp.dir, 'fw.suit'), '--image', join(tmp.dir, 'fw.bin'), '--json', '--server', base, '--data-dir', tmp.dir]);
    expect(added.stderr).toBe('');
    const id = (JSON.parse(added.stdout) as { id: string }).id;
    device = await startDevice(counter.uri, { blockSize: 16 });
    const started = await fetch(`${base}/api/devices/${device.endpoint}/update`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ firmware: id, method: 'push' }),
    });
    expect(started.status).toBe(201);
    await device.waitFor('blockReceived', (e) => e.what !== 'envelope' && e.num >= 100, 30_000);

    const second = await runCli(['serve', '--data-dir', tmp.dir, '--coap-port', '0', '--http-port', '0', '--trust', trust], { LWM2M_FOTA_TOKEN: '' }, 15_000);
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^lwm2m-fota: ERR_STORE_LOCKED: data directory .* is in use by lwm2m-fota pid ${server.child.pid} `));
    expect(lines[0]).toContain(`coap ${server.coapPort}`);
    expect(second.stdout).not.toMatch(/listening|coap:\/\//);

    const job = await until(
      async () => {
        const res = await fetch(`${base}/api/devices/${device!.endpoint}/update`, { headers: { authorization: `Bearer ${token}` } });
        const body = (await res.json()) as JobBody;
        return body.active ? undefined : body;
      },
      60_000,
      'the job to finish',
    );
    expect(job).toMatchObject({ state: 'succeeded', updateResult: 1, version: '2.0.0' });
    expect(device.firmwareVersion).toBe('2.0.0');
    expect(counter.count()).toBe(1);
  } finally {
    await device?.stop({ deregister: false });
    await server?.kill('SIGKILL');
    await counter?.close();
    tmp.remove();
  }
});
