/**
 * The observer side of RFC 7641: live observations by token, the freshness rule of §3.4
 * to drop reordered notifications, and a bounded memory of cancelled tokens so that a
 * notification for one is rejected with RST (reactive cancel, §3.6) without asking the
 * orphan handler.
 */
import type { IncomingResponse, NotificationListener, ObservationHandle, Peer } from './types';

/** RFC 7641 §3.4: notifications more than 128 s apart are always fresh. */
const FRESHNESS_WINDOW_MS = 128_000;
const HALF_SEQUENCE = 1 << 23;

/**
 * RFC 7641 §3.4: V2 is newer than V1 if (V1 < V2 and V2 - V1 < 2^23) or (V1 > V2 and
 * V1 - V2 > 2^23) or (T2 > T1 + 128 seconds).
 */
export function isFresh(v1: number, t1: number, v2: number, t2: number): boolean {
  return (v1 < v2 && v2 - v1 < HALF_SEQUENCE) || (v1 > v2 && v1 - v2 > HALF_SEQUENCE) || t2 > t1 + FRESHNESS_WINDOW_MS;
}

export class ObservationEntry implements ObservationHandle {
  lastSeq: number | undefined = undefined;
  lastTime = 0;
  active = true;
  constructor(
    readonly registry: ObservationRegistry,
    readonly token: Buffer,
    readonly tokenKey: string,
    readonly peer: Peer,
    readonly listener: NotificationListener,
    /** Enough of the registering request to deregister and to fetch further Block2 blocks. */
    readonly request: { readonly path: readonly string[]; readonly query: readonly string[]; readonly accept: number | undefined } | undefined,
  ) {}

  cancel(options?: { sendDeregister?: boolean }): Promise<void> {
    return this.registry.cancel(this, options?.sendDeregister ?? true);
  }

  /** Whether a notification with sequence `seq` (arriving now) is newer than the last one delivered; records it if so. */
  accept(seq: number | undefined, now: number): boolean {
    if (seq === undefined) return true; // a final response (no Observe): always delivered
    if (this.lastSeq !== undefined && !isFresh(this.lastSeq, this.lastTime, seq, now)) return false;
    this.lastSeq = seq;
    this.lastTime = now;
    return true;
  }
}

export class ObservationRegistry {
  private readonly live = new Map<string, ObservationEntry>();
  /** Cancelled tokens → time of cancel; insertion order = age. */
  private readonly cancelled = new Map<string, number>();

  constructor(
    private readonly deregister: (entry: ObservationEntry) => Promise<void>,
    private readonly maxCancelled = 10_000,
  ) {}

  get size(): number {
    return this.live.size;
  }

  add(entry: ObservationEntry): void {
    const old = this.live.get(entry.tokenKey);
    if (old) old.active = false;
    this.cancelled.delete(entry.tokenKey);
    this.live.set(entry.tokenKey, entry);
  }

  get(tokenKey: string): ObservationEntry | undefined {
    return this.live.get(tokenKey);
  }

  /** Forget without deregistering (the observation ended: error notification, final response, failed registration). */
  remove(entry: ObservationEntry): void {
    entry.active = false;
    if (this.live.get(entry.tokenKey) === entry) this.live.delete(entry.tokenKey);
  }

  isCancelled(tokenKey: string): boolean {
    return this.cancelled.has(tokenKey);
  }

  async cancel(entry: ObservationEntry, sendDeregister: boolean): Promise<void> {
    if (!entry.active) return;
    this.remove(entry);
    this.cancelled.set(entry.tokenKey, Date.now());
    if (this.cancelled.size > this.maxCancelled) {
      this.cancelled.delete(this.cancelled.keys().next().value as string);
    }
    if (sendDeregister && entry.request !== undefined) await this.deregister(entry);
  }

  /** Drops remembered cancelled tokens older than `maxAgeMs`. */
  sweep(now: number, maxAgeMs: number): void {
    for (const [key, at] of this.cancelled) {
      if (now - at < maxAgeMs) break;
      this.cancelled.delete(key);
    }
  }

  clear(): void {
    for (const e of this.live.values()) e.active = false;
    this.live.clear();
    this.cancelled.clear();
  }
}

export type { IncomingResponse };
