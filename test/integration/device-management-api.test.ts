/**
 * Device management through the REST API (in-process server) and through the built CLI
 * against a `serve` child process.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createServer, type Lwm2mFotaServer } from '../../src/server';
import { runCli } from '../helpers/cli';
import { FAST, nextEvent, until } from '../helpers/device-management';
import { TestDevice } from '../helpers/lwm2m-test-device';
import { CLI, startServerProcess, type ServerProcess } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';

const TOKEN = 'api-token-for-tests';

describe('REST API of device management', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: Lwm2mFotaServer;
  let device: TestDevice;
  let base: string;

  beforeEach(async () => {
    tmp = tempDir();
    server = await createServer({ dataDir: tmp.dir, coapPort: 0, httpPort: 0, transmission: FAST, token: TOKEN, awakeWindowMs: 300 });
    base = `http://127.0.0.1:${server.api!.address().port}/api/devices`;
    device = await TestDevice.start({ endpoint: 'rest-1', server: { address: '::1', port: server.coap.address().port }, lwm2mVersion: '1.1', transmission: FAST });
    await device.register();
  });
  afterEach(async () => {
    await device.close();
    await server.close();
    tmp.remove();
  });

  async function call(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  it('reads with resource names from the model, in the format asked for', async () => {
    const r = await call('GET', '/rest-1/3/0');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ endpoint: 'rest-1', operation: 'read', code: '2.05', success: true, path: '/3/0', format: 112, formatName: 'senml-cbor' });
    expect(r.json.content.resources[0]).toEqual({ kind: 'resource', path: '/3/0/0', id: 0, name: 'Manufacturer', type: 'string', value: 'Acme' });
    expect(r.json.content.resources.find((x: { id: number }) => x.id === 6)).toEqual({
      kind: 'multipleResource',
      path: '/3/0/6',
      id: 6,
      name: 'Available Power Sources',
      type: 'integer',
      instances: { 0: 1, 1: 5 },
    });
    expect(r.json.content.resources.find((x: { id: number }) => x.id === 13).value).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    const t = await call('GET', '/rest-1/3/0/9?format=text');
    expect(t.json).toMatchObject({ format: 0, formatName: 'text', content: { name: 'Battery Level', value: 87 } });
    const missing = await call('GET', '/rest-1/3/0/21');
    expect(missing.status).toBe(200);
    expect(missing.json).toMatchObject({ code: '4.04', success: false });
  });

  it('writes, executes, creates, deletes, discovers and writes attributes', async () => {
    expect((await call('PUT', '/rest-1/1/0/1', { value: 600 })).json).toMatchObject({ code: '2.04', success: true });
    expect((await call('PUT', '/rest-1/1/0/1', { value: '601' })).json.code).toBe('2.04');
    expect((await call('POST', '/rest-1/1/0', { resources: { 1: 602, 6: true } })).json.code).toBe('2.04');
    expect((await call('GET', '/rest-1/1/0')).json.content.resources.filter((r: { id: number }) => [1, 6].includes(r.id)).map((r: { value: unknown }) => r.value)).toEqual([602, true]);
    expect((await call('PUT', '/rest-1/5/0/0', { value: { hex: 'cafe' } })).json.code).toBe('2.04');
    expect((await call('POST', '/rest-1/3/0/4', { arguments: "0='soon'" })).json).toMatchObject({ operation: 'execute', code: '2.04' });
    expect(device.executed).toEqual([{ path: '/3/0/4', args: "0='soon'" }]);
    const created = await call('POST', '/rest-1/1', { id: 3, resources: { 0: 3, 1: 60, 6: false, 7: 'U' } });
    expect(created.json).toMatchObject({ operation: 'create', code: '2.01', location: '/1/3' });
    expect((await call('DELETE', '/rest-1/1/3')).json).toMatchObject({ operation: 'delete', code: '2.02' });
    const d = await call('GET', '/rest-1/3/0/discover');
    expect(d.json.links).toContainEqual({ uri: '/3/0/7', path: '/3/0/7', attributes: { dim: '2' } });
    expect((await call('PUT', '/rest-1/3/0/9/attributes', { pmin: 5, pmax: 50, lt: null })).json.code).toBe('2.04');
    expect(device.attributes.get('/3/0/9')).toEqual(['pmin=5', 'pmax=50']);
  });

  it('reads and writes composite, and observes through the event log', async () => {
    const r = await call('GET', '/rest-1/composite?paths=/3/0/9,/1/0/1');
    expect(r.json).toMatchObject({ operation: 'readComposite', code: '2.05', paths: ['/3/0/9', '/1/0/1'] });
    expect(r.json.entries.map((e: { path: string }) => e.path).sort()).toEqual(['/1/0/1', '/3/0/9']);
    expect((await call('POST', '/rest-1/composite', { entries: [{ path: '/1/0/1', value: 42 }] })).json.code).toBe('2.04');
    expect(device.get({ level: 'resource', objectId: 1, instanceId: 0, resourceId: 1 })).toMatchObject({ value: 42 });

    const o = await call('POST', '/rest-1/3/0/9/observe');
    expect(o.json).toMatchObject({ operation: 'observe', code: '2.05', content: { value: 87 } });
    const id = o.json.observationId as string;
    expect((await call('GET', '/rest-1/observations')).json.observations).toEqual([
      expect.objectContaining({ observationId: id, endpoint: 'rest-1', kind: 'single', paths: ['/3/0/9'] }),
    ]);
    const n = nextEvent(server, 'notified', (e) => e.data.observationId === id);
    await device.set('/3/0/9', 55);
    expect((await n).data.content).toMatchObject({ value: 55 });
    const c = await call('DELETE', '/rest-1/3/0/9/observe');
    expect(c.json).toMatchObject({ path: '/3/0/9', cancelled: [expect.objectContaining({ observationId: id, code: '2.05' })] });
    expect(device.observations.size).toBe(0);
    const oc = await call('POST', '/rest-1/composite/observe', { paths: ['/3/0/9', '/5/0/3'] });
    expect(oc.json).toMatchObject({ operation: 'observeComposite', code: '2.05' });
    expect((await call('DELETE', `/rest-1/observations/${oc.json.observationId as string}`)).json.code).toBe('2.05');
    expect((await call('DELETE', `/rest-1/observations/${oc.json.observationId as string}`)).status).toBe(404);
  });

  it('answers every bad request with a JSON error, and no answer with 504', async () => {
    const cases: Array<[string, string, unknown, string | undefined, number, string]> = [
      ['PUT', '/rest-1/1/0/1', undefined, 'not json', 400, 'ERR_API_BAD_REQUEST'],
      ['PUT', '/rest-1/1/0/1', undefined, undefined, 400, 'ERR_API_BAD_REQUEST'],
      ['PUT', '/rest-1/1/0/1', { value: 'abc' }, undefined, 400, 'ERR_LWM2M_VALUE'],
      ['PUT', '/rest-1/1/0/1', { instances: { 0: 1 } }, undefined, 400, 'ERR_LWM2M_VALUE'],
      ['PUT', '/rest-1/1/0/1', [1, 2], undefined, 400, 'ERR_LWM2M_VALUE'],
      ['PUT', '/rest-1/1/0', { resources: { 1: 'x' } }, undefined, 400, 'ERR_LWM2M_VALUE'],
      ['PUT', '/rest-1/1/0', 'just a string', undefined, 400, 'ERR_LWM2M_VALUE'],
      ['PUT', '/rest-1/5/0/0', { value: 'not base64!' }, undefined, 400, 'ERR_LWM2M_VALUE'],
      ['POST', '/rest-1/3/0/4', { arguments: 5 }, undefined, 400, 'ERR_API_BAD_REQUEST'],
      ['POST', '/rest-1/1', { resources: 'x' }, undefined, 400, 'ERR_LWM2M_VALUE'],
      ['PUT', '/rest-1/3/0/9/attributes', { pmin: -1 }, undefined, 400, 'ERR_LWM2M_ATTRIBUTES'],
      ['PUT', '/rest-1/3/0/9/attributes', { foo: 1 }, undefined, 400, 'ERR_LWM2M_ATTRIBUTES'],
      ['PUT', '/rest-1/3/0/9/attributes', { pmin: 10, pmax: 5 }, undefined, 400, 'ERR_LWM2M_ATTRIBUTES'],
      ['POST', '/rest-1/composite', { entries: [] }, undefined, 400, 'ERR_LWM2M_VALUE'],
      ['GET', '/rest-1/composite?paths=', undefined, undefined, 400, 'ERR_API_BAD_REQUEST'],
      ['GET', '/rest-1/3/0?format=bogus', undefined, undefined, 400, 'ERR_API_BAD_REQUEST'],
      ['GET', '/rest-1/99/0', undefined, undefined, 400, 'ERR_LWM2M_PATH'],
      ['GET', '/rest-1/3/0/bogus', undefined, undefined, 404, 'ERR_API_NOT_FOUND'],
      ['GET', '/nobody/3/0', undefined, undefined, 404, 'ERR_LWM2M_NOT_REGISTERED'],
      ['GET', '/rest-1/requests/nope', undefined, undefined, 404, 'ERR_LWM2M_REQUEST_NOT_FOUND'],
      ['PATCH', '/rest-1/3/0', undefined, undefined, 405, 'ERR_API_BAD_REQUEST'],
    ];
    for (const [method, path, body, raw, status, code] of cases) {
      const r = await call(method, path, body, raw);
      expect({ method, path, status: r.status, code: r.json?.error?.code }).toEqual({ method, path, status, code });
      expect(typeof r.json.error.message).toBe('string');
    }
    expect(device.get({ level: 'resource', objectId: 1, instanceId: 0, resourceId: 1 })).toMatchObject({ value: 300 });
    await device.close();
    const r = await call('GET', '/rest-1/3/0/9');
    expect(r.status).toBe(504);
    expect(r.json.error.code).toBe('ERR_LWM2M_NO_RESPONSE');
  });

  it('answers 202 with a request id for a sleeping device; the result follows', async () => {
    const sleepy = await TestDevice.start({ endpoint: 'sleepy', server: { address: '::1', port: server.coap.address().port }, lwm2mVersion: '1.0', binding: 'UQ', transmission: FAST });
    try {
      await sleepy.register();
      await new Promise((r) => setTimeout(r, 400));
      const q = await call('PUT', '/sleepy/1/0/1', { value: 120 });
      expect(q.status).toBe(202);
      expect(q.json).toMatchObject({ endpoint: 'sleepy', queued: true, request: { state: 'queued', operation: 'write' } });
      const id = q.json.requestId as string;
      expect((await call('GET', `/sleepy/requests/${id}`)).json).toMatchObject({ id, state: 'queued', request: { operation: 'write', path: '/1/0/1', mode: 'replace' } });
      const completed = nextEvent(server, 'requestCompleted', (e) => e.data.requestId === id);
      await sleepy.update();
      expect((await completed).data.result).toMatchObject({ code: '2.04' });
      const done = await call('GET', `/sleepy/requests/${id}`);
      expect(done.json).toMatchObject({ state: 'completed', result: { operation: 'write', code: '2.04', success: true } });
      expect((await call('GET', '/sleepy/requests')).json.requests.map((r: { id: string }) => r.id)).toEqual([id]);
      await new Promise((r) => setTimeout(r, 400));
      const q2 = await call('GET', '/sleepy/3/0');
      expect(q2.status).toBe(202);
      expect((await call('DELETE', `/sleepy/requests/${q2.json.requestId as string}`)).json.state).toBe('cancelled');
      await sleepy.update();
      await new Promise((r) => setTimeout(r, 100));
      expect(sleepy.seen.filter((s) => s.path === '/3/0')).toEqual([]);
    } finally {
      await sleepy.close();
    }
  });
});

describe('lwm2m-fota CLI against a running serve process', () => {
  let tmp: ReturnType<typeof tempDir>;
  let proc: ServerProcess;
  let device: TestDevice;
  let conn: string[];

  // dist/ is built once before any test runs (jest globalSetup): rebuilding it here would
  // race with other tests' child processes.

  beforeEach(async () => {
    tmp = tempDir();
    proc = await startServerProcess(tmp.dir);
    conn = ['--server', `http://127.0.0.1:${proc.httpPort}`, '--data-dir', tmp.dir];
    device = await TestDevice.start({ endpoint: 'cli-dev', server: { address: '::1', port: proc.coapPort }, lwm2mVersion: '1.0', transmission: FAST });
    await device.register();
  });
  afterEach(async () => {
    await device.close();
    await proc.kill();
    tmp.remove();
  });

  it('prints the Device object with resource names: read <ep> /3/0 --json', async () => {
    const r = await runCli(['read', 'cli-dev', '/3/0', '--json', ...conn]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ endpoint: 'cli-dev', operation: 'read', code: '2.05', path: '/3/0', formatName: 'tlv' });
    const names = Object.fromEntries(out.content.resources.map((x: { name: string; value?: unknown; instances?: unknown }) => [x.name, x.value ?? x.instances]));
    expect(names).toMatchObject({ Manufacturer: 'Acme', 'Model Number': 'T-1', 'Serial Number': 'SN-42', 'Firmware Version': '1.0.0', 'Battery Level': 87, 'Available Power Sources': { 0: 1, 1: 5 } });
    const human = await runCli(['read', 'cli-dev', '/3/0/0', ...conn]);
    expect(human.stdout).toContain('Manufacturer  Acme');
  });

  it('writes, executes, creates, deletes, discovers and sets attributes; a device error exits 1 with one line', async () => {
    expect((await runCli(['write', 'cli-dev', '/1/0/1', '900', ...conn])).code).toBe(0);
    expect(device.get({ level: 'resource', objectId: 1, instanceId: 0, resourceId: 1 })).toMatchObject({ value: 900 });
    expect((await runCli(['write', 'cli-dev', '/1/0', '{"1":901,"6":true}', '--update', ...conn])).code).toBe(0);
    expect(device.get({ level: 'resource', objectId: 1, instanceId: 0, resourceId: 6 })).toMatchObject({ value: true });
    expect((await runCli(['exec', 'cli-dev', '/3/0/4', ...conn])).code).toBe(0);
    expect(device.executed).toHaveLength(1);
    const created = await runCli(['create', 'cli-dev', '/1', '{"0":2,"1":60,"6":false,"7":"U"}', '--id', '2', ...conn]);
    expect(created.stdout).toContain('/1/2');
    expect((await runCli(['delete', 'cli-dev', '/1/2', ...conn])).code).toBe(0);
    const disc = await runCli(['discover', 'cli-dev', '/3/0', ...conn]);
    expect(disc.stdout).toContain('</3/0/6>;dim=2');
    expect((await runCli(['attributes', 'cli-dev', '/3/0/9', 'pmin=5', 'pmax=60', ...conn])).code).toBe(0);
    expect(device.attributes.get('/3/0/9')).toEqual(['pmin=5', 'pmax=60']);
    const bad = await runCli(['write', 'cli-dev', '/3/0/0', 'x', ...conn]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^lwm2m-fota: ERR_LWM2M_ERROR_RESPONSE: cli-dev answered 4\.05 Method Not Allowed/)]);
    const usage = await runCli(['read', 'cli-dev', '3/0', ...conn]);
    expect(usage.code).toBe(2);
  });

  it('observe prints notifications until Ctrl-C, then cancels the observation', async () => {
    const child = spawn(process.execPath, [CLI, 'observe', 'cli-dev', '/3/0/9', '--json', ...conn], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(() => out.split('\n').filter(Boolean).length >= 1, 10_000);
      await device.set('/3/0/9', 61);
      await until(() => out.split('\n').filter(Boolean).length >= 2, 10_000);
      await device.set('/3/0/9', 62);
      await until(() => out.split('\n').filter(Boolean).length >= 3, 10_000);
      const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(lines.map((l) => l.content.value)).toEqual([87, 61, 62]);
      expect(device.observations.size).toBe(1);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(device.observations.size).toBe(0);
  });
});
