/**
 * Codec tests against the examples printed in the LwM2M specifications. Where a test says
 * "hand-derived", the spec gives no byte-exact example for that case and the vector was
 * worked out by hand from the spec's encoding rules (and RFC 8428 / RFC 8949).
 */
import {
  createContentFormatRegistry,
  lwm2mObject,
  multipleResource,
  objectInstance,
  objectLink,
  resource,
  resourceInstance,
  type Lwm2mNode,
} from '../../../../src/lwm2m/core/content-formats';
import { ContentFormat } from '../../../../src/lwm2m/core/content-formats/registry';
import { parsePath } from '../../../../src/lwm2m/core/model';
import { hex, testModel } from './helpers';

const model = testModel();
const formats = createContentFormatRegistry();
const p = parsePath;

/** The example client's Device object instance used throughout TS Core §7.4 (1.0 §6.4). */
const device = objectInstance(0, [
  resource(0, 'string', 'Open Mobile Alliance'),
  resource(1, 'string', 'Lightweight M2M Client'),
  resource(2, 'string', '345000123'),
  resource(3, 'string', '1.0'),
  multipleResource(6, 'integer', [
    [0, 1],
    [1, 5],
  ]),
  multipleResource(7, 'integer', [
    [0, 3800],
    [1, 5000],
  ]),
  multipleResource(8, 'integer', [
    [0, 125],
    [1, 900],
  ]),
  resource(9, 'integer', 100),
  resource(10, 'integer', 15),
  multipleResource(11, 'integer', [[0, 0]]),
  resource(13, 'time', new Date(1367491215 * 1000)),
  resource(14, 'string', '+02:00'),
  resource(16, 'string', 'U'),
]);

const DEVICE_TLV = hex(`
  C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65
  C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74
  C8 02 09 33 34 35 30 30 30 31 32 33
  C3 03 31 2E 30
  86 06 41 00 01 41 01 05
  88 07 08 42 00 0E D8 42 01 13 88
  87 08 41 00 7D 42 01 03 84
  C1 09 64
  C1 0A 0F
  83 0B 41 00 00
  C4 0D 51 82 42 8F
  C6 0E 2B 30 32 3A 30 30
  C1 10 55`);

