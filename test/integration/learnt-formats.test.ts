/**
 * Issue 20 items 2 and 3: what the server learns about a device's content formats, over
 * real UDP against the test device (LwM2M 1.2).
 *
 * - A Create without an instance id must go as TLV (only TLV carries resources without an
 *   instance); that is what this Create needs, not what the device prefers: afterwards
 *   reads and writes of whole instances still use LwM2M CBOR.
 * - Read/Observe-Composite send their paths in SenML CBOR and ask for LwM2M CBOR with
 *   Accept: a device that emits LwM2M CBOR but does not read it answers at the first try.
 */
import { objectInstance, resource } from '../../src/lwm2m/core/content-formats/node';
import { ContentFormat } from '../../src/lwm2m/core/content-formats/registry';
import { parsePath } from '../../src/lwm2m/core/model/path';
import type { CompositeResponse, CreateResponse, ReadResponse } from '../../src/lwm2m/server/requests/types';
import { createServer, type Lwm2mFotaServer } from '../../src/server';
import { FAST, nextEvent } from '../helpers/device-management';
import { TestDevice } from '../helpers/lwm2m-test-device';
import { tempDir } from '../helpers/tmp';
import { startDevice } from './update-harness';

const F = ContentFormat;
const p = parsePath;

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
const devices: TestDevice[] = [];

beforeAll(async () => {
  tmp = tempDir();
  server = await createServer({ dataDir: tmp.dir, coapPort: 0, httpPort: false, transmission: FAST, token: 't' });
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.close()));
});

afterAll(async () => {
  await server.close();
  tmp.remove();
});

