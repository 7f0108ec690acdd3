/**
 * Server-side Block1 reassembly (RFC 7959 §2.5), keyed by peer + method + Uri-Path +
 * Request-Tag (RFC 9175 §3) — never by token: libcoap, Anjay and Zephyr send a new token
 * for every block, which RFC 7959 §2.4 allows.
 *
 * Bounded three ways: bytes per transfer (the route's `maxPayloadBytes`, answered with 4.13
 * and Size1), concurrent transfers (`maxEntries`, the least recently active one is dropped)
 * and total buffered bytes; an idle transfer is dropped by the endpoint's periodic sweep.
 */
import type { BlockValue } from './message';

export type Block1Outcome =
  /** More blocks expected: answer 2.31 Continue with Block1 (num, M=1, szx). */
  | { readonly kind: 'continue'; readonly num: number; readonly szx: number }
  /** The last block arrived: hand `payload` to the handler, echo Block1 (num, M=0, szx). */
  | { readonly kind: 'complete'; readonly payload: Buffer; readonly num: number; readonly szx: number }
  /** Answer `code`; with 4.13 also Size1 = `size1`. */
  | { readonly kind: 'error'; readonly code: string; readonly message: string; readonly size1?: number };

interface Transfer {
  chunks: Buffer[];
  /** Bytes received so far (the offset the next block must start at). */
  received: number;
  /** Offset and length of the last accepted block, to recognise a repeat of it. */
  lastOffset: number;
  lastLength: number;
  touched: number;
}

export interface Block1ReceiverOptions {
  readonly maxEntries: number;
  readonly maxTotalBytes: number;
  readonly idleTimeoutMs: number;
  /** The largest SZX this endpoint accepts; a larger block is taken, and the answer asks for this size from then on (late negotiation, RFC 7959 §2.5). */
  readonly maxSzx: number;
}

export class Block1Receiver {
  private readonly transfers = new Map<string, Transfer>();
  private totalBytes = 0;

  constructor(private readonly options: Block1ReceiverOptions) {}

  get size(): number {
    return this.transfers.size;
  }

  get bufferedBytes(): number {
    return this.totalBytes;
  }

  /**
   * Takes one Block1 datagram. `limit` is the route's maximum reassembled size; `size1` the
   * Size1 option the client sent (its announced total), if any.
   */
  offer(key: string, block: BlockValue, payload: Buffer, size1: number | undefined, limit: number, now: number): Block1Outcome {
    const replySzx = Math.min(block.szx, this.options.maxSzx);
    // RFC 7959 §4: Size1 in a request lets the server reject the transfer up front (4.13 + Size1).
    if (size1 !== undefined && size1 > limit) {
      this.drop(key);
      return { kind: 'error', code: '4.13', message: `announced size ${size1} exceeds ${limit}`, size1: limit };
    }
    // RFC 7959 §2.2: with M set, the payload is exactly one block.
    if (block.more && payload.length !== block.size) {
      this.drop(key);
      return { kind: 'error', code: '4.00', message: `block ${block.num} has ${payload.length} bytes, not ${block.size}` };
    }
    const offset = block.num * block.size;
    let t = this.transfers.get(key);
    if (block.num === 0) {
      // A new transfer (or a restart, e.g. after 4.13 with a smaller size) replaces any older one.
      if (t) this.drop(key);
      t = undefined;
      if (payload.length > limit) {
        return { kind: 'error', code: '4.13', message: `payload exceeds ${limit}`, size1: limit };
      }
      if (!block.more) return { kind: 'complete', payload, num: 0, szx: replySzx };
    } else if (!t) {
      return { kind: 'error', code: '4.08', message: `block ${block.num} without a transfer in progress` };
    } else if (offset !== t.received) {
      if (offset === t.lastOffset && payload.length === t.lastLength && block.more) {
        // The same block again under a new message id (our 2.31 got lost and the client re-sent it).
        t.touched = now;
        return { kind: 'continue', num: block.num, szx: replySzx };
      }
      this.drop(key);
      return { kind: 'error', code: '4.08', message: `block ${block.num} at offset ${offset}, expected offset ${t.received}` };
    }
    const received = (t ? t.received : 0) + payload.length;
    if (received > limit) {
      this.drop(key);
      return { kind: 'error', code: '4.13', message: `payload exceeds ${limit}`, size1: limit };
    }
    if (!block.more) {
      // Last block: t exists (num > 0 here).
      const tr = t as Transfer;
      tr.chunks.push(payload);
      const whole = Buffer.concat(tr.chunks, received);
      this.drop(key);
      return { kind: 'complete', payload: whole, num: block.num, szx: replySzx };
    }
    if (!t) {
      t = { chunks: [], received: 0, lastOffset: 0, lastLength: 0, touched: now };
      this.transfers.set(key, t);
      this.evictBeyondCount();
    } else {
      // Most recently active last (Map order): eviction takes the stalest first.
      this.transfers.delete(key);
      this.transfers.set(key, t);
    }
    // The datagram buffer is not reused by node:dgram, so keeping a view of it is safe.
    t.chunks.push(payload);
    t.lastOffset = offset;
    t.lastLength = payload.length;
    t.received = received;
    t.touched = now;
    this.totalBytes += payload.length;
    this.evictBeyondBytes(key);
    return { kind: 'continue', num: block.num, szx: replySzx };
  }

  /** Drops transfers idle for longer than the idle timeout. */
  sweep(now: number): void {
    for (const [key, t] of this.transfers) {
      if (now - t.touched < this.options.idleTimeoutMs) break; // Map order = activity order
      this.drop(key);
    }
  }

  clear(): void {
    this.transfers.clear();
    this.totalBytes = 0;
  }

  private drop(key: string): void {
    const t = this.transfers.get(key);
    if (!t) return;
    this.totalBytes -= t.received;
    this.transfers.delete(key);
  }

  private evictBeyondCount(): void {
    while (this.transfers.size > this.options.maxEntries) {
      const oldest = this.transfers.keys().next().value as string;
      this.drop(oldest);
    }
  }

  private evictBeyondBytes(current: string): void {
    if (this.totalBytes <= this.options.maxTotalBytes) return;
    for (const key of [...this.transfers.keys()]) {
      if (this.totalBytes <= this.options.maxTotalBytes) break;
      if (key !== current) this.drop(key);
    }
  }
}
