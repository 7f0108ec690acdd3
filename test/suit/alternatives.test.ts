/**
 * Components with try-each alternatives: the draft's Example 3 (A/B images,
 * draft-ietf-suit-manifest-34 Appendix B.4) sets digest and size per slot in shared-sequence and
 * the URI per slot in install. Each alternative is reported with its slot, digest, size and URI.
 */
import { buildEnvelope, createManifest, describeEnvelope, encodeManifest, envelopeTree, inspectUnverified, SuitCommandCode, SuitParameterLabel, type SuitManifest } from '../../src/suit';
import { EXAMPLES, expected, vector } from './helpers';

const example3 = (): ReturnType<typeof inspectUnverified> => inspectUnverified(vector(expected.examples['example3']!.file));

describe('try-each alternatives', () => {
  it('reports both slots of the A/B example with their digest, size and URI', () => {
    const r = example3();
    expect(r.components).toHaveLength(1);
    expect(r.components[0]!.alternatives).toEqual([
      { slot: 0, imageDigest: { alg: -16, bytes: Buffer.from('00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210', 'hex') }, imageSize: 34768, uri: 'http://example.com/file1.bin' },
      { slot: 1, imageDigest: { alg: -16, bytes: Buffer.from('0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff', 'hex') }, imageSize: 76834, uri: 'http://example.com/file2.bin' },
    ]);
  });

  it('puts them in the JSON of manifest verify / show and keeps the fields outside try-each as they were', () => {
    const c = describeEnvelope(example3()).components[0]!;
    expect(c).toMatchObject({ imageDigest: null, imageSize: null, uri: null, uris: ['http://example.com/file1.bin', 'http://example.com/file2.bin'] });
    expect(c.alternatives).toEqual([
      { slot: 0, imageDigest: { alg: 'sha-256', hex: '00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210' }, imageSize: 34768, uri: 'http://example.com/file1.bin' },
      { slot: 1, imageDigest: { alg: 'sha-256', hex: '0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff' }, imageSize: 76834, uri: 'http://example.com/file2.bin' },
    ]);
    expect(envelopeTree(example3())).toContain('alternative slot 1: image sha-256:0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff, 76834 bytes, uri http://example.com/file2.bin');
  });

  it.each(EXAMPLES.filter((e) => e !== 'example3'))('%s, without try-each, has no alternatives and no "alternatives" member', (name) => {
    const r = inspectUnverified(vector(expected.examples[name]!.file));
    for (const c of r.components) expect(c.alternatives).toEqual([]);
    for (const c of describeEnvelope(r).components) expect(c).not.toHaveProperty('alternatives');
  });

  it('keeps alternatives without a slot apart, and skips branches that set none of slot, digest, size or URI', () => {
    const base = createManifest({ image: new Uint8Array(16), sequenceNumber: 1, vendorDomain: 'example.com', className: 'c', uri: 'coap://a/x' }).manifest;
    const uri = (u: string) => [{ code: SuitCommandCode.OverrideParameters, arg: { kind: 'parameters' as const, parameters: [{ label: SuitParameterLabel.Uri, value: { type: 'text' as const, value: u } }] } }];
    const m: SuitManifest = {
      ...base,
      install: {
        severed: false,
        value: [
          {
            code: SuitCommandCode.TryEach,
            arg: { kind: 'tryEach', nilFallback: false, sequences: [uri('coap://b/x'), uri('coap://c/x'), [{ code: SuitCommandCode.VendorIdentifier, arg: { kind: 'reportingPolicy', value: 15 } }]] },
          },
        ],
      },
    };
    const c = describeEnvelope(inspectUnverified(buildEnvelope(encodeManifest(m)))).components[0]!;
    expect(c.alternatives).toEqual([
      { slot: null, imageDigest: null, imageSize: null, uri: 'coap://b/x' },
      { slot: null, imageDigest: null, imageSize: null, uri: 'coap://c/x' },
    ]);
  });
});
