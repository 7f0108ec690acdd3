/**
 * REST routes of the firmware repository. Uploads are raw binary bodies (no multipart, no
 * base64): an image is streamed to disk while it is hashed, then its envelope is posted.
 *
 * - `GET    /api/firmware`                  → `{ firmware: FirmwareRecord[] }`, oldest first
 * - `GET    /api/firmware/:id`              → `FirmwareRecord`; `:id` may be a unique prefix (at
 *   least 6 hex digits): 404 ERR_FOTA_FIRMWARE_NOT_FOUND when none, 400
 *   ERR_FOTA_FIRMWARE_AMBIGUOUS when several firmware ids start with it
 * - `GET    /api/firmware/:id/envelope`     → the envelope (application/octet-stream); `:id` as above
 * - `PUT    /api/firmware/images/:sha256`   → stage an image (body = the image; its SHA-256
 *   must be `:sha256`) → 201 `{ digest, size }`. Not served until an envelope names it.
 * - `POST   /api/firmware`                  → add an envelope (body = the envelope) → 201
 *   `FirmwareRecord`, or 200 when it was already there. 422 when the trust policy or the
 *   image check refuses it (ERR_FOTA_FIRMWARE_REJECTED, the SUIT code first in the message)
 *   or its image is missing (ERR_FOTA_IMAGE_MISSING); 409 when the server has no trust
 *   configured (ERR_FOTA_TRUST_NOT_CONFIGURED); 413 beyond the size limit.
 * - `DELETE /api/firmware/:id`              → `{ removed: FirmwareRecord }` (the whole id); 409
 *   ERR_FOTA_FIRMWARE_IN_USE while an update job uses it.
 */
import type { IncomingMessage } from 'node:http';
import { Lwm2mFotaError } from '../errors';
import { FIRMWARE_ID_MIN_PREFIX, isFirmwareId, isFirmwareIdOrPrefix, resolveFirmwareId, sha256Hex, type FirmwareRepository } from '../fota/firmware';
import { HttpError, badRequest, readBody, type Router } from './http';
import type { FirmwareListView, FirmwareRemovedView, FirmwareView } from './views';

function checkDigest(value: string, what: string): string {
  if (!isFirmwareId(value)) throw badRequest(`${what} must be a SHA-256 as 64 lowercase hex digits, got "${value}"`);
  return value;
}

/**
 * The firmware a request names by its id or a unique prefix of it: every route that takes a
 * firmware id resolves it here, so `GET /api/firmware/<prefix>` and
 * `POST /api/devices/:ep/update {"firmware": "<prefix>"}` agree.
 *
 * @throws HttpError 400 ERR_API_BAD_REQUEST when `value` is neither an id nor a prefix of at
 *   least 6 hex digits; Lwm2mFotaError ERR_FOTA_FIRMWARE_NOT_FOUND (404),
 *   ERR_FOTA_FIRMWARE_AMBIGUOUS (400).
 */
export function firmwareIdParam(repo: Pick<FirmwareRepository, 'list'>, value: unknown, what: string): string {
  if (typeof value !== 'string' || !isFirmwareIdOrPrefix(value)) {
    const got = typeof value === 'string' ? `"${value}"` : JSON.stringify(value) ?? 'nothing';
    throw badRequest(`${what} must be a firmware id (its SHA-256, 64 hex digits) or a unique prefix of at least ${FIRMWARE_ID_MIN_PREFIX}, got ${got}`);
  }
  return resolveFirmwareId(value, repo.list().map((r) => r.id));
}

function refuseJson(req: IncomingMessage): void {
  const type = req.headers['content-type'] ?? '';
  // The bodies are the bytes themselves; JSON here is a client mistake (e.g. base64 in JSON).
  if (/^application\/([a-z.+-]*\+)?json\b/i.test(type) || /^multipart\//i.test(type)) {
    throw new HttpError(415, 'ERR_API_BAD_REQUEST', `send the raw bytes (application/octet-stream), not ${type}`);
  }
}

/** Adds the /api/firmware routes. */
export function addFirmwareRoutes(router: Router, repo: FirmwareRepository): void {
  router.add('GET', '/api/firmware', (): FirmwareListView => ({ firmware: repo.list() }));

  router.add('GET', '/api/firmware/:id', ({ params }): FirmwareView => repo.require(firmwareIdParam(repo, params.id, 'firmware id')));

  router.add('GET', '/api/firmware/:id/envelope', async ({ params, res }) => {
    const bytes = await repo.envelopeOf(firmwareIdParam(repo, params.id, 'firmware id'));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, 'cache-control': 'no-store' });
    res.end(bytes);
    return undefined;
  });

  router.add('PUT', '/api/firmware/images/:digest', async ({ params, req }) => {
    const digest = checkDigest(params.digest!, 'image digest');
    refuseJson(req);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > repo.maxFileBytes) {
      throw new Lwm2mFotaError('ERR_FOTA_FIRMWARE_REJECTED', `the image is larger than ${repo.maxFileBytes} bytes`, { context: { reason: 'tooLarge' } });
    }
    const staged = await repo.stageImage(req as AsyncIterable<Buffer>, digest);
    return { status: 201, body: staged };
  });

  router.add('POST', '/api/firmware', async ({ req }) => {
    refuseJson(req);
    const body = await readBody(req, repo.maxFileBytes);
    if (body.length === 0) throw badRequest('the request body must be the SUIT envelope');
    const known = repo.get(sha256Hex(body)) !== undefined;
    const record = await repo.add(body);
    return { status: known ? 200 : 201, body: record };
  });

  // Removal takes the whole id: a prefix that names another firmware tomorrow must not delete it.
  router.add('DELETE', '/api/firmware/:id', async ({ params }): Promise<FirmwareRemovedView> => ({ removed: await repo.remove(checkDigest(params.id!, 'firmware id')) }));
}
