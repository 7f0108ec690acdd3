/**
 * Device management as one service: operations (DeviceClient), observations, the request
 * queue of sleeping devices, and the device-initiated Send (`POST /dp`). It follows the
 * registrations: a new registration forgets what was learnt about the device and ends its
 * observations, any contact opens a queue-mode device's awake window and delivers what
 * waits for it.
 */
import { peerKey } from '../../../coap';
import type { CoapEndpoint, IncomingRequest, OutgoingResponse, Peer } from '../../../coap/types';
import { Lwm2mFotaError } from '../../../errors';
import type { EventBus } from '../../../events';
import type { DeviceRequestRecord, DeviceRequestStore, ObservationStore } from '../../../store/types';
import type { CompositeEntry } from '../../core/content-formats/codec';
import { createContentFormatRegistry, type ContentFormatRegistry } from '../../core/content-formats/registry';
import type { ModelRegistry } from '../../core/model/registry';
import type { RegistrationService } from '../registration/registration-service';
import { RequestQueue } from './request-queue';
import { AwakeTracker, type AwaitOptions } from './presence';
import { COMPOSITE_FORMATS, validateRequest } from './build';
import { DeviceClient } from './device-client';
import { deviceContext, type DeviceContext } from './device-context';
import { formatName } from './formats';
import { entriesToJson, requestFromJson, requestToJson, responseFromJson, responseToJson, type ResponseJson } from './json';
import { ObservationService } from '../observations/observations';
import type { Lwm2mRequest, Lwm2mResponse, PlainResponse, TransferOptions } from './types';

export interface DeviceManagementOptions {
  readonly coap: CoapEndpoint;
  readonly registrations: RegistrationService;
  readonly models: ModelRegistry;
  /** Default: every format of this package. */
  readonly formats?: ContentFormatRegistry;
  readonly store: { readonly observations: ObservationStore; readonly requests: DeviceRequestStore };
  readonly events: EventBus;
  /** How long (ms) a queue-mode device listens after its last contact. Default 20 000. */
  readonly awakeWindowMs?: number;
  /** One deadline (ms) per exchange with a device; default: the CoAP retransmission schedule. */
  readonly requestTimeoutMs?: number;
  /** Unanswered deliveries of a queued request before it fails. Default 3. */
  readonly maxAttempts?: number;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

export type SubmitResult =
  | { readonly queued: false; readonly response: Lwm2mResponse; readonly context: DeviceContext }
  | { readonly queued: true; readonly request: DeviceRequestRecord; readonly context: DeviceContext };

/** A device-initiated Send, decoded. */
export interface SendReport {
  readonly endpoint: string;
  readonly format: number;
  readonly entries: readonly CompositeEntry[];
}

export class DeviceManagement {
  readonly client: DeviceClient;
  readonly observations: ObservationService;
  readonly queue: RequestQueue;
  readonly awake: AwakeTracker;
  readonly formats: ContentFormatRegistry;
  readonly models: ModelRegistry;
  private readonly registrations: RegistrationService;
  private readonly events: EventBus;
  private readonly log: (line: string) => void;
  /** Registered peers → endpoint, to know who sent a `/dp`. */
  private readonly peers = new Map<string, string>();
  private readonly sendListeners = new Set<(s: SendReport) => void>();
  private unsubscribe: (() => void) | undefined;

  private constructor(o: DeviceManagementOptions) {
    const now = o.now ?? Date.now;
    this.registrations = o.registrations;
    this.events = o.events;
    this.models = o.models;
    this.formats = o.formats ?? createContentFormatRegistry();
    this.log = o.log ?? (() => {});
    this.awake = new AwakeTracker(o.awakeWindowMs ?? 20_000, now);
    this.client = new DeviceClient({
      coap: o.coap,
      formats: this.formats,
      ...(o.requestTimeoutMs === undefined ? {} : { timeoutMs: o.requestTimeoutMs }),
      onContact: (ep) => this.touchAwake(ep),
    });
    this.observations = new ObservationService({
      coap: o.coap,
      client: this.client,
      formats: this.formats,
      store: o.store.observations,
      events: o.events,
      contextOf: (ep) => this.contextOrUndefined(ep),
      onContact: (ep) => this.contacted(ep),
      now,
      log: this.log,
    });
    this.queue = new RequestQueue({
      store: o.store.requests,
      events: o.events,
      send: (rec) => this.deliver(rec),
      ...(o.maxAttempts === undefined ? {} : { maxAttempts: o.maxAttempts }),
      now,
      log: this.log,
    });
  }

