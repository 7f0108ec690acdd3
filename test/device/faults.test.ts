/** Faults on demand: the syntax, and what each one makes the device report over real UDP. */
import { ContentFormat } from '../../src/lwm2m/core/content-formats';
import { isLwm2mFotaError } from '../../src/errors';
import {
  createDevice,
  createFleet,
  FirmwareState,
  formatFaultSpec,
  parseFaultSpec,
  UpdateResult,
  type DeviceFaults,
  type DeviceOptions,
  type EmulatedDevice,
} from '../../src/device';
import { createManifest, generateKeyPair, relativeFirmwareUri, type SuitPrivateKey } from '../../src/suit';
import { FAST, TestServer, eventually, testImage } from './harness';

const VENDOR = 'example.com';
const CLASS = 'sensor-v2';

describe('fault syntax', () => {
  test('parses drops, sleeps and one-shot faults with counts', () => {
    expect(parseFaultSpec('drop=5%,corrupt-block,connection-lost:2,fail-boot:always,sleep=30s')).toEqual({
      dropRate: 0.05,
      corruptBlock: 1,
      connectionLost: 2,
      failBoot: Infinity,
      sleepMs: 30_000,
    });
    expect(parseFaultSpec('drop=0.25, out-of-flash , out-of-ram,reboot-mid-download,fail-install,sleep=500ms')).toEqual({
      dropRate: 0.25,
      outOfFlash: 1,
      outOfRam: 1,
      rebootMidDownload: 1,
      failInstall: 1,
      sleepMs: 500,
    });
    expect(parseFaultSpec('stuck-updating,stub-object,fixed-version')).toEqual({ stuckUpdating: 1, stubObject: 1, fixedVersion: 1 });
    expect(parseFaultSpec('')).toEqual({});
  });

  test.each(['drop=150%', 'drop=x', 'explode', 'corrupt-block:0', 'fail-boot:often', 'sleep=soon', 'warp=3'])('refuses "%s" with a usage error', (spec) => {
    let err: unknown;
    try {
      parseFaultSpec(spec);
    } catch (e) {
      err = e;
    }
    expect(isLwm2mFotaError(err, 'ERR_CLI_USAGE')).toBe(true);
  });

  test('formats back to the same syntax', () => {
    const f: DeviceFaults = { dropRate: 0.05, corruptBlock: 1, connectionLost: 2, failBoot: Infinity };
    expect(formatFaultSpec(f)).toBe('drop=5%,corrupt-block,connection-lost:2,fail-boot:always');
    expect(parseFaultSpec(formatFaultSpec(f))).toEqual(f);
  });
});

