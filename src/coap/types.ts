/**
 * The contract of the CoAP layer. Everything above `src/coap` talks to CoAP through these
 * types only; nothing outside this folder imports node-coap or coap-packet.
 */

export type CoapMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH';

/** A UDP peer as the socket reports it (IPv4 peers on a dual-stack socket appear as `::ffff:a.b.c.d`). */
export interface Peer {
  readonly address: string;
  readonly port: number;
}

export interface CoapOption {
  readonly number: number;
  readonly value: Buffer;
}

/** Option numbers (RFC 7252 §5.10, RFC 7959, RFC 7641, RFC 9175). */
export const OptionNumber = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  NoResponse: 258,
  RequestTag: 292,
} as const;

/** Response codes as dotted strings ("2.05"). */
export const ResponseCode = {
  Created: '2.01',
  Deleted: '2.02',
  Valid: '2.03',
  Changed: '2.04',
  Content: '2.05',
  Continue: '2.31',
  BadRequest: '4.00',
  Unauthorized: '4.01',
  BadOption: '4.02',
  Forbidden: '4.03',
  NotFound: '4.04',
  MethodNotAllowed: '4.05',
  NotAcceptable: '4.06',
  RequestEntityIncomplete: '4.08',
  Conflict: '4.09',
  PreconditionFailed: '4.12',
  RequestEntityTooLarge: '4.13',
  UnsupportedContentFormat: '4.15',
  InternalServerError: '5.00',
  NotImplemented: '5.01',
  ServiceUnavailable: '5.03',
  GatewayTimeout: '5.04',
} as const;
export type ResponseCode = (typeof ResponseCode)[keyof typeof ResponseCode] | string;

/** Content-Format numbers used by LwM2M (IANA CoAP Content-Formats registry). */
export const ContentFormat = {
  TextPlain: 0,
  LinkFormat: 40,
  OctetStream: 42,
  Cbor: 60,
  SenmlJson: 110,
  SenmlCbor: 112,
  Tlv: 11542,
  Lwm2mJson: 11543,
  Lwm2mCbor: 11544,
} as const;

/** RFC 7252 §4.8 transmission parameters; configurable per endpoint, never process-wide. */
export interface TransmissionParameters {
  /** ACK_TIMEOUT in ms (default 2000). */
  ackTimeoutMs: number;
  /** ACK_RANDOM_FACTOR (default 1.5). */
  ackRandomFactor: number;
  /** MAX_RETRANSMIT (default 4). */
  maxRetransmit: number;
  /** How long (ms) a (peer, message id) is remembered for deduplication; default EXCHANGE_LIFETIME (247 s). */
  exchangeLifetimeMs: number;
  /** How long (ms) to wait for a separate response after an empty ACK; default MAX_TRANSMIT_WAIT (93 s). */
  maxTransmitWaitMs: number;
}

/** A request as the handler sees it: Block1 already reassembled unless the route asked for raw blocks. */
export interface IncomingRequest {
  readonly peer: Peer;
  readonly method: CoapMethod;
  readonly path: readonly string[];
  readonly query: readonly string[];
  readonly contentFormat: number | undefined;
  readonly accept: number | undefined;
  readonly observe: number | undefined;
  readonly token: Buffer;
  readonly confirmable: boolean;
  readonly payload: Buffer;
  /** Every option of the (last) request datagram, in order. */
  readonly options: readonly CoapOption[];
  /** The Block2 option the client sent, if any (num, size in bytes). */
  readonly block2: { readonly num: number; readonly size: number } | undefined;
  /** With `blockwise: 'raw'` routes only: this datagram's Block1 option. */
  readonly block1: { readonly num: number; readonly more: boolean; readonly size: number } | undefined;
}

export interface OutgoingResponse {
  readonly code: ResponseCode;
  /**
   * The whole representation. When it is larger than the block size the client asked for
   * (or the endpoint's maximum) the endpoint answers with the requested Block2 slice and
   * Size2, without copying the buffer.
   */
  readonly payload?: Buffer;
  readonly contentFormat?: number;
  readonly locationPath?: readonly string[];
  readonly etag?: Buffer;
  readonly maxAge?: number;
  readonly observe?: number;
  readonly options?: readonly CoapOption[];
  /**
   * Called once the answer has been handed to the channel (or, when it could not be
   * encoded, the 5.00 sent in its place). What the answer allows — requests to the peer that
   * the answer made possible — starts here, so that it follows the answer on the wire: a
   * client may ignore requests that arrive before it (Wakaama ignores management requests
   * while its registration is pending). Not called again for a duplicate answered from the
   * deduplication cache, nor when the endpoint closed before the answer left.
   */
  readonly onSent?: () => void;
}

