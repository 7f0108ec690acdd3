/**
 * Shared set-up of the end-to-end update tests: a real server (in process, or `serve` as
 * a child), real emulated devices over UDP on loopback, signed firmware, short timers.
 */
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Lwm2mFotaServer, type ServerOptions } from '../../src/server';
import { createDevice, type DeviceOptions, type EmulatedDevice } from '../../src/device';
import { createManifest, generateKeyPair, publicKeyToPem, type SuitPrivateKey } from '../../src/suit';
import { decode as decodeCoap } from '../../src/coap/message';
import type { FirmwareRecord } from '../../src/fota/firmware';
import type { Job } from '../../src/fota/update';
import { isTerminal } from '../../src/fota/update';

export const VENDOR = 'example.com';
export const CLASS = 'sensor-v2';

/** Short retransmission timers: loopback needs no 2 s ACK timeout. */
export const FAST = { ackTimeoutMs: 200, ackRandomFactor: 1.0, maxRetransmit: 4, maxTransmitWaitMs: 3000, exchangeLifetimeMs: 5000 };

/** Update timers short enough for tests, long enough for a lossy link. */
export const TEST_UPDATE_CONFIG = {
  maxAttempts: 3,
  backoffBaseMs: 300,
  backoffMaxMs: 2000,
  timeouts: { delivery: 60_000, update: 10_000, reboot: 15_000, verify: 10_000, cancel: 5_000 },
};

export const oem = generateKeyPair('esp256');

/** Writes the OEM public key as PEM into `dir`; returns the path. */
export function writeTrustedKey(dir: string, key: SuitPrivateKey = oem.privateKey, name = 'oem.pub.pem'): string {
  const file = join(dir, name);
  writeFileSync(file, publicKeyToPem(key));
  return file;
}

export async function startServer(dataDir: string, extra: Partial<ServerOptions> = {}): Promise<Lwm2mFotaServer> {
  return createServer({
    dataDir,
    coapPort: 0,
    coapHost: '::1',
    httpPort: false,
    token: 'test-token',
    transmission: FAST,
    trust: [writeTrustedKey(dataDir)],
    update: { config: TEST_UPDATE_CONFIG, progressIntervalMs: 100 },
    ...extra,
  });
}

export function serverUri(server: Lwm2mFotaServer): string {
  return `coap://[::1]:${server.coap.address().port}`;
}

/** A deterministic image of `size` bytes that carries its version in its first bytes. */
export function testImage(size: number, version: string, salt = 0): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7 + salt * 13) & 0xff;
  Buffer.from(`fw-version=${version}\n`).copy(b, 0);
  b.writeUInt16BE(salt & 0xffff, size - 2);
  return b;
}

export interface ReleaseOptions {
  readonly version?: string;
  readonly size?: number;
  readonly sequence?: number;
  readonly className?: string;
  readonly signer?: SuitPrivateKey;
  readonly integrated?: boolean;
  readonly salt?: number;
}

let salts = 0;

/** Signs a release (relative image URI unless integrated) and builds envelope and image. */
export function release(options: ReleaseOptions = {}): { envelope: Buffer; image: Buffer; version: string } {
  const version = options.version ?? '2.0.0';
  const image = testImage(options.size ?? 4096, version, options.salt ?? ++salts);
  const m = createManifest({
    image,
    sequenceNumber: options.sequence ?? 10,
    vendorDomain: VENDOR,
    className: options.className ?? CLASS,
    ...(options.integrated === true ? { integrated: true } : { relativeUri: true }),
    version,
    signers: [options.signer ?? oem.privateKey],
  });
  return { envelope: Buffer.from(m.envelope), image, version };
}

/** Adds a release to the server's repository. */
export async function addRelease(server: Lwm2mFotaServer, options: ReleaseOptions = {}): Promise<FirmwareRecord & { image: Buffer }> {
  const r = release(options);
  const rec = await server.firmware.add(r.envelope, options.integrated === true ? undefined : r.image);
  return { ...rec, image: r.image };
}

