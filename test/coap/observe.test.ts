import { ResponseCode, isFresh, type IncomingResponse, type Peer } from '../../src/coap';
import { isLwm2mFotaError } from '../../src/errors';
import { closeAll, endpoint, peerOf, sleep } from './helpers';

afterEach(closeAll);

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await sleep(5);
  }
}

/** A "device" endpoint with an observable resource /3/0/13. */
async function device() {
  const dev = await endpoint();
  const observers: { peer: Peer; token: Buffer }[] = [];
  const cancels: Buffer[] = [];
  dev.route(['3', '0', '13'], (req) => {
    if (req.observe === 0) observers.push({ peer: req.peer, token: req.token });
    if (req.observe === 1) cancels.push(req.token);
    return { code: ResponseCode.Content, payload: Buffer.from('t0'), ...(req.observe === 0 ? { observe: 1 } : {}) };
  });
  return { dev, observers, cancels };
}

describe('observe (RFC 7641)', () => {
  test('delivers notifications in order and drops reordered ones', async () => {
    const { dev, observers } = await device();
    const server = await endpoint();
    const got: IncomingResponse[] = [];
    const obs = await server.observe(peerOf(dev), { method: 'GET', path: '/3/0/13' }, (n) => got.push(n));
    expect(obs.established).toBe(true);
    expect(obs.response.payload.toString()).toBe('t0');
    expect(observers).toHaveLength(1);
    const { peer, token } = observers[0]!;
    expect(token).toEqual(obs.token);
    await dev.notify(peer, token, { code: ResponseCode.Content, observe: 5, payload: Buffer.from('t5') });
    await dev.notify(peer, token, { code: ResponseCode.Content, observe: 3, payload: Buffer.from('t3') }); // stale: ACKed, dropped
    await dev.notify(peer, token, { code: ResponseCode.Content, observe: 6, payload: Buffer.from('t6') }, { confirmable: false });
    await until(() => got.length >= 2);
    await sleep(20);
    expect(got.map((n) => n.payload.toString())).toEqual(['t5', 't6']);
    expect(got[0]!.observe).toBe(5);
  });

  test('a large notification is completed with Block2 GETs before delivery', async () => {
    const dev = await endpoint({ maxBlockSize: 64 });
    const big = Buffer.alloc(300, 7);
    let observer: { peer: Peer; token: Buffer } | undefined;
    dev.route(['big'], (req) => {
      if (req.observe === 0) observer = { peer: req.peer, token: req.token };
      return { code: ResponseCode.Content, payload: big, observe: 2, etag: Buffer.from('v1') };
    });
    const server = await endpoint();
    const got: Buffer[] = [];
    const obs = await server.observe(peerOf(dev), { method: 'GET', path: 'big' }, (n) => got.push(n.payload));
    expect(obs.response.payload).toEqual(big);
    await dev.notify(observer!.peer, observer!.token, { code: ResponseCode.Content, observe: 3, payload: big, etag: Buffer.from('v1') });
    await until(() => got.length === 1);
    expect(got[0]).toEqual(big);
  });

  test('cancel() deregisters with Observe=1, and a later notification is rejected with RST', async () => {
    const { dev, observers, cancels } = await device();
    const server = await endpoint();
    const got: string[] = [];
    const obs = await server.observe(peerOf(dev), { method: 'GET', path: '/3/0/13' }, (n) => got.push(n.payload.toString()));
    await obs.cancel();
    expect(cancels).toHaveLength(1);
    expect(cancels[0]).toEqual(obs.token);
    const { peer, token } = observers[0]!;
    const err = await dev.notify(peer, token, { code: ResponseCode.Content, observe: 9, payload: Buffer.from('x') }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_RESET')).toBe(true);
    expect(got).toEqual([]);
  });

  test('an error notification ends the observation', async () => {
    const { dev, observers } = await device();
    const server = await endpoint();
    const got: string[] = [];
    await server.observe(peerOf(dev), { method: 'GET', path: '/3/0/13' }, (n) => got.push(n.code));
    const { peer, token } = observers[0]!;
    await dev.notify(peer, token, { code: ResponseCode.NotFound });
    const err = await dev.notify(peer, token, { code: ResponseCode.Content, observe: 10 }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_RESET')).toBe(true);
    expect(got).toEqual(['4.04']);
  });

  test('notifications for unknown tokens go to the orphan handler, else RST; resumeObservation re-attaches a token', async () => {
    const dev = await endpoint();
    const server = await endpoint();
    const serverPeer = peerOf(server);
    const token = Buffer.from('persist1');
    // No orphan handler: RST.
    let err = await dev.notify(serverPeer, token, { code: ResponseCode.Content, observe: 1 }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_RESET')).toBe(true);
    const orphans: IncomingResponse[] = [];
    let keep = true;
    server.setOrphanNotificationHandler((n) => {
      orphans.push(n);
      return keep;
    });
    await dev.notify(serverPeer, token, { code: ResponseCode.Content, observe: 2, payload: Buffer.from('o') });
    expect(orphans).toHaveLength(1);
    expect(orphans[0]!.token).toEqual(token);
    expect(orphans[0]!.payload.toString()).toBe('o');
    keep = false;
    err = await dev.notify(serverPeer, token, { code: ResponseCode.Content, observe: 3 }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_RESET')).toBe(true);
    // Re-attached: delivered to the listener, not the orphan handler.
    const got: string[] = [];
    const handle = server.resumeObservation(peerOf(dev), token, (n) => got.push(n.payload.toString()));
    await dev.notify(serverPeer, token, { code: ResponseCode.Content, observe: 4, payload: Buffer.from('r') });
    expect(got).toEqual(['r']);
    expect(orphans).toHaveLength(2);
    await handle.cancel({ sendDeregister: false });
    err = await dev.notify(serverPeer, token, { code: ResponseCode.Content, observe: 5 }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_COAP_RESET')).toBe(true);
    expect(orphans).toHaveLength(2);
  });

  test('the freshness rule of RFC 7641 §3.4', () => {
    expect(isFresh(5, 0, 6, 1)).toBe(true);
    expect(isFresh(6, 0, 5, 1)).toBe(false);
    expect(isFresh(0xffffff, 0, 2, 1)).toBe(true); // wrapped
    expect(isFresh(2, 0, 0xffffff, 1)).toBe(false);
    expect(isFresh(6, 0, 5, 128_001)).toBe(true); // more than 128 s later
  });
});
