import { isLwm2mFotaError } from '../../../../src/errors';
import { loadObjectModels } from '../../../../src/lwm2m/core/model';
import { parsePath } from '../../../../src/lwm2m/core/model/path';
import {
  attributesFromJson,
  attributesToQuery,
  parseAttributeAssignments,
  validateAttributes,
  type NotificationAttributes,
} from '../../../../src/lwm2m/server/requests/attributes';

const model = loadObjectModels().registry.forDevice({});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isLwm2mFotaError(err) ? err.code : String(err);
  }
}

describe('Write-Attributes query building', () => {
  it('writes the attributes in a fixed order, whatever order they were given in', () => {
    expect(attributesToQuery({ epmax: 30, st: 1, pmax: 60, gt: 20.5, pmin: 10, lt: -3, epmin: 0 })).toEqual([
      'pmin=10',
      'pmax=60',
      'gt=20.5',
      'lt=-3',
      'st=1',
      'epmin=0',
      'epmax=30',
    ]);
  });

  it('removes an attribute with its bare name (TS Core §5.4.4) and leaves absent ones out', () => {
    expect(attributesToQuery({ pmin: null, gt: 5 })).toEqual(['pmin', 'gt=5']);
    expect(attributesToQuery({})).toEqual([]);
  });

  it('writes numbers without exponent notation where that is exact', () => {
    expect(attributesToQuery({ gt: 1e21 })).toEqual(['gt=1000000000000000000000']);
    expect(attributesToQuery({ st: 1e-7 })).toEqual(['st=0.0000001']);
  });
});

describe('Write-Attributes validation', () => {
  const ok: Array<[string, NotificationAttributes]> = [
    ['/3/0/9', { pmin: 10, pmax: 60 }],
    ['/3/0/9', { gt: 80, lt: 20, st: 5 }],
    ['/3/0', { pmin: 1 }],
    ['/3', { pmax: 0 }],
    ['/3/0/9', { pmin: null, gt: null }],
    ['/3/0/7/0', { gt: 3000 }],
  ];
  it.each(ok)('accepts %s %j', (path, attrs) => {
    expect(() => validateAttributes(attrs, parsePath(path), model)).not.toThrow();
  });

  const bad: Array<[string, string, NotificationAttributes]> = [
    ['pmin above pmax', '/3/0/9', { pmin: 61, pmax: 60 }],
    ['epmin above epmax', '/3/0/9', { epmin: 10, epmax: 5 }],
    ['a negative period', '/3/0/9', { pmin: -1 }],
    ['a fractional period', '/3/0/9', { pmax: 1.5 }],
    ['lt not below gt', '/3/0/9', { lt: 50, gt: 50 }],
    ['lt + 2·st not below gt (TS Core 1.1 §5.1.2)', '/3/0/9', { lt: 10, gt: 20, st: 5 }],
    ['a negative step', '/3/0/9', { st: -1 }],
    ['gt on an object instance', '/3/0', { gt: 1 }],
    ['st on a string resource', '/3/0/0', { st: 1 }],
    ['an unknown attribute', '/3/0/9', { foo: 1 } as unknown as NotificationAttributes],
    ['no attribute at all', '/3/0/9', {}],
    ['a value that is not a number', '/3/0/9', { pmin: '10' } as unknown as NotificationAttributes],
    ['an infinite threshold', '/3/0/9', { gt: Infinity }],
  ];
  it.each(bad)('refuses %s', (_what, path, attrs) => {
    expect(codeOf(() => validateAttributes(attrs, parsePath(path), model))).toBe('ERR_LWM2M_ATTRIBUTES');
  });
});

describe('reading attributes from people and from JSON', () => {
  it('parses name=value words; a bare name or an empty value removes', () => {
    expect(parseAttributeAssignments(['pmin=10', 'gt=-2.5', 'lt', 'st='])).toEqual({ pmin: 10, gt: -2.5, lt: null, st: null });
  });

  it.each([['foo=1'], ['pmin=ten'], ['pmin=1 ', 'pmin=2'], ['gt=1e']])('refuses %j', (...words) => {
    expect(codeOf(() => parseAttributeAssignments(words))).toBe('ERR_LWM2M_ATTRIBUTES');
  });

  it('takes numbers and null from JSON, nothing else', () => {
    expect(attributesFromJson({ pmin: 1, lt: null })).toEqual({ pmin: 1, lt: null });
    for (const bad of [null, [], 'pmin=1', { pmin: '1' }, { pmin: true }, { what: 1 }]) {
      expect(codeOf(() => attributesFromJson(bad))).toBe('ERR_LWM2M_ATTRIBUTES');
    }
  });
});
