/**
 * UDP through the project's add-on (`native/udp.c`, Linux): datagrams arrive in batches
 * (one recvmmsg for up to 64; each is handed to JavaScript in a call of its own, so that its
 * promise jobs run before the next one, as with node:dgram) and leave in batches (sends
 * queued during one turn of the event loop go out through one sendmmsg in its check phase,
 * after the turn's I/O callbacks and their promise jobs).
 *
 * Every batched socket of this thread shares one receive area and one send area: received
 * datagrams are copied out into their own Buffers during the callback, and a datagram to
 * send is copied into the send area when it is queued, so the caller may change its Buffer
 * at once and the queue keeps none alive. Where the add-on did not build (not Linux, no
 * compiler), `batchedUdpAvailable()` is false and the channel uses node:dgram.
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { getSystemErrorName } from 'node:util';

const ADDON_FILE = 'lwm2m_fota_udp.node';

/** The add-on's socket: opaque to JavaScript. */
type NativeSocket = { readonly __nativeUdp: unique symbol };

interface Addon {
  readonly RECV_BATCH: number;
  readonly RECV_SLOT: number;
  readonly SEND_BATCH: number;
  open(
    host: string,
    port: number,
    receiveBufferBytes: number,
    recvArea: Buffer,
    recvMeta: Int32Array,
    onReceive: (index: number, address: string) => void,
    onError: (errno: number, syscall: string) => void,
  ): NativeSocket;
  address(socket: NativeSocket): [string, number, string];
  send(
    socket: NativeSocket,
    first: number,
    count: number,
    addresses: readonly string[],
    sendArea: Buffer,
    sendMeta: Int32Array,
    sendErrors: Int32Array,
  ): number;
  close(socket: NativeSocket, onClosed: () => void): void;
}

type SendCallback = (err: Error | null) => void;
type ReceiveListener = (datagram: Buffer, peer: { address: string; port: number }) => void;

/** Bytes of datagrams one flush can hold; a UDP datagram is under 64 KiB, so at least 16 fit. */
const SEND_AREA_BYTES = 1024 * 1024;

/** The thread's shared state: the add-on, its areas and the queue of datagrams to send. */
class Batcher {
  readonly recvArea: Buffer;
  readonly recvMeta: Int32Array;
  readonly recvSlot: number;
  private readonly sendArea = Buffer.allocUnsafeSlow(SEND_AREA_BYTES);
  private readonly sendMeta: Int32Array;
  private readonly sendErrors: Int32Array;
  private readonly sendBatch: number;
  // The queue: entry i is sendArea[meta[3i] .. +meta[3i+1]) to addresses[i] port meta[3i+2].
  private readonly sockets: (BatchedSocket | null)[] = [];
  private readonly addresses: string[] = [];
  private readonly callbacks: (SendCallback | undefined)[] = [];
  private count = 0;
  private used = 0;
  private scheduled = false;
  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush(false);
  };

  constructor(readonly addon: Addon) {
    this.recvSlot = addon.RECV_SLOT;
    this.recvArea = Buffer.allocUnsafeSlow(addon.RECV_BATCH * addon.RECV_SLOT);
    this.recvMeta = new Int32Array(addon.RECV_BATCH * 2);
    this.sendBatch = addon.SEND_BATCH;
    this.sendMeta = new Int32Array(addon.SEND_BATCH * 3);
    this.sendErrors = new Int32Array(addon.SEND_BATCH);
  }

  enqueue(socket: BatchedSocket, datagram: Buffer, port: number, address: string, callback: SendCallback | undefined): void {
    const length = datagram.length;
    if (this.count === this.sendBatch || this.used + length > SEND_AREA_BYTES) this.flush(true);
    const i = this.count++;
    datagram.copy(this.sendArea, this.used);
    this.sendMeta[3 * i] = this.used;
    this.sendMeta[3 * i + 1] = length;
    this.sendMeta[3 * i + 2] = port;
    this.used += length;
    this.sockets[i] = socket;
    this.addresses[i] = address;
    this.callbacks[i] = callback;
    if (!this.scheduled) {
      this.scheduled = true;
      // After this turn's I/O callbacks (every datagram of a received batch, the store's
      // answers) and their promise jobs: all the answers they made go in one batch.
      setImmediate(this.flushScheduled);
    }
  }

  /**
   * Sends what is queued, one sendmmsg per run of one socket's datagrams. Callbacks run
   * afterwards, on a later tick when `fromSend` (a send must not call back synchronously).
   */
  flush(fromSend: boolean): void {
    const n = this.count;
    if (n === 0) return;
    let outcomes: [SendCallback, Error | null][] | undefined;
    let orphans: [BatchedSocket, Error][] | undefined;
    for (let i = 0; i < n; ) {
      const socket = this.sockets[i]!;
      let j = i + 1;
      while (j < n && this.sockets[j] === socket) j++;
      const failed = socket.closedHandle ? -1 : this.addon.send(socket.handle, i, j - i, this.addresses, this.sendArea, this.sendMeta, this.sendErrors);
      for (let k = i; k < j; k++) {
        const errno = failed === -1 ? EBADF : failed === 0 ? 0 : this.sendErrors[k - i]!;
        const err = errno === 0 ? null : systemError('send', errno, ` ${this.addresses[k]!}:${this.sendMeta[3 * k + 2]!}`);
        const callback = this.callbacks[k];
        if (callback !== undefined) (outcomes ??= []).push([callback, err]);
        else if (err !== null) (orphans ??= []).push([socket, err]);
        this.sockets[k] = null;
        this.callbacks[k] = undefined;
      }
      i = j;
    }
    this.count = 0;
    this.used = 0;
    if (outcomes === undefined && orphans === undefined) return;
    const report = (): void => {
      for (const [callback, err] of outcomes ?? []) callback(err);
      for (const [socket, err] of orphans ?? []) socket.reportError(err);
    };
    if (fromSend) process.nextTick(report);
    else report();
  }
}