/**
 * Answers one request. Return the response directly when you can (no Promise is made on
 * that path); a thrown error or rejected Promise becomes 5.00 to the peer and goes to
 * `onError`.
 *
 * Block2: the handler is called again for every block the client asks for and must return
 * the same representation each time — return a shared Buffer (O(1)) and the endpoint
 * answers `payload.subarray(offset, offset + size)`; give representations that can change
 * an `etag` so clients notice. A handler taking longer than the client's ACK timeout is
 * answered with an empty ACK and a separate confirmable response; it never runs twice for
 * one (peer, message id).
 */
export type RequestHandler = (req: IncomingRequest) => OutgoingResponse | Promise<OutgoingResponse>;

export interface RouteOptions {
  /** Largest reassembled Block1 payload accepted; beyond it 4.13 with Size1. Default 64 KiB. */
  readonly maxPayloadBytes?: number;
  /** 'reassemble' (default): the handler sees whole payloads. 'raw': the handler sees each Block1 datagram. */
  readonly blockwise?: 'reassemble' | 'raw';
}

export interface OutgoingRequest {
  readonly method: CoapMethod;
  /** Uri-Path segments, or a path string such as "/5/0/1". */
  readonly path: readonly string[] | string;
  readonly query?: readonly string[];
  readonly payload?: Buffer;
  readonly contentFormat?: number;
  readonly accept?: number;
  /** 0 = register an observation, 1 = cancel (RFC 7641). Use `observe()` for 0. */
  readonly observe?: number;
  /** Default true. */
  readonly confirmable?: boolean;
  readonly options?: readonly CoapOption[];
  /** Block size for payloads larger than one block (16..1024, default 1024); shrinks on 4.13 + Size1 / a smaller SZX. */
  readonly block1Size?: number;
  /** Preferred Block2 size for large responses (16..1024). */
  readonly block2Size?: number;
  /** One deadline for the whole exchange, all blocks included. Default: the retransmission schedule per datagram. */
  readonly timeoutMs?: number;
  /** Use this token instead of a fresh random one. */
  readonly token?: Buffer;
  /**
   * Called after each acknowledged Block1 block: bytes sent so far, total, and the block
   * size the next block will use (after a smaller SZX in the answer). Throwing ends the
   * transfer with that error.
   */
  readonly onProgress?: (sent: number, total: number, blockSize: number) => void;
  /**
   * Request-Tag (RFC 9175) on Block1 transfers: a Buffer (0..8 bytes) to use, true for a
   * fresh random one. Default none.
   */
  readonly requestTag?: Buffer | boolean;
  /** Largest Block2-reassembled response accepted (ERR_COAP_TOO_LARGE beyond). Default: the endpoint's `maxResponseBytes`. */
  readonly maxResponseBytes?: number;
}

export interface IncomingResponse {
  readonly peer: Peer;
  readonly code: ResponseCode;
  /** Whole payload, Block2 already reassembled. */
  readonly payload: Buffer;
  readonly contentFormat: number | undefined;
  readonly observe: number | undefined;
  readonly locationPath: readonly string[];
  readonly token: Buffer;
  readonly options: readonly CoapOption[];
}

/** A live observation: notifications with `token` go to its listener until `cancel()`. */
export interface ObservationHandle {
  readonly token: Buffer;
  readonly peer: Peer;
  /**
   * Stop: forget the token locally and, unless `sendDeregister` is false (or the path is
   * unknown, for a resumed observation without one), send a GET with Observe=1. Any later
   * notification with the token is answered with RST (reactive cancel, RFC 7641 §3.6).
   * Never rejects; a failed deregistration is reported to the endpoint's `onError`.
   */
  cancel(options?: { sendDeregister?: boolean }): Promise<void>;
}

export interface Observation extends ObservationHandle {
  /** The response to the registering GET (its code and Observe option say whether the observation was accepted). */
  readonly response: IncomingResponse;
  /** False when the server answered without an Observe option or with an error: no notifications will follow. */
  readonly established: boolean;
}

export type NotificationListener = (notification: IncomingResponse) => void;

/**
 * Called for a notification whose token no live `observe()` call knows (e.g. after a
 * restart). Return true to keep it (ACK), false to reject it (RST, the device stops).
 */
export type OrphanNotificationHandler = (notification: IncomingResponse) => boolean;

/**
 * How datagrams reach the wire: plain UDP now (`UdpChannel`), a DTLS session per peer later.
 * The endpoint needs nothing else from the transport.
 */
