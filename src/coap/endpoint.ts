/**
 * One CoAP endpoint: server and client on one datagram channel (one UDP socket and port).
 *
 * Server path, per request: one decode, one pass over the options, one route lookup, the
 * handler, one encode, one send, one deduplication entry. No timer and no Promise per
 * request when the handler answers synchronously.
 *
 * Slow handlers (RFC 7252 §5.2.2): the first request is answered with a piggybacked ACK
 * when the handler returns. If a retransmission of it arrives while the handler is still
 * running — i.e. the handler took longer than the peer's ACK timeout — that retransmission
 * gets an empty ACK and the answer goes out later as a separate, confirmable response,
 * retransmitted per this endpoint's transmission parameters. Retransmissions after that get
 * the empty ACK again; the request is never processed twice.
 *
 * Block2 (RFC 7959 §2.4): the handler is called for every block request and must return
 * the same representation each time (the firmware route returns one shared Buffer, so that
 * is O(1)); the endpoint answers the requested slice with `payload.subarray`, never copying
 * the whole. Representations that change between calls must carry an ETag so the client can
 * notice.
 */
import { Lwm2mFotaError } from '../errors';
import { Block1Receiver } from './block1-receiver';
import { UdpChannel } from './channel';
import { Client, randomToken, toIncomingResponse } from './client';
import { DedupCache, type ExchangeMarker } from './dedup';
import {
  MessageFormatError,
  MessageType,
  MethodCode,
  MethodName,
  codeToByte,
  decode,
  decodeBlock,
  decodeInto,
  decodeUint,
  decodeUintAt,
  encode,
  encodeBlock,
  encodeEmpty,
  encodeUint,
  findOption,
  isKnownOption,
  sizeToSzx,
  sortOptions,
  splitPath,
  type BlockValue,
  type Message,
  type MessageHead,
  OptionOffsets,
  optionsAt,
} from './message';
import { ObservationEntry, ObservationRegistry } from './observe';
import type {
  CoapEndpoint,
  CoapEndpointOptions,
  CoapMethod,
  CoapOption,
  DatagramChannel,
  IncomingRequest,
  IncomingResponse,
  NotificationListener,
  Observation,
  ObservationHandle,
  OrphanNotificationHandler,
  OutgoingRequest,
  OutgoingResponse,
  Peer,
  RequestHandler,
  RouteOptions,
  TransmissionParameters,
} from './types';
import { OptionNumber } from './types';

/** RFC 7252 §4.8 defaults; EXCHANGE_LIFETIME 247 s and MAX_TRANSMIT_WAIT 93 s follow from them (§4.8.2). */
export const DEFAULT_TRANSMISSION: TransmissionParameters = {
  ackTimeoutMs: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  exchangeLifetimeMs: 247_000,
  maxTransmitWaitMs: 93_000,
};

const DEFAULT_MAX_PAYLOAD = 64 * 1024;

// Code bytes used on the server path.
const C = {
  Continue: 0x5f, // 2.31
  BadRequest: 0x80, // 4.00
  BadOption: 0x82, // 4.02
  NotFound: 0x84, // 4.04
  MethodNotAllowed: 0x85, // 4.05
  Incomplete: 0x88, // 4.08
  TooLarge: 0x8d, // 4.13
  InternalServerError: 0xa0, // 5.00
  ProxyingNotSupported: 0xa5, // 5.05
} as const;

interface Route {
  readonly prefix: readonly string[];
  readonly handler: RequestHandler;
  readonly maxPayloadBytes: number;
  readonly raw: boolean;
}

/**
 * A request as handlers see it. Its `options` are decoded from the datagram only when a
 * handler asks: the endpoint itself reads them where they lie (OptionOffsets).
 */
class ServerRequest implements IncomingRequest {
  readonly #datagram: Buffer;
  #options: readonly CoapOption[] | undefined;

  constructor(
    datagram: Buffer,
    readonly peer: Peer,
    readonly method: CoapMethod,
    readonly path: readonly string[],
    readonly query: readonly string[],
    readonly contentFormat: number | undefined,
    readonly accept: number | undefined,
    readonly observe: number | undefined,
    readonly token: Buffer,
    readonly confirmable: boolean,
    readonly payload: Buffer,
    readonly block2: IncomingRequest['block2'],
    readonly block1: IncomingRequest['block1'],
  ) {
    this.#datagram = datagram;
  }

