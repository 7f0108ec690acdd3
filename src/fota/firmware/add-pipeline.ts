/**
 * The way into the repository: an envelope is verified against the trust policy, each
 * component's image is located (this repository, integrated, external, none) and its bytes
 * checked against the manifest's digest, and only then are the files written. Every refusal
 * is one ERR_FOTA_FIRMWARE_REJECTED (or ERR_FOTA_IMAGE_MISSING) saying why.
 *
 * Nothing inside a signed envelope is rewritten: the image URI in the manifest is the one
 * devices use. A relative reference `/fw/<image digest>` resolves, on the device, against
 * the URI it fetched the envelope from — so one signed manifest works on any server that
 * holds the image.
 */
import { isLwm2mFotaError, Lwm2mFotaError } from '../../errors';
import { checkImage, isRelativeReference, verifyEnvelope, type SuitComponentSummary, type SuitPolicy, type SuitVerifiedEnvelope } from '../../suit';
import { BlobTooLargeError, sha256Hex, type BlobFiles } from './blob-files';
import { FIRMWARE_PATH_PREFIX, isFirmwareId } from './firmware-id';
import { hex } from './firmware-record';
import type { FirmwareImage, FirmwareImageLocation } from './types';

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

function checkImageOrReject(image: Uint8Array, c: SuitComponentSummary): void {
  try {
    checkImage(image, c);
  } catch (err) {
    if (isLwm2mFotaError(err)) throw rejected(`component ${c.index}: ${err.message}`, err.code, err);
    throw err;
  }
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

/** An envelope that passed the trust policy, in our own copy, with its id. */
export interface VerifiedAdd {
  envelope: Buffer;
  verified: SuitVerifiedEnvelope;
  /** SHA-256 of the envelope: the firmware id. */
  id: string;
  /** SHA-256 of the supplied image, when one is. */
  imageDigest: string | undefined;
}

/**
 * Checks sizes and verifies the envelope against `policy`.
 *
 * @throws Lwm2mFotaError ERR_FOTA_TRUST_NOT_CONFIGURED (no policy); ERR_FOTA_FIRMWARE_REJECTED
 *   (larger than `maxFileBytes`, or any SUIT verification failure, its code as `context.suitCode`).
 */
export function verifyForAdd(policy: SuitPolicy | undefined, maxFileBytes: number, envelopeIn: Uint8Array, image: Uint8Array | undefined): VerifiedAdd {
  if (policy === undefined) {
    throw new Lwm2mFotaError(
      'ERR_FOTA_TRUST_NOT_CONFIGURED',
      'the server has no trust anchors: start it with --trust <pub.pem> or --policy <file> (nothing unverified reaches a device)',
    );
  }
  if (envelopeIn.length > maxFileBytes) throw rejected(`the envelope is larger than ${maxFileBytes} bytes`, 'tooLarge');
  if (image !== undefined && image.length > maxFileBytes) throw rejected(`the image is larger than ${maxFileBytes} bytes`, 'tooLarge');
  // Our own copy: the caller's buffer may be reused or mutated after we return.
  const envelope = Buffer.from(envelopeIn);
  let verified: SuitVerifiedEnvelope;
  try {
    verified = verifyEnvelope(envelope, policy);
  } catch (err) {
    if (isLwm2mFotaError(err) && err.code.startsWith('ERR_SUIT_')) throw rejected(err.message, err.code, err);
    throw err;
  }
  return { envelope, verified, id: sha256Hex(envelope), imageDigest: image === undefined ? undefined : sha256Hex(image) };
}

/**
 * A supplied image must be the image of some component; with one candidate, say what differs.
 *
 * @throws Lwm2mFotaError ERR_FOTA_FIRMWARE_REJECTED (ERR_SUIT_IMAGE_DIGEST or the size code of `checkImage`).
 */
export function matchSupplied(components: SuitComponentSummary[], image: Uint8Array, digest: string): void {
  const withDigest = components.filter((c) => c.imageDigest !== undefined);
  if (withDigest.some((c) => hex(c.imageDigest!.bytes) === digest)) {
    for (const c of withDigest) if (hex(c.imageDigest!.bytes) === digest) checkImageOrReject(image, c);
    return;
  }
  if (withDigest.length === 1) checkImageOrReject(image, withDigest[0]!);
  throw rejected(`the image (sha-256 ${digest}) is not the image of any component of the manifest`, 'ERR_SUIT_IMAGE_DIGEST');
}

/** A component's image, and where its bytes come from when the file is not stored yet. */
export interface PlannedImage {
  image: FirmwareImage;
  source?: { kind: 'bytes'; bytes: Uint8Array } | { kind: 'staged' };
}

/** What planning asks of the repository: is a file served already, and is one staged. */
export interface PlanContext {
  serves(digest: string): boolean;
  stagedSize(digest: string): Promise<number | undefined>;
}

/**
 * Decides where a component's image comes from, and whether we have (or get) its bytes.
 *
 * @throws Lwm2mFotaError ERR_FOTA_FIRMWARE_REJECTED (a relative URI other than `/fw/<digest>`,
 *   a repository URI without or against the manifest's digest, a staged image of the wrong
 *   size, a supplied image that fails `checkImage`); ERR_FOTA_IMAGE_MISSING.
 */
export async function planImage(
  c: SuitComponentSummary,
  v: SuitVerifiedEnvelope,
  supplied: Uint8Array | undefined,
  suppliedDigest: string | undefined,
  ctx: PlanContext,
): Promise<PlannedImage> {
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
    if (ctx.serves(digest)) return { image: { ...base, location, stored: true } };
    return { image: { ...base, location, stored: true }, source: { kind: 'bytes', bytes: payload.bytes } };
  }

  if (digest === null) return { image: { ...base, location, stored: false } };
  if (ctx.serves(digest)) return { image: { ...base, location, stored: true } };
  if (supplied !== undefined && suppliedDigest === digest) {
    checkImageOrReject(supplied, c);
    return { image: { ...base, location, stored: true }, source: { kind: 'bytes', bytes: Buffer.from(supplied) } };
  }
  const staged = await ctx.stagedSize(digest);
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

/**
 * Writes the envelope and every planned image not stored yet (each atomically, once per
 * digest), staged images by moving them. @throws Lwm2mFotaError ERR_STORE_WRITE.
 */
export async function writePlannedFiles(files: BlobFiles, id: string, envelope: Buffer, planned: readonly PlannedImage[]): Promise<void> {
  await files.write(id, envelope);
  const written = new Set<string>();
  for (const p of planned) {
    const d = p.image.digest;
    if (p.source === undefined || d === null || written.has(d)) continue;
    if (p.source.kind === 'bytes') await files.write(d, p.source.bytes);
    else await files.promote(d);
    written.add(d);
  }
}

/** Turns the failures of staging an upload into rejections (too large, digest mismatch). */
export async function stageOrReject(
  files: BlobFiles,
  source: AsyncIterable<Uint8Array> | Uint8Array,
  maxFileBytes: number,
  expectedDigest: string | undefined,
): Promise<{ digest: string; size: number }> {
  const iterable: AsyncIterable<Uint8Array> =
    source instanceof Uint8Array
      ? (async function* one() {
          yield source;
        })()
      : source;
  try {
    return await files.stage(iterable, maxFileBytes, expectedDigest);
  } catch (err) {
    if (err instanceof BlobTooLargeError) throw rejected(`the image is larger than ${err.limit} bytes`, 'tooLarge');
    if (isLwm2mFotaError(err, 'ERR_SUIT_IMAGE_DIGEST')) throw rejected(err.message, err.code, err);
    throw err;
  }
}
