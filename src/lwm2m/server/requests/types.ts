/**
 * LwM2M Device Management and Information Reporting operations as values
 * (OMA-TS-LightweightM2M_Core 1.1/1.2 §5.4, §5.5, §6.3, §6.4): what the server asks, and
 * what the device answered. Response codes are data; only "no usable answer" is thrown
 * (ERR_LWM2M_NO_RESPONSE, ERR_LWM2M_DEVICE_ASLEEP, ERR_LWM2M_CONTENT_FORMAT).
 */
import type { CompositeEntry } from '../../core/content-formats/codec';
import type { Link } from '../../core/content-formats/link-format';
import type { Lwm2mNode, ObjectInstance } from '../../core/content-formats/node';
import type { LwM2mPath, ObjectPath } from '../../core/model/path';
import type { NotificationAttributes } from './attributes';

export type Lwm2mRequest =
  | ReadRequest
  | WriteRequest
  | ExecuteRequest
  | CreateRequest
  | DeleteRequest
  | DiscoverRequest
  | WriteAttributesRequest
  | ObserveRequest
  | ReadCompositeRequest
  | WriteCompositeRequest
  | ObserveCompositeRequest;

export type OperationName = Lwm2mRequest['operation'];

interface FormatChoice {
  /** Content-Format to ask for (reads) or to send (writes); default: negotiated. */
  readonly format?: number;
}

export interface ReadRequest extends FormatChoice {
  readonly operation: 'read';
  readonly path: LwM2mPath;
}

/** Write: 'replace' is a PUT (TS Core §5.4.3 Replace), 'update' a POST (Partial Update). */
export interface WriteRequest extends FormatChoice {
  readonly operation: 'write';
  readonly path: LwM2mPath;
  readonly mode: 'replace' | 'update';
  readonly node: Lwm2mNode;
}

export interface ExecuteRequest {
  readonly operation: 'execute';
  readonly path: LwM2mPath;
  /** Execute arguments as text (1.1 §5.4.5: `0='v',1`); absent or '' = none. */
  readonly arguments?: string;
}

/** Create (POST on an object): `instance.id` undefined lets the device choose (TLV only). */
export interface CreateRequest extends FormatChoice {
  readonly operation: 'create';
  readonly path: ObjectPath;
  readonly instance: ObjectInstance | { readonly kind: 'objectInstance'; readonly id: undefined; readonly resources: ObjectInstance['resources'] };
}

export interface DeleteRequest {
  readonly operation: 'delete';
  readonly path: LwM2mPath;
}

export interface DiscoverRequest {
  readonly operation: 'discover';
  readonly path: LwM2mPath;
}

export interface WriteAttributesRequest {
  readonly operation: 'writeAttributes';
  readonly path: LwM2mPath;
  readonly attributes: NotificationAttributes;
}

export interface ObserveRequest extends FormatChoice {
  readonly operation: 'observe';
  readonly path: LwM2mPath;
}

export interface ReadCompositeRequest extends FormatChoice {
  readonly operation: 'readComposite';
  readonly paths: readonly LwM2mPath[];
}

export interface WriteCompositeRequest extends FormatChoice {
  readonly operation: 'writeComposite';
  readonly entries: readonly CompositeEntry[];
}

export interface ObserveCompositeRequest extends FormatChoice {
  readonly operation: 'observeComposite';
  readonly paths: readonly LwM2mPath[];
}

/** What every answer carries: the CoAP response code and whether it means success (2.xx). */
export interface ResponseBase {
  readonly code: string;
  readonly success: boolean;
  /** The diagnostic payload of an error response (RFC 7252 §5.5.2), if any. */
  readonly diagnostic?: string;
}

export interface ReadResponse extends ResponseBase {
  readonly operation: 'read' | 'observe';
  readonly path: LwM2mPath;
  /** The Content-Format the content came in. */
  readonly format?: number;
  readonly content?: Lwm2mNode;
  /** Set when the server read resource by resource (a device that answers only text/plain). */
  readonly fallback?: 'perResource';
  /** Observe only: the observation's id (its token, hex) when the device accepted it. */
  readonly observationId?: string;
}

export interface CompositeResponse extends ResponseBase {
  readonly operation: 'readComposite' | 'observeComposite';
  readonly paths: readonly LwM2mPath[];
  readonly format?: number;
  readonly entries?: readonly CompositeEntry[];
  readonly observationId?: string;
}

export interface CreateResponse extends ResponseBase {
  readonly operation: 'create';
  readonly path: ObjectPath;
  /** Where the new instance lives ("/5/1"), from the Location-Path. */
  readonly location?: string;
}

export interface DiscoverResponse extends ResponseBase {
  readonly operation: 'discover';
  readonly path: LwM2mPath;
  readonly links?: readonly Link[];
}

export interface PlainResponse extends ResponseBase {
  readonly operation: 'write' | 'execute' | 'delete' | 'writeAttributes' | 'writeComposite' | 'cancelObservation';
  readonly path?: LwM2mPath;
  readonly format?: number;
  /** Set when a text-only device was written resource by resource. */
  readonly fallback?: 'perResource';
}

export type Lwm2mResponse = ReadResponse | CompositeResponse | CreateResponse | DiscoverResponse | PlainResponse;

export function isSuccessCode(code: string): boolean {
  return code.startsWith('2.');
}

/** How far a block-wise Write has come. */
export interface TransferProgress {
  /** Bytes the device has acknowledged. */
  readonly sent: number;
  readonly total: number;
  /** The Block1 size in use now (smaller than asked for when the device said so). */
  readonly blockSize: number;
}

/**
 * Options of a Write whose body may span many blocks (a Package pushed to /5/0/0): the body
 * goes out with Block1 (RFC 7959 §2.5) and a fresh Request-Tag (RFC 9175 §3.2), following a
 * smaller size in the device's 2.31 or its 4.13 with a Block1 hint (restart at that size);
 * a 4.13 whose Size1 is below the body's size is the answer.
 */
export interface TransferOptions {
  /** Largest Block1 size to start with (16..1024, default 1024). */
  readonly blockSize?: number;
  /** After each acknowledged block. */
  readonly onProgress?: (progress: TransferProgress) => void;
  /** Ends the transfer before its next block; the Write then rejects with ERR_LWM2M_ABORTED. */
  readonly signal?: AbortSignal;
  /** One deadline for the whole transfer (ms); default: the device client's. */
  readonly timeoutMs?: number;
}