let n = 0;
async function device(extra: Partial<Parameters<typeof TestDevice.start>[0]> = {}): Promise<TestDevice> {
  const d = await TestDevice.start({
    endpoint: `learn-${process.pid}-${++n}`,
    server: { address: '::1', port: server.coap.address().port },
    lwm2mVersion: '1.2',
    transmission: FAST,
    ...extra,
  });
  devices.push(d);
  await d.register();
  // The inventory's read of /3/0/3 after the Register: let it pass before counting requests.
  const deadline = Date.now() + 2000;
  while (!d.seen.some((s) => s.path === '/3/0/3') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return d;
}

describe('a Create without an instance id (TLV)', () => {
  test('leaves the whole-instance format learnt for reads and writes of a 1.2 device: LwM2M CBOR', async () => {
    const d = await device();
    const ep = d.endpoint;
    const read = async () => (await server.devices.perform(ep, { operation: 'read', path: p('/3/0') })) as ReadResponse;
    const write = (lifetime: number) =>
      server.devices.perform(ep, { operation: 'write', mode: 'update', path: p('/1/0'), node: objectInstance(0, [resource(1, 'integer', lifetime)]) });

    expect((await read()).format).toBe(F.Lwm2mCbor);
    expect((await write(301)).code).toBe('2.04');
    expect(d.seen.at(-1)).toMatchObject({ method: 'POST', path: '/1/0', contentFormat: F.Lwm2mCbor });

    const created = (await server.devices.perform(ep, {
      operation: 'create',
      path: p('/1') as never,
      instance: { kind: 'objectInstance', id: undefined, resources: [resource(0, 'integer', 9), resource(1, 'integer', 60), resource(6, 'boolean', true), resource(7, 'string', 'U')] },
    })) as CreateResponse;
    expect(created).toMatchObject({ code: '2.01', location: '/1/1' });
    expect(d.seen.at(-1)).toMatchObject({ method: 'POST', path: '/1', contentFormat: F.Tlv });

    // Reads and writes go on as before the Create.
    const again = await read();
    expect(again).toMatchObject({ code: '2.05', format: F.Lwm2mCbor });
    expect(d.seen.at(-1)).toMatchObject({ method: 'GET', path: '/3/0', accept: F.Lwm2mCbor });
    expect((await write(302)).code).toBe('2.04');
    expect(d.seen.at(-1)).toMatchObject({ method: 'POST', path: '/1/0', contentFormat: F.Lwm2mCbor });
    expect(d.get(p('/1/0/1'))).toEqual(resource(1, 'integer', 302));
    const caps = server.devices.client.capabilities(ep);
    expect(caps.multi).toBe(F.Lwm2mCbor);
    expect(caps.bodies?.multi).toBe(F.Lwm2mCbor);
  });
});

describe('Read- and Observe-Composite to a 1.2 device that emits LwM2M CBOR but reads it in no request', () => {
  const answerOnly = { answerOnlyFormats: [F.Lwm2mCbor] };

  test('the device refuses an LwM2M CBOR body (the emulator mode itself)', async () => {
    const d = await device(answerOnly);
    const res = await server.devices.perform(d.endpoint, { operation: 'readComposite', paths: [p('/3/0/9')], format: F.Lwm2mCbor });
    expect(res.code).toBe('4.15');
  });

  test('Read-Composite: paths in SenML CBOR, Accept LwM2M CBOR, answered at the first try in LwM2M CBOR', async () => {
    const d = await device(answerOnly);
    const before = d.seen.length;
    const r = (await server.devices.perform(d.endpoint, { operation: 'readComposite', paths: [p('/3/0/9'), p('/1/0/1')] })) as CompositeResponse;
    expect(r).toMatchObject({ code: '2.05', success: true, format: F.Lwm2mCbor });
    expect(r.entries?.map((e) => e.node)).toEqual([resource(9, 'integer', 87), resource(1, 'integer', 300)]);
    // One FETCH: no 4.15 round trip.
    expect(d.seen.slice(before)).toEqual([expect.objectContaining({ method: 'FETCH', path: '/', contentFormat: F.SenmlCbor, accept: F.Lwm2mCbor })]);

    // What the answer taught does not make a Write-Composite send LwM2M CBOR.
    const mark = d.seen.length;
    const w = await server.devices.perform(d.endpoint, { operation: 'writeComposite', entries: [{ path: p('/1/0/1'), node: resource(1, 'integer', 444) }] });
    expect(w.code).toBe('2.04');
    expect(d.seen.slice(mark)).toEqual([expect.objectContaining({ method: 'iPATCH', contentFormat: F.SenmlCbor })]);
    // And the next Read-Composite still asks for LwM2M CBOR.
    const again = (await server.devices.perform(d.endpoint, { operation: 'readComposite', paths: [p('/1/0/1')] })) as CompositeResponse;
    expect(again).toMatchObject({ code: '2.05', format: F.Lwm2mCbor });
    expect(d.seen.at(-1)).toMatchObject({ method: 'FETCH', contentFormat: F.SenmlCbor, accept: F.Lwm2mCbor });
  });

  test('Observe-Composite: one FETCH with the paths in SenML CBOR, notifications and the cancel in the same formats', async () => {
    const d = await device(answerOnly);
    const before = d.seen.length;
    const res = (await server.devices.perform(d.endpoint, { operation: 'observeComposite', paths: [p('/3/0/9')] })) as CompositeResponse;
    expect(res).toMatchObject({ code: '2.05', success: true, format: F.Lwm2mCbor });
    expect(d.seen.slice(before)).toEqual([expect.objectContaining({ method: 'FETCH', observe: 0, contentFormat: F.SenmlCbor, accept: F.Lwm2mCbor })]);
    const notified = nextEvent(server, 'notified', (e) => e.data.observationId === res.observationId);
    await d.set('/3/0/9', 12);
    expect((await notified).data).toMatchObject({ format: F.Lwm2mCbor, entries: [{ path: '/3/0/9', content: { value: 12 } }] });
    const cancelled = await server.devices.cancelObservation(res.observationId as string);
    expect(cancelled).toMatchObject({ code: '2.05', success: true });
    expect(d.seen.at(-1)).toMatchObject({ method: 'FETCH', observe: 1, contentFormat: F.SenmlCbor, accept: F.Lwm2mCbor });
    expect(d.observations.size).toBe(0);
  });

  test('an ordinary 1.2 device is asked the same way and answers in LwM2M CBOR', async () => {
    const d = await device();
    const before = d.seen.length;
    const r = (await server.devices.perform(d.endpoint, { operation: 'readComposite', paths: [p('/3/0/9')] })) as CompositeResponse;
    expect(r).toMatchObject({ code: '2.05', format: F.Lwm2mCbor });
    expect(d.seen.slice(before)).toEqual([expect.objectContaining({ method: 'FETCH', contentFormat: F.SenmlCbor, accept: F.Lwm2mCbor })]);
  });
});

describe('the emulator (src/device) as a 1.2 device that answers in LwM2M CBOR but reads it in no request', () => {
  test('a Write steps down to SenML CBOR once; reads stay in LwM2M CBOR, later writes skip the refused format', async () => {
    const d = await startDevice(`coap://[::1]:${server.coap.address().port}`, { lwm2mVersion: '1.2', answerOnlyFormats: [F.Lwm2mCbor] });
    try {
      const ep = d.endpoint;
      const write = (v: number) => server.devices.perform(ep, { operation: 'write', mode: 'update', path: p('/1/0'), node: objectInstance(0, [resource(2, 'integer', v)]) });
      expect(await write(3)).toMatchObject({ code: '2.04', format: F.SenmlCbor });
      // What the Write needed does not change what reads ask for.
      const r = (await server.devices.perform(ep, { operation: 'read', path: p('/1/0') })) as ReadResponse;
      expect(r).toMatchObject({ code: '2.05', format: F.Lwm2mCbor });
      expect(r.content).toMatchObject({ kind: 'objectInstance', resources: expect.arrayContaining([resource(2, 'integer', 3)]) });
      expect(server.devices.client.capabilities(ep)).toMatchObject({ multi: F.Lwm2mCbor, bodies: { multi: F.SenmlCbor } });
      expect(await write(4)).toMatchObject({ code: '2.04', format: F.SenmlCbor });
    } finally {
      await d.stop();
    }
  });
});