describe('TLV (TS Core 1.1 §7.4 (TLV); 1.0 §6.4.3)', () => {
  it('§7.4 (TLV) example: Read /3/0 answers the Device resources as resource TLVs, both ways', () => {
    expect(formats.decode(ContentFormat.Tlv, DEVICE_TLV, p('/3/0'), model)).toEqual(device);
    expect(formats.encode(ContentFormat.Tlv, device, p('/3/0'), model)).toEqual(DEVICE_TLV);
  });

  it('§7.4 (TLV) example: the same instance wrapped in an object instance TLV (08 00 79 …)', () => {
    const wrapped = Buffer.concat([hex('08 00 79'), DEVICE_TLV]);
    expect(formats.decode(ContentFormat.Tlv, wrapped, p('/3/0'), model)).toEqual(device);
    expect(formats.decode(ContentFormat.Tlv, wrapped, p('/3'), model)).toEqual(lwm2mObject(3, [device]));
    expect(formats.encode(ContentFormat.Tlv, lwm2mObject(3, [device]), p('/3'), model)).toEqual(wrapped);
  });

  it('§7.4 (TLV) example: Read /2 on two Access Control instances, one with a 16-bit resource instance id', () => {
    const bytes = hex('08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F 08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 01 36 01 C1 03 7F');
    const acl = lwm2mObject(2, [
      objectInstance(0, [resource(0, 'integer', 1), resource(1, 'integer', 0), multipleResource(2, 'integer', [[127, 7]]), resource(3, 'integer', 127)]),
      objectInstance(2, [
        resource(0, 'integer', 3),
        resource(1, 'integer', 0),
        multipleResource(2, 'integer', [
          [127, 7],
          [310, 1],
        ]),
        resource(3, 'integer', 127),
      ]),
    ]);
    expect(formats.decode(ContentFormat.Tlv, bytes, p('/2'), model)).toEqual(acl);
    expect(formats.encode(ContentFormat.Tlv, acl, p('/2'), model)).toEqual(bytes);
  });

  it('§7.4 (TLV) example: Read /1 on a Server object with one instance', () => {
    const bytes = hex('08 00 0F C1 00 01 C4 01 00 01 51 80 C1 06 01 C1 07 55');
    const server = lwm2mObject(1, [
      objectInstance(0, [resource(0, 'integer', 1), resource(1, 'integer', 86400), resource(6, 'boolean', true), resource(7, 'string', 'U')]),
    ]);
    expect(formats.decode(ContentFormat.Tlv, bytes, p('/1'), model)).toEqual(server);
    expect(formats.encode(ContentFormat.Tlv, server, p('/1'), model)).toEqual(bytes);
  });

  it('§7.4 (TLV) object-link example 1: object links in a multiple resource of object 65', () => {
    const bytes = hex('88 00 0C 44 00 00 42 00 00 44 01 00 42 00 01 C8 01 0D 38 36 31 33 38 30 30 37 35 35 35 30 30 C4 02 12 34 56 78');
    const inst = objectInstance(0, [
      multipleResource(0, 'objlnk', [
        [0, objectLink(66, 0)],
        [1, objectLink(66, 1)],
      ]),
      resource(1, 'string', '8613800755500'),
      resource(2, 'integer', 0x12345678),
    ]);
    expect(formats.decode(ContentFormat.Tlv, bytes, p('/65/0'), model)).toEqual(inst);
    expect(formats.encode(ContentFormat.Tlv, inst, p('/65/0'), model)).toEqual(bytes);
  });

  it('§7.4 (TLV) object-link example 2: two instances of object 66, one with the null object link 65535:65535', () => {
    const bytes = hex(`08 00 26 C8 00 0B 6D 79 53 65 72 76 69 63 65 20 31 C8 01 0F 49 6E 74 65 72 6E 65 74 2E 31 35 2E 32 33 34 C4 02 00 43 00 00
                       08 01 26 C8 00 0B 6D 79 53 65 72 76 69 63 65 20 32 C8 01 0F 49 6E 74 65 72 6E 65 74 2E 31 35 2E 32 33 35 C4 02 FF FF FF FF`);
    const obj = lwm2mObject(66, [
      objectInstance(0, [resource(0, 'string', 'myService 1'), resource(1, 'string', 'Internet.15.234'), resource(2, 'objlnk', objectLink(67, 0))]),
      objectInstance(1, [resource(0, 'string', 'myService 2'), resource(1, 'string', 'Internet.15.235'), resource(2, 'objlnk', objectLink(65535, 65535))]),
    ]);
    expect(formats.decode(ContentFormat.Tlv, bytes, p('/66'), model)).toEqual(obj);
    expect(formats.encode(ContentFormat.Tlv, obj, p('/66'), model)).toEqual(bytes);
  });

  it('hand-derived: a single resource, a multiple resource and one resource instance', () => {
    expect(formats.encode(ContentFormat.Tlv, resource(3, 'integer', 2), p('/5/0/3'), model)).toEqual(hex('C1 03 02'));
    expect(formats.decode(ContentFormat.Tlv, hex('86 06 41 00 01 41 01 05'), p('/3/0/6'), model)).toEqual(
      multipleResource(6, 'integer', [
        [0, 1],
        [1, 5],
      ]),
    );
    expect(formats.decode(ContentFormat.Tlv, hex('41 01 05'), p('/3/0/6/1'), model)).toEqual(resourceInstance(1, 'integer', 5));
    // 2^24 − 1 bytes announced in a 10-byte payload: refused at once, at offset 0.
    expect(() => formats.decode(ContentFormat.Tlv, hex('D8 00 FF FF FF 00 00 00 00 00'), p('/3/0/0'), model)).toThrow(
      expect.objectContaining({ code: 'ERR_LWM2M_CONTENT_FORMAT', context: { offset: 0 } }),
    );
  });
});

/** TS Core 1.1 §7.4 (SenML JSON) example: Read /3/0 in SenML JSON. */
const DEVICE_SENML_JSON =
  '[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},' +
  '{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},' +
  '{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]';

