/**
 * The device emulator over real UDP on loopback, driven by a test-side server endpoint
 * (test/device/harness.ts) the way the real server will drive it.
 */
import { ContentFormat } from '../../src/lwm2m/core/content-formats';
import { createDevice, FirmwareState, UpdateResult, type DeviceOptions, type EmulatedDevice } from '../../src/device';
import { createManifest, generateKeyPair, relativeFirmwareUri, type SuitPrivateKey } from '../../src/suit';
import { FAST, TestServer, eventually, testImage } from './harness';

const VENDOR = 'example.com';
const CLASS = 'sensor-v2';

let server: TestServer;
let trusted: SuitPrivateKey;
let untrusted: SuitPrivateKey;
const devices: EmulatedDevice[] = [];
let n = 0;

beforeAll(async () => {
  server = await TestServer.start();
  trusted = generateKeyPair('esp256').privateKey;
  untrusted = generateKeyPair('esp256').privateKey;
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
});

afterAll(async () => {
  await server.close();
});

async function startDevice(extra: Partial<DeviceOptions> = {}): Promise<EmulatedDevice> {
  const d = await createDevice({
    server: server.uri,
    endpoint: `dev-${++n}`,
    trustedKeys: [{ key: trusted }],
    vendorDomain: VENDOR,
    className: CLASS,
    firmwareVersion: '1.0.0',
    sequenceNumber: 5,
    transmission: FAST,
    rebootDelayMs: 100,
    installDelayMs: 20,
    outageMs: 300,
    registrationRetryMs: 100,
    ...extra,
  });
  devices.push(d);
  await d.start();
  return d;
}

interface Release {
  envelopeUri: string;
  envelope: Uint8Array;
  imagePath: string;
  image: Buffer;
}

let releases = 0;
/** Signs a release and serves envelope and image (relative image URI, as the repository does). */
function release(options: { size?: number; sequence?: number; version?: string; signer?: SuitPrivateKey; className?: string; integrated?: boolean; serveImage?: Buffer } = {}): Release {
  const version = options.version ?? '2.0.0';
  const image = testImage(options.size ?? 4096, version);
  // Each release its own image (and so its own /fw/<digest> path and request count).
  image.writeUInt16BE(++releases, image.length - 2);
  const m = createManifest({
    image,
    sequenceNumber: options.sequence ?? 6,
    vendorDomain: VENDOR,
    className: options.className ?? CLASS,
    ...(options.integrated ? { integrated: true } : { relativeUri: true }),
    version,
    signers: [options.signer ?? trusted],
  });
  const imagePath = relativeFirmwareUri(m.imageDigest);
  if (!options.integrated) server.serve(imagePath, options.serveImage ?? image);
  const envelopeUri = server.serve(`/fw/envelope-${releases}`, m.envelope);
  return { envelopeUri, envelope: m.envelope, imagePath, image };
}

async function peerOf(d: EmulatedDevice, nth = 1): Promise<{ address: string; port: number }> {
  return (await server.registration(d.endpoint, nth)).peer;
}

describe('registration', () => {
  test.each([
    ['1.0', 'U', ['lwm2m=1.0', 'b=U'], '</1/0>,</3/0>,</5/0>'],
    ['1.1', 'U', ['lwm2m=1.1', 'b=U'], '</>;rt="oma.lwm2m";ct="11542 110 112",</1>;ver=1.1,</1/0>,</3>;ver=1.1,</3/0>,</5>;ver=1.1,</5/0>'],
    ['1.2', 'UQ', ['lwm2m=1.2', 'b=U', 'Q'], '</>;rt="oma.lwm2m";ct="11542 110 112 11544",</1>;ver=1.2,</1/0>,</3>;ver=1.2,</3/0>,</5>;ver=1.2,</5/0>'],
  ] as const)('a %s device with binding %s registers with ep, lt, its version, binding and object links', async (lwm2m, binding, params, links) => {
    const d = await startDevice({ lwm2mVersion: lwm2m, binding, lifetime: 120 });
    const r = await server.registration(d.endpoint);
    expect(r.query).toEqual(expect.arrayContaining([`ep=${d.endpoint}`, 'lt=120', ...params]));
    if (binding === 'U') expect(r.query).not.toContain('Q');
    expect(r.links).toBe(links);
    expect(d.registrationId).toBe(r.id);
  });

  test('sends a registration Update before the lifetime ends and de-registers on stop', async () => {
    const d = await startDevice({ lifetime: 2 });
    const r = await server.registration(d.endpoint);
    await server.until(() => server.updates.includes(r.id), 5000);
    await d.stop();
    expect(server.deregistrations).toContain(r.id);
  });

  test('stopped while its Register is on the way, the device still de-registers once the answer comes', async () => {
    const d = await createDevice({ server: server.uri, endpoint: `dev-${++n}`, trustedKeys: [{ key: trusted }], transmission: FAST });
    const starting = d.start();
    const r = await server.registration(d.endpoint);
    await d.stop();
    await starting;
    expect(server.deregistrations).toContain(r.id);
  });

  test('registers again when the server answers an Update with 4.04', async () => {
    const d = await startDevice({ lifetime: 2 });
    const first = await server.registration(d.endpoint);
    // Forget the device, as a server that lost its registrations would.
    server.registrations.splice(server.registrations.indexOf(first), 1);
    const second = await server.until(() => server.registrations.find((r) => r.ep === d.endpoint), 5000);
    expect(second.id).not.toBe(first.id);
  });
});

