import { randomBytes } from 'node:crypto';
import type { CoapEndpoint, IncomingRequest, OutgoingResponse, Peer } from '../../../coap/types';
import { ContentFormat, ResponseCode } from '../../../coap/types';
import { isLwm2mFotaError } from '../../../errors';
import { newEvent, type EventBus, type UpdatedEventData } from '../../../events';
import type { RegistrationRecord, RegistrationStore } from '../../../store/types';
import { ExpiryHeap } from './expiry-heap';
import { RecordIndex } from './record-index';
import {
  type Lwm2mVersion,
  RegistrationRejection,
  parseRegisterQuery,
  parseRegistrationLinks,
  parseUpdateQuery,
} from './registration-request';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface RegistrationServiceOptions {
  readonly store: RegistrationStore;
  /**
   * The bus over the same store's event log: a registration and its event are committed
   * together by `store.putWithEvent`, then delivered to the bus's subscribers.
   */
  readonly events: EventBus;
  readonly clock?: Clock;
  /** Extra time after the lifetime before a silent device is dropped (default 0 ms). */
  readonly lifetimeGraceMs?: number;
  /** How often expiry is checked (default 1000 ms). 0 disables the timer (tests call sweep()). */
  readonly sweepIntervalMs?: number;
  /** Largest registration payload accepted (default 16 KiB); beyond it 4.13 + Size1. */
  readonly maxPayloadBytes?: number;
}

export type RegistrationChange =
  | { readonly type: 'registered'; readonly registration: RegistrationRecord; readonly replaced?: RegistrationRecord }
  | { readonly type: 'updated'; readonly registration: RegistrationRecord; readonly previous: RegistrationRecord }
  | { readonly type: 'deregistered'; readonly registration: RegistrationRecord }
  | { readonly type: 'expired'; readonly registration: RegistrationRecord };

export type RegistrationListener = (change: RegistrationChange) => void;

const TEXT = ContentFormat.TextPlain;
/** 64 URI-safe characters in ASCII order, so that string order is numeric order. */
const SORTABLE_ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const ALPHABET_CODES = Buffer.from(SORTABLE_ALPHABET, 'latin1');

function reject(code: string, message: string): OutgoingResponse {
  // RFC 7252 §5.5.2: a diagnostic payload is a human-readable UTF-8 string.
  return { code, payload: Buffer.from(message, 'utf8'), contentFormat: TEXT };
}

/** The 4.xx answer of a refused request; anything else is not a refusal and goes on up. */
function refusal(err: unknown): OutgoingResponse {
  if (err instanceof RegistrationRejection) return reject(err.coapCode, err.message);
  if (isLwm2mFotaError(err, 'ERR_LWM2M_LINK_FORMAT')) return reject(ResponseCode.BadRequest, `malformed link format: ${err.message}`);
  throw err;
}

/**
 * The LwM2M registration interface (`/rd`): Register, Update, De-register and lifetime
 * expiry, with every accepted change committed to the store — and its event to the event
 * log — before the device gets its answer.
 *
 * The change reaches listeners and the bus's subscribers only once the answer has been
 * handed to the socket (`OutgoingResponse.onSent`): whatever they send the device (the
 * inventory's read of /3/0/3, queued requests, an update job's probe) follows the 2.01 or
 * 2.04 on the wire. A client may drop requests that overtake it — Wakaama ignores
 * management requests while its registration is pending, so every registration would cost
 * a retransmission.
 */
export class RegistrationService {
  private readonly byEndpoint = new RecordIndex<RegistrationRecord>((r) => r.endpoint);
  private readonly byId = new RecordIndex<RegistrationRecord>((r) => r.registrationId);
  /**
   * Min-heap of registrations by expiry. A record is stale once an update or a new
   * registration replaced it (it is no longer the endpoint's current record); stale
   * records are skipped when they come out, and dropped by a rebuild once they are many.
   */
  private readonly heap = new ExpiryHeap<RegistrationRecord>();
  private readonly listeners = new Set<RegistrationListener>();
  private readonly store: RegistrationStore;
  private readonly events: EventBus;
  private readonly clock: Clock;
  private readonly graceMs: number;
  private readonly maxPayloadBytes: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  /**
   * Registrations being committed, by endpoint: twice their number, plus 1 once two of them
   * overlapped. Only a registration (not an update, de-registration or expiry) gives an
   * endpoint another registration id, so a registration that overlapped no other one of its
   * endpoint still replaces the record it found when it started: it commits without a
   * second search of the map of every device (a few hundred nanoseconds, cache misses).
   */
  private readonly committing = new Map<string, number>();
  // Interning: thousands of devices share the same address strings and link payloads.
  private readonly interned = new Map<string, string>();
  /** Registration payloads that parsed recently (see decodeLinks). */
  private readonly validPayloads = new Map<string, string>();
  private idPool = Buffer.alloc(0);
  private idPoolOffset = 0;
  private idSeq = 0;
  private readonly idChars = Buffer.alloc(12);

