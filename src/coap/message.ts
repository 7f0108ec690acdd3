/**
 * The wire format (RFC 7252 §3), both directions our own: a decoder that reads option
 * numbers as numbers and checks every length against the datagram, and a single-allocation
 * encoder. coap-packet (node-coap's codec) measured slower on both paths: its `generate`
 * sorts, allocates one Buffer per option and decodes the payload to a string to test
 * emptiness; its `parse` names every option and truncates an option that runs past the
 * end without saying so (see bench/coap-get.ts and bench/registration.ts).
 */
import type { CoapOption } from './types';
import { OptionNumber } from './types';

export const MessageType = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** A decoded datagram. `code` is the raw code byte (class << 5 | detail). */
export interface Message {
  type: MessageType;
  code: number;
  messageId: number;
  token: Buffer;
  /** Sorted by option number (the wire order). */
  options: CoapOption[];
  payload: Buffer;
}

/** Thrown by `decode` for a datagram that is not a well-formed CoAP message. */
export class MessageFormatError extends Error {
  override readonly name = 'MessageFormatError';
  /** Header fields, when the 4-byte header could be read (lets the caller answer a CON with RST). */
  readonly header: { type: MessageType; messageId: number } | undefined;
  constructor(message: string, header: { type: MessageType; messageId: number } | undefined) {
    super(message);
    this.header = header;
  }
}

/** An option delta or length from its nibble and the extension bytes at `pos`. */
function extendedValue(nibble: number, buf: Buffer, pos: number): number {
  if (nibble === 13) return (buf[pos] as number) + 13;
  if (nibble === 14) return ((buf[pos] as number) << 8 | (buf[pos + 1] as number)) + 269;
  return nibble;
}

/** A datagram's header, token and payload; its options are in an OptionOffsets. */
export type MessageHead = Omit<Message, 'options'>;

/**
 * Where each option of a datagram is, filled by `decodeInto` into arrays that are reused
 * from datagram to datagram: a request is served without an object or a Buffer per option
 * (measured: those were a tenth of the memory a registration allocated).
 */
export class OptionOffsets {
  count = 0;
  readonly numbers: number[] = [];
  readonly starts: number[] = [];
  readonly ends: number[] = [];
}

/**
 * Decodes one datagram's header, token and payload, and the place of its options into
 * `at`. Throws `MessageFormatError` for anything RFC 7252 §3 calls a message format error:
 * wrong version, reserved token length, truncated token or option, option delta or length
 * nibble 15, payload marker without payload, non-empty Empty message.
 *
 * Our own parser rather than coap-packet's: it reads option numbers as numbers (coap-packet
 * names them), allocates nothing per option, and checks every length against the datagram
 * (coap-packet silently truncated an option that ran past the end).
 */
export function decodeInto(buf: Buffer, at: OptionOffsets): MessageHead {
  at.count = 0;
  const len = buf.length;
  if (len < 4) throw new MessageFormatError('datagram shorter than the CoAP header', undefined);
  const b0 = buf[0] as number;
  const header = { type: ((b0 >> 4) & 3) as MessageType, messageId: (buf[2] as number) << 8 | (buf[3] as number) };
  if (b0 >> 6 !== 1) throw new MessageFormatError('unsupported CoAP version', undefined);
  const tkl = b0 & 15;
  // RFC 7252 §3: "Lengths 9-15 are reserved, MUST NOT be sent, and MUST be processed as a message format error."
  if (tkl > 8) throw new MessageFormatError('reserved token length', header);
  const code = buf[1] as number;
  // RFC 7252 §4.1: an Empty message (code 0.00) has nothing after the header.
  if (code === 0 && len !== 4) throw new MessageFormatError('Empty messages must be empty', header);
  let pos = 4 + tkl;
  if (pos > len) throw new MessageFormatError('token runs past the end of the datagram', header);
  const token = buf.subarray(4, pos);
  let count = 0;
  let number = 0;
  let payload: Buffer = EMPTY;
  while (pos < len) {
    const byte = buf[pos++] as number;
    if (byte === 0xff) {
      // RFC 7252 §3: a payload marker followed by a zero-length payload MUST be processed as a format error.
      if (pos === len) throw new MessageFormatError('payload marker without payload', header);
      payload = buf.subarray(pos);
      break;
    }
    const deltaNibble = byte >> 4;
    const lengthNibble = byte & 15;
    if (deltaNibble === 15 || lengthNibble === 15) throw new MessageFormatError('option delta or length 15 without a payload marker', header);
    // RFC 7252 §3.1: nibble 13 → one extension byte (+13), 14 → two (+269).
    const deltaBytes = deltaNibble < 13 ? 0 : deltaNibble - 12;
    const lengthBytes = lengthNibble < 13 ? 0 : lengthNibble - 12;
    if (pos + deltaBytes + lengthBytes > len) throw new MessageFormatError('option runs past the end of the datagram', header);
    const delta = extendedValue(deltaNibble, buf, pos);
    pos += deltaBytes;
    const length = extendedValue(lengthNibble, buf, pos);
    pos += lengthBytes;
    if (pos + length > len) throw new MessageFormatError('option runs past the end of the datagram', header);
    number += delta;
    at.numbers[count] = number;
    at.starts[count] = pos;
    at.ends[count] = pos + length;
    count++;
    pos += length;
  }
  at.count = count;
  return { type: header.type, code, messageId: header.messageId, token, payload };
}