describe('reads, writes, discover, observe', () => {
  test('reads /3/0 in TLV, SenML JSON and the firmware version as text; 4.06 for a format the version lacks', async () => {
    const d = await startDevice({ lwm2mVersion: '1.1', firmwareVersion: '1.4.2' });
    const peer = await peerOf(d);
    const tlv = await server.get(peer, '/3/0', ContentFormat.Tlv);
    expect(tlv.code).toBe('2.05');
    expect(tlv.contentFormat).toBe(ContentFormat.Tlv);
    const node = server.decode(tlv, '/3/0', '1.1');
    expect(node.kind).toBe('objectInstance');
    const fw = node.kind === 'objectInstance' ? node.resources.find((r) => r.id === 3) : undefined;
    expect(fw).toMatchObject({ kind: 'resource', value: '1.4.2' });
    const senml = await server.get(peer, '/3/0', ContentFormat.SenmlJson);
    expect(senml.code).toBe('2.05');
    expect(JSON.parse(senml.payload.toString('utf8'))).toEqual(expect.arrayContaining([expect.objectContaining({ n: '3', vs: '1.4.2' })]));
    const text = await server.get(peer, '/3/0/3');
    expect(text.payload.toString('utf8')).toBe('1.4.2');
    expect((await server.get(peer, '/3/0', ContentFormat.Lwm2mCbor)).code).toBe('4.06');
    expect((await server.get(peer, '/3/0', ContentFormat.TextPlain)).code).toBe('4.06');
  });

  test('a 1.0 device answers TLV and text only; 1.2 answers LwM2M CBOR', async () => {
    const d10 = await startDevice({ lwm2mVersion: '1.0' });
    const d12 = await startDevice({ lwm2mVersion: '1.2' });
    expect((await server.get(await peerOf(d10), '/5/0', ContentFormat.SenmlCbor)).code).toBe('4.06');
    expect((await server.get(await peerOf(d10), '/5/0', ContentFormat.Tlv)).code).toBe('2.05');
    const cbor = await server.get(await peerOf(d12), '/5/0', ContentFormat.Lwm2mCbor);
    expect(cbor.code).toBe('2.05');
    const node = server.decode(cbor, '/5/0', '1.2');
    expect(node.kind === 'objectInstance' && node.resources.find((r) => r.id === 3)).toMatchObject({ value: FirmwareState.Idle });
  });

  test('unknown paths are 4.04, reading an executable resource 4.05, Discover lists /5/0', async () => {
    const d = await startDevice();
    const peer = await peerOf(d);
    expect((await server.get(peer, '/4/0')).code).toBe('4.04');
    expect((await server.get(peer, '/3/0/99')).code).toBe('4.04');
    expect((await server.get(peer, '/5/0/2')).code).toBe('4.05');
    const disc = await server.get(peer, '/5/0', ContentFormat.LinkFormat);
    expect(disc.code).toBe('2.05');
    const text = disc.payload.toString('utf8');
    expect(text.startsWith('</5/0>,</5/0/0>,</5/0/1>,</5/0/2>,</5/0/3>')).toBe(true);
    expect(text).toContain('</5/0/8>;dim=1');
    expect(text).toContain('</5/0/10>');
  });

  test('Write-Attributes pmax makes an unchanged value notify again', async () => {
    const d = await startDevice();
    const peer = await peerOf(d);
    const seen: string[] = [];
    const obs = await server.coap.observe(peer, { method: 'GET', path: '/3/0/9' }, (x) => seen.push(x.payload.toString('utf8')));
    expect(obs.response.payload.toString('utf8')).toBe('100');
    expect((await server.coap.request(peer, { method: 'PUT', path: '/3/0/9', query: ['pmax=1'] })).code).toBe('2.04');
    await eventually(() => seen.length >= 1, 3000);
    expect(seen[0]).toBe('100');
    await obs.cancel();
  });

  test('Write-Attributes pmin holds notifications back; the value arrives once pmin passed', async () => {
    const d = await startDevice();
    const peer = await peerOf(d);
    expect((await server.coap.request(peer, { method: 'PUT', path: '/5/0/1', query: ['pmin=1'] })).code).toBe('2.04');
    const disc = await server.get(peer, '/5/0/1', ContentFormat.LinkFormat);
    expect(disc.payload.toString('utf8')).toBe('</5/0/1>;pmin=1');
    const seen: Array<{ at: number; text: string }> = [];
    const obs = await server.coap.observe(peer, { method: 'GET', path: '/5/0/1' }, (x) => seen.push({ at: Date.now(), text: x.payload.toString('utf8') }));
    expect(obs.established).toBe(true);
    const start = Date.now();
    // A URI nobody serves: the write succeeds and the download fails with 7 later (errors surface through Update Result).
    expect((await server.writeText(peer, '/5/0/1', `${server.uri}/fw/missing`)).code).toBe('2.04');
    await eventually(() => seen.length >= 1, 5000);
    expect(seen[0]!.text).toBe(`${server.uri}/fw/missing`);
    expect(seen[0]!.at - start).toBeGreaterThanOrEqual(900);
    await eventually(() => d.updateResult === UpdateResult.InvalidUri);
    await obs.cancel();
  });
});

