import { CompositeFormats } from '../../../../src/lwm2m/server/requests/composite-formats';

const SENML_CBOR = 112;
const SENML_JSON = 110;
const LWM2M_CBOR = 11544;

/** The (body, accept) pairs tried when the device answers `codes` in turn. */
function tried(codes: readonly string[]): Array<[number, number]> {
  const f = new CompositeFormats([SENML_CBOR, SENML_JSON], [LWM2M_CBOR, SENML_CBOR]);
  const out: Array<[number, number]> = [[f.body, f.accept]];
  for (const c of codes) {
    if (!f.step(c)) break;
    out.push([f.body, f.accept]);
  }
  return out;
}

describe('CompositeFormats: the paths and the answer format negotiated apart', () => {
  test.each([
    ['a success ends it', ['2.05'], [[SENML_CBOR, LWM2M_CBOR]]],
    ['4.15 steps the body only', ['4.15'], [[SENML_CBOR, LWM2M_CBOR], [SENML_JSON, LWM2M_CBOR]]],
    ['4.06 steps the Accept only', ['4.06'], [[SENML_CBOR, LWM2M_CBOR], [SENML_CBOR, SENML_CBOR]]],
    ['4.15 with no body left steps the Accept', ['4.15', '4.15'], [[SENML_CBOR, LWM2M_CBOR], [SENML_JSON, LWM2M_CBOR], [SENML_JSON, SENML_CBOR]]],
    ['4.06 with no Accept left steps the body', ['4.06', '4.06'], [[SENML_CBOR, LWM2M_CBOR], [SENML_CBOR, SENML_CBOR], [SENML_JSON, SENML_CBOR]]],
    ['everything tried: it stops', ['4.15', '4.06', '4.06', '4.15'], [[SENML_CBOR, LWM2M_CBOR], [SENML_JSON, LWM2M_CBOR], [SENML_JSON, SENML_CBOR]]],
    ['another refusal is an answer, not a format problem', ['4.04'], [[SENML_CBOR, LWM2M_CBOR]]],
  ] as const)('%s', (_what, codes, pairs) => {
    expect(tried(codes)).toEqual(pairs);
  });
});
