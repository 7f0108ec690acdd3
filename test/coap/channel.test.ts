/**
 * The UDP channel under the endpoint, in both of its implementations: the batched add-on
 * (recvmmsg/sendmmsg, the default on Linux) and node:dgram (the fallback). Peers here are
 * plain node:dgram sockets, so every datagram crosses real loopback UDP.
 */
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { join } from 'node:path';
import { UdpChannel } from '../../src/coap';
import { batchedUdpAvailable } from '../../src/coap/batched-udp';
import { createCoapEndpoint, ResponseCode } from '../../src/coap';
import { isLwm2mFotaError } from '../../src/errors';

const sockets: dgram.Socket[] = [];
const channels: UdpChannel[] = [];

afterEach(async () => {
  await Promise.all(channels.splice(0).map((c) => c.close()));
  for (const s of sockets.splice(0)) s.close();
});

async function peer(type: 'udp4' | 'udp6' = 'udp6', host = type === 'udp6' ? '::1' : '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  sockets.push(s);
  await new Promise<void>((resolve) => s.bind(0, host, resolve));
  return s;
}

function collect(s: dgram.Socket): { got: { data: Buffer; port: number; address: string }[]; until: (n: number) => Promise<void> } {
  const got: { data: Buffer; port: number; address: string }[] = [];
  let wake: (() => void) | undefined;
  s.on('message', (data, rinfo) => {
    got.push({ data, port: rinfo.port, address: rinfo.address });
    wake?.();
  });
  const until = async (n: number): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (got.length < n && Date.now() < deadline) await new Promise<void>((r) => ((wake = r), setTimeout(r, 50)));
  };
  return { got, until };
}

async function channel(implementation: 'batched' | 'dgram', host = '::1', port = 0): Promise<UdpChannel> {
  const c = await UdpChannel.bind({ host, port, implementation });
  channels.push(c);
  return c;
}

test('on Linux the batched add-on is built and loads (npm ci compiles native/udp.c)', async () => {
  expect(process.platform === 'linux' ? batchedUdpAvailable() : true).toBe(true);
  if (process.platform !== 'linux') return;
  // The default channel is the batched one; node:dgram when asked for.
  const c = await UdpChannel.bind({ host: '::1', port: 0 });
  channels.push(c);
  expect(c.implementation).toBe('batched');
  const plain = await UdpChannel.bind({ host: '::1', port: 0, implementation: 'dgram' });
  channels.push(plain);
  expect(plain.implementation).toBe('dgram');
  // And the server's endpoint says so (`serve` prints it).
  const ep = await createCoapEndpoint({ host: '::1', port: 0 });
  try {
    expect(ep.transport()).toBe('batched');
  } finally {
    await ep.close();
  }
});