  private constructor(options: RegistrationServiceOptions) {
    this.store = options.store;
    this.events = options.events;
    this.clock = options.clock ?? systemClock;
    this.graceMs = options.lifetimeGraceMs ?? 0;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 16 * 1024;
  }

  /** Loads every stored registration; those whose lifetime ran out while the server was down expire now. */
  static async start(options: RegistrationServiceOptions): Promise<RegistrationService> {
    const service = new RegistrationService(options);
    for (const rec of await options.store.list()) {
      service.seedId(rec.registrationId);
      service.index(rec, service.byEndpoint.get(rec.endpoint));
    }
    await service.sweep();
    const interval = options.sweepIntervalMs ?? 1000;
    if (interval > 0) {
      service.sweepTimer = setInterval(() => void service.sweep(), interval);
      service.sweepTimer.unref();
    }
    return service;
  }

  /** Serves `/rd` on the endpoint. */
  attach(endpoint: CoapEndpoint): void {
    endpoint.route(['rd'], (req) => this.serve(req), { maxPayloadBytes: this.maxPayloadBytes });
  }

  onChange(listener: RegistrationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(endpoint: string): RegistrationRecord | undefined {
    return this.byEndpoint.get(endpoint);
  }

  getById(registrationId: string): RegistrationRecord | undefined {
    return this.byId.get(registrationId);
  }

  /** Registered endpoints, sorted by name. */
  list(): RegistrationRecord[] {
    return [...this.byEndpoint.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  }

  count(): number {
    return this.byEndpoint.size;
  }

  /** Where server-initiated requests for the endpoint go: the address of its last register/update. */
  peerOf(endpoint: string): Peer | undefined {
    const r = this.byEndpoint.get(endpoint);
    return r ? { address: r.address, port: r.port } : undefined;
  }

  /** When the registration lapses (epoch ms), lifetime counted from the last contact. */
  expiresAt(rec: RegistrationRecord): number {
    return rec.lastSeen + rec.lifetime * 1000 + this.graceMs;
  }

  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * The `/rd` route handler for callers other than the endpoint: the answer is taken as
   * sent (listeners and subscribers hear of the change before it resolves). Bad requests
   * get 4.xx with a diagnostic and change nothing.
   */
  async handle(req: IncomingRequest): Promise<OutgoingResponse> {
    const { onSent, ...res } = await this.serve(req);
    onSent?.();
    return res;
  }

  /**
   * `handle` without a promise where none is needed: a refused request is answered at
   * once, an accepted one when the store has committed it.
   */
  private serve(req: IncomingRequest): OutgoingResponse | Promise<OutgoingResponse> {
    try {
      const path = req.path;
      if (path.length > 2) return reject(ResponseCode.NotFound, `no resource ${'/' + path.join('/')}`);
      const id = path[1];
      if (id === undefined) {
        if (req.method !== 'POST') return reject(ResponseCode.MethodNotAllowed, `${req.method} is not allowed on /rd`);
        return this.register(req);
      }
      if (req.method === 'POST') return this.update(id, req).catch(refusal);
      if (req.method === 'DELETE') return this.deregister(id);
      return reject(ResponseCode.MethodNotAllowed, `${req.method} is not allowed on /rd/${id}`);
    } catch (err) {
      return refusal(err);
    }
  }

  private checkFormat(req: IncomingRequest): void {
    if (req.contentFormat !== undefined && req.contentFormat !== ContentFormat.LinkFormat) {
      throw new RegistrationRejection('4.15', `registration payload must be application/link-format (40), got ${req.contentFormat}`);
    }
  }

  /**
   * The registration payload as text, checked: valid UTF-8 and a well-formed LwM2M link
   * list. A fleet sends the same few payloads over and over, so a payload seen recently is
   * not parsed again: the interned text stands for its successful parse.
   */
  private decodeLinks(req: IncomingRequest): string {
    const text = req.payload.toString('utf8');
    const known = this.validPayloads.get(text);
    if (known !== undefined) return known;
    if (text.includes('\uFFFD')) throw new RegistrationRejection('4.00', 'registration payload is not valid UTF-8');
    parseRegistrationLinks(text);
    const interned = this.intern(text);
    if (this.validPayloads.size >= 1024) this.validPayloads.clear();
    this.validPayloads.set(interned, interned);
    return interned;
  }

  /** Validates at once (throwing a refusal); the promise settles once the store committed. */
  private register(req: IncomingRequest): Promise<OutgoingResponse> {
    const params = parseRegisterQuery(req.query);
    this.checkFormat(req);
    const links = this.decodeLinks(req);
    const now = this.clock.now();
    const rec: RegistrationRecord = {
      registrationId: this.newId(now),
      endpoint: params.endpoint,
      address: this.intern(req.peer.address),
      port: req.peer.port,
      lifetime: params.lifetime,
      lwm2mVersion: params.lwm2mVersion,
      binding: this.intern(params.binding),
      queueMode: params.queueMode,
      links,
      registeredAt: now,
      lastSeen: now,
    };
    if (params.smsNumber !== undefined) (rec as { smsNumber?: string }).smsNumber = params.smsNumber;
    const replaced = this.byEndpoint.get(rec.endpoint);
    // One shape for every event of this type (`replaced` undefined is left out of the JSON).
    const data = {
      registrationId: rec.registrationId,
      address: rec.address,
      port: rec.port,
      lifetime: rec.lifetime,
      lwm2mVersion: rec.lwm2mVersion,
      binding: rec.binding,
      replaced: replaced?.registrationId,
    };
    const endpoint = rec.endpoint;
    const c = this.committing.get(endpoint);
    this.committing.set(endpoint, c === undefined ? 2 : (c | 1) + 2);
    // The registration and its event commit in one transaction.
    return this.store.putWithEvent(rec, newEvent({ type: 'registered', endpoint, time: now, data })).then(
      (stored) => {
        // Another registration of the endpoint may have committed meanwhile; only then
        // is `replaced` perhaps not the endpoint's registration any more.
        this.index(rec, this.committed(endpoint) ? this.byEndpoint.get(endpoint) : replaced);
        return {
          code: ResponseCode.Created,
          locationPath: ['rd', rec.registrationId],
          onSent: () => {
            this.events.deliver(stored);
            this.emit(replaced ? { type: 'registered', registration: rec, replaced } : { type: 'registered', registration: rec });
          },
        };
      },
      (err: unknown) => {
        this.committed(endpoint);
        throw err;
      },
    );
  }

  /** Ends a registration's commit (see `committing`); true when it overlapped another one of its endpoint. */
  private committed(endpoint: string): boolean {
    const c = this.committing.get(endpoint)!;
    if (c < 4) this.committing.delete(endpoint);
    else this.committing.set(endpoint, c - 2);
    return (c & 1) !== 0;
  }

  private async update(id: string, req: IncomingRequest): Promise<OutgoingResponse> {
    const previous = this.byId.get(id);
    if (!previous) return reject(ResponseCode.NotFound, `no registration ${id}`);
    const params = parseUpdateQuery(req.query, previous.lwm2mVersion as Lwm2mVersion);
    let links = previous.links;
    if (req.payload.length > 0) {
      this.checkFormat(req);
      links = this.decodeLinks(req);
    }
    const now = this.clock.now();
    const rec: RegistrationRecord = {
      ...previous,
      address: this.intern(req.peer.address),
      port: req.peer.port,
      ...(params.lifetime === undefined ? {} : { lifetime: params.lifetime }),
      ...(params.binding === undefined ? {} : { binding: this.intern(params.binding) }),
      ...(params.queueMode === undefined ? {} : { queueMode: params.queueMode }),
      ...(params.smsNumber === undefined ? {} : { smsNumber: params.smsNumber }),
      links,
      lastSeen: now,
    };
    const changed: { -readonly [K in keyof UpdatedEventData]: UpdatedEventData[K] } = { registrationId: id };
    if (rec.address !== previous.address) changed.address = rec.address;
    if (rec.port !== previous.port) changed.port = rec.port;
    if (rec.lifetime !== previous.lifetime) changed.lifetime = rec.lifetime;
    if (rec.binding !== previous.binding) changed.binding = rec.binding;
    if (rec.queueMode !== previous.queueMode) changed.queueMode = rec.queueMode;
    // `rec` keeps the previous number unless the update brought one.
    if (rec.smsNumber !== previous.smsNumber && rec.smsNumber !== undefined) changed.smsNumber = rec.smsNumber;
    if (links !== previous.links) changed.objectLinks = parseRegistrationLinks(links).objectLinks;
    const stored = await this.store.putWithEvent(rec, newEvent({ type: 'updated', endpoint: rec.endpoint, time: now, data: changed }));
    // A de-registration or re-registration may have won the race while we committed.
    if (this.byId.get(id) !== previous) {
      this.events.deliver(stored);
      return reject(ResponseCode.NotFound, `no registration ${id}`);
    }
    // Still current (checked above): `previous` is the endpoint's registration.
    this.index(rec, previous);
    return {
      code: ResponseCode.Changed,
      onSent: () => {
        this.events.deliver(stored);
        this.emit({ type: 'updated', registration: rec, previous });
      },
    };
  }

  private async deregister(id: string): Promise<OutgoingResponse> {
    const rec = this.byId.get(id);
    if (!rec) return reject(ResponseCode.NotFound, `no registration ${id}`);
    this.unindex(rec);
    await Promise.all([
      this.store.delete(rec.endpoint),
      this.events.publish({ type: 'deregistered', endpoint: rec.endpoint, data: { registrationId: id } }),
    ]);
    return { code: ResponseCode.Deleted, onSent: () => this.emit({ type: 'deregistered', registration: rec }) };
  }

  /** Drops every registration whose lifetime (plus grace) has passed; publishes `expired` for each. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.clock.now();
      const due: RegistrationRecord[] = [];
      while (this.heap.peekTime() <= now) {
        const rec = this.heap.pop()!;
        if (this.byEndpoint.get(rec.endpoint) !== rec) continue;
        this.unindex(rec);
        due.push(rec);
      }
      if (due.length === 0) return;
      await Promise.all(
        due.flatMap((rec) => [
          this.store.delete(rec.endpoint),
          this.events.publish({
            type: 'expired',
            endpoint: rec.endpoint,
            time: now,
            data: { registrationId: rec.registrationId, lastSeen: new Date(rec.lastSeen).toISOString(), lifetime: rec.lifetime },
          }),
        ]),
      );
      for (const rec of due) this.emit({ type: 'expired', registration: rec });
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * Makes `rec` the endpoint's registration, in place of `old`: the endpoint's current one
   * if any, or an earlier record of it with the same registration id (only the id is
   * used). Not a default parameter: `undefined` (a new endpoint, the usual case) would
   * trigger a second lookup in a map of every device.
   */
  private index(rec: RegistrationRecord, old: RegistrationRecord | undefined): void {
    if (old && old.registrationId !== rec.registrationId) this.byId.delete(old.registrationId);
    this.byEndpoint.set(rec);
    this.byId.set(rec);
    this.pushHeap(rec);
  }

  private unindex(rec: RegistrationRecord): void {
    if (this.byEndpoint.get(rec.endpoint)?.registrationId === rec.registrationId) this.byEndpoint.delete(rec.endpoint);
    this.byId.delete(rec.registrationId);
  }

  private emit(change: RegistrationChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // listeners must not break registration
      }
    }
  }

