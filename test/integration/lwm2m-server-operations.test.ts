/**
 * What firmware delivery needs of the LwM2M server layer, as ordinary operations, over real
 * UDP on loopback against the device emulator: a block-wise Write of a Package with
 * progress (block size included), abort and 4.13 renegotiation; one typed answer whether a
 * request went out at once or waited for a sleeping device; an event-driven wait for a
 * queue-mode device; a device that announces only LwM2M JSON (ct=11543) read in it; the
 * inventory's /3/0/3 after a registration.
 */
import { isLwm2mFotaError } from '../../src/errors';
import { resource } from '../../src/lwm2m/core/content-formats/node';
import { ContentFormat } from '../../src/lwm2m/core/content-formats/registry';
import { parsePath } from '../../src/lwm2m/core/model/path';
import { DeviceInventory } from '../../src/lwm2m/server/inventory';
import type { ReadResponse, TransferProgress } from '../../src/lwm2m/server/requests/types';
import type { EmulatedDevice } from '../../src/device';
import type { Lwm2mFotaServer } from '../../src/server';
import type { TypedEvent } from '../../src/events';
import { tempDir } from '../helpers/tmp';
import { addRelease, finished, serverUri, startDevice, startServer, testImage, until } from './update-harness';

jest.setTimeout(60_000);

const PACKAGE = parsePath('/5/0/0');
const VERSION = parsePath('/3/0/3');

let tmp: ReturnType<typeof tempDir>;
let server: Lwm2mFotaServer;
const devices: EmulatedDevice[] = [];

beforeAll(async () => {
  tmp = tempDir();
  // A short awake window, so that a sleeping queue-mode device is known to sleep.
  server = await startServer(tmp.dir, { awakeWindowMs: 300 });
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
});

afterAll(async () => {
  await server.close();
  tmp.remove();
});

async function device(extra: Parameters<typeof startDevice>[1] = {}): Promise<EmulatedDevice> {
  const d = await startDevice(serverUri(server), extra);
  devices.push(d);
  return d;
}

function push(ep: string, body: Buffer, progress: TransferProgress[], extra: { signal?: AbortSignal; onProgress?: (p: TransferProgress) => void } = {}) {
  return server.devices.perform(
    ep,
    { operation: 'write', mode: 'replace', path: PACKAGE, node: resource(0, 'opaque', body) },
    {
      blockSize: 1024,
      ...(extra.signal === undefined ? {} : { signal: extra.signal }),
      onProgress: (p) => {
        progress.push(p);
        extra.onProgress?.(p);
      },
    },
  );
}

describe('a block-wise Write of a Package', () => {
  test('restarts at the block size a 4.13 names and reports progress with that size', async () => {
    const d = await device({ blockSize: 64, block1Negotiation: 'too-large', packageFormat: 'raw' });
    const body = testImage(5000, '9.9.9');
    const downloaded = d.waitFor('downloaded', undefined, 10_000);
    const progress: TransferProgress[] = [];
    const res = await push(d.endpoint, body, progress);
    expect(res).toMatchObject({ operation: 'write', code: '2.04', success: true });
    expect((await downloaded).size).toBe(5000);
    // The 1024-byte first block was refused: every acknowledged block is 64 bytes, counted from zero.
    expect(progress.length).toBe(Math.ceil(5000 / 64));
    expect(progress.every((p) => p.blockSize === 64 && p.total === 5000)).toBe(true);
    expect(progress[0]!.sent).toBe(64);
    expect(progress.at(-1)!.sent).toBe(5000);
  });

  test('follows a smaller size in the 2.31 (late negotiation) from the next block on', async () => {
    const d = await device({ blockSize: 128, packageFormat: 'raw' });
    const progress: TransferProgress[] = [];
    const res = await push(d.endpoint, testImage(4096, '9.9.8'), progress);
    expect(res.code).toBe('2.04');
    expect(progress[0]).toEqual({ sent: 1024, total: 4096, blockSize: 128 });
    expect(progress.at(-1)).toMatchObject({ sent: 4096, total: 4096 });
  });

  test('stops before the next block when its signal aborts (ERR_LWM2M_ABORTED)', async () => {
    const d = await device({ blockSize: 64, block1Negotiation: 'too-large', packageFormat: 'raw' });
    const blocks: number[] = [];
    d.on('blockReceived', (e) => blocks.push(e.num));
    const abort = new AbortController();
    const progress: TransferProgress[] = [];
    const err = await push(d.endpoint, testImage(6400, '9.9.7'), progress, { signal: abort.signal, onProgress: (p) => p.sent >= 640 && abort.abort() }).catch((e: unknown) => e);
    expect(isLwm2mFotaError(err, 'ERR_LWM2M_ABORTED')).toBe(true);
    expect(progress.at(-1)!.sent).toBe(640);
    // The ten blocks acknowledged, and not one more.
    expect(blocks).toHaveLength(10);
  });

  test('an update job pushed this way reports its block size in updateProgressed', async () => {
    // Integrated: the image travels inside the envelope, so the push spans many blocks.
    const fw = await addRelease(server, { version: '2.0.0', size: 4 * 1024, integrated: true });
    const d = await device({ blockSize: 64 });
    const events: TypedEvent[] = [];
    const stop = server.events.subscribe((e) => e.endpoint === d.endpoint && events.push(e));
    await server.updates.start(d.endpoint, { firmwareId: fw.id, method: 'push' });
    expect((await finished(server, d.endpoint)).state.value).toBe('succeeded');
    stop();
    const progress = events.filter((e) => e.type === 'updateProgressed');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.data).toMatchObject({ method: 'push', blockSize: 64 });
  });
});