const EBADF = constants.errno.EBADF;

/** A system call's failure as node:dgram reports one: `send EINVAL ::1:0`, with code, errno and syscall. */
function systemError(syscall: string, errno: number, where = ''): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`${syscall} ${code}${where}`), { errno, code, syscall });
}

let batcher: Batcher | null | undefined;

/** Where the built add-on lies: build/Release at the package root, above dist/ or src/. */
function findAddon(): string | undefined {
  let dir = __dirname;
  for (let up = 0; up < 5; up++) {
    const file = join(dir, 'build', 'Release', ADDON_FILE);
    if (existsSync(file)) return file;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * The thread's batcher, or undefined where the add-on is missing or refused to load, or
 * LWM2M_FOTA_UDP=dgram asks for node:dgram.
 */
function loadBatcher(): Batcher | undefined {
  if (batcher !== undefined) return batcher ?? undefined;
  batcher = null;
  if (process.platform !== 'linux' || process.env.LWM2M_FOTA_UDP === 'dgram') return undefined;
  const file = findAddon();
  if (file === undefined) return undefined;
  try {
    batcher = new Batcher(require(file) as Addon);
  } catch {
    batcher = null;
  }
  return batcher ?? undefined;
}

/** True when batched sockets can be opened in this thread. */
export function batchedUdpAvailable(): boolean {
  return loadBatcher() !== undefined;
}

/**
 * One bound UDP socket of the add-on. `host` must be an IP literal. Throws what bind(2)
 * reported (an Error with `code`, e.g. EADDRINUSE); never shares its port.
 */
export class BatchedSocket {
  closedHandle = false;
  readonly handle: NativeSocket;
  private readonly batcher: Batcher;
  private closing: Promise<void> | undefined;

  constructor(
    host: string,
    port: number,
    receiveBufferBytes: number,
    private readonly onDatagram: ReceiveListener,
    private readonly onError: (err: Error) => void,
  ) {
    const b = loadBatcher();
    if (b === undefined) throw new Error('the batched UDP add-on is not available');
    this.batcher = b;
    const area = b.recvArea;
    const meta = b.recvMeta;
    const slot = b.recvSlot;
    this.handle = b.addon.open(
      host,
      port,
      receiveBufferBytes,
      area,
      meta,
      (i, address) => {
        const length = meta[2 * i]!;
        const start = i * slot;
        const datagram = Buffer.allocUnsafe(length);
        area.copy(datagram, 0, start, start + length);
        this.onDatagram(datagram, { address, port: meta[2 * i + 1]! });
      },
      (errno, syscall) => this.reportError(systemError(syscall, errno)),
    );
  }

  reportError(err: Error): void {
    this.onError(err);
  }

  send(datagram: Buffer, port: number, address: string, callback?: SendCallback): void {
    this.batcher.enqueue(this, datagram, port, address, callback);
  }

  address(): { address: string; port: number; family: string } {
    const [address, port, family] = this.batcher.addon.address(this.handle);
    return { address, port, family };
  }

  /** Sends what is still queued, then closes; the port is free when this resolves. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.batcher.flush(true);
    this.closedHandle = true;
    this.closing = new Promise((resolve) => this.batcher.addon.close(this.handle, resolve));
    return this.closing;
  }
}
