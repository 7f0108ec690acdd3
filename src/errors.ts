/**
 * One error class for the whole project. `code` is a closed union with a prefix per
 * subsystem; the CLI maps it to one stderr line and an exit code, the REST API to an HTTP
 * status and a JSON body.
 *
 * Add codes to the union of your subsystem; never reuse one code for two meanings.
 */

export type CoapErrorCode =
  | 'ERR_COAP_TIMEOUT' // no answer within the transmission parameters
  | 'ERR_COAP_RESET' // the peer answered with RST
  | 'ERR_COAP_SEND_FAILED' // the socket refused to send
  | 'ERR_COAP_MALFORMED' // a datagram that is not a CoAP message
  | 'ERR_COAP_BLOCKWISE' // a block-wise transfer the peer broke off or answered out of order
  | 'ERR_COAP_TOO_LARGE' // a payload beyond the configured limit
  | 'ERR_COAP_CLOSED' // the endpoint was closed while the request was pending
  | 'ERR_COAP_BIND'; // the endpoint could not bind its socket

export type StoreErrorCode =
  | 'ERR_STORE_OPEN' // the data directory or database could not be opened
  | 'ERR_STORE_LOCKED' // another server holds the data directory
  | 'ERR_STORE_SCHEMA' // the database was written by a newer, unknown schema
  | 'ERR_STORE_WRITE' // a write failed (disk full, locked, constraint)
  | 'ERR_STORE_READ' // a read failed (I/O error, corruption)
  | 'ERR_STORE_CLOSED'; // used after close()

export type Lwm2mErrorCode =
  | 'ERR_LWM2M_LINK_FORMAT' // a CoRE link-format payload that does not parse
  | 'ERR_LWM2M_REGISTRATION' // registration parameters that break the rules
  | 'ERR_LWM2M_NOT_REGISTERED' // an endpoint or registration id that is not known
  | 'ERR_LWM2M_PATH' // a path that is malformed or not in the model
  | 'ERR_LWM2M_MODEL' // an object definition that does not load
  | 'ERR_LWM2M_CONTENT_FORMAT' // a payload that does not decode in its format
  | 'ERR_LWM2M_UNSUPPORTED_FORMAT' // a content format nobody registered a codec for
  | 'ERR_LWM2M_VALUE' // a value that does not fit the resource type
  | 'ERR_LWM2M_DEVICE_ASLEEP' // a queue-mode device is asleep; the request was queued
  | 'ERR_LWM2M_NO_RESPONSE' // the device did not answer (timeout, unreachable)
  | 'ERR_LWM2M_ATTRIBUTES' // notification attributes that break the rules (pmin > pmax, gt on a string …)
  | 'ERR_LWM2M_ERROR_RESPONSE' // the device answered with an error code (4.xx/5.xx); the CLI's exit status
  | 'ERR_LWM2M_REQUEST_NOT_FOUND' // a queued device request id that is not known
  | 'ERR_LWM2M_OBSERVATION_NOT_FOUND' // an observation id that is not known
  | 'ERR_LWM2M_ABORTED' // the caller aborted a request (its AbortSignal) before it ended
  | 'ERR_LWM2M_NOT_EXECUTABLE'; // Execute on a resource the object model does not mark executable (checked before sending)

export type SuitErrorCode =
  | 'ERR_SUIT_CBOR' // not well-formed CBOR, or trailing bytes
  | 'ERR_SUIT_STRUCTURE' // well-formed CBOR that is not a SUIT envelope/manifest
  | 'ERR_SUIT_ALGORITHM_NOT_ALLOWED' // a COSE or digest algorithm outside the allow-list
  | 'ERR_SUIT_UNSIGNED' // no signature at all where one is required
  | 'ERR_SUIT_SIGNATURE_INVALID' // no signature verifies with a trusted key
  | 'ERR_SUIT_MANIFEST_DIGEST' // the manifest bytes do not match the signed digest
  | 'ERR_SUIT_SEVERED_DIGEST' // a severed element does not match its digest
  | 'ERR_SUIT_SIGNERS_MISSING' // the policy requires signers that did not sign
  | 'ERR_SUIT_ROLLBACK' // sequence number not above the lowest acceptable one
  | 'ERR_SUIT_VENDOR_MISMATCH' // vendor id not accepted by the policy
  | 'ERR_SUIT_CLASS_MISMATCH' // class id not accepted by the policy
  | 'ERR_SUIT_IMAGE_DIGEST' // an image does not match the manifest's digest or size
  | 'ERR_SUIT_KEY' // a key file or COSE_Key that cannot be used
  | 'ERR_SUIT_POLICY'; // a policy document that is malformed

export type FotaErrorCode =
  | 'ERR_FOTA_FIRMWARE_REJECTED' // an envelope refused by the server's trust policy
  | 'ERR_FOTA_FIRMWARE_NOT_FOUND'
  | 'ERR_FOTA_FIRMWARE_AMBIGUOUS' // a firmware id prefix that more than one firmware starts with
  | 'ERR_FOTA_IMAGE_MISSING' // the envelope names an image that was not supplied
  | 'ERR_FOTA_TRUST_NOT_CONFIGURED' // firmware offered to a server started without --trust / --policy
  | 'ERR_FOTA_FIRMWARE_IN_USE' // removal refused: an active update job uses the firmware
  | 'ERR_FOTA_JOB_CONFLICT' // a job is already running for that device
  | 'ERR_FOTA_JOB_NOT_FOUND'
  | 'ERR_FOTA_UNSUPPORTED_DELIVERY' // the device supports no delivery we can use
  | 'ERR_FOTA_CANCEL_TOO_LATE' // cancel asked after Update (/5/0/2) was executed: the install cannot be stopped
  | 'ERR_FOTA_VERSION_UNKNOWN' // the manifest announces no firmware version, so an update could not be confirmed
  | 'ERR_FOTA_UPDATE_FAILED'; // an update job ended failed or cancelled (`update --wait`'s exit status)

export type ApiErrorCode =
  | 'ERR_API_UNAUTHORIZED'
  | 'ERR_API_NOT_FOUND'
  | 'ERR_API_BAD_REQUEST'
  | 'ERR_API_CONFLICT'
  | 'ERR_API_UNREACHABLE' // the CLI could not reach the server
  | 'ERR_API_RESPONSE'; // the server answered something the CLI did not expect

export type CliErrorCode =
  | 'ERR_CLI_USAGE' // bad arguments
  | 'ERR_CLI_TIMEOUT' // --timeout passed before the awaited thing ended
  | 'ERR_CLI_IO'; // a file that cannot be read or written

export type ErrorCode =
  | CoapErrorCode
  | StoreErrorCode
  | Lwm2mErrorCode
  | SuitErrorCode
  | FotaErrorCode
  | ApiErrorCode
  | CliErrorCode;

export interface ErrorContext {
  endpoint?: string;
  path?: string;
  offset?: number;
  [key: string]: string | number | boolean | undefined;
}

export class Lwm2mFotaError extends Error {
  override readonly name = 'Lwm2mFotaError';
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** True when `err` is one of ours, optionally with the given code. */
export function isLwm2mFotaError(err: unknown, code?: ErrorCode): err is Lwm2mFotaError {
  return err instanceof Lwm2mFotaError && (code === undefined || err.code === code);
}
