/**
 * The client half of the endpoint: requests leave from the endpoint's own channel (so a
 * device behind a NAT sees them come from the port it registered to), with RFC 7252 §4.2
 * retransmission per the endpoint's transmission parameters, separate responses, RST, one
 * optional deadline for a whole block-wise exchange, a Block1 sender that follows the
 * server's block size (RFC 7959 §2.5, §2.9.3) and Block2 reassembly (§2.4).
 *
 * Timers: one `setTimeout` per datagram awaiting an ACK or a response (Node keeps timers
 * of equal duration in one list, so this is O(1) per message); none on the server path.
 */
import { randomFillSync } from 'node:crypto';
import { Lwm2mFotaError } from '../errors';
import { canonicalAddress } from './channel';
import {
  MessageType,
  codeToString,
  decodeBlock,
  decodeUint,
  encode,
  encodeBlock,
  encodeUint,
  findOption,
  MethodCode,
  sizeToSzx,
  sortOptions,
  splitPath,
  stringOptions,
  type BlockValue,
  type Message,
} from './message';
import type {
  CoapOption,
  DatagramChannel,
  IncomingResponse,
  OutgoingRequest,
  Peer,
  TransmissionParameters,
} from './types';
import { OptionNumber } from './types';

/** What the client half needs from its endpoint. */
export interface ClientContext {
  readonly channel: DatagramChannel;
  readonly params: TransmissionParameters;
  /** The largest SZX the endpoint uses (from `maxBlockSize`). */
  readonly maxSzx: number;
  readonly maxResponseBytes: number;
  nextMessageId(): number;
}

export function peerKey(peer: Peer): string {
  return `${canonicalAddress(peer.address)}|${peer.port}`;
}

const CODE_CONTINUE = 0x5f; // 2.31
const CODE_TOO_LARGE = 0x8d; // 4.13

// Tokens: 8 random bytes (RFC 9175 §4.2 asks for unpredictable tokens), drawn from a pool.
const tokenPool = Buffer.alloc(8 * 512);
let tokenPoolPos = tokenPool.length;
export function randomToken(length = 8): Buffer {
  if (tokenPoolPos + length > tokenPool.length) {
    randomFillSync(tokenPool);
    tokenPoolPos = 0;
  }
  const t = Buffer.from(tokenPool.subarray(tokenPoolPos, tokenPoolPos + length));
  tokenPoolPos += length;
  return t;
}

/** One datagram awaiting its ACK and/or response. */
class Pending {
  retransmits = 0;
  timer: NodeJS.Timeout | undefined = undefined;
  /** An empty ACK arrived: no more retransmissions, wait for the separate response. */
  acked = false;
  done = false;
  constructor(
    readonly client: Client,
    readonly peer: Peer,
    readonly key: string,
    readonly messageId: number,
    /** undefined: only an ACK is expected (separate responses, notifications). */
    readonly tokenKey: string | undefined,
    readonly token: Buffer,
    readonly datagram: Buffer,
    readonly confirmable: boolean,
    public timeout: number,
    readonly deadline: number | undefined,
    readonly resolve: (m: Message | undefined) => void,
    readonly reject: (e: Error) => void,
  ) {}
}

function onPendingTimer(p: Pending): void {
  p.client.timerFired(p);
}

function timeoutError(p: Pending, what: string): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_COAP_TIMEOUT', `no ${what} from ${p.peer.address} port ${p.peer.port}`, {
    context: { peer: p.peer.address, port: p.peer.port, messageId: p.messageId },
  });
}

export function toIncomingResponse(msg: Message, peer: Peer, payload: Buffer = msg.payload): IncomingResponse {
  const cf = findOption(msg.options, OptionNumber.ContentFormat);
  const obs = findOption(msg.options, OptionNumber.Observe);
  return {
    peer,
    code: codeToString(msg.code),
    payload,
    contentFormat: cf === undefined ? undefined : decodeUint(cf),
    observe: obs === undefined ? undefined : decodeUint(obs),
    locationPath: stringOptions(msg.options, OptionNumber.LocationPath),
    token: msg.token,
    options: msg.options,
  };
}

