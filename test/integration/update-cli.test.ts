/**
 * The operator surface of updates against `lwm2m-fota serve` (child process) and an
 * emulated device: `update --wait --json`, `status`, `cancel`, `devices show` with the
 * firmware version, and the REST routes with their error codes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmulatedDevice } from '../../src/device';
import type { UpdateJobView } from '../../src/api/views';
import { runCli } from '../helpers/cli';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';
import { mainPath, release, startDevice, writeTrustedKey } from './update-harness';

jest.setTimeout(120_000);

let tmp: ReturnType<typeof tempDir>;
let server: ServerProcess;
let token: string;
const devices: EmulatedDevice[] = [];
let firmwareId: string;
let slowFirmwareId: string;

const url = (): string => `http://127.0.0.1:${server.httpPort}`;
const conn = (): string[] => ['--server', url(), '--data-dir', tmp.dir];
const coapUri = (): string => `coap://[::1]:${server.coapPort}`;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url() + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function addFirmware(name: string, size: number, version: string, sequence: number): Promise<string> {
  const r = release({ size, version, sequence });
  writeFileSync(join(tmp.dir, `${name}.suit`), r.envelope);
  writeFileSync(join(tmp.dir, `${name}.bin`), r.image);
  const out = await runCli(['firmware', 'add', join(tmp.dir, `${name}.suit`), '--image', join(tmp.dir, `${name}.bin`), '--json', ...conn()]);
  expect(out.stderr).toBe('');
  return (JSON.parse(out.stdout) as { id: string }).id;
}

async function device(extra: Parameters<typeof startDevice>[1] = {}): Promise<EmulatedDevice> {
  const d = await startDevice(coapUri(), extra);
  devices.push(d);
  return d;
}

beforeAll(async () => {
  tmp = tempDir();
  server = await startServerProcess(tmp.dir, ['--trust', writeTrustedKey(tmp.dir), '--update-backoff', '1', '--quiet']);
  token = readFileSync(join(tmp.dir, 'api-token'), 'utf8').trim();
  firmwareId = await addFirmware('v2', 8 * 1024, '2.0.0', 10);
  // Large and delivered in 16-byte blocks: long enough to be cancelled half way.
  slowFirmwareId = await addFirmware('v3', 128 * 1024, '3.0.0', 11);
});

afterAll(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
  await server.kill();
  tmp.remove();
});

describe('lwm2m-fota update / status / cancel', () => {
  let ep: string;

  test('update --wait --json prints the final job: succeeded, with the version the device reports', async () => {
    const d = await device();
    ep = d.endpoint;
    const out = await runCli(['update', ep, '--firmware', firmwareId, '--wait', '--json', ...conn()], {}, 60_000);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const job = JSON.parse(out.stdout) as UpdateJobView;
    expect(job).toMatchObject({ endpoint: ep, firmware: firmwareId, state: 'succeeded', method: 'pull', updateResult: 1, reason: null, version: '2.0.0', expectedVersion: '2.0.0' });
    expect(mainPath(job.history.map((h) => h.state))).toEqual(['queued', 'delivering', 'updating', 'verifying', 'succeeded']);
    expect(job.history.every((h) => !Number.isNaN(Date.parse(h.at)))).toBe(true);
    expect(d.firmwareVersion).toBe('2.0.0');
  });

  test('status shows the job; devices show --json has the firmware version', async () => {
    const json = await runCli(['status', ep, '--json', ...conn()]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ endpoint: ep, state: 'succeeded', version: '2.0.0' });
    const text = await runCli(['status', ep, ...conn()]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/state\s+succeeded/);
    expect(text.stdout).toMatch(/history:\n(.*\n)*\s+\S+\s+#1\s+verifying\s+\S+/);
    expect(text.stdout).toMatch(/#1\s+succeeded\s+.*Update Result 1/);
    const show = await runCli(['devices', 'show', ep, '--json', ...conn()]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ endpoint: ep, firmwareVersion: '2.0.0' });
  });

  test('a failed update exits non-zero with one stderr line naming the Update Result; plain lines when stdout is not a terminal', async () => {
    // The same firmware again: its sequence number is not above the installed one.
    const out = await runCli(['update', ep, '--firmware', firmwareId, '--wait', ...conn()], {}, 60_000);
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/^lwm2m-fota: ERR_FOTA_UPDATE_FAILED: .*Update Result 6/);
    expect(out.stdout).toMatch(/queued\n/);
    expect(out.stdout).not.toContain('\r');
    const status = JSON.parse((await runCli(['status', ep, '--json', ...conn()])).stdout) as UpdateJobView;
    expect(status).toMatchObject({ state: 'failed', updateResult: 6, reason: 'unsupportedPackage', version: '2.0.0' });
    expect(status.history.find((h) => h.updateResult === 6)?.explanation).toMatch(/Update Result 6/);
  });

  test('cancel without an active update fails with ERR_FOTA_JOB_NOT_FOUND', async () => {
    const out = await runCli(['cancel', ep, ...conn()]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^lwm2m-fota: ERR_FOTA_JOB_NOT_FOUND: /);
  });

  test('update without --wait returns at once; cancel stops the delivery', async () => {
    const d = await device({ blockSize: 16 });
    const started = await runCli(['update', d.endpoint, '--firmware', slowFirmwareId, '--method', 'pull', '--json', ...conn()]);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ endpoint: d.endpoint, state: 'queued', requestedMethod: 'pull' });
    await d.waitFor('blockReceived', (e) => e.what === 'image' && e.num >= 20, 20_000);
    const cancelled = await runCli(['cancel', d.endpoint, '--json', ...conn()]);
    expect(cancelled.stderr).toBe('');
    expect(cancelled.code).toBe(0);
    expect(['cancelling', 'cancelled']).toContain((JSON.parse(cancelled.stdout) as UpdateJobView).state);
    const final = JSON.parse((await runCli(['status', d.endpoint, '--json', ...conn()])).stdout) as UpdateJobView;
    expect(['cancelling', 'cancelled']).toContain(final.state);
    expect(d.firmwareVersion).toBe('1.0.0');
  });

  test('update --wait --timeout stops waiting, ends with status 1 and ERR_CLI_TIMEOUT and leaves the update running', async () => {
    // The device takes 60 s to install: the job is still active when the wait gives up.
    const d = await device({ installDelayMs: 60_000 });
    const started = Date.now();
    const out = await runCli(['update', d.endpoint, '--firmware', firmwareId, '--wait', '--timeout', '2', '--json', ...conn()], {}, 30_000);
    const took = Date.now() - started;
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(new RegExp(`^lwm2m-fota: ERR_CLI_TIMEOUT: ${d.endpoint}: update \\S+ still [a-z]+ after 2 s; it goes on on the server`));
    expect(took).toBeGreaterThanOrEqual(2000);
    const job = JSON.parse(out.stdout) as UpdateJobView;
    expect(job).toMatchObject({ endpoint: d.endpoint, active: true });
    // The wait ended, the update did not.
    const status = JSON.parse((await runCli(['status', d.endpoint, '--json', ...conn()])).stdout) as UpdateJobView;
    expect(status).toMatchObject({ id: job.id, active: true });
  });

  test('--timeout needs --wait and a whole number of seconds', async () => {
    for (const args of [['--timeout', '5'], ['--wait', '--timeout', '0'], ['--wait', '--timeout', 'soon']]) {
      const out = await runCli(['update', ep, '--firmware', firmwareId, ...args, ...conn()]);
      expect(out.code).toBe(2);
      expect(out.stderr).toMatch(/^lwm2m-fota: ERR_CLI_USAGE: .*--timeout/);
    }
  });

  test('--confirm and --contact-timeout are the job\'s: shown by status (JSON and text), the check that confirmed it named', async () => {
    const d = await device();
    const out = await runCli(['update', d.endpoint, '--firmware', firmwareId, '--confirm', 'result', '--contact-timeout', '90', '--wait', '--json', ...conn()], {}, 60_000);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ state: 'succeeded', confirm: 'result', confirmedBy: 'result', contactTimeout: 90_000 });
    const text = await runCli(['status', d.endpoint, ...conn()]);
    expect(text.stdout).toMatch(/confirm by\s+Update Result 1 alone \(confirmed\)/);
    expect(text.stdout).toMatch(/contact wait\s+90 s/);
    expect(text.stdout).toMatch(/succeeded\s+.*confirmed by Update Result 1 alone/);
    // Without the options: the defaults, the server's contact timeout.
    expect(JSON.parse((await runCli(['status', ep, '--json', ...conn()])).stdout)).toMatchObject({ confirm: 'firmwareVersion', contactTimeout: null });
  });

  test('--confirm and --contact-timeout refuse what they do not know: usage error, exit 2, one line', async () => {
    for (const [args, message] of [
      [['--confirm', 'vibes'], /--confirm must be firmwareVersion, pkgVersion or result/],
      [['--contact-timeout', 'soon'], /--contact-timeout/],
      [['--contact-timeout', '-1'], /--contact-timeout/],
    ] as const) {
      const out = await runCli(['update', ep, '--firmware', firmwareId, ...args, ...conn()]);
      expect(out.code).toBe(2);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(out.stderr).toMatch(message);
    }
  });

  test('update --firmware takes a unique prefix of the id, as firmware show does', async () => {
    const d = await device({ blockSize: 16 });
    const started = await runCli(['update', d.endpoint, '--firmware', slowFirmwareId.slice(0, 10).toUpperCase(), '--method', 'push', '--json', ...conn()]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ endpoint: d.endpoint, firmware: slowFirmwareId, state: 'queued' });
    expect((await runCli(['cancel', d.endpoint, ...conn()])).code).toBe(0);
  });

  test('update --firmware with a prefix no firmware has: one stderr line, exit 1', async () => {
    const none = unknownPrefix();
    const out = await runCli(['update', ep, '--firmware', none, ...conn()]);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(`lwm2m-fota: ERR_FOTA_FIRMWARE_NOT_FOUND: no firmware id starts with ${none}\n`);
  });

  test('--method must be pull or push', async () => {
    const out = await runCli(['update', ep, '--firmware', firmwareId, '--method', 'carrier-pigeon', ...conn()]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^lwm2m-fota: ERR_CLI_USAGE: /);
  });
});

/** Eight hex digits that start neither firmware id. */
function unknownPrefix(): string {
  for (let n = 0; ; n++) {
    const p = n.toString(16).padStart(8, '0');
    if (!firmwareId.startsWith(p) && !slowFirmwareId.startsWith(p)) return p;
  }
}

