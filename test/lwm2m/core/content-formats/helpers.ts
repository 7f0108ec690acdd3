import fc from 'fast-check';
import { isLwm2mFotaError } from '../../../../src/errors';
import {
  createModelRegistry,
  loadObjectModels,
  parseDdf,
  type Lwm2mModel,
  type ModelRegistry,
  type ValueType,
} from '../../../../src/lwm2m/core/model';
import {
  objectInstance,
  type Lwm2mResource,
  type ObjectInstance,
  type ValueOfType,
} from '../../../../src/lwm2m/core/content-formats';

/** Objects the spec examples use that we do not ship: 2 (Access Control), 65 and 66 (TS Core 1.0 §6.4.3.3). */
const EXAMPLE_OBJECTS = `<?xml version="1.0" encoding="utf-8"?>
<LWM2M>
  <Object ObjectType="MODefinition">
    <Name>Access Control</Name><ObjectID>2</ObjectID><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>Object ID</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Integer</Type><RangeEnumeration>1..65534</RangeEnumeration><Units></Units><Description>Target object.</Description></Item>
      <Item ID="1"><Name>Object Instance ID</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Integer</Type><RangeEnumeration>0..65535</RangeEnumeration><Units></Units><Description>Target instance.</Description></Item>
      <Item ID="2"><Name>ACL</Name><Operations>RW</Operations><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Type>Integer</Type><RangeEnumeration>0..31</RangeEnumeration><Units></Units><Description>Rights per server.</Description></Item>
      <Item ID="3"><Name>Access Control Owner</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Integer</Type><RangeEnumeration>0..65535</RangeEnumeration><Units></Units><Description>Owner.</Description></Item>
    </Resources>
  </Object>
  <Object ObjectType="MODefinition">
    <Name>Example 65</Name><ObjectID>65</ObjectID><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>res0</Name><Operations>R</Operations><MultipleInstances>Multiple</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Objlnk</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>
      <Item ID="1"><Name>res1</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>String</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>
      <Item ID="2"><Name>res2</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Integer</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>
    </Resources>
  </Object>
  <Object ObjectType="MODefinition">
    <Name>Example 66</Name><ObjectID>66</ObjectID><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>res0</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>String</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>
      <Item ID="1"><Name>res1</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>String</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>
      <Item ID="2"><Name>res2</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Objlnk</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>
    </Resources>
  </Object>
</LWM2M>`;

/** One resource per value type, single (ids 0..8) and multiple (ids 10..18), in object 60000 (multi-instance). */
export const TEST_OBJECT_ID = 60000;
export const TYPES: readonly ValueType[] = ['integer', 'unsigned', 'float', 'boolean', 'string', 'opaque', 'time', 'objlnk', 'corelnk'];
const DDF_TYPE: Record<ValueType, string> = {
  integer: 'Integer',
  unsigned: 'Unsigned Integer',
  float: 'Float',
  boolean: 'Boolean',
  string: 'String',
  opaque: 'Opaque',
  time: 'Time',
  objlnk: 'Objlnk',
  corelnk: 'Corelnk',
};

function testObjectXml(): string {
  const item = (id: number, type: ValueType, multiple: boolean): string =>
    `<Item ID="${id}"><Name>${type}${multiple ? ' list' : ''}</Name><Operations>RW</Operations><MultipleInstances>${multiple ? 'Multiple' : 'Single'}</MultipleInstances><Mandatory>Optional</Mandatory><Type>${DDF_TYPE[type]}</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>`;
  return `<LWM2M><Object ObjectType="MODefinition"><Name>Every type</Name><ObjectID>${TEST_OBJECT_ID}</ObjectID><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>
${TYPES.map((t, i) => item(i, t, false)).join('\n')}
${TYPES.map((t, i) => item(10 + i, t, true)).join('\n')}
<Item ID="20"><Name>Run</Name><Operations>E</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type></Type><RangeEnumeration></RangeEnumeration><Units></Units><Description></Description></Item>
</Resources></Object></LWM2M>`;
}

let cached: ModelRegistry | undefined;

/** The shipped objects, plus the spec's example objects and the every-type test object. */
export function testModel(): ModelRegistry {
  if (cached !== undefined) return cached;
  const { registry, problems } = loadObjectModels();
  if (problems.length > 0) throw new Error(`shipped objects have problems: ${problems.map((p) => p.message).join('; ')}`);
  cached = createModelRegistry([...registry.list(), ...parseDdf(EXAMPLE_OBJECTS, 'example-objects'), ...parseDdf(testObjectXml(), 'test-object')]);
  return cached;
}

/** A model that knows nothing. */
export const emptyModel: Lwm2mModel = { getObject: () => undefined, getResource: () => undefined };

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

// --- arbitraries ---------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const canonical = (b: bigint): number | bigint =>
  b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;

export const valueArb: { [T in ValueType]: fc.Arbitrary<ValueOfType[T]> } = {
  integer: fc.oneof(fc.integer(), fc.bigInt(INT64_MIN, INT64_MAX).map(canonical)),
  unsigned: fc.oneof(fc.nat(), fc.bigInt(0n, 2n ** 64n - 1n).map(canonical)),
  float: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.float({ noNaN: true, noDefaultInfinity: true }).map(Number), fc.integer()),
  boolean: fc.boolean(),
  string: fc.string({ unit: 'binary', maxLength: 20 }),
  opaque: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  time: fc.integer({ min: -10_000_000_000, max: 10_000_000_000 }).map((s) => new Date(s * 1000)),
  objlnk: fc.record({ objectId: fc.integer({ min: 0, max: 65535 }), instanceId: fc.integer({ min: 0, max: 65535 }) }),
  corelnk: fc.string({ unit: 'binary', maxLength: 20 }),
};

export function resourceArb(types: readonly ValueType[] = TYPES, allowMultiple = true): fc.Arbitrary<Lwm2mResource> {
  const single = fc
    .constantFrom(...types)
    .chain((t) => valueArb[t].map((value) => ({ kind: 'resource', id: TYPES.indexOf(t), type: t, value }) as Lwm2mResource));
  const multiple = fc.constantFrom(...types).chain((t) =>
    fc
      .uniqueArray(fc.tuple(fc.integer({ min: 0, max: 65535 }), valueArb[t] as fc.Arbitrary<unknown>), {
        minLength: 1,
        maxLength: 4,
        selector: (e) => e[0],
      })
      .map(
        (entries) =>
          ({
            kind: 'multipleResource',
            id: 10 + TYPES.indexOf(t),
            type: t,
            instances: new Map([...entries].sort((a, b) => a[0] - b[0])),
          }) as Lwm2mResource,
      ),
  );
  return allowMultiple ? fc.oneof(single, multiple) : single;
}

export function instanceArb(types: readonly ValueType[] = TYPES): fc.Arbitrary<ObjectInstance> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: 65534 }),
      fc.uniqueArray(resourceArb(types), { minLength: 1, maxLength: 6, selector: (r) => r.id }),
    )
    .map(([id, resources]) => objectInstance(id, resources));
}

/** Asserts that `fn` returns, or throws a Lwm2mFotaError with ERR_LWM2M_CONTENT_FORMAT and a numeric offset. */
export function expectNodeOrContentError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!isLwm2mFotaError(err, 'ERR_LWM2M_CONTENT_FORMAT') || typeof err.context.offset !== 'number') {
      throw new Error(`unexpected failure: ${String(err)} ${(err as Error).stack ?? ''}`);
    }
  }
}
