import { ResponseCode } from '../../src/coap';
import { isLwm2mFotaError } from '../../src/errors';
import { MessageType, encode, encodeEmpty } from '../../src/coap/message';
import { RawPeer, closeAll, endpoint, peerOf, sleep } from './helpers';

afterEach(closeAll);

/** Arrival times (ms) of the datagrams a silent peer receives. */
async function arrivals(raw: RawPeer, count: number): Promise<number[]> {
  const times: number[] = [];
  raw.socket.on('message', () => times.push(performance.now()));
  const deadline = Date.now() + 5000;
  while (times.length < count && Date.now() < deadline) await sleep(5);
  return times;
}

describe('retransmission per endpoint parameters', () => {
  test('two endpoints in one process retransmit with their own ACK timeouts and back off exponentially', async () => {
    const fast = await endpoint({ transmission: { ackTimeoutMs: 30, ackRandomFactor: 1.0, maxRetransmit: 3 } });
    const slow = await endpoint({ transmission: { ackTimeoutMs: 120, ackRandomFactor: 1.0, maxRetransmit: 2 } });
    const silentA = await RawPeer.bind();
    const silentB = await RawPeer.bind();
    const ta = arrivals(silentA, 4);
    const tb = arrivals(silentB, 3);
    const t0 = performance.now();
    const ra = fast.request(silentA.peer, { method: 'GET', path: 'a' }).catch((e: unknown) => e);
    const rb = slow.request(silentB.peer, { method: 'GET', path: 'b' }).catch((e: unknown) => e);
    const [a, b] = await Promise.all([ta, tb]);
    // Times since the first send. Timers never fire early, so the lower bounds are exact:
    // fast retransmits at 30, 30+60, 30+60+120 ms; slow at 120, 120+240 ms.
    const since = (t: number[]) => t.map((x) => x - t0);
    const sa = since(a);
    const sb = since(b);
    expect(sa).toHaveLength(4);
    expect(sa[1]).toBeGreaterThanOrEqual(29);
    expect(sa[2]).toBeGreaterThanOrEqual(89);
    expect(sa[3]).toBeGreaterThanOrEqual(209);
    expect(sb).toHaveLength(3);
    expect(sb[1]).toBeGreaterThanOrEqual(119);
    expect(sb[2]).toBeGreaterThanOrEqual(359);
    // The fast endpoint's first retransmission comes before the slow one's could.
    expect(sa[1]).toBeLessThan(sb[1]!);
    const [ea, eb] = await Promise.all([ra, rb]);
    expect(isLwm2mFotaError(ea, 'ERR_COAP_TIMEOUT')).toBe(true);
    expect(isLwm2mFotaError(eb, 'ERR_COAP_TIMEOUT')).toBe(true);
    expect(silentA.received).toHaveLength(4);
    expect(silentB.received).toHaveLength(3);
  });

  test('an RST answer fails the request with ERR_COAP_RESET', async () => {
    const client = await endpoint();
    const peer = await RawPeer.bind();
    peer.socket.on('message', (buf, from) => {
      peer.socket.send(encodeEmpty(MessageType.RST, buf.readUInt16BE(2)), from.port, from.address);
    });
    const err = await client.request(peer.peer, { method: 'GET', path: 'x' }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_RESET')).toBe(true);
  });

  test('an empty ACK followed by a separate CON response resolves the request and the response is acknowledged', async () => {
    // A first retransmission well after the ACK's round trip, even on a loaded machine:
    // what is checked is that the ACK stops them, not how fast it comes.
    const client = await endpoint({ transmission: { ackTimeoutMs: 1000, ackRandomFactor: 1.0 } });
    const peer = await RawPeer.bind();
    peer.socket.on('message', (buf, from) => {
      if ((buf[0]! & 0x30) !== 0) return; // only react to the CON request
      const mid = buf.readUInt16BE(2);
      const tkl = buf[0]! & 0x0f;
      const token = buf.subarray(4, 4 + tkl);
      peer.socket.send(encodeEmpty(MessageType.ACK, mid), from.port, from.address);
      setTimeout(() => peer.socket.send(encode(MessageType.CON, 0x45, 7777, token, [], Buffer.from('later')), from.port, from.address), 150);
    });
    const t0 = Date.now();
    const res = await client.request(peer.peer, { method: 'GET', path: 'x' });
    expect(res.payload.toString()).toBe('later');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await sleep(20);
    const ack = peer.received.find((r) => r.msg.type === MessageType.ACK && r.msg.messageId === 7777);
    expect(ack).toBeDefined();
    // Only one request datagram: the empty ACK stopped the retransmissions.
    expect(peer.received.filter((r) => r.msg.type === MessageType.CON)).toHaveLength(1);
  });

  test('timeoutMs bounds the whole exchange, all blocks included', async () => {
    const server = await endpoint({ maxBlockSize: 16 });
    server.route(['slow'], async () => {
      await sleep(30);
      return { code: ResponseCode.Content, payload: Buffer.alloc(400, 1) };
    });
    const client = await endpoint({ transmission: { ackTimeoutMs: 1000 } });
    const t0 = Date.now();
    const err = await client.request(peerOf(server), { method: 'GET', path: 'slow', timeoutMs: 200 }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_TIMEOUT')).toBe(true);
    expect(Date.now() - t0).toBeLessThan(600);
  });

  test('close() fails pending requests with ERR_COAP_CLOSED', async () => {
    const client = await endpoint({ transmission: { ackTimeoutMs: 1000 } });
    const silent = await RawPeer.bind();
    const p = client.request(silent.peer, { method: 'GET', path: 'x' }).catch((e: unknown) => e);
    await sleep(10);
    await client.close();
    expect(isLwm2mFotaError(await p, 'ERR_COAP_CLOSED')).toBe(true);
  });
});
