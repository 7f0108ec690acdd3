/**
 * The firmware repository: SUIT envelopes (and their images) verified against the server's
 * trust policy before they are accepted, stored by SHA-256 in the data directory, and
 * handed out as shared Buffers for the CoAP route `/fw/<digest>`.
 *
 * Nothing inside a signed envelope is rewritten: the image URI in the manifest is the one
 * devices use. A relative reference `/fw/<image digest>` resolves, on the device, against
 * the URI it fetched the envelope from — so one signed manifest works on any server that
 * holds the image.
 *
 * Memory: loaded files live in one LRU bounded by total bytes and shared by every device;
 * a download never copies a file (the CoAP endpoint slices Block2 blocks with `subarray`).
 *
 * Crash safety: files are written atomically before the metadata row commits; removal
 * deletes the row first. Files that no row references (a crash in between) are removed
 * when the repository opens.
 */
import { LRUCache } from 'lru-cache';
import { isLwm2mFotaError, Lwm2mFotaError } from '../../errors';
import type { EventInput } from '../../events';
import type { FirmwareStore, StoredFirmwareRecord } from '../../store/types';
import {
  checkImage,
  formatUuid,
  isRelativeReference,
  SuitTextComponentKey,
  SuitTextKey,
  verifyEnvelope,
  type SuitComponentSummary,
  type SuitPolicy,
  type SuitText,
  type SuitVerifiedEnvelope,
} from '../../suit';
import { BlobFiles, BlobTooLargeError, sha256Hex } from './blob-files';
import { FIRMWARE_PATH_PREFIX, firmwarePath, isFirmwareId } from './firmware-id';
import type { FirmwareImage, FirmwareImageLocation, FirmwareRecord } from './types';

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

interface PlannedImage {
  image: FirmwareImage;
  /** Where the bytes come from when the file is not stored yet. */
  source?: { kind: 'bytes'; bytes: Uint8Array } | { kind: 'staged' };
}

/** Why an envelope was refused, besides the SUIT verification codes. */
export type FirmwareRejection = 'tooLarge' | 'imageUri';

/**
 * ERR_FOTA_FIRMWARE_REJECTED. A SUIT failure carries its code first in the message and as
 * `context.suitCode`; every rejection says why in `context.reason` (the SUIT code, or
 * 'tooLarge' / 'imageUri').
 */
function rejected(message: string, reason: string, cause?: unknown): Lwm2mFotaError {
  const suit = reason.startsWith('ERR_SUIT_');
  return new Lwm2mFotaError('ERR_FOTA_FIRMWARE_REJECTED', suit ? `${reason}: ${message}` : message, {
    ...(cause === undefined ? {} : { cause }),
    context: suit ? { reason, suitCode: reason } : { reason },
  });
}

function numberOrText(v: number | bigint): number | string {
  if (typeof v === 'number') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

function uuidOrHex(b: Uint8Array | undefined): string | null {
  if (b === undefined) return null;
  return b.length === 16 ? formatUuid(b) : hex(b);
}

function sameId(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.compare(Buffer.from(x), Buffer.from(b[i]!)) === 0);
}

/** The version a manifest's text announces for a component (suit-text-component-version), first language that has one. */
function versionOf(text: SuitText | undefined, component: SuitComponentSummary | undefined): string | null {
  if (!text) return null;
  for (const lang of text) {
    const c = (component && lang.components.find((x) => sameId(x.id, component.id))) ?? lang.components[0];
    const v = c?.fields.find(([k]) => k === SuitTextComponentKey.ComponentVersion)?.[1];
    if (v !== undefined) return v;
  }
  return null;
}

function descriptionOf(text: SuitText | undefined): string | null {
  for (const lang of text ?? []) {
    const v = lang.fields.find(([k]) => k === SuitTextKey.ManifestDescription)?.[1];
    if (v !== undefined) return v;
  }
  return null;
}

/**
 * The image digest named by a URI in this repository's namespace: `/fw/<sha256 hex>`, as a
 * relative reference or as the path of an absolute URI. Undefined for anything else.
 */
