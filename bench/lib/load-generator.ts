/**
 * A CoAP load generator for benchmarks, run as a child process so that it does not share
 * the event loop with the server under test.
 *
 * It keeps `inFlight` confirmable requests outstanding, each slot on its own connected UDP
 * socket (RFC 7252 §4.4: a message id must not be reused towards a peer within
 * EXCHANGE_LIFETIME, 247 s; one socket could send only 65,536 requests in that time, and a
 * server that deduplicates correctly would answer the rest from its cache), sends
 * the next request of a slot as soon as its response arrives, retransmits nothing (a slot
 * whose answer is lost is re-issued after `timeoutMs` and counted as a timeout) and prints
 * one JSON line of `LoadStats` to stdout.
 *
 * Requests are described by a template, so the same generator serves several benchmarks:
 * - `GET /test` — 16-byte resources (bench/coap-get.ts);
 * - `POST /rd?ep={unique}&lt=300&b=U` with a link-format payload — LwM2M registrations,
 *   `{n}` / `{unique}` expand to a per-request counter (unique across the run);
 * - `GET /fw/<digest>` with `block2Size` — firmware downloads: each slot follows Block2
 *   until the last block, counting blocks and completed transfers.
 *
 * Use `runLoad(options)` from a benchmark; run the compiled file directly with the options
 * as one JSON argument otherwise.
 */
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { MessageType, encode, encodeBlock, encodeUint } from '../../src/coap/message';
import type { CoapOption } from '../../src/coap/types';

export interface LoadRequestTemplate {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH';
  /** "/rd" or "/fw/abc"; may contain {n} / {unique}. */
  readonly path: string;
  /** Uri-Query items ("ep=dev{n}", "lt=300", "b=U"); may contain {n} / {unique}. */
  readonly query?: readonly string[];
  /** UTF-8 payload (e.g. link format "</1/0>,</3/0>,</5/0>"); may contain {n} / {unique}. */
  readonly payload?: string;
  readonly contentFormat?: number;
  readonly accept?: number;
  /** Ask for Block2 blocks of this size (16..1024) and fetch every block of each transfer. */
  readonly block2Size?: number;
}

export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  /** Outstanding requests at any time (default 16). */
  readonly inFlight?: number;
  /** Measured duration (default 5000 ms). */
  readonly durationMs?: number;
  /** Load before measuring starts (default 1000 ms). */
  readonly warmupMs?: number;
  /** A slot without an answer for this long is re-issued and counted as a timeout (default 2000 ms). */
  readonly timeoutMs?: number;
  /**
   * Count mode: send exactly this many requests (no warm-up), finish when each has an
   * answer, and report the rate over that whole interval. `durationMs` is then only an
   * upper bound.
   */
  readonly total?: number;
  readonly request: LoadRequestTemplate;
}

export interface LoadStats {
  /** Requests sent during the measured interval. */
  readonly sent: number;
  /** Responses with a 2.xx code (blocks included). */
  readonly ok: number;
  /** Responses with any other code. */
  readonly errors: number;
  /** Slots re-issued after `timeoutMs` without an answer. */
  readonly timeouts: number;
  /** Completed Block2 transfers (block2Size only). */
  readonly transfers: number;
  /** Payload bytes received. */
  readonly bytes: number;
  readonly durationMs: number;
  /** `ok` per second. */
  readonly perSecond: number;
  /** Count per response code ("2.05": 123). */
  readonly codes: Record<string, number>;
  /** 2.xx responses including the warm-up (to divide a server's CPU time by). */
  readonly okIncludingWarmup: number;
}

const METHOD: Record<string, number> = { GET: 1, POST: 2, PUT: 3, DELETE: 4, FETCH: 5 };

/** Spawns the generator in a child process and resolves with its statistics. */
export function runLoad(options: LoadOptions): Promise<LoadStats> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line) {
        reject(new Error(`load generator exited with ${code}: ${out}`));
        return;
      }
      resolve(JSON.parse(line) as LoadStats);
    });
  });
}

/** Requests a socket sends before the slot moves to a fresh source port (below 65,536 ids). */
const MIDS_PER_SOCKET = 60000;

interface Slot {
  id: number;
  socket: dgram.Socket | undefined;
  /** Requests sent from the current socket. */
  used: number;
  firstMid: number;
  /** Message id of the request in flight, -1 when none. */
  mid: number;
  sentAt: number;
  block: number;
  datagram: Buffer | undefined;
}