describe('SenML JSON (TS Core 1.1 §7.4 (SenML JSON), RFC 8428)', () => {
  it('§7.4 (SenML JSON) example: Read /3/0, both ways', () => {
    expect(formats.decode(ContentFormat.SenmlJson, Buffer.from(DEVICE_SENML_JSON), p('/3/0'), model)).toEqual(device);
    expect(formats.encode(ContentFormat.SenmlJson, device, p('/3/0'), model).toString()).toBe(DEVICE_SENML_JSON);
  });

  it('accepts the same pack with absolute names, whitespace and base name changes', () => {
    const payload = `[ {"n": "/3/0/0", "vs": "Open Mobile Alliance"},
      {"bn": "/3/0/6/", "n": "0", "v": 1}, {"n": "1", "v": 5e0} ]`;
    expect(formats.decode(ContentFormat.SenmlJson, Buffer.from(payload), p('/3/0'), model)).toEqual(
      objectInstance(0, [resource(0, 'string', 'Open Mobile Alliance'), multipleResource(6, 'integer', [[0, 1], [1, 5]])]),
    );
  });

  it('hand-derived: opaque in "vd" as base64url without padding, object links in "vlo"', () => {
    const node = objectInstance(0, [resource(0, 'string', 'myService 1'), resource(2, 'objlnk', objectLink(67, 0))]);
    expect(formats.encode(ContentFormat.SenmlJson, node, p('/66/0'), model).toString()).toBe(
      '[{"bn":"/66/0/","n":"0","vs":"myService 1"},{"n":"2","vlo":"67:0"}]',
    );
    const fw = resource(0, 'opaque', Buffer.from([0xfb, 0xff, 0x01]));
    expect(formats.encode(ContentFormat.SenmlJson, fw, p('/5/0/0'), model).toString()).toBe('[{"bn":"/5/0/0","vd":"-_8B"}]');
    expect(formats.decode(ContentFormat.SenmlJson, Buffer.from('[{"bn":"/5/0/0","vd":"-_8B"}]'), p('/5/0/0'), model)).toEqual(fw);
  });

  it('hand-derived: a Read-Composite request and response (TS Core 1.1 Read-Composite)', () => {
    const paths = [p('/3/0/0'), p('/1/0/1')];
    const request = formats.encodePaths(ContentFormat.SenmlJson, paths);
    expect(request.toString()).toBe('[{"n":"/3/0/0"},{"n":"/1/0/1"}]');
    expect(formats.decodePaths(ContentFormat.SenmlJson, Buffer.from('[{"bn":"/3/0/","n":"0"},{"bn":"/1/0/","n":"1"}]'))).toEqual(paths);
    const response = '[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"bn":"/1/0/","n":"1","v":86400}]';
    expect(formats.decodeComposite(ContentFormat.SenmlJson, Buffer.from(response), model, paths)).toEqual([
      { path: p('/3/0/0'), node: resource(0, 'string', 'Open Mobile Alliance') },
      { path: p('/1/0/1'), node: resource(1, 'integer', 86400) },
    ]);
  });

  it('keeps int64 values beyond 2^53 exact', () => {
    const big = resource(0, 'integer', 9007199254740993n);
    const bytes = formats.encode(ContentFormat.SenmlJson, big, p('/60000/0/0'), model);
    expect(bytes.toString()).toBe('[{"bn":"/60000/0/0","v":9007199254740993}]');
    expect(formats.decode(ContentFormat.SenmlJson, bytes, p('/60000/0/0'), model)).toEqual(big);
  });
});

