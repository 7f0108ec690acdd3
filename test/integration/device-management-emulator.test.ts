/**
 * Device management against the device emulator (src/device) rather than the scripted test
 * device: what `simulate` offers an operator must answer like a real client — Create and
 * Delete of Server (/1) instances, the composite operations, Observe-Composite.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Lwm2mFotaServer } from '../../src/server';
import { createDevice, type EmulatedDevice } from '../../src/device';
import { runCli } from '../helpers/cli';
import { FAST, nextEvent, until } from '../helpers/device-management';
import { CLI, startServerProcess, type ServerProcess } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';

const TOKEN = 'api-token-for-tests';

describe('device management of the emulator', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: Lwm2mFotaServer;
  let device: EmulatedDevice;
  let base: string;

  async function start(lwm2mVersion: '1.0' | '1.1' | '1.2'): Promise<void> {
    device = await createDevice({
      server: `coap://[::1]:${server.coap.address().port}`,
      endpoint: 'emu-1',
      lwm2mVersion,
      packageFormat: 'raw',
      transmission: FAST,
    });
    const registered = nextEvent(server, 'registered', (e) => e.endpoint === 'emu-1');
    await device.start();
    await registered;
  }

  beforeEach(async () => {
    tmp = tempDir();
    server = await createServer({ dataDir: tmp.dir, coapPort: 0, httpPort: 0, transmission: FAST, token: TOKEN });
    base = `http://127.0.0.1:${server.api!.address().port}/api/devices`;
  });
  afterEach(async () => {
    await device?.stop();
    await server.close();
    tmp.remove();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  test.each(['1.0', '1.1', '1.2'] as const)(
    'a %s device creates a Server instance (2.01 + Location-Path), reads, writes, discovers it, announces it in an Update, and deletes it',
    async (version) => {
      await start(version);
      const linksUpdated = nextEvent(server, 'updated', (e) => e.endpoint === 'emu-1' && e.data.objectLinks?.includes('/1/1') === true);
      const created = await call('POST', '/emu-1/1', { id: 1, resources: { 0: 2, 1: 60, 6: false, 7: 'U' } });
      expect(created.json).toMatchObject({ operation: 'create', code: '2.01', success: true, location: '/1/1' });
      await linksUpdated;
      expect((await call('GET', '/emu-1')).json.objectLinks).toEqual(expect.arrayContaining(['/1/0', '/1/1', '/3/0', '/5/0']));

      const read = await call('GET', '/emu-1/1/1');
      expect(read.json).toMatchObject({ code: '2.05', content: { kind: 'objectInstance', id: 1 } });
      expect(Object.fromEntries(read.json.content.resources.map((r: { id: number; value: unknown }) => [r.id, r.value]))).toEqual({ 0: 2, 1: 60, 6: false, 7: 'U' });
      expect((await call('PUT', '/emu-1/1/1/1', { value: 120 })).json.code).toBe('2.04');
      expect((await call('GET', '/emu-1/1/1/1')).json.content.value).toBe(120);
      const links = (await call('GET', '/emu-1/1/discover')).json.links.map((l: { uri: string }) => l.uri);
      expect(links).toEqual(expect.arrayContaining(['/1/0', '/1/1', '/1/1/0', '/1/1/1']));

      // The id exists: 4.00, and nothing changes.
      const again = await call('POST', '/emu-1/1', { id: 1, resources: { 0: 3, 1: 30, 6: true, 7: 'U' } });
      expect(again.json).toMatchObject({ code: '4.00', success: false });
      expect((await call('GET', '/emu-1/1/1/0')).json.content.value).toBe(2);

      const linksGone = nextEvent(server, 'updated', (e) => e.endpoint === 'emu-1' && e.data.objectLinks?.includes('/1/1') === false);
      expect((await call('DELETE', '/emu-1/1/1')).json).toMatchObject({ operation: 'delete', code: '2.02', success: true });
      await linksGone;
      expect((await call('GET', '/emu-1/1/1')).json.code).toBe('4.04');
      expect((await call('DELETE', '/emu-1/1/1')).json.code).toBe('4.04');
    },
  );

  test('without an id the device chooses the lowest free one (TLV); its own instances and /3/0 are not deletable; /3 is not creatable', async () => {
    await start('1.1');
    const created = await call('POST', '/emu-1/1', { resources: { 0: 7, 1: 90, 6: true, 7: 'U' } });
    expect(created.json).toMatchObject({ code: '2.01', location: '/1/1' });
    expect((await call('GET', '/emu-1/1/1/0')).json.content.value).toBe(7);
    expect((await call('DELETE', '/emu-1/3/0')).json.code).toBe('4.05');
    expect((await call('DELETE', '/emu-1/1/0')).json.code).toBe('4.05');
    expect((await call('POST', '/emu-1/3', { id: 1, resources: {} })).json.code).toBe('4.05');
    // A mandatory resource (Binding, /1/x/7) missing: 4.00.
    expect((await call('POST', '/emu-1/1', { id: 4, resources: { 0: 4, 1: 60, 6: false } })).json.code).toBe('4.00');
  });

  test('Read-Composite, Write-Composite and Observe-Composite (a notification when one of the paths changes, then cancel)', async () => {
    await start('1.1');
    const r = await call('GET', '/emu-1/composite?paths=/3/0/9,/1/0/1');
    expect(r.json).toMatchObject({ operation: 'readComposite', code: '2.05', success: true });
    expect(Object.fromEntries(r.json.entries.map((e: { path: string; content: { value: unknown } }) => [e.path, e.content.value]))).toEqual({ '/3/0/9': 100, '/1/0/1': 300 });

    const w = await call('POST', '/emu-1/composite', { entries: [{ path: '/1/0/2', value: 1 }, { path: '/1/0/3', value: 90 }] });
    expect(w.json).toMatchObject({ operation: 'writeComposite', code: '2.04', success: true });
    expect((await call('GET', '/emu-1/1/0/3')).json.content.value).toBe(90);
    // A read-only resource among them: 4.05 and nothing written.
    const refused = await call('POST', '/emu-1/composite', { entries: [{ path: '/1/0/2', value: 5 }, { path: '/3/0/9', value: 1 }] });
    expect(refused.json.code).toBe('4.05');
    expect((await call('GET', '/emu-1/1/0/2')).json.content.value).toBe(1);

    const o = await call('POST', '/emu-1/composite/observe', { paths: ['/3/0/9', '/1/0/3'] });
    expect(o.json).toMatchObject({ operation: 'observeComposite', code: '2.05' });
    const id = o.json.observationId as string;
    expect(typeof id).toBe('string');
    const notified = nextEvent(server, 'notified', (e) => e.data.observationId === id);
    expect((await call('PUT', '/emu-1/1/0/3', { value: 91 })).json.code).toBe('2.04');
    const n = await notified;
    expect(JSON.stringify(n.data)).toContain('91');
    expect((await call('DELETE', `/emu-1/observations/${id}`)).json.code).toBe('2.05');
  });
});

describe('the composite commands of the CLI (read-composite, write-composite, observe-composite)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let proc: ServerProcess;
  let device: EmulatedDevice;
  let conn: string[];

  beforeEach(async () => {
    tmp = tempDir();
    proc = await startServerProcess(tmp.dir);
    conn = ['--server', `http://127.0.0.1:${proc.httpPort}`, '--data-dir', tmp.dir];
    device = await createDevice({ server: `coap://[::1]:${proc.coapPort}`, endpoint: 'cli-emu', packageFormat: 'raw', transmission: FAST });
    await device.start();
  });
  afterEach(async () => {
    await device.stop();
    await proc.kill();
    tmp.remove();
  });

  test('read-composite prints every path (human and --json); write-composite takes path=value or a JSON list', async () => {
    const human = await runCli(['read-composite', 'cli-emu', '/3/0/9', '/1/0/1', ...conn]);
    expect({ code: human.code, stderr: human.stderr }).toEqual({ code: 0, stderr: '' });
    expect(human.stdout).toMatch(/^\/3\/0\/9 \/1\/0\/1  2\.05 Content \(senml-cbor\)\n/);
    expect(human.stdout).toMatch(/\/3\/0\/9  Battery Level  100/);
    expect(human.stdout).toMatch(/\/1\/0\/1  Lifetime  300/);

    const w = await runCli(['write-composite', 'cli-emu', '/1/0/2=1', '/1/0/3=70', ...conn]);
    expect({ code: w.code, stdout: w.stdout }).toEqual({ code: 0, stdout: '/1/0/2 /1/0/3  2.04 Changed (senml-cbor)\n' });
    const j = await runCli(['write-composite', 'cli-emu', '[{"path":"/1/0/3","value":80}]', '--json', ...conn]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ endpoint: 'cli-emu', operation: 'writeComposite', code: '2.04', success: true });

    const r = await runCli(['read-composite', 'cli-emu', '/1/0/2', '/1/0/3', '--json', ...conn]);
    const entries = JSON.parse(r.stdout).entries as Array<{ path: string; content: { value: unknown } }>;
    expect(Object.fromEntries(entries.map((e) => [e.path, e.content.value]))).toEqual({ '/1/0/2': 1, '/1/0/3': 80 });

    // A device's refusal exits 1 with the code; a malformed argument is a usage error (2).
    const refused = await runCli(['write-composite', 'cli-emu', '/3/0/9=5', ...conn]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ERR_LWM2M_ERROR_RESPONSE: cli-emu answered 4\.05 Method Not Allowed to writeComposite/);
    expect((await runCli(['write-composite', 'cli-emu', '/1/0/3', ...conn])).code).toBe(2);
    expect((await runCli(['read-composite', 'cli-emu', '3/0/9', ...conn])).code).toBe(2);
  });

  test('observe-composite prints the paths and each notification until Ctrl-C, then cancels', async () => {
    const child = spawn(process.execPath, [CLI, 'observe-composite', 'cli-emu', '/3/0/9', '/1/0/3', '--json', ...conn], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const lines = (): Array<{ observationId: string; entries: Array<{ path: string; content: { value: unknown } }> }> =>
      out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    try {
      await until(() => lines().length >= 1, 10_000);
      expect(lines()[0]!.entries.map((e) => e.path)).toEqual(['/3/0/9', '/1/0/3']);
      expect((await runCli(['write', 'cli-emu', '/1/0/3', '75', ...conn])).code).toBe(0);
      await until(() => lines().length >= 2, 10_000);
      expect(lines()[1]!.entries.find((e) => e.path === '/1/0/3')?.content.value).toBe(75);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    const left = await fetch(`http://127.0.0.1:${proc.httpPort}/api/devices/cli-emu/observations`, {
      headers: { authorization: `Bearer ${readFileSync(join(tmp.dir, 'api-token'), 'utf8').trim()}` },
    });
    expect(((await left.json()) as { observations: unknown[] }).observations).toEqual([]);
  });
});
