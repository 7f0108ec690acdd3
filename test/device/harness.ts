/**
 * A test-side LwM2M server made of one real CoAP endpoint on loopback: it takes
 * registrations on /rd, serves firmware files on /fw/…, and sends the device Read, Write,
 * Execute and Observe from the same port, as the real server does.
 */
import { createCoapEndpoint, type CoapEndpoint, type IncomingResponse, type Observation, type Peer } from '../../src/coap';
import { createContentFormatRegistry, ContentFormat, type Lwm2mNode } from '../../src/lwm2m/core/content-formats';
import { parsePath } from '../../src/lwm2m/core/model';
import { defaultDeviceModel, objectVersionsFor } from '../../src/device';
import type { DeviceLwm2mVersion } from '../../src/device';

/** Short retransmission timers: tests on loopback need no 2 s ACK timeout. */
export const FAST = { ackTimeoutMs: 200, ackRandomFactor: 1.0, maxRetransmit: 3, maxTransmitWaitMs: 3000, exchangeLifetimeMs: 5000 };

export interface Registration {
  readonly id: string;
  readonly ep: string;
  readonly query: readonly string[];
  readonly links: string;
  readonly peer: Peer;
  readonly at: number;
}

export class TestServer {
  readonly registrations: Registration[] = [];
  readonly updates: string[] = [];
  readonly deregistrations: string[] = [];
  /** GET requests per served path (every block counts). */
  readonly hits = new Map<string, number>();
  private readonly files = new Map<string, Buffer>();
  private ids = 0;
  private waiters: Array<() => void> = [];
  readonly formats = createContentFormatRegistry();

  private constructor(readonly coap: CoapEndpoint) {}

  static async start(): Promise<TestServer> {
    const coap = await createCoapEndpoint({ host: '::1', port: 0, transmission: FAST });
    const s = new TestServer(coap);
    coap.route(['rd'], (req) => {
      if (req.method === 'POST' && req.path.length === 1) {
        const ep = req.query.find((q) => q.startsWith('ep='))?.slice(3) ?? '';
        const id = `r${++s.ids}`;
        s.registrations.push({ id, ep, query: req.query, links: req.payload.toString('utf8'), peer: req.peer, at: Date.now() });
        s.notify();
        return { code: '2.01', locationPath: ['rd', id] };
      }
      const id = req.path[1] ?? '';
      if (!s.registrations.some((r) => r.id === id)) return { code: '4.04' };
      if (req.method === 'POST') {
        s.updates.push(id);
        s.notify();
        return { code: '2.04' };
      }
      if (req.method === 'DELETE') {
        s.deregistrations.push(id);
        s.notify();
        return { code: '2.02' };
      }
      return { code: '4.05' };
    });
    coap.route(['fw'], (req) => {
      const key = '/' + req.path.join('/');
      s.hits.set(key, (s.hits.get(key) ?? 0) + 1);
      const file = s.files.get(key);
      if (!file) return { code: '4.04' };
      return { code: '2.05', payload: file, contentFormat: ContentFormat.OctetStream, etag: Buffer.from(key.slice(-8)) };
    });
    return s;
  }

  get uri(): string {
    return `coap://[::1]:${this.coap.address().port}`;
  }

  /** Serves `bytes` at `path` (e.g. "/fw/envelope"); returns its absolute URI. */
  serve(path: string, bytes: Uint8Array): string {
    this.files.set(path, Buffer.from(bytes));
    return this.uri + path;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `check` holds (re-checked on every registration event). */
  async until<T>(check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** The n-th (1-based) registration of `ep`. */
  registration(ep: string, n = 1): Promise<Registration> {
    return this.until(() => this.registrations.filter((r) => r.ep === ep)[n - 1]);
  }

  get(peer: Peer, path: string, accept?: number): Promise<IncomingResponse> {
    return this.coap.request(peer, { method: 'GET', path, ...(accept === undefined ? {} : { accept }) });
  }

  decode(res: IncomingResponse, path: string, version: DeviceLwm2mVersion): Lwm2mNode {
    const model = defaultDeviceModel().forDevice(objectVersionsFor(version));
    return this.formats.decode(res.contentFormat ?? ContentFormat.TextPlain, res.payload, parsePath(path), model);
  }

  writeText(peer: Peer, path: string, text: string): Promise<IncomingResponse> {
    return this.coap.request(peer, { method: 'PUT', path, payload: Buffer.from(text, 'utf8'), contentFormat: ContentFormat.TextPlain });
  }

  execute(peer: Peer, path: string): Promise<IncomingResponse> {
    return this.coap.request(peer, { method: 'POST', path });
  }

  /** Observes a single integer resource; collects its values. */
  async observeInts(peer: Peer, path: string): Promise<{ values: number[]; observation: Observation }> {
    const values: number[] = [];
    const observation = await this.coap.observe(peer, { method: 'GET', path, accept: ContentFormat.TextPlain }, (n) => {
      if (n.code === '2.05') values.push(Number(n.payload.toString('utf8')));
    });
    if (observation.response.code === '2.05') values.unshift(Number(observation.response.payload.toString('utf8')));
    return { values, observation };
  }

  close(): Promise<void> {
    return this.coap.close();
  }
}

/** Polls `check` until it holds. */
export async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A deterministic test image of `size` bytes that carries its version (`fw-version=…`). */
export function testImage(size: number, version: string): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  Buffer.from(`fw-version=${version}\n`).copy(b, 0);
  return b;
}
