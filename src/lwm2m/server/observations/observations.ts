/**
 * Observe and Observe-Composite (TS Core 1.1 §5.5, RFC 7641): live observations kept in
 * the store, so that a restarted server re-attaches the device's notifications by token
 * instead of rejecting them; every notification becomes a `notified` event.
 *
 * Lifecycle decisions:
 * - A device that registers again has lost its observations ("the LwM2M Client MUST
 *   cancel all observations" on a new registration is how clients behave; TS Core 1.1
 *   §6.2.1 Register creates a new registration): they are cancelled locally, with an
 *   `observationCancelled` event (reason `reregistered`). An Update keeps them.
 * - De-registration and expiry cancel them too (reasons `deregistered`, `expired`).
 * - A notification with an error code, or without Observe, ends the observation
 *   (RFC 7641 §3.2): reason `device`.
 * - A notification whose token nobody knows is rejected with RST (the device stops).
 */
import { randomBytes } from 'node:crypto';
import type { CoapEndpoint, IncomingResponse, ObservationHandle, OutgoingRequest } from '../../../coap/types';
import { Lwm2mFotaError, isLwm2mFotaError } from '../../../errors';
import type { EventBus, EventInput } from '../../../events';
import type { ObservationRecord, ObservationStore } from '../../../store/types';
import type { ContentFormatRegistry } from '../../core/content-formats/registry';
import { formatPath, parsePath, type LwM2mPath } from '../../core/model/path';
import { buildCoapRequest, decodeCoapResponse, uriPath, validateRequest } from '../requests/build';
import type { DeviceClient } from '../requests/device-client';
import { describe, noResponse } from '../requests/device-client';
import type { DeviceContext } from '../requests/device-context';
import { responseToJson } from '../requests/json';
import type { CompositeResponse, ObserveCompositeRequest, ObserveRequest, PlainResponse, ReadResponse } from '../requests/types';

export type ObservationEndReason = 'cancelled' | 'device' | 'reregistered' | 'deregistered' | 'expired' | 'registrationGone';

/** One notification, decoded, as in-process listeners receive it. */
export interface Notification {
  readonly observationId: string;
  readonly endpoint: string;
  readonly kind: 'single' | 'composite';
  readonly paths: readonly LwM2mPath[];
  readonly response: ReadResponse | CompositeResponse;
  /** Set when the payload did not decode (`response` then has no content). */
  readonly error?: { readonly code: string; readonly message: string };
}

export type NotificationListener = (n: Notification) => void;

export interface ObservationServiceOptions {
  readonly coap: CoapEndpoint;
  readonly client: DeviceClient;
  readonly formats: ContentFormatRegistry;
  readonly store: ObservationStore;
  readonly events: EventBus;
  /** The device's current context, undefined when it is not registered. */
  readonly contextOf: (endpoint: string) => DeviceContext | undefined;
  readonly onContact?: (endpoint: string) => void;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

interface Live {
  record: ObservationRecord;
  paths: LwM2mPath[];
  handle: ObservationHandle | undefined;
  /** Set once the device accepted it (and it was persisted). */
  established: boolean;
  /** Composite: the Content-Format of the paths the device took (the record keeps the Accept only). */
  body?: number;
}

const NOT_THAT_FORMAT = new Set(['4.06', '4.15']);

/**
 * Live observations by token, indexed by endpoint too: every registration asks for the
 * observations of one endpoint, which must not cost a walk over the whole fleet's.
 */
class LiveObservations {
  private readonly byToken = new Map<string, Live>();
  private readonly byEndpoint = new Map<string, Set<Live>>();

  get size(): number {
    return this.byToken.size;
  }

  get(token: string): Live | undefined {
    return this.byToken.get(token);
  }

  set(token: string, state: Live): void {
    const old = this.byToken.get(token);
    if (old !== undefined) this.unindex(old);
    this.byToken.set(token, state);
    const ep = state.record.endpoint;
    let set = this.byEndpoint.get(ep);
    if (set === undefined) this.byEndpoint.set(ep, (set = new Set()));
    set.add(state);
  }

  delete(token: string): boolean {
    const old = this.byToken.get(token);
    if (old === undefined) return false;
    this.byToken.delete(token);
    this.unindex(old);
    return true;
  }

  values(): IterableIterator<Live> {
    return this.byToken.values();
  }

  /** The live observations of one endpoint (a copy: callers end them while iterating). */
  ofEndpoint(endpoint: string): Live[] {
    const set = this.byEndpoint.get(endpoint);
    return set === undefined ? [] : [...set];
  }