export interface DatagramChannel {
  /** Sends one datagram; never throws. A failure goes to `callback` when given, else to the error listener. */
  send(datagram: Buffer, peer: Peer, callback?: (err: Error | null) => void): void;
  /** The one listener for incoming datagrams (a second call replaces the first). */
  onDatagram(listener: (datagram: Buffer, peer: Peer) => void): void;
  /** Socket-level errors that belong to no particular send. */
  onError(listener: (err: Error) => void): void;
  address(): { address: string; port: number; family: string };
  close(): Promise<void>;
  /** What carries the datagrams, for operators: 'batched' (the UDP add-on), 'dgram' (node:dgram)… */
  readonly implementation?: string;
}

export interface CoapEndpointOptions {
  /** Default 5683. 0 = any free port. */
  readonly port?: number;
  /** Default '::' (dual stack; IPv4 peers appear as ::ffff:a.b.c.d). */
  readonly host?: string;
  readonly transmission?: Partial<TransmissionParameters>;
  /** Largest block size this endpoint uses or accepts (16..1024; default 1024). */
  readonly maxBlockSize?: number;
  /**
   * Upper bound on remembered (peer, MID) exchanges for deduplication. Default 100 000.
   * The tables are sized for it when the endpoint starts: about 20 to 30 bytes per exchange
   * of the capacity (hash slots, reply locations, Bloom filters; ~2.9 MiB at the default),
   * taken from the system as they are first used. The keys and pending exchanges
   * remembered cost heap besides.
   */
  readonly dedupCapacity?: number;
  /** Upper bound on the bytes of reply datagrams kept for deduplication. Default 32 MiB. */
  readonly dedupMaxBytes?: number;
  /** Upper bound on concurrent Block1 reassemblies. Default 10 000. */
  readonly maxReassemblies?: number;
  /** Upper bound on bytes buffered by all Block1 reassemblies together. Default 64 MiB. */
  readonly maxReassemblyBytes?: number;
  /** A Block1 reassembly with no block for this long (ms) is dropped. Default `maxTransmitWaitMs`. */
  readonly blockIdleTimeoutMs?: number;
  /** Default limit for Block2-reassembled responses on the client side. Default 16 MiB. */
  readonly maxResponseBytes?: number;
  /** Use this channel instead of binding a UDP socket (`port`/`host` are then ignored). */
  readonly channel?: DatagramChannel;
  /** Called with every error the endpoint handles instead of throwing (bad datagrams, handler throws). */
  readonly onError?: (err: Error, peer?: Peer) => void;
}

export interface CoapEndpoint {
  /** The bound address (port resolved when 0 was asked for). */
  address(): { address: string; port: number; family: string };
  /** What carries its datagrams: 'batched' (recvmmsg/sendmmsg add-on), 'dgram' (node:dgram), or 'custom' (a channel of the caller's). */
  transport(): string;
  /** Serve requests whose Uri-Path starts with `prefix` (longest prefix wins; [] = everything). */
  route(prefix: readonly string[], handler: RequestHandler, options?: RouteOptions): void;
  /** A request to a peer, sent from this endpoint's socket and port. Resolves with any response code; throws only when no usable answer came (ERR_COAP_TIMEOUT, ERR_COAP_RESET, ERR_COAP_CLOSED…). */
  request(peer: Peer, req: OutgoingRequest): Promise<IncomingResponse>;
  /** GET with Observe=0; notifications go to `listener` until cancelled. Throws like `request()`. */
  observe(peer: Peer, req: OutgoingRequest, listener: NotificationListener): Promise<Observation>;
  /**
   * Re-attach a listener to a token known from a previous life (persisted observation).
   * `path` (the observed Uri-Path) lets `cancel()` deregister actively.
   */
  resumeObservation(peer: Peer, token: Buffer, listener: NotificationListener, path?: readonly string[] | string): ObservationHandle;
  /**
   * Server side of RFC 7641 (used by the device emulator): send a notification with
   * `token` to an observer. Confirmable by default: resolves on the ACK, throws
   * ERR_COAP_RESET when the observer rejected it (it is gone) or ERR_COAP_TIMEOUT.
   * A payload larger than one block is sent as its first Block2 block (RFC 7959 §3.4).
   */
  notify(peer: Peer, token: Buffer, response: OutgoingResponse, options?: { confirmable?: boolean }): Promise<void>;
  setOrphanNotificationHandler(handler: OrphanNotificationHandler): void;
  close(): Promise<void>;
}