test('a worker thread that ends with a batched socket still open takes neither itself nor the process down', () => {
  // In a child process: a crash at the worker's teardown would kill it, not this test runner.
  const channelJs = join(__dirname, '..', '..', 'dist', 'coap', 'channel.js');
  const script = `
    const { Worker } = require('node:worker_threads');
    const code = "const { UdpChannel } = require(" + JSON.stringify(${JSON.stringify(channelJs)}) + ");" +
      "UdpChannel.bind({ host: '::1', port: 0 }).then((c) => require('node:worker_threads').parentPort.postMessage(c.implementation));";
    const w = new Worker(code, { eval: true });
    w.on('message', (m) => setTimeout(() => w.terminate().then(() => { console.log('terminated ' + m); }), 20));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).toEqual({
    status: 0,
    signal: null,
    stdout: `terminated ${process.platform === 'linux' ? 'batched' : 'dgram'}`,
  });
});

const implementations = (process.platform === 'linux' ? ['batched', 'dgram'] : ['dgram']) as ('batched' | 'dgram')[];

describe.each(implementations)('UdpChannel (%s)', (implementation) => {
  test('receives from and answers IPv6 and IPv4 peers on a dual-stack socket, from its own port', async () => {
    const c = await channel(implementation, '::');
    expect(c.implementation).toBe(implementation);
    const { port, family, address } = c.address();
    expect(family).toBe('IPv6');
    expect(address).toBe('::');
    c.onDatagram((data, from) => c.send(Buffer.concat([Buffer.from('re:'), data]), from));
    const v6 = await peer('udp6');
    const v4 = await peer('udp4');
    const a = collect(v6);
    const b = collect(v4);
    v6.send('six', port, '::1');
    v4.send('four', port, '127.0.0.1');
    await a.until(1);
    await b.until(1);
    expect(a.got[0]!.data.toString()).toBe('re:six');
    expect(a.got[0]!.port).toBe(port);
    expect(b.got[0]!.data.toString()).toBe('re:four');
    expect(b.got[0]!.port).toBe(port);
  });

  test('peers appear as node:dgram spells them (IPv4 as ::ffff:a.b.c.d), and either spelling reaches an IPv4 peer', async () => {
    const c = await channel(implementation, '::');
    const seen: { address: string; port: number }[] = [];
    c.onDatagram((_d, from) => seen.push({ address: from.address, port: from.port }));
    const v4 = await peer('udp4');
    const { got, until } = collect(v4);
    v4.send('x', c.address().port, '127.0.0.1');
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([{ address: '::ffff:127.0.0.1', port: v4.address().port }]);
    c.send(Buffer.from('mapped'), { address: '::ffff:127.0.0.1', port: v4.address().port });
    c.send(Buffer.from('bare'), { address: '127.0.0.1', port: v4.address().port });
    await until(2);
    expect(got.map((g) => g.data.toString()).sort()).toEqual(['bare', 'mapped']);
  });

  test('an IPv6 address with its interface (%name or %index) is sent to like node:dgram does', async () => {
    const c = await channel(implementation);
    const p = await peer();
    const { got, until } = collect(p);
    const results: (string | null)[] = [];
    for (const address of ['::1%lo', '::1%1']) {
      results.push(await new Promise<string | null>((resolve) => c.send(Buffer.from(address), { address, port: p.address().port }, (e) => resolve(e?.message ?? null))));
    }
    expect(results).toEqual([null, null]);
    await until(2);
    expect(got.map((g) => g.data.toString())).toEqual(['::1%lo', '::1%1']);
  });

  test('an IPv4 socket takes IPv4-mapped addresses and reports its family', async () => {
    const c = await channel(implementation, '127.0.0.1');
    expect(c.address().family).toBe('IPv4');
    const v4 = await peer('udp4');
    const { got, until } = collect(v4);
    c.send(Buffer.from('hello'), { address: '::ffff:127.0.0.1', port: v4.address().port });
    await until(1);
    expect(got[0]!.data.toString()).toBe('hello');
    expect(got[0]!.address).toBe('127.0.0.1');
  });

  test('a burst from many peers arrives whole: every datagram once, each its own bytes, in order per peer', async () => {
    const c = await channel(implementation);
    const received = new Map<number, string[]>();
    c.onDatagram((data, from) => {
      const list = received.get(from.port) ?? [];
      list.push(data.toString());
      received.set(from.port, list);
      // Answer each at once: sends queued while more arrive.
      c.send(data, from);
    });
    const peers = await Promise.all(Array.from({ length: 20 }, () => peer()));
    const echoes = peers.map((p) => collect(p));
    const perPeer = 30;
    for (let i = 0; i < perPeer; i++) for (const [k, p] of peers.entries()) p.send(`${k}:${i}:${'z'.repeat(i * 7)}`, c.address().port, '::1');
    await Promise.all(echoes.map((e) => e.until(perPeer)));
    for (const [k, p] of peers.entries()) {
      const expected = Array.from({ length: perPeer }, (_, i) => `${k}:${i}:${'z'.repeat(i * 7)}`);
      expect(received.get(p.address().port)).toEqual(expected);
      expect(echoes[k]!.got.map((g) => g.data.toString())).toEqual(expected);
    }
  });

  test('a received datagram is its own Buffer: later datagrams do not overwrite it', async () => {
    const c = await channel(implementation);
    const kept: Buffer[] = [];
    c.onDatagram((data) => kept.push(data));
    const p = await peer();
    for (let i = 0; i < 100; i++) p.send(Buffer.alloc(40, i), c.address().port, '::1');
    const deadline = Date.now() + 5000;
    while (kept.length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(kept).toHaveLength(100);
    kept.forEach((b, i) => expect(b.equals(Buffer.alloc(40, i))).toBe(true));
  });

  test('datagrams that arrive together are handled in wire order, each one\'s promise jobs before the next', async () => {
    const c = await channel(implementation);
    const trace: string[] = [];
    c.onDatagram((data) => {
      const n = data.toString();
      trace.push(`datagram ${n}`);
      void Promise.resolve().then(() => trace.push(`job ${n}`));
    });
    const p = await peer();
    // Sent in one go, so they wait in the socket together and come up in one receive.
    for (let i = 0; i < 40; i++) p.send(String(i), c.address().port, '::1');
    const deadline = Date.now() + 5000;
    while (trace.length < 80 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(trace).toEqual(Array.from({ length: 40 }, (_, i) => [`datagram ${i}`, `job ${i}`]).flat());
  });

  test('a datagram of 60,000 bytes goes both ways intact', async () => {
    const c = await channel(implementation);
    const big = Buffer.alloc(60_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    let got: Buffer | undefined;
    c.onDatagram((data, from) => {
      got = data;
      c.send(data, from);
    });
    const p = await peer();
    const echo = collect(p);
    p.send(big, c.address().port, '::1');
    await echo.until(1);
    expect(got?.equals(big)).toBe(true);
    expect(echo.got[0]!.data.equals(big)).toBe(true);
  });

  test('the caller may change a Buffer once it is handed to send', async () => {
    const c = await channel(implementation);
    const p = await peer();
    const { got, until } = collect(p);
    const buf = Buffer.from('original');
    c.send(buf, { address: '::1', port: p.address().port });
    if (implementation === 'batched') buf.write('changed!');
    await until(1);
    expect(got[0]!.data.toString()).toBe('original');
  });

  test('a send that cannot go fails through its callback (or the error listener), and the next one goes', async () => {
    const c = await channel(implementation);
    const errors: Error[] = [];
    c.onError((err) => errors.push(err));
    const p = await peer();
    const { got, until } = collect(p);
    const failed = await new Promise<Error | null>((resolve) => c.send(Buffer.from('nowhere'), { address: '::1', port: 0 }, resolve));
    expect(failed?.message).toEqual(expect.any(String));
    const ok = await new Promise<Error | null>((resolve) => c.send(Buffer.from('fine'), { address: '::1', port: p.address().port }, resolve));
    expect(ok).toBeNull();
    c.send(Buffer.from('nowhere'), { address: '::1', port: 0 });
    c.send(Buffer.from('after'), { address: '::1', port: p.address().port });
    await until(2);
    expect(got.map((g) => g.data.toString())).toEqual(['fine', 'after']);
    const deadline = Date.now() + 2000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toEqual(expect.any(String));
  });

  test('close sends what is queued, frees the port at once, and later sends fail', async () => {
    const c = await UdpChannel.bind({ host: '::1', port: 0, implementation });
    const port = c.address().port;
    const p = await peer();
    const { got, until } = collect(p);
    c.send(Buffer.from('last words'), { address: '::1', port: p.address().port });
    await c.close();
    await until(1);
    expect(got.map((g) => g.data.toString())).toEqual(['last words']);
    const after = await new Promise<Error | null>((resolve) => c.send(Buffer.from('late'), { address: '::1', port: p.address().port }, resolve));
    expect(after?.message).toEqual(expect.any(String));
    // The port is free again: a new socket binds it.
    const again = await channel(implementation, '::1', port);
    expect(again.address().port).toBe(port);
  });

  test('a taken port is refused with ERR_COAP_BIND, never shared', async () => {
    const c = await channel(implementation);
    const err = await UdpChannel.bind({ host: '::1', port: c.address().port, implementation }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_BIND')).toBe(true);
    expect((err as Error).message).toMatch(/EADDRINUSE/);
  });

  test('an endpoint on this channel serves CoAP and sends its own requests from the same port', async () => {
    const serverChannel = await channel(implementation);
    const server = await createCoapEndpoint({ channel: serverChannel });
    server.route(['hello'], (req) => ({ code: ResponseCode.Content, payload: Buffer.from(`hi ${req.query.join('&')}`) }));
    const client = await createCoapEndpoint({ host: '::1', port: 0 });
    try {
      const res = await client.request({ address: '::1', port: server.address().port }, { method: 'GET', path: 'hello', query: ['a=1'] });
      expect(res.code).toBe('2.05');
      expect(res.payload.toString()).toBe('hi a=1');
    } finally {
      await client.close();
      await server.close();
    }
  });
});