  clear(): void {
    this.byToken.clear();
    this.byEndpoint.clear();
  }

  private unindex(state: Live): void {
    const ep = state.record.endpoint;
    const set = this.byEndpoint.get(ep);
    if (set === undefined) return;
    set.delete(state);
    if (set.size === 0) this.byEndpoint.delete(ep);
  }
}

export class ObservationService {
  private readonly live = new LiveObservations();
  private readonly listeners = new Set<NotificationListener>();
  private readonly now: () => number;
  private readonly log: (line: string) => void;

  constructor(private readonly o: ObservationServiceOptions) {
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => {});
  }

  /**
   * Re-attaches every stored observation whose registration still exists (by token, via
   * `resumeObservation`) and installs the orphan handler; drops the others.
   */
  async resume(): Promise<void> {
    this.o.coap.setOrphanNotificationHandler((n) => this.onOrphan(n));
    for (const rec of await this.o.store.list()) {
      const ctx = this.o.contextOf(rec.endpoint);
      if (ctx === undefined || ctx.registrationId !== rec.registrationId) {
        await this.o.store.delete(rec.token);
        await this.publishEnd(rec, 'registrationGone');
        continue;
      }
      const paths = rec.paths.map(parsePath);
      const state: Live = { record: rec, paths, handle: undefined, established: true };
      const single = rec.kind === 'single' ? uriPath(paths[0] as LwM2mPath, ctx.rootPath) : undefined;
      state.handle = this.o.coap.resumeObservation(ctx.peer, Buffer.from(rec.token, 'hex'), (n) => this.handleNotification(state, n), single);
      this.live.set(rec.token, state);
    }
  }

