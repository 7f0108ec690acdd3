/**
 * Following an update from the command line against `lwm2m-fota serve` (a child process)
 * and an emulated device: `update --wait` across a server restart (a lost event stream is
 * said once, reopened with Last-Event-ID and the job read again), `status --follow` with the
 * same ending as `update --wait`, Ctrl-C that stops following and says the update goes on,
 * and the server's log line per job transition.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmulatedDevice } from '../../src/device';
import type { UpdateJobView } from '../../src/api/views';
import { runCli, type CliResult } from '../helpers/cli';
import { CLI, startServerProcess, type ServerProcess } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';
import { freeUdpPort, freeTcpPort } from '../helpers/ports';
import { release, startDevice, writeTrustedKey } from './update-harness';

jest.setTimeout(150_000);

let tmp: ReturnType<typeof tempDir>;
let coapPort: number;
let httpPort: number;
let args: string[];
let server: ServerProcess;
const devices: EmulatedDevice[] = [];
let firmwareId: string;

const conn = (): string[] => ['--server', `http://127.0.0.1:${httpPort}`, '--data-dir', tmp.dir];

async function device(extra: Parameters<typeof startDevice>[1] = {}): Promise<EmulatedDevice> {
  const d = await startDevice(`coap://[::1]:${coapPort}`, extra);
  devices.push(d);
  return d;
}

/** Runs the CLI as a child we can signal; resolves with its output once it printed `ready`. */
function spawnCli(cliArgs: string[], ready: RegExp): { started: Promise<void>; result: Promise<CliResult>; signal: (s: NodeJS.Signals) => void; output: () => string } {
  const child = spawn(process.execPath, [CLI, ...cliArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LWM2M_FOTA_TOKEN: '' } });
  let stdout = '';
  let stderr = '';
  let seen: () => void = () => {};
  const started = new Promise<void>((resolve) => (seen = resolve));
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (ready.test(stdout)) seen();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<CliResult>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { started, result, signal: (s) => child.kill(s), output: () => `stdout:\n${stdout}\nstderr:\n${stderr}` };
}