function blockOption(msg: Message, number: number): BlockValue | undefined {
  const v = findOption(msg.options, number);
  return v === undefined ? undefined : decodeBlock(v);
}

function blockwiseError(message: string, peer: Peer): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_COAP_BLOCKWISE', message, { context: { peer: peer.address, port: peer.port } });
}

/** The options of a request without any block-wise options, sorted. */
function baseOptions(req: OutgoingRequest, path: readonly string[], withObserve: boolean): CoapOption[] {
  const opts: CoapOption[] = [];
  if (withObserve && req.observe !== undefined) opts.push({ number: OptionNumber.Observe, value: encodeUint(req.observe) });
  for (const seg of path) opts.push({ number: OptionNumber.UriPath, value: Buffer.from(seg, 'utf8') });
  if (req.contentFormat !== undefined) opts.push({ number: OptionNumber.ContentFormat, value: encodeUint(req.contentFormat) });
  if (req.query) for (const q of req.query) opts.push({ number: OptionNumber.UriQuery, value: Buffer.from(q, 'utf8') });
  if (req.accept !== undefined) opts.push({ number: OptionNumber.Accept, value: encodeUint(req.accept) });
  if (req.options) for (const o of req.options) opts.push(o);
  return sortOptions(opts);
}

function withOptions(base: readonly CoapOption[], extra: CoapOption[]): CoapOption[] {
  return sortOptions(base.concat(extra));
}

export class Client {
  private readonly byMessageId = new Map<number, Pending>();
  private readonly byToken = new Map<string, Pending>();
  private closed = false;

  constructor(private readonly ctx: ClientContext) {}

  get pendingCount(): number {
    return this.byMessageId.size + this.byToken.size;
  }

  // -------------------------------------------------------------------------------------
  // One datagram

  /**
   * Sends one request (or, with `expectResponse` false, a confirmable response or
   * notification) and waits for what answers it. Resolves with the response message, or
   * undefined for an acknowledged ACK-only message.
   */
  transmit(
    peer: Peer,
    confirmable: boolean,
    code: number,
    token: Buffer,
    options: readonly CoapOption[],
    payload: Buffer | undefined,
    deadline: number | undefined,
    expectResponse = true,
  ): Promise<Message | undefined> {
    if (this.closed) return Promise.reject(closedError());
    const mid = this.ctx.nextMessageId();
    const datagram = encode(confirmable ? MessageType.CON : MessageType.NON, code, mid, token, options, payload);
    return this.transmitDatagram(peer, mid, confirmable, token, datagram, deadline, expectResponse);
  }

  /** Sends a ready-made datagram (message id `mid`) and tracks it like `transmit`. */
  transmitDatagram(
    peer: Peer,
    mid: number,
    confirmable: boolean,
    token: Buffer,
    datagram: Buffer,
    deadline: number | undefined,
    expectResponse: boolean,
  ): Promise<Message | undefined> {
    if (this.closed) return Promise.reject(closedError());
    const params = this.ctx.params;
    return new Promise<Message | undefined>((resolve, reject) => {
      const key = peerKey(peer);
      const tokenKey = expectResponse ? token.toString('hex') : undefined;
      if (tokenKey !== undefined) {
        const clash = this.byToken.get(tokenKey);
        if (clash) this.fail(clash, new Lwm2mFotaError('ERR_COAP_SEND_FAILED', 'token reused by a newer request'));
      }
      const initial = confirmable
        ? params.ackTimeoutMs * (1 + Math.random() * (params.ackRandomFactor - 1))
        : params.maxTransmitWaitMs;
      const p = new Pending(this, peer, key, mid, tokenKey, token, datagram, confirmable, initial, deadline, resolve, reject);
      // NON requests too: the peer may reject them with RST.
      const old = this.byMessageId.get(mid);
      if (old) this.fail(old, new Lwm2mFotaError('ERR_COAP_SEND_FAILED', 'message id reused'));
      this.byMessageId.set(mid, p);
      if (tokenKey !== undefined) this.byToken.set(tokenKey, p);
      this.arm(p, initial);
      this.ctx.channel.send(datagram, peer, (err) => {
        if (err) this.fail(p, new Lwm2mFotaError('ERR_COAP_SEND_FAILED', `send to ${peer.address} port ${peer.port} failed: ${err.message}`, { cause: err }));
      });
      if (!confirmable && !expectResponse) this.finish(p, undefined);
    });
  }