  /** In-process subscribers (the update machine); returns the unsubscribe function. */
  subscribe(listener: NotificationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Live observations (established), optionally of one endpoint. */
  list(endpoint?: string): ObservationRecord[] {
    const states = endpoint === undefined ? [...this.live.values()] : this.live.ofEndpoint(endpoint);
    return states.filter((l) => l.established).map((l) => l.record);
  }

  get(observationId: string): ObservationRecord | undefined {
    const l = this.live.get(observationId);
    return l?.established === true ? l.record : undefined;
  }

  /**
   * Observe: GET with Observe=0 in the best format the device takes (stepping down on
   * 4.06). The answer is the first value; `observationId` is set when the device accepted.
   * Throws like `DeviceClient.perform`.
   */
  async observe(ctx: DeviceContext, req: ObserveRequest): Promise<ReadResponse> {
    validateRequest(req, ctx.model);
    const list = req.format !== undefined ? [req.format] : this.o.client.readCandidates(ctx, req.path);
    if (list.length === 0) throw new Lwm2mFotaError('ERR_LWM2M_UNSUPPORTED_FORMAT', `no registered content format can carry ${formatPath(req.path)}`);
    let answer: ReadResponse | undefined;
    for (const [n, f] of list.entries()) {
      const token = randomBytes(8);
      const record: ObservationRecord = {
        token: token.toString('hex'),
        endpoint: ctx.endpoint,
        registrationId: ctx.registrationId,
        kind: 'single',
        paths: [formatPath(req.path)],
        format: f,
        createdAt: this.now(),
      };
      const state: Live = { record, paths: [req.path], handle: undefined, established: false };
      this.live.set(record.token, state);
      const out: OutgoingRequest = { ...buildCoapRequest(req, ctx, this.o.formats, f), token };
      let observation;
      try {
        observation = await this.o.coap.observe(ctx.peer, out, (x) => this.handleNotification(state, x));
      } catch (err) {
        this.live.delete(record.token);
        throw noResponse(err, ctx, describe(req));
      }
      this.o.onContact?.(ctx.endpoint);
      state.handle = observation;
      const res = observation.response;
      if (!observation.established) this.live.delete(record.token);
      if (!observation.established && NOT_THAT_FORMAT.has(res.code) && n < list.length - 1) continue;
      answer = decodeCoapResponse(req, res, ctx, this.o.formats, f) as ReadResponse;
      if (observation.established) answer = await this.established(state, answer);
      break;
    }
    return answer as ReadResponse;
  }

  /**
   * Observe-Composite: FETCH with Observe=0 and the paths in the body (TS Core 1.1 §5.5.1).
   * Needs LwM2M 1.1+. Throws like `DeviceClient.perform`.
   */
  async observeComposite(ctx: DeviceContext, req: ObserveCompositeRequest): Promise<CompositeResponse> {
    validateRequest(req, ctx.model);
    // The paths' format and the answer's are negotiated apart (see CompositeFormats).
    const formats = ctx.lwm2mVersion === '1.0' ? undefined : this.o.client.compositeFormats(ctx, req.format);
    if (formats === undefined) {
      throw new Lwm2mFotaError('ERR_LWM2M_UNSUPPORTED_FORMAT', `observeComposite needs LwM2M 1.1 or later; ${ctx.endpoint} registered with ${ctx.lwm2mVersion}`);
    }
    let answer: CompositeResponse | undefined;
    for (;;) {
      const f = formats.accept;
      const body = formats.body;
      const token = randomBytes(8);
      const record: ObservationRecord = {
        token: token.toString('hex'),
        endpoint: ctx.endpoint,
        registrationId: ctx.registrationId,
        kind: 'composite',
        paths: req.paths.map(formatPath),
        format: f,
        createdAt: this.now(),
      };
      const state: Live = { record, paths: [...req.paths], handle: undefined, established: false, body };
      this.live.set(record.token, state);
      // The endpoint's observe() speaks GET only: attach the listener to the token first
      // (a notification may overtake the answer), then FETCH with Observe=0 ourselves.
      state.handle = this.o.coap.resumeObservation(ctx.peer, token, (x) => this.handleNotification(state, x));
      let res: IncomingResponse;
      try {
        res = await this.o.client.exchange(ctx, { ...buildCoapRequest(req, ctx, this.o.formats, f, body), token }, describe(req));
      } catch (err) {
        this.live.delete(record.token);
        await state.handle.cancel({ sendDeregister: false });
        throw err;
      }
      const established = res.code === '2.05' && res.observe !== undefined;
      if (!established) {
        this.live.delete(record.token);
        await state.handle.cancel({ sendDeregister: false });
        if (formats.step(res.code)) continue;
      }
      answer = decodeCoapResponse(req, res, ctx, this.o.formats, f) as CompositeResponse;
      if (answer.success && req.format === undefined) this.o.client.learnComposite(ctx, body, answer.format);
      if (established) answer = await this.established(state, answer);
      break;
    }
    return answer as CompositeResponse;
  }

  private async established<R extends ReadResponse | CompositeResponse>(state: Live, answer: R): Promise<R> {
    state.established = true;
    const rec = state.record;
    await this.o.store.put(rec);
    await this.publish({
      type: 'observationStarted',
      endpoint: rec.endpoint,
      data: { observationId: rec.token, kind: rec.kind, paths: [...rec.paths], ...(rec.format === undefined ? {} : { format: rec.format }) },
    });
    return { ...answer, observationId: rec.token };
  }

  /**
   * Cancel Observation. With `sendDeregister` (default) the device is told (GET or FETCH
   * with Observe=1, TS Core §5.5.2) and its answer returned; without, or when it does not
   * answer, the observation is forgotten here and its next notification gets RST.
   *
   * @throws Lwm2mFotaError ERR_LWM2M_OBSERVATION_NOT_FOUND for an unknown id.
   */
  async cancel(observationId: string, options: { sendDeregister?: boolean } = {}): Promise<PlainResponse> {
    const state = this.live.get(observationId);
    if (state === undefined || !state.established) {
      throw new Lwm2mFotaError('ERR_LWM2M_OBSERVATION_NOT_FOUND', `no observation ${observationId}`, { context: { observationId } });
    }
    const rec = state.record;
    let response: PlainResponse = { operation: 'cancelObservation', code: '2.05', success: true };
    const ctx = this.o.contextOf(rec.endpoint);
    if (options.sendDeregister !== false && ctx !== undefined) {
      const token = Buffer.from(rec.token, 'hex');
      const out: OutgoingRequest =
        rec.kind === 'single'
          ? { method: 'GET', path: uriPath(state.paths[0] as LwM2mPath, ctx.rootPath), observe: 1, token, ...(rec.format === undefined ? {} : { accept: rec.format }) }
          : this.cancelFetch(ctx, state, token);
      try {
        const res = await this.o.client.exchange(ctx, out, `cancel observation ${rec.token}`);
        response = { operation: 'cancelObservation', code: res.code, success: res.code.startsWith('2.') };
      } catch (err) {
        if (!isLwm2mFotaError(err, 'ERR_LWM2M_NO_RESPONSE')) throw err;
        this.log(`cancel observation ${rec.token} of ${rec.endpoint}: no answer; the next notification gets RST`);
        response = { operation: 'cancelObservation', code: '5.04', success: false, diagnostic: 'the device did not answer; cancelled locally' };
      }
    }
    await this.end(state, 'cancelled');
    return response;
  }

  /**
   * The FETCH with Observe=1 that ends a composite observation: the paths in the format the
   * device took when it began (after a restart: the best body format known for it), Accept
   * as then.
   */
  private cancelFetch(ctx: DeviceContext, state: Live, token: Buffer): OutgoingRequest {
    const accept = state.record.format as number;
    const body = state.body ?? this.o.client.compositeBodyCandidates(ctx)[0] ?? accept;
    return {
      method: 'FETCH',
      path: uriPath({ level: 'root' }, ctx.rootPath),
      observe: 1,
      token,
      contentFormat: body,
      accept,
      payload: this.o.formats.encodePaths(body, state.paths),
    };
  }

  /** Whether the endpoint has any observation, established or starting. */
  has(endpoint: string): boolean {
    return this.live.ofEndpoint(endpoint).length > 0;
  }

  /** Cancels every observation of the endpoint locally (no message to the device), except those of `keepRegistrationId`. */
  async drop(endpoint: string, reason: ObservationEndReason, keepRegistrationId?: string): Promise<void> {
    for (const state of this.live.ofEndpoint(endpoint)) {
      if (state.record.registrationId === keepRegistrationId) continue;
      await this.end(state, reason);
    }
  }

  /** Forgets everything in memory (the store keeps what is persisted). */
  close(): void {
    this.live.clear();
    this.listeners.clear();
  }

  private async end(state: Live, reason: ObservationEndReason, code?: string): Promise<void> {
    const rec = state.record;
    if (this.live.get(rec.token) !== state) return;
    this.live.delete(rec.token);
    await state.handle?.cancel({ sendDeregister: false });
    if (!state.established) return;
    await this.o.store.delete(rec.token).catch(() => false);
    await this.publishEnd(rec, reason, code);
  }

  private publishEnd(rec: ObservationRecord, reason: ObservationEndReason, code?: string): Promise<void> {
    return this.publish({
      type: 'observationCancelled',
      endpoint: rec.endpoint,
      data: { observationId: rec.token, paths: [...rec.paths], reason, ...(code === undefined ? {} : { code }) },
    });
  }

  private async publish(event: EventInput<'observationStarted' | 'observationCancelled' | 'notified'>): Promise<void> {
    try {
      await this.o.events.publish(event);
    } catch (err) {
      this.log(`event ${event.type} not recorded: ${(err as Error).message}`);
    }
  }

  private onOrphan(n: IncomingResponse): boolean {
    const state = this.live.get(n.token.toString('hex'));
    if (state === undefined) return false;
    this.handleNotification(state, n);
    return true;
  }

  private handleNotification(state: Live, n: IncomingResponse): void {
    const rec = state.record;
    this.o.onContact?.(rec.endpoint);
    // A notification that overtakes the answer to the registering request belongs to an
    // observation that is about to be established; deliver it all the same.
    const ctx = this.o.contextOf(rec.endpoint);
    if (ctx === undefined) return;
    const ended = !n.code.startsWith('2.') || n.observe === undefined;
    let response: ReadResponse | CompositeResponse;
    let error: { code: string; message: string } | undefined;
    const req =
      rec.kind === 'single'
        ? ({ operation: 'observe', path: state.paths[0] as LwM2mPath } as const)
        : ({ operation: 'observeComposite', paths: state.paths } as const);
    try {
      response = decodeCoapResponse(req, n, ctx, this.o.formats, rec.format) as ReadResponse | CompositeResponse;
    } catch (err) {
      error = { code: isLwm2mFotaError(err) ? err.code : 'ERR_INTERNAL', message: (err as Error).message };
      response = (rec.kind === 'single'
        ? { operation: 'observe', path: state.paths[0] as LwM2mPath, code: n.code, success: false }
        : { operation: 'observeComposite', paths: state.paths, code: n.code, success: false }) as ReadResponse | CompositeResponse;
    }
    const notification: Notification = {
      observationId: rec.token,
      endpoint: rec.endpoint,
      kind: rec.kind,
      paths: state.paths,
      response,
      ...(error === undefined ? {} : { error }),
    };
    for (const l of this.listeners) {
      try {
        l(notification);
      } catch {
        // a listener's failure is its own
      }
    }
    const { operation: _op, ...json } = responseToJson(response, ctx.model, ctx.rootPath);
    void this.publish({
      type: 'notified',
      endpoint: rec.endpoint,
      data: { observationId: rec.token, ...json, ...(n.observe === undefined ? {} : { sequence: n.observe }), ...(error === undefined ? {} : { error }) },
    });
    if (ended) void this.end(state, 'device', n.code);
  }
}