  /**
   * Starts following the registrations, re-attaches stored observations and recovers the
   * request queue (requests for devices that are awake go out at once).
   */
  static async start(options: DeviceManagementOptions): Promise<DeviceManagement> {
    const dm = new DeviceManagement(options);
    for (const r of options.registrations.list()) dm.peers.set(peerKey(r), r.endpoint);
    dm.unsubscribe = options.registrations.onChange((c) => dm.onRegistrationChange(c));
    await dm.queue.recover();
    await dm.observations.resume();
    for (const r of options.registrations.list()) {
      if (dm.queue.hasPending(r.endpoint) && (!r.queueMode || dm.awake.isAwake(r.endpoint, r.lastSeen))) void dm.queue.flush(r.endpoint);
    }
    return dm;
  }

  /** Serves the Send operation (`POST /dp`, TS Core 1.1 §6.4.6) on the endpoint. */
  attach(coap: CoapEndpoint): void {
    coap.route(['dp'], (req) => this.handleSend(req), { maxPayloadBytes: 64 * 1024 });
  }

  /** In-process Send listeners; returns the unsubscribe function. */
  onSend(listener: (s: SendReport) => void): () => void {
    this.sendListeners.add(listener);
    return () => this.sendListeners.delete(listener);
  }

  /**
   * The device's context (model, version, peer).
   *
   * @throws Lwm2mFotaError ERR_LWM2M_NOT_REGISTERED.
   */
  context(endpoint: string): DeviceContext {
    const ctx = this.contextOrUndefined(endpoint);
    if (ctx === undefined) {
      throw new Lwm2mFotaError('ERR_LWM2M_NOT_REGISTERED', `device ${endpoint} is not registered`, { context: { endpoint } });
    }
    return ctx;
  }

  private contextOrUndefined(endpoint: string): DeviceContext | undefined {
    const rec = this.registrations.get(endpoint);
    return rec === undefined ? undefined : deviceContext(rec, this.models);
  }

  /** Whether the device listens now: not in queue mode, or contacted within the awake window. */
  isAwake(endpoint: string): boolean {
    const rec = this.registrations.get(endpoint);
    if (rec === undefined) return false;
    return !rec.queueMode || this.awake.isAwake(endpoint, rec.lastSeen);
  }

  /**
   * Waits until the device listens: at once when it does (not in queue mode, or within its
   * awake window), else until its next contact (a register, an update, a notification …).
   * Resolves false when `options` end the wait first (abort, timeout). Event-driven: no
   * polling.
   */
  whenAwake(endpoint: string, options: AwaitOptions = {}): Promise<boolean> {
    return this.awake.until(endpoint, () => this.isAwake(endpoint), options);
  }

  /** The registered endpoint that registered from this address and port, if any. */
  endpointAt(peer: Peer): string | undefined {
    return this.peers.get(peerKey(peer));
  }

  /**
   * Performs an operation now. Response codes are values. `transfer` makes a Write a
   * block-wise transfer with progress and abort (a Package pushed to /5/0/0).
   *
   * @throws Lwm2mFotaError ERR_LWM2M_NOT_REGISTERED; ERR_LWM2M_DEVICE_ASLEEP for a
   *   queue-mode device outside its awake window (use `submit` to queue);
   *   ERR_LWM2M_NO_RESPONSE; ERR_LWM2M_ABORTED (the transfer's signal);
   *   ERR_LWM2M_CONTENT_FORMAT; request errors (ERR_LWM2M_PATH, ERR_LWM2M_VALUE,
   *   ERR_LWM2M_ATTRIBUTES, ERR_LWM2M_UNSUPPORTED_FORMAT).
   */
  async perform(endpoint: string, req: Lwm2mRequest, transfer?: TransferOptions): Promise<Lwm2mResponse> {
    const ctx = this.context(endpoint);
    validateRequest(req, ctx.model);
    if (!this.isAwake(endpoint)) {
      throw new Lwm2mFotaError('ERR_LWM2M_DEVICE_ASLEEP', `${endpoint} is in queue mode and asleep`, { context: { endpoint } });
    }
    if (transfer === undefined || req.operation !== 'write') return this.execute(ctx, req);
    return this.client.perform(ctx, req, transfer);
  }

