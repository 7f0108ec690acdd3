import { formatUuid, isRelativeReference, resolveUriReference, uuidV5, UUID_NAMESPACE_DNS, vendorIdFor, classIdFor } from '../../src/suit';

describe('RFC 3986 §5.4 reference resolution', () => {
  const base = 'http://a/b/c/d;p?q';
  // §5.4.1 Normal Examples
  it.each([
    ['g:h', 'g:h'],
    ['g', 'http://a/b/c/g'],
    ['./g', 'http://a/b/c/g'],
    ['g/', 'http://a/b/c/g/'],
    ['/g', 'http://a/g'],
    ['//g', 'http://g'],
    ['?y', 'http://a/b/c/d;p?y'],
    ['g?y', 'http://a/b/c/g?y'],
    ['#s', 'http://a/b/c/d;p?q#s'],
    ['g#s', 'http://a/b/c/g#s'],
    ['g?y#s', 'http://a/b/c/g?y#s'],
    [';x', 'http://a/b/c/;x'],
    ['g;x', 'http://a/b/c/g;x'],
    ['g;x?y#s', 'http://a/b/c/g;x?y#s'],
    ['', 'http://a/b/c/d;p?q'],
    ['.', 'http://a/b/c/'],
    ['./', 'http://a/b/c/'],
    ['..', 'http://a/b/'],
    ['../', 'http://a/b/'],
    ['../g', 'http://a/b/g'],
    ['../..', 'http://a/'],
    ['../../', 'http://a/'],
    ['../../g', 'http://a/g'],
  ])('normal: %s → %s', (ref, target) => {
    expect(resolveUriReference(base, ref)).toBe(target);
  });

  // §5.4.2 Abnormal Examples (strict parser)
  it.each([
    ['../../../g', 'http://a/g'],
    ['../../../../g', 'http://a/g'],
    ['/./g', 'http://a/g'],
    ['/../g', 'http://a/g'],
    ['g.', 'http://a/b/c/g.'],
    ['.g', 'http://a/b/c/.g'],
    ['g..', 'http://a/b/c/g..'],
    ['..g', 'http://a/b/c/..g'],
    ['./../g', 'http://a/b/g'],
    ['./g/.', 'http://a/b/c/g/'],
    ['g/./h', 'http://a/b/c/g/h'],
    ['g/../h', 'http://a/b/c/h'],
    ['g;x=1/./y', 'http://a/b/c/g;x=1/y'],
    ['g;x=1/../y', 'http://a/b/c/y'],
    ['g?y/./x', 'http://a/b/c/g?y/./x'],
    ['g?y/../x', 'http://a/b/c/g?y/../x'],
    ['g#s/./x', 'http://a/b/c/g#s/./x'],
    ['g#s/../x', 'http://a/b/c/g#s/../x'],
    ['http:g', 'http:g'],
  ])('abnormal: %s → %s', (ref, target) => {
    expect(resolveUriReference(base, ref)).toBe(target);
  });

  it('resolves the firmware repository form against a CoAP URI with an IPv6 literal', () => {
    expect(resolveUriReference('coaps://[2001:db8::5]:5684/fw/aa', '/fw/bb')).toBe('coaps://[2001:db8::5]:5684/fw/bb');
    expect(isRelativeReference('/fw/bb')).toBe(true);
    expect(isRelativeReference('coap://h/fw/bb')).toBe(false);
    expect(() => resolveUriReference('/relative', 'x')).toThrow(TypeError);
  });
});

describe('UUIDv5', () => {
  it('gives the vendor and class IDs of the draft examples', () => {
    expect(formatUuid(uuidV5(UUID_NAMESPACE_DNS, 'arm.com'))).toBe('fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe');
    expect(formatUuid(classIdFor(vendorIdFor('arm.com'), 'suit'))).toBe('1492af14-2569-5e48-bf42-9b2d51f2ab45');
  });

  it('matches the RFC 9562 Appendix A.4 example (www.example.com in the DNS namespace)', () => {
    expect(formatUuid(uuidV5(UUID_NAMESPACE_DNS, 'www.example.com'))).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });
});
