/** Round trips with fast-check: arbitrary typed nodes → encode → decode → the same node. */
import fc from 'fast-check';
import {
  LinkFormatCodec,
  createContentFormatRegistry,
  lwm2mObject,
  type CompositeEntry,
  type Link,
  type Lwm2mNode,
} from '../../../../src/lwm2m/core/content-formats';
import { ContentFormat } from '../../../../src/lwm2m/core/content-formats/registry';
import { formatPath, pathFromIds, type LwM2mPath } from '../../../../src/lwm2m/core/model';
import { TEST_OBJECT_ID, TYPES, instanceArb, resourceArb, testModel, valueArb } from './helpers';

const model = testModel();
const formats = createContentFormatRegistry();
const RUNS = { numRuns: 250 };
const O = TEST_OBJECT_ID;

const MULTI_FORMATS = [
  ['TLV', ContentFormat.Tlv],
  ['LwM2M JSON', ContentFormat.Lwm2mJson],
  ['SenML JSON', ContentFormat.SenmlJson],
  ['SenML CBOR', ContentFormat.SenmlCbor],
  ['LwM2M CBOR', ContentFormat.Lwm2mCbor],
] as const;

function roundTrip(format: number, node: Lwm2mNode, path: LwM2mPath): void {
  const bytes = formats.encode(format, node, path, model);
  expect(formats.decode(format, bytes, path, model)).toEqual(node);
}

describe.each(MULTI_FORMATS)('%s round trip', (_name, format) => {
  it('an object instance with resources of every type', () => {
    fc.assert(
      fc.property(instanceArb(), (inst) => roundTrip(format, inst, pathFromIds([O, inst.id]))),
      RUNS,
    );
  });

  it('an object with several instances', () => {
    const arb = fc.uniqueArray(instanceArb(), { minLength: 1, maxLength: 3, selector: (i) => i.id }).map((is) => lwm2mObject(O, is));
    fc.assert(
      fc.property(arb, (obj) => roundTrip(format, obj, pathFromIds([O]))),
      { numRuns: 100 },
    );
  });

  it('a single or multiple resource, and one resource instance', () => {
    fc.assert(
      fc.property(resourceArb(), fc.integer({ min: 0, max: 65534 }), (r, i) => {
        roundTrip(format, r, pathFromIds([O, i, r.id]));
        if (r.kind === 'multipleResource') {
          const [ri, value] = [...r.instances.entries()][0] as [number, never];
          roundTrip(format, { kind: 'resourceInstance', id: ri, type: r.type, value } as Lwm2mNode, pathFromIds([O, i, r.id, ri]));
        }
      }),
      RUNS,
    );
  });
});

describe.each([
  ['text/plain', ContentFormat.TextPlain],
  ['CBOR', ContentFormat.Cbor],
] as const)('%s round trip', (_name, format) => {
  it('a single value of every type', () => {
    fc.assert(
      fc.property(resourceArb(TYPES, false), fc.integer({ min: 0, max: 65534 }), (r, i) => roundTrip(format, r, pathFromIds([O, i, r.id]))),
      RUNS,
    );
  });

  it('a resource instance of every type', () => {
    const arb = fc.constantFrom(...TYPES).chain((t) =>
      fc.tuple(fc.constant(t), valueArb[t] as fc.Arbitrary<unknown>, fc.integer({ min: 0, max: 65535 })),
    );
    fc.assert(
      fc.property(arb, ([type, value, ri]) =>
        roundTrip(format, { kind: 'resourceInstance', id: ri, type, value } as Lwm2mNode, pathFromIds([O, 1, 10 + TYPES.indexOf(type), ri])),
      ),
      RUNS,
    );
  });
});

describe('opaque round trip', () => {
  it('any bytes', () => {
    fc.assert(
      fc.property(valueArb.opaque, (value) => roundTrip(ContentFormat.OctetStream, { kind: 'resource', id: 5, type: 'opaque', value }, pathFromIds([O, 0, 5]))),
      RUNS,
    );
  });
});

/** Composite entries at distinct, non-overlapping paths of the test object. */
const compositeArb: fc.Arbitrary<CompositeEntry[]> = fc
  .uniqueArray(fc.tuple(fc.integer({ min: 0, max: 3 }), resourceArb()), {
    minLength: 1,
    maxLength: 6,
    selector: ([i, r]) => `${i}/${r.id}`,
  })
  .map((items) => items.map(([i, r]) => ({ path: pathFromIds([O, i, r.id]), node: r })));

describe.each([
  ['SenML JSON', ContentFormat.SenmlJson],
  ['SenML CBOR', ContentFormat.SenmlCbor],
  ['LwM2M CBOR', ContentFormat.Lwm2mCbor],
] as const)('%s composite round trip', (_name, format) => {
  it('Read-Composite responses / Write-Composite requests', () => {
    fc.assert(
      fc.property(compositeArb, (entries) => {
        const bytes = formats.encodeComposite(format, entries, model);
        const paths = entries.map((e) => e.path);
        const decoded = formats.decodeComposite(format, bytes, model, paths);
        const byPath = (es: readonly CompositeEntry[]): Map<string, Lwm2mNode> => new Map(es.map((e) => [formatPath(e.path), e.node]));
        expect(byPath(decoded)).toEqual(byPath(entries));
      }),
      RUNS,
    );
  });

  it('Read-Composite request paths', () => {
    const pathArb = fc
      .array(fc.integer({ min: 0, max: 65534 }), { minLength: 1, maxLength: 4 })
      .map((ids) => pathFromIds(ids));
    fc.assert(
      fc.property(fc.uniqueArray(pathArb, { maxLength: 6, selector: formatPath }), (paths) => {
        expect(formats.decodePaths(format, formats.encodePaths(format, paths))).toEqual(paths);
      }),
      RUNS,
    );
  });
});

describe('link format round trip', () => {
  const token = fc.stringMatching(/^[A-Za-z0-9!#$&+\-.^_`|~]{1,8}$/);
  const attr = fc.oneof(
    token.map((name) => ({ name })),
    fc.tuple(token, fc.stringMatching(/^[A-Za-z0-9.:/\-]{1,10}$/)).map(([name, value]) => ({ name, value })),
    fc.tuple(token, fc.string({ maxLength: 10 })).map(([name, value]) => ({ name, value, quoted: true })),
  );
  const link: fc.Arbitrary<Link> = fc.record({
    uri: fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 }).map((ids) => `/${ids.join('/')}`),
    attributes: fc.array(attr, { maxLength: 4 }),
  });

  it('links with flags, tokens and quoted strings', () => {
    const codec = new LinkFormatCodec();
    fc.assert(
      fc.property(fc.array(link, { maxLength: 5 }), (links) => {
        expect(codec.decode(codec.encode(links))).toEqual(links);
      }),
      RUNS,
    );
  });
});
