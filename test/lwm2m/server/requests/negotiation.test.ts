import type { CoapEndpoint } from '../../../../src/coap/types';
import { ContentFormat, createContentFormatRegistry } from '../../../../src/lwm2m/core/content-formats/registry';
import { loadObjectModels } from '../../../../src/lwm2m/core/model';
import { parsePath } from '../../../../src/lwm2m/core/model/path';
import { DeviceClient } from '../../../../src/lwm2m/server/requests/device-client';
import type { DeviceContext } from '../../../../src/lwm2m/server/requests/device-context';

const F = ContentFormat;
const model = loadObjectModels().registry.forDevice({});
const client = new DeviceClient({ coap: {} as CoapEndpoint, formats: createContentFormatRegistry() });

function ctx(lwm2mVersion: DeviceContext['lwm2mVersion'], contentFormats: number[] = [], endpoint = `ep-${lwm2mVersion}`): DeviceContext {
  return { endpoint, registrationId: 'r', peer: { address: '::1', port: 1 }, lwm2mVersion, model, rootPath: '/', contentFormats, queueMode: false, objectLinks: [] };
}

describe('content-format negotiation', () => {
  it.each([
    ['1.0', '/3/0', [F.Tlv, F.Lwm2mJson]],
    ['1.0', '/3/0/9', [F.TextPlain, F.Tlv]],
    ['1.0', '/3/0/6', [F.Tlv, F.Lwm2mJson]],
    ['1.1', '/3/0', [F.SenmlCbor, F.SenmlJson, F.Tlv]],
    ['1.1', '/3/0/9', [F.SenmlCbor, F.TextPlain, F.SenmlJson, F.Tlv]],
    ['1.2', '/3/0', [F.Lwm2mCbor, F.SenmlCbor, F.SenmlJson, F.Tlv]],
    ['1.2', '/5/0/0', [F.OctetStream, F.Lwm2mCbor, F.SenmlCbor, F.TextPlain, F.SenmlJson, F.Tlv]],
  ] as const)('asks a %s device for %s in this order: %j', (version, path, expected) => {
    expect(client.readCandidates(ctx(version), parsePath(path))).toEqual(expected);
  });

  it('puts the formats a device announced (ct) first, keeping the rest as fallbacks', () => {
    expect(client.readCandidates(ctx('1.1', [F.SenmlJson, F.Tlv]), parsePath('/3/0'))).toEqual([F.SenmlJson, F.Tlv, F.SenmlCbor]);
  });

  it('tries a format the device announced first even when its version does not list it (1.1, ct=11543)', () => {
    expect(client.readCandidates(ctx('1.1', [F.Lwm2mJson]), parsePath('/3/0'))).toEqual([F.Lwm2mJson, F.SenmlCbor, F.SenmlJson, F.Tlv]);
    expect(client.readCandidates(ctx('1.1', [F.Lwm2mJson]), parsePath('/3/0/3'))).toEqual([F.Lwm2mJson, F.SenmlCbor, F.TextPlain, F.SenmlJson, F.Tlv]);
    // Announced formats the version lists keep their order, before the extra ones.
    expect(client.readCandidates(ctx('1.1', [F.Lwm2mJson, F.Tlv]), parsePath('/3/0'))).toEqual([F.Tlv, F.Lwm2mJson, F.SenmlCbor, F.SenmlJson]);
    // An Opaque value still goes as application/octet-stream first.
    expect(client.readCandidates(ctx('1.1', [F.Lwm2mJson]), parsePath('/5/0/0'))[0]).toBe(F.OctetStream);
  });

  it('never offers a single-value format for a tree, nor a composite format to a 1.0 device', () => {
    for (const v of ['1.0', '1.1', '1.2'] as const) {
      const tree = client.readCandidates(ctx(v, [F.TextPlain, F.Cbor]), parsePath('/3/0'));
      expect(tree).not.toContain(F.TextPlain);
      expect(tree).not.toContain(F.Cbor);
    }
    expect(client.compositeCandidates(ctx('1.0'))).toEqual([]);
    expect(client.compositeCandidates(ctx('1.1'))).toEqual([F.SenmlCbor, F.SenmlJson]);
    expect(client.compositeCandidates(ctx('1.2'))).toEqual([F.Lwm2mCbor, F.SenmlCbor, F.SenmlJson]);
  });
});