describe('REST /api/firmware/:id takes a unique prefix, as POST …/update does', () => {
  test('200 with the record for a prefix, 404 for a prefix no id has, 400 for one too short or not hex', async () => {
    expect(await call('GET', `/api/firmware/${firmwareId.slice(0, 8)}`)).toMatchObject({ status: 200, body: { id: firmwareId } });
    expect(await call('GET', `/api/firmware/${slowFirmwareId}`)).toMatchObject({ status: 200, body: { id: slowFirmwareId } });
    expect(await call('GET', `/api/firmware/${unknownPrefix()}`)).toMatchObject({ status: 404, body: { error: { code: 'ERR_FOTA_FIRMWARE_NOT_FOUND' } } });
    expect(await call('GET', `/api/firmware/${firmwareId.slice(0, 5)}`)).toMatchObject({ status: 400, body: { error: { code: 'ERR_API_BAD_REQUEST' } } });
    expect(await call('GET', '/api/firmware/not-hex-at-all')).toMatchObject({ status: 400, body: { error: { code: 'ERR_API_BAD_REQUEST' } } });
    // Removal wants the whole id: a prefix that names another firmware tomorrow must not delete it.
    expect(await call('DELETE', `/api/firmware/${firmwareId.slice(0, 8)}`)).toMatchObject({ status: 400, body: { error: { code: 'ERR_API_BAD_REQUEST' } } });
  });
});