/** The options `at` found in `buf`, as CoapOptions (values are views of the datagram). */
export function optionsAt(buf: Buffer, at: OptionOffsets): CoapOption[] {
  const options: CoapOption[] = new Array<CoapOption>(at.count);
  for (let i = 0; i < at.count; i++) options[i] = { number: at.numbers[i]!, value: buf.subarray(at.starts[i], at.ends[i]) };
  return options;
}

/** `decodeInto` for callers that want the options as objects; decoding is not re-entrant. */
const offsets = new OptionOffsets();

/** Decodes one datagram (see `decodeInto`), options included. */
export function decode(buf: Buffer): Message {
  const h = decodeInto(buf, offsets);
  return { type: h.type, code: h.code, messageId: h.messageId, token: h.token, options: optionsAt(buf, offsets), payload: h.payload };
}

// ---------------------------------------------------------------------------------------
// Encoding

function extBytes(x: number): number {
  return x < 13 ? 0 : x < 269 ? 1 : 2;
}

/**
 * Encodes one message into a fresh Buffer. `options` must be sorted by number (stable:
 * repeated options keep their order). The payload is copied once, into the datagram.
 */
export function encode(
  type: MessageType,
  code: number,
  messageId: number,
  token: Buffer,
  options: readonly CoapOption[],
  payload: Buffer | undefined,
): Buffer {
  const tkl = token.length;
  let len = 4 + tkl;
  let prev = 0;
  for (let i = 0; i < options.length; i++) {
    const o = options[i] as CoapOption;
    const d = o.number - prev;
    const l = o.value.length;
    len += 1 + extBytes(d) + extBytes(l) + l;
    prev = o.number;
  }
  const pl = payload === undefined ? 0 : payload.length;
  if (pl > 0) len += 1 + pl;
  const buf = Buffer.allocUnsafe(len);
  buf[0] = 0x40 | (type << 4) | tkl;
  buf[1] = code;
  buf[2] = messageId >> 8;
  buf[3] = messageId & 0xff;
  let pos = 4;
  if (tkl > 0) pos += token.copy(buf, pos);
  prev = 0;
  for (let i = 0; i < options.length; i++) {
    const o = options[i] as CoapOption;
    const d = o.number - prev;
    const l = o.value.length;
    const hp = pos++;
    let h: number;
    if (d < 13) h = d << 4;
    else if (d < 269) {
      h = 13 << 4;
      buf[pos++] = d - 13;
    } else {
      h = 14 << 4;
      buf[pos++] = (d - 269) >> 8;
      buf[pos++] = (d - 269) & 0xff;
    }
    if (l < 13) h |= l;
    else if (l < 269) {
      h |= 13;
      buf[pos++] = l - 13;
    } else {
      h |= 14;
      buf[pos++] = (l - 269) >> 8;
      buf[pos++] = (l - 269) & 0xff;
    }
    buf[hp] = h;
    if (l > 0) pos += o.value.copy(buf, pos);
    prev = o.number;
  }
  if (pl > 0) {
    buf[pos++] = 0xff;
    (payload as Buffer).copy(buf, pos);
  }
  return buf;
}

/** An Empty message (ACK or RST) for `messageId`. */
export function encodeEmpty(type: MessageType, messageId: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf[0] = 0x40 | (type << 4);
  buf[1] = 0;
  buf[2] = messageId >> 8;
  buf[3] = messageId & 0xff;
  return buf;
}

// ---------------------------------------------------------------------------------------
// Codes

const codeByteCache = new Map<string, number>();
const codeStringCache: string[] = new Array(256);
for (let i = 0; i < 256; i++) {
  const d = i & 31;
  codeStringCache[i] = `${i >> 5}.${d < 10 ? '0' : ''}${d}`;
}

/** "2.05" → 0x45. Throws a TypeError for anything that is not c.dd with c ≤ 7, dd ≤ 31. */
export function codeToByte(code: string): number {
  const cached = codeByteCache.get(code);
  if (cached !== undefined) return cached;
  const m = /^([0-7])\.([0-3][0-9])$/.exec(code);
  const detail = m ? parseInt(m[2] as string, 10) : 99;
  if (!m || detail > 31) throw new TypeError(`not a CoAP code: ${code}`);
  const byte = (parseInt(m[1] as string, 10) << 5) | detail;
  if (codeByteCache.size < 512) codeByteCache.set(code, byte);
  return byte;
}