  private arm(p: Pending, ms: number): void {
    if (p.deadline !== undefined) ms = Math.max(0, Math.min(ms, p.deadline - Date.now()));
    p.timer = setTimeout(onPendingTimer, ms, p);
  }

  /** @internal */
  timerFired(p: Pending): void {
    p.timer = undefined;
    if (p.done) return;
    if (p.deadline !== undefined && Date.now() >= p.deadline) {
      this.fail(p, timeoutError(p, 'answer within the deadline'));
      return;
    }
    if (!p.confirmable || p.acked) {
      this.fail(p, timeoutError(p, 'response'));
      return;
    }
    if (p.retransmits >= this.ctx.params.maxRetransmit) {
      this.fail(p, timeoutError(p, 'acknowledgement'));
      return;
    }
    p.retransmits++;
    p.timeout *= 2;
    this.arm(p, p.timeout);
    this.ctx.channel.send(p.datagram, p.peer, (err) => {
      if (err) this.fail(p, new Lwm2mFotaError('ERR_COAP_SEND_FAILED', `send to ${p.peer.address} failed: ${err.message}`, { cause: err }));
    });
  }

  private release(p: Pending): void {
    p.done = true;
    if (p.timer !== undefined) {
      clearTimeout(p.timer);
      p.timer = undefined;
    }
    if (this.byMessageId.get(p.messageId) === p) this.byMessageId.delete(p.messageId);
    if (p.tokenKey !== undefined && this.byToken.get(p.tokenKey) === p) this.byToken.delete(p.tokenKey);
  }

  private finish(p: Pending, m: Message | undefined): void {
    if (p.done) return;
    this.release(p);
    p.resolve(m);
  }

  private fail(p: Pending, err: Error): void {
    if (p.done) return;
    this.release(p);
    p.reject(err);
  }

  /** An ACK (empty or piggybacked) arrived. Returns false when it matches nothing of ours. */
  onAck(msg: Message, peer: Peer): boolean {
    const p = this.byMessageId.get(msg.messageId);
    if (!p || p.key !== peerKey(peer)) return false;
    if (msg.code === 0) {
      if (p.tokenKey === undefined) {
        this.finish(p, undefined);
      } else if (!p.acked) {
        // RFC 7252 §5.2.2: empty ACK now, separate response later; stop retransmitting.
        p.acked = true;
        this.byMessageId.delete(p.messageId);
        if (p.timer !== undefined) clearTimeout(p.timer);
        this.arm(p, this.ctx.params.maxTransmitWaitMs);
      }
      return true;
    }
    if (p.tokenKey === undefined || !msg.token.equals(p.token)) return false;
    this.finish(p, msg);
    return true;
  }

  /** An RST arrived. */
  onReset(msg: Message, peer: Peer): boolean {
    const p = this.byMessageId.get(msg.messageId);
    if (!p || p.key !== peerKey(peer)) return false;
    this.fail(
      p,
      new Lwm2mFotaError('ERR_COAP_RESET', `${peer.address} port ${peer.port} rejected the message (RST)`, {
        context: { peer: peer.address, port: peer.port, messageId: p.messageId },
      }),
    );
    return true;
  }

  /** A CON or NON response arrived (separate response). Returns false when no request waits for its token. */
  onResponse(msg: Message, peer: Peer): boolean {
    if (this.byToken.size === 0) return false;
    const p = this.byToken.get(msg.token.toString('hex'));
    if (!p || p.key !== peerKey(peer)) return false;
    this.finish(p, msg);
    return true;
  }

  close(): void {
    this.closed = true;
    const err = closedError();
    for (const p of [...this.byMessageId.values(), ...this.byToken.values()]) this.fail(p, err);
  }

