import fc from 'fast-check';
import { isLwm2mFotaError } from '../../../../src/errors';
import { multipleResource, objectInstance, objectLink, resource, resourceInstance, type Lwm2mNode } from '../../../../src/lwm2m/core/content-formats/node';
import { loadObjectModels } from '../../../../src/lwm2m/core/model';
import { parsePath } from '../../../../src/lwm2m/core/model/path';
import type { ValueType } from '../../../../src/lwm2m/core/model/types';
import { nodeFromJson, nodeToJson, valueFromJson, valueToJson } from '../../../../src/lwm2m/server/requests/node-json';

const model = loadObjectModels().registry.forDevice({});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isLwm2mFotaError(err) ? err.code : String(err);
  }
}

describe('the JSON form of nodes', () => {
  it('names resources from the model and gives every node its path', () => {
    const node = objectInstance(0, [resource(0, 'string', 'Acme'), multipleResource(6, 'integer', { 0: 1, 1: 5 }), resource(13, 'time', new Date(1_700_000_000_000))]);
    expect(nodeToJson(node, parsePath('/3/0'), model)).toEqual({
      kind: 'objectInstance',
      path: '/3/0',
      id: 0,
      resources: [
        { kind: 'resource', path: '/3/0/0', id: 0, name: 'Manufacturer', type: 'string', value: 'Acme' },
        { kind: 'multipleResource', path: '/3/0/6', id: 6, name: 'Available Power Sources', type: 'integer', instances: { 0: 1, 1: 5 } },
        { kind: 'resource', path: '/3/0/13', id: 13, name: 'Current Time', type: 'time', value: '2023-11-14T22:13:20.000Z' },
      ],
    });
    expect(nodeToJson(resourceInstance(1, 'integer', 5000), parsePath('/3/0/7/1'), model)).toEqual({
      kind: 'resourceInstance',
      path: '/3/0/7/1',
      id: 1,
      name: 'Power Source Voltage',
      type: 'integer',
      value: 5000,
    });
  });

  it('maps each type to JSON and back', () => {
    const cases: Array<[ValueType, unknown, unknown]> = [
      ['integer', 42, 42],
      ['integer', -(2n ** 63n), '-9223372036854775808'],
      ['unsigned', 2n ** 64n - 1n, '18446744073709551615'],
      ['float', -0.5, -0.5],
      ['boolean', true, true],
      ['string', 'ü', 'ü'],
      ['opaque', Buffer.from([0xca, 0xfe]), 'yv4='],
      ['time', new Date(86_400_000), '1970-01-02T00:00:00.000Z'],
      ['objlnk', objectLink(3, 0), '3:0'],
      ['corelnk', '</3/0>', '</3/0>'],
    ];
    for (const [type, value, json] of cases) {
      expect(valueToJson(type, value as never)).toEqual(json);
      expect(valueFromJson(type, json, '/x')).toEqual(value);
    }
  });

  it('accepts the lenient inputs people type', () => {
    expect(valueFromJson('integer', '300', '/1/0/1')).toBe(300);
    expect(valueFromJson('float', '2.5', '/x')).toBe(2.5);
    expect(valueFromJson('boolean', '1', '/x')).toBe(true);
    expect(valueFromJson('opaque', { hex: 'cafe' }, '/x')).toEqual(Buffer.from([0xca, 0xfe]));
    expect(valueFromJson('time', 86400, '/x')).toEqual(new Date(86_400_000));
    expect(valueFromJson('objlnk', { objectId: 1, instanceId: 2 }, '/x')).toEqual(objectLink(1, 2));
  });

  it.each([
    ['integer', 1.5],
    ['integer', '12abc'],
    ['integer', 2 ** 60],
    ['unsigned', -1],
    ['float', 'NaN'],
    ['boolean', 'yes'],
    ['string', 5],
    ['opaque', 'not base64!'],
    ['opaque', { hex: 'abc' }],
    ['time', '2024-01-01'],
    ['objlnk', '3:70000'],
  ] as Array<[ValueType, unknown]>)('refuses %s %j with ERR_LWM2M_VALUE', (type, json) => {
    expect(codeOf(() => valueFromJson(type, json, '/x'))).toBe('ERR_LWM2M_VALUE');
  });

  it('reads write bodies at every level, in the array and the object shape', () => {
    expect(nodeFromJson({ value: 300 }, parsePath('/1/0/1'), model)).toEqual(resource(1, 'integer', 300));
    expect(nodeFromJson(300, parsePath('/1/0/1'), model)).toEqual(resource(1, 'integer', 300));
    expect(nodeFromJson({ instances: { 0: 1, 2: 5 } }, parsePath('/3/0/6'), model)).toEqual(multipleResource(6, 'integer', { 0: 1, 2: 5 }));
    expect(nodeFromJson({ value: 7 }, parsePath('/3/0/6/1'), model)).toEqual(resourceInstance(1, 'integer', 7));
    const inst = objectInstance(0, [resource(1, 'integer', 60), resource(6, 'boolean', false)]);
    expect(nodeFromJson({ resources: { 1: 60, 6: false } }, parsePath('/1/0'), model)).toEqual(inst);
    expect(nodeFromJson({ resources: [{ id: 6, value: false }, { id: 1, value: 60 }] }, parsePath('/1/0'), model)).toEqual(inst);
    expect(nodeFromJson({ instances: [{ id: 0, resources: { 1: 60, 6: false } }] }, parsePath('/1'), model)).toEqual({ kind: 'object', id: 1, instances: [inst] });
    expect(nodeFromJson({ type: 'float', value: 1.5 }, parsePath('/3/0/999'), { getObject: model.getObject, getResource: () => undefined })).toEqual(
      resource(999, 'float', 1.5),
    );
  });

  it.each([
    ['/1/0/1', { instances: { 0: 1 } }],
    ['/3/0/6', { value: 1 }],
    ['/1/0', { resources: { 1: 60, 1.5: 2 } }],
    ['/1/0', { resources: [{ id: 1, value: 1 }, { id: 1, value: 2 }] }],
    ['/1/0', { id: 3, resources: {} }],
    ['/1/0', []],
    ['/3/0/4', { value: 1 }],
    ['/1/0/1', { type: 'string', value: '1' }],
    ['/1', { instances: [{ resources: {} }] }],
  ])('refuses the body %s %j with ERR_LWM2M_VALUE', (path, json) => {
    expect(codeOf(() => nodeFromJson(json, parsePath(path), model))).toBe('ERR_LWM2M_VALUE');
  });

  it('reads back what it writes, for random Device resources', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: -1000, max: 1000 }), fc.dictionary(fc.integer({ min: 0, max: 9 }).map(String), fc.integer()), (s, n, inst) => {
        const node: Lwm2mNode = objectInstance(0, [
          resource(0, 'string', s.replace(/[\uD800-\uDFFF]/g, '')),
          resource(9, 'integer', n),
          multipleResource(11, 'integer', inst),
        ]);
        const path = parsePath('/3/0');
        expect(nodeFromJson(nodeToJson(node, path, model), path, model)).toEqual(node);
      }),
    );
  });
});
