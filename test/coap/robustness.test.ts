import * as dgram from 'node:dgram';
import { ResponseCode, type IncomingRequest, type Peer } from '../../src/coap';
import { isLwm2mFotaError } from '../../src/errors';
import { MessageType, codeToString, decode, encode } from '../../src/coap/message';
import { RawPeer, closeAll, endpoint, peerOf, sleep } from './helpers';

afterEach(closeAll);

const path = (s: string) => ({ number: 11, value: Buffer.from(s) });

describe('deduplication by (peer, message id)', () => {
  test('a retransmitted CON is answered from memory with the identical response, the handler runs once', async () => {
    const server = await endpoint();
    let calls = 0;
    server.route(['count'], () => ({ code: ResponseCode.Content, payload: Buffer.from(String(++calls)) }));
    const raw = await RawPeer.bind();
    const port = server.address().port;
    raw.sendMessage(port, { type: MessageType.CON, code: 1, mid: 4242, token: Buffer.from('t1'), options: [path('count')] });
    await raw.waitFor(1);
    raw.sendMessage(port, { type: MessageType.CON, code: 1, mid: 4242, token: Buffer.from('t1'), options: [path('count')] });
    const [a, b] = await raw.waitFor(2);
    expect(calls).toBe(1);
    expect(b).toEqual(a);
    expect(a!.payload.toString()).toBe('1');
    // A new message id is a new request.
    raw.sendMessage(port, { type: MessageType.CON, code: 1, mid: 4243, token: Buffer.from('t2'), options: [path('count')] });
    const all = await raw.waitFor(3);
    expect(all[2]!.payload.toString()).toBe('2');
    expect(calls).toBe(2);
  });

  test('a retransmission while a slow handler runs gets an empty ACK, the answer comes once as a separate CON', async () => {
    const server = await endpoint();
    let calls = 0;
    server.route(['slow'], async () => {
      calls++;
      await sleep(250);
      return { code: ResponseCode.Content, payload: Buffer.from('done') };
    });
    const raw = await RawPeer.bind();
    const port = server.address().port;
    const req = { type: MessageType.CON, code: 1, mid: 900, token: Buffer.from('slow'), options: [path('slow')] };
    raw.sendMessage(port, req);
    await sleep(60);
    raw.sendMessage(port, req); // the peer's ACK timeout passed
    const [ack] = await raw.waitFor(1);
    expect(ack!.type).toBe(MessageType.ACK);
    expect(ack!.code).toBe(0);
    expect(ack!.messageId).toBe(900);
    const msgs = await raw.waitFor(2, 2000);
    const sep = msgs[1]!;
    expect(sep.type).toBe(MessageType.CON);
    expect(codeToString(sep.code)).toBe('2.05');
    expect(sep.token.toString()).toBe('slow');
    expect(sep.payload.toString()).toBe('done');
    raw.send(encode(MessageType.ACK, 0, sep.messageId, Buffer.alloc(0), [], undefined), port);
    // Once more after completion: still only an empty ACK, never a second run.
    raw.sendMessage(port, req);
    const after = await raw.waitFor(3);
    expect(after[2]!.type).toBe(MessageType.ACK);
    expect(after[2]!.code).toBe(0);
    await sleep(150); // no retransmission of the acknowledged separate response
    expect(raw.received.length).toBe(3);
    expect(calls).toBe(1);
  });

  test('a handler that finishes within the ACK timeout answers piggybacked, and a late duplicate gets that answer', async () => {
    const server = await endpoint();
    let calls = 0;
    server.route(['s'], async () => {
      calls++;
      await sleep(30);
      return { code: ResponseCode.Content, payload: Buffer.from('p') };
    });
    const raw = await RawPeer.bind();
    const req = { type: MessageType.CON, code: 1, mid: 17, token: Buffer.from('x'), options: [path('s')] };
    raw.sendMessage(server.address().port, req);
    const [m] = await raw.waitFor(1);
    expect(m!.type).toBe(MessageType.ACK);
    expect(m!.payload.toString()).toBe('p');
    raw.sendMessage(server.address().port, req);
    const [, again] = await raw.waitFor(2);
    expect(again).toEqual(m);
    expect(calls).toBe(1);
  });

  test('the remembered exchanges stay bounded by the capacity', async () => {
    const server = await endpoint({ dedupCapacity: 10 });
    let calls = 0;
    server.route([], () => ({ code: ResponseCode.Content, payload: Buffer.from(String(++calls)) }));
    const raw = await RawPeer.bind();
    const port = server.address().port;
    for (let mid = 0; mid < 30; mid++) raw.sendMessage(port, { type: MessageType.CON, code: 1, mid });
    await raw.waitFor(30);
    // mid 0 has been forgotten (capacity 10): it is processed again.
    raw.sendMessage(port, { type: MessageType.CON, code: 1, mid: 0 });
    // mid 29 is still remembered.
    raw.sendMessage(port, { type: MessageType.CON, code: 1, mid: 29 });
    await raw.waitFor(32);
    expect(calls).toBe(31);
  });
});

