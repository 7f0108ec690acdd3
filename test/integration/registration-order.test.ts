/**
 * Issue 20 item 1: the server answers a registration (2.01) or a registration update (2.04)
 * before it asks the device anything. Against the emulator in strict mode — it ignores
 * every request that arrives while its Register or Update waits for its answer, as Wakaama
 * does — over real UDP, through a relay that records the datagrams in the order they
 * passed.
 */
import type { EmulatedDevice } from '../../src/device';
import { DeviceInventory } from '../../src/lwm2m/server/inventory';
import type { Lwm2mFotaServer } from '../../src/server';
import { tempDir } from '../helpers/tmp';
import { WireCapture, type CapturedDatagram } from '../helpers/wire-capture';
import { FAST, startDevice, startServer, until } from './update-harness';

jest.setTimeout(30_000);

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
let wire: WireCapture;
const devices: EmulatedDevice[] = [];

beforeAll(async () => {
  tmp = tempDir();
  // A short awake window, so that a sleeping queue-mode device is known to sleep.
  server = await startServer(tmp.dir, { awakeWindowMs: 300 });
  wire = await WireCapture.start(() => server.coap.address().port);
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
});

afterAll(async () => {
  await wire.close();
  await server.close();
  tmp.remove();
});

/** Index in the capture of the server's answer (piggybacked on the ACK) to the device's request `up`. */
function answerTo(up: CapturedDatagram, code: string): number {
  return wire.datagrams.findIndex((d) => d.direction === 'down' && d.devicePort === up.devicePort && d.type === 'ACK' && d.messageId === up.messageId && d.code === code);
}

describe('a device that ignores requests while its registration is pending (strict)', () => {
  test('gets the 2.01 before the inventory read, which then succeeds at once, without a retransmission', async () => {
    const started = Date.now();
    const d = await startDevice(wire.uri, { strictRegistration: true, firmwareVersion: '1.4.2' });
    devices.push(d);
    expect(await until(() => server.inventory.firmwareVersion(d.endpoint), 5000, 'the version read')).toBe('1.4.2');
    const port = d.info().port!;
    const register = wire.datagrams.find((x) => x.direction === 'up' && x.devicePort === port && x.type === 'CON' && x.code === '0.02' && x.path === 'rd')!;
    expect(register).toBeDefined();
    const created = answerTo(register, '2.01');
    expect(created).toBeGreaterThanOrEqual(0);
    const reads = wire.requestsDown(port);
    expect(reads.map((r) => `${r.code} ${r.path}`)).toEqual(['0.01 3/0/3']);
    const read = wire.datagrams.indexOf(reads[0]!);
    // On the wire: the answer to the Register, then the first request to the device.
    expect(created).toBeLessThan(read);
    // Nothing was ignored, nothing retransmitted: faster than one ACK timeout (200 ms).
    expect(d.info().radio.ignoredIn).toBe(0);
    expect(reads[0]!.at - wire.datagrams[created]!.at).toBeLessThan(FAST.ackTimeoutMs);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('gets the 2.04 of its registration update before the read the update prompts', async () => {
    // An inventory that did not learn the version at the Register (someone else was to read
    // it): it reads /3/0/3 as soon as the device next updates its registration.
    let skip = true;
    const inventory = new DeviceInventory({ devices: server.devices, registrations: server.registrations, skipRead: () => skip });
    try {
      // Lifetime 3 s: the emulator updates its registration after 1 s.
      const d = await startDevice(wire.uri, { strictRegistration: true, lifetime: 3, firmwareVersion: '1.4.3' });
      devices.push(d);
      const port = d.info().port!;
      await until(() => server.inventory.firmwareVersion(d.endpoint), 5000, 'the shared inventory read');
      skip = false;
      const before = wire.datagrams.length;
      const ignored = d.info().radio.ignoredIn;
      expect(await until(() => inventory.firmwareVersion(d.endpoint), 5000, 'the read after the update')).toBe('1.4.3');
      const later = wire.datagrams.slice(before);
      const update = later.find((x) => x.direction === 'up' && x.type === 'CON' && x.code === '0.02' && x.path.startsWith('rd/'))!;
      expect(update).toBeDefined();
      const changed = answerTo(update, '2.04');
      expect(changed).toBeGreaterThanOrEqual(0);
      const reads = later.filter((r) => r.direction === 'down' && r.code === '0.01' && r.path === '3/0/3' && r.devicePort === port);
      // Sent once (no retransmission), after the 2.04.
      expect(reads.length).toBe(1);
      expect(changed).toBeLessThan(wire.datagrams.indexOf(reads[0]!));
      expect(d.info().radio.ignoredIn).toBe(ignored);
    } finally {
      inventory.close();
    }
  });
});
