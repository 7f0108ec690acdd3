/**
 * How firmware is named, in one place: a firmware id is the SHA-256 of its envelope, a file
 * of the repository is named by the SHA-256 of its bytes, both written as 64 lowercase hex
 * digits, and devices fetch them at `/fw/<digest>`. Every other module takes the pattern, the
 * route and the path from here; nothing else spells `/fw/`.
 *
 * (Two look-alikes stay apart on purpose: the store checks the rows it is handed with its own
 * copy of the pattern, because `src/store` depends on nothing else in `src/`; and the SUIT
 * library's `relativeFirmwareUri` writes the same path into manifests it creates, because
 * `src/suit` is a pure library below fota; test/fota/firmware/firmware-id.test.ts pins that one to
 * this file.)
 */
import { Lwm2mFotaError } from '../../errors';

/** A firmware id or a file digest: SHA-256 as 64 lowercase hex digits. */
export const FIRMWARE_ID_PATTERN = /^[0-9a-f]{64}$/;

/** The fewest hex digits an id prefix may have (as `git` takes a short hash, but longer). */
export const FIRMWARE_ID_MIN_PREFIX = 6;

const ID_OR_PREFIX = new RegExp(`^[0-9a-f]{${FIRMWARE_ID_MIN_PREFIX},64}$`);

/** Uri-Path prefix of firmware files on the CoAP side. */
export const FIRMWARE_ROUTE = ['fw'] as const;

/** `/fw/`: the path every firmware file's URI starts with. */
export const FIRMWARE_PATH_PREFIX = `/${FIRMWARE_ROUTE.join('/')}/`;

/** True when `value` is a whole firmware id (or file digest). */
export function isFirmwareId(value: string): boolean {
  return FIRMWARE_ID_PATTERN.test(value);
}

/**
 * True when `value` is a firmware id or a prefix of one of at least
 * {@link FIRMWARE_ID_MIN_PREFIX} hex digits, in either case.
 */
export function isFirmwareIdOrPrefix(value: string): boolean {
  return ID_OR_PREFIX.test(value.toLowerCase());
}

/** `/fw/<digest>`, relative to the server's CoAP endpoint. */
export function firmwarePath(digest: string): string {
  return FIRMWARE_PATH_PREFIX + digest;
}

/**
 * The one firmware whose id is `idOrPrefix` or starts with it, among `ids`. The REST API
 * resolves every firmware id it is given with this (`GET /api/firmware/<prefix>`,
 * `POST /api/devices/:ep/update {"firmware": "<prefix>"}`), so the CLI and REST agree.
 *
 * @throws Lwm2mFotaError ERR_FOTA_FIRMWARE_NOT_FOUND when no id starts with it,
 *   ERR_FOTA_FIRMWARE_AMBIGUOUS when more than one does. The caller checks the form first
 *   ({@link isFirmwareIdOrPrefix}).
 */
export function resolveFirmwareId(idOrPrefix: string, ids: Iterable<string>): string {
  const p = idOrPrefix.toLowerCase();
  const hits: string[] = [];
  for (const id of ids) {
    if (id === p) return id;
    if (id.startsWith(p)) hits.push(id);
  }
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) {
    throw new Lwm2mFotaError('ERR_FOTA_FIRMWARE_NOT_FOUND', p.length === 64 ? `no firmware ${p}` : `no firmware id starts with ${p}`, { context: { firmware: p } });
  }
  throw new Lwm2mFotaError('ERR_FOTA_FIRMWARE_AMBIGUOUS', `${hits.length} firmware ids start with ${p}; give more digits`, { context: { firmware: p } });
}
