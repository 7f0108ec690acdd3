/**
 * The one map from an error to the REST API's answer: an HTTP status and the body
 * `{ "error": { "code", "message" } }`. Routes throw; the server's request handler turns
 * whatever was thrown into an answer here, so a code gets the same status on every route.
 */
import { isLwm2mFotaError, type ErrorCode, type Lwm2mFotaError } from '../errors';
import { HttpError } from './http';

/**
 * Statuses of the codes that are not a plain 400. Codes of the store and of CoAP that are
 * not listed are the server's own trouble (500); any other code not listed is the client's
 * (400).
 */
const STATUS: { readonly [C in ErrorCode]?: number } = {
  ERR_API_UNAUTHORIZED: 401,
  ERR_API_NOT_FOUND: 404,
  ERR_LWM2M_NOT_REGISTERED: 404,
  ERR_LWM2M_REQUEST_NOT_FOUND: 404,
  ERR_LWM2M_OBSERVATION_NOT_FOUND: 404,
  ERR_FOTA_FIRMWARE_NOT_FOUND: 404,
  ERR_FOTA_JOB_NOT_FOUND: 404,
  ERR_API_CONFLICT: 409,
  ERR_FOTA_JOB_CONFLICT: 409,
  // The install cannot be stopped once Update was executed: the job's state, not the request, is in the way.
  ERR_FOTA_CANCEL_TOO_LATE: 409,
  ERR_FOTA_FIRMWARE_IN_USE: 409,
  // The server, not the envelope, lacks something: no trust anchors configured.
  ERR_FOTA_TRUST_NOT_CONFIGURED: 409,
  // Well-formed requests whose firmware cannot be used (refused by the trust policy, image not supplied).
  ERR_FOTA_FIRMWARE_REJECTED: 422,
  ERR_FOTA_IMAGE_MISSING: 422,
  // A queued request is accepted, not done.
  ERR_LWM2M_DEVICE_ASLEEP: 202,
  // The device answered something that does not decode: a bad gateway, not a bad request.
  ERR_LWM2M_CONTENT_FORMAT: 502,
  ERR_LWM2M_NO_RESPONSE: 504,
  ERR_COAP_TIMEOUT: 504,
  ERR_COAP_RESET: 504,
};

/** HTTP status for one of our errors. */
export function statusFor(err: Lwm2mFotaError): number {
  // A firmware refused for its size is a body too large, whichever route saw it.
  if (err.code === 'ERR_FOTA_FIRMWARE_REJECTED' && err.context.reason === 'tooLarge') return 413;
  const status = STATUS[err.code];
  if (status !== undefined) return status;
  return err.code.startsWith('ERR_STORE') || err.code.startsWith('ERR_COAP') ? 500 : 400;
}

/** What the API answers for a thrown value. */
export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
}

/**
 * The answer for anything a route threw: an `HttpError` keeps its status (the protocol-level
 * refusals: 401, 405, 413, 415), one of our errors gets {@link statusFor}, anything else is a
 * 500 ERR_INTERNAL.
 */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message };
  if (isLwm2mFotaError(err)) return { status: statusFor(err), code: err.code, message: err.message };
  return { status: 500, code: 'ERR_INTERNAL', message: (err as Error | undefined)?.message ?? String(err) };
}