/** Runs the load in this process. */
export async function generateLoad(o: LoadOptions): Promise<LoadStats> {
  const inFlight = o.inFlight ?? 16;
  const total = o.total;
  const durationMs = o.durationMs ?? (total === undefined ? 5000 : 600_000);
  const warmupMs = total === undefined ? (o.warmupMs ?? 1000) : 0;
  let issued = 0;
  let answered = 0;
  let finish: (() => void) | undefined;
  const timeoutMs = o.timeoutMs ?? 2000;
  const t = o.request;
  const code = METHOD[t.method];
  if (code === undefined) throw new Error(`unsupported method ${t.method}`);
  const dynamic = /\{(n|unique)\}/.test(JSON.stringify([t.path, t.query ?? [], t.payload ?? '']));
  const block2Szx = t.block2Size === undefined ? undefined : Math.max(0, Math.min(6, Math.round(Math.log2(t.block2Size)) - 4));
  let counter = 0;
  const unique = `${process.pid.toString(36)}-${Date.now().toString(36)}`;
  const expand = (s: string, n: number) => s.replace(/\{n\}/g, String(n)).replace(/\{unique\}/g, `${unique}-${n}`);

  const build = (slot: Slot): Buffer => {
    const n = counter++;
    const opts: CoapOption[] = [];
    for (const seg of expand(t.path, n).split('/')) if (seg) opts.push({ number: 11, value: Buffer.from(seg) });
    if (t.contentFormat !== undefined) opts.push({ number: 12, value: encodeUint(t.contentFormat) });
    for (const q of t.query ?? []) opts.push({ number: 15, value: Buffer.from(expand(q, n)) });
    if (t.accept !== undefined) opts.push({ number: 17, value: encodeUint(t.accept) });
    if (block2Szx !== undefined) opts.push({ number: 23, value: encodeBlock(slot.block, false, block2Szx) });
    const payload = t.payload === undefined ? undefined : Buffer.from(expand(t.payload, n));
    // Token: the slot id (2 bytes) — answers are matched by message id and checked by token.
    return encode(MessageType.CON, code, slot.mid, Buffer.from([slot.id >> 8, slot.id & 0xff]), opts, payload);
  };

  const family = o.host.includes(':') ? 'udp6' : 'udp4';
  const openSocket = (slot: Slot): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const socket = dgram.createSocket(family);
      socket.once('error', reject);
      socket.connect(o.port, o.host, () => {
        socket.removeListener('error', reject);
        socket.on('error', () => {
          // ICMP port unreachable etc.: the slot times out
        });
        socket.on('message', (buf) => onMessage(slot, buf));
        const old = slot.socket;
        slot.socket = socket;
        slot.used = 0;
        slot.firstMid = Math.floor(Math.random() * 65536);
        old?.close();
        resolve();
      });
    });

  let sent = 0;
  let ok = 0;
  let errors = 0;
  let timeouts = 0;
  let transfers = 0;
  let bytes = 0;
  const codes: Record<string, number> = {};
  let running = true;

  const send = (slot: Slot): void => {
    if (total !== undefined && issued >= total) return;
    if (slot.used >= MIDS_PER_SOCKET) {
      // Move to a fresh source port; the slot resumes once it is connected.
      void openSocket(slot).then(() => send(slot));
      return;
    }
    issued++;
    slot.used++;
    // Per socket, ids run from a random start and never repeat (fewer than 65,536 per socket).
    slot.mid = (slot.firstMid + slot.used) & 0xffff;
    if (dynamic || block2Szx !== undefined || slot.datagram === undefined) {
      slot.datagram = build(slot);
    } else {
      // Same request again: patch the message id in place (the previous send has completed,
      // its answer arrived).
      slot.datagram[2] = slot.mid >> 8;
      slot.datagram[3] = slot.mid & 0xff;
    }
    slot.sentAt = performance.now();
    sent++;
    slot.socket!.send(slot.datagram);
  };

  const onMessage = (slot: Slot, buf: Buffer): void => {
    if (buf.length < 4) return;
    const type = (buf[0] as number) >> 4 & 3;
    const mid = (buf[2] as number) << 8 | (buf[3] as number);
    if (type !== MessageType.ACK) {
      // A separate response: acknowledge it, count it by token.
      if (type === MessageType.CON) slot.socket!.send(Buffer.from([0x60, 0, buf[2] as number, buf[3] as number]));
      return;
    }
    if (mid !== slot.mid) return; // a late answer to a request that already timed out
    const c = buf[1] as number;
    if (c === 0) return; // empty ACK: wait (no separate responses expected in benchmarks)
    const cls = c >> 5;
    const key = `${cls}.${String(c & 31).padStart(2, '0')}`;
    codes[key] = (codes[key] ?? 0) + 1;
    const pm = buf.indexOf(0xff, 4 + ((buf[0] as number) & 15));
    if (cls === 2) {
      ok++;
      if (pm > 0) bytes += buf.length - pm - 1;
    } else errors++;
    answered++;
    if (total !== undefined && answered >= total) finish?.();
    if (block2Szx !== undefined && cls === 2) {
      const more = hasMoreBlock2(buf);
      if (more) slot.block++;
      else {
        slot.block = 0;
        transfers++;
      }
    }
    slot.mid = -1;
    if (running) send(slot);
  };

  const slots: Slot[] = [];
  for (let i = 0; i < inFlight; i++) slots.push({ id: i, socket: undefined, used: 0, firstMid: 0, mid: -1, sentAt: 0, block: 0, datagram: undefined });
  await Promise.all(slots.map((slot) => openSocket(slot)));
  const tStart = performance.now();
  for (const s of slots) send(s);

  const sweep = setInterval(() => {
    const now = performance.now();
    for (const s of slots) {
      if (running && s.mid >= 0 && now - s.sentAt > timeoutMs) {
        timeouts++;
        if (total !== undefined && s.datagram !== undefined) {
          // Count mode: every request must be answered once, so a lost one is retransmitted
          // as CoAP does it, same message id (the server deduplicates it).
          s.sentAt = now;
          s.socket!.send(s.datagram);
        } else {
          s.block = 0;
          send(s);
        }
      }
    }
  }, 100);

  let warmupOk = 0;
  if (warmupMs > 0) {
    await new Promise((r) => setTimeout(r, warmupMs));
    warmupOk = ok;
    sent = ok = errors = timeouts = transfers = bytes = 0;
    for (const k of Object.keys(codes)) delete codes[k];
  }
  const t0 = total === undefined ? performance.now() : tStart;
  await new Promise<void>((r) => {
    const timer = setTimeout(r, durationMs);
    finish = () => {
      clearTimeout(timer);
      r();
    };
  });
  const elapsed = performance.now() - t0;
  const stats: LoadStats = {
    sent,
    ok,
    errors,
    timeouts,
    transfers,
    bytes,
    durationMs: Math.round(elapsed),
    perSecond: Math.round((ok * 1000) / elapsed),
    codes: { ...codes },
    okIncludingWarmup: ok + warmupOk,
  };
  running = false;
  clearInterval(sweep);
  await new Promise((r) => setTimeout(r, 50));
  for (const slot of slots) slot.socket?.close();
  return stats;
}