describe('a request to a sleeping queue-mode device', () => {
  test('waits in the queue and resolves with the same typed answer as a live one', async () => {
    const live = await device({});
    const sleeper = await device({ binding: 'UQ', queueWindowMs: 200, faults: { sleepMs: 800 } });
    const queued: string[] = [];
    const stop = server.events.subscribe((e) => e.type === 'requestQueued' && e.endpoint === sleeper.endpoint && queued.push(e.type));
    const now = (await server.devices.request(live.endpoint, { operation: 'read', path: VERSION })) as ReadResponse;
    await until(() => !server.devices.isAwake(sleeper.endpoint), 5000, 'the device asleep');
    const later = (await server.devices.request(sleeper.endpoint, { operation: 'read', path: VERSION })) as ReadResponse;
    stop();
    expect(queued).toEqual(['requestQueued']);
    const shape = (r: ReadResponse) => ({ operation: r.operation, code: r.code, success: r.success, path: r.path, content: r.content });
    expect(shape(later)).toEqual(shape(now));
    expect(later.content).toEqual(resource(3, 'string', '1.0.0'));
  });

  test('whenAwake resolves at the next contact of the device, without polling, or false at its deadline', async () => {
    const sleeper = await device({ binding: 'UQ', queueWindowMs: 200, faults: { sleepMs: 800 } });
    await until(() => !server.devices.isAwake(sleeper.endpoint), 5000, 'the device asleep');
    expect(await server.devices.whenAwake(sleeper.endpoint, { timeoutMs: 50 })).toBe(false);
    const at = Date.now();
    expect(await server.devices.whenAwake(sleeper.endpoint, { timeoutMs: 5000 })).toBe(true);
    expect(Date.now() - at).toBeLessThan(2000);
    const abort = new AbortController();
    await until(() => !server.devices.isAwake(sleeper.endpoint), 5000, 'the device asleep again');
    const waiting = server.devices.whenAwake(sleeper.endpoint, { signal: abort.signal });
    abort.abort();
    expect(await waiting).toBe(false);
  });
});

describe('a LwM2M 1.1 device that announces ct=11543 and answers only in LwM2M JSON', () => {
  test.each([
    ['</>;ct=11543', true],
    ['</>;rt="oma.lwm2m";ct=11543', false],
  ] as const)('registered with %s, it is read in LwM2M JSON, not resource by resource as text', async (_form, bare) => {
    const d = await device({ lwm2mVersion: '1.1', contentFormats: [ContentFormat.Lwm2mJson], bareRootLink: bare });
    expect(server.devices.context(d.endpoint).contentFormats).toEqual([ContentFormat.Lwm2mJson]);
    const instance = (await server.devices.perform(d.endpoint, { operation: 'read', path: parsePath('/3/0') })) as ReadResponse;
    expect(instance).toMatchObject({ code: '2.05', format: ContentFormat.Lwm2mJson });
    expect(instance.fallback).toBeUndefined();
    expect(instance.content?.kind).toBe('objectInstance');
    const version = (await server.devices.perform(d.endpoint, { operation: 'read', path: VERSION })) as ReadResponse;
    expect(version).toMatchObject({ code: '2.05', format: ContentFormat.Lwm2mJson, content: resource(3, 'string', '1.0.0') });
  });
});

describe('the device inventory', () => {
  test('reads /3/0/3 after a registration, unless someone else reads it', async () => {
    const skipping = new DeviceInventory({ devices: server.devices, registrations: server.registrations, skipRead: () => true });
    try {
      const d = await device({ firmwareVersion: '1.4.2' });
      expect(await until(() => server.inventory.firmwareVersion(d.endpoint), 5000, 'the version read')).toBe('1.4.2');
      expect(await skipping.firmwareVersion(d.endpoint)).toBeUndefined();
      // Asked for on demand, it reads the device at once.
      expect(await skipping.firmwareVersion(d.endpoint, { read: true })).toBe('1.4.2');
    } finally {
      skipping.close();
    }
  });
});
