/**
 * The firmware repository: SUIT envelopes (and their images) verified against the server's
 * trust policy before they are accepted, stored by SHA-256 in the data directory, and
 * handed out as shared Buffers for the CoAP route `/fw/<digest>`.
 *
 * This file is the facade: records, load, add / remove one at a time, events. How an
 * envelope is admitted is `add-pipeline.ts`; what a record says, `firmware-record.ts`; the
 * shared in-memory cache of served files, `shared-file-cache.ts`; the files on disk,
 * `blob-files.ts`.
 *
 * Crash safety: files are written atomically before the metadata row commits; removal
 * deletes the row first. Files that no row references (a crash in between) are removed
 * when the repository opens.
 */
import { Lwm2mFotaError } from '../../errors';
import type { EventInput } from '../../events';
import type { FirmwareStore } from '../../store/types';
import type { SuitPolicy } from '../../suit';
import { matchSupplied, planImage, stageOrReject, verifyForAdd, writePlannedFiles, type PlannedImage } from './add-pipeline';
import { BlobFiles } from './blob-files';
import { firmwareRecordOf, storedImageDigests, storedRowOf } from './firmware-record';
import { SharedFileCache, type FirmwareCacheStats } from './shared-file-cache';
import type { FirmwareImage, FirmwareRecord } from './types';

/** Where the repository publishes `firmwareAdded` / `firmwareRemoved` (the server's EventBus). */
export interface FirmwareEventSink {
  // A property, not a method: its parameter is then checked strictly (no bivariance).
  readonly publish: (event: FirmwareEvent) => Promise<unknown>;
}

/** The events the repository publishes. */
export type FirmwareEvent = EventInput<'firmwareAdded' | 'firmwareRemoved'>;

export interface FirmwareRepositoryOptions {
  /** Files go to `<dataDir>/firmware`. */
  readonly dataDir: string;
  readonly store: FirmwareStore;
  /** The trust policy envelopes must pass; undefined = no trust configured, every add is refused. */
  readonly policy: SuitPolicy | undefined;
  readonly events?: FirmwareEventSink;
  /** Upper bound on the bytes of loaded files kept in memory (default 128 MiB). */
  readonly cacheBytes?: number;
  /** Largest envelope or image accepted (default 32 MiB, at most `cacheBytes`). */
  readonly maxFileBytes?: number;
  /**
   * Whether an update job uses the firmware; `remove` refuses then (ERR_FOTA_FIRMWARE_IN_USE).
   * Default: never.
   */
  readonly isInUse?: (id: string) => boolean | Promise<boolean>;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

/**
 * Opens the repository in `<dataDir>/firmware` with its metadata from `store`.
 *
 * @throws Lwm2mFotaError ERR_STORE_OPEN when the directory cannot be prepared; ERR_STORE_READ.
 */
export async function openFirmwareRepository(options: FirmwareRepositoryOptions): Promise<FirmwareRepository> {
  const repo = new FirmwareRepository(options);
  await repo.load();
  return repo;
}

export class FirmwareRepository {
  readonly #options: FirmwareRepositoryOptions;
  readonly #files: BlobFiles;
  readonly #records = new Map<string, FirmwareRecord>();
  /** Served files by digest (envelopes and stored images) and the LRU of loaded ones. */
  readonly #served: SharedFileCache;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly cacheBytes: number;
  /** Largest envelope or image accepted. */
  readonly maxFileBytes: number;
  /** Adds and removes run one at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  /** Use {@link openFirmwareRepository}. */
  constructor(options: FirmwareRepositoryOptions) {
    this.#options = options;
    this.#files = new BlobFiles(`${options.dataDir.replace(/\/+$/, '')}/firmware`);
    this.cacheBytes = Math.max(1, options.cacheBytes ?? 128 * 1024 * 1024);
    this.maxFileBytes = Math.min(options.maxFileBytes ?? 32 * 1024 * 1024, this.cacheBytes);
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#served = new SharedFileCache(this.#files, this.cacheBytes);
  }

  /** True when a trust policy is configured (else every add is refused). */
  get trustConfigured(): boolean {
    return this.#options.policy !== undefined;
  }

  /** The directory holding the files. */
  get directory(): string {
    return this.#files.dir;
  }