/** Whether a response datagram carries Block2 with the M bit set (a light option walk). */
function hasMoreBlock2(buf: Buffer): boolean {
  let pos = 4 + ((buf[0] as number) & 15);
  let number = 0;
  while (pos < buf.length) {
    const h = buf[pos++] as number;
    if (h === 0xff) break;
    let d = h >> 4;
    let l = h & 15;
    if (d === 13) d = (buf[pos++] as number) + 13;
    else if (d === 14) {
      d = ((buf[pos] as number) << 8 | (buf[pos + 1] as number)) + 269;
      pos += 2;
    }
    if (l === 13) l = (buf[pos++] as number) + 13;
    else if (l === 14) {
      l = ((buf[pos] as number) << 8 | (buf[pos + 1] as number)) + 269;
      pos += 2;
    }
    number += d;
    if (number === 23) {
      let v = 0;
      for (let i = 0; i < l; i++) v = v * 256 + (buf[pos + i] as number);
      return (v & 8) !== 0;
    }
    if (number > 23) return false;
    pos += l;
  }
  return false;
}

if (require.main === module) {
  const arg = process.argv[2];
  if (!arg) {
    process.stderr.write('usage: node load-generator.js \'{"host":"::1","port":5683,"request":{"method":"GET","path":"/test"}}\'\n');
    process.exit(2);
  }
  generateLoad(JSON.parse(arg) as LoadOptions).then(
    (stats) => {
      process.stdout.write(`${JSON.stringify(stats)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
}
