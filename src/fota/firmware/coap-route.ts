/**
 * The CoAP side of the repository: `GET /fw/<sha256 hex>` answers the file as one shared
 * Buffer; the endpoint slices the Block2 block the client asks for (any size 16–1024) with
 * `subarray`, adds Size2 (also to a Size2=0 query) — nothing is copied per device.
 *
 * The URI is immutable (the digest names the content), so the ETag is constant: the first
 * 8 bytes of the digest. A client resuming a download by ETag (Anjay) finds it unchanged.
 */
import { ContentFormat, ResponseCode, type CoapEndpoint, type IncomingRequest, type OutgoingResponse, type RequestHandler } from '../../coap/types';
import { FIRMWARE_PATH_PREFIX, FIRMWARE_ROUTE, isFirmwareId } from './firmware-id';
import type { FirmwareRepository } from './repository';

const diag = (code: string, text: string): OutgoingResponse => ({ code, payload: Buffer.from(text, 'utf8') });

const NOT_FOUND = diag(ResponseCode.NotFound, 'no such firmware');
const METHOD_NOT_ALLOWED = diag(ResponseCode.MethodNotAllowed, 'firmware files are read-only: GET');
const BAD_DIGEST = diag(ResponseCode.BadRequest, `expected ${FIRMWARE_PATH_PREFIX}<sha-256 as 64 lowercase hex digits>`);
const READ_FAILED = diag(ResponseCode.InternalServerError, 'firmware file unreadable');

/** ETag of a firmware file: the first 8 bytes of its SHA-256 (RFC 7252 §5.10.6: 1–8 bytes). */
export function firmwareEtag(digest: string): Buffer {
  return Buffer.from(digest.slice(0, 16), 'hex');
}

/**
 * The handler for `/fw/<digest>`: 2.05 with the shared Buffer, ETag and Content-Format 42;
 * 4.00 for a malformed digest, 4.04 for an unknown one, 4.05 for any method but GET.
 * `onError` hears about files that cannot be read (answered 5.00).
 */
export function firmwareRequestHandler(repo: FirmwareRepository, onError?: (err: Error) => void): RequestHandler {
  // One response object per loaded Buffer: the hot path (a cached file) allocates nothing.
  const responses = new WeakMap<Buffer, OutgoingResponse>();
  const respond = (digest: string, payload: Buffer): OutgoingResponse => {
    let r = responses.get(payload);
    if (r === undefined) {
      r = { code: ResponseCode.Content, payload, etag: firmwareEtag(digest), contentFormat: ContentFormat.OctetStream };
      responses.set(payload, r);
    }
    return r;
  };
  return (req: IncomingRequest) => {
    if (req.path.length !== 2) return NOT_FOUND;
    if (req.method !== 'GET') return METHOD_NOT_ALLOWED;
    const digest = req.path[1] as string;
    const cached = repo.peek(digest);
    if (cached !== undefined) return respond(digest, cached);
    if (!isFirmwareId(digest)) return BAD_DIGEST;
    if (!repo.serves(digest)) return NOT_FOUND;
    return repo.open(digest).then(
      (payload) => respond(digest, payload),
      (err: Error) => {
        onError?.(err);
        return repo.serves(digest) ? READ_FAILED : NOT_FOUND;
      },
    );
  };
}

/** Serves the repository at `/fw/…` on `endpoint`. */
export function attachFirmwareRoute(endpoint: CoapEndpoint, repo: FirmwareRepository, onError?: (err: Error) => void): void {
  endpoint.route(FIRMWARE_ROUTE, firmwareRequestHandler(repo, onError));
}
