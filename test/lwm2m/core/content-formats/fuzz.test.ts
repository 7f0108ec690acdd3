/**
 * Random bytes against every decoder: each returns a whole node or throws a Lwm2mFotaError
 * with ERR_LWM2M_CONTENT_FORMAT and a byte offset — never another exception, never a hang.
 * The codecs are called directly (not through the registry's safety net) so a stray
 * exception shows up here.
 */
import fc from 'fast-check';
import {
  LinkFormatCodec,
  Lwm2mCborCodec,
  Lwm2mJsonCodec,
  OpaqueCodec,
  PlainCborCodec,
  SenmlCborCodec,
  SenmlJsonCodec,
  TextCodec,
  TlvCodec,
  createContentFormatRegistry,
  type CompositeCodec,
  type NodeCodec,
} from '../../../../src/lwm2m/core/content-formats';
import { decodeCbor } from '../../../../src/lwm2m/core/content-formats/cbor';
import { parseJson } from '../../../../src/lwm2m/core/content-formats/json';
import { parsePath } from '../../../../src/lwm2m/core/model';
import { emptyModel, expectNodeOrContentError, hex, instanceArb, testModel, TEST_OBJECT_ID } from './helpers';

const model = testModel();
const PATHS = ['/3', '/3/0', '/3/0/0', '/3/0/6', '/3/0/6/1', '/5/0/0', '/60000/0', '/60000/1/13', '/65', '/66/1', '/9999/0/1'].map(parsePath);
const codecs: NodeCodec[] = [
  new TextCodec(),
  new OpaqueCodec(),
  new PlainCborCodec(),
  new TlvCodec(),
  new Lwm2mJsonCodec(),
  new SenmlJsonCodec(),
  new SenmlCborCodec(),
  new Lwm2mCborCodec(),
];
const composites = codecs.filter((c): c is CompositeCodec => 'encodeComposite' in c);

/** Bytes biased towards each format's structure: random bytes, valid encodings with bytes flipped, and prefixes. */
function inputs(codec: NodeCodec): fc.Arbitrary<Buffer> {
  const random = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
  const valid = instanceArb().map((inst) => codec.encode(inst, parsePath(`/${TEST_OBJECT_ID}/${inst.id}`), model));
  const canEncodeInstances = codec.format !== 0 && codec.format !== 42 && codec.format !== 60;
  if (!canEncodeInstances) return random;
  const mutated = fc
    .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
    .map(([b, flips]) => {
      const out = Buffer.from(b);
      for (const [at, v] of flips) if (out.length > 0) out[at % out.length] = v;
      return out;
    });
  const truncated = fc.tuple(valid, fc.nat()).map(([b, n]) => b.subarray(0, n % (b.length + 1)));
  return fc.oneof(random, mutated, truncated);
}

describe.each(codecs.map((c) => [c.mediaType, c] as const))('%s decoder on arbitrary bytes', (_name, codec) => {
  it('returns a node or throws ERR_LWM2M_CONTENT_FORMAT', () => {
    fc.assert(
      fc.property(inputs(codec), fc.constantFrom(...PATHS), fc.boolean(), (bytes, path, known) => {
        expectNodeOrContentError(() => codec.decode(bytes, path, known ? model : emptyModel));
      }),
      { numRuns: 400 },
    );
  });
});

describe.each(composites.map((c) => [c.mediaType, c] as const))('%s composite decoders on arbitrary bytes', (_name, codec) => {
  it('decodeComposite and decodePaths return or throw ERR_LWM2M_CONTENT_FORMAT', () => {
    fc.assert(
      fc.property(inputs(codec), fc.subarray(PATHS), (bytes, paths) => {
        expectNodeOrContentError(() => codec.decodeComposite(bytes, model, paths.length > 0 ? paths : undefined));
        expectNodeOrContentError(() => codec.decodePaths(bytes));
      }),
      { numRuns: 300 },
    );
  });
});

