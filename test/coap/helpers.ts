import * as dgram from 'node:dgram';
import { createCoapEndpoint, type CoapEndpoint, type CoapEndpointOptions, type Peer } from '../../src/coap';
import { decode, encode, type Message } from '../../src/coap/message';

/** Short transmission parameters so retransmission paths run in milliseconds. */
export const FAST = {
  ackTimeoutMs: 40,
  ackRandomFactor: 1.5,
  maxRetransmit: 2,
  exchangeLifetimeMs: 2000,
  maxTransmitWaitMs: 1000,
};

const open: CoapEndpoint[] = [];
const sockets: dgram.Socket[] = [];

export async function endpoint(options: CoapEndpointOptions = {}): Promise<CoapEndpoint> {
  const ep = await createCoapEndpoint({ port: 0, host: '::1', transmission: FAST, ...options });
  open.push(ep);
  return ep;
}

export function peerOf(ep: CoapEndpoint, address = '::1'): Peer {
  return { address, port: ep.address().port };
}

/** A plain UDP socket that collects what it receives. */
export class RawPeer {
  readonly received: { msg: Message; from: dgram.RemoteInfo }[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (buf, from) => {
      try {
        this.received.push({ msg: decode(buf), from });
      } catch {
        // not CoAP: ignore
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  static async bind(host = '::1', type: 'udp4' | 'udp6' = 'udp6'): Promise<RawPeer> {
    const s = dgram.createSocket(type);
    sockets.push(s);
    await new Promise<void>((r) => s.bind(0, host, () => r()));
    return new RawPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get peer(): Peer {
    return { address: this.socket.address().address, port: this.port };
  }

  send(buf: Buffer, port: number, host = '::1'): void {
    this.socket.send(buf, port, host);
  }

  sendMessage(port: number, m: { type: number; code: number; mid: number; token?: Buffer; options?: { number: number; value: Buffer }[]; payload?: Buffer }, host = '::1'): void {
    this.send(encode(m.type as 0, m.code, m.mid, m.token ?? Buffer.alloc(0), m.options ?? [], m.payload), port, host);
  }

  /** Waits until `count` messages in total have arrived (or throws after `ms`). */
  async waitFor(count: number, ms = 2000): Promise<Message[]> {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} datagrams, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received.map((r) => r.msg);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((e) => e.close()));
  for (const s of sockets.splice(0)) {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
}