  // -------------------------------------------------------------------------------------
  // Requests

  async request(peer: Peer, req: OutgoingRequest): Promise<IncomingResponse> {
    const { msg, payload, first } = await this.requestMessage(peer, req, req.token ?? randomToken());
    // After a Block2 transfer the first block's options (Content-Format, ETag, Size2, Observe) describe the whole.
    return toIncomingResponse(msg.code >> 5 === 2 ? first : msg, peer, payload);
  }

  /** The exchange behind `request()`: Block1 sending and Block2 reassembly included. */
  async requestMessage(peer: Peer, req: OutgoingRequest, token: Buffer): Promise<{ msg: Message; payload: Buffer; first: Message }> {
    const code = MethodCode[req.method];
    if (code === undefined) throw new TypeError(`unknown CoAP method ${req.method}`);
    const path = splitPath(req.path);
    const deadline = req.timeoutMs !== undefined ? Date.now() + req.timeoutMs : undefined;
    const confirmable = req.confirmable ?? true;
    const base = baseOptions(req, path, true);
    let msg: Message;
    if (req.payload !== undefined && req.payload.length > 0) {
      msg = await this.sendWithBlock1(peer, req, confirmable, code, token, base, req.payload, deadline);
    } else {
      const extra: CoapOption[] = [];
      if (req.block2Size !== undefined) {
        extra.push({ number: OptionNumber.Block2, value: encodeBlock(0, false, Math.min(sizeToSzx(req.block2Size), this.ctx.maxSzx)) });
      }
      msg = (await this.transmit(peer, confirmable, code, token, extra.length ? withOptions(base, extra) : base, undefined, deadline)) as Message;
    }
    const whole = await this.completeBlock2(peer, msg, code, baseOptions(req, path, false), deadline, req.maxResponseBytes ?? this.ctx.maxResponseBytes);
    return { msg: whole.msg, payload: whole.payload, first: msg };
  }

  /**
   * Sends `payload`, block-wise when it exceeds the block size. Follows a smaller SZX in
   * 2.31 (continuing at the same byte offset) and restarts at the size a 4.13 suggests in
   * its Block1 option; a 4.13 whose Size1 is below the total, and any other code, is the
   * answer. Same token for every block (servers that key Block1 state by token need it).
   */
  private async sendWithBlock1(
    peer: Peer,
    req: OutgoingRequest,
    confirmable: boolean,
    code: number,
    token: Buffer,
    base: CoapOption[],
    payload: Buffer,
    deadline: number | undefined,
  ): Promise<Message> {
    const total = payload.length;
    let szx = Math.min(sizeToSzx(req.block1Size ?? 1024), this.ctx.maxSzx);
    let blockwise = total > 1 << (szx + 4);
    let tag = this.requestTag(req);
    let offset = 0;
    let restarts = 0;
    for (;;) {
      const size = 1 << (szx + 4);
      const num = offset / size;
      const end = Math.min(offset + size, total);
      const more = end < total;
      let opts = base;
      if (blockwise) {
        const extra: CoapOption[] = [
          { number: OptionNumber.Block1, value: encodeBlock(num, more, szx) },
          { number: OptionNumber.Size1, value: encodeUint(total) },
        ];
        if (tag !== undefined) extra.push({ number: OptionNumber.RequestTag, value: tag });
        opts = withOptions(base, extra);
      }
      const res = (await this.transmit(peer, confirmable, code, token, opts, blockwise ? payload.subarray(offset, end) : payload, deadline)) as Message;
      const b1 = blockOption(res, OptionNumber.Block1);
      if (blockwise && more && (res.code === CODE_CONTINUE || (res.code >> 5 === 2 && b1 !== undefined))) {
        if (b1 !== undefined && b1.szx === szx && b1.num !== num) {
          throw blockwiseError(`server acknowledged block ${b1.num} for block ${num}`, peer);
        }
        offset = end;
        // RFC 7959 §2.5: a smaller SZX in the answer sets the size from here on (the offset stays).
        if (b1 !== undefined && b1.szx < szx) szx = b1.szx;
        req.onProgress?.(offset, total, 1 << (szx + 4));
        continue;
      }
      if (res.code === CODE_TOO_LARGE) {
        const s1 = findOption(res.options, OptionNumber.Size1);
        // RFC 7959 §2.9.3 / §4: Size1 in a 4.13 is the largest total the server accepts.
        if (s1 !== undefined && decodeUint(s1) < total) return res;
        const hint = b1 !== undefined ? b1.szx : undefined;
        if (hint !== undefined && (hint < szx || !blockwise) && restarts < 7) {
          szx = Math.min(hint, szx);
          blockwise = true;
          offset = 0;
          restarts++;
          if (req.requestTag === true) tag = randomToken(4);
          continue;
        }
        return res;
      }
      if (!more && res.code >> 5 === 2) req.onProgress?.(total, total, size);
      return res;
    }
  }