  private intern(s: string): string {
    const hit = this.interned.get(s);
    if (hit !== undefined) return hit;
    if (this.interned.size >= 4096) this.interned.clear();
    this.interned.set(s, s);
    return s;
  }

  /**
   * A registration id: 8 characters of a time-ordered counter then 4 random ones, in an
   * alphabet sorted like ASCII. Ids created later sort later, so the store's unique index
   * on them grows at its right edge instead of taking a random page per registration
   * (measured: the random-key index insert was the costliest part of a registration).
   * Short, because constrained devices keep the Location-Path for their updates.
   */
  private newId(now: number): string {
    const chars = this.idChars;
    // 48 bits: milliseconds × 64, bumped by one when several ids fall in one millisecond.
    this.idSeq = Math.max(now * 64, this.idSeq + 1);
    // Two 24-bit halves, so that the digits come from integer operations.
    const hi = Math.floor(this.idSeq / 0x1000000);
    const lo = this.idSeq - hi * 0x1000000;
    for (let i = 0; i < 4; i++) {
      chars[3 - i] = ALPHABET_CODES[(hi >> (6 * i)) & 63]!;
      chars[7 - i] = ALPHABET_CODES[(lo >> (6 * i)) & 63]!;
    }
    if (this.idPoolOffset + 3 > this.idPool.length) {
      this.idPool = randomBytes(3 * 1024);
      this.idPoolOffset = 0;
    }
    const pool = this.idPool;
    const o = this.idPoolOffset;
    const r = (pool[o]! << 16) | (pool[o + 1]! << 8) | pool[o + 2]!;
    this.idPoolOffset = o + 3;
    for (let i = 0; i < 4; i++) chars[8 + i] = ALPHABET_CODES[(r >> (6 * i)) & 63]!;
    // Unique without a lookup: the counter only grows, and starts above every stored id (seedId).
    return chars.toString('latin1', 0, 12);
  }

  /** Moves the id counter past a stored id of ours, so that no new id can repeat it. */
  private seedId(id: string): void {
    if (id.length !== 12) return;
    let v = 0;
    for (let i = 0; i < 8; i++) {
      const digit = SORTABLE_ALPHABET.indexOf(id[i]!);
      if (digit < 0) return;
      v = v * 64 + digit;
    }
    this.idSeq = Math.max(this.idSeq, v);
  }

  private pushHeap(rec: RegistrationRecord): void {
    // Updates leave stale records behind; rebuild once they are half as many as the live ones.
    if (this.heap.size > 1.5 * this.byEndpoint.size + 1024) this.heap.reset(this.byEndpoint.values(), (r) => this.expiresAt(r));
    this.heap.push(rec, this.expiresAt(rec));
  }
}