describe('malformed datagrams', () => {
  test('never crash the endpoint; a CON with a readable header gets RST; the next good request is served', async () => {
    const errors: Error[] = [];
    const server = await endpoint({ onError: (e) => errors.push(e) });
    server.route(['ok'], () => ({ code: ResponseCode.Content, payload: Buffer.from('fine') }));
    const raw = await RawPeer.bind();
    const port = server.address().port;
    const bad = [
      Buffer.alloc(0),
      Buffer.from([0x40]),
      Buffer.from([0x40, 0x01, 0x00]),
      Buffer.from([0x80, 0x01, 0x00, 0x01]), // version 2
      Buffer.from([0x49, 0x01, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9]), // TKL 9 (reserved)
      Buffer.from([0x40, 0x01, 0x00, 0x03, 0xb5, 0x61]), // Uri-Path of 5 bytes, 1 present
      Buffer.from([0x40, 0x01, 0x00, 0x04, 0xff]), // payload marker, no payload
      Buffer.from([0x40, 0x01, 0x00, 0x05, 0xf0, 0x00]), // option delta 15
      Buffer.from([0x40, 0x00, 0x00, 0x06, 0x01]), // Empty message with a body
      Buffer.from([0x50, 0x01, 0x00, 0x07, 0xb5]), // NON, truncated: ignored, no RST
    ];
    for (const b of bad) raw.send(b, port);
    for (let i = 0; i < 200; i++) raw.send(Buffer.from(Array.from({ length: 1 + (i % 40) }, (_, j) => (i * 31 + j * 17) & 0xff)), port);
    raw.sendMessage(port, { type: MessageType.CON, code: 1, mid: 999, token: Buffer.from('g'), options: [path('ok')] });
    const deadline = Date.now() + 2000;
    while (!raw.received.some((r) => r.msg.messageId === 999) && Date.now() < deadline) await sleep(10);
    const good = raw.received.find((r) => r.msg.messageId === 999)!.msg;
    expect(good.payload.toString()).toBe('fine');
    const rsts = raw.received.filter((r) => r.msg.type === MessageType.RST).map((r) => r.msg.messageId);
    expect(rsts).toEqual(expect.arrayContaining([2, 3, 4, 5, 6]));
    expect(rsts).not.toContain(7);
    expect(errors.some((e) => isLwm2mFotaError(e, 'ERR_COAP_MALFORMED'))).toBe(true);
  });

  test('a CON ping (Empty CON) is answered with RST', async () => {
    const server = await endpoint();
    const raw = await RawPeer.bind();
    raw.send(Buffer.from([0x40, 0x00, 0x12, 0x34]), server.address().port);
    const [m] = await raw.waitFor(1);
    expect(m!.type).toBe(MessageType.RST);
    expect(m!.messageId).toBe(0x1234);
  });
});

describe('one socket for serving and asking (NAT)', () => {
  test('a device that only answers datagrams from the server port gets the server request and answers it', async () => {
    const server = await endpoint();
    const serverPort = server.address().port;
    let registeredFrom: Peer | undefined;
    server.route(['rd'], (req: IncomingRequest) => {
      registeredFrom = req.peer;
      return { code: ResponseCode.Created, locationPath: ['rd', 'x1'] };
    });
    // The "device": a plain socket; like a NAT mapping, it drops traffic from any other port.
    const device = dgram.createSocket('udp6');
    await new Promise<void>((r) => device.bind(0, '::1', () => r()));
    let dropped = 0;
    let answered = 0;
    let registered: (() => void) | undefined;
    const registeredP = new Promise<void>((r) => (registered = r));
    device.on('message', (buf, from) => {
      if (from.port !== serverPort) {
        dropped++;
        return;
      }
      const m = decode(buf);
      if (m.type === MessageType.ACK) {
        registered?.();
        return;
      }
      // A request from the server: answer piggybacked.
      answered++;
      device.send(encode(MessageType.ACK, 0x45, m.messageId, m.token, [], Buffer.from('device-data')), from.port, from.address);
    });
    device.send(encode(MessageType.CON, 2, 1, Buffer.from('r'), [path('rd')], Buffer.from('</3/0>')), serverPort, '::1');
    await registeredP;
    expect(registeredFrom?.port).toBe(device.address().port);
    const res = await server.request(registeredFrom!, { method: 'GET', path: '/3/0' });
    expect(res.code).toBe('2.05');
    expect(res.payload.toString()).toBe('device-data');
    expect(answered).toBe(1);
    expect(dropped).toBe(0);
    device.close();
  });
});

describe('dual stack', () => {
  test('an IPv4 peer reaches a dual-stack endpoint as ::ffff:127.0.0.1 and gets answers and requests back', async () => {
    const server = await endpoint({ host: '::' });
    let seen = '';
    server.route([], (req) => {
      seen = req.peer.address;
      return { code: ResponseCode.Content, payload: Buffer.from('v4') };
    });
    const v4 = await endpoint({ host: '127.0.0.1' });
    v4.route(['q'], () => ({ code: ResponseCode.Content, payload: Buffer.from('from-v4') }));
    const res = await v4.request({ address: '127.0.0.1', port: server.address().port }, { method: 'GET', path: 'x' });
    expect(res.payload.toString()).toBe('v4');
    expect(seen).toBe('::ffff:127.0.0.1');
    // Back to the IPv4 peer, in either spelling.
    for (const address of ['::ffff:127.0.0.1', '127.0.0.1']) {
      const back = await server.request({ address, port: v4.address().port }, { method: 'GET', path: 'q' });
      expect(back.payload.toString()).toBe('from-v4');
    }
    // And the udp4 endpoint answers a request addressed with the mapped form.
    const back2 = await v4.request({ address: '::ffff:127.0.0.1', port: server.address().port }, { method: 'GET', path: 'y' });
    expect(back2.code).toBe('2.05');
  });

  test('binding a port that is taken fails with ERR_COAP_BIND (no silent sharing)', async () => {
    const a = await endpoint();
    const err = await endpoint({ port: a.address().port }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_BIND')).toBe(true);
  });
});