describe('link format decoder on arbitrary bytes', () => {
  it('returns links or throws ERR_LWM2M_CONTENT_FORMAT', () => {
    const codec = new LinkFormatCodec();
    const text = fc.string({ unit: fc.constantFrom('<', '>', '/', '1', ';', '=', '"', ',', 'a', ' ', '\\'), maxLength: 40 }).map((s) => Buffer.from(s));
    fc.assert(
      fc.property(fc.oneof(text, fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))), (bytes) => {
        expectNodeOrContentError(() => codec.decode(bytes));
      }),
      { numRuns: 400 },
    );
  });
});

describe('decoders bound sizes before allocating', () => {
  const fails = (fn: () => unknown, offset: number): void => {
    expect(fn).toThrow(expect.objectContaining({ code: 'ERR_LWM2M_CONTENT_FORMAT', context: { offset } }));
  };

  it('a TLV announcing 2^24 − 1 bytes in a 10-byte buffer fails at once', () => {
    const t0 = Date.now();
    fails(() => new TlvCodec().decode(hex('C8 00 FF FF FF 00 00 00 00 00'.replace('C8', 'D8')), parsePath('/3/0/0'), model), 0);
    fails(() => new TlvCodec().decode(hex('C1 00 01 D8 01 FF FF FF 00'), parsePath('/3/0'), model), 3);
    expect(Date.now() - t0).toBeLessThan(100);
  });

  it('a CBOR array or string announcing 2^32 or 2^64 − 1 items fails at once', () => {
    fails(() => decodeCbor(hex('9a ffffffff 00 00 00 00 00')), 0);
    fails(() => decodeCbor(hex('5b ffffffffffffffff 00')), 0);
    fails(() => decodeCbor(hex('bb 7fffffffffffffff 00 00')), 0);
    fails(() => new SenmlCborCodec().decode(hex('9b 00000000ffffffff a0'), parsePath('/3/0'), model), 0);
  });

  it('nesting deeper than the limit fails instead of overflowing the stack', () => {
    fails(() => decodeCbor(Buffer.alloc(100_000, 0x81)), 17);
    fails(() => parseJson(Buffer.from('['.repeat(100_000))), 9);
    fails(() => new Lwm2mCborCodec().decode(Buffer.concat([Buffer.alloc(5000, 0xa1).fill(Buffer.from([0xa1, 0x01])), Buffer.from([0x01])]), parsePath('/3'), model), 25);
  });

  it('a SenML pack holds no more records than its bytes can hold', () => {
    // 0x99 0xFFFF: an array of 65535 records announced in 3 bytes.
    fails(() => new SenmlCborCodec().decode(hex('99 ffff'), parsePath('/3/0'), model), 0);
  });

  it('trailing bytes after a complete item are refused', () => {
    fails(() => new PlainCborCodec().decode(hex('01 02'), parsePath('/3/0/9'), model), 1);
    fails(() => new SenmlJsonCodec().decode(Buffer.from('[] x'), parsePath('/3/0'), model), 3);
  });
});

describe('the registry', () => {
  const formats = createContentFormatRegistry();

  it('refuses a format nobody registered', () => {
    expect(() => formats.decode(99, Buffer.alloc(0), parsePath('/3/0'), model)).toThrow(expect.objectContaining({ code: 'ERR_LWM2M_UNSUPPORTED_FORMAT' }));
    expect(() => formats.encodeComposite(11542, [], model)).toThrow(expect.objectContaining({ code: 'ERR_LWM2M_UNSUPPORTED_FORMAT' }));
  });

  it('reports a codec that throws something else as ERR_LWM2M_CONTENT_FORMAT', () => {
    const broken: NodeCodec = {
      format: 65000,
      mediaType: 'x/broken',
      encode: () => Buffer.alloc(0),
      decode: () => {
        throw new TypeError('oops');
      },
    };
    const r = createContentFormatRegistry({ codecs: [broken] });
    expect(r.formats()).toEqual([65000]);
    expect(() => r.decode(65000, Buffer.alloc(0), parsePath('/3/0'), model)).toThrow(expect.objectContaining({ code: 'ERR_LWM2M_CONTENT_FORMAT' }));
  });

  it('lists every format of the package', () => {
    expect(formats.formats()).toEqual([0, 42, 60, 110, 112, 11542, 11543, 11544]);
  });
});