describe('SenML CBOR (TS Core 1.1 §7.4 (SenML CBOR), RFC 8428 §6)', () => {
  // The §7.4 (SenML CBOR) example is the §7.4 (SenML JSON) pack in CBOR: labels bn → −2, n → 0, v → 2, vs → 3.
  // Bytes derived by hand from the diagnostic form with RFC 8428 §6's label table.
  const DEVICE_SENML_CBOR = hex(
    '90a321652f332f302f00613003744f70656e204d6f62696c6520416c6c69616e6365a200613103764c696768747765696768' +
      '74204d324d20436c69656e74a20061320369333435303030313233a20061330363312e30a20063362f300201a20063362f310205a20063372f' +
      '3002190ed8a20063372f3102191388a20063382f3002187da20063382f3102190384a2006139021864a200623130020fa2006431312f300200' +
      'a200623133021a5182428fa20062313403662b30323a3030a200623136036155',
  );

  it('§7.4 (SenML CBOR) example: Read /3/0, both ways', () => {
    expect(formats.encode(ContentFormat.SenmlCbor, device, p('/3/0'), model)).toEqual(DEVICE_SENML_CBOR);
    expect(formats.decode(ContentFormat.SenmlCbor, DEVICE_SENML_CBOR, p('/3/0'), model)).toEqual(device);
  });

  it('hand-derived: a Read-Composite request [{0: "/3/0"}, {0: "/1/0/1"}]', () => {
    const bytes = hex('82 a1 00 64 2f332f30 a1 00 66 2f312f302f31');
    expect(formats.encodePaths(ContentFormat.SenmlCbor, [p('/3/0'), p('/1/0/1')])).toEqual(bytes);
    expect(formats.decodePaths(ContentFormat.SenmlCbor, bytes)).toEqual([p('/3/0'), p('/1/0/1')]);
  });

  it('hand-derived: opaque values as byte strings (label 8), booleans (label 4), floats as the shortest exact float', () => {
    // [{-2: "/60000/0/", 0: "3", 4: true}, {0: "5", 8: h'0102'}, {0: "2", 2: 1.5}] — records in path order
    const node = objectInstance(0, [resource(3, 'boolean', true), resource(5, 'opaque', Buffer.from([1, 2])), resource(2, 'float', 1.5)]);
    const bytes = hex('83 a3 21 69 2f36303030302f302f 00 61 32 02 f9 3e00 a2 00 61 33 04 f5 a2 00 61 35 08 42 0102');
    expect(formats.encode(ContentFormat.SenmlCbor, node, p('/60000/0'), model)).toEqual(bytes);
    expect(formats.decode(ContentFormat.SenmlCbor, bytes, p('/60000/0'), model)).toEqual(node);
  });
});

describe('LwM2M JSON (OMA-TS-LightweightM2M 1.0 §6.4.4)', () => {
  const DEVICE_LWM2M_JSON =
    '{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"1","sv":"Lightweight M2M Client"},{"n":"2","sv":"345000123"},{"n":"3","sv":"1.0"},' +
    '{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},' +
    '{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","sv":"+02:00"},{"n":"16","sv":"U"}]}';

  it('§6.4.4 example: Read /3/0, both ways', () => {
    expect(formats.encode(ContentFormat.Lwm2mJson, device, p('/3/0'), model).toString()).toBe(DEVICE_LWM2M_JSON);
    expect(formats.decode(ContentFormat.Lwm2mJson, Buffer.from(DEVICE_LWM2M_JSON), p('/3/0'), model)).toEqual(device);
  });

  it('hand-derived: object links in "ov", opaque in "sv" as base64, booleans in "bv", "bt"/"t" tolerated', () => {
    const json = '{"bn":"/60000/0/","bt":25462634,"e":[{"n":"3","bv":true,"t":-5},{"n":"5","sv":"AQI="},{"n":"7","ov":"66:1"}]}';
    const node = objectInstance(0, [resource(3, 'boolean', true), resource(5, 'opaque', Buffer.from([1, 2])), resource(7, 'objlnk', objectLink(66, 1))]);
    expect(formats.decode(ContentFormat.Lwm2mJson, Buffer.from(json), p('/60000/0'), model)).toEqual(node);
    expect(formats.encode(ContentFormat.Lwm2mJson, node, p('/60000/0'), model).toString()).toBe(
      '{"bn":"/60000/0/","e":[{"n":"3","bv":true},{"n":"5","sv":"AQI="},{"n":"7","ov":"66:1"}]}',
    );
  });
});

