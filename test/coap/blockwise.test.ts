import { ResponseCode, type IncomingRequest } from '../../src/coap';
import { MessageType, codeToString, decodeBlock, decodeUint, encodeBlock, encodeUint, findOption, type Message } from '../../src/coap/message';
import { RawPeer, closeAll, endpoint, peerOf } from './helpers';

afterEach(closeAll);

const pathOpt = (s: string) => ({ number: 11, value: Buffer.from(s) });
const block1 = (num: number, more: boolean, szx: number) => ({ number: 27, value: encodeBlock(num, more, szx) });
const block2 = (num: number, szx: number) => ({ number: 23, value: encodeBlock(num, false, szx) });
const tag = (t: string) => ({ number: 292, value: Buffer.from(t) });
const size1 = (n: number) => ({ number: 60, value: encodeUint(n) });

function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed + (i >> 8)) & 0xff;
  return b;
}

function code(m: Message): string {
  return codeToString(m.code);
}

describe('Block1 reassembly on the server', () => {
  test('reassembles a transfer that uses a new token for every block, answering 2.31 with the block echoed', async () => {
    const server = await endpoint();
    const got: IncomingRequest[] = [];
    server.route(['up'], (req) => {
      got.push(req);
      return { code: ResponseCode.Changed };
    });
    const raw = await RawPeer.bind();
    const data = pattern(100);
    const port = server.address().port;
    // 16-byte blocks (SZX 0): 7 blocks
    for (let num = 0; num * 16 < data.length; num++) {
      const more = (num + 1) * 16 < data.length;
      raw.sendMessage(port, {
        type: MessageType.CON,
        code: 2,
        mid: 100 + num,
        token: Buffer.from([num, 0xaa]),
        options: [pathOpt('up'), block1(num, more, 0), size1(data.length)],
        payload: data.subarray(num * 16, (num + 1) * 16),
      });
      const msgs = await raw.waitFor(num + 1);
      const m = msgs[num]!;
      expect(m.token).toEqual(Buffer.from([num, 0xaa]));
      const b = decodeBlock(findOption(m.options, 27)!)!;
      expect(b.num).toBe(num);
      expect(b.more).toBe(more);
      expect(code(m)).toBe(more ? '2.31' : '2.04');
    }
    expect(got).toHaveLength(1);
    expect(got[0]!.payload).toEqual(data);
    expect(got[0]!.block1).toBeUndefined();
  });

  test('keeps transfers with different Request-Tags to the same path apart', async () => {
    const server = await endpoint();
    const got: string[] = [];
    server.route(['up'], (req) => {
      got.push(req.payload.toString());
      return { code: ResponseCode.Changed };
    });
    const raw = await RawPeer.bind();
    const port = server.address().port;
    const a = 'A'.repeat(32) + 'a-end';
    const b = 'B'.repeat(32) + 'b-end';
    let mid = 1;
    let n = 0;
    const send = async (t: string, body: string, num: number) => {
      const more = (num + 1) * 16 < body.length;
      raw.sendMessage(port, {
        type: MessageType.CON,
        code: 2,
        mid: mid++,
        token: Buffer.from([mid]),
        options: [pathOpt('up'), block1(num, more, 0), tag(t)],
        payload: Buffer.from(body.slice(num * 16, (num + 1) * 16)),
      });
      return (await raw.waitFor(++n))[n - 1]!;
    };
    for (let num = 0; num < 3; num++) {
      expect(code(await send('ta', a, num))).toBe(num < 2 ? '2.31' : '2.04');
      expect(code(await send('tb', b, num))).toBe(num < 2 ? '2.31' : '2.04');
    }
    expect(got).toEqual([a, b]);
  });

  test('a block out of order gets 4.08 Request Entity Incomplete', async () => {
    const server = await endpoint();
    server.route(['up'], () => ({ code: ResponseCode.Changed }));
    const raw = await RawPeer.bind();
    const port = server.address().port;
    raw.sendMessage(port, { type: MessageType.CON, code: 2, mid: 1, options: [pathOpt('up'), block1(0, true, 0)], payload: pattern(16) });
    raw.sendMessage(port, { type: MessageType.CON, code: 2, mid: 2, options: [pathOpt('up'), block1(2, true, 0)], payload: pattern(16) });
    // A block > 0 without any transfer in progress, from another path:
    raw.sendMessage(port, { type: MessageType.CON, code: 2, mid: 3, options: [pathOpt('other'), block1(1, false, 0)], payload: pattern(4) });
    const ms = await raw.waitFor(3);
    const byMid = new Map(ms.map((m) => [m.messageId, code(m)]));
    expect(byMid.get(1)).toBe('2.31');
    expect(byMid.get(2)).toBe('4.08');
    expect(byMid.get(3)).toBe('4.04'); // no route: the path check comes first
    raw.sendMessage(port, { type: MessageType.CON, code: 2, mid: 4, options: [pathOpt('up'), block1(3, false, 0)], payload: pattern(4) });
    expect(code((await raw.waitFor(4))[3]!)).toBe('4.08');
  });

  test('a transfer beyond the route limit gets 4.13 with Size1, announced or accumulated', async () => {
    const server = await endpoint();
    let calls = 0;
    server.route(
      ['up'],
      () => {
        calls++;
        return { code: ResponseCode.Changed };
      },
      { maxPayloadBytes: 40 },
    );
    const raw = await RawPeer.bind();
    const port = server.address().port;
    raw.sendMessage(port, { type: MessageType.CON, code: 2, mid: 1, options: [pathOpt('up'), block1(0, true, 0), size1(1000)], payload: pattern(16) });
    let [m] = await raw.waitFor(1);
    expect(code(m!)).toBe('4.13');
    expect(decodeUint(findOption(m!.options, 60)!)).toBe(40);
    for (let num = 0; num < 3; num++) {
      raw.sendMessage(port, { type: MessageType.CON, code: 2, mid: 10 + num, options: [pathOpt('up'), block1(num, true, 0)], payload: pattern(16) });
    }
    const ms = await raw.waitFor(4);
    expect(ms.slice(1).map(code)).toEqual(['2.31', '2.31', '4.13']);
    m = ms[3];
    expect(decodeUint(findOption(m!.options, 60)!)).toBe(40);
    expect(calls).toBe(0);
  });

  test('a raw route sees every Block1 datagram', async () => {
    const server = await endpoint();
    const seen: { num: number; more: boolean; size: number; len: number }[] = [];
    server.route(
      ['raw'],
      (req) => {
        seen.push({ ...req.block1!, len: req.payload.length });
        return { code: req.block1!.more ? ResponseCode.Continue : ResponseCode.Changed };
      },
      { blockwise: 'raw' },
    );
    const client = await endpoint();
    const res = await client.request(peerOf(server), { method: 'PUT', path: 'raw', payload: pattern(40), block1Size: 16 });
    expect(res.code).toBe('2.04');
    expect(seen).toEqual([
      { num: 0, more: true, size: 16, len: 16 },
      { num: 1, more: true, size: 16, len: 16 },
      { num: 2, more: false, size: 16, len: 8 },
    ]);
  });
});

