/**
 * Message deduplication (RFC 7252 §4.5): remembers, per (peer, message id), that a message
 * was seen and the reply that went back, so a retransmission is answered from memory
 * instead of being processed again.
 *
 * Memory is bounded without a timer per entry: two generations of Maps. New entries go to
 * the young generation; `rotate()` (called from the endpoint's periodic sweep when
 * `lifetimeMs` has passed, or here when the young generation holds half the capacity) drops
 * the old generation and ages the young one. An entry is therefore remembered for at least
 * `lifetimeMs` (EXCHANGE_LIFETIME) unless the capacity forces an earlier rotation — at
 * 100 000 entries and 90k req/s that is about a second of history, which still covers a
 * peer's retransmissions only when it uses short ACK timeouts; raise `dedupCapacity` for
 * sustained high rates (about 150 bytes per entry plus the reply datagram). A byte budget
 * bounds the cached replies as well.
 */

/**
 * An exchange whose handler is still running. A retransmission that finds it switches the
 * exchange to a separate response (`separate`): it gets an empty ACK now, the answer later.
 */
export interface PendingExchange {
  separate: boolean;
}

/** The reply datagram that went back, or the exchange still being handled. */
export type DedupEntry = Buffer | PendingExchange;

export class DedupCache {
  private young = new Map<string, DedupEntry>();
  private old = new Map<string, DedupEntry>();
  private youngBytes = 0;
  private rotatedAt: number;
  private readonly half: number;
  private readonly halfBytes: number;

  /**
   * `capacity` bounds the entries, `maxBytes` the cached reply datagrams (Block2 answers are
   * up to ~1.1 KiB each): whichever is reached first ages the young generation.
   */
  constructor(
    capacity: number,
    private readonly lifetimeMs: number,
    now: number,
    maxBytes = Number.MAX_SAFE_INTEGER,
  ) {
    this.half = Math.max(1, Math.floor(capacity / 2));
    this.halfBytes = Math.max(1, Math.floor(maxBytes / 2));
    this.rotatedAt = now;
  }

  get(key: string): DedupEntry | undefined {
    const v = this.young.get(key);
    return v !== undefined ? v : this.old.get(key);
  }

  set(key: string, value: DedupEntry): void {
    if ((this.young.size >= this.half || this.youngBytes >= this.halfBytes) && !this.young.has(key)) this.rotateNow();
    this.young.set(key, value);
    if (Buffer.isBuffer(value)) this.youngBytes += value.length;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** Called by the periodic sweep; rotates once `lifetimeMs` has passed since the last rotation. */
  sweep(now: number): void {
    if (now - this.rotatedAt >= this.lifetimeMs) {
      this.rotateNow();
      this.rotatedAt = now;
    }
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
    this.youngBytes = 0;
  }

  private rotateNow(): void {
    this.old = this.young;
    this.young = new Map();
    this.youngBytes = 0;
  }
}
