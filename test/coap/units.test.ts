import fc from 'fast-check';
import { Block1Receiver } from '../../src/coap/block1-receiver';
import { DedupCache, type PendingExchange } from '../../src/coap/dedup';
import {
  MessageFormatError,
  MessageType,
  codeToByte,
  codeToString,
  decode,
  decodeBlock,
  encode,
  encodeBlock,
  encodeUint,
  decodeUint,
  sizeToSzx,
} from '../../src/coap/message';

const blk = (num: number, more: boolean, szx: number) => decodeBlock(encodeBlock(num, more, szx))!;

describe('message codec', () => {
  test('encode and decode round-trip every option length and delta form (RFC 7252 §3.1)', () => {
    const options = [
      { number: 1, value: Buffer.alloc(0) },
      { number: 11, value: Buffer.alloc(12, 1) },
      { number: 11, value: Buffer.alloc(13, 2) },
      { number: 60, value: Buffer.alloc(268, 3) },
      { number: 292, value: Buffer.alloc(269, 4) },
      { number: 2049, value: Buffer.alloc(300, 5) },
    ];
    const buf = encode(MessageType.CON, 0x02, 0xbeef, Buffer.from('tok'), options, Buffer.from('payload'));
    const m = decode(buf);
    expect(m.type).toBe(MessageType.CON);
    expect(m.code).toBe(2);
    expect(m.messageId).toBe(0xbeef);
    expect(m.token.toString()).toBe('tok');
    expect(m.options).toEqual(options);
    expect(m.payload.toString()).toBe('payload');
  });

  test('refuses every message format error of RFC 7252 §3 with the header it could read', () => {
    const bad: [string, number[]][] = [
      ['short header', [0x40, 0x01, 0x00]],
      ['version 2', [0x80, 0x01, 0x00, 0x01]],
      ['reserved token length', [0x49, 0x01, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
      ['truncated token', [0x44, 0x01, 0x00, 0x03, 1, 2]],
      ['option value past the end', [0x40, 0x01, 0x00, 0x04, 0xb5, 0x61]],
      ['extended delta byte missing', [0x40, 0x01, 0x00, 0x05, 0xd0]],
      ['extended length bytes missing', [0x40, 0x01, 0x00, 0x06, 0x1e, 0x01]],
      ['delta nibble 15', [0x40, 0x01, 0x00, 0x07, 0xf0]],
      ['length nibble 15', [0x40, 0x01, 0x00, 0x08, 0x1f]],
      ['payload marker without payload', [0x40, 0x01, 0x00, 0x09, 0xff]],
      ['Empty message with a token', [0x41, 0x00, 0x00, 0x0a, 0x01]],
    ];
    for (const [what, bytes] of bad) {
      let error: unknown;
      try {
        decode(Buffer.from(bytes));
      } catch (err) {
        error = err;
      }
      expect([what, error]).toEqual([what, expect.any(MessageFormatError)]);
      if (bytes.length >= 4 && bytes[0]! >> 6 === 1 && (bytes[0]! & 15) <= 8) {
        expect((error as MessageFormatError).header?.messageId).toBe(bytes[3]);
      }
    }
    // Options and payload are views of the datagram, numbers summed from the deltas.
    const m = decode(Buffer.from([0x50, 0x45, 0x12, 0x34, 0xb2, 0x72, 0x64, 0x03, 0x61, 0x62, 0x63, 0xff, 0x7a]));
    expect(m.options).toEqual([
      { number: 11, value: Buffer.from('rd') },
      { number: 11, value: Buffer.from('abc') },
    ]);
    expect(m.payload.toString()).toBe('z');
    expect(m.token.length).toBe(0);
  });

  test('random bytes decode or fail with MessageFormatError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decode(Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(MessageFormatError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('uint, block and code helpers', () => {
    for (const v of [0, 1, 255, 256, 65535, 65536, 0xffffff, 0x1000000]) expect(decodeUint(encodeUint(v))).toBe(v);
    expect(encodeUint(0).length).toBe(0);
    expect(blk(5, true, 6)).toEqual({ num: 5, more: true, szx: 6, size: 1024 });
    expect(decodeBlock(Buffer.from([0x07]))).toBeUndefined(); // SZX 7 reserved
    expect(decodeBlock(Buffer.alloc(4))).toBeUndefined();
    expect([16, 17, 64, 100, 1024, 4096].map(sizeToSzx)).toEqual([0, 0, 2, 2, 6, 6]);
    expect(codeToByte('2.05')).toBe(0x45);
    expect(codeToString(0x8d)).toBe('4.13');
    expect(() => codeToByte('9.99')).toThrow(TypeError);
  });
});

describe('deduplication memory', () => {
  test('remembers entries for at least the exchange lifetime and forgets them within two', () => {
    const d = new DedupCache(1000, 100, 0);
    const pending: PendingExchange = { separate: false };
    d.set('a', pending);
    d.sweep(50);
    expect(d.get('a')).toBe(pending);
    d.sweep(100); // rotation: 'a' is old now but remembered
    expect(d.get('a')).toBe(pending);
    d.sweep(199);
    expect(d.get('a')).toBe(pending);
    d.sweep(200);
    expect(d.get('a')).toBeUndefined();
  });

  test('an exchange remembered as pending gives its reply back once completed, across a rotation', () => {
    const d = new DedupCache(1000, 100, 0);
    const marker = d.pending('a');
    expect(d.get('a')).toBe(marker);
    (d.get('a') as PendingExchange).separate = true;
    expect(marker.separate).toBe(true);
    d.sweep(100); // the marker is in the old generation now, the reply goes to the young one
    d.complete(marker, Buffer.from([0x60, 0x44, 0x12, 0x34]));
    expect(d.get('a')).toEqual(Buffer.from([0x60, 0x44, 0x12, 0x34]));
    expect(d.size).toBe(1);
    d.sweep(200); // the marker's generation is dropped: the exchange is forgotten
    expect(d.get('a')).toBeUndefined();
  });

  test('finds every key of its two generations and none older, through rotations that reuse a filter', () => {
    const d = new DedupCache(1000, 1e9, 0); // 500 keys per generation: rotations at 500, 1000 and 1500 keys
    const key = (i: number) => `${i & 0xffff}|fe80::${(i * 7919).toString(16)}%eth0|${5683 + (i % 3)}`;
    for (let i = 0; i < 1750; i++) d.set(key(i), Buffer.from([i & 255]));
    const lost = [];
    for (let i = 1000; i < 1750; i++) if (!Buffer.isBuffer(d.get(key(i)))) lost.push(i);
    expect(lost).toEqual([]);
    const kept = [];
    for (let i = 0; i < 1000; i++) if (d.get(key(i)) !== undefined) kept.push(i);
    expect(kept).toEqual([]);
    // Never-seen keys are new, whatever the filters answer for them.
    for (let i = 0; i < 5000; i++) expect(d.get(`new ${i}`)).toBeUndefined();
  });

  test('never holds more than its capacity', () => {
    const d = new DedupCache(100, 1e9, 0);
    for (let i = 0; i < 10_000; i++) d.set(String(i), Buffer.alloc(1));
    expect(d.size).toBeLessThanOrEqual(100);
    expect(d.get('9999')).toBeDefined();
  });

  test('never holds much more than its byte budget of cached replies', () => {
    const d = new DedupCache(1_000_000, 1e9, 0, 64 * 1024);
    for (let i = 0; i < 1000; i++) d.set(String(i), Buffer.alloc(1024));
    expect(d.size).toBeLessThanOrEqual(66);
    expect(d.get('999')).toBeDefined();
  });

  test('gives every remembered reply back byte for byte, across arena chunks and a rotation', () => {
    const d = new DedupCache(10_000, 100, 0);
    const replies = new Map<string, Buffer>();
    // Sizes from 2 to 1,201 bytes: about 1.8 MB, so the young arena spans many 64 KiB chunks.
    for (let i = 0; i < 3000; i++) {
      const reply = Buffer.alloc(2 + ((i * 397) % 1200), i % 251);
      reply.writeUInt16BE(i, 0);
      replies.set(`k${i}`, reply);
      d.set(`k${i}`, reply);
    }
    d.sweep(100); // everything moves to the old generation
    d.set('new', Buffer.from([1, 2, 3]));
    const wrong = [...replies].filter(([key, reply]) => {
      const got = d.get(key);
      return !Buffer.isBuffer(got) || !got.equals(reply);
    });
    expect(wrong.map(([key]) => key)).toEqual([]);
    expect(d.get('new')).toEqual(Buffer.from([1, 2, 3]));
    const pending: PendingExchange = { separate: false };
    d.set('k5', pending); // an exchange handled again replaces the stored reply
    expect(d.get('k5')).toBe(pending);
  });
});

describe('Block1 receiver limits', () => {
  const opts = { maxEntries: 3, maxTotalBytes: 1_000_000, idleTimeoutMs: 100, maxSzx: 6 };

  test('drops an idle transfer on the sweep; its next block gets 4.08', () => {
    const r = new Block1Receiver(opts);
    expect(r.offer('k', blk(0, true, 0), Buffer.alloc(16), undefined, 1000, 0).kind).toBe('continue');
    r.sweep(50);
    expect(r.size).toBe(1);
    r.sweep(150);
    expect(r.size).toBe(0);
    expect(r.offer('k', blk(1, false, 0), Buffer.alloc(3), undefined, 1000, 151)).toMatchObject({ kind: 'error', code: '4.08' });
  });

  test('keeps at most maxEntries transfers, dropping the least recently active', () => {
    const r = new Block1Receiver(opts);
    for (const k of ['a', 'b', 'c', 'd']) r.offer(k, blk(0, true, 0), Buffer.alloc(16), undefined, 1000, 0);
    expect(r.size).toBe(3);
    expect(r.offer('a', blk(1, false, 0), Buffer.alloc(1), undefined, 1000, 1)).toMatchObject({ kind: 'error', code: '4.08' });
    expect(r.offer('d', blk(1, false, 0), Buffer.alloc(1), undefined, 1000, 1)).toMatchObject({ kind: 'complete' });
  });

  test('bounds the bytes buffered by all transfers together', () => {
    const r = new Block1Receiver({ ...opts, maxEntries: 100, maxTotalBytes: 64 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) r.offer(k, blk(0, true, 0), Buffer.alloc(16), undefined, 1000, 0);
    expect(r.bufferedBytes).toBeLessThanOrEqual(64);
  });

  test('late negotiation: a block larger than ours is taken and the answer asks for our size', () => {
    const r = new Block1Receiver({ ...opts, maxSzx: 2 });
    expect(r.offer('k', blk(0, true, 4), Buffer.alloc(256, 1), undefined, 10_000, 0)).toEqual({ kind: 'continue', num: 0, szx: 2 });
    // The client continues at byte 256 with 64-byte blocks: block 4.
    expect(r.offer('k', blk(4, true, 2), Buffer.alloc(64, 2), undefined, 10_000, 0)).toEqual({ kind: 'continue', num: 4, szx: 2 });
    const done = r.offer('k', blk(5, false, 2), Buffer.alloc(10, 3), undefined, 10_000, 0);
    expect(done.kind).toBe('complete');
    expect(done.kind === 'complete' && done.payload.length).toBe(330);
  });

  test('the same block again (a lost 2.31) is acknowledged again, not appended twice', () => {
    const r = new Block1Receiver(opts);
    r.offer('k', blk(0, true, 0), Buffer.alloc(16, 1), undefined, 1000, 0);
    r.offer('k', blk(1, true, 0), Buffer.alloc(16, 2), undefined, 1000, 0);
    expect(r.offer('k', blk(1, true, 0), Buffer.alloc(16, 2), undefined, 1000, 0).kind).toBe('continue');
    const done = r.offer('k', blk(2, false, 0), Buffer.alloc(4, 3), undefined, 1000, 0);
    expect(done.kind === 'complete' && done.payload.length).toBe(36);
  });
});
