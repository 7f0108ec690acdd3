/**
 * The shared CBOR core (src/cbor): one decoder, two dialects, each layer's error code; one
 * writer. The layers' own vectors stay in test/suit/cbor.test.ts and
 * test/lwm2m/core/content-formats/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { CborWriter, compareBytes, decodeWith, type CborBuilder, type CborDialect } from '../../src/cbor';
import { isLwm2mFotaError } from '../../src/errors';
import { decodeCbor as decodeContent } from '../../src/lwm2m/core/content-formats/cbor';
import { CborMap, decodeCbor as decodeSuit, encodeCbor, type CborValue } from '../../src/suit';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

/** A builder that records what the decoder saw, as text. */
const shown: CborBuilder<string> = {
  int: (v) => String(v),
  bytes: (b) => `h'${Buffer.from(b).toString('hex')}'`,
  text: (t) => JSON.stringify(t),
  array: (items) => `[${items.join(', ')}]`,
  map: (entries) => `{${entries.map(([k, v]) => `${k}: ${v}`).join(', ')}}`,
  tag: (t, i) => `${t}(${i})`,
  simple: (v) => `simple(${v})`,
  float: (bits) => `float${bits.length * 8}`,
};
class Failure extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}
const dialect = (deterministic: boolean): CborDialect<string> => ({ builder: shown, deterministic, maxDepth: 8, error: (m, o) => new Failure(m, o) });

describe('the shared CBOR decoder', () => {
  it('hands every item to the builder, in both dialects', () => {
    const h = 'a3 01 82 20 3bffffffffffffffff 02 c1 43 010203 63 61 c3 bc f5';
    expect(decodeWith(dialect(true), hex(h))).toBe('{1: [-1, -18446744073709551616], 2: 1(h\'010203\'), "aü": simple(21)}');
    expect(decodeWith(dialect(false), hex(h))).toBe('{1: [-1, -18446744073709551616], 2: 1(h\'010203\'), "aü": simple(21)}');
  });

  it('accepts indefinite lengths and long heads only outside the deterministic dialect', () => {
    for (const h of ['5f 41 01 42 0203 ff', '9f 01 ff', 'bf 01 02 ff', '18 17', 'a2 02 00 01 00']) {
      expect(() => decodeWith(dialect(false), hex(h))).not.toThrow();
      expect(() => decodeWith(dialect(true), hex(h))).toThrow(Failure);
    }
    expect(decodeWith(dialect(false), hex('5f 41 01 42 0203 ff'))).toBe("h'010203'");
  });

  it('throws only what the dialect makes, with the offset of the offending item', () => {
    const at = (d: CborDialect<string>, h: string): number => {
      try {
        decodeWith(d, hex(h));
      } catch (err) {
        if (err instanceof Failure) return err.offset;
        throw err;
      }
      throw new Error('decoded');
    };
    expect(at(dialect(false), '82 01 5a ffffffff 00')).toBe(2);
    expect(at(dialect(true), '82 01 5a ffffffff 00')).toBe(2);
    expect(at(dialect(false), '81'.repeat(20) + '00')).toBe(9);
    expect(at(dialect(true), 'a2 02 00 01 00')).toBe(3);
    expect(at(dialect(false), '01 02')).toBe(1);
  });

  it('keeps each layer\'s error code on the same malformed input', () => {
    for (const h of ['', '5b ffffffffffffffff 00', '81'.repeat(40) + '00', 'ff', '1c', '0000']) {
      expect(() => decodeSuit(hex(h))).toThrow(expect.objectContaining({ code: 'ERR_SUIT_CBOR' }));
      expect(() => decodeContent(hex(h))).toThrow(expect.objectContaining({ code: 'ERR_LWM2M_CONTENT_FORMAT' }));
    }
  });

  it('random bytes decode alike in both layers or fail with their own code, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (b) => {
        let suit = true;
        try {
          decodeSuit(b);
        } catch (err) {
          suit = false;
          if (!isLwm2mFotaError(err, 'ERR_SUIT_CBOR')) return false;
        }
        try {
          decodeContent(Buffer.from(b), { maxDepth: 32 });
        } catch (err) {
          // What the deterministic dialect accepts, the lenient one accepts too.
          return !suit && isLwm2mFotaError(err, 'ERR_LWM2M_CONTENT_FORMAT');
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the shared CBOR writer', () => {
  it('writes the shortest heads and the shortest exact float (RFC 8949 §4.2.1, Appendix A)', () => {
    const w = new CborWriter(4)
      .int(0)
      .int(23)
      .int(24)
      .int(1000)
      .int(1000000)
      .int(1000000000000)
      .int(18446744073709551615n)
      .int(-100)
      .int(-18446744073709551616n)
      .float(1.5)
      .float(100000)
      .float(1.1)
      .text('ü')
      .text('IETF')
      .bytes(hex('01020304'))
      .simple(255);
    expect(Buffer.from(w.toBytes()).toString('hex')).toBe(
      '00' + '17' + '1818' + '1903e8' + '1a000f4240' + '1b000000e8d4a51000' + '1bffffffffffffffff' + '3863' + '3bffffffffffffffff' + 'f93e00' + 'fa47c35000' + 'fb3ff199999999999a' + '62c3bc' + '6449455446' + '4401020304' + 'f8ff',
    );
  });

  it('refuses arguments beyond 64 bits and integers that are not', () => {
    expect(() => new CborWriter().int(2n ** 64n)).toThrow(RangeError);
    expect(() => new CborWriter().int(1.5)).toThrow(TypeError);
  });

  it('SUIT sorts integer keys of any size in the bytewise order of their encoding', () => {
    const key = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.integer({ min: -30, max: 30 }));
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 8 }), (keys) => {
        const encoded = encodeCbor(new CborMap(keys.map((k) => [k, 0] as [CborValue, CborValue])));
        const order = keys.map((k) => encodeCbor(k)).sort(compareBytes);
        const decoded = decodeSuit(encoded) as CborMap;
        return decoded.entries.every(([k], i) => compareBytes(encodeCbor(k), order[i]!) === 0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the CBOR core is a leaf', () => {
  it('imports nothing from the rest of src/', () => {
    const dir = join(__dirname, '../../src/cbor');
    for (const f of readdirSync(dir)) {
      const imports = [...readFileSync(join(dir, f), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const i of imports) expect([f, i]).toEqual([f, expect.stringMatching(/^(node:|\.\/)/)]);
    }
  });
});
