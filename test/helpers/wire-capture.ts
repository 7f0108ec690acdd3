/**
 * A UDP relay between devices and a server that records every datagram in the order it
 * passed, decoded as CoAP: what a packet capture on the wire would show. Each device gets
 * its own socket towards the server, so the server sees one peer per device.
 */
import { createSocket, type Socket } from 'node:dgram';
import { decode as decodeCoap } from '../../src/coap/message';

export interface CapturedDatagram {
  /** 'up': device → server; 'down': server → device. */
  readonly direction: 'up' | 'down';
  readonly devicePort: number;
  /** 'CON' | 'NON' | 'ACK' | 'RST'. */
  readonly type: string;
  /** "0.01" (GET) … "2.01"; "0.00" for an empty message. */
  readonly code: string;
  readonly messageId: number;
  /** Uri-Path joined with '/', without a leading slash ("3/0/3", "rd/abc"). */
  readonly path: string;
  /** Epoch ms when the relay received it. */
  readonly at: number;
}

const TYPES = ['CON', 'NON', 'ACK', 'RST'];

export class WireCapture {
  readonly datagrams: CapturedDatagram[] = [];
  private readonly toServer = new Map<number, Promise<Socket>>();

  private constructor(
    private readonly front: Socket,
    private readonly serverPort: () => number,
  ) {}

  /** Listens on [::1]; devices register with `uri`, datagrams go on to [::1]:serverPort(). */
  static async start(serverPort: () => number): Promise<WireCapture> {
    const front = createSocket({ type: 'udp6', ipv6Only: true });
    await new Promise<void>((r) => front.bind(0, '::1', () => r()));
    const c = new WireCapture(front, serverPort);
    front.on('message', (msg, rinfo) => void c.fromDevice(msg, rinfo.port));
    return c;
  }

  get uri(): string {
    return `coap://[::1]:${this.front.address().port}`;
  }

  /** Requests (CON or NON with a method code) from the server to the device at `devicePort`. */
  requestsDown(devicePort?: number): CapturedDatagram[] {
    return this.datagrams.filter((d) => d.direction === 'down' && d.code.startsWith('0.') && d.code !== '0.00' && (devicePort === undefined || d.devicePort === devicePort));
  }

  private record(direction: 'up' | 'down', datagram: Buffer, devicePort: number): void {
    try {
      const m = decodeCoap(datagram);
      const path = m.options.filter((o) => o.number === 11).map((o) => o.value.toString('utf8')).join('/');
      const code = `${m.code >> 5}.${String(m.code & 31).padStart(2, '0')}`;
      this.datagrams.push({ direction, devicePort, type: TYPES[m.type] ?? '?', code, messageId: m.messageId, path, at: Date.now() });
    } catch {
      // not CoAP: not ours to record
    }
  }

  private async fromDevice(msg: Buffer, devicePort: number): Promise<void> {
    // Recorded before any await, so that the order is the order of arrival.
    this.record('up', msg, devicePort);
    let back = this.toServer.get(devicePort);
    if (back === undefined) {
      back = new Promise<Socket>((resolve) => {
        const s = createSocket({ type: 'udp6', ipv6Only: true });
        s.on('message', (m) => {
          this.record('down', m, devicePort);
          this.front.send(m, devicePort, '::1');
        });
        s.bind(0, '::1', () => resolve(s));
      });
      this.toServer.set(devicePort, back);
    }
    (await back).send(msg, this.serverPort(), '::1');
  }

  async close(): Promise<void> {
    for (const s of this.toServer.values()) {
      const socket = await s;
      await new Promise<void>((r) => socket.close(() => r()));
    }
    await new Promise<void>((r) => this.front.close(() => r()));
  }
}