describe('faults over the wire', () => {
  let server: TestServer;
  let key: SuitPrivateKey;
  const devices: EmulatedDevice[] = [];
  let n = 0;
  let releases = 0;

  beforeAll(async () => {
    server = await TestServer.start();
    key = generateKeyPair('ed25519').privateKey;
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((d) => d.stop()));
  });
  afterAll(async () => {
    await server.close();
  });

  async function startDevice(faults: DeviceFaults, extra: Partial<DeviceOptions> = {}): Promise<EmulatedDevice> {
    const d = await createDevice({
      server: server.uri,
      endpoint: `faulty-${++n}`,
      trustedKeys: [{ key }],
      vendorDomain: VENDOR,
      className: CLASS,
      firmwareVersion: '1.0.0',
      transmission: FAST,
      rebootDelayMs: 100,
      installDelayMs: 20,
      outageMs: 200,
      registrationRetryMs: 100,
      blockSize: 256,
      faults,
      ...extra,
    });
    devices.push(d);
    await d.start();
    return d;
  }

  function release(size = 6000, version = '2.0.0'): { uri: string; imagePath: string } {
    const image = testImage(size, version);
    image.writeUInt16BE(++releases, image.length - 2);
    const m = createManifest({ image, sequenceNumber: 10, vendorDomain: VENDOR, className: CLASS, relativeUri: true, version, signers: [key] });
    const imagePath = relativeFirmwareUri(m.imageDigest);
    server.serve(imagePath, image);
    return { uri: server.serve(`/fw/faults-env-${releases}`, m.envelope), imagePath };
  }

  async function pull(d: EmulatedDevice, uri: string): Promise<{ address: string; port: number }> {
    const peer = (await server.registration(d.endpoint)).peer;
    expect((await server.writeText(peer, '/5/0/1', uri)).code).toBe('2.04');
    return peer;
  }

  test('corrupt-block: the image fails its digest, result 5, the old firmware stays', async () => {
    const d = await startDevice({ corruptBlock: 1 });
    const rejected = d.waitFor('rejected');
    await pull(d, release().uri);
    expect(await rejected).toMatchObject({ result: UpdateResult.IntegrityCheckFailed, code: 'ERR_SUIT_IMAGE_DIGEST' });
    expect(d.firmwareVersion).toBe('1.0.0');
  });

  test('out-of-ram: result 3; out-of-flash: result 2', async () => {
    const ram = await startDevice({ outOfRam: 1 });
    const flash = await startDevice({ outOfFlash: 1 });
    const rel = release();
    const r1 = ram.waitFor('rejected');
    const r2 = flash.waitFor('rejected');
    await pull(ram, rel.uri);
    await pull(flash, rel.uri);
    expect((await r1).result).toBe(UpdateResult.OutOfMemory);
    expect((await r2).result).toBe(UpdateResult.NotEnoughFlash);
  });

  test('out-of-flash on push: 4.13 with Size1 and result 2', async () => {
    const d = await startDevice({ outOfFlash: 1 }, { flashSize: 100_000 });
    const peer = (await server.registration(d.endpoint)).peer;
    const res = await server.coap.request(peer, { method: 'PUT', path: '/5/0/0', payload: Buffer.alloc(3000, 1), contentFormat: ContentFormat.OctetStream, block1Size: 256 });
    expect(res.code).toBe('4.13');
    expect(res.options.some((o) => o.number === 60)).toBe(true);
    await eventually(() => d.updateResult === UpdateResult.NotEnoughFlash);
  });

  test('connection-lost: the download stops half way with result 4; the next attempt succeeds', async () => {
    const d = await startDevice({ connectionLost: 1 });
    const rel = release(8000);
    const rejected = d.waitFor('rejected');
    const peer = await pull(d, rel.uri);
    expect((await rejected).result).toBe(UpdateResult.ConnectionLost);
    expect(d.state).toBe(FirmwareState.Idle);
    // Only part of the image was asked for before the radio went down.
    expect(server.hits.get(rel.imagePath)).toBeLessThan(Math.ceil(8000 / 256));
    expect((await server.writeText(peer, '/5/0/1', rel.uri)).code).toBe('2.04');
    await eventually(() => d.state === FirmwareState.Downloaded, 10_000);
  });

  test('reboot-mid-download: the device goes silent, re-registers, and reports Idle with result 4', async () => {
    const d = await startDevice({ rebootMidDownload: 1 });
    const rebooted = d.waitFor('rebooted');
    await pull(d, release(8000).uri);
    await rebooted;
    const again = await server.registration(d.endpoint, 2);
    expect((await server.get(again.peer, '/5/0/3')).payload.toString()).toBe(String(FirmwareState.Idle));
    expect((await server.get(again.peer, '/5/0/5')).payload.toString()).toBe(String(UpdateResult.ConnectionLost));
    expect(d.info().reboots).toBe(1);
  });

  test('fail-install: result 8, no reboot, the old version stays', async () => {
    const d = await startDevice({ failInstall: 1 }, { lwm2mVersion: '1.1' });
    const peer = await pull(d, release().uri);
    await eventually(() => d.state === FirmwareState.Downloaded);
    const failed = d.waitFor('updateFailed');
    expect((await server.execute(peer, '/5/0/2')).code).toBe('2.04');
    expect(await failed).toMatchObject({ result: UpdateResult.UpdateFailed, firmwareVersion: '1.0.0' });
    expect((await server.get(peer, '/5/0/5')).payload.toString()).toBe(String(UpdateResult.UpdateFailed));
    expect((await server.get(peer, '/3/0/3')).payload.toString()).toBe('1.0.0');
    expect(d.info().reboots).toBe(0);
  });

  test('fail-install on object 5 version 1.0 goes back to Downloaded', async () => {
    const d = await startDevice({ failInstall: 1 }, { lwm2mVersion: '1.0' });
    const peer = await pull(d, release().uri);
    await eventually(() => d.state === FirmwareState.Downloaded);
    await server.execute(peer, '/5/0/2');
    await eventually(() => d.updateResult === UpdateResult.UpdateFailed);
    expect(d.state).toBe(FirmwareState.Downloaded);
  });

  test('fail-boot: the new image does not boot; the device falls back to the old slot and reports 8 after re-registering', async () => {
    const d = await startDevice({ failBoot: 1 });
    const peer = await pull(d, release().uri);
    await eventually(() => d.state === FirmwareState.Downloaded);
    const rebooted = d.waitFor('rebooted');
    await server.execute(peer, '/5/0/2');
    expect(await rebooted).toMatchObject({ fellBack: true, firmwareVersion: '1.0.0' });
    const again = await server.registration(d.endpoint, 2);
    expect((await server.get(again.peer, '/3/0/3')).payload.toString()).toBe('1.0.0');
    expect((await server.get(again.peer, '/5/0/5')).payload.toString()).toBe(String(UpdateResult.UpdateFailed));
  });

  test('stuck-updating: Update accepted, State 3 for good, no reboot; the reset (4.05) and a new URI (4.00) are refused', async () => {
    const d = await startDevice({ stuckUpdating: 1 });
    const rel = release();
    const peer = await pull(d, rel.uri);
    await eventually(() => d.state === FirmwareState.Downloaded);
    const stuck = d.waitFor('faultInjected', (e) => e.fault === 'stuck-updating');
    expect((await server.execute(peer, '/5/0/2')).code).toBe('2.04');
    await stuck;
    await new Promise((r) => setTimeout(r, 400));
    expect(d.state).toBe(FirmwareState.Updating);
    expect(d.info().reboots).toBe(0);
    const refused: string[] = [];
    d.on('writeRefused', (e) => refused.push(`${e.resource} ${e.code}`));
    expect((await server.writeText(peer, '/5/0/1', '')).code).toBe('4.05');
    expect((await server.writeText(peer, '/5/0/1', rel.uri)).code).toBe('4.00');
    expect(refused).toEqual(['packageUri 4.05', 'packageUri 4.00']);
    expect((await server.get(peer, '/5/0/3')).payload.toString()).toBe(String(FirmwareState.Updating));
  });

  test('stub-object: State 1 from the start; Package blocks and URI writes acknowledged; State and Result never change', async () => {
    const d = await startDevice({ stubObject: 1 });
    const peer = (await server.registration(d.endpoint)).peer;
    expect((await server.get(peer, '/5/0/3')).payload.toString()).toBe(String(FirmwareState.Downloading));
    const res = await server.coap.request(peer, { method: 'PUT', path: '/5/0/0', payload: Buffer.alloc(3000, 1), contentFormat: ContentFormat.OctetStream, block1Size: 256 });
    expect(res.code).toBe('2.04');
    const rel = release();
    expect((await server.writeText(peer, '/5/0/1', rel.uri)).code).toBe('2.04');
    await new Promise((r) => setTimeout(r, 300));
    expect((await server.get(peer, '/5/0/3')).payload.toString()).toBe(String(FirmwareState.Downloading));
    expect((await server.get(peer, '/5/0/5')).payload.toString()).toBe(String(UpdateResult.Initial));
    // Nothing fetched from the URI.
    expect(server.hits.get(new URL(rel.uri).pathname) ?? 0).toBe(0);
  });

  test('fixed-version: /3/0/3 keeps the factory version after an update; /5/0/7 names the installed package', async () => {
    const d = await startDevice({ fixedVersion: 1 });
    const peer = await pull(d, release(6000, '2.0.0').uri);
    await eventually(() => d.state === FirmwareState.Downloaded);
    const rebooted = d.waitFor('rebooted');
    await server.execute(peer, '/5/0/2');
    await rebooted;
    const again = await server.registration(d.endpoint, 2);
    expect(d.firmwareVersion).toBe('2.0.0');
    expect((await server.get(again.peer, '/3/0/3')).payload.toString()).toBe('1.0.0');
    expect((await server.get(again.peer, '/5/0/7')).payload.toString()).toBe('2.0.0');
  });

  test('drop=20%: datagrams are lost both ways, retransmission still brings the update home', async () => {
    const d = await startDevice({ dropRate: 0.2 }, { seed: 7 });
    const rel = release(4000);
    const peer = (await server.registration(d.endpoint)).peer;
    // The server's own requests may be lost too: retry the write like a real server would.
    for (let i = 0; i < 5; i++) {
      try {
        await server.writeText(peer, '/5/0/1', rel.uri);
        break;
      } catch {
        /* lost: try again */
      }
    }
    await eventually(() => d.state === FirmwareState.Downloaded, 20_000);
    const radio = d.info().radio;
    expect(radio.droppedIn + radio.droppedOut).toBeGreaterThan(0);
  }, 30_000);

  test('queue mode: asleep after its window, the device ignores requests until its next Update', async () => {
    const d = await startDevice({ sleepMs: 700 }, { binding: 'UQ', queueWindowMs: 300, lifetime: 60 });
    const r = await server.registration(d.endpoint);
    expect(r.query).toContain('Q');
    await d.waitFor('asleep', undefined, 3000);
    await expect(server.coap.request(r.peer, { method: 'GET', path: '/3/0/3', timeoutMs: 300 })).rejects.toMatchObject({ code: 'ERR_COAP_TIMEOUT' });
    expect(d.info().radio.ignoredIn).toBeGreaterThan(0);
    await d.waitFor('awake', undefined, 3000);
    await server.until(() => server.updates.includes(r.id), 3000);
    expect((await server.get(r.peer, '/3/0/3')).payload.toString()).toBe('1.0.0');
  });
});

