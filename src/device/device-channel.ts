/**
 * The device's radio: a datagram channel decorator over the CoAP layer's UDP channel that
 * loses packets (the drop fault), and that a sleeping (queue mode) or rebooting device
 * switches off. The CoAP endpoint above it sees only the `DatagramChannel` interface.
 */
import type { DatagramChannel, Peer } from '../coap/types';

/** What the radio does with traffic right now. */
export type RadioMode =
  /** Everything passes (minus drops). */
  | 'on'
  /** Queue mode asleep: incoming datagrams are ignored; the device sends nothing unprompted. */
  | 'asleep'
  /** Rebooting / stopped: nothing in, nothing out. */
  | 'off';

export interface RadioStats {
  sent: number;
  received: number;
  droppedOut: number;
  droppedIn: number;
  /** Datagrams that arrived while the device was asleep or off, or that it chose to ignore. */
  ignoredIn: number;
}

export interface DeviceChannelOptions {
  /** Probability (0..1) that one datagram is lost, in each direction. */
  readonly dropRate: number;
  /** The random source for drops (seeded for reproducible runs). */
  readonly random: () => number;
  /** Called with every datagram that arrives while the radio is on (after drops): the device notes activity. */
  readonly onActivity?: (datagram: Buffer) => void;
  /** Datagrams the device ignores now though its radio is on (counted in `ignoredIn`). */
  readonly ignore?: (datagram: Buffer) => boolean;
}

export class DeviceChannel implements DatagramChannel {
  mode: RadioMode = 'on';
  readonly stats: RadioStats = { sent: 0, received: 0, droppedOut: 0, droppedIn: 0, ignoredIn: 0 };
  private listener: (datagram: Buffer, peer: Peer) => void = () => {};

  constructor(
    private readonly inner: DatagramChannel,
    private readonly options: DeviceChannelOptions,
  ) {
    inner.onDatagram((datagram, peer) => {
      if (this.mode !== 'on') {
        this.stats.ignoredIn++;
        return;
      }
      if (this.lose()) {
        this.stats.droppedIn++;
        return;
      }
      if (this.options.ignore?.(datagram) === true) {
        this.stats.ignoredIn++;
        return;
      }
      this.stats.received++;
      this.options.onActivity?.(datagram);
      this.listener(datagram, peer);
    });
  }

  private lose(): boolean {
    return this.options.dropRate > 0 && this.options.random() < this.options.dropRate;
  }

  send(datagram: Buffer, peer: Peer, callback?: (err: Error | null) => void): void {
    // A lost datagram looks sent to the sender, as on a real radio.
    if (this.mode === 'off' || this.lose()) {
      this.stats.droppedOut++;
      if (callback) queueMicrotask(() => callback(null));
      return;
    }
    this.stats.sent++;
    this.inner.send(datagram, peer, callback);
  }

  onDatagram(listener: (datagram: Buffer, peer: Peer) => void): void {
    this.listener = listener;
  }

  onError(listener: (err: Error) => void): void {
    this.inner.onError(listener);
  }

  address(): { address: string; port: number; family: string } {
    return this.inner.address();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