let devices = 0;

export function deviceOptions(server: string, extra: Partial<DeviceOptions> = {}): DeviceOptions {
  return {
    server,
    endpoint: `upd-${process.pid}-${++devices}`,
    trustedKeys: [{ key: oem.privateKey }],
    vendorDomain: VENDOR,
    className: CLASS,
    firmwareVersion: '1.0.0',
    sequenceNumber: 5,
    transmission: FAST,
    rebootDelayMs: 150,
    installDelayMs: 30,
    outageMs: 300,
    registrationRetryMs: 150,
    ...extra,
  };
}

export async function startDevice(server: string, extra: Partial<DeviceOptions> = {}): Promise<EmulatedDevice> {
  const d = await createDevice(deviceOptions(server, extra));
  await d.start();
  return d;
}

/** Polls until `check` returns a value (not undefined/false). */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the endpoint's job ends; returns it. */
export function finished(server: Lwm2mFotaServer, endpoint: string, timeoutMs = 30_000): Promise<Job> {
  return until(
    async () => {
      const j = await server.updates.current(endpoint);
      return j !== undefined && isTerminal(j.state) ? j : undefined;
    },
    timeoutMs,
    `update of ${endpoint} finished`,
  );
}

/**
 * A UDP relay between devices and a server on loopback that counts, on the device side,
 * every distinct confirmable POST to /5/0/2 (Update) it passes to a device. The server
 * sees the relay's address; the device registers with `uri`.
 */
export class ExecuteCounter {
  /** Distinct (device port, message id) of POST /5/0/2. */
  readonly executes = new Set<string>();
  private readonly toServer = new Map<number, Socket>();
  private constructor(
    private readonly front: Socket,
    private readonly serverPort: () => number,
  ) {}

  static async start(serverPort: () => number): Promise<ExecuteCounter> {
    const front = createSocket({ type: 'udp6', ipv6Only: true });
    await new Promise<void>((r) => front.bind(0, '::1', () => r()));
    const c = new ExecuteCounter(front, serverPort);
    front.on('message', (msg, rinfo) => void c.fromDevice(msg, rinfo.port));
    return c;
  }

  get uri(): string {
    return `coap://[::1]:${this.front.address().port}`;
  }

  count(): number {
    return this.executes.size;
  }

  private async fromDevice(msg: Buffer, devicePort: number): Promise<void> {
    let back = this.toServer.get(devicePort);
    if (back === undefined) {
      const s = createSocket({ type: 'udp6', ipv6Only: true });
      back = s;
      this.toServer.set(devicePort, s);
      await new Promise<void>((r) => s.bind(0, '::1', () => r()));
      s.on('message', (m) => {
        this.inspect(m, devicePort);
        this.front.send(m, devicePort, '::1');
      });
    }
    back.send(msg, this.serverPort(), '::1');
  }

  private inspect(datagram: Buffer, devicePort: number): void {
    try {
      const m = decodeCoap(datagram);
      if (m.code !== 2) return; // POST
      const path = m.options.filter((o) => o.number === 11).map((o) => o.value.toString('utf8')).join('/');
      if (path === '5/0/2') this.executes.add(`${devicePort}|${m.messageId}`);
    } catch {
      // not CoAP
    }
  }

  async close(): Promise<void> {
    for (const s of this.toServer.values()) await new Promise<void>((r) => s.close(() => r()));
    await new Promise<void>((r) => this.front.close(() => r()));
  }
}

/**
 * The states a successful job went through, without the optional ones: 'downloaded' (a
 * push whose last acknowledgement came after State 2) and 'rebooting' (skipped when the
 * device registers again before its answer to Update is seen) depend on timing.
 */
export function mainPath(states: readonly string[]): string[] {
  return states.filter((s) => s !== 'downloaded' && s !== 'rebooting' && s !== 'updateDownloaded' && s !== 'updateAccepted');
}
