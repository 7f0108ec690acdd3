/**
 * The device side of Observe (RFC 7641, TS Core §6.4): who observes which path, in which
 * format, and when to notify — on change, no sooner than `pmin` after the last
 * notification, and at least every `pmax` (TS Core §5.1.2). Notifications to one observer
 * leave in order, one at a time, each with a higher Observe number, because the server
 * drops a notification that is older than the last one it saw (RFC 7641 §3.4).
 */
import type { OutgoingResponse, Peer } from '../coap/types';
import { isPathPrefix, type LwM2mPath } from '../lwm2m/core/model/path';
import type { NotificationAttributes } from './object-tree';

/** Sends one notification; rejects when the observer is gone (RST) or does not answer. */
export type NotificationSender = (peer: Peer, token: Buffer, response: OutgoingResponse, confirmable: boolean) => Promise<void>;

export interface ObserversOptions {
  readonly send: NotificationSender;
  /**
   * The current representation of `path` in `format` (a 2.05), or an error response when it
   * vanished; with `paths`, of those paths (Observe-Composite, `path` is the root).
   */
  readonly render: (path: LwM2mPath, format: number, paths?: readonly LwM2mPath[]) => OutgoingResponse;
  /** Attributes in force for a path, with the server's defaults (/1/0/2, /1/0/3) applied. */
  readonly attributes: (path: LwM2mPath) => NotificationAttributes;
  /** Whether the device may send now (false while a queue-mode device sleeps). */
  readonly canSend: () => boolean;
  /** Confirmable notifications (default) or not. */
  readonly confirmable: boolean;
  readonly onError?: (err: Error) => void;
  /** Called after each notification sent. */
  readonly onNotified?: (path: LwM2mPath, payload: Buffer) => void;
}

interface Observer {
  readonly key: string;
  readonly peer: Peer;
  readonly token: Buffer;
  readonly path: LwM2mPath;
  /** Observe-Composite: the observed paths (`path` is then the root). */
  readonly paths: readonly LwM2mPath[] | undefined;
  readonly format: number;
  /** The payload last sent (or queued), to notify on change only. */
  last: Buffer;
  lastSentAt: number;
  /** Sending is serialised per observer. */
  chain: Promise<void>;
  pminTimer: NodeJS.Timeout | undefined;
  pmaxTimer: NodeJS.Timeout | undefined;
  /** A change is waiting for the device to wake up. */
  pending: boolean;
  gone: boolean;
}

// RFC 7641 §4.4: the Observe number is 24 bits and wraps.
const SEQ_MASK = 0xffffff;

export class Observers {
  private readonly byKey = new Map<string, Observer>();
  private seq = 1;

  constructor(private readonly options: ObserversOptions) {}

  get size(): number {
    return this.byKey.size;
  }

  /** The next Observe number (also for the response that establishes an observation). */
  nextSequence(): number {
    this.seq = (this.seq + 1) & SEQ_MASK;
    return this.seq;
  }

  private static key(peer: Peer, token: Buffer): string {
    return `${peer.address}|${peer.port}|${token.toString('hex')}`;
  }

  /**
   * Registers (or re-registers, same token) an observation whose first response carried
   * `payload`; `paths` for an Observe-Composite.
   */
  add(peer: Peer, token: Buffer, path: LwM2mPath, format: number, payload: Buffer, paths?: readonly LwM2mPath[]): void {
    this.remove(peer, token);
    const o: Observer = {
      key: Observers.key(peer, token),
      peer,
      token: Buffer.from(token),
      path,
      paths,
      format,
      last: payload,
      lastSentAt: Date.now(),
      chain: Promise.resolve(),
      pminTimer: undefined,
      pmaxTimer: undefined,
      pending: false,
      gone: false,
    };
    this.byKey.set(o.key, o);
    this.armPmax(o);
  }

  remove(peer: Peer, token: Buffer): boolean {
    const o = this.byKey.get(Observers.key(peer, token));
    if (!o) return false;
    this.drop(o);
    return true;
  }

  /** Forgets every observation (a reboot: the device keeps none across it). */
  clear(): void {
    for (const o of [...this.byKey.values()]) this.drop(o);
  }

  /** Something under or above `path` changed: notify the observers it concerns. */
  changed(path: LwM2mPath): void {
    for (const o of this.byKey.values()) {
      if ((o.paths ?? [o.path]).some((p) => isPathPrefix(p, path) || isPathPrefix(path, p))) this.check(o, false);
    }
  }

  /** Attributes changed (Write-Attributes): restart every pmax timer with the values now in force. */
  rearm(): void {
    for (const o of this.byKey.values()) this.armPmax(o);
  }

  /** The device woke up (queue mode): send what waited. */
  flush(): void {
    for (const o of this.byKey.values()) {
      if (o.pending) {
        o.pending = false;
        this.check(o, false);
      }
    }
  }

  /** Resolves when every queued notification has been sent (or failed). */
  async settled(): Promise<void> {
    await Promise.all([...this.byKey.values()].map((o) => o.chain));
  }

  private drop(o: Observer): void {
    o.gone = true;
    if (o.pminTimer) clearTimeout(o.pminTimer);
    if (o.pmaxTimer) clearTimeout(o.pmaxTimer);
    this.byKey.delete(o.key);
  }

  private attrs(o: Observer): { pminMs: number; pmaxMs: number } {
    const a = this.options.attributes(o.path);
    const pmin = a.pmin ?? 0;
    const pmax = a.pmax ?? 0;
    return { pminMs: pmin * 1000, pmaxMs: pmax > 0 && pmax >= pmin ? pmax * 1000 : 0 };
  }

  private armPmax(o: Observer): void {
    if (o.pmaxTimer) clearTimeout(o.pmaxTimer);
    o.pmaxTimer = undefined;
    const { pmaxMs } = this.attrs(o);
    if (pmaxMs > 0) {
      o.pmaxTimer = setTimeout(() => this.check(o, true), pmaxMs);
      o.pmaxTimer.unref?.();
    }
  }

  /** Renders the current value; queues a notification when it changed (or `force`, for pmax). */
  private check(o: Observer, force: boolean): void {
    if (o.gone) return;
    if (!this.options.canSend()) {
      o.pending = true;
      return;
    }
    const { pminMs } = this.attrs(o);
    const wait = o.lastSentAt + pminMs - Date.now();
    if (wait > 0 && !force) {
      if (!o.pminTimer) {
        o.pminTimer = setTimeout(() => {
          o.pminTimer = undefined;
          this.check(o, false);
        }, wait);
        o.pminTimer.unref?.();
      }
      return;
    }
    const res = this.options.render(o.path, o.format, o.paths);
    const payload = res.payload ?? Buffer.alloc(0);
    if (!force && res.code === '2.05' && payload.equals(o.last)) return;
    o.last = payload;
    o.lastSentAt = Date.now();
    this.armPmax(o);
    const last = res.code !== '2.05';
    const response: OutgoingResponse = last ? res : { ...res, observe: this.nextSequence() };
    o.chain = o.chain.then(async () => {
      if (o.gone && !last) return;
      try {
        await this.options.send(o.peer, o.token, response, this.options.confirmable);
        this.options.onNotified?.(o.path, payload);
      } catch (err) {
        // RST or no ACK: the observer is gone (RFC 7641 §3.6, §4.5).
        this.drop(o);
        this.options.onError?.(err as Error);
      }
    });
    // An error response ends the observation (RFC 7641 §4.2).
    if (last) this.drop(o);
  }
}
