/**
 * REST routes of the firmware repository. Uploads are raw binary bodies (no multipart, no
 * base64): an image is streamed to disk while it is hashed, then its envelope is posted.
 *
 * - `GET    /api/firmware`                  → `{ firmware: FirmwareRecord[] }`, oldest first
 * - `GET    /api/firmware/:id`              → `FirmwareRecord`
 * - `GET    /api/firmware/:id/envelope`     → the envelope (application/octet-stream)
 * - `PUT    /api/firmware/images/:sha256`   → stage an image (body = the image; its SHA-256
 *   must be `:sha256`) → 201 `{ digest, size }`. Not served until an envelope names it.
 * - `POST   /api/firmware`                  → add an envelope (body = the envelope) → 201
 *   `FirmwareRecord`, or 200 when it was already there. 422 when the trust policy or the
 *   image check refuses it (ERR_FOTA_FIRMWARE_REJECTED, the SUIT code first in the message)
 *   or its image is missing (ERR_FOTA_IMAGE_MISSING); 409 when the server has no trust
 *   configured (ERR_FOTA_TRUST_NOT_CONFIGURED); 413 beyond the size limit.
 * - `DELETE /api/firmware/:id`              → `{ removed: FirmwareRecord }`; 409
 *   ERR_FOTA_FIRMWARE_IN_USE while an update job uses it.
 */
import type { IncomingMessage } from 'node:http';
import { isLwm2mFotaError } from '../errors';
import { sha256Hex, type FirmwareRepository } from '../fota/firmware';
import { HttpError, badRequest, readBody, type Router } from './http';

const HEX_DIGEST = /^[0-9a-f]{64}$/;

function checkDigest(value: string, what: string): string {
  if (!HEX_DIGEST.test(value)) throw badRequest(`${what} must be a SHA-256 as 64 lowercase hex digits, got "${value}"`);
  return value;
}

/** Our firmware error codes as HTTP statuses (the body keeps the code). */
function toHttp(err: unknown): unknown {
  if (!isLwm2mFotaError(err)) return err;
  switch (err.code) {
    case 'ERR_FOTA_FIRMWARE_REJECTED':
      return new HttpError(err.context.reason === 'tooLarge' ? 413 : 422, err.code, err.message);
    case 'ERR_FOTA_IMAGE_MISSING':
      return new HttpError(422, err.code, err.message);
    case 'ERR_FOTA_TRUST_NOT_CONFIGURED':
    case 'ERR_FOTA_FIRMWARE_IN_USE':
      return new HttpError(409, err.code, err.message);
    case 'ERR_FOTA_FIRMWARE_NOT_FOUND':
      return new HttpError(404, err.code, err.message);
    default:
      return err;
  }
}

async function mapped<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toHttp(err);
  }
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
  router.add('GET', '/api/firmware', () => ({ firmware: repo.list() }));

  router.add('GET', '/api/firmware/:id', ({ params }) => mapped(() => repo.require(checkDigest(params.id!, 'firmware id'))));

  router.add('GET', '/api/firmware/:id/envelope', ({ params, res }) =>
    mapped(async () => {
      const bytes = await repo.envelopeOf(checkDigest(params.id!, 'firmware id'));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, 'cache-control': 'no-store' });
      res.end(bytes);
      return undefined;
    }),
  );

  router.add('PUT', '/api/firmware/images/:digest', ({ params, req }) =>
    mapped(async () => {
      const digest = checkDigest(params.digest!, 'image digest');
      refuseJson(req);
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > repo.maxFileBytes) {
        throw new HttpError(413, 'ERR_FOTA_FIRMWARE_REJECTED', `the image is larger than ${repo.maxFileBytes} bytes`);
      }
      const staged = await repo.stageImage(req as AsyncIterable<Buffer>, digest);
      return { status: 201, body: staged };
    }),
  );

  router.add('POST', '/api/firmware', ({ req }) =>
    mapped(async () => {
      refuseJson(req);
      const body = await readBody(req, repo.maxFileBytes);
      if (body.length === 0) throw badRequest('the request body must be the SUIT envelope');
      const known = repo.get(sha256Hex(body)) !== undefined;
      const record = await repo.add(body);
      return { status: known ? 200 : 201, body: record };
    }),
  );

  router.add('DELETE', '/api/firmware/:id', ({ params }) =>
    mapped(async () => ({ removed: await repo.remove(checkDigest(params.id!, 'firmware id')) })),
  );
}
