/**
 * The device's flash: two slots (A runs, B receives the next image) and a writer that
 * fills slot B as blocks arrive, refusing anything beyond the slot's capacity.
 */

/** One firmware slot: the image bytes and what the device knows about them. */
export interface FirmwareSlot {
  /** The image (the device's factory image has none: it was never downloaded). */
  readonly image: Buffer | undefined;
  readonly version: string;
  /** The SUIT sequence number that installed it (0 for the factory image). */
  readonly sequenceNumber: number;
  /** SHA-256 of the image, hex, when known. */
  readonly digest: string | undefined;
}

/** Thrown by `FlashWriter` when a write would pass the slot's end. */
export class FlashFullError extends Error {
  override readonly name = 'FlashFullError';
  constructor(readonly capacity: number) {
    super(`the package does not fit the ${capacity}-byte slot`);
  }
}

/**
 * Writes a package into a slot block by block, at increasing offsets. With a known total
 * size the buffer is allocated once; otherwise it grows by doubling, never past `capacity`.
 */
export class FlashWriter {
  private buf: Buffer;
  private length = 0;

  constructor(
    readonly capacity: number,
    expectedSize?: number,
  ) {
    if (expectedSize !== undefined && expectedSize > capacity) throw new FlashFullError(capacity);
    this.buf = Buffer.allocUnsafe(Math.min(capacity, expectedSize ?? Math.min(capacity, 4096)));
  }

  /** Bytes written so far (the offset the next block starts at). */
  get size(): number {
    return this.length;
  }

  /** Writes `data` at `offset` (≤ the current size: a repeated block overwrites). */
  write(offset: number, data: Buffer): void {
    const end = offset + data.length;
    if (end > this.capacity) throw new FlashFullError(this.capacity);
    if (end > this.buf.length) {
      let n = Math.max(this.buf.length, 1024);
      while (n < end) n *= 2;
      const next = Buffer.allocUnsafe(Math.min(n, this.capacity));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    data.copy(this.buf, offset);
    if (end > this.length) this.length = end;
  }

  /** The bytes written (a view, no copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}