export function repositoryDigestOf(uri: string): string | undefined {
  let path: string;
  if (isRelativeReference(uri)) path = uri;
  else {
    try {
      const u = new URL(uri);
      if (u.search !== '' || u.hash !== '') return undefined;
      path = u.pathname;
    } catch {
      return undefined;
    }
  }
  if (!path.startsWith(FIRMWARE_PATH_PREFIX)) return undefined;
  const d = path.slice(FIRMWARE_PATH_PREFIX.length);
  return isFirmwareId(d) ? d : undefined;
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
  /** Served files by digest: envelopes and stored images. */
  readonly #blobs = new Map<string, BlobInfo>();
  readonly #cache: LRUCache<string, Buffer>;
  readonly #loading = new Map<string, Promise<Buffer>>();
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
    // Shared by every device: bounded by total bytes, least recently used evicted first.
    this.#cache = new LRUCache<string, Buffer>({ maxSize: this.cacheBytes, sizeCalculation: (b) => Math.max(1, b.length) });
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
      this.#ref(row.id, row.id, row.size);
      for (const img of record.images) if (img.stored && img.digest !== null) this.#ref(img.digest, row.id, img.size ?? 0);
    }
    for (const digest of await this.#files.list()) {
      if (!this.#blobs.has(digest)) {
        // Written before a crash took the metadata, or left behind by an interrupted remove.
        await this.#files.remove(digest);
      }
    }
    for (const [digest, info] of this.#blobs) {
      if (!(await this.#files.has(digest, info.size))) this.#log(`firmware: file ${digest} is missing or has the wrong size in ${this.#files.dir}`);
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
    const iterable: AsyncIterable<Uint8Array> =
      source instanceof Uint8Array
        ? (async function* one() {
            yield source;
          })()
        : source;
    try {
      return await this.#files.stage(iterable, this.maxFileBytes, expectedDigest);
    } catch (err) {
      if (err instanceof BlobTooLargeError) throw rejected(`the image is larger than ${err.limit} bytes`, 'tooLarge');
      if (isLwm2mFotaError(err, 'ERR_SUIT_IMAGE_DIGEST')) throw rejected(err.message, err.code, err);
      throw err;
    }
  }

  async #add(envelopeIn: Uint8Array, image: Uint8Array | undefined): Promise<FirmwareRecord> {
    const policy = this.#options.policy;
    if (policy === undefined) {
      throw new Lwm2mFotaError(
        'ERR_FOTA_TRUST_NOT_CONFIGURED',
        'the server has no trust anchors: start it with --trust <pub.pem> or --policy <file> (nothing unverified reaches a device)',
      );
    }
    if (envelopeIn.length > this.maxFileBytes) throw rejected(`the envelope is larger than ${this.maxFileBytes} bytes`, 'tooLarge');
    if (image !== undefined && image.length > this.maxFileBytes) throw rejected(`the image is larger than ${this.maxFileBytes} bytes`, 'tooLarge');
    // Our own copy: the caller's buffer may be reused or mutated after we return.
    const envelope = Buffer.from(envelopeIn);
    let verified: SuitVerifiedEnvelope;
    try {
      verified = verifyEnvelope(envelope, policy);
    } catch (err) {
      if (isLwm2mFotaError(err) && err.code.startsWith('ERR_SUIT_')) throw rejected(err.message, err.code, err);
      throw err;
    }
    const id = sha256Hex(envelope);
    const imageDigest = image === undefined ? undefined : sha256Hex(image);
    const existing = this.#records.get(id);
    if (existing) {
      if (image !== undefined) this.#matchSupplied(verified.components, image, imageDigest!);
      return existing;
    }

    // A supplied image that is not the manifest's is an error in its own right, whatever else is missing.
    if (image !== undefined) this.#matchSupplied(verified.components, image, imageDigest!);
    const planned: PlannedImage[] = [];
    for (const c of verified.components) planned.push(await this.#plan(c, verified, image, imageDigest));

    // Files first (atomic each), then the row: a crash in between leaves only unreferenced
    // files, which the next start removes.
    await this.#files.write(id, envelope);
    const written = new Set<string>();
    for (const p of planned) {
      const d = p.image.digest;
      if (p.source === undefined || d === null || written.has(d)) continue;
      if (p.source.kind === 'bytes') await this.#files.write(d, p.source.bytes);
      else await this.#files.promote(d);
      written.add(d);
    }

    const images = planned.map((p) => p.image);
    const first = images[0];
    const record: FirmwareRecord = {
      id,
      uri: firmwarePath(id),
      size: envelope.length,
      version: versionOf(verified.text, verified.components[0]),
      sequenceNumber: numberOrText(verified.sequenceNumber),
      vendorId: uuidOrHex(verified.components.find((c) => c.vendorId)?.vendorId),
      classId: uuidOrHex(verified.components.find((c) => c.classId)?.classId),
      description: descriptionOf(verified.text),
      images,
      payload: first?.stored && first.digest !== null ? { digest: first.digest, size: first.size ?? 0, uri: firmwarePath(first.digest) } : null,
      signers: verified.signers,
      addedAt: new Date(this.#now()).toISOString(),
    };
    const blobs = [...new Set(images.filter((i) => i.stored && i.digest !== null).map((i) => i.digest!))];
    const row: StoredFirmwareRecord = {
      id,
      size: record.size,
      sequenceNumber: String(record.sequenceNumber),
      ...(record.version === null ? {} : { version: record.version }),
      ...(record.vendorId === null ? {} : { vendorId: record.vendorId }),
      ...(record.classId === null ? {} : { classId: record.classId }),
      blobs,
      details: record as unknown as Record<string, unknown>,
      addedAt: this.#now(),
    };
    await this.#options.store.put(row);
    this.#records.set(id, record);
    this.#ref(id, id, record.size);
    for (const img of images) if (img.stored && img.digest !== null) this.#ref(img.digest, id, img.size ?? 0);
    // The envelope was just in hand: serve it without reading it back.
    this.#cache.set(id, envelope);
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

  /** Decides where a component's image comes from, and whether we have (or get) its bytes. */
  async #plan(c: SuitComponentSummary, v: SuitVerifiedEnvelope, supplied: Uint8Array | undefined, suppliedDigest: string | undefined): Promise<PlannedImage> {
    const digest = c.imageDigest && c.imageDigest.alg === -16 && c.imageDigest.bytes.length === 32 ? hex(c.imageDigest.bytes) : null;
    const size = c.imageSize === undefined ? null : Number(c.imageSize);
    const uri = c.uri ?? c.uris[0] ?? null;
    const base = { component: c.index, componentId: c.id.map(hex), digest, size, uri };
    const where = `component ${c.index}`;

    let location: FirmwareImageLocation;
    if (uri === null) location = 'none';
    else if (uri.startsWith('#')) location = 'integrated';
    else if (repositoryDigestOf(uri) !== undefined) location = 'repository';
    else if (isRelativeReference(uri)) {
      // A device resolves it against the envelope's URI on this server, where only
      // /fw/<digest> exists: the download would fail on every device.
      throw rejected(`${where}: the relative image URI "${uri}" is not /fw/<image sha-256>, which is all this server serves`, 'imageUri');
    } else location = 'external';

    if (location === 'repository') {
      const named = repositoryDigestOf(uri!)!;
      if (digest === null) throw rejected(`${where}: the image URI names this repository but the manifest gives no SHA-256 image digest to check it against`, 'ERR_SUIT_IMAGE_DIGEST');
      if (named !== digest) throw rejected(`${where}: the image URI ${uri} does not name the manifest's image digest ${digest}`, 'imageUri');
    }

    if (location === 'integrated') {
      const payload = v.envelope.integratedPayloads.find((p) => p.key === uri);
      if (!payload) {
        throw new Lwm2mFotaError('ERR_FOTA_IMAGE_MISSING', `${where}: the manifest names the integrated payload "${uri}", which the envelope does not carry`, {
          context: { component: c.index, uri: uri! },
        });
      }
      // verifyEnvelope checked it against the image digest when the manifest gives one.
      if (digest === null) return { image: { ...base, location, stored: false } };
      if (this.#blobs.has(digest)) return { image: { ...base, location, stored: true } };
      return { image: { ...base, location, stored: true }, source: { kind: 'bytes', bytes: payload.bytes } };
    }

    if (digest === null) return { image: { ...base, location, stored: false } };
    if (this.#blobs.has(digest)) return { image: { ...base, location, stored: true } };
    if (supplied !== undefined && suppliedDigest === digest) {
      checkImageOrReject(supplied, c);
      return { image: { ...base, location, stored: true }, source: { kind: 'bytes', bytes: Buffer.from(supplied) } };
    }
    const staged = await this.#files.stagedSize(digest);
    if (staged !== undefined) {
      if (size !== null && staged !== size) throw rejected(`${where}: the staged image has ${staged} bytes, the manifest says ${size}`, 'ERR_SUIT_IMAGE_DIGEST');
      return { image: { ...base, location, stored: true }, source: { kind: 'staged' } };
    }
    if (location === 'repository') {
      throw new Lwm2mFotaError(
        'ERR_FOTA_IMAGE_MISSING',
        `${where}: the manifest fetches its image from this repository (${uri}); give the image (sha-256 ${digest}${size === null ? '' : `, ${size} bytes`}) with --image`,
        { context: { component: c.index, imageDigest: digest } },
      );
    }
    return { image: { ...base, location, stored: false } };
  }

  /** A supplied image must be the image of some component; with one candidate, say what differs. */
  #matchSupplied(components: SuitComponentSummary[], image: Uint8Array, digest: string): void {
    const withDigest = components.filter((c) => c.imageDigest !== undefined);
    if (withDigest.some((c) => hex(c.imageDigest!.bytes) === digest)) {
      for (const c of withDigest) if (hex(c.imageDigest!.bytes) === digest) checkImageOrReject(image, c);
      return;
    }
    if (withDigest.length === 1) checkImageOrReject(image, withDigest[0]!);
    throw rejected(`the image (sha-256 ${digest}) is not the image of any component of the manifest`, 'ERR_SUIT_IMAGE_DIGEST');
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
    return this.#blobs.has(digest);
  }

  /** The loaded file when it is in memory (the CoAP hot path: no Promise, no copy). */
  peek(digest: string): Buffer | undefined {
    return this.#cache.get(digest);
  }

  /**
   * A served file as one shared Buffer (never copy or mutate it): from the LRU, else read
   * once — concurrent callers share the same read — checked against its digest and cached.
   *
   * @throws Lwm2mFotaError ERR_FOTA_FIRMWARE_NOT_FOUND for a digest the repository does not
   *   serve; ERR_STORE_READ when the file is missing or does not match its digest.
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
    return { entries: this.#cache.size, bytes: this.#cache.calculatedSize, maxBytes: this.cacheBytes };
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
      const digests = [id, ...record.images.filter((i) => i.stored && i.digest !== null).map((i) => i.digest!)];
      for (const d of digests) {
        const info = this.#blobs.get(d);
        if (!info) continue;
        info.refs.delete(id);
        if (info.refs.size > 0) continue;
        this.#blobs.delete(d);
        this.#cache.delete(d);
        await this.#files.remove(d).catch((err: unknown) => this.#log(`firmware: cannot delete ${d}: ${(err as Error).message}`));
      }
      await this.#publish({ type: 'firmwareRemoved', data: { id, version: record.version, sequenceNumber: record.sequenceNumber } });
      this.#log(`firmware removed ${id}`);
      return record;
    });
  }

  // ---------------------------------------------------------------------------------------

  #ref(digest: string, id: string, size: number): void {
    let info = this.#blobs.get(digest);
    if (!info) this.#blobs.set(digest, (info = { size, refs: new Set() }));
    info.refs.add(id);
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

function checkImageOrReject(image: Uint8Array, c: SuitComponentSummary): void {
  try {
    checkImage(image, c);
  } catch (err) {
    if (isLwm2mFotaError(err)) throw rejected(`component ${c.index}: ${err.message}`, err.code, err);
    throw err;
  }
}
