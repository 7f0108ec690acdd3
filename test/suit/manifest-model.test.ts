/**
 * Every command and parameter of draft-ietf-suit-manifest-34 decodes to its typed form, and
 * anything unknown is kept: decode → encode gives back the same bytes.
 */
import { isLwm2mFotaError } from '../../src/errors';
import {
  buildEnvelope,
  CborMap,
  CborTag,
  decodeEnvelope,
  decodeManifest,
  encodeCbor,
  encodeEnvelope,
  encodeManifest,
  generateKeyPair,
  inspectUnverified,
  signEnvelope,
  verifyEnvelope,
  type CborValue,
} from '../../src/suit';
import { hex } from './helpers';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isLwm2mFotaError(err)) return err.code;
    throw err;
  }
  throw new Error('expected an error');
}

const seq = (...items: CborValue[]): Uint8Array => encodeCbor(items);
const uuid = new Uint8Array(16).fill(0xab);
const digest = encodeCbor([-16, new Uint8Array(32).fill(1)]);

/** A manifest that uses every command and parameter of the draft plus unknown ones. */
function kitchenSink(): Uint8Array {
  const params = new CborMap([
    [1, new CborTag(112, new Uint8Array([0x2b, 0x06, 0x01, 0x04, 0x01]))], // vendor-id as cbor-pen
    [2, uuid], // class-id
    [3, digest], // image-digest
    [5, 1], // component-slot
    [12, true], // strict-order
    [13, false], // soft-failure
    [14, 1234], // image-size
    [18, new Uint8Array([9, 9])], // content
    [21, 'coap://h/fw'], // uri
    [22, 0], // source-component
    [23, new Uint8Array([1])], // invoke-args
    [24, uuid], // device-id
    [25, new Uint8Array([2])], // fetch-arguments
    [99, 'unknown parameter'],
    [-7, 42], // custom parameter
  ]);
  const branchA = seq(20, new CborMap([[5, 0]]), 5, 5);
  const branchB = seq(20, new CborMap([[5, 1]]), 5, 5);
  const shared = seq(12, true, 20, params, 1, 15, 2, 15, 24, 15, 15, [branchA, branchB, null]);
  const install = seq(12, [0, 1], 21, 2, 22, 2, 31, 2, 18, 2, 3, 15, 6, 15, 32, seq(12, 1, 14, 0));
  const validate = seq(12, 0, 3, 15, -3, new Uint8Array([7]), 99, [1, 'x']);
  const text = encodeCbor(
    new CborMap([
      [
        'en-US',
        new CborMap([
          [1, 'manifest'],
          [-2, 'custom text'],
          [[new Uint8Array([0])], new CborMap([[6, '1.0'], [-9, 'custom']])],
        ]),
      ],
    ]),
  );
  const common = encodeCbor(
    new CborMap([
      [2, [[new Uint8Array([0])], [new Uint8Array([1]), new Uint8Array([2, 3])]]],
      [4, shared],
      [77, 'unknown common member'],
    ]),
  );
  const manifest = new CborMap([
    [1, 1],
    [2, 3],
    [3, common],
    [4, 'https://example.com/full.suit'],
    [7, validate],
    [8, seq(12, 1, 22, 2)],
    [9, seq(23, 2)],
    [16, seq(21, 2)],
    [20, install],
    [23, text],
    [-40, new Uint8Array([5])],
    [100, [1, 2, 3]],
  ]);
  return encodeCbor(new CborTag(1070, manifest));
}