describe('Block2 on the server', () => {
  const big = pattern(3000, 3);
  const etag = Buffer.from([1, 2, 3, 4]);

  test.each([16, 32, 64, 128, 256, 512, 1024])('serves %i-byte blocks as slices with M, Size2 and the ETag', async (size) => {
    const server = await endpoint();
    let calls = 0;
    server.route(['fw'], () => {
      calls++;
      return { code: ResponseCode.Content, payload: big, etag, contentFormat: 42 };
    });
    const raw = await RawPeer.bind();
    const szx = Math.log2(size) - 4;
    const chunks: Buffer[] = [];
    for (let num = 0; ; num++) {
      raw.sendMessage(server.address().port, { type: MessageType.CON, code: 1, mid: num + 1, token: Buffer.from([num]), options: [pathOpt('fw'), block2(num, szx)] });
      const m = (await raw.waitFor(num + 1))[num]!;
      expect(code(m)).toBe('2.05');
      const b = decodeBlock(findOption(m.options, 23)!)!;
      expect(b.num).toBe(num);
      expect(b.size).toBe(size);
      expect(decodeUint(findOption(m.options, 28)!)).toBe(3000);
      expect(findOption(m.options, 4)).toEqual(etag);
      expect(decodeUint(findOption(m.options, 12)!)).toBe(42);
      chunks.push(m.payload);
      if (!b.more) break;
      expect(m.payload.length).toBe(size);
    }
    expect(Buffer.concat(chunks)).toEqual(big);
    expect(calls).toBe(chunks.length);
  });

  test('without a Block2 option a large representation starts at block 0 of the endpoint maximum', async () => {
    const server = await endpoint({ maxBlockSize: 256 });
    server.route(['fw'], () => ({ code: ResponseCode.Content, payload: big }));
    const raw = await RawPeer.bind();
    raw.sendMessage(server.address().port, { type: MessageType.CON, code: 1, mid: 1, options: [pathOpt('fw')] });
    const [m] = await raw.waitFor(1);
    const b = decodeBlock(findOption(m!.options, 23)!)!;
    expect(b).toMatchObject({ num: 0, more: true, size: 256 });
    expect(m!.payload).toEqual(big.subarray(0, 256));
  });

  test('Size2=0 in a request gets the size even for a small representation; a block past the end gets 4.02', async () => {
    const server = await endpoint();
    server.route(['small'], () => ({ code: ResponseCode.Content, payload: Buffer.from('0123456789') }));
    const raw = await RawPeer.bind();
    const port = server.address().port;
    raw.sendMessage(port, { type: MessageType.CON, code: 1, mid: 1, options: [pathOpt('small'), { number: 28, value: Buffer.alloc(0) }] });
    raw.sendMessage(port, { type: MessageType.CON, code: 1, mid: 2, options: [pathOpt('small'), block2(5, 0)] });
    const ms = await raw.waitFor(2);
    const m1 = ms.find((m) => m.messageId === 1)!;
    expect(decodeUint(findOption(m1.options, 28)!)).toBe(10);
    expect(m1.payload.toString()).toBe('0123456789');
    expect(code(ms.find((m) => m.messageId === 2)!)).toBe('4.02');
  });

  test('a Block2 option with the reserved SZX 7 gets 4.00', async () => {
    const server = await endpoint();
    server.route([], () => ({ code: ResponseCode.Content, payload: big }));
    const raw = await RawPeer.bind();
    raw.sendMessage(server.address().port, { type: MessageType.CON, code: 1, mid: 1, options: [{ number: 23, value: Buffer.from([0x07]) }] });
    expect(code((await raw.waitFor(1))[0]!)).toBe('4.00');
  });
});

