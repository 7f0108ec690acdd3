/**
 * The serving side of the firmware repository: which digests `/fw/<digest>` serves (and
 * which firmware keeps each file alive), and the one in-memory LRU of loaded files.
 *
 * Memory: loaded files live in one LRU bounded by total bytes and shared by every device;
 * a download never copies a file (the CoAP endpoint slices Block2 blocks with `subarray`).
 */
import { LRUCache } from 'lru-cache';
import { Lwm2mFotaError } from '../../errors';
import { sha256Hex, type BlobFiles } from './blob-files';

/** What the LRU of loaded files holds right now. */
export interface FirmwareCacheStats {
  entries: number;
  bytes: number;
  maxBytes: number;
}

interface BlobInfo {
  size: number;
  /** Firmware ids that keep the file alive. */
  refs: Set<string>;
}

/**
 * The served files by digest (envelopes and stored images), each read from disk at most once
 * at a time and then held as one shared Buffer until the LRU evicts it.
 */
export class SharedFileCache {
  readonly #files: BlobFiles;
  /** Served files by digest: envelopes and stored images. */
  readonly #blobs = new Map<string, BlobInfo>();
  readonly #cache: LRUCache<string, Buffer>;
  readonly #loading = new Map<string, Promise<Buffer>>();
  readonly #maxBytes: number;

  constructor(files: BlobFiles, maxBytes: number) {
    this.#files = files;
    this.#maxBytes = maxBytes;
    // Shared by every device: bounded by total bytes, least recently used evicted first.
    this.#cache = new LRUCache<string, Buffer>({ maxSize: maxBytes, sizeCalculation: (b) => Math.max(1, b.length) });
  }

  /** Firmware `id` keeps the file `digest` (of `size` bytes) served. */
  ref(digest: string, id: string, size: number): void {
    let info = this.#blobs.get(digest);
    if (!info) this.#blobs.set(digest, (info = { size, refs: new Set() }));
    info.refs.add(id);
  }

  /**
   * Firmware `id` lets go of `digest`. True when no firmware is left to keep it: it is no
   * longer served nor cached, and the caller deletes the file.
   */
  release(digest: string, id: string): boolean {
    const info = this.#blobs.get(digest);
    if (!info) return false;
    info.refs.delete(id);
    if (info.refs.size > 0) return false;
    this.#blobs.delete(digest);
    this.#cache.delete(digest);
    return true;
  }

  /** Every served digest with the size its record gives. */
  *sizes(): IterableIterator<[digest: string, size: number]> {
    for (const [digest, info] of this.#blobs) yield [digest, info.size];
  }

  /** Whether `/fw/<digest>` is served. */
  serves(digest: string): boolean {
    return this.#blobs.has(digest);
  }

  /** Caches bytes just in hand (an envelope being added), so they are served without a read. */
  remember(digest: string, bytes: Buffer): void {
    this.#cache.set(digest, bytes);
  }

  /** The loaded file when it is in memory (the CoAP hot path: no Promise, no copy). */
  peek(digest: string): Buffer | undefined {
    return this.#cache.get(digest);
  }

  /**
   * A served file as one shared Buffer (never copy or mutate it): from the LRU, else read
   * once — concurrent callers share the same read — checked against its digest and cached.
   *
   * @throws Lwm2mFotaError ERR_FOTA_FIRMWARE_NOT_FOUND for a digest that is not served;
   *   ERR_STORE_READ when the file is missing or does not match its digest.
   */
  open(digest: string): Promise<Buffer> {
    const hit = this.#cache.get(digest);
    if (hit !== undefined) return Promise.resolve(hit);
    const info = this.#blobs.get(digest);
    if (!info) return Promise.reject(new Lwm2mFotaError('ERR_FOTA_FIRMWARE_NOT_FOUND', `no firmware file ${digest}`, { context: { digest } }));
    let p = this.#loading.get(digest);
    if (p === undefined) {
      p = this.#read(digest).finally(() => this.#loading.delete(digest));
      this.#loading.set(digest, p);
    }
    return p;
  }

  async #read(digest: string): Promise<Buffer> {
    let buf: Buffer;
    try {
      buf = await this.#files.read(digest);
    } catch (err) {
      throw new Lwm2mFotaError('ERR_STORE_READ', `cannot read firmware file ${digest}: ${(err as Error).message}`, { cause: err, context: { digest } });
    }
    // A served URI promises these exact bytes: never hand out a file the disk corrupted.
    if (sha256Hex(buf) !== digest) {
      throw new Lwm2mFotaError('ERR_STORE_READ', `firmware file ${digest} does not match its digest (disk corruption?)`, { context: { digest } });
    }
    // Removed while it was being read: do not cache it again.
    if (this.#blobs.has(digest)) this.#cache.set(digest, buf);
    return buf;
  }

  stats(): FirmwareCacheStats {
    return { entries: this.#cache.size, bytes: this.#cache.calculatedSize, maxBytes: this.#maxBytes };
  }
}
