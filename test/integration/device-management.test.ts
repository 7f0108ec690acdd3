/**
 * Every LwM2M operation over real UDP on loopback, against the test device, in every
 * content format the device's LwM2M version allows.
 */
import { isLwm2mFotaError } from '../../src/errors';
import { multipleResource, objectInstance, resource, type Lwm2mNode } from '../../src/lwm2m/core/content-formats/node';
import { ContentFormat } from '../../src/lwm2m/core/content-formats/registry';
import { parsePath } from '../../src/lwm2m/core/model/path';
import type { CompositeResponse, CreateResponse, DiscoverResponse, ReadResponse } from '../../src/lwm2m/server/requests/types';
import { createServer, type Lwm2mFotaServer } from '../../src/server';
import { FAST, codeOf, nextEvent } from '../helpers/device-management';
import { TestDevice, type TestLwm2mVersion } from '../helpers/lwm2m-test-device';
import { tempDir } from '../helpers/tmp';

const F = ContentFormat;
const MULTI = [F.Tlv, F.Lwm2mJson, F.SenmlJson, F.SenmlCbor, F.Lwm2mCbor];
const SINGLE = [F.TextPlain, F.Cbor, ...MULTI];
const BEST_MULTI: Record<TestLwm2mVersion, number> = { '1.0': F.Tlv, '1.1': F.SenmlCbor, '1.2': F.Lwm2mCbor };
const p = parsePath;

async function setup(version: TestLwm2mVersion, extra: Partial<Parameters<typeof TestDevice.start>[0]> = {}) {
  const tmp = tempDir();
  const server = await createServer({ dataDir: tmp.dir, coapPort: 0, httpPort: false, transmission: FAST, token: 't' });
  const device = await TestDevice.start({
    endpoint: `dev-${version}`,
    server: { address: '::1', port: server.coap.address().port },
    lwm2mVersion: version,
    transmission: FAST,
    ...extra,
  });
  await device.register();
  return {
    tmp,
    server,
    device,
    async close() {
      await device.close();
      await server.close();
      tmp.remove();
    },
  };
}

