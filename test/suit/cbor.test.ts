import fc from 'fast-check';
import { isLwm2mFotaError } from '../../src/errors';
import { CborFloat, CborMap, CborSimple, CborTag, decodeCbor, encodeCbor, wrapBstr, type CborValue } from '../../src/suit';
import { fromHex, hex } from './helpers';

const dec = (h: string): CborValue => decodeCbor(fromHex(h));

function cborCode(h: string): string | undefined {
  try {
    dec(h);
    return undefined;
  } catch (err) {
    return isLwm2mFotaError(err) ? err.code : 'not ours';
  }
}

describe('SUIT CBOR codec', () => {
  // RFC 8949 Appendix A examples in preferred serialization.
  it.each([
    ['00', 0],
    ['17', 23],
    ['1818', 24],
    ['1903e8', 1000],
    ['1a000f4240', 1000000],
    ['1b000000e8d4a51000', 1000000000000],
    ['1bffffffffffffffff', 18446744073709551615n],
    ['20', -1],
    ['3863', -100],
    ['3bffffffffffffffff', -18446744073709551616n],
    ['f4', false],
    ['f5', true],
    ['f6', null],
    ['f7', undefined],
    ['6449455446', 'IETF'],
    ['62c3bc', '\u00fc'],
    ['4401020304', fromHex('01020304')],
  ])('decodes and re-encodes %s (RFC 8949 Appendix A)', (h, value) => {
    expect(dec(h)).toEqual(value);
    expect(hex(encodeCbor(value as CborValue))).toBe(h);
  });

  it('keeps arrays, maps, tags, simple values and floats byte for byte', () => {
    for (const h of ['83010203', 'a201020304', 'c074323031332d30332d32315432303a30343a30305a', 'f0', 'f8ff', 'f93c00', 'fa47c35000', 'fb3ff199999999999a', 'a2616101616202']) {
      expect(hex(encodeCbor(dec(h)))).toBe(h);
    }
    expect(dec('f0')).toEqual(new CborSimple(16));
    expect((dec('f93c00') as CborFloat).value).toBe(1);
    expect((dec('fb3ff199999999999a') as CborFloat).value).toBe(1.1);
    expect(dec('c11a514b67b0')).toEqual(new CborTag(1, 1363896240));
  });

  it('sorts map keys in bytewise order of their encoding (RFC 8949 §4.2.1)', () => {
    const m = new CborMap([
      ['a', 1],
      [-1, 2],
      [24, 3],
      [1, 4],
    ]);
    expect(hex(encodeCbor(m))).toBe('a401041818032002616101');
  });

  it.each([
    ['1817', 'argument 23 in two bytes'],
    ['190017', 'argument in three bytes'],
    ['5f4101ff', 'indefinite-length byte string'],
    ['9f01ff', 'indefinite-length array'],
    ['a20102', 'map missing a value'],
    ['a201020103', 'duplicate map key'],
    ['a202010102', 'map keys out of order'],
    ['1c', 'reserved additional information'],
    ['62c328', 'invalid UTF-8'],
    ['f818', 'simple value below 32 in two bytes'],
    ['ff', 'lone break'],
    ['0000', 'trailing bytes'],
    ['5affffffff00', 'byte string longer than the input'],
    ['9bffffffffffffffff', 'array count beyond the input'],
    ['', 'empty input'],
  ])('rejects %s (%s) with ERR_SUIT_CBOR', (h) => {
    expect(cborCode(h)).toBe('ERR_SUIT_CBOR');
  });

  it('rejects nesting deeper than the limit', () => {
    expect(cborCode('81'.repeat(40) + '00')).toBe('ERR_SUIT_CBOR');
    expect(dec('81'.repeat(10) + '00')).toBeDefined();
  });

  it('wraps a byte string the way SUIT digests it (header included)', () => {
    expect(hex(wrapBstr(new Uint8Array(24)))).toBe('5818' + '00'.repeat(24));
  });

  it('decode ∘ encode is the identity on generated values', () => {
    const leaf = fc.oneof(
      fc.integer(),
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }),
      fc.string(),
      fc.uint8Array({ maxLength: 40 }),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('map'), tie('tag')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      map: fc.uniqueArray(fc.tuple(fc.oneof(fc.integer(), fc.string()), tie('value')), { maxLength: 4, selector: ([k]) => `${typeof k}:${String(k)}` }).map((e) => new CborMap(e as Array<[CborValue, CborValue]>)),
      tag: fc.tuple(fc.nat(), tie('value')).map(([t, v]) => new CborTag(t, v as CborValue)),
    }));
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeCbor(v as CborValue);
        return hex(encodeCbor(decodeCbor(bytes))) === hex(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes either decode and re-encode identically or fail with ERR_SUIT_CBOR', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          return hex(encodeCbor(decodeCbor(b))) === hex(b);
        } catch (err) {
          return isLwm2mFotaError(err, 'ERR_SUIT_CBOR');
        }
      }),
      { numRuns: 3000 },
    );
  });
});