  /** Every option of the (last) request datagram, in order. */
  get options(): readonly CoapOption[] {
    return (this.#options ??= decode(this.#datagram).options);
  }
}

/** What a response needs to know about the request it answers. */
interface Reply {
  readonly peer: Peer;
  readonly confirmable: boolean;
  readonly messageId: number;
  readonly token: Buffer;
  readonly key: string;
  readonly block2: BlockValue | undefined;
  readonly size2Requested: boolean;
  readonly block1Echo: Buffer | undefined;
  /**
   * Set when the handler returned a Promise: the exchange as deduplication remembers it
   * meanwhile (a retransmission may switch it to a separate response).
   */
  marker: ExchangeMarker | undefined;
  /**
   * A Block2 GET without Observe: idempotent, and its answer is a slice of the handler's
   * shared representation, so a duplicate is answered again instead of from a stored copy.
   */
  readonly replayable: boolean;
}

function resolveTransmission(t: Partial<TransmissionParameters> | undefined): TransmissionParameters {
  const ackTimeoutMs = t?.ackTimeoutMs ?? DEFAULT_TRANSMISSION.ackTimeoutMs;
  const ackRandomFactor = t?.ackRandomFactor ?? DEFAULT_TRANSMISSION.ackRandomFactor;
  const maxRetransmit = t?.maxRetransmit ?? DEFAULT_TRANSMISSION.maxRetransmit;
  // RFC 7252 §4.8.2: MAX_TRANSMIT_SPAN = ACK_TIMEOUT * (2^MAX_RETRANSMIT - 1) * ACK_RANDOM_FACTOR,
  // MAX_TRANSMIT_WAIT = ACK_TIMEOUT * (2^(MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR,
  // EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY (100 s) + PROCESSING_DELAY (ACK_TIMEOUT).
  const span = ackTimeoutMs * (2 ** maxRetransmit - 1) * ackRandomFactor;
  return {
    ackTimeoutMs,
    ackRandomFactor,
    maxRetransmit,
    maxTransmitWaitMs: t?.maxTransmitWaitMs ?? Math.round(ackTimeoutMs * (2 ** (maxRetransmit + 1) - 1) * ackRandomFactor),
    exchangeLifetimeMs: t?.exchangeLifetimeMs ?? Math.round(span + 200_000 + ackTimeoutMs),
  };
}

/**
 * Creates a CoAP endpoint bound to `options.host` (default '::', dual stack) and
 * `options.port` (default 5683; 0 = any free port), or on `options.channel`.
 * Throws ERR_COAP_BIND when the socket cannot be bound (port taken: ports are never shared).
 */
export async function createCoapEndpoint(options: CoapEndpointOptions = {}): Promise<CoapEndpoint> {
  const channel =
    options.channel ??
    (await UdpChannel.bind({ host: options.host ?? '::', port: options.port ?? 5683 }));
  return new Endpoint(channel, options);
}

class Endpoint implements CoapEndpoint {
  private readonly params: TransmissionParameters;
  private readonly maxBlockSize: number;
  private readonly maxSzx: number;
  private readonly maxResponseBytes: number;
  private readonly dedup: DedupCache;
  /** Where the options of the datagram being handled are (decodeInto). */
  private readonly offsets = new OptionOffsets();
  private readonly block1: Block1Receiver;
  private readonly client: Client;
  private readonly observations: ObservationRegistry;
  private routes: Route[] = [];
  private orphanHandler: OrphanNotificationHandler | undefined = undefined;
  private readonly reportError: (err: Error, peer?: Peer) => void;
  private readonly sweepTimer: NodeJS.Timeout;
  private messageId = Math.floor(Math.random() * 0x10000);
  private closed = false;

