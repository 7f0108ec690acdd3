import {
  ContentFormat,
  createContentFormatRegistry,
  multipleResource,
  objectInstance,
  preferredFormats,
  resource,
  type Lwm2mNode,
} from '../../../../src/lwm2m/core/content-formats';
import { ContentFormat as CoapContentFormat } from '../../../../src/coap/types';
import { parsePath } from '../../../../src/lwm2m/core/model';
import { emptyModel, hex, testModel } from './helpers';

const model = testModel();
const formats = createContentFormatRegistry();
const p = parsePath;

describe('preferredFormats', () => {
  it.each([
    ['1.0', 'single', [CoapContentFormat.TextPlain, CoapContentFormat.Tlv]],
    ['1.0', 'multi', [CoapContentFormat.Tlv, CoapContentFormat.Lwm2mJson]],
    ['1.0', 'composite', []],
    ['1.1', 'multi', [CoapContentFormat.SenmlCbor, CoapContentFormat.SenmlJson, CoapContentFormat.Tlv]],
    ['1.1', 'composite', [CoapContentFormat.SenmlCbor, CoapContentFormat.SenmlJson]],
    ['1.2', 'multi', [CoapContentFormat.Lwm2mCbor, CoapContentFormat.SenmlCbor, CoapContentFormat.SenmlJson, CoapContentFormat.Tlv]],
    ['1.2', 'composite', [CoapContentFormat.Lwm2mCbor, CoapContentFormat.SenmlCbor, CoapContentFormat.SenmlJson]],
  ] as const)('LwM2M %s, %s read → %j', (version, kind, expected) => {
    expect(preferredFormats(version, kind)).toEqual(expected);
  });

  it('puts SenML CBOR first for 1.1 and LwM2M CBOR then SenML CBOR for 1.2, single values included', () => {
    expect(preferredFormats('1.1', 'single')[0]).toBe(ContentFormat.SenmlCbor);
    expect(preferredFormats('1.2', 'single').slice(0, 2)).toEqual([ContentFormat.Lwm2mCbor, ContentFormat.SenmlCbor]);
  });

  it('only names formats the default registry can decode', () => {
    for (const v of ['1.0', '1.1', '1.2'] as const) {
      for (const k of ['single', 'multi', 'composite'] as const) for (const f of preferredFormats(v, k)) expect(formats.has(f)).toBe(true);
    }
  });

  it('uses the same numbers as the CoAP layer', () => {
    expect(ContentFormat).toEqual(CoapContentFormat);
  });
});

describe('decode whatever format came back', () => {
  const battery = resource(9, 'integer', 100);
  it.each([
    [ContentFormat.TextPlain, '313030'],
    [ContentFormat.Cbor, '1864'],
    [ContentFormat.Tlv, 'c10964'],
    [ContentFormat.SenmlJson, Buffer.from('[{"bn":"/3/0/9","v":100}]').toString('hex')],
    [ContentFormat.SenmlCbor, '81 a2 21 66 2f332f302f39 02 1864'], // [{-2: "/3/0/9", 2: 100}]
    [ContentFormat.Lwm2mCbor, 'a1830300091864'],
    [ContentFormat.Lwm2mJson, Buffer.from('{"bn":"/3/0/9","e":[{"v":100}]}').toString('hex')],
  ])('format %i', (format, bytes) => {
    expect(formats.decode(format, hex(bytes), p('/3/0/9'), model)).toEqual(battery);
  });
});

