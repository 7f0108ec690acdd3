import fc from 'fast-check';
import { formatLinkFormat, linkAttribute, parseLinkFormat, type Link } from '../../../../src/lwm2m/core/content-formats/link-format';
import { isLwm2mFotaError } from '../../../../src/errors';

const plain = (links: Link[]): Array<{ uri: string; params: Record<string, string | true> }> =>
  links.map((l) => ({ uri: l.uri, params: Object.fromEntries(l.attributes.map((a) => [a.name, a.value ?? true])) }));

describe('CoRE link format (RFC 6690) as registration payloads use it', () => {
  it('parses the registration payload of an LwM2M 1.1 client with root link, versions and instances', () => {
    const links = parseLinkFormat('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</5>;ver=1.1,</5/0>');
    expect(plain(links)).toEqual([
      { uri: '/', params: { rt: 'oma.lwm2m', ct: '11543' } },
      { uri: '/1/0', params: {} },
      { uri: '/3/0', params: {} },
      { uri: '/5', params: { ver: '1.1' } },
      { uri: '/5/0', params: {} },
    ]);
    expect(linkAttribute(links[3]!, 'ver')).toBe('1.1');
  });

  it('keeps valueless parameters, quoted strings with escapes and whitespace after commas', () => {
    const links = parseLinkFormat('</s>;obs;rt="a \\"b\\"", </t>;title="x,y;z"');
    expect(plain(links)).toEqual([
      { uri: '/s', params: { obs: true, rt: 'a "b"' } },
      { uri: '/t', params: { title: 'x,y;z' } },
    ]);
  });

  it.each(['</1/0', '/1/0>', '</1/0>;', '</1/0>;ver=', '</1/0>;rt="abc', '</1/0> </2/0>', '</1/0>,', '</1 0>'])(
    'rejects %p with a typed error and a byte offset',
    (text) => {
      let caught: unknown;
      try {
        parseLinkFormat(text);
      } catch (err) {
        caught = err;
      }
      expect(isLwm2mFotaError(caught, 'ERR_LWM2M_LINK_FORMAT')).toBe(true);
      expect(typeof (caught as { context: { offset: number } }).context.offset).toBe('number');
    },
  );

  it('round-trips formatted links', () => {
    const link = fc.record({
      uri: fc.stringMatching(/^\/[a-z0-9/]{0,12}$/),
      attributes: fc.uniqueArray(
        fc.record({ name: fc.stringMatching(/^[a-z]{1,6}$/), value: fc.string({ maxLength: 8 }) }, { requiredKeys: ['name'] }),
        { selector: (a) => a.name, maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(fc.array(link, { maxLength: 8 }), (links) => {
        expect(plain(parseLinkFormat(formatLinkFormat(links)))).toEqual(plain(links));
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