  /**
   * Sends an operation now, or — for a sleeping queue-mode device — queues it (persisted)
   * and waits for its answer; either way resolves with the same typed answer (what
   * `submit` + `queue.whenFinished` give as JSON, decoded with the device's model).
   *
   * @throws Lwm2mFotaError like `perform` (except ERR_LWM2M_DEVICE_ASLEEP);
   *   ERR_LWM2M_NO_RESPONSE when a queued request failed or was cancelled;
   *   ERR_LWM2M_ABORTED when `options.signal` aborts the wait (a queued request stays queued).
   */
  async request(endpoint: string, req: Lwm2mRequest, options: { readonly signal?: AbortSignal } = {}): Promise<Lwm2mResponse> {
    const { signal } = options;
    const submitted = await abortable(this.submit(endpoint, req), signal, endpoint);
    if (!submitted.queued) return submitted.response;
    const done = await abortable(this.queue.whenFinished(submitted.request.id), signal, endpoint);
    if (done.state === 'completed' && done.result !== undefined) {
      // The model of the registration now: the answer came from the device as it is now.
      return responseFromJson(done.result, this.contextOrUndefined(endpoint)?.model ?? submitted.context.model);
    }
    throw new Lwm2mFotaError('ERR_LWM2M_NO_RESPONSE', `${endpoint}: queued ${req.operation} ${done.state}${done.error === undefined ? '' : `: ${done.error.message}`}`, {
      context: { endpoint },
    });
  }

  /**
   * Performs an operation now, or — for a sleeping queue-mode device, or one that has
   * requests waiting — queues it (persisted) and says so; `queue.whenFinished(id)` then
   * gives its result. Throws like `perform`, except ERR_LWM2M_DEVICE_ASLEEP.
   */
  async submit(endpoint: string, req: Lwm2mRequest): Promise<SubmitResult> {
    const ctx = this.context(endpoint);
    validateRequest(req, ctx.model);
    const rec = this.registrations.get(endpoint);
    const awake = this.isAwake(endpoint);
    if (rec !== undefined && (!rec.queueMode || (awake && !this.queue.hasPending(endpoint)))) {
      return { queued: false, response: await this.execute(ctx, req), context: ctx };
    }
    const request = await this.queue.enqueue(endpoint, requestToJson(req, ctx.model));
    if (awake) void this.queue.flush(endpoint);
    return { queued: true, request, context: ctx };
  }

  /**
   * Cancels an observation: tells the device when it listens, else forgets it here (the
   * device's next notification gets RST).
   *
   * @throws Lwm2mFotaError ERR_LWM2M_OBSERVATION_NOT_FOUND.
   */
  cancelObservation(observationId: string): Promise<PlainResponse> {
    const rec = this.observations.get(observationId);
    const listening = rec !== undefined && this.isAwake(rec.endpoint);
    return this.observations.cancel(observationId, { sendDeregister: listening });
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.queue.close();
    this.observations.close();
  }

  private execute(ctx: DeviceContext, req: Lwm2mRequest): Promise<Lwm2mResponse> {
    if (req.operation === 'observe') return this.observations.observe(ctx, req);
    if (req.operation === 'observeComposite') return this.observations.observeComposite(ctx, req);
    return this.client.perform(ctx, req);
  }

  private async deliver(rec: DeviceRequestRecord): Promise<ResponseJson> {
    const ctx = this.context(rec.endpoint);
    const req = requestFromJson(rec.request, ctx.model);
    const res = await this.execute(ctx, req);
    return responseToJson(res, ctx.model, ctx.rootPath);
  }

  /**
   * Records a contact of a queue-mode device (its awake window starts). Devices that always
   * listen are not tracked: at fleet scale that would be one map entry per device for nothing.
   */
  private touchAwake(endpoint: string, at?: number): void {
    if (this.registrations.get(endpoint)?.queueMode === true) this.awake.touch(endpoint, at);
  }