  /** @internal Loads records and removes unreferenced files. Called by openFirmwareRepository. */
  async load(): Promise<void> {
    await this.#files.init();
    for (const row of await this.#options.store.list()) {
      const record = row.details as unknown as FirmwareRecord;
      this.#records.set(row.id, record);
      this.#refFiles(row.id, row.size, record.images);
    }
    for (const digest of await this.#files.list()) {
      if (!this.#served.serves(digest)) {
        // Written before a crash took the metadata, or left behind by an interrupted remove.
        await this.#files.remove(digest);
      }
    }
    for (const [digest, size] of this.#served.sizes()) {
      if (!(await this.#files.has(digest, size))) this.#log(`firmware: file ${digest} is missing or has the wrong size in ${this.#files.dir}`);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Adding

  /**
   * Verifies an envelope against the trust policy and adds it, with its image when the
   * manifest fetches the image from this repository (`/fw/<image digest>`): given here, or
   * staged before with `stageImage`, or already stored for another firmware. An image for
   * an external URI is optional (stored when given, so that payload-only delivery works).
   * Adding the same envelope again returns the stored record.
   *
   * @throws Lwm2mFotaError
   *   ERR_FOTA_TRUST_NOT_CONFIGURED (no --trust / --policy: nothing unverifiable reaches a device);
   *   ERR_FOTA_FIRMWARE_REJECTED with the SUIT code first in the message and as `context.suitCode`
   *   (signature, structure, policy; ERR_SUIT_IMAGE_DIGEST for an image that does not match;
   *   a relative image URI this server does not serve; too large);
   *   ERR_FOTA_IMAGE_MISSING (the manifest fetches its image from this repository, or names an
   *   integrated payload, and the image is not there);
   *   ERR_STORE_WRITE.
   */
  add(envelope: Uint8Array, image?: Uint8Array): Promise<FirmwareRecord> {
    return this.#serial(() => this.#add(envelope, image));
  }

  /**
   * Stores an image ahead of its envelope (REST: `PUT /api/firmware/images/<sha256>`). A
   * staged image is never served; the next `add` whose manifest names its digest takes it.
   * Staged images that no envelope claimed are dropped when the server restarts.
   *
   * @throws Lwm2mFotaError ERR_FOTA_FIRMWARE_REJECTED (larger than `maxFileBytes`, or its
   *   SHA-256 is not `expectedDigest`), ERR_STORE_WRITE.
   */
  async stageImage(source: AsyncIterable<Uint8Array> | Uint8Array, expectedDigest?: string): Promise<{ digest: string; size: number }> {
    return stageOrReject(this.#files, source, this.maxFileBytes, expectedDigest);
  }

  async #add(envelopeIn: Uint8Array, image: Uint8Array | undefined): Promise<FirmwareRecord> {
    const { envelope, verified, id, imageDigest } = verifyForAdd(this.#options.policy, this.maxFileBytes, envelopeIn, image);
    const existing = this.#records.get(id);
    if (existing) {
      if (image !== undefined) matchSupplied(verified.components, image, imageDigest!);
      return existing;
    }

    // A supplied image that is not the manifest's is an error in its own right, whatever else is missing.
    if (image !== undefined) matchSupplied(verified.components, image, imageDigest!);
    const ctx = { serves: (d: string) => this.#served.serves(d), stagedSize: (d: string) => this.#files.stagedSize(d) };
    const planned: PlannedImage[] = [];
    for (const c of verified.components) planned.push(await planImage(c, verified, image, imageDigest, ctx));

    // Files first (atomic each), then the row: a crash in between leaves only unreferenced
    // files, which the next start removes.
    await writePlannedFiles(this.#files, id, envelope, planned);

    const record = firmwareRecordOf(id, envelope.length, verified, planned.map((p) => p.image), this.#now());
    await this.#options.store.put(storedRowOf(record, this.#now()));
    this.#records.set(id, record);
    this.#refFiles(id, record.size, record.images);
    // The envelope was just in hand: serve it without reading it back.
    this.#served.remember(id, envelope);
    await this.#publish({
      type: 'firmwareAdded',
      data: {
        id,
        version: record.version,
        sequenceNumber: record.sequenceNumber,
        vendorId: record.vendorId,
        classId: record.classId,
        size: record.size,
        uri: record.uri,
        payloadUri: record.payload?.uri ?? null,
      },
    });
    this.#log(`firmware added ${id} version ${record.version ?? '-'} sequence ${record.sequenceNumber}`);
    return record;
  }

  // ---------------------------------------------------------------------------------------
  // Reading

  get(id: string): FirmwareRecord | undefined {
    return this.#records.get(id);
  }

  /** The record, or ERR_FOTA_FIRMWARE_NOT_FOUND. */
  require(id: string): FirmwareRecord {
    const r = this.#records.get(id);
    if (!r) throw new Lwm2mFotaError('ERR_FOTA_FIRMWARE_NOT_FOUND', `no firmware ${id}`, { context: { firmware: id } });
    return r;
  }

  /** Every firmware, oldest first. */
  list(): FirmwareRecord[] {
    return [...this.#records.values()];
  }

  /** Whether `/fw/<digest>` is served (an accepted envelope, or a stored image of one). */
  serves(digest: string): boolean {
    return this.#served.serves(digest);
  }

  /** The loaded file when it is in memory (the CoAP hot path: no Promise, no copy). */
  peek(digest: string): Buffer | undefined {
    return this.#served.peek(digest);
  }

  /**
   * A served file as one shared Buffer (never copy or mutate it): from the LRU, else read
   * once — concurrent callers share the same read — checked against its digest and cached.
   *
   * @throws Lwm2mFotaError ERR_FOTA_FIRMWARE_NOT_FOUND for a digest the repository does not
   *   serve; ERR_STORE_READ when the file is missing or does not match its digest.
   */
  open(digest: string): Promise<Buffer> {
    return this.#served.open(digest);
  }

  /** The envelope's bytes. @throws ERR_FOTA_FIRMWARE_NOT_FOUND, ERR_STORE_READ. */
  envelopeOf(id: string): Promise<Buffer> {
    this.require(id);
    return this.open(id);
  }

  /**
   * The manifest's payload alone (the first component's image), for devices that take raw
   * images; verified against the manifest's digest when it was added and on every read.
   *
   * @throws ERR_FOTA_FIRMWARE_NOT_FOUND; ERR_FOTA_IMAGE_MISSING when the repository does not
   *   hold the image (an external URI added without --image); ERR_STORE_READ.
   */
  payloadOf(id: string): Promise<Buffer> {
    const r = this.require(id);
    if (r.payload === null) {
      return Promise.reject(
        new Lwm2mFotaError('ERR_FOTA_IMAGE_MISSING', `firmware ${id} has no stored payload: add it again with --image to deliver the payload alone`, {
          context: { firmware: id },
        }),
      );
    }
    return this.open(r.payload.digest);
  }

  cacheStats(): FirmwareCacheStats {
    return this.#served.stats();
  }

  // ---------------------------------------------------------------------------------------
  // Removing

  /**
   * Removes a firmware: its row, then its envelope and every image no other firmware uses.
   *
   * @throws Lwm2mFotaError ERR_FOTA_FIRMWARE_NOT_FOUND, ERR_FOTA_FIRMWARE_IN_USE (an active
   *   update job uses it), ERR_STORE_WRITE.
   */
  remove(id: string): Promise<FirmwareRecord> {
    return this.#serial(async () => {
      const record = this.require(id);
      if (this.#options.isInUse && (await this.#options.isInUse(id))) {
        throw new Lwm2mFotaError('ERR_FOTA_FIRMWARE_IN_USE', `firmware ${id} is used by an active update job; cancel it first`, { context: { firmware: id } });
      }
      await this.#options.store.delete(id);
      this.#records.delete(id);
      for (const d of [id, ...storedImageDigests(record.images)]) {
        if (!this.#served.release(d, id)) continue;
        await this.#files.remove(d).catch((err: unknown) => this.#log(`firmware: cannot delete ${d}: ${(err as Error).message}`));
      }
      await this.#publish({ type: 'firmwareRemoved', data: { id, version: record.version, sequenceNumber: record.sequenceNumber } });
      this.#log(`firmware removed ${id}`);
      return record;
    });
  }

  // ---------------------------------------------------------------------------------------

  /** The envelope and every stored image of firmware `id` are served while it exists. */
  #refFiles(id: string, envelopeSize: number, images: readonly FirmwareImage[]): void {
    this.#served.ref(id, id, envelopeSize);
    for (const img of images) if (img.stored && img.digest !== null) this.#served.ref(img.digest, id, img.size ?? 0);
  }

  async #publish(event: FirmwareEvent): Promise<void> {
    if (!this.#options.events) return;
    try {
      await this.#options.events.publish(event);
    } catch (err) {
      // The change is committed; a lost event must not turn it into a failure.
      this.#log(`firmware: cannot publish ${event.type}: ${(err as Error).message}`);
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}