describe('LwM2M CBOR (TS Core 1.2 §7.4 (LwM2M CBOR)) — hand-derived vectors', () => {
  const small = objectInstance(0, [resource(0, 'string', 'Open Mobile Alliance'), multipleResource(6, 'integer', [[0, 1], [1, 5]]), resource(9, 'integer', 100)]);
  // {[3, 0]: {0: "Open Mobile Alliance", 6: {0: 1, 1: 5}, 9: 100}}
  const SMALL = hex('a1 82 03 00 a3 00 74 4f70656e204d6f62696c6520416c6c69616e6365 06 a2 00 01 01 05 09 18 64');

  it('Read /3/0: the request path as an array key, then nested maps', () => {
    expect(formats.encode(ContentFormat.Lwm2mCbor, small, p('/3/0'), model)).toEqual(SMALL);
    expect(formats.decode(ContentFormat.Lwm2mCbor, SMALL, p('/3/0'), model)).toEqual(small);
  });

  it('decodes the same content keyed level by level, as one flat map, and with indefinite lengths', () => {
    // {3: {0: {0: "Open Mobile Alliance", 6: {0: 1, 1: 5}, 9: 100}}}
    const nested = hex('a1 03 a1 00 a3 00 74 4f70656e204d6f62696c6520416c6c69616e6365 06 a2 00 01 01 05 09 18 64');
    // {[3,0,0]: "Open Mobile Alliance", [3,0,6,0]: 1, [3,0,6,1]: 5, [3,0,9]: 100}
    const flat = hex('a4 83 03 00 00 74 4f70656e204d6f62696c6520416c6c69616e6365 84 03 00 06 00 01 84 03 00 06 01 05 83 03 00 09 18 64');
    // {_ [_ 3, 0]: {_ 0: "Open Mobile Alliance", 6: {_ 0: 1, 1: 5}, 9: 100}}
    const indefinite = hex('bf 9f 03 00 ff bf 00 74 4f70656e204d6f62696c6520416c6c69616e6365 06 bf 00 01 01 05 ff 09 18 64 ff ff');
    for (const bytes of [nested, flat, indefinite]) expect(formats.decode(ContentFormat.Lwm2mCbor, bytes, p('/3/0'), model)).toEqual(small);
  });

  it('Read /3/0/0 and /3/0/6/1: one value under the full path', () => {
    expect(formats.encode(ContentFormat.Lwm2mCbor, resource(9, 'integer', 100), p('/3/0/9'), model)).toEqual(hex('a1 83 03 00 09 18 64'));
    expect(formats.decode(ContentFormat.Lwm2mCbor, hex('a1 84 03 00 06 01 05'), p('/3/0/6/1'), model)).toEqual(resourceInstance(1, 'integer', 5));
  });

  it('Read-Composite: request paths mapped to null, response keyed by each path', () => {
    const request = hex('a2 82 03 00 f6 83 01 00 01 f6');
    expect(formats.encodePaths(ContentFormat.Lwm2mCbor, [p('/3/0'), p('/1/0/1')])).toEqual(request);
    expect(formats.decodePaths(ContentFormat.Lwm2mCbor, request)).toEqual([p('/3/0'), p('/1/0/1')]);
    // {[3, 0]: {9: 100}, [1, 0, 1]: 86400}
    const response = hex('a2 82 03 00 a1 09 18 64 83 01 00 01 1a 00015180');
    const entries = [
      { path: p('/3/0'), node: objectInstance(0, [resource(9, 'integer', 100)]) },
      { path: p('/1/0/1'), node: resource(1, 'integer', 86400) },
    ];
    expect(formats.encodeComposite(ContentFormat.Lwm2mCbor, entries, model)).toEqual(response);
    expect(formats.decodeComposite(ContentFormat.Lwm2mCbor, response, model, [p('/3/0'), p('/1/0/1')])).toEqual(entries);
  });

  it('object links as text, times as integers (tag 1 accepted), decimal fractions (tag 4) for floats', () => {
    // {[60000, 0]: {7: "66:1", 6: 1(1367491215), 2: 4([-1, 45])}}
    const bytes = hex('a1 82 19ea60 00 a3 07 64 36363a31 06 c1 1a 5182428f 02 c4 82 20 18 2d');
    expect(formats.decode(ContentFormat.Lwm2mCbor, bytes, p('/60000/0'), model)).toEqual(
      objectInstance(0, [resource(2, 'float', 4.5), resource(6, 'time', new Date(1367491215000)), resource(7, 'objlnk', objectLink(66, 1))]),
    );
  });
});