  /** A device-initiated message: it is awake; deliver what waits for it. */
  private contacted(endpoint: string): void {
    this.touchAwake(endpoint);
    this.deliverQueued(endpoint);
  }

  private deliverQueued(endpoint: string): void {
    if (this.queue.hasPending(endpoint) && !this.queue.isFlushing(endpoint)) void this.queue.flush(endpoint);
  }

  private onRegistrationChange(c: Parameters<Parameters<RegistrationService['onChange']>[0]>[0]): void {
    this.followRegistration(c);
    // Whoever waits for the device checks again (a device that registers without Q listens).
    this.awake.notify(c.registration.endpoint);
  }

  private followRegistration(c: Parameters<Parameters<RegistrationService['onChange']>[0]>[0]): void {
    const r = c.registration;
    switch (c.type) {
      case 'registered':
        if (c.replaced !== undefined) this.peers.delete(peerKey(c.replaced));
        this.peers.set(peerKey(r), r.endpoint);
        this.client.forget(r.endpoint);
        // The registration at hand says whether the device sleeps (no lookup by name).
        if (r.queueMode) this.awake.touch(r.endpoint, r.lastSeen);
        // Most registrations have nothing to drop: no promise chain for them.
        if (this.observations.has(r.endpoint)) void this.observations.drop(r.endpoint, 'reregistered', r.registrationId).finally(() => this.contacted(r.endpoint));
        else this.deliverQueued(r.endpoint);
        return;
      case 'updated':
        this.peers.delete(peerKey(c.previous));
        this.peers.set(peerKey(r), r.endpoint);
        this.touchAwake(r.endpoint, r.lastSeen);
        this.contacted(r.endpoint);
        return;
      case 'deregistered':
      case 'expired':
        if (this.peers.get(peerKey(r)) === r.endpoint) this.peers.delete(peerKey(r));
        this.client.forget(r.endpoint);
        this.awake.forget(r.endpoint);
        void this.observations.drop(r.endpoint, c.type);
        return;
    }
  }

  private async handleSend(req: IncomingRequest): Promise<OutgoingResponse> {
    const text = (code: string, message: string): OutgoingResponse => ({ code, payload: Buffer.from(message, 'utf8'), contentFormat: 0 });
    if (req.method !== 'POST') return text('4.05', `${req.method} is not allowed on /dp`);
    if (req.path.length !== 1) return text('4.04', `no resource /${req.path.join('/')}`);
    const endpoint = this.endpointAt(req.peer);
    const ctx = endpoint === undefined ? undefined : this.contextOrUndefined(endpoint);
    if (endpoint === undefined || ctx === undefined) return text('4.04', 'no registration for this address and port: register first');
    const cf = req.contentFormat;
    if (cf === undefined || !COMPOSITE_FORMATS.has(cf) || !this.formats.has(cf)) {
      return text('4.15', 'Send takes SenML JSON (110), SenML CBOR (112) or LwM2M CBOR (11544)');
    }
    let entries: CompositeEntry[];
    try {
      entries = this.formats.decodeComposite(cf, req.payload, ctx.model);
    } catch (err) {
      return text('4.00', `payload does not decode as ${formatName(cf)}: ${(err as Error).message}`);
    }
    this.contacted(endpoint);
    await this.events.publish({
      type: 'dataSent',
      endpoint,
      data: { format: cf, formatName: formatName(cf), entries: entriesToJson(entries, ctx.model) },
    });
    const report: SendReport = { endpoint, format: cf, entries };
    for (const l of this.sendListeners) {
      try {
        l(report);
      } catch {
        // a listener's failure is its own
      }
    }
    // TS Core 1.1 §6.4.6: the server answers a Send with 2.04 Changed.
    return { code: '2.04' };
  }
}

/** `p`, or ERR_LWM2M_ABORTED as soon as `signal` aborts (p itself runs on). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined, endpoint: string): Promise<T> {
  if (signal === undefined) return p;
  const fail = (): Lwm2mFotaError => new Lwm2mFotaError('ERR_LWM2M_ABORTED', `the request to ${endpoint} was aborted`, { context: { endpoint } });
  if (signal.aborted) return Promise.reject(fail());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(fail());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
