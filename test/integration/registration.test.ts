import { createSocket, type Socket } from 'node:dgram';
import * as packet from 'coap-packet';
import { createCoapEndpoint } from '../../src/coap';
import type { CoapEndpoint, IncomingResponse } from '../../src/coap/types';
import { createServer, type Lwm2mFotaServer } from '../../src/server';
import { isEvent, type EventName, type TypedEvent } from '../../src/events';
import { tempDir } from '../helpers/tmp';

const FAST = { ackTimeoutMs: 200, ackRandomFactor: 1.0, maxRetransmit: 2 };
const LINKS = Buffer.from('</1/0>,</3/0>,</5/0>');

describe('registration over real UDP on loopback', () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: Lwm2mFotaServer;
  let device: CoapEndpoint;
  let rd: { address: string; port: number };

  beforeEach(async () => {
    tmp = tempDir();
    server = await createServer({ dataDir: tmp.dir, coapPort: 0, coapHost: '::', httpPort: false, expirySweepMs: 50, transmission: FAST });
    device = await createCoapEndpoint({ port: 0, host: '::1', transmission: FAST });
    rd = { address: '::1', port: server.coap.address().port };
  });
  afterEach(async () => {
    await device.close();
    await server.close();
    tmp.remove();
  });

  const post = (path: string, query: string[], payload: Buffer = LINKS): Promise<IncomingResponse> =>
    device.request(rd, { method: 'POST', path, query, payload, contentFormat: 40 });

  function nextEvent<K extends EventName>(type: K): Promise<TypedEvent<K>> {
    return new Promise((resolve) => {
      const off = server.events.subscribe((e) => {
        if (isEvent(e, type)) {
          off();
          resolve(e);
        }
      });
    });
  }

  it('registers, updates and de-registers a device', async () => {
    const reg = await post('/rd', ['ep=node-1', 'lt=300', 'lwm2m=1.1', 'b=U']);
    expect(reg.code).toBe('2.01');
    expect(reg.locationPath[0]).toBe('rd');
    const id = reg.locationPath[1]!;
    const rec = server.registrations.get('node-1')!;
    expect(rec.registrationId).toBe(id);
    expect(rec.address).toBe('::1');
    expect(rec.port).toBe(device.address().port);

    const upd = await post(`/rd/${id}`, ['lt=600'], Buffer.alloc(0));
    expect(upd.code).toBe('2.04');
    expect(server.registrations.get('node-1')!.lifetime).toBe(600);

    const del = await device.request(rd, { method: 'DELETE', path: `/rd/${id}` });
    expect(del.code).toBe('2.02');
    expect(server.registrations.get('node-1')).toBeUndefined();
    expect(await server.store.registrations.get('node-1')).toBeUndefined();
    expect((await server.events.since(0)).map((e) => e.type)).toEqual(['registered', 'updated', 'deregistered']);
  });

  it('expires a device that stays silent past its lifetime and says so', async () => {
    const expired = nextEvent('expired');
    const reg = await post('/rd', ['ep=short', 'lt=1']);
    expect(reg.code).toBe('2.01');
    const e = await expired;
    expect(e.endpoint).toBe('short');
    expect(server.registrations.get('short')).toBeUndefined();
  });

  it('keeps a device that updates before its lifetime runs out', async () => {
    const id = (await post('/rd', ['ep=alive', 'lt=1'])).locationPath[1]!;
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 600));
      expect((await post(`/rd/${id}`, [], Buffer.alloc(0))).code).toBe('2.04');
    }
    expect(server.registrations.get('alive')).toBeDefined();
  });

  it('answers every bad request with 4.xx and a diagnostic, then serves the next good one', async () => {
    const cases: Array<[string, string[], Buffer, string]> = [
      ['/rd', ['lt=300'], LINKS, '4.00'],
      ['/rd', ['ep=bad', 'lt=abc'], LINKS, '4.00'],
      ['/rd', ['ep=bad'], Buffer.from('</1/0'), '4.00'],
      ['/rd/doesnotexist', [], Buffer.alloc(0), '4.04'],
      ['/rd', ['ep=bad', 'lwm2m=7.0'], LINKS, '4.12'],
      ['/rd', ['ep=bad'], Buffer.alloc(20000, 0x41), '4.13'],
    ];
    for (const [path, query, payload, code] of cases) {
      const res = await device.request(rd, { method: 'POST', path, query, payload, contentFormat: 40, block1Size: 1024 });
      expect([path, query.join('&'), res.code]).toEqual([path, query.join('&'), code]);
      if (code !== '4.13') expect(res.payload.length).toBeGreaterThan(0);
      expect(server.registrations.count()).toBe(0);
    }
    const good = await post('/rd', ['ep=good']);
    expect(good.code).toBe('2.01');
    expect(await server.store.registrations.count()).toBe(1);
  });

  it('survives malformed datagrams and keeps serving', async () => {
    const sock = createSocket('udp6');
    await new Promise<void>((r) => sock.bind(0, '::1', () => r()));
    for (const junk of [Buffer.from([0xff]), Buffer.from([0x40, 0x01]), Buffer.alloc(64, 0xee), Buffer.from('hello world')]) {
      sock.send(junk, rd.port, '::1');
    }
    sock.close();
    const res = await post('/rd', ['ep=after-junk']);
    expect(res.code).toBe('2.01');
  });

  it('reaches a device behind a NAT: the request leaves from the port the device registered to', async () => {
    // The "device" is a bare UDP socket that, like a NAT mapping, only accepts datagrams from the server's port.
    const nat: Socket = createSocket('udp6');
    await new Promise<void>((r) => nat.bind(0, '::1', () => r()));
    const serverPort = rd.port;
    const seen: Array<{ port: number; path: string }> = [];
    const registered = new Promise<string>((resolve) => {
      nat.on('message', (msg, rinfo) => {
        if (rinfo.port !== serverPort) return; // dropped by the "NAT"
        const p = packet.parse(msg);
        if (p.ack && p.code === '2.01') {
          const loc = p.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString());
          resolve(loc.join('/'));
          return;
        }
        const path = p.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString()).join('/');
        seen.push({ port: rinfo.port, path });
        const reply = packet.generate({
          messageId: p.messageId,
          token: p.token,
          code: '2.05',
          ack: true,
          payload: Buffer.from('Acme'),
          options: [{ name: 'Content-Format', value: Buffer.from([0]) }],
        });
        nat.send(reply, rinfo.port, rinfo.address);
      });
    });
    const reg = packet.generate({
      messageId: 0x1234,
      token: Buffer.from([1, 2, 3, 4]),
      code: 'POST',
      confirmable: true,
      payload: LINKS,
      options: [
        { name: 'Uri-Path', value: Buffer.from('rd') },
        { name: 'Content-Format', value: Buffer.from([40]) },
        { name: 'Uri-Query', value: Buffer.from('ep=natted') },
        { name: 'Uri-Query', value: Buffer.from('lt=300') },
      ],
    });
    nat.send(reg, serverPort, '::1');
    expect(await registered).toMatch(/^rd\//);
    const peer = server.registrations.peerOf('natted')!;
    expect(peer.port).toBe((nat.address() as { port: number }).port);
    const res = await server.coap.request(peer, { method: 'GET', path: '/3/0/0' });
    expect(res.code).toBe('2.05');
    expect(res.payload.toString()).toBe('Acme');
    // The server may read other resources after a registration (e.g. /3/0/3); every request
    // it sent reached the device from its own port, ours among them.
    expect(seen).toContainEqual({ port: serverPort, path: '3/0/0' });
    expect(seen.every((s) => s.port === serverPort)).toBe(true);
    nat.close();
  });

  it('accepts an IPv4 device on the dual-stack endpoint', async () => {
    const v4 = await createCoapEndpoint({ port: 0, host: '127.0.0.1', transmission: FAST });
    try {
      const res = await v4.request({ address: '127.0.0.1', port: rd.port }, { method: 'POST', path: '/rd', query: ['ep=v4'], payload: LINKS, contentFormat: 40 });
      expect(res.code).toBe('2.01');
      expect(server.registrations.get('v4')!.address).toBe('::ffff:127.0.0.1');
    } finally {
      await v4.close();
    }
  });
});
