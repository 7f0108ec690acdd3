/**
 * Message deduplication (RFC 7252 §4.5): remembers, per (peer, message id), that a message
 * was seen and the reply that went back, so a retransmission is answered from memory
 * instead of being processed again.
 *
 * Memory is bounded without a timer per entry: two generations. New entries go to the
 * young generation; a rotation (from the endpoint's periodic sweep when `lifetimeMs` has
 * passed, or here when the young generation holds half the capacity or half the byte
 * budget) drops the old generation and ages the young one. An entry is therefore
 * remembered for at least `lifetimeMs` (EXCHANGE_LIFETIME) unless the capacity forces an
 * earlier rotation — at 100 000 entries and 90k req/s that is about a second of history,
 * which still covers a peer's retransmissions only when it uses short ACK timeouts; raise
 * `dedupCapacity` for sustained high rates.
 *
 * Replies are copied into the generation's arena (64 KiB chunks) and the table keeps a number
 * locating them: a Buffer object per remembered reply would cost ~100 bytes of heap on top
 * of its bytes (measured: ~190 against ~285 bytes of heap per entry), and a fleet
 * registering at once leaves one entry per device for the whole exchange lifetime.
 *
 * Almost every message is new, so most lookups miss — in both generations, each a probe
 * of a table of tens of thousands of entries (a cache miss each). Each generation
 * therefore also keeps a small Bloom filter of its keys (8 bits per entry of its capacity,
 * two probes): a key absent from both filters is new without touching either table. A
 * full filter answers "maybe" for a few percent of new keys (measured 3.0% at the default
 * capacity); those are looked up in the table. It never answers "no" for a key it holds,
 * so nothing is processed twice.
 */

import { hashString } from '../string-hash';

/**
 * An exchange whose handler is still running. A retransmission that finds it switches the
 * exchange to a separate response (`separate`): it gets an empty ACK now, the answer later.
 */
export interface PendingExchange {
  separate: boolean;
}

/** The reply datagram that went back, or the exchange still being handled. */
export type DedupEntry = Buffer | PendingExchange;

/**
 * The marker of an asynchronous exchange ({@link DedupCache.pending}): remembered once, and
 * when the answer goes out ({@link DedupCache.complete}) the marker itself learns where the
 * reply is kept — no second table operation per request (on a table of 50,000 keys each one
 * costs a cache miss or more).
 */
export class ExchangeMarker implements PendingExchange {
  separate = false;
  /** The arena chunk holding the reply once completed, and where in it (small integers: no boxed number). */
  chunk: Buffer | undefined = undefined;
  offset = 0;
  length = 0;
}

const CHUNK = 64 * 1024;
/** A stored reply: chunk index × 2^32 + offset × 2^16 + length (all below 2^16 but the index). */
const SHIFT_CHUNK = 2 ** 32;
const SHIFT_OFFSET = 2 ** 16;
/** In `located`: no reply stored (the entry holds a pending exchange). */
const NO_REPLY = -1;

/**
 * One generation: its entries in an open-addressing table, the Bloom filter of their keys
 * and the arena holding their replies.
 *
 * Entries are numbered in arrival order; entry `e` is `keys[e]` with either a reply
 * (`located[e]`, see SHIFT_*) or a pending exchange (`pending[e]`). The table maps a key's
 * hash to its entry: slot `i` holds the hash at `2i` and 1 + the entry number at `2i + 1`
 * (0: empty), probed linearly, at most half full. An insert touches one table slot and
 * appends to the entry arrays; a JS Map of the same size touched a bucket, a chain of
 * entries and their key strings — each a cache miss at these sizes.
 */
class Generation {
  readonly keys: (string | undefined)[];
  readonly pending: (PendingExchange | undefined)[];
  readonly located: Float64Array;
  readonly table: Int32Array;
  readonly slotMask: number;
  count = 0;
  /**
   * Bloom filter bits (a power of two of them). The first probe is the hash's low bits
   * (`mask`), the second the top bits of the hash times the golden ratio (`shift`).
   */
  readonly filter: Int32Array;
  readonly mask: number;
  readonly shift: number;
  readonly chunks: Buffer[] = [];
  /** Bytes used in the last chunk. */
  used = CHUNK;
  bytes = 0;