describe('REST /api/devices/:ep/update', () => {
  test('400 for a malformed body, 404 for an unknown firmware or device, 409 for a second update, 200 cancel', async () => {
    const d = await device({ blockSize: 16 });
    const path = `/api/devices/${d.endpoint}/update`;
    expect(await call('POST', path, { firmware: 'nope' })).toMatchObject({ status: 400, body: { error: { code: 'ERR_API_BAD_REQUEST' } } });
    expect(await call('POST', path, { firmware: firmwareId, method: 'fax' })).toMatchObject({ status: 400, body: { error: { code: 'ERR_API_BAD_REQUEST' } } });
    expect(await call('POST', path, '{"firmware":')).toMatchObject({ status: 400 });
    for (const bad of [{ confirm: 'vibes' }, { confirm: 3 }, { contactTimeout: -5 }, { contactTimeout: 1.5 }, { contactTimeout: '60' }]) {
      const r = await call('POST', path, { firmware: firmwareId, ...bad });
      expect(r).toMatchObject({ status: 400, body: { error: { code: 'ERR_API_BAD_REQUEST' } } });
      expect((r.body['error'] as { message: string }).message).toMatch(/^"(confirm|contactTimeout)" must be/);
    }
    expect(await call('POST', path, { firmware: 'a'.repeat(64) })).toMatchObject({ status: 404, body: { error: { code: 'ERR_FOTA_FIRMWARE_NOT_FOUND' } } });
    expect(await call('POST', '/api/devices/nobody/update', { firmware: firmwareId })).toMatchObject({ status: 404, body: { error: { code: 'ERR_LWM2M_NOT_REGISTERED' } } });
    expect(await call('GET', path)).toMatchObject({ status: 404, body: { error: { code: 'ERR_FOTA_JOB_NOT_FOUND' } } });

    const first = await call('POST', path, { firmware: slowFirmwareId, method: 'push', confirm: 'pkgVersion', contactTimeout: 0 });
    expect(first).toMatchObject({ status: 201, body: { endpoint: d.endpoint, firmware: slowFirmwareId, state: 'queued', active: true, confirm: 'pkgVersion', confirmedBy: null, contactTimeout: 0 } });
    expect(await call('POST', path, { firmware: slowFirmwareId })).toMatchObject({ status: 409, body: { error: { code: 'ERR_FOTA_JOB_CONFLICT' } } });
    await d.waitFor('blockReceived', (e) => e.num >= 20, 20_000);
    const now = await call('GET', path);
    expect(now).toMatchObject({ status: 200, body: { id: first.body['id'], state: 'delivering', method: 'push' } });
    const all = await call('GET', '/api/updates?active=1');
    expect((all.body['jobs'] as UpdateJobView[]).map((j) => j.endpoint)).toContain(d.endpoint);

    const cancel = await call('DELETE', path);
    expect(cancel.status).toBe(200);
    expect(['cancelling', 'cancelled']).toContain(cancel.body['state']);
    for (let i = 0; i < 50 && (await call('GET', path)).body['state'] !== 'cancelled'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await call('DELETE', path)).toMatchObject({ status: 404, body: { error: { code: 'ERR_FOTA_JOB_NOT_FOUND' } } });
    const recent = await call('GET', '/api/updates?limit=10');
    expect((recent.body['jobs'] as UpdateJobView[]).find((j) => j.id === first.body['id'])).toMatchObject({ state: 'cancelled' });
  });
});