describe('text/plain (TS Core 1.1 §7.4 (plain text)), opaque (§7.4 (opaque)), CBOR (§7.4 (CBOR))', () => {
  it('§7.4 (plain text) example: Read /3/0/0 answers "Open Mobile Alliance"', () => {
    const node = resource(0, 'string', 'Open Mobile Alliance');
    expect(formats.encode(ContentFormat.TextPlain, node, p('/3/0/0'), model).toString()).toBe('Open Mobile Alliance');
    expect(formats.decode(ContentFormat.TextPlain, Buffer.from('Open Mobile Alliance'), p('/3/0/0'), model)).toEqual(node);
  });

  it.each<[string, string, Lwm2mNode]>([
    ['/5/0/3', '2', resource(3, 'integer', 2)],
    ['/3/0/13', '1367491215', resource(13, 'time', new Date(1367491215000))],
    ['/1/0/6', '1', resource(6, 'boolean', true)],
    ['/60000/0/2', '-12.5', resource(2, 'float', -12.5)],
    ['/60000/0/5', 'AQIDBAU=', resource(5, 'opaque', Buffer.from([1, 2, 3, 4, 5]))],
    ['/60000/0/7', '66:1', resource(7, 'objlnk', objectLink(66, 1))],
    ['/60000/0/1', '18446744073709551615', resource(1, 'unsigned', 18446744073709551615n)],
    ['/3/0/6/1', '5', resourceInstance(1, 'integer', 5)],
  ])('hand-derived: %s as text "%s"', (path, text, node) => {
    expect(formats.decode(ContentFormat.TextPlain, Buffer.from(text), p(path), model)).toEqual(node);
    expect(formats.encode(ContentFormat.TextPlain, node, p(path), model).toString()).toBe(text);
  });

  it.each([
    ['/5/0/3', '2.5'],
    ['/5/0/3', '9223372036854775808'],
    ['/1/0/6', 'true'],
    ['/60000/0/5', 'not base64!'],
    ['/60000/0/7', '66'],
    ['/3/0/6', '1'],
  ])('rejects %s as text %j', (path, text) => {
    expect(() => formats.decode(ContentFormat.TextPlain, Buffer.from(text), p(path), model)).toThrow(
      expect.objectContaining({ code: 'ERR_LWM2M_CONTENT_FORMAT' }),
    );
  });

  it('§7.4 (opaque): opaque carries the bytes of /5/0/0 and nothing but opaque', () => {
    const pkg = resource(0, 'opaque', Buffer.from('firmware'));
    expect(formats.encode(ContentFormat.OctetStream, pkg, p('/5/0/0'), model)).toEqual(Buffer.from('firmware'));
    expect(formats.decode(ContentFormat.OctetStream, Buffer.from('firmware'), p('/5/0/0'), model)).toEqual(pkg);
    expect(() => formats.decode(ContentFormat.OctetStream, Buffer.from('1'), p('/5/0/3'), model)).toThrow(
      expect.objectContaining({ code: 'ERR_LWM2M_CONTENT_FORMAT' }),
    );
    expect(() => formats.encode(ContentFormat.OctetStream, resource(3, 'integer', 1), p('/5/0/3'), model)).toThrow(
      expect.objectContaining({ code: 'ERR_LWM2M_VALUE' }),
    );
  });

  it.each<[string, string, Lwm2mNode]>([
    ['/3/0/9', '1864', resource(9, 'integer', 100)],
    ['/3/0/0', '63 4f4d41', resource(0, 'string', 'OMA')],
    ['/60000/0/2', 'f9 3e00', resource(2, 'float', 1.5)],
    ['/60000/0/3', 'f4', resource(3, 'boolean', false)],
    ['/60000/0/5', '42 0102', resource(5, 'opaque', Buffer.from([1, 2]))],
    ['/60000/0/7', '64 36363a30', resource(7, 'objlnk', objectLink(66, 0))],
    ['/60000/0/0', '3b 7fffffffffffffff', resource(0, 'integer', -(2n ** 63n))],
  ])('hand-derived §7.4 (CBOR): %s as CBOR %s', (path, bytes, node) => {
    expect(formats.decode(ContentFormat.Cbor, hex(bytes), p(path), model)).toEqual(node);
    expect(formats.encode(ContentFormat.Cbor, node, p(path), model)).toEqual(hex(bytes));
  });
});