describe('manifest model', () => {
  const bytes = kitchenSink();

  it('re-encodes a manifest with every command, every parameter and unknown members byte for byte', () => {
    const m = decodeManifest(bytes);
    expect(hex(encodeManifest(m))).toBe(hex(bytes));
    expect(m.tagged).toBe(true);
    expect(m.extensions?.map(([k]) => k)).toEqual([100, -40]);
    expect(m.common.extensions?.map(([k]) => k)).toEqual([77]);
  });

  it('types each argument and parameter by its code', () => {
    const m = decodeManifest(bytes);
    const shared = m.common.sharedSequence!;
    expect(shared.map((c) => [c.code, c.arg.kind])).toEqual([
      [12, 'componentIndex'],
      [20, 'parameters'],
      [1, 'reportingPolicy'],
      [2, 'reportingPolicy'],
      [24, 'reportingPolicy'],
      [15, 'tryEach'],
    ]);
    const p = shared[1]!.arg;
    if (p.kind !== 'parameters') throw new Error('expected parameters');
    expect(p.parameters.map((x) => [x.label, x.value.type])).toEqual([
      [1, 'pen'],
      [2, 'bytes'],
      [3, 'digest'],
      [5, 'uint'],
      [12, 'bool'],
      [13, 'bool'],
      [14, 'uint'],
      [18, 'bytes'],
      [21, 'text'],
      [22, 'uint'],
      [23, 'bytes'],
      [24, 'bytes'],
      [25, 'bytes'],
      [99, 'raw'],
      [-7, 'raw'],
    ]);
    const tryEach = shared[5]!.arg;
    expect(tryEach.kind === 'tryEach' && tryEach.nilFallback).toBe(true);
    const install = m.install!;
    expect(install.severed).toBe(false);
    expect(install.value!.map((c) => [c.code, c.arg.kind])).toEqual([
      [12, 'componentIndex'],
      [21, 'reportingPolicy'],
      [22, 'reportingPolicy'],
      [31, 'reportingPolicy'],
      [18, 'reportingPolicy'],
      [3, 'reportingPolicy'],
      [6, 'reportingPolicy'],
      [32, 'sequence'],
    ]);
    expect(m.validate!.map((c) => [c.code, c.arg.kind])).toEqual([
      [12, 'componentIndex'],
      [3, 'reportingPolicy'],
      [-3, 'raw'],
      [99, 'raw'],
    ]);
    // §8.4.4: "Negative integer IDs are reserved for application-specific text values."
    expect(m.text?.value?.[0]?.fields).toEqual([
      [1, 'manifest'],
      [-2, 'custom text'],
    ]);
    expect(m.text?.value?.[0]?.components[0]?.fields).toEqual([
      [6, '1.0'],
      [-9, 'custom'],
    ]);
  });

  it('wraps into an envelope that verifies; unknown members survive decode/encode but not verification', () => {
    const key = generateKeyPair('ed25519').privateKey;
    const signed = signEnvelope(buildEnvelope(bytes), key);
    const policy = { trustedKeys: [{ key }] };
    const r = verifyEnvelope(signed, policy);
    expect(r.components.map((c) => c.uris)).toEqual([['coap://h/fw'], ['coap://h/fw']]);
    expect(r.manifest.referenceUri).toBe('https://example.com/full.suit');
    const withUnknown = decodeEnvelope(signed);
    withUnknown.extensions.push([99, new Uint8Array([1])]);
    const extended = encodeEnvelope(withUnknown);
    expect(hex(encodeEnvelope(decodeEnvelope(extended)))).toBe(hex(extended));
    expect(decodeEnvelope(extended).extensions).toEqual([[99, new Uint8Array([1])]]);
    expect(codeOf(() => verifyEnvelope(extended, policy))).toBe('ERR_SUIT_STRUCTURE');
    // an integrated payload nobody names, and one that does not match the image digest
    const unnamed = decodeEnvelope(signed);
    unnamed.integratedPayloads.push({ key: '#a', bytes: new Uint8Array(3) });
    expect(codeOf(() => verifyEnvelope(encodeEnvelope(unnamed), policy))).toBe('ERR_SUIT_STRUCTURE');
    const wrong = decodeEnvelope(signed);
    wrong.integratedPayloads.push({ key: 'coap://h/fw', bytes: new Uint8Array(1234) });
    expect(codeOf(() => verifyEnvelope(encodeEnvelope(wrong), policy))).toBe('ERR_SUIT_IMAGE_DIGEST');
    expect(inspectUnverified(encodeEnvelope(wrong)).envelope.integratedPayloads).toHaveLength(1);
  });

  it('rejects an envelope without tag 107 (it would be a second encoding of the same envelope)', () => {
    const key = generateKeyPair('ed25519').privateKey;
    const signed = signEnvelope(buildEnvelope(bytes), key);
    const bare = signed.subarray(2); // d8 6b = tag 107
    try {
      verifyEnvelope(bare, { trustedKeys: [{ key }] });
      throw new Error('verified');
    } catch (err) {
      expect(isLwm2mFotaError(err, 'ERR_SUIT_STRUCTURE')).toBe(true);
    }
  });

  it.each([
    ['version 2', new CborMap([[1, 2], [2, 0], [3, encodeCbor(new CborMap())]])],
    ['no sequence number', new CborMap([[1, 1], [3, encodeCbor(new CborMap())]])],
    ['a negative sequence number', new CborMap([[1, 1], [2, -1], [3, encodeCbor(new CborMap())]])],
    ['no common', new CborMap([[1, 1], [2, 0]])],
    ['an odd command sequence', new CborMap([[1, 1], [2, 0], [3, encodeCbor(new CborMap())], [7, seq(3)]])],
    ['a condition with a text argument', new CborMap([[1, 1], [2, 0], [3, encodeCbor(new CborMap())], [7, seq(3, 'x')]])],
    ['a 15-byte class id', new CborMap([[1, 1], [2, 0], [3, encodeCbor(new CborMap([[4, seq(20, new CborMap([[2, new Uint8Array(15)]]))]]))]])],
    ['try-each with one sequence', new CborMap([[1, 1], [2, 0], [3, encodeCbor(new CborMap())], [7, seq(15, [seq(3, 15)])]])],
    ['set-component-index false', new CborMap([[1, 1], [2, 0], [3, encodeCbor(new CborMap())], [7, seq(12, false)]])],
  ])('rejects a manifest with %s as ERR_SUIT_STRUCTURE', (_, m) => {
    try {
      decodeManifest(encodeCbor(m));
      throw new Error('decoded');
    } catch (err) {
      expect(isLwm2mFotaError(err, 'ERR_SUIT_STRUCTURE')).toBe(true);
    }
  });
});