describe('client block-wise', () => {
  test('reassembles a Block2 response (also when the server picks a smaller block size than asked)', async () => {
    const server = await endpoint({ maxBlockSize: 64 });
    const data = pattern(5000, 9);
    server.route(['fw'], () => ({ code: ResponseCode.Content, payload: data, etag: Buffer.from('e1') }));
    const client = await endpoint();
    const a = await client.request(peerOf(server), { method: 'GET', path: 'fw' });
    expect(a.payload).toEqual(data);
    const b = await client.request(peerOf(server), { method: 'GET', path: 'fw', block2Size: 1024 });
    expect(b.payload).toEqual(data);
    const c = await client.request(peerOf(server), { method: 'GET', path: 'fw', block2Size: 16 });
    expect(c.payload).toEqual(data);
    const err = await client.request(peerOf(server), { method: 'GET', path: 'fw', maxResponseBytes: 1000 }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ERR_COAP_TOO_LARGE');
  });

  test('a changed ETag in the middle of a Block2 transfer fails with ERR_COAP_BLOCKWISE', async () => {
    const server = await endpoint({ maxBlockSize: 64 });
    let n = 0;
    server.route(['fw'], () => ({ code: ResponseCode.Content, payload: pattern(300), etag: Buffer.from([n++]) }));
    const client = await endpoint();
    const err = await client.request(peerOf(server), { method: 'GET', path: 'fw' }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ERR_COAP_BLOCKWISE');
  });

  test('the Block1 sender follows a smaller SZX in 2.31 and reports progress', async () => {
    const server = await endpoint({ maxBlockSize: 128 });
    let got: Buffer | undefined;
    server.route(['up'], (req) => {
      got = req.payload;
      return { code: ResponseCode.Changed };
    });
    const client = await endpoint();
    const data = pattern(3000, 5);
    const progress: number[] = [];
    const res = await client.request(peerOf(server), { method: 'PUT', path: 'up', payload: data, block1Size: 1024, onProgress: (s) => progress.push(s) });
    expect(res.code).toBe('2.04');
    expect(got).toEqual(data);
    // first block at 1024, then 128-byte blocks
    expect(progress[0]).toBe(1024);
    expect(progress[1]).toBe(1152);
    expect(progress[progress.length - 1]).toBe(3000);
  });

  test('the Block1 sender restarts at the smaller size a 4.13 suggests, and gives up when Size1 is below the total', async () => {
    const server = await endpoint();
    const seenSizes: number[] = [];
    const parts: Buffer[] = [];
    server.route(
      ['dev'],
      (req) => {
        const size = req.block1 ? req.block1.size : req.payload.length;
        seenSizes.push(size);
        // Like a constrained device: blocks above 64 bytes are refused with a hint.
        if (size > 64) return { code: ResponseCode.RequestEntityTooLarge, options: [{ number: 27, value: encodeBlock(0, false, 2) }] };
        parts.push(req.payload);
        return { code: req.block1!.more ? ResponseCode.Continue : ResponseCode.Changed };
      },
      { blockwise: 'raw' },
    );
    server.route(['tiny'], () => ({ code: ResponseCode.Changed }), { maxPayloadBytes: 500 });
    const client = await endpoint();
    const data = pattern(1000, 1);
    // 1000 bytes fit one 1024-byte datagram: sent whole first, then block-wise at 64.
    const res = await client.request(peerOf(server), { method: 'PUT', path: 'dev', payload: data });
    expect(res.code).toBe('2.04');
    expect(seenSizes[0]).toBe(1000);
    expect(seenSizes.slice(1).every((s) => s === 64)).toBe(true);
    expect(Buffer.concat(parts)).toEqual(data);
    // 3000 bytes at 1024 → 4.13 hint 64 → restart
    parts.length = 0;
    const data2 = pattern(3000, 2);
    const res2 = await client.request(peerOf(server), { method: 'PUT', path: 'dev', payload: data2, block1Size: 1024, requestTag: true });
    expect(res2.code).toBe('2.04');
    expect(Buffer.concat(parts)).toEqual(data2);
    // Size1 (500) below the total: the 4.13 is the answer.
    const res3 = await client.request(peerOf(server), { method: 'PUT', path: 'tiny', payload: pattern(2000), block1Size: 256 });
    expect(res3.code).toBe('4.13');
    expect(decodeUint(res3.options.find((o) => o.number === 60)!.value)).toBe(500);
  });

  test('a non-2.31 error in the middle of a Block1 transfer stops it and is returned', async () => {
    const server = await endpoint();
    let n = 0;
    server.route(['x'], () => ({ code: n++ < 2 ? ResponseCode.Continue : ResponseCode.ServiceUnavailable }), { blockwise: 'raw' });
    const client = await endpoint();
    const res = await client.request(peerOf(server), { method: 'POST', path: 'x', payload: pattern(200), block1Size: 16 });
    expect(res.code).toBe('5.03');
    expect(n).toBe(3);
  });
});
