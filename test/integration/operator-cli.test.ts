/**
 * The operator surface against `lwm2m-fota serve` (a child process) and an emulated device:
 * one code for an unknown device, one schema for the device list (CLI and REST), the
 * firmware version in the human listings, Execute refused on a resource that is not
 * executable, `firmware add` of an envelope already there, a refused token named, and the
 * queue-mode awake window of `--awake-window`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCoapEndpoint, type CoapEndpoint } from '../../src/coap';
import type { EmulatedDevice } from '../../src/device';
import { runCli } from '../helpers/cli';
import { startServerProcess, type ServerProcess } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';
import { release, startDevice, until, writeTrustedKey } from './update-harness';

jest.setTimeout(120_000);

let tmp: ReturnType<typeof tempDir>;
let server: ServerProcess;
let token: string;
let d: EmulatedDevice;
let coap: CoapEndpoint | undefined;

const env = { LWM2M_FOTA_TOKEN: '' };
const url = (): string => `http://127.0.0.1:${server.httpPort}`;
const conn = (): string[] => ['--server', url(), '--data-dir', tmp.dir];
const cli = (args: string[], ms?: number): ReturnType<typeof runCli> => runCli([...args, ...conn()], env, ms);

beforeAll(async () => {
  tmp = tempDir();
  server = await startServerProcess(tmp.dir, ['--trust', writeTrustedKey(tmp.dir), '--quiet', '--awake-window', '1']);
  token = readFileSync(join(tmp.dir, 'api-token'), 'utf8').trim();
  d = await startDevice(`coap://[::1]:${server.coapPort}`);
});

afterAll(async () => {
  await coap?.close();
  await d.stop();
  await server.kill();
  tmp.remove();
});

test('an unknown device is ERR_LWM2M_NOT_REGISTERED for devices show, read, status, cancel and exec alike', async () => {
  for (const args of [['devices', 'show', 'nosuch'], ['read', 'nosuch', '/3/0'], ['status', 'nosuch'], ['cancel', 'nosuch'], ['exec', 'nosuch', '/3/0/4']]) {
    const out = await cli(args);
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/^lwm2m-fota: ERR_LWM2M_NOT_REGISTERED: /);
  }
});

test('devices list --json prints the document of GET /api/devices: { "devices": [...] }', async () => {
  const out = await cli(['devices', 'list', '--json']);
  expect(out.code).toBe(0);
  const cliDoc = JSON.parse(out.stdout) as { devices: Array<{ endpoint: string }> };
  const rest = (await (await fetch(`${url()}/api/devices`, { headers: { authorization: `Bearer ${token}` } })).json()) as { devices: Array<{ endpoint: string }> };
  expect(Object.keys(cliDoc)).toEqual(Object.keys(rest));
  expect(cliDoc.devices.map((x) => x.endpoint)).toEqual(rest.devices.map((x) => x.endpoint));
  expect(cliDoc.devices.map((x) => x.endpoint)).toContain(d.endpoint);
});

test('the human devices list and devices show include the firmware version', async () => {
  // The server reads /3/0/3 after the registration.
  const list = await until(async () => {
    const o = await cli(['devices', 'list']);
    return o.stdout.includes('1.0.0') ? o : undefined;
  }, 20_000, 'the firmware version in devices list');
  expect(list.stdout).toMatch(/^ENDPOINT .* FIRMWARE /);
  expect(list.stdout).toMatch(new RegExp(`${d.endpoint} .* 1\\.0\\.0 `));
  const show = await cli(['devices', 'show', d.endpoint]);
  expect(show.code).toBe(0);
  expect(show.stdout).toMatch(/\nfirmware +1\.0\.0\n/);
});

test('exec on a readable, not executable resource is refused as not executable, with or without arguments', async () => {
  for (const extra of [[], ['--args', "0='now'"]]) {
    const out = await cli(['exec', d.endpoint, '/3/0/9', ...extra]);
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/^lwm2m-fota: ERR_LWM2M_NOT_EXECUTABLE: \/3\/0\/9 \(Battery Level\) is not executable/);
  }
  // An executable resource still executes.
  const ok = await cli(['exec', d.endpoint, '/3/0/4']);
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
});

test('firmware add of an envelope already in the repository says so, and --json tells it apart', async () => {
  const r = release({ size: 2048, version: '2.0.0' });
  writeFileSync(join(tmp.dir, 'fw.suit'), r.envelope);
  writeFileSync(join(tmp.dir, 'fw.bin'), r.image);
  const first = await cli(['firmware', 'add', join(tmp.dir, 'fw.suit'), '--image', join(tmp.dir, 'fw.bin'), '--json']);
  expect(first.code).toBe(0);
  expect(JSON.parse(first.stdout)).toMatchObject({ added: true });
  const again = await cli(['firmware', 'add', join(tmp.dir, 'fw.suit'), '--image', join(tmp.dir, 'fw.bin')]);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/^already present [0-9a-f]{64}\n/);
  const json = await cli(['firmware', 'add', join(tmp.dir, 'fw.suit'), '--json']);
  expect(JSON.parse(json.stdout)).toMatchObject({ added: false, id: (JSON.parse(first.stdout) as { id: string }).id });
});

test('a refused token names the file it was read from, or LWM2M_FOTA_TOKEN', async () => {
  const other = tempDir();
  try {
    writeFileSync(join(other.dir, 'api-token'), 'not-the-token\n');
    const fromFile = await runCli(['devices', 'list', '--server', url(), '--data-dir', other.dir], env);
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr.trim().split('\n')).toHaveLength(1);
    expect(fromFile.stderr).toMatch(/^lwm2m-fota: ERR_API_UNAUTHORIZED: /);
    expect(fromFile.stderr).toContain(join(other.dir, 'api-token'));
    const fromEnv = await runCli(['devices', 'list', '--server', url(), '--data-dir', tmp.dir], { LWM2M_FOTA_TOKEN: 'wrong' });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toMatch(/ERR_API_UNAUTHORIZED: .*LWM2M_FOTA_TOKEN/);
  } finally {
    other.remove();
  }
});

test('--awake-window: a queue-mode device silent for longer than the window gets its requests queued', async () => {
  coap = await createCoapEndpoint({ host: '::1', port: 0 });
  const res = await coap.request(
    { address: '::1', port: server.coapPort },
    { method: 'POST', path: 'rd', query: ['ep=sleepy-1', 'lt=300', 'lwm2m=1.1', 'b=U', 'Q'], payload: Buffer.from('</1/0>,</3/0>'), contentFormat: 40 },
  );
  expect(res.code).toBe('2.01');
  // Past the 1 s window (the default is 20 s): asleep, so the read is queued, not sent.
  await new Promise((r) => setTimeout(r, 1500));
  const out = await cli(['read', 'sleepy-1', '/3/0', '--json']);
  expect(out.code).toBe(0);
  expect(JSON.parse(out.stdout)).toMatchObject({ endpoint: 'sleepy-1', queued: true });
});