describe('pull', () => {
  test.each([16, 64, 256, 1024])('at %i-byte blocks: envelope verified before the image, 1 → 2, Update, reboot, new version, result 1', async (blockSize) => {
    const d = await startDevice({ blockSize });
    const rel = release({ size: 4096 + 37 });
    const peer = await peerOf(d);
    const { values: states, observation } = await server.observeInts(peer, '/5/0/3');
    const order: string[] = [];
    d.on('verified', () => order.push('verified'));
    d.on('blockReceived', (e) => {
      if (e.what === 'image' && !order.includes('image')) order.push('image');
    });
    expect((await server.writeText(peer, '/5/0/1', rel.envelopeUri)).code).toBe('2.04');
    await eventually(() => states.includes(FirmwareState.Downloaded), 15_000);
    expect(states).toEqual([FirmwareState.Idle, FirmwareState.Downloading, FirmwareState.Downloaded]);
    expect(order).toEqual(['verified', 'image']);
    // Every block of the image was asked for at the device's block size.
    expect(server.hits.get(rel.imagePath)).toBe(Math.ceil(rel.image.length / blockSize));
    expect(d.info().slots.other).toMatchObject({ version: '2.0.0', sequenceNumber: 6, size: rel.image.length });
    await observation.cancel();

    const rebooted = d.waitFor('rebooted');
    expect((await server.execute(peer, '/5/0/2')).code).toBe('2.04');
    await rebooted;
    const again = await server.registration(d.endpoint, 2);
    expect((await server.get(again.peer, '/3/0/3')).payload.toString('utf8')).toBe('2.0.0');
    expect((await server.get(again.peer, '/5/0/5')).payload.toString('utf8')).toBe(String(UpdateResult.Success));
    expect((await server.get(again.peer, '/5/0/3')).payload.toString('utf8')).toBe(String(FirmwareState.Idle));
    expect(d.info()).toMatchObject({ firmwareVersion: '2.0.0', sequenceNumber: 6, slots: { running: { version: '2.0.0' }, other: { version: '1.0.0' } } });
  });

  test('an envelope signed by an untrusted key: result 5, the image is never fetched, the old firmware keeps running', async () => {
    const d = await startDevice();
    const rel = release({ signer: untrusted });
    const peer = await peerOf(d);
    const rejected = d.waitFor('rejected');
    await server.writeText(peer, '/5/0/1', rel.envelopeUri);
    expect(await rejected).toMatchObject({ result: UpdateResult.IntegrityCheckFailed, code: 'ERR_SUIT_SIGNATURE_INVALID' });
    expect(d.state).toBe(FirmwareState.Idle);
    expect(d.updateResult).toBe(UpdateResult.IntegrityCheckFailed);
    expect(server.hits.get(rel.imagePath) ?? 0).toBe(0);
    expect(d.firmwareVersion).toBe('1.0.0');
  });

  test.each([
    ['a sequence number not above the running one', { sequence: 5 }, 'ERR_SUIT_ROLLBACK'],
    ['another device class', { className: 'other-class' }, 'ERR_SUIT_CLASS_MISMATCH'],
  ] as const)('%s: result 6 and the image is never fetched', async (_what, opts, code) => {
    const d = await startDevice();
    const rel = release(opts);
    const rejected = d.waitFor('rejected');
    await server.writeText(await peerOf(d), '/5/0/1', rel.envelopeUri);
    expect(await rejected).toMatchObject({ result: UpdateResult.UnsupportedPackage, code });
    expect(server.hits.get(rel.imagePath) ?? 0).toBe(0);
    expect(d.firmwareVersion).toBe('1.0.0');
  });

  test('an image that does not match the manifest digest: result 5, nothing stored', async () => {
    const d = await startDevice();
    const rel = release({ serveImage: testImage(4096, '6.6.6') });
    const rejected = d.waitFor('rejected');
    await server.writeText(await peerOf(d), '/5/0/1', rel.envelopeUri);
    expect(await rejected).toMatchObject({ result: UpdateResult.IntegrityCheckFailed, code: 'ERR_SUIT_IMAGE_DIGEST' });
    expect(d.info().slots.other).toBeUndefined();
  });

  test('an image larger than the flash slot: result 2 before any image byte is fetched', async () => {
    const d = await startDevice({ flashSize: 2048 });
    const rel = release({ size: 4096 });
    const rejected = d.waitFor('rejected');
    await server.writeText(await peerOf(d), '/5/0/1', rel.envelopeUri);
    expect(await rejected).toMatchObject({ result: UpdateResult.NotEnoughFlash });
    expect(server.hits.get(rel.imagePath) ?? 0).toBe(0);
  });

  test('a Package URI written outside Idle is 4.00; an empty one resets to Idle with result 0', async () => {
    const d = await startDevice();
    const rel = release();
    const peer = await peerOf(d);
    await server.writeText(peer, '/5/0/1', rel.envelopeUri);
    await eventually(() => d.state === FirmwareState.Downloaded);
    expect((await server.writeText(peer, '/5/0/1', rel.envelopeUri)).code).toBe('4.00');
    expect((await server.writeText(peer, '/5/0/1', '')).code).toBe('2.04');
    expect([d.state, d.updateResult]).toEqual([FirmwareState.Idle, UpdateResult.Initial]);
    expect((await server.execute(peer, '/5/0/2')).code).toBe('4.05');
  });

  test('Cancel (object 5 1.1) in Downloaded: Idle, result 10; in Idle: 4.05', async () => {
    const d = await startDevice({ lwm2mVersion: '1.1' });
    const rel = release();
    const peer = await peerOf(d);
    expect((await server.execute(peer, '/5/0/10')).code).toBe('4.05');
    await server.writeText(peer, '/5/0/1', rel.envelopeUri);
    await eventually(() => d.state === FirmwareState.Downloaded);
    expect((await server.execute(peer, '/5/0/10')).code).toBe('2.04');
    expect([d.state, d.updateResult]).toEqual([FirmwareState.Idle, UpdateResult.Cancelled]);
  });

  test('a raw-image device takes the payload alone and checks its out-of-band digest', async () => {
    const image = testImage(3000, '3.1.0');
    const uri = server.serve('/fw/raw-image', image);
    const d = await startDevice({ packageFormat: 'raw', rawImageDigest: require('node:crypto').createHash('sha256').update(image).digest() });
    const peer = await peerOf(d);
    await server.writeText(peer, '/5/0/1', uri);
    await eventually(() => d.state === FirmwareState.Downloaded);
    expect((await server.get(peer, '/5/0/7')).payload.toString('utf8')).toBe('3.1.0');
    const updated = d.waitFor('updated');
    await server.execute(peer, '/5/0/2');
    expect(await updated).toMatchObject({ from: '1.0.0', to: '3.1.0' });
  });
});