describe.each(['1.0', '1.1', '1.2'] as const)('operations against an LwM2M %s device', (version) => {
  let env: Awaited<ReturnType<typeof setup>>;
  let server: Lwm2mFotaServer;
  let device: TestDevice;
  const ep = `dev-${version}`;

  beforeEach(async () => {
    env = await setup(version);
    server = env.server;
    device = env.device;
  });
  afterEach(async () => env.close());

  const allowed = (list: readonly number[]): number[] => list.filter((f) => device.allowedFormats().includes(f));

  it('reads the Device instance in every multi-value format the device allows', async () => {
    const formats = allowed(MULTI);
    expect(formats.length).toBeGreaterThanOrEqual(version === '1.0' ? 2 : 4);
    for (const f of formats) {
      const res = (await server.devices.perform(ep, { operation: 'read', path: p('/3/0'), format: f })) as ReadResponse;
      expect({ f, code: res.code, format: res.format }).toEqual({ f, code: '2.05', format: f });
      expect(res.content).toEqual(device.get(p('/3/0')));
    }
  });

  it('reads a single resource, a multiple resource and a resource instance in every format that carries them', async () => {
    for (const f of allowed(SINGLE)) {
      const res = (await server.devices.perform(ep, { operation: 'read', path: p('/3/0/0'), format: f })) as ReadResponse;
      expect({ f, code: res.code }).toEqual({ f, code: '2.05' });
      expect(res.content).toEqual(resource(0, 'string', 'Acme'));
    }
    for (const f of allowed(MULTI)) {
      const res = (await server.devices.perform(ep, { operation: 'read', path: p('/3/0/6'), format: f })) as ReadResponse;
      expect(res.content).toEqual(multipleResource(6, 'integer', { 0: 1, 1: 5 }));
      const one = (await server.devices.perform(ep, { operation: 'read', path: p('/3/0/7/1'), format: f })) as ReadResponse;
      expect(one.content).toEqual({ kind: 'resourceInstance', id: 1, type: 'integer', value: 5000 });
    }
  });

  it('asks for the best format of its version when none is given, and reads the whole object', async () => {
    const res = (await server.devices.perform(ep, { operation: 'read', path: p('/3/0') })) as ReadResponse;
    expect(res.format).toBe(BEST_MULTI[version]);
    expect(device.seen.at(-1)?.accept).toBe(BEST_MULTI[version]);
    const single = (await server.devices.perform(ep, { operation: 'read', path: p('/3/0/9') })) as ReadResponse;
    expect(single.content).toEqual(resource(9, 'integer', 87));
    const obj = (await server.devices.perform(ep, { operation: 'read', path: p('/1') })) as ReadResponse;
    expect(obj.content?.kind).toBe('object');
    expect(obj.content).toEqual(device.get(p('/1')));
  });

  it('answers with response codes as values: 4.04 for a missing resource, 4.05 for a read-only one', async () => {
    const missing = await server.devices.perform(ep, { operation: 'read', path: p('/3/0/21') });
    expect(missing).toMatchObject({ code: '4.04', success: false });
    expect((missing as ReadResponse).content).toBeUndefined();
    const ro = await server.devices.perform(ep, { operation: 'write', mode: 'replace', path: p('/3/0/0'), node: resource(0, 'string', 'Evil') });
    expect(ro).toMatchObject({ code: '4.05', success: false, diagnostic: 'resource 0 is not writable' });
    expect(device.get(p('/3/0/0'))).toEqual(resource(0, 'string', 'Acme'));
  });

  it('validates paths against the device model before sending anything', async () => {
    const before = device.seen.length;
    expect(await codeOf(server.devices.perform(ep, { operation: 'read', path: p('/99/0') }))).toBe('ERR_LWM2M_PATH');
    expect(await codeOf(server.devices.perform(ep, { operation: 'read', path: p('/3/1') }))).toBe('ERR_LWM2M_PATH');
    expect(await codeOf(server.devices.perform(ep, { operation: 'execute', path: p('/3/0/0') }))).toBe('ERR_LWM2M_PATH');
    expect(await codeOf(server.devices.perform(ep, { operation: 'delete', path: p('/3') }))).toBe('ERR_LWM2M_PATH');
    expect(await codeOf(server.devices.perform('nobody', { operation: 'read', path: p('/3/0') }))).toBe('ERR_LWM2M_NOT_REGISTERED');
    expect(device.seen.length).toBe(before);
  });

  it('replaces a resource in every format that carries one value', async () => {
    let lifetime = 1000;
    for (const f of allowed(SINGLE)) {
      lifetime += 1;
      const res = await server.devices.perform(ep, { operation: 'write', mode: 'replace', path: p('/1/0/1'), node: resource(1, 'integer', lifetime), format: f });
      expect({ f, code: res.code }).toEqual({ f, code: '2.04' });
      expect(device.seen.at(-1)).toMatchObject({ method: 'PUT', path: '/1/0/1', contentFormat: f });
      expect(device.get(p('/1/0/1'))).toEqual(resource(1, 'integer', lifetime));
    }
  });

  it('updates an instance partially (POST) in every multi-value format, and negotiates without one', async () => {
    let lifetime = 2000;
    for (const f of allowed(MULTI)) {
      lifetime += 1;
      const node = objectInstance(0, [resource(1, 'integer', lifetime), resource(6, 'boolean', lifetime % 2 === 0)]);
      const res = await server.devices.perform(ep, { operation: 'write', mode: 'update', path: p('/1/0'), node, format: f });
      expect({ f, code: res.code }).toEqual({ f, code: '2.04' });
      expect(device.seen.at(-1)).toMatchObject({ method: 'POST', path: '/1/0', contentFormat: f });
      expect(device.get(p('/1/0/1'))).toEqual(resource(1, 'integer', lifetime));
      expect(device.get(p('/1/0/7'))).toEqual(resource(7, 'string', 'U')); // untouched
    }
    const res = await server.devices.perform(ep, { operation: 'write', mode: 'update', path: p('/1/0'), node: objectInstance(0, [resource(1, 'integer', 77)]) });
    expect(res).toMatchObject({ code: '2.04', format: BEST_MULTI[version] });
  });

  it('writes opaque bytes as application/octet-stream', async () => {
    const pkg = Buffer.from('firmware-bytes');
    const res = await server.devices.perform(ep, { operation: 'write', mode: 'replace', path: p('/5/0/0'), node: resource(0, 'opaque', pkg) });
    expect(res.code).toBe('2.04');
    expect(device.seen.at(-1)?.contentFormat).toBe(F.OctetStream);
    expect(device.get(p('/5/0/0'))).toEqual(resource(0, 'opaque', pkg));
  });

  it('executes with and without arguments', async () => {
    expect((await server.devices.perform(ep, { operation: 'execute', path: p('/3/0/4') })).code).toBe('2.04');
    const args = "0='now',1";
    expect((await server.devices.perform(ep, { operation: 'execute', path: p('/5/0/2'), arguments: args })).code).toBe('2.04');
    expect(device.executed).toEqual([
      { path: '/3/0/4', args: '' },
      { path: '/5/0/2', args },
    ]);
    if (version !== '1.0') {
      expect(await codeOf(server.devices.perform(ep, { operation: 'execute', path: p('/3/0/4'), arguments: 'not args' }))).toBe('ERR_LWM2M_VALUE');
    }
  });

  it('creates instances in every multi-value format, lets the device choose an id (TLV), and deletes them', async () => {
    let id = 0;
    for (const f of allowed(MULTI)) {
      id += 1;
      const instance = objectInstance(id, [resource(0, 'integer', 100 + id), resource(1, 'integer', 60), resource(6, 'boolean', false), resource(7, 'string', 'U')]);
      const res = (await server.devices.perform(ep, { operation: 'create', path: p('/1') as never, instance, format: f })) as CreateResponse;
      expect({ f, code: res.code, location: res.location }).toEqual({ f, code: '2.01', location: `/1/${id}` });
      expect(device.get(p(`/1/${id}`))).toEqual(instance);
    }
    const chosen = (await server.devices.perform(ep, {
      operation: 'create',
      path: p('/1') as never,
      instance: { kind: 'objectInstance', id: undefined, resources: [resource(0, 'integer', 9), resource(1, 'integer', 60), resource(6, 'boolean', true), resource(7, 'string', 'U')] },
    })) as CreateResponse;
    expect(chosen.code).toBe('2.01');
    expect(chosen.location).toBe(`/1/${id + 1}`);
    expect(device.seen.at(-1)?.contentFormat).toBe(F.Tlv);
    const del = await server.devices.perform(ep, { operation: 'delete', path: p('/1/1') });
    expect(del).toMatchObject({ code: '2.02', success: true });
    expect(device.get(p('/1/1'))).toBeUndefined();
    expect(await server.devices.perform(ep, { operation: 'delete', path: p('/1/1') })).toMatchObject({ code: '4.04', success: false });
  });

  it('discovers, writes attributes, removes one, and refuses attributes that break the rules', async () => {
    const d = (await server.devices.perform(ep, { operation: 'discover', path: p('/3/0') })) as DiscoverResponse;
    expect(d.code).toBe('2.05');
    expect(d.links?.find((l) => l.uri === '/3/0/6')?.attributes).toEqual([{ name: 'dim', value: '2' }]);
    const w = await server.devices.perform(ep, {
      operation: 'writeAttributes',
      path: p('/3/0/9'),
      attributes: { pmin: 10, pmax: 60, gt: 80, lt: 20.5, st: 5, epmin: 1, epmax: 30 },
    });
    expect(w.code).toBe('2.04');
    expect(device.seen.at(-1)?.query).toEqual(['pmin=10', 'pmax=60', 'gt=80', 'lt=20.5', 'st=5', 'epmin=1', 'epmax=30']);
    await server.devices.perform(ep, { operation: 'writeAttributes', path: p('/3/0/9'), attributes: { lt: null } });
    expect(device.seen.at(-1)?.query).toEqual(['lt']);
    const d2 = (await server.devices.perform(ep, { operation: 'discover', path: p('/3/0/9') })) as DiscoverResponse;
    expect(d2.links?.[0]?.attributes.map((a) => a.name)).toEqual(['pmin', 'pmax', 'gt', 'st', 'epmin', 'epmax']);
    expect(await codeOf(server.devices.perform(ep, { operation: 'writeAttributes', path: p('/3/0/9'), attributes: { gt: 10, lt: 20 } }))).toBe('ERR_LWM2M_ATTRIBUTES');
    expect(await codeOf(server.devices.perform(ep, { operation: 'writeAttributes', path: p('/3/0/0'), attributes: { gt: 1 } }))).toBe('ERR_LWM2M_ATTRIBUTES');
  });

  it('observes a resource: notifications become events, cancel tells the device', async () => {
    const res = (await server.devices.submit(ep, { operation: 'observe', path: p('/3/0/9') })) as { queued: false; response: ReadResponse };
    expect(res.response).toMatchObject({ code: '2.05', success: true, content: resource(9, 'integer', 87) });
    const id = res.response.observationId as string;
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect((await server.store.observations.get(id))?.paths).toEqual(['/3/0/9']);
    const notified = nextEvent(server, 'notified', (e) => e.data.observationId === id);
    await device.set('/3/0/9', 42);
    const e = await notified;
    expect(e.endpoint).toBe(ep);
    expect(e.data).toMatchObject({ code: '2.05', path: '/3/0/9', content: { kind: 'resource', name: 'Battery Level', type: 'integer', value: 42 } });
    const cancelled = nextEvent(server, 'observationCancelled', (x) => x.data.observationId === id);
    expect((await server.devices.cancelObservation(id)).code).toBe('2.05');
    expect((await cancelled).data.reason).toBe('cancelled');
    expect(device.observations.size).toBe(0);
    expect(await server.store.observations.get(id)).toBeUndefined();
  });

  it('observes an instance in each multi-value format the device allows', async () => {
    for (const f of allowed(MULTI)) {
      const res = (await server.devices.perform(ep, { operation: 'observe', path: p('/5/0'), format: f })) as ReadResponse;
      expect({ f, code: res.code, format: res.format }).toEqual({ f, code: '2.05', format: f });
      const id = res.observationId as string;
      const notified = nextEvent(server, 'notified', (e) => e.data.observationId === id);
      await device.set('/5/0/3', 1);
      const e = await notified;
      expect(e.data.format).toBe(f);
      expect((e.data.content as { resources: Array<{ id: number; value: unknown }> }).resources.find((r) => r.id === 3)?.value).toBe(1);
      await server.devices.cancelObservation(id);
      await device.set('/5/0/3', 0);
    }
  });

  if (version === '1.0') {
    it('refuses composite operations for a 1.0 device before sending anything', async () => {
      const before = device.seen.length;
      expect(await codeOf(server.devices.perform(ep, { operation: 'readComposite', paths: [p('/3/0/9')] }))).toBe('ERR_LWM2M_UNSUPPORTED_FORMAT');
      expect(await codeOf(server.devices.perform(ep, { operation: 'observeComposite', paths: [p('/3/0/9')] }))).toBe('ERR_LWM2M_UNSUPPORTED_FORMAT');
      expect(device.seen.length).toBe(before);
    });
  } else {
    it('reads and writes composite in every composite format the device allows', async () => {
      const formats = allowed([F.SenmlJson, F.SenmlCbor, F.Lwm2mCbor]);
      expect(formats.length).toBe(version === '1.1' ? 2 : 3);
      let lifetime = 500;
      for (const f of formats) {
        const r = (await server.devices.perform(ep, { operation: 'readComposite', paths: [p('/3/0/9'), p('/1/0/1'), p('/3/0/6')], format: f })) as CompositeResponse;
        expect({ f, code: r.code }).toEqual({ f, code: '2.05' });
        expect(device.seen.at(-1)).toMatchObject({ method: 'FETCH', path: '/', contentFormat: f, accept: f });
        expect(r.entries?.length).toBe(3);
        expect(r.entries?.map((e) => e.node)).toEqual(
          expect.arrayContaining([resource(9, 'integer', 87), multipleResource(6, 'integer', { 0: 1, 1: 5 }), device.get(p('/1/0/1')) as Lwm2mNode]),
        );
        lifetime += 1;
        const w = await server.devices.perform(ep, {
          operation: 'writeComposite',
          entries: [
            { path: p('/1/0/1'), node: resource(1, 'integer', lifetime) },
            { path: p('/3/0/14'), node: resource(14, 'string', `+0${lifetime % 10}:00`) },
          ],
          format: f,
        });
        expect(w.code).toBe('2.04');
        expect(device.seen.at(-1)).toMatchObject({ method: 'iPATCH', contentFormat: f });
        expect(device.get(p('/1/0/1'))).toEqual(resource(1, 'integer', lifetime));
      }
      const negotiated = (await server.devices.perform(ep, { operation: 'readComposite', paths: [p('/3/0/9')] })) as CompositeResponse;
      expect(negotiated.format).toBe(version === '1.2' ? F.Lwm2mCbor : F.SenmlCbor);
    });

    it('observes composite: one notification carries every path', async () => {
      const res = (await server.devices.perform(ep, { operation: 'observeComposite', paths: [p('/3/0/9'), p('/5/0/3')] })) as CompositeResponse;
      expect(res.code).toBe('2.05');
      const id = res.observationId as string;
      expect(id).toBeDefined();
      expect(device.seen.at(-1)).toMatchObject({ method: 'FETCH', observe: 0 });
      const notified = nextEvent(server, 'notified', (e) => e.data.observationId === id);
      await device.set('/3/0/9', 12);
      const e = await notified;
      expect(e.data.entries).toEqual([
        { path: '/3/0/9', content: { kind: 'resource', path: '/3/0/9', id: 9, name: 'Battery Level', type: 'integer', value: 12 } },
        { path: '/5/0/3', content: { kind: 'resource', path: '/5/0/3', id: 3, name: 'State', type: 'integer', value: 0 } },
      ]);
      await server.devices.cancelObservation(id);
      expect(device.seen.at(-1)).toMatchObject({ method: 'FETCH', observe: 1 });
      expect(device.observations.size).toBe(0);
    });
  }

  it('says ERR_LWM2M_NO_RESPONSE when the device does not answer', async () => {
    await device.close();
    const err = await server.devices.perform(ep, { operation: 'read', path: p('/3/0/9') }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_LWM2M_NO_RESPONSE')).toBe(true);
    expect((err as { context: { endpoint: string } }).context.endpoint).toBe(ep);
  });
});

describe('an old LwM2M 1.0 device that speaks only text/plain', () => {
  it.each(['4.06', '4.04'] as const)('is read resource by resource when it refuses a whole instance with %s, and remembered', async (refusal) => {
    const env = await setup('1.0', { textOnly: true, treeRefusal: refusal });
    try {
      const { server, device } = env;
      const res = (await server.devices.perform('dev-1.0', { operation: 'read', path: p('/3/0') })) as ReadResponse;
      expect(res).toMatchObject({ code: '2.05', success: true, format: F.TextPlain, fallback: 'perResource' });
      expect(res.content).toEqual(device.get(p('/3/0')));
      expect(server.devices.client.capabilities('dev-1.0').textOnly).toBe(true);
      // Every value travelled as text/plain, one resource (instance) at a time.
      expect(device.seen.filter((s) => s.method === 'GET' && s.accept === F.TextPlain).length).toBeGreaterThan(10);
      const firstRound = device.seen.length;
      const again = (await server.devices.perform('dev-1.0', { operation: 'read', path: p('/1/0') })) as ReadResponse;
      expect(again.content).toEqual(device.get(p('/1/0')));
      // Remembered: no more TLV attempts for trees.
      expect(device.seen.slice(firstRound).some((s) => s.accept === F.Tlv)).toBe(false);
      const whole = (await server.devices.perform('dev-1.0', { operation: 'read', path: p('/3') })) as ReadResponse;
      expect(whole.content).toEqual(device.get(p('/3')));
      const missing = await server.devices.perform('dev-1.0', { operation: 'read', path: p('/1/7') });
      expect(missing.code).toBe('4.04');
      const w = await server.devices.perform('dev-1.0', {
        operation: 'write',
        mode: 'update',
        path: p('/1/0'),
        node: objectInstance(0, [resource(1, 'integer', 900), resource(6, 'boolean', true)]),
      });
      expect(w).toMatchObject({ code: '2.04', fallback: 'perResource' });
      expect(device.get(p('/1/0/1'))).toEqual(resource(1, 'integer', 900));
      expect(device.get(p('/1/0/6'))).toEqual(resource(6, 'boolean', true));
      const single = (await server.devices.perform('dev-1.0', { operation: 'read', path: p('/3/0/1') })) as ReadResponse;
      expect(single.content).toEqual(resource(1, 'string', 'T-1'));
    } finally {
      await env.close();
    }
  });
});

describe('Send (POST /dp)', () => {
  it.each([
    ['1.1', F.SenmlJson],
    ['1.1', F.SenmlCbor],
    ['1.2', F.Lwm2mCbor],
  ] as const)('takes a %s device\'s values in format %i and publishes them as an event', async (version, format) => {
    const env = await setup(version);
    try {
      const sent = nextEvent(env.server, 'dataSent');
      expect(await env.device.send(['/3/0/9', '/3/0/6', '/1/0/1'], format)).toBe('2.04');
      const e = await sent;
      expect(e.endpoint).toBe(`dev-${version}`);
      expect(e.data.format).toBe(format);
      const entries = e.data.entries as Array<{ path: string; content: { name?: string; value: unknown } }>;
      expect(Object.fromEntries(entries.map((x) => [x.path, x.content.value]))).toEqual({ '/3/0/9': 87, '/3/0/6/0': 1, '/3/0/6/1': 5, '/1/0/1': 300 });
      expect(entries.find((x) => x.path === '/3/0/9')?.content.name).toBe('Battery Level');
    } finally {
      await env.close();
    }
  });

  it('answers 4.15 to another format, 4.00 to a payload that does not decode, 4.04 to a peer that is not registered', async () => {
    const env = await setup('1.1');
    try {
      const server = { address: '::1', port: env.server.coap.address().port };
      const c = env.device.coap;
      expect((await c.request(server, { method: 'POST', path: '/dp', payload: Buffer.from('87'), contentFormat: F.TextPlain })).code).toBe('4.15');
      expect((await c.request(server, { method: 'POST', path: '/dp', payload: Buffer.from('[{"n":'), contentFormat: F.SenmlJson })).code).toBe('4.00');
      expect((await c.request(server, { method: 'GET', path: '/dp' })).code).toBe('4.05');
      const stranger = await TestDevice.start({ endpoint: 'x', server, transmission: FAST });
      try {
        expect(await stranger.send(['/3/0/9'])).toBe('4.04');
      } finally {
        await stranger.close();
      }
      expect((await env.server.events.since(0)).filter((e) => e.type === 'dataSent')).toEqual([]);
    } finally {
      await env.close();
    }
  });
});
