import {
  RegistrationRejection,
  parseRegisterQuery,
  parseRegistrationLinks,
  parseUpdateQuery,
  objectVersionOf,
} from '../../../../src/lwm2m/server/registration/registration-request';
import { isLwm2mFotaError } from '../../../../src/errors';

function rejection(fn: () => unknown): RegistrationRejection {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistrationRejection) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('Register query (Core §6.2.1)', () => {
  it('reads ep, lt, lwm2m, b and sms', () => {
    expect(parseRegisterQuery(['ep=dev-1', 'lt=300', 'lwm2m=1.1', 'b=U', 'sms=+123'])).toEqual({
      endpoint: 'dev-1',
      lifetime: 300,
      lwm2mVersion: '1.1',
      binding: 'U',
      queueMode: false,
      smsNumber: '+123',
    });
  });

  it('defaults lifetime to 86400, version to 1.0 and binding to U', () => {
    expect(parseRegisterQuery(['ep=a'])).toEqual({ endpoint: 'a', lifetime: 86400, lwm2mVersion: '1.0', binding: 'U', queueMode: false });
  });

  it('takes queue mode from a 1.0 UQ binding and from the 1.1 Q parameter', () => {
    expect(parseRegisterQuery(['ep=a', 'b=UQ']).queueMode).toBe(true);
    expect(parseRegisterQuery(['ep=a', 'lwm2m=1.1', 'b=U', 'Q']).queueMode).toBe(true);
  });

  it.each([
    [['lt=300'], '4.00', 'missing'],
    [['ep='], '4.00', 'missing'],
    [['ep=a', 'lt=abc'], '4.00', 'whole number'],
    [['ep=a', 'lt=-5'], '4.00', 'whole number'],
    [['ep=a', 'lt=0'], '4.00', 'between'],
    [['ep=a', 'lt=99999999999'], '4.00', 'whole number'],
    [['ep=a', 'lwm2m=2.0'], '4.12', 'not supported'],
    [['ep=a', 'b=X'], '4.00', 'binding'],
    [['ep=a', 'lwm2m=1.1', 'b=UU'], '4.00', 'binding'],
    [['ep=a', 'ep=b'], '4.00', 'twice'],
    [['ep=a', 'lt'], '4.00', 'needs a value'],
    [['ep=a\u0001'], '4.00', 'control'],
    [[`ep=${'x'.repeat(256)}`], '4.00', 'longer'],
  ])('rejects %p with %s', (query, code, message) => {
    const r = rejection(() => parseRegisterQuery(query));
    expect(r.coapCode).toBe(code);
    expect(r.message).toContain(message);
  });
});

describe('Update query', () => {
  it('accepts an empty update and optional lt / b', () => {
    expect(parseUpdateQuery([], '1.1')).toEqual({});
    expect(parseUpdateQuery(['lt=60', 'b=UQ'], '1.0')).toEqual({ lifetime: 60, binding: 'UQ', queueMode: true });
  });

  it('refuses to change the endpoint name or version', () => {
    expect(rejection(() => parseUpdateQuery(['ep=other'], '1.1')).coapCode).toBe('4.00');
    expect(rejection(() => parseUpdateQuery(['lt=x'], '1.1')).coapCode).toBe('4.00');
  });
});

describe('Registration links', () => {
  it('extracts object links, versions and content formats', () => {
    const p = parseRegistrationLinks('</>;rt="oma.lwm2m";ct="60 110 112 11542",</1/0>,</3/0>,</5>;ver=1.1,</5/0>');
    expect(p.rootPath).toBe('/');
    expect(p.objectLinks).toEqual(['/1/0', '/3/0', '/5', '/5/0']);
    expect(p.contentFormats).toEqual([60, 110, 112, 11542]);
    expect(objectVersionOf(p, 5)).toBe('1.1');
    expect(objectVersionOf(p, 3)).toBe('1.0');
  });

  it.each([
    ['</>;ct=11543,</1/0>,</3/0>', '/'],
    ['</lwm2m>;rt="oma.lwm2m";ct=11543,</lwm2m/1/0>,</lwm2m/3/0>', '/lwm2m'],
  ])('reads the content formats of a root link written %s', (text, root) => {
    const p = parseRegistrationLinks(text);
    expect(p.rootPath).toBe(root);
    expect(p.contentFormats).toEqual([11543]);
    expect(p.objectLinks).toEqual(['/1/0', '/3/0']);
  });

  it('honours an alternate root path', () => {
    const p = parseRegistrationLinks('</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3/0>');
    expect(p.rootPath).toBe('/lwm2m');
    expect(p.objectLinks).toEqual(['/1/0', '/3/0']);
    expect(p.objects).toEqual([
      { objectId: 1, instanceId: 0 },
      { objectId: 3, instanceId: 0 },
    ]);
  });

  it.each([
    '</lwm2m>;rt="oma.lwm2m",</1/0>',
    '</a/b>',
    '</1/0/0>',
    '</70000/0>',
    '</1/65535>',
    '</01/0>',
    '</>;rt="oma.lwm2m";ct=abc',
  ])('rejects %p as not LwM2M object links', (text) => {
    let caught: unknown;
    try {
      parseRegistrationLinks(text);
    } catch (err) {
      caught = err;
    }
    expect(isLwm2mFotaError(caught, 'ERR_LWM2M_LINK_FORMAT')).toBe(true);
  });
});
