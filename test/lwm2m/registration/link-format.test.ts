import fc from 'fast-check';
import { formatLinkFormat, parseLinkFormat } from '../../../src/lwm2m/link-format';
import { isLwm2mFotaError } from '../../../src/errors';

describe('CoRE link format (RFC 6690)', () => {
  it('parses the registration payload of an LwM2M 1.1 client with root link, versions and instances', () => {
    const links = parseLinkFormat('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</5>;ver=1.1,</5/0>');
    expect(links).toEqual([
      { uri: '/', params: { rt: 'oma.lwm2m', ct: '11543' } },
      { uri: '/1/0', params: {} },
      { uri: '/3/0', params: {} },
      { uri: '/5', params: { ver: '1.1' } },
      { uri: '/5/0', params: {} },
    ]);
  });

  it('keeps valueless parameters, quoted strings with escapes and whitespace after commas', () => {
    const links = parseLinkFormat('</s>;obs;rt="a \\"b\\"", </t>;title="x,y;z"');
    expect(links).toEqual([
      { uri: '/s', params: { obs: true, rt: 'a "b"' } },
      { uri: '/t', params: { title: 'x,y;z' } },
    ]);
  });

  it('accepts an empty document', () => {
    expect(parseLinkFormat('')).toEqual([]);
  });

  it.each([
    ['</1/0', 'unterminated URI reference'],
    ['/1/0>', 'expected "<"'],
    ['</1/0>;', 'expected a parameter name'],
    ['</1/0>;ver=', 'expected a value'],
    ['</1/0>;rt="abc', 'unterminated quoted string'],
    ['</1/0> </2/0>', 'expected "," or ";"'],
    ['</1/0>,', 'expected "<"'],
    ['</1 0>', 'invalid character'],
  ])('rejects %p with a typed error and offset (%s)', (text, message) => {
    let caught: unknown;
    try {
      parseLinkFormat(text);
    } catch (err) {
      caught = err;
    }
    expect(isLwm2mFotaError(caught, 'ERR_LWM2M_LINK_FORMAT')).toBe(true);
    expect((caught as Error).message).toContain(message);
    expect(typeof (caught as { context: { offset: number } }).context.offset).toBe('number');
  });

  it('bounds the number of links', () => {
    const many = Array.from({ length: 11 }, (_, i) => `</${i}/0>`).join(',');
    expect(() => parseLinkFormat(many, { maxLinks: 10 })).toThrow(/more than 10 links/);
  });

  it('round-trips formatted links', () => {
    const link = fc.record({
      uri: fc.stringMatching(/^\/[a-z0-9/]{0,12}$/),
      params: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.constant(true as const), fc.string({ maxLength: 8 }))),
    });
    fc.assert(
      fc.property(fc.array(link, { maxLength: 8 }), (links) => {
        expect(parseLinkFormat(formatLinkFormat(links))).toEqual(links);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but a typed error on random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (s) => {
        try {
          parseLinkFormat(s);
        } catch (err) {
          expect(isLwm2mFotaError(err, 'ERR_LWM2M_LINK_FORMAT')).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