describe('encoders check what they are given', () => {
  const code = (c: string): Error => expect.objectContaining({ code: c }) as Error;

  it('refuse a node that does not sit at the path (ERR_LWM2M_PATH)', () => {
    expect(() => formats.encode(ContentFormat.Tlv, resource(1, 'string', 'x'), p('/3/0/0'), model)).toThrow(code('ERR_LWM2M_PATH'));
    expect(() => formats.encode(ContentFormat.SenmlJson, objectInstance(1, []), p('/3/0'), model)).toThrow(code('ERR_LWM2M_PATH'));
    expect(() => formats.encode(ContentFormat.TextPlain, objectInstance(0, []), p('/3/0'), model)).toThrow(code('ERR_LWM2M_PATH'));
  });

  it('refuse values that do not fit the type or the model (ERR_LWM2M_VALUE)', () => {
    const bad: [Lwm2mNode, string][] = [
      [resource(9, 'string', '100'), '/3/0/9'], // the model says integer
      [resource(6, 'integer', 1), '/3/0/6'], // the model says multiple
      [resource(0, 'integer', 1.5), '/60000/0/0'],
      [resource(0, 'integer', 2n ** 63n), '/60000/0/0'],
      [resource(1, 'unsigned', -1), '/60000/0/1'],
      [resource(2, 'float', Number.NaN), '/60000/0/2'],
      [resource(6, 'time', new Date(Number.NaN)), '/60000/0/6'],
      [resource(7, 'objlnk', { objectId: 70000, instanceId: 0 }), '/60000/0/7'],
      [resource(4, 'string', '\ud800'), '/60000/0/4'],
      [objectInstance(0, [resource(20, 'opaque', Buffer.alloc(1))]), '/60000/0'], // an executable resource
      [objectInstance(0, [resource(0, 'integer', 1), resource(0, 'integer', 2)]), '/60000/0'],
    ];
    for (const [node, path] of bad) {
      for (const f of [ContentFormat.Tlv, ContentFormat.SenmlCbor, ContentFormat.Lwm2mCbor]) {
        expect(() => formats.encode(f, node, p(path), model)).toThrow(code('ERR_LWM2M_VALUE'));
      }
    }
  });

  it('encode resources the model does not know by the node type', () => {
    const node = objectInstance(0, [resource(1, 'string', 'x'), multipleResource(2, 'integer', [[0, 1]])]);
    for (const f of [ContentFormat.SenmlJson, ContentFormat.SenmlCbor, ContentFormat.Lwm2mCbor, ContentFormat.Lwm2mJson]) {
      expect(formats.decode(f, formats.encode(f, node, p('/9999/0'), emptyModel), p('/9999/0'), emptyModel)).toEqual(node);
    }
    // TLV carries no type: unknown resources come back as opaque.
    expect(formats.decode(ContentFormat.Tlv, hex('c1 01 78'), p('/9999/0/1'), emptyModel)).toEqual(resource(1, 'opaque', Buffer.from('x')));
  });
});

describe('decoders refuse content that does not fit the request or the model', () => {
  const fails = (format: number, bytes: Buffer, path: string): void => {
    expect(() => formats.decode(format, bytes, p(path), model)).toThrow(expect.objectContaining({ code: 'ERR_LWM2M_CONTENT_FORMAT' }));
  };
  it('values outside the requested path', () => fails(ContentFormat.SenmlJson, Buffer.from('[{"n":"/3/0/9","v":1},{"n":"/1/0/1","v":1}]'), '/3/0'));
  it('the same resource twice', () => fails(ContentFormat.SenmlJson, Buffer.from('[{"n":"/3/0/9","v":1},{"n":"/3/0/9","v":2}]'), '/3/0'));
  it('a single value for a multiple resource', () => fails(ContentFormat.Tlv, hex('c1 06 01'), '/3/0/6'));
  it('resource instances for a single resource', () => fails(ContentFormat.SenmlJson, Buffer.from('[{"n":"/3/0/9/0","v":1}]'), '/3/0'));
  it('a string where the model wants an integer', () => fails(ContentFormat.SenmlJson, Buffer.from('[{"n":"/3/0/9","vs":"1"}]'), '/3/0/9'));
  it('a TLV integer of 3 bytes', () => fails(ContentFormat.Tlv, hex('c3 09 00 00 01'), '/3/0/9'));
  it('a time beyond what a Date holds', () => fails(ContentFormat.Tlv, hex('c8 0d 08 7f ff ff ff ff ff ff ff'), '/3/0/13'));
  it('a value for an executable resource', () => fails(ContentFormat.TextPlain, Buffer.from('1'), '/3/0/4'));
  it('a SenML must-understand label', () => fails(ContentFormat.SenmlJson, Buffer.from('[{"n":"/3/0/9","v":1,"x_":1}]'), '/3/0/9'));
  it('a record with two values', () => fails(ContentFormat.SenmlJson, Buffer.from('[{"n":"/3/0/9","v":1,"vs":"1"}]'), '/3/0/9'));
  it('an LwM2M CBOR key of five levels', () => fails(ContentFormat.Lwm2mCbor, hex('a1 85 03 00 06 00 00 01'), '/3/0'));

  it('reports the byte offset of the culprit', () => {
    expect(() => formats.decode(ContentFormat.SenmlJson, Buffer.from('[{"n":"/3/0/9","v":tru}]'), p('/3/0/9'), model)).toThrow(
      expect.objectContaining({ context: { offset: 19 } }),
    );
  });
});
