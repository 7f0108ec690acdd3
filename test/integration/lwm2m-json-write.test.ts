/**
 * Issue 20 item 4: a single-resource Write in LwM2M JSON names the resource with "n" under
 * the instance's "bn" (`{"bn":"/1/0/","e":[{"n":"1","v":222}]}`). Against the emulator as a
 * strict LwM2M JSON reader — it answers 4.06 to entries without "n", as a strict client
 * does — over real UDP.
 */
import { createCoapEndpoint, type CoapEndpoint } from '../../src/coap';
import type { EmulatedDevice } from '../../src/device';
import { resource } from '../../src/lwm2m/core/content-formats/node';
import { ContentFormat } from '../../src/lwm2m/core/content-formats/registry';
import { parsePath } from '../../src/lwm2m/core/model/path';
import type { ReadResponse } from '../../src/lwm2m/server/requests/types';
import type { Lwm2mFotaServer } from '../../src/server';
import { tempDir } from '../helpers/tmp';
import { FAST, serverUri, startDevice, startServer } from './update-harness';

jest.setTimeout(30_000);

/** The form single-resource writes had before: a valid SenML name, but no "n". */
const OLD_FORM = '{"bn":"/1/0/1","e":[{"v":222}]}';

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
let peer: CoapEndpoint;
const devices: EmulatedDevice[] = [];

beforeAll(async () => {
  tmp = tempDir();
  server = await startServer(tmp.dir);
  peer = await createCoapEndpoint({ port: 0, host: '::1', transmission: FAST });
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
});

afterAll(async () => {
  await peer.close();
  await server.close();
  tmp.remove();
});

/** A 1.1 device that speaks only LwM2M JSON (ct=11543). */
async function jsonDevice(strict: boolean): Promise<EmulatedDevice> {
  const d = await startDevice(serverUri(server), { lwm2mVersion: '1.1', contentFormats: [ContentFormat.Lwm2mJson], strictLwm2mJson: strict });
  devices.push(d);
  return d;
}

function putAt(d: EmulatedDevice, body: string) {
  return peer.request({ address: '::1', port: d.info().port! }, { method: 'PUT', path: '/1/0/1', contentFormat: ContentFormat.Lwm2mJson, payload: Buffer.from(body, 'utf8') });
}

describe('a strict LwM2M JSON reader', () => {
  test('refuses the old nameless form with 4.06; a lenient device takes it', async () => {
    const strict = await jsonDevice(true);
    expect((await putAt(strict, OLD_FORM)).code).toBe('4.06');
    expect((await putAt(strict, '{"bn":"/1/0/","e":[{"n":"1","v":222}]}')).code).toBe('2.04');
    const lenient = await jsonDevice(false);
    expect((await putAt(lenient, OLD_FORM)).code).toBe('2.04');
  });

  test('takes the server\'s single-resource Write in LwM2M JSON', async () => {
    const d = await jsonDevice(true);
    const path = parsePath('/1/0/1');
    const w = await server.devices.perform(d.endpoint, { operation: 'write', mode: 'replace', path, node: resource(1, 'integer', 222), format: ContentFormat.Lwm2mJson });
    expect(w).toMatchObject({ code: '2.04', success: true, format: ContentFormat.Lwm2mJson });
    const r = (await server.devices.perform(d.endpoint, { operation: 'read', path })) as ReadResponse;
    expect(r).toMatchObject({ code: '2.05', format: ContentFormat.Lwm2mJson, content: resource(1, 'integer', 222) });
    // Negotiated too: the device announced LwM2M JSON only.
    const again = await server.devices.perform(d.endpoint, { operation: 'write', mode: 'replace', path: parsePath('/1/0/2'), node: resource(2, 'integer', 7) });
    expect(again).toMatchObject({ code: '2.04', format: ContentFormat.Lwm2mJson });
    expect(d.info().radio.ignoredIn).toBe(0);
  });
});
