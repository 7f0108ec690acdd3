import { isLwm2mFotaError } from '../../src/errors';
import { ResponseCode } from '../../src/coap';
import { MessageType, codeToString } from '../../src/coap/message';
import { RawPeer, closeAll, endpoint, peerOf, sleep } from './helpers';

afterEach(closeAll);

describe('requests and responses', () => {
  test('a CON GET gets a piggybacked 2.05 from the matching route, and the server can ask the client back', async () => {
    const server = await endpoint();
    const client = await endpoint();
    server.route(['hello'], (req) => ({ code: ResponseCode.Content, payload: Buffer.from(`hi ${req.query.join('&')}`), contentFormat: 0 }));
    client.route(['back'], () => ({ code: ResponseCode.Changed, payload: Buffer.from('ok') }));
    const res = await client.request(peerOf(server), { method: 'GET', path: '/hello', query: ['a=1'] });
    expect(res.code).toBe('2.05');
    expect(res.payload.toString()).toBe('hi a=1');
    expect(res.contentFormat).toBe(0);
    const back = await server.request(peerOf(client), { method: 'POST', path: ['back'], payload: Buffer.from('x') });
    expect(back.code).toBe('2.04');
    expect(back.payload.toString()).toBe('ok');
  });

  test.each([
    ['synchronous', false],
    ['asynchronous', true],
  ] as const)('onSent of a %s handler runs once its answer left: a request it makes follows the ACK on the wire', async (_kind, later) => {
    const server = await endpoint();
    let calls = 0;
    server.route(['rd'], (req) => {
      const res = {
        code: ResponseCode.Created,
        onSent: () => {
          calls++;
          void server.request(req.peer, { method: 'GET', path: '/3/0/3' }).catch(() => undefined);
        },
      };
      return later ? Promise.resolve(res) : res;
    });
    const raw = await RawPeer.bind();
    raw.sendMessage(server.address().port, { type: MessageType.CON, code: 2, mid: 31, token: Buffer.from([7]), options: [{ number: 11, value: Buffer.from('rd') }] });
    await raw.waitFor(2);
    const [first, second] = raw.received.map((r) => r.msg);
    expect({ type: first!.type, code: codeToString(first!.code), mid: first!.messageId }).toEqual({ type: MessageType.ACK, code: '2.01', mid: 31 });
    expect({ type: second!.type, code: codeToString(second!.code) }).toEqual({ type: MessageType.CON, code: '0.01' });
    // A duplicate is answered from the cache: no second follow-up.
    raw.sendMessage(server.address().port, { type: MessageType.CON, code: 2, mid: 31, token: Buffer.from([7]), options: [{ number: 11, value: Buffer.from('rd') }] });
    await raw.waitFor(3);
    await sleep(20);
    expect(calls).toBe(1);
  });

  test('a NON request gets a NON response', async () => {
    const server = await endpoint();
    server.route([], () => ({ code: ResponseCode.Content, payload: Buffer.from('non') }));
    const raw = await RawPeer.bind();
    raw.sendMessage(server.address().port, { type: MessageType.NON, code: 1, mid: 77, token: Buffer.from([1, 2]) });
    const [m] = await raw.waitFor(1);
    expect(m?.type).toBe(MessageType.NON);
    expect(m?.token).toEqual(Buffer.from([1, 2]));
    expect(m?.payload.toString()).toBe('non');
    const client = await endpoint();
    const res = await client.request(peerOf(server), { method: 'GET', path: 'x', confirmable: false });
    expect(res.payload.toString()).toBe('non');
  });

  test('an unknown path gets 4.04 and the longest matching prefix wins', async () => {
    const server = await endpoint();
    server.route(['a'], () => ({ code: ResponseCode.Content, payload: Buffer.from('a') }));
    server.route(['a', 'b'], () => ({ code: ResponseCode.Content, payload: Buffer.from('ab') }));
    const client = await endpoint();
    expect((await client.request(peerOf(server), { method: 'GET', path: '/a/b/c' })).payload.toString()).toBe('ab');
    expect((await client.request(peerOf(server), { method: 'GET', path: '/a/x' })).payload.toString()).toBe('a');
    expect((await client.request(peerOf(server), { method: 'GET', path: '/zzz' })).code).toBe('4.04');
  });

  test('a throwing handler answers 5.00 to the peer and reports the error', async () => {
    const errors: Error[] = [];
    const server = await endpoint({ onError: (e) => errors.push(e) });
    server.route(['boom'], () => {
      throw new Error('kaputt');
    });
    server.route(['async'], async () => {
      throw new Error('later');
    });
    const raw = await RawPeer.bind();
    raw.sendMessage(server.address().port, { type: MessageType.CON, code: 1, mid: 5, token: Buffer.from([9]), options: [{ number: 11, value: Buffer.from('boom') }] });
    const [m] = await raw.waitFor(1);
    expect(codeToString(m!.code)).toBe('5.00');
    expect(m!.type).toBe(MessageType.ACK);
    expect(m!.messageId).toBe(5);
    const client = await endpoint();
    expect((await client.request(peerOf(server), { method: 'GET', path: 'async' })).code).toBe('5.00');
    expect(errors.map((e) => e.message)).toEqual(['kaputt', 'later']);
  });

  test('an unrecognized critical option gets 4.02, an unknown method 4.05', async () => {
    const server = await endpoint();
    server.route([], () => ({ code: ResponseCode.Content }));
    const raw = await RawPeer.bind();
    raw.sendMessage(server.address().port, { type: MessageType.CON, code: 1, mid: 1, options: [{ number: 2049 + 2, value: Buffer.from('x') }] });
    raw.sendMessage(server.address().port, { type: MessageType.CON, code: 9, mid: 2 });
    const ms = await raw.waitFor(2);
    const byMid = new Map(ms.map((m) => [m.messageId, codeToString(m.code)]));
    expect(byMid.get(1)).toBe('4.02');
    expect(byMid.get(2)).toBe('4.05');
  });

  test('request() to a silent peer fails with ERR_COAP_TIMEOUT after the retransmissions', async () => {
    const client = await endpoint();
    const silent = await RawPeer.bind();
    const t0 = Date.now();
    const err = await client.request(silent.peer, { method: 'GET', path: 'x' }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_TIMEOUT')).toBe(true);
    // 1 + maxRetransmit (2) datagrams; 40·(1+2+4)·[1,1.5] ms
    expect(silent.received.length).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await sleep(10);
  });
});