/** `p`, or a failure naming `what` (and what the CLI printed) after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what()} not within ${ms} ms`)), ms).unref())]);
}

beforeAll(async () => {
  tmp = tempDir();
  coapPort = await freeUdpPort();
  httpPort = await freeTcpPort();
  // Not --quiet: the log of job transitions is under test too.
  args = ['--coap-port', String(coapPort), '--http-port', String(httpPort), '--trust', writeTrustedKey(tmp.dir), '--update-backoff', '1'];
  server = await startServerProcess(tmp.dir, args);
  const r = release({ size: 32 * 1024, version: '2.0.0', sequence: 10 });
  writeFileSync(join(tmp.dir, 'fw.suit'), r.envelope);
  writeFileSync(join(tmp.dir, 'fw.bin'), r.image);
  const out = await runCli(['firmware', 'add', join(tmp.dir, 'fw.suit'), '--image', join(tmp.dir, 'fw.bin'), '--json', ...conn()]);
  expect(out.stderr).toBe('');
  firmwareId = (JSON.parse(out.stdout) as { id: string }).id;
});

afterAll(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop({ deregister: false })));
  await server.kill();
  tmp.remove();
});

test('update --wait across a server restart says the stream was lost once, reconnects and ends with the job’s success', async () => {
  const d = await device({ blockSize: 16 });
  const waiting = runCli(['update', d.endpoint, '--firmware', firmwareId, '--method', 'pull', '--wait', ...conn()], { LWM2M_FOTA_TOKEN: '' }, 120_000);
  await d.waitFor('blockReceived', (e) => e.what !== 'envelope' && e.num >= 200, 60_000);
  await server.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 1500));
  server = await startServerProcess(tmp.dir, args);
  const out = await waiting;
  expect(out.stderr.trim().split('\n').filter((l) => /event stream lost; reconnecting/.test(l))).toHaveLength(1);
  expect(out.stderr.trim().split('\n')).toHaveLength(1);
  expect(out.code).toBe(0);
  expect(out.stdout).toContain(`${d.endpoint}: update succeeded, now running 2.0.0`);
  expect(d.firmwareVersion).toBe('2.0.0');
});

test('the server logs one line per job transition, the failure with its reason', async () => {
  const log = server.output();
  const id = /update (\S+) (\S+): succeeded \(now running 2\.0\.0\)/.exec(log);
  expect(id).not.toBeNull();
  const [, job, ep] = id!;
  expect(log).toContain(`update ${job} ${ep}: resumed in delivering`);
  expect(log).toMatch(new RegExp(`update ${job} ${ep}: executed`));
  expect(log).toMatch(new RegExp(`update ${job} ${ep}: verifying`));
  // The same firmware again: the device refuses it (sequence number not above the installed one).
  const failed = await runCli(['update', ep!, '--firmware', firmwareId, '--wait', ...conn()], { LWM2M_FOTA_TOKEN: '' }, 60_000);
  expect(failed.code).toBe(1);
  // The failure line once: on stderr, not repeated on stdout.
  expect(failed.stderr.trim().split('\n')).toHaveLength(1);
  expect(failed.stderr).toMatch(/ERR_FOTA_UPDATE_FAILED: .*update failed \(unsupportedPackage/);
  expect(failed.stdout).not.toContain('update failed');
  await server.waitFor(new RegExp(`update \\S+ ${ep}: failed \\(unsupportedPackage, Update Result 6: .+\\)`), 10_000);
  const second = new RegExp(`update (\\S+) ${ep}: queued \\(firmware ${firmwareId.slice(0, 12)}, version 2\\.0\\.0\\)`);
  expect(server.output()).toMatch(second);
  expect(server.output()).toMatch(new RegExp(`update \\S+ ${ep}: delivery started \\((pull|push)\\)`));
});

test('status --follow follows a running job to its end with update --wait’s exit code; on a finished job it ends at once', async () => {
  const d = await device({ blockSize: 64 });
  const started = await runCli(['update', d.endpoint, '--firmware', firmwareId, '--json', ...conn()], { LWM2M_FOTA_TOKEN: '' });
  expect(started.code).toBe(0);
  const out = await runCli(['status', d.endpoint, '--follow', '--json', ...conn()], { LWM2M_FOTA_TOKEN: '' }, 60_000);
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  expect(JSON.parse(out.stdout) as UpdateJobView).toMatchObject({ endpoint: d.endpoint, state: 'succeeded', version: '2.0.0' });
  const again = await runCli(['status', d.endpoint, '--follow', ...conn()], { LWM2M_FOTA_TOKEN: '' });
  expect(again.code).toBe(0);
  expect(again.stdout).toContain(`${d.endpoint}: update succeeded, now running 2.0.0`);
  // A failed job: exit 1 with the failure line, as update --wait.
  const failed = await runCli(['update', d.endpoint, '--firmware', firmwareId, '--wait', ...conn()], { LWM2M_FOTA_TOKEN: '' }, 60_000);
  expect(failed.code).toBe(1);
  const followed = await runCli(['status', d.endpoint, '--follow', ...conn()], { LWM2M_FOTA_TOKEN: '' });
  expect(followed.code).toBe(1);
  expect(followed.stderr).toBe(failed.stderr);
});

test.each([
  ['update --wait', (ep: string) => ['update', ep, '--firmware', firmwareId, '--method', 'pull', '--wait']],
  ['status --follow', (ep: string) => ['status', ep, '--follow']],
])('Ctrl-C in %s stops following, says the update goes on and how to follow it again', async (_name, cmd) => {
  // A slow install keeps the job running while we press Ctrl-C (a delivery is over in a second or two).
  const d = await device({ installDelayMs: 6000 });
  if (cmd(d.endpoint)[0] === 'status') {
    const started = await runCli(['update', d.endpoint, '--firmware', firmwareId, '--method', 'pull', ...conn()], { LWM2M_FOTA_TOKEN: '' });
    expect(started.code).toBe(0);
  }
  const cli = spawnCli([...cmd(d.endpoint), ...conn()], /updating|installing|rebooting/);
  await within(cli.started, 20_000, () => `the install phase in ${cmd(d.endpoint).join(' ')}: ${cli.output()}`);
  cli.signal('SIGINT');
  const out = await within(cli.result, 20_000, () => `the end after SIGINT: ${cli.output()}`);
  expect(out.code).toBe(130);
  expect(out.stderr.trim().split('\n')).toHaveLength(1);
  expect(out.stderr).toMatch(new RegExp(`stopped following ${d.endpoint}; update \\S+ goes on on the server .*lwm2m-fota status ${d.endpoint} --follow`));
  expect(out.stdout).not.toContain('succeeded');
  // It does go on: following it again ends with its success.
  const again = await runCli(['status', d.endpoint, '--follow', ...conn()], { LWM2M_FOTA_TOKEN: '' }, 90_000);
  expect(again.code).toBe(0);
  expect(d.firmwareVersion).toBe('2.0.0');
});
