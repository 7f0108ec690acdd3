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

/** A block of a firmware file served to a device (what pull progress is made of). */
export interface FirmwareBlockServed {
  /** Who asked: the address and port the request came from. */
  readonly peer: { readonly address: string; readonly port: number };
  /** The file's digest (its name under /fw/). */
  readonly digest: string;
  /** Bytes of the file up to the end of this block. */
  readonly end: number;
  /** The file's size. */
  readonly size: number;
  /** The Block2 size the device asked for (the endpoint's largest when it asked for none). */
  readonly blockSize: number;
}

/** The endpoint's Block2 size when a request names none (RFC 7959 §2.4: the server chooses). */
const DEFAULT_BLOCK2_SIZE = 1024;

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
 * `onError` hears about files that cannot be read (answered 5.00); `onServed` about every
 * block answered 2.05 (it must be cheap: it runs on the hot path; its errors are ignored).
 */
export function firmwareRequestHandler(
  repo: FirmwareRepository,
  onError?: (err: Error) => void,
  onServed?: (block: FirmwareBlockServed) => void,
): RequestHandler {
  // One response object per loaded Buffer: the hot path (a cached file) allocates nothing.
  const responses = new WeakMap<Buffer, OutgoingResponse>();
  const served = (req: IncomingRequest, digest: string, size: number): void => {
    if (onServed === undefined) return;
    const block = req.block2 ?? { num: 0, size: DEFAULT_BLOCK2_SIZE };
    try {
      onServed({ peer: req.peer, digest, end: Math.min(size, (block.num + 1) * block.size), size, blockSize: block.size });
    } catch {
      // progress is best effort
    }
  };
  const respond = (req: IncomingRequest, digest: string, payload: Buffer): OutgoingResponse => {
    served(req, digest, payload.length);
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
    if (cached !== undefined) return respond(req, digest, cached);
    if (!isFirmwareId(digest)) return BAD_DIGEST;
    if (!repo.serves(digest)) return NOT_FOUND;
    return repo.open(digest).then(
      (payload) => respond(req, digest, payload),
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