describe('CoRE link format (RFC 6690; Discover)', () => {
  it('hand-derived Discover answer on /3/0: attributes kept in order, quoted where needed', () => {
    const text = '</3/0>;pmin=10,</3/0/1>,</3/0/6>;dim=2,</3/0/7>;dim=2;gt=50;lt=42.2,</3/0/13>;obs';
    const links = formats.decodeLinks(Buffer.from(text));
    expect(links).toEqual([
      { uri: '/3/0', attributes: [{ name: 'pmin', value: '10' }] },
      { uri: '/3/0/1', attributes: [] },
      { uri: '/3/0/6', attributes: [{ name: 'dim', value: '2' }] },
      { uri: '/3/0/7', attributes: [{ name: 'dim', value: '2' }, { name: 'gt', value: '50' }, { name: 'lt', value: '42.2' }] },
      { uri: '/3/0/13', attributes: [{ name: 'obs' }] },
    ]);
    expect(formats.encodeLinks(links).toString()).toBe(text);
  });

  it('parses a registration payload with a quoted rt and a space-separated ct list', () => {
    const text = '</>;rt="oma.lwm2m";ct="60 110 112 11542 11543 11544",</1/0>,</3/0>,</5>;ver=1.1';
    const links = formats.decodeLinks(Buffer.from(text));
    expect(links[0]).toEqual({
      uri: '/',
      attributes: [
        { name: 'rt', value: 'oma.lwm2m', quoted: true },
        { name: 'ct', value: '60 110 112 11542 11543 11544', quoted: true },
      ],
    });
    expect(formats.encodeLinks(links).toString()).toBe(text);
  });

  it.each(['</3/0', '<3/0>;', '</3/0>;a b', '</3/0>,,</1>', '</3/0>;x="open'])('rejects %j with an offset', (text) => {
    expect(() => formats.decodeLinks(Buffer.from(text))).toThrow(expect.objectContaining({ code: 'ERR_LWM2M_CONTENT_FORMAT' }));
  });
});

describe('LwM2M JSON below an instance: bn of the instance, n of the resource (strict 1.0 readers insist on "n")', () => {
  const json = (node: Lwm2mNode, path: string): string => formats.encode(ContentFormat.Lwm2mJson, node, p(path), model).toString();

  it('names a single resource by "n" under the instance', () => {
    expect(json(resource(1, 'integer', 222), '/1/0/1')).toBe('{"bn":"/1/0/","e":[{"n":"1","v":222}]}');
    expect(formats.decode(ContentFormat.Lwm2mJson, Buffer.from('{"bn":"/1/0/","e":[{"n":"1","v":222}]}'), p('/1/0/1'), model)).toEqual(resource(1, 'integer', 222));
  });

  it('names the instances of a multiple resource "resource/instance" under the instance', () => {
    const sources = multipleResource(6, 'integer', [
      [0, 1],
      [1, 5],
    ]);
    const text = json(sources, '/3/0/6');
    expect(text).toBe('{"bn":"/3/0/","e":[{"n":"6/0","v":1},{"n":"6/1","v":5}]}');
    expect(formats.decode(ContentFormat.Lwm2mJson, Buffer.from(text), p('/3/0/6'), model)).toEqual(sources);
  });

  it('names a resource instance "resource/instance" under the instance', () => {
    expect(json(resourceInstance(1, 'integer', 5), '/3/0/6/1')).toBe('{"bn":"/3/0/","e":[{"n":"6/1","v":5}]}');
  });
});
