/**
 * Datagram channels: how CoAP messages reach the wire. The endpoint only sees this
 * interface, so a DTLS channel (one session per peer, memory BIOs over the same UDP socket)
 * slots in later without touching the message layer or anything above it.
 */
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import { isIP, isIPv4 } from 'node:net';
import { Lwm2mFotaError } from '../errors';
import { BatchedSocket, batchedUdpAvailable } from './batched-udp';
import type { DatagramChannel, Peer } from './types';

export type { DatagramChannel };

export type ChannelAddress = ReturnType<DatagramChannel['address']>;
export type DatagramListener = (datagram: Buffer, peer: Peer) => void;

export interface UdpChannelOptions {
  /** Default '::' (dual stack). An IPv4 address binds an udp4 socket. */
  readonly host?: string;
  /** Default 5683; 0 = any free port. */
  readonly port?: number;
  /**
   * Socket receive buffer to ask for (SO_RCVBUF), default 4 MiB. A fleet registering at
   * once sends bursts that the kernel's default (~208 KiB, about 270 small datagrams) would
   * drop while the event loop is busy; the kernel caps the value at net.core.rmem_max.
   */
  readonly receiveBufferBytes?: number;
  /**
   * 'batched' (default where the add-on built: Linux) or 'dgram' (node:dgram). A host name
   * instead of an IP literal always uses node:dgram.
   */
  readonly implementation?: 'batched' | 'dgram';
}

const DEFAULT_RECEIVE_BUFFER = 4 * 1024 * 1024;

const V4_MAPPED = '::ffff:';
const DOTTED_QUAD = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * node:dgram resolves the address of every send through dns.lookup, which for an IP literal
 * costs an IP regex and a nextTick per datagram. Peers are IP literals (they come from
 * rinfo): hand them back synchronously; anything else goes to dns.lookup.
 */
function literalLookup(
  hostname: string,
  options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  if (hostname.indexOf(':') !== -1) return callback(null, hostname, 6);
  if (DOTTED_QUAD.test(hostname)) return callback(null, hostname, 4);
  const family = typeof options === 'number' ? options : ((options as { family?: number } | undefined)?.family ?? 0);
  dns.lookup(hostname, { family }, callback);
}

/** The peer address as a dual-stack socket reports it: IPv4 peers become `::ffff:a.b.c.d`. */
export function canonicalAddress(address: string): string {
  return address.startsWith(V4_MAPPED) ? address : isIPv4(address) ? V4_MAPPED + address : address;
}

/** The socket under a UdpChannel: node:dgram, or the batched add-on. */
interface SocketIo {
  send(datagram: Buffer, port: number, address: string, callback?: (err: Error | null) => void): void;
  address(): ChannelAddress;
  close(): Promise<void>;
}

function dgramIo(socket: dgram.Socket): SocketIo {
  return {
    send: (datagram, port, address, callback) => {
      if (callback) socket.send(datagram, port, address, callback);
      else socket.send(datagram, port, address);
    },
    address: () => {
      const a = socket.address();
      return { address: a.address, port: a.port, family: a.family };
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function bindError(host: string, port: number, err: Error): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_COAP_BIND', `cannot bind UDP ${host} port ${port}: ${err.message}`, { cause: err, context: { host, port } });
}

/**
 * A UDP socket. Dual stack by default (`ipv6Only: false`); never shares its port (no
 * SO_REUSEADDR, unlike node-coap's default).
 *
 * On Linux, with the add-on built (`native/udp.c`), datagrams are received and sent in
 * batches (recvmmsg/sendmmsg: `batched-udp.ts`); elsewhere, for a host name, or with
 * `implementation: 'dgram'` or LWM2M_FOTA_UDP=dgram, it is node:dgram.
 */
export class UdpChannel implements DatagramChannel {
  private listener: DatagramListener = () => {};
  private errorListener: (err: Error) => void = () => {};
  private closed = false;
  private readonly v6: boolean;
  private readonly io: SocketIo;

  private constructor(
    io: (onDatagram: DatagramListener, onError: (err: Error) => void) => SocketIo,
    v6: boolean,
    /** Which socket carries the datagrams. */
    readonly implementation: 'batched' | 'dgram',
  ) {
    this.v6 = v6;
    this.io = io(
      (datagram, peer) => this.listener(datagram, peer),
      (err) => this.errorListener(err),
    );
  }

  /** Binds a socket. Throws ERR_COAP_BIND when the address is taken or invalid. */
  static async bind(options: UdpChannelOptions = {}): Promise<UdpChannel> {
    const host = options.host ?? '::';
    const port = options.port ?? 5683;
    const receiveBufferBytes = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER;
    const v6 = !isIPv4(host);
    if (options.implementation !== 'dgram' && isIP(host) !== 0 && batchedUdpAvailable()) {
      try {
        return new UdpChannel((onDatagram, onError) => new BatchedSocket(host, port, receiveBufferBytes, onDatagram, onError), v6, 'batched');
      } catch (err) {
        throw bindError(host, port, err as Error);
      }
    }
    const type = v6 ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, reuseAddr: false, lookup: literalLookup, ...(v6 ? { ipv6Only: false } : {}) });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(bindError(host, port, err));
      };
      socket.once('error', onError);
      socket.bind({ port, address: host, exclusive: true }, () => {
        socket.removeListener('error', onError);
        try {
          socket.setRecvBufferSize(receiveBufferBytes);
        } catch {
          // best effort: the kernel's default still works, it only drops bursts sooner
        }
        resolve();
      });
    });
    return new UdpChannel(
      (onDatagram, onError) => {
        socket.on('message', onDatagram);
        socket.on('error', onError);
        return dgramIo(socket);
      },
      v6,
      'dgram',
    );
  }

  send(datagram: Buffer, peer: Peer, callback?: (err: Error | null) => void): void {
    if (this.closed) {
      callback?.(new Error('channel closed'));
      return;
    }
    let address = peer.address;
    // A dual-stack socket cannot send to a bare IPv4 literal (EINVAL); an udp4 socket cannot
    // send to an IPv4-mapped address.
    if (this.v6) {
      // Addresses taken from incoming datagrams always contain ':' here; test cheaply first.
      if (address.indexOf(':') === -1 && isIPv4(address)) address = V4_MAPPED + address;
    } else if (address.startsWith(V4_MAPPED)) {
      address = address.slice(V4_MAPPED.length);
    }
    try {
      this.io.send(datagram, peer.port, address, callback);
    } catch (err) {
      // dgram throws synchronously for a bad port or a closed socket.
      if (callback) callback(err as Error);
      else this.errorListener(err as Error);
    }
  }

  onDatagram(listener: DatagramListener): void {
    this.listener = listener;
  }

  onError(listener: (err: Error) => void): void {
    this.errorListener = listener;
  }

  address(): ChannelAddress {
    return this.io.address();
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.io.close();
  }
}