/** 0x45 → "2.05". */
export function codeToString(byte: number): string {
  return codeStringCache[byte & 0xff] as string;
}

export const MethodCode: Record<string, number> = { GET: 1, POST: 2, PUT: 3, DELETE: 4, FETCH: 5, PATCH: 6, iPATCH: 7 };
export const MethodName: readonly (string | undefined)[] = [undefined, 'GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'];

// ---------------------------------------------------------------------------------------
// Option values

const EMPTY = Buffer.alloc(0);
const smallUints: Buffer[] = [];
for (let i = 0; i < 256; i++) smallUints.push(i === 0 ? EMPTY : Buffer.from([i]));

/** Minimal big-endian unsigned integer (RFC 7252 §3.2 "uint"); 0 is the empty value. Values < 256 share buffers. */
export function encodeUint(value: number): Buffer {
  if (value < 256 && value >= 0) return smallUints[value] as Buffer;
  if (value < 0x10000) return Buffer.from([value >> 8, value & 0xff]);
  if (value < 0x1000000) return Buffer.from([value >> 16, (value >> 8) & 0xff, value & 0xff]);
  return Buffer.from([(value >>> 24) & 0xff, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff]);
}

/** Reads a uint option value of up to 4 bytes (longer values: the low 4 bytes… callers check length). */
export function decodeUint(buf: Buffer): number {
  return decodeUintAt(buf, 0, buf.length);
}

/** `decodeUint` of bytes `start` to `end` of `buf`. */
export function decodeUintAt(buf: Buffer, start: number, end: number): number {
  let v = 0;
  for (let i = start; i < end; i++) v = v * 256 + (buf[i] as number);
  return v;
}

export interface BlockValue {
  readonly num: number;
  readonly more: boolean;
  /** SZX 0..6 */
  readonly szx: number;
  /** 2^(szx+4) */
  readonly size: number;
}

/** Decodes a Block1/Block2 value; undefined when malformed (longer than 3 bytes or SZX 7). */
export function decodeBlock(buf: Buffer): BlockValue | undefined {
  if (buf.length > 3) return undefined;
  const v = decodeUint(buf);
  const szx = v & 7;
  // RFC 7959 §2.2: SZX 7 is reserved and "MUST lead to a 4.00 Bad Request response code upon reception in a request".
  if (szx === 7) return undefined;
  return { num: Math.floor(v / 16), more: (v & 8) !== 0, szx, size: 1 << (szx + 4) };
}

export function encodeBlock(num: number, more: boolean, szx: number): Buffer {
  return encodeUint(num * 16 + (more ? 8 : 0) + szx);
}

/** Block size (16..1024) → SZX; rounds down to a power of two, clamps to 16..1024. */
export function sizeToSzx(size: number): number {
  let szx = 0;
  while (szx < 6 && 1 << (szx + 5) <= size) szx++;
  return szx;
}

/** Options with `number`, in order. */
export function findOption(options: readonly CoapOption[], number: number): Buffer | undefined {
  for (let i = 0; i < options.length; i++) {
    const o = options[i] as CoapOption;
    if (o.number === number) return o.value;
    if (o.number > number) return undefined;
  }
  return undefined;
}

export function stringOptions(options: readonly CoapOption[], number: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const o = options[i] as CoapOption;
    if (o.number === number) out.push(o.value.toString('utf8'));
    else if (o.number > number) break;
  }
  return out;
}

/** Stable sort by option number (insertion sort: option lists are short and nearly sorted). */
export function sortOptions(options: CoapOption[]): CoapOption[] {
  for (let i = 1; i < options.length; i++) {
    const o = options[i] as CoapOption;
    let j = i - 1;
    while (j >= 0 && (options[j] as CoapOption).number > o.number) {
      options[j + 1] = options[j] as CoapOption;
      j--;
    }
    options[j + 1] = o;
  }
  return options;
}

/** Uri-Path segments of a path string ("/5/0/1" → ["5","0","1"]). */
export function splitPath(path: readonly string[] | string): readonly string[] {
  if (typeof path !== 'string') return path;
  return path.split('/').filter((s) => s.length > 0);
}

/** Options known to this layer; an unknown critical (odd) option in a request gets 4.02 (RFC 7252 §5.4.1). */
const KNOWN = new Set<number>(Object.values(OptionNumber));
export function isKnownOption(number: number): boolean {
  return KNOWN.has(number);
}

export { EMPTY as EMPTY_BUFFER };