  /**
   * `capacity`: how many keys the generation holds at most (8 filter bits each); `reuse`, a
   * dropped generation of the same capacity whose arrays are cleared and taken over.
   */
  constructor(
    readonly capacity: number,
    reuse?: Generation,
  ) {
    let log2 = 10;
    while (2 ** log2 < capacity * 8 && log2 < 30) log2++;
    const bits = 2 ** log2;
    this.mask = bits - 1;
    this.shift = 32 - log2;
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.slotMask = slots - 1;
    if (reuse !== undefined && reuse.capacity === capacity) {
      // Its entries are forgotten: the strings and exchanges they held go with them.
      this.filter = reuse.filter.fill(0);
      this.table = reuse.table.fill(0);
      this.keys = reuse.keys.fill(undefined, 0, reuse.count);
      this.pending = reuse.pending.fill(undefined, 0, reuse.count);
      this.located = reuse.located;
    } else {
      this.filter = new Int32Array(bits / 32);
      this.table = new Int32Array(slots * 2);
      this.keys = [];
      this.pending = [];
      this.located = new Float64Array(capacity);
    }
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Whether `hash` may have been added (false: certainly not). */
  mayHold(hash: number): boolean {
    const a = hash & this.mask;
    const b = Math.imul(hash, 0x9e3779b1) >>> this.shift;
    const f = this.filter;
    return (f[a >>> 5]! & (1 << (a & 31))) !== 0 && (f[b >>> 5]! & (1 << (b & 31))) !== 0;
  }

  /** The entry number of `key` (hash `hash`), or -1. */
  find(key: string, hash: number): number {
    if (!this.mayHold(hash)) return -1;
    const t = this.table;
    for (let i = hash & this.slotMask; ; i = (i + 1) & this.slotMask) {
      const e = t[2 * i + 1]!;
      if (e === 0) return -1;
      if (t[2 * i] === hash && this.keys[e - 1] === key) return e - 1;
    }
  }

  /**
   * Remembers `key` (not held yet) with a reply or a pending exchange; the caller checked
   * that the generation is not full.
   */
  add(key: string, hash: number, value: DedupEntry): void {
    const a = hash & this.mask;
    const b = Math.imul(hash, 0x9e3779b1) >>> this.shift;
    const f = this.filter;
    f[a >>> 5]! |= 1 << (a & 31);
    f[b >>> 5]! |= 1 << (b & 31);
    const t = this.table;
    let i = hash & this.slotMask;
    while (t[2 * i + 1] !== 0) i = (i + 1) & this.slotMask;
    const e = this.count++;
    t[2 * i] = hash;
    t[2 * i + 1] = e + 1;
    this.keys[e] = key;
    this.put(e, value);
  }

  /** Sets entry `e`'s value. */
  put(e: number, value: DedupEntry): void {
    if (Buffer.isBuffer(value)) {
      this.located[e] = this.store(value);
      this.pending[e] = undefined;
    } else {
      this.located[e] = NO_REPLY;
      this.pending[e] = value;
    }
  }

  /** Copies `reply` into the arena; returns where it went as one number (see SHIFT_*). */
  store(reply: Buffer): number {
    const offset = this.append(reply);
    return (this.chunks.length - 1) * SHIFT_CHUNK + offset * SHIFT_OFFSET + reply.length;
  }

  /** Copies `reply` into the last chunk (a new one when it does not fit); returns its offset there. */
  append(reply: Buffer): number {
    const n = reply.length;
    if (n > CHUNK) throw new RangeError(`a ${n}-byte datagram does not fit a dedup chunk`);
    if (this.used + n > CHUNK) {
      this.chunks.push(Buffer.allocUnsafeSlow(CHUNK));
      this.used = 0;
    }
    const offset = this.used;
    reply.copy(this.chunks[this.chunks.length - 1]!, offset);
    this.used += n;
    this.bytes += n;
    return offset;
  }

  load(located: number): Buffer {
    const index = Math.floor(located / SHIFT_CHUNK);
    const rest = located - index * SHIFT_CHUNK;
    const offset = Math.floor(rest / SHIFT_OFFSET);
    return this.chunks[index]!.subarray(offset, offset + (rest - offset * SHIFT_OFFSET));
  }

  /** Entry `e`'s reply or pending exchange. */
  get(e: number): DedupEntry {
    const located = this.located[e]!;
    if (located !== NO_REPLY) return this.load(located);
    const v = this.pending[e]!;
    if (v instanceof ExchangeMarker && v.chunk !== undefined) return v.chunk.subarray(v.offset, v.offset + v.length);
    return v;
  }
}

export class DedupCache {
  private young: Generation;
  private old: Generation;
  private rotatedAt: number;
  private readonly half: number;
  private readonly halfBytes: number;
  /** The last key hashed and its hash: `set` usually follows `get` with the same string. */
  private lastKey = '';
  private lastHash = hashString('');

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
    this.young = new Generation(this.half);
    this.old = new Generation(this.half);
  }

  private hash(key: string): number {
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastHash = hashString(key);
    }
    return this.lastHash;
  }

  /** The reply (a view of the arena: send it, do not keep it) or the pending exchange. */
  get(key: string): DedupEntry | undefined {
    const h = this.hash(key);
    let e = this.young.find(key, h);
    if (e >= 0) return this.young.get(e);
    e = this.old.find(key, h);
    return e >= 0 ? this.old.get(e) : undefined;
  }

  set(key: string, value: DedupEntry): void {
    const h = this.hash(key);
    let young = this.young;
    const e = young.find(key, h);
    if (e >= 0) {
      young.put(e, value);
      return;
    }
    if (young.full || young.bytes >= this.halfBytes) {
      this.rotateNow();
      young = this.young;
    }
    young.add(key, h, value);
  }

  /** Remembers `key` as an exchange in progress; its reply comes later through {@link complete}. */
  pending(key: string): ExchangeMarker {
    const marker = new ExchangeMarker();
    this.set(key, marker);
    return marker;
  }

  /**
   * The reply of an exchange remembered by {@link pending}: kept in the young arena and
   * found through the marker, wherever the marker is now (a rotation may have aged it).
   */
  complete(marker: ExchangeMarker, reply: Buffer): void {
    if (this.young.bytes >= this.halfBytes) this.rotateNow();
    const gen = this.young;
    marker.offset = gen.append(reply);
    marker.chunk = gen.chunks[gen.chunks.length - 1];
    marker.length = reply.length;
  }

  get size(): number {
    return this.young.count + this.old.count;
  }

  /** Called by the periodic sweep; rotates once `lifetimeMs` has passed since the last rotation. */
  sweep(now: number): void {
    if (now - this.rotatedAt >= this.lifetimeMs) {
      this.rotateNow();
      this.rotatedAt = now;
    }
  }

  clear(): void {
    this.young = new Generation(this.half);
    this.old = new Generation(this.half);
  }

  private rotateNow(): void {
    // The arrays of the generation dropped are cleared and reused: nothing new per rotation.
    const dropped = this.old;
    this.old = this.young;
    this.young = new Generation(this.half, dropped);
  }
}