describe('fleet', () => {
  test('names devices <prefix>-0000…, gives the faults to a seeded share, registers all and de-registers on stop', async () => {
    const server = await TestServer.start();
    try {
      const key = generateKeyPair('esp256').privateKey;
      const common = {
        count: 6,
        prefix: 'fleet',
        server: server.uri,
        trustedKeys: [{ key }],
        vendorDomain: VENDOR,
        className: CLASS,
        transmission: FAST,
        faults: { failInstall: 1 },
        faultRate: 0.5,
        seed: 42,
      };
      const fleet = await createFleet(common);
      const again = await createFleet(common);
      expect(fleet.devices.map((d) => d.endpoint)).toEqual(['fleet-0000', 'fleet-0001', 'fleet-0002', 'fleet-0003', 'fleet-0004', 'fleet-0005']);
      expect([...fleet.faulty]).toEqual([...again.faulty]);
      expect(fleet.faulty.size).toBeGreaterThan(0);
      expect(fleet.faulty.size).toBeLessThan(6);
      const registered: string[] = [];
      fleet.on('registered', (e) => registered.push(e.endpoint));
      await fleet.start();
      expect(registered.sort()).toEqual(fleet.devices.map((d) => d.endpoint));
      // Each device has its own socket.
      expect(new Set(fleet.info().map((i) => i.port)).size).toBe(6);
      for (const i of fleet.info()) expect(i.faults.failInstall ?? 0).toBe(fleet.faulty.has(i.endpoint) ? 1 : 0);
      await fleet.stop();
      expect(server.deregistrations.length).toBe(6);
    } finally {
      await server.close();
    }
  });
});