  constructor(
    private readonly channel: DatagramChannel,
    options: CoapEndpointOptions,
  ) {
    this.params = resolveTransmission(options.transmission);
    this.maxSzx = sizeToSzx(Math.max(16, Math.min(1024, options.maxBlockSize ?? 1024)));
    this.maxBlockSize = 1 << (this.maxSzx + 4);
    this.maxResponseBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
    const onError = options.onError;
    this.reportError = (err, peer) => {
      if (!onError) return;
      try {
        onError(err, peer);
      } catch {
        // a throwing error listener must not take the socket handler down
      }
    };
    const now = Date.now();
    this.dedup = new DedupCache(options.dedupCapacity ?? 100_000, this.params.exchangeLifetimeMs, now, options.dedupMaxBytes ?? 32 * 1024 * 1024);
    const idle = options.blockIdleTimeoutMs ?? this.params.maxTransmitWaitMs;
    this.block1 = new Block1Receiver({
      maxEntries: options.maxReassemblies ?? 10_000,
      maxTotalBytes: options.maxReassemblyBytes ?? 64 * 1024 * 1024,
      idleTimeoutMs: idle,
      maxSzx: this.maxSzx,
    });
    this.client = new Client({
      channel,
      params: this.params,
      maxSzx: this.maxSzx,
      maxResponseBytes: this.maxResponseBytes,
      nextMessageId: () => this.nextMessageId(),
    });
    this.observations = new ObservationRegistry((entry) => this.deregister(entry));
    channel.onDatagram((datagram, peer) => this.onDatagram(datagram, peer));
    channel.onError((err) => this.reportError(err));
    // One coarse sweep for all expiry: deduplication generations, idle reassemblies,
    // remembered cancelled observations.
    const sweepMs = Math.max(20, Math.min(1000, Math.floor(Math.min(this.params.exchangeLifetimeMs, idle) / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
  }

  address(): { address: string; port: number; family: string } {
    return this.channel.address();
  }

  transport(): string {
    return this.channel.implementation ?? 'custom';
  }

  route(prefix: readonly string[], handler: RequestHandler, options: RouteOptions = {}): void {
    const p = [...prefix];
    this.routes = this.routes.filter((r) => !sameSegments(r.prefix, p));
    this.routes.push({
      prefix: p,
      handler,
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD,
      raw: options.blockwise === 'raw',
    });
    // Longest prefix first: the first match wins.
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  request(peer: Peer, req: OutgoingRequest): Promise<IncomingResponse> {
    if (this.closed) return Promise.reject(closedError());
    return this.client.request(peer, req);
  }

  async observe(peer: Peer, req: OutgoingRequest, listener: NotificationListener): Promise<Observation> {
    if (this.closed) throw closedError();
    const token = req.token ?? randomToken();
    const path = splitPath(req.path);
    const entry = new ObservationEntry(this.observations, token, token.toString('hex'), peer, listener, {
      path,
      query: req.query ?? [],
      accept: req.accept,
    });
    // Registered before sending: the first notification may overtake the response.
    this.observations.add(entry);
    let result: { msg: Message; payload: Buffer; first: Message };
    try {
      result = await this.client.requestMessage(peer, { ...req, method: 'GET', observe: 0 }, token);
    } catch (err) {
      this.observations.remove(entry);
      throw err;
    }
    const ok = result.msg.code >> 5 === 2;
    const response = toIncomingResponse(ok ? result.first : result.msg, peer, result.payload);
    const established = ok && response.observe !== undefined;
    if (established) entry.accept(response.observe, Date.now());
    else this.observations.remove(entry);
    return {
      token,
      peer,
      response,
      established,
      cancel: (o?: { sendDeregister?: boolean }) => entry.cancel(o),
    };
  }

  resumeObservation(peer: Peer, token: Buffer, listener: NotificationListener, path?: readonly string[] | string): ObservationHandle {
    const entry = new ObservationEntry(
      this.observations,
      token,
      token.toString('hex'),
      peer,
      listener,
      path === undefined ? undefined : { path: splitPath(path), query: [], accept: undefined },
    );
    this.observations.add(entry);
    return entry;
  }

  setOrphanNotificationHandler(handler: OrphanNotificationHandler): void {
    this.orphanHandler = handler;
  }

  notify(peer: Peer, token: Buffer, response: OutgoingResponse, options: { confirmable?: boolean } = {}): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    const confirmable = options.confirmable ?? true;
    const mid = this.nextMessageId();
    const datagram = this.encodeResponse(
      confirmable ? MessageType.CON : MessageType.NON,
      mid,
      token,
      response,
      undefined,
      false,
      undefined,
    );
    return this.client.transmitDatagram(peer, mid, confirmable, token, datagram, undefined, false).then(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.client.close();
    this.observations.clear();
    this.block1.clear();
    this.dedup.clear();
    await this.channel.close();
  }

  // -------------------------------------------------------------------------------------

  private nextMessageId(): number {
    this.messageId = (this.messageId + 1) & 0xffff;
    return this.messageId;
  }

  private sweep(): void {
    const now = Date.now();
    this.dedup.sweep(now);
    this.block1.sweep(now);
    this.observations.sweep(now, this.params.exchangeLifetimeMs);
  }

  private async deregister(entry: ObservationEntry): Promise<void> {
    const r = entry.request;
    if (r === undefined || this.closed) return;
    try {
      // RFC 7641 §3.6: a GET with Observe=1 and the observation's token.
      await this.client.request(entry.peer, {
        method: 'GET',
        path: r.path,
        query: r.query,
        ...(r.accept !== undefined ? { accept: r.accept } : {}),
        observe: 1,
        token: entry.token,
      });
    } catch (err) {
      this.reportError(err as Error, entry.peer);
    }
  }

  private onDatagram(datagram: Buffer, peer: Peer): void {
    let msg: MessageHead;
    try {
      msg = decodeInto(datagram, this.offsets);
    } catch (err) {
      const header = err instanceof MessageFormatError ? err.header : undefined;
      // RFC 7252 §4.2: a CON with a message format error is rejected with RST; others are ignored.
      if (header !== undefined && header.type === MessageType.CON) {
        this.channel.send(encodeEmpty(MessageType.RST, header.messageId), peer);
      }
      this.reportError(
        new Lwm2mFotaError('ERR_COAP_MALFORMED', `malformed datagram from ${peer.address} port ${peer.port}: ${(err as Error).message}`, {
          cause: err,
          context: { peer: peer.address, port: peer.port },
        }),
        peer,
      );
      return;
    }
    try {
      this.dispatch(msg, datagram, peer);
    } catch (err) {
      // Defensive: nothing in dispatch should throw, but a bug must not take the socket down.
      this.reportError(err as Error, peer);
    }
  }

  /** `head` was just decoded from `datagram`; its options are in `this.offsets`. */
  private dispatch(head: MessageHead, datagram: Buffer, peer: Peer): void {
    const type = head.type;
    const cls = head.code >> 5;
    if (cls === 0 && head.code !== 0 && type !== MessageType.ACK && type !== MessageType.RST) {
      this.onRequest(head, datagram, peer);
      return;
    }
    const msg: Message = { ...head, options: optionsAt(datagram, this.offsets) };
    if (type === MessageType.ACK) {
      if (msg.code === 0 || cls >= 2) this.client.onAck(msg, peer);
      return;
    }
    if (type === MessageType.RST) {
      this.client.onReset(msg, peer);
      return;
    }
    if (cls === 0) {
      // RFC 7252 §4.3: an Empty CON ("ping") is answered with RST.
      if (type === MessageType.CON) this.channel.send(encodeEmpty(MessageType.RST, msg.messageId), peer);
      return;
    }
    if (cls === 2 || cls === 4 || cls === 5) {
      this.onIncomingResponse(msg, peer);
      return;
    }
    // Reserved classes 1, 6, 7 (RFC 7252 §4.2): reject a CON.
    if (type === MessageType.CON) this.channel.send(encodeEmpty(MessageType.RST, msg.messageId), peer);
  }

  // -------------------------------------------------------------------------------------
  // Responses and notifications arriving as CON/NON

  private onIncomingResponse(msg: Message, peer: Peer): void {
    const con = msg.type === MessageType.CON;
    let key = '';
    if (con) {
      key = exchangeKey(msg.messageId, peer);
      const seen = this.dedup.get(key);
      if (Buffer.isBuffer(seen)) {
        this.channel.send(seen, peer);
        return;
      }
    }
    const accepted = this.client.onResponse(msg, peer) || this.onNotification(msg, peer);
    if (con) {
      const reply = encodeEmpty(accepted ? MessageType.ACK : MessageType.RST, msg.messageId);
      this.channel.send(reply, peer);
      this.dedup.set(key, reply);
    } else if (!accepted) {
      // RFC 7641 §3.6: rejecting a NON notification with RST also ends the observation.
      this.channel.send(encodeEmpty(MessageType.RST, msg.messageId), peer);
    }
  }

  private onNotification(msg: Message, peer: Peer): boolean {
    const tokenKey = msg.token.toString('hex');
    const entry = this.observations.get(tokenKey);
    if (entry !== undefined) {
      this.deliver(entry, msg, peer);
      return true;
    }
    if (this.observations.isCancelled(tokenKey) || this.orphanHandler === undefined) return false;
    try {
      return this.orphanHandler(toIncomingResponse(msg, peer)) === true;
    } catch (err) {
      this.reportError(err as Error, peer);
      return false;
    }
  }

  private deliver(entry: ObservationEntry, msg: Message, peer: Peer): void {
    const obsValue = findOption(msg.options, OptionNumber.Observe);
    const seq = obsValue === undefined ? undefined : decodeUint(obsValue);
    // RFC 7641 §3.4: drop a notification older than the newest one delivered (it is still ACKed).
    if (!entry.accept(seq, Date.now())) return;
    // RFC 7641 §3.2: an error response, or a response without Observe, ends the observation.
    if (msg.code >> 5 !== 2 || seq === undefined) this.observations.remove(entry);
    const b2v = findOption(msg.options, OptionNumber.Block2);
    const b2 = b2v === undefined ? undefined : decodeBlock(b2v);
    if (b2 !== undefined && b2.more && msg.code >> 5 === 2 && entry.request !== undefined) {
      // RFC 7959 §3.4: fetch the rest of a large notification with plain GETs (no Observe).
      const r = entry.request;
      const base: CoapOption[] = [];
      for (const s of r.path) base.push({ number: OptionNumber.UriPath, value: Buffer.from(s, 'utf8') });
      for (const q of r.query) base.push({ number: OptionNumber.UriQuery, value: Buffer.from(q, 'utf8') });
      if (r.accept !== undefined) base.push({ number: OptionNumber.Accept, value: encodeUint(r.accept) });
      this.client.completeBlock2(peer, msg, MethodCode.GET as number, sortOptions(base), undefined, this.maxResponseBytes).then(
        ({ msg: last, payload }) => {
          if (last.code >> 5 !== 2 || entry.lastSeq !== seq) return; // failed, or overtaken by a newer notification
          this.callListener(entry, toIncomingResponse(msg, peer, payload), peer);
        },
        (err: unknown) => this.reportError(err as Error, peer),
      );
      return;
    }
    this.callListener(entry, toIncomingResponse(msg, peer), peer);
  }

  private callListener(entry: ObservationEntry, res: IncomingResponse, peer: Peer): void {
    try {
      entry.listener(res);
    } catch (err) {
      this.reportError(err as Error, peer);
    }
  }

  // -------------------------------------------------------------------------------------
  // Requests

  /** A request: its options are read from `this.offsets`, before anything decodes again. */
  private onRequest(msg: MessageHead, datagram: Buffer, peer: Peer): void {
    const con = msg.type === MessageType.CON;
    const key = exchangeKey(msg.messageId, peer);
    const seen = this.dedup.get(key);
    if (seen !== undefined) {
      // RFC 7252 §4.5: a duplicate is never processed again. NON duplicates are ignored.
      if (!con) return;
      if (Buffer.isBuffer(seen)) {
        this.channel.send(seen, peer);
      } else {
        // The handler outlasted the peer's ACK timeout: acknowledge now, answer separately.
        this.channel.send(encodeEmpty(MessageType.ACK, msg.messageId), peer);
        seen.separate = true;
      }
      return;
    }

    const code = msg.code;
    const at = this.offsets;
    const path: string[] = [];
    const query: string[] = [];
    let contentFormat: number | undefined;
    let accept: number | undefined;
    let observe: number | undefined;
    let block1Raw: Buffer | undefined;
    let block2Raw: Buffer | undefined;
    let size1: number | undefined;
    let size2Requested = false;
    let requestTag: Buffer | undefined;
    let badOption = 0;
    let proxy = false;
    for (let i = 0; i < at.count; i++) {
      const number = at.numbers[i]!;
      const start = at.starts[i]!;
      const end = at.ends[i]!;
      switch (number) {
        case OptionNumber.UriPath:
          path.push(datagram.toString('utf8', start, end));
          break;
        case OptionNumber.UriQuery:
          query.push(datagram.toString('utf8', start, end));
          break;
        case OptionNumber.ContentFormat:
          contentFormat = decodeUintAt(datagram, start, end);
          break;
        case OptionNumber.Accept:
          accept = decodeUintAt(datagram, start, end);
          break;
        case OptionNumber.Observe:
          observe = decodeUintAt(datagram, start, end);
          break;
        case OptionNumber.Block1:
          block1Raw = datagram.subarray(start, end);
          break;
        case OptionNumber.Block2:
          block2Raw = datagram.subarray(start, end);
          break;
        case OptionNumber.Size1:
          size1 = decodeUintAt(datagram, start, end);
          break;
        case OptionNumber.Size2:
          size2Requested = true;
          break;
        case OptionNumber.RequestTag:
          requestTag = datagram.subarray(start, end);
          break;
        case OptionNumber.ProxyUri:
        case OptionNumber.ProxyScheme:
          proxy = true;
          break;
        default:
          // RFC 7252 §5.4.1: an unrecognized critical (odd-numbered) option in a request → 4.02.
          if ((number & 1) === 1 && !isKnownOption(number)) badOption = number;
      }
    }

    const reply: Reply = {
      peer,
      confirmable: con,
      messageId: msg.messageId,
      token: msg.token,
      key,
      block2: undefined,
      size2Requested,
      block1Echo: undefined,
      marker: undefined,
      replayable: false,
    };
    const method = code <= 7 ? (MethodName[code] as CoapMethod) : undefined;
    if (method === undefined) return this.replyError(reply, C.MethodNotAllowed, `unknown method code ${code}`);
    if (badOption !== 0) return this.replyError(reply, C.BadOption, `unrecognized critical option ${badOption}`);
    // RFC 7252 §5.7.2: not a proxy → 5.05.
    if (proxy) return this.replyError(reply, C.ProxyingNotSupported, 'this endpoint is not a proxy');
    let block2: BlockValue | undefined;
    if (block2Raw !== undefined) {
      block2 = decodeBlock(block2Raw);
      if (block2 === undefined) return this.replyError(reply, C.BadRequest, 'malformed Block2 option');
    }
    let block1: BlockValue | undefined;
    if (block1Raw !== undefined) {
      block1 = decodeBlock(block1Raw);
      if (block1 === undefined) return this.replyError(reply, C.BadRequest, 'malformed Block1 option');
    }
    const route = this.match(path);
    if (route === undefined) return this.replyError(reply, C.NotFound, undefined);

    let payload = msg.payload;
    let block1Echo: Buffer | undefined;
    if (block1 !== undefined && !route.raw) {
      const rkey = `${peer.address}|${peer.port}|${code}|${path.join('/')}|${requestTag === undefined ? '-' : requestTag.toString('hex')}`;
      const out = this.block1.offer(rkey, block1, payload, size1, route.maxPayloadBytes, Date.now());
      if (out.kind === 'continue') {
        // RFC 7959 §2.3: 2.31 Continue, echoing the block (with our SZX if we want smaller blocks).
        return this.replyCode(reply, C.Continue, [{ number: OptionNumber.Block1, value: encodeBlock(out.num, true, out.szx) }], undefined);
      }
      if (out.kind === 'error') {
        const extra: CoapOption[] = [];
        if (out.size1 !== undefined) extra.push({ number: OptionNumber.Size1, value: encodeUint(out.size1) });
        return this.replyCode(reply, codeToByte(out.code), extra, Buffer.from(out.message, 'utf8'));
      }
      payload = out.payload;
      block1Echo = encodeBlock(out.num, false, out.szx);
    } else if ((size1 !== undefined && size1 > route.maxPayloadBytes) || payload.length > route.maxPayloadBytes) {
      // RFC 7959 §2.9.3: 4.13 with Size1 = the largest size we take.
      return this.replyCode(reply, C.TooLarge, [{ number: OptionNumber.Size1, value: encodeUint(route.maxPayloadBytes) }], undefined);
    } else if (block1 !== undefined) {
      // Raw routes: echo the block unless the handler answers with its own Block1.
      block1Echo = encodeBlock(block1.num, block1.more, Math.min(block1.szx, this.maxSzx));
    }

    const req = new ServerRequest(
      datagram,
      peer,
      method,
      path,
      query,
      contentFormat,
      accept,
      observe,
      msg.token,
      con,
      payload,
      block2 === undefined ? undefined : { num: block2.num, size: block2.size },
      block1 !== undefined && route.raw ? { num: block1.num, more: block1.more, size: block1.size } : undefined,
    );
    const ctx: Reply =
      block2 === undefined && block1Echo === undefined
        ? reply
        : {
            peer,
            confirmable: con,
            messageId: msg.messageId,
            token: msg.token,
            key,
            block2,
            size2Requested,
            block1Echo,
            marker: undefined,
            replayable: block2 !== undefined && code === 1 /* GET */ && observe === undefined,
          };

    let result: OutgoingResponse | Promise<OutgoingResponse>;
    try {
      result = route.handler(req);
    } catch (err) {
      this.handlerFailed(ctx, err);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<OutgoingResponse>).then === 'function') {
      ctx.marker = this.dedup.pending(key);
      (result as Promise<OutgoingResponse>).then(
        (res) => this.respond(ctx, res),
        (err: unknown) => this.handlerFailed(ctx, err),
      );
      return;
    }
    this.respond(ctx, result as OutgoingResponse);
  }

  private match(path: readonly string[]): Route | undefined {
    const routes = this.routes;
    outer: for (let r = 0; r < routes.length; r++) {
      const route = routes[r] as Route;
      const prefix = route.prefix;
      if (prefix.length > path.length) continue;
      for (let i = 0; i < prefix.length; i++) if (prefix[i] !== path[i]) continue outer;
      return route;
    }
    return undefined;
  }

  private handlerFailed(ctx: Reply, err: unknown): void {
    this.reportError(err instanceof Error ? err : new Error(String(err)), ctx.peer);
    // To the peer that asked (node-coap sends this one to localhost).
    this.replyCode(ctx, C.InternalServerError, [], undefined);
  }

  private respond(ctx: Reply, res: OutgoingResponse): void {
    if (this.closed) return;
    let type: MessageType;
    let mid: number;
    // Only an asynchronous handler can have been overtaken by a retransmission.
    const separate = ctx.marker !== undefined && ctx.confirmable && ctx.marker.separate;
    if (!ctx.confirmable) {
      type = MessageType.NON;
      mid = this.nextMessageId();
    } else if (separate) {
      type = MessageType.CON;
      mid = this.nextMessageId();
    } else {
      type = MessageType.ACK;
      mid = ctx.messageId;
    }
    let datagram: Buffer;
    try {
      datagram = this.encodeResponse(type, mid, ctx.token, res, ctx.block2, ctx.size2Requested, ctx.block1Echo);
    } catch (err) {
      this.handlerFailed(ctx, err);
      this.sent(res, ctx.peer);
      return;
    }
    // RFC 7252 §4.5: duplicate detection "MAY be relaxed in case the Confirmable message
    // transports a request that is idempotent". Block2 answers of a GET are not kept for
    // duplicates (a 1 KiB datagram per block: most of the dedup memory and ~20% of the CPU
    // of a firmware download); a duplicate is answered again from the shared payload.
    this.sendReply(ctx, type, mid, datagram, separate, ctx.replayable && ctx.marker === undefined);
    this.sent(res, ctx.peer);
  }

  /** The handler's follow-up, now that its answer is on its way (OutgoingResponse.onSent). */
  private sent(res: OutgoingResponse, peer: Peer): void {
    const onSent = res.onSent;
    if (onSent === undefined) return;
    try {
      onSent();
    } catch (err) {
      this.reportError(err instanceof Error ? err : new Error(String(err)), peer);
    }
  }

  private sendReply(ctx: Reply, type: MessageType, mid: number, datagram: Buffer, separate: boolean, replay = false): void {
    if (separate) {
      this.client.transmitDatagram(ctx.peer, mid, true, ctx.token, datagram, undefined, false).catch((err: unknown) => this.reportError(err as Error, ctx.peer));
      return;
    }
    this.channel.send(datagram, ctx.peer);
    if (replay) return;
    if (type !== MessageType.ACK && type !== MessageType.NON) return;
    if (ctx.marker !== undefined) this.dedup.complete(ctx.marker, datagram);
    else this.dedup.set(ctx.key, datagram);
  }

  private replyError(ctx: Reply, code: number, diagnostic: string | undefined): void {
    this.replyCode(ctx, code, [], diagnostic === undefined ? undefined : Buffer.from(diagnostic, 'utf8'));
  }

  /** A response the endpoint makes itself (errors, 2.31). */
  private replyCode(ctx: Reply, code: number, options: CoapOption[], payload: Buffer | undefined): void {
    const separate = ctx.marker !== undefined && ctx.confirmable && ctx.marker.separate;
    const type = !ctx.confirmable ? MessageType.NON : separate ? MessageType.CON : MessageType.ACK;
    const mid = type === MessageType.ACK ? ctx.messageId : this.nextMessageId();
    const datagram = encode(type, code, mid, ctx.token, options, payload);
    this.sendReply(ctx, type, mid, datagram, separate);
  }

  /**
   * Encodes a handler's response, slicing a payload larger than the block size into the
   * requested Block2 block (RFC 7959 §2.4) without copying it.
   */
  private encodeResponse(
    type: MessageType,
    mid: number,
    token: Buffer,
    res: OutgoingResponse,
    block2: BlockValue | undefined,
    size2Requested: boolean,
    block1Echo: Buffer | undefined,
  ): Buffer {
    let code = codeToByte(res.code);
    const opts: CoapOption[] = [];
    if (res.etag !== undefined) opts.push({ number: OptionNumber.ETag, value: res.etag });
    if (res.observe !== undefined) opts.push({ number: OptionNumber.Observe, value: encodeUint(res.observe & 0xffffff) });
    if (res.locationPath !== undefined) {
      for (const s of res.locationPath) opts.push({ number: OptionNumber.LocationPath, value: Buffer.from(s, 'utf8') });
    }
    if (res.contentFormat !== undefined) opts.push({ number: OptionNumber.ContentFormat, value: encodeUint(res.contentFormat) });
    if (res.maxAge !== undefined) opts.push({ number: OptionNumber.MaxAge, value: encodeUint(res.maxAge) });
    let body = res.payload;
    let size2: number | undefined;
    if (body !== undefined) {
      const total = body.length;
      // The client's block size, capped by ours (RFC 7959 §2.4: the server may answer smaller blocks).
      const szx = block2 === undefined ? this.maxSzx : Math.min(block2.szx, this.maxSzx);
      const size = 1 << (szx + 4);
      if (block2 !== undefined || total > size) {
        // The client's NUM counts in the client's block size; keep the byte offset.
        const offset = block2 === undefined ? 0 : block2.num * block2.size;
        if (offset > 0 && offset >= total) {
          // RFC 7959 §2.2: a block number beyond the representation → 4.02 Bad Option.
          return encode(type, C.BadOption, mid, token, [], Buffer.from(`block ${block2?.num} is beyond the ${total}-byte representation`, 'utf8'));
        }
        const end = Math.min(offset + size, total);
        opts.push({ number: OptionNumber.Block2, value: encodeBlock(offset / size, end < total, szx) });
        body = body.subarray(offset, end);
        size2 = total;
      } else if (size2Requested) {
        size2 = total;
      }
    } else if (size2Requested) {
      size2 = 0;
    }
    if (block1Echo !== undefined) opts.push({ number: OptionNumber.Block1, value: block1Echo });
    // RFC 7959 §4: Size2 with every block-wise answer, and whenever the request asked (Size2=0).
    if (size2 !== undefined) opts.push({ number: OptionNumber.Size2, value: encodeUint(size2) });
    if (res.options !== undefined && res.options.length > 0) {
      for (const o of res.options) {
        // The handler's own Block1/Block2 wins over ours (raw routes).
        if (o.number === OptionNumber.Block1 || o.number === OptionNumber.Block2) removeOption(opts, o.number);
      }
      for (const o of res.options) opts.push(o);
      sortOptions(opts);
    }
    if (code === 0) code = C.InternalServerError;
    return encode(type, code, mid, token, opts, body);
  }
}

/**
 * The deduplication key of a message from `peer`: its address, then the port and the
 * message id as one UTF-16 code unit each (both are 16-bit numbers). Unambiguous — the
 * last two units are always the port and the id — and measured ~40% cheaper to build and
 * hash than a decimal "id|address|port" string.
 */
function exchangeKey(messageId: number, peer: Peer): string {
  return peer.address + String.fromCharCode(peer.port, messageId);
}

function removeOption(opts: CoapOption[], number: number): void {
  for (let i = opts.length - 1; i >= 0; i--) if ((opts[i] as CoapOption).number === number) opts.splice(i, 1);
}

function sameSegments(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

function closedError(): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_COAP_CLOSED', 'the CoAP endpoint is closed');
}