describe('push', () => {
  test.each([16, 64, 256, 1024])('at %i-byte blocks: the envelope with the image integrated is written to /5/0/0, verified, installed', async (blockSize) => {
    const d = await startDevice({ blockSize });
    const rel = release({ integrated: true, size: 3000, version: '2.1.0' });
    const peer = await peerOf(d);
    const blocks: number[] = [];
    d.on('blockReceived', (e) => blocks.push(e.num));
    const res = await server.coap.request(peer, {
      method: 'PUT',
      path: '/5/0/0',
      payload: Buffer.from(rel.envelope),
      contentFormat: ContentFormat.OctetStream,
      block1Size: blockSize,
    });
    expect(res.code).toBe('2.04');
    expect(blocks.length).toBe(Math.ceil(rel.envelope.length / blockSize));
    await eventually(() => d.state === FirmwareState.Downloaded);
    const updated = d.waitFor('updated');
    expect((await server.execute(peer, '/5/0/2')).code).toBe('2.04');
    expect(await updated).toMatchObject({ from: '1.0.0', to: '2.1.0' });
    const again = await server.registration(d.endpoint, 2);
    expect((await server.get(again.peer, '/3/0/3')).payload.toString('utf8')).toBe('2.1.0');
  });

  test('a larger block than the device takes is accepted and answered with its own size (late negotiation)', async () => {
    const d = await startDevice({ blockSize: 64 });
    const rel = release({ integrated: true, size: 1500 });
    const res = await server.coap.request(await peerOf(d), { method: 'PUT', path: '/5/0/0', payload: Buffer.from(rel.envelope), contentFormat: ContentFormat.OctetStream, block1Size: 512 });
    expect(res.code).toBe('2.04');
    await eventually(() => d.state === FirmwareState.Downloaded);
  });

  test('a package that does not fit the flash: 4.13 with Size1 = the slot size, result 2', async () => {
    const d = await startDevice({ flashSize: 1024 });
    const rel = release({ integrated: true, size: 3000 });
    const res = await server.coap.request(await peerOf(d), { method: 'PUT', path: '/5/0/0', payload: Buffer.from(rel.envelope), contentFormat: ContentFormat.OctetStream, block1Size: 256 });
    expect(res.code).toBe('4.13');
    const size1 = res.options.find((o) => o.number === 60);
    expect(size1 && size1.value.readUIntBE(0, size1.value.length)).toBe(1024);
    await eventually(() => d.updateResult === UpdateResult.NotEnoughFlash);
    expect(d.state).toBe(FirmwareState.Idle);
  });

  test('a push signed by an untrusted key ends in result 5', async () => {
    const d = await startDevice();
    const rel = release({ integrated: true, signer: untrusted, size: 1000 });
    await server.coap.request(await peerOf(d), { method: 'PUT', path: '/5/0/0', payload: Buffer.from(rel.envelope), contentFormat: ContentFormat.OctetStream, block1Size: 256 });
    await eventually(() => d.updateResult === UpdateResult.IntegrityCheckFailed);
    expect(d.state).toBe(FirmwareState.Idle);
  });

  test('a single NUL byte written to Package resets Downloaded to Idle with result 0', async () => {
    const d = await startDevice();
    const rel = release({ integrated: true, size: 1000 });
    const peer = await peerOf(d);
    await server.coap.request(peer, { method: 'PUT', path: '/5/0/0', payload: Buffer.from(rel.envelope), contentFormat: ContentFormat.OctetStream, block1Size: 256 });
    await eventually(() => d.state === FirmwareState.Downloaded);
    expect((await server.coap.request(peer, { method: 'PUT', path: '/5/0/0', payload: Buffer.from([0]), contentFormat: ContentFormat.OctetStream })).code).toBe('2.04');
    expect([d.state, d.updateResult]).toEqual([FirmwareState.Idle, UpdateResult.Initial]);
  });
});

describe('Update', () => {
  test('Execute Update when not Downloaded is 4.05', async () => {
    const d = await startDevice();
    expect((await server.execute(await peerOf(d), '/5/0/2')).code).toBe('4.05');
    expect(d.state).toBe(FirmwareState.Idle);
  });
});