  private requestTag(req: OutgoingRequest): Buffer | undefined {
    if (req.requestTag === true) return randomToken(4);
    if (Buffer.isBuffer(req.requestTag)) return req.requestTag;
    return undefined;
  }

  /**
   * Fetches the remaining Block2 blocks of `first` (RFC 7959 §2.4) and returns the whole
   * payload with the last block's message. A new token per block request. An error code
   * for a later block is the answer (a value, like any response). Throws
   * ERR_COAP_TOO_LARGE beyond `limit`, ERR_COAP_BLOCKWISE when the server answers out of
   * order or the ETag changes.
   */
  async completeBlock2(
    peer: Peer,
    first: Message,
    code: number,
    base: CoapOption[],
    deadline: number | undefined,
    limit: number,
  ): Promise<{ msg: Message; payload: Buffer }> {
    let b2 = blockOption(first, OptionNumber.Block2);
    if (b2 === undefined || !b2.more || first.code >> 5 !== 2) return { msg: first, payload: first.payload };
    if (b2.num !== 0) throw blockwiseError(`first response carries block ${b2.num}`, peer);
    const s2 = findOption(first.options, OptionNumber.Size2);
    if (s2 !== undefined && decodeUint(s2) > limit) throw tooLarge(decodeUint(s2), limit, peer);
    const etag = findOption(first.options, OptionNumber.ETag);
    const chunks = [first.payload];
    let last = first;
    let received = first.payload.length;
    while (b2.more) {
      if (received % b2.size !== 0) throw blockwiseError(`block boundary ${received} is not a multiple of ${b2.size}`, peer);
      const num = received / b2.size;
      const opts = withOptions(base, [{ number: OptionNumber.Block2, value: encodeBlock(num, false, b2.szx) }]);
      const res = (await this.transmit(peer, true, code, randomToken(), opts, undefined, deadline)) as Message;
      if (res.code >> 5 !== 2) return { msg: res, payload: res.payload };
      const nb = blockOption(res, OptionNumber.Block2);
      if (nb === undefined || nb.num * nb.size !== received) throw blockwiseError(`asked for offset ${received}, got ${nb ? nb.num * nb.size : 'no Block2'}`, peer);
      const et = findOption(res.options, OptionNumber.ETag);
      if ((etag === undefined) !== (et === undefined) || (etag !== undefined && et !== undefined && !etag.equals(et))) {
        // RFC 7959 §2.4: a changed ETag means the representation changed under us.
        throw blockwiseError('ETag changed during a Block2 transfer', peer);
      }
      received += res.payload.length;
      if (received > limit) throw tooLarge(received, limit, peer);
      chunks.push(res.payload);
      b2 = nb;
      last = res;
    }
    return { msg: last, payload: Buffer.concat(chunks, received) };
  }
}

function tooLarge(size: number, limit: number, peer: Peer): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_COAP_TOO_LARGE', `response of ${size} bytes exceeds the limit of ${limit}`, {
    context: { peer: peer.address, port: peer.port, size, limit },
  });
}

function closedError(): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_COAP_CLOSED', 'the CoAP endpoint is closed');
}

export { MethodCode };
