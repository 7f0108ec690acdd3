/**
 * Queue mode (TS Core 1.1 §6.5, Transport §5: binding "UQ" in 1.0, the `Q` parameter in
 * 1.1+): a device in queue mode listens only for a while after it contacted the server.
 * Requests for a sleeping device wait here, persisted, and go out in submission order when
 * it next registers or updates (or otherwise shows it is awake). Each request ends
 * `completed` (the device answered, whatever the code), `failed` (no answer after
 * `maxAttempts` wake-ups, or a request that cannot be sent) or `cancelled`; its result is
 * kept, published as an event and handed to whoever waits for it.
 *
 * Delivery is at least once: a request that was on the wire when the server stopped goes
 * out again after the restart.
 */
import { randomUUID } from 'node:crypto';
import { Lwm2mFotaError, isLwm2mFotaError } from '../../../errors';
import type { EventBus, EventInput, RequestEventBase } from '../../../events';
import type { ResponseJson } from './json';
import type { DeviceRequestRecord, DeviceRequestStore } from '../../../store/types';

export interface RequestQueueOptions {
  readonly store: DeviceRequestStore;
  readonly events: EventBus;
  /**
   * Sends one request now and resolves with the device's answer as JSON. Throws
   * ERR_LWM2M_NO_RESPONSE / ERR_LWM2M_DEVICE_ASLEEP / ERR_LWM2M_NOT_REGISTERED when it
   * could not be delivered (it stays queued), anything else when it never can be (failed).
   */
  readonly send: (record: DeviceRequestRecord) => Promise<ResponseJson>;
  /** Unanswered deliveries before a request fails (default 3). */
  readonly maxAttempts?: number;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

/** Errors after which the request waits for the next wake-up instead of failing. */
const RETRY_LATER = new Set(['ERR_LWM2M_NO_RESPONSE', 'ERR_LWM2M_DEVICE_ASLEEP', 'ERR_LWM2M_NOT_REGISTERED']);

const isFinal = (r: DeviceRequestRecord): boolean => r.state === 'completed' || r.state === 'failed' || r.state === 'cancelled';

export class RequestQueue {
  private readonly store: DeviceRequestStore;
  private readonly events: EventBus;
  private readonly maxAttempts: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly draining = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, Array<(r: DeviceRequestRecord) => void>>();
  /** Endpoints with requests waiting (kept in memory: asked on every contact of a device). */
  private readonly pending = new Set<string>();
  private closed = false;

  constructor(private readonly options: RequestQueueOptions) {
    this.store = options.store;
    this.events = options.events;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  /** After a restart: requests that were on the wire go back to `queued`. */
  async recover(): Promise<void> {
    for (const endpoint of await this.store.pendingEndpoints()) {
      this.pending.add(endpoint);
      for (const r of await this.store.listPending(endpoint)) {
        if (r.state === 'sending') await this.store.put({ ...r, state: 'queued', updatedAt: this.now() });
      }
    }
  }

  /** Persists a request at the end of the endpoint's queue and publishes `requestQueued`. */
  async enqueue(endpoint: string, request: DeviceRequestRecord['request'], id: string = randomUUID()): Promise<DeviceRequestRecord> {
    const now = this.now();
    const rec: DeviceRequestRecord = { id, endpoint, state: 'queued', request, attempts: 0, createdAt: now, updatedAt: now };
    await this.store.put(rec);
    this.pending.add(endpoint);
    await this.publish({ type: 'requestQueued', endpoint, data: { ...requestOf(rec), request } });
    return rec;
  }

  get(id: string): Promise<DeviceRequestRecord | undefined> {
    return this.store.get(id);
  }

  list(endpoint: string, limit?: number): Promise<DeviceRequestRecord[]> {
    return this.store.listByEndpoint(endpoint, limit);
  }

  /** Whether requests wait for the endpoint (or are being sent to it). */
  hasPending(endpoint: string): boolean {
    return this.draining.has(endpoint) || this.pending.has(endpoint);
  }

  /**
   * Cancels a request that has not gone out yet.
   *
   * @throws Lwm2mFotaError ERR_LWM2M_REQUEST_NOT_FOUND; ERR_API_CONFLICT when it is being
   *   sent or already finished.
   */
  async cancel(id: string): Promise<DeviceRequestRecord> {
    const rec = await this.store.get(id);
    if (rec === undefined) throw new Lwm2mFotaError('ERR_LWM2M_REQUEST_NOT_FOUND', `no queued request ${id}`, { context: { requestId: id } });
    if (rec.state !== 'queued') {
      throw new Lwm2mFotaError('ERR_API_CONFLICT', `request ${id} is ${rec.state} and can no longer be cancelled`, { context: { requestId: id } });
    }
    const done: DeviceRequestRecord = { ...rec, state: 'cancelled', updatedAt: this.now() };
    await this.store.put(done);
    await this.publish({ type: 'requestCancelled', endpoint: done.endpoint, data: requestOf(done) });
    this.settle(done);
    return done;
  }

  /** Resolves with the request once it is completed, failed or cancelled. */
  async whenFinished(id: string): Promise<DeviceRequestRecord> {
    const wait = new Promise<DeviceRequestRecord>((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
    const now = await this.store.get(id);
    if (now === undefined) throw new Lwm2mFotaError('ERR_LWM2M_REQUEST_NOT_FOUND', `no queued request ${id}`, { context: { requestId: id } });
    if (isFinal(now)) this.settle(now);
    return wait;
  }

  /**
   * Sends the endpoint's pending requests, one at a time, in order. Stops at the first
   * one the device does not answer (it went back to sleep). Concurrent calls queue up
   * behind each other; the returned promise settles when this call's turn is over.
   */
  flush(endpoint: string): Promise<void> {
    const previous = this.draining.get(endpoint) ?? Promise.resolve();
    const next = previous
      .then(() => this.drain(endpoint))
      .catch((err: unknown) => this.log(`queue of ${endpoint}: ${(err as Error).message}`))
      .finally(() => {
        if (this.draining.get(endpoint) === next) this.draining.delete(endpoint);
      });
    this.draining.set(endpoint, next);
    return next;
  }

  isFlushing(endpoint: string): boolean {
    return this.draining.has(endpoint);
  }

  /**
   * Stops sending; pending requests stay in the store for the next start (one that was
   * on the wire is sent again then). Does not wait for an exchange in flight: closing the
   * CoAP endpoint ends it.
   */
  close(): void {
    this.closed = true;
  }

  private async drain(endpoint: string): Promise<void> {
    while (!this.closed) {
      const [rec] = await this.store.listPending(endpoint);
      if (rec === undefined) {
        this.pending.delete(endpoint);
        return;
      }
      const sending: DeviceRequestRecord = { ...rec, state: 'sending', updatedAt: this.now() };
      await this.store.put(sending);
      let result: ResponseJson;
      try {
        result = await this.options.send(sending);
      } catch (err) {
        const code = isLwm2mFotaError(err) ? err.code : 'ERR_INTERNAL';
        const message = (err as Error).message ?? String(err);
        if (RETRY_LATER.has(code) && !this.closed) {
          const attempts = rec.attempts + (code === 'ERR_LWM2M_NO_RESPONSE' ? 1 : 0);
          if (attempts < this.maxAttempts) {
            await this.store.put({ ...sending, state: 'queued', attempts, updatedAt: this.now() });
            return;
          }
          await this.fail(sending, attempts, code, `${message} (after ${attempts} attempts)`);
          return;
        }
        if (this.closed) {
          await this.store.put({ ...sending, state: 'queued', updatedAt: this.now() }).catch(() => undefined);
          return;
        }
        await this.fail(sending, rec.attempts, code, message);
        continue;
      }
      const done: DeviceRequestRecord = { ...sending, state: 'completed', result: { ...result }, updatedAt: this.now() };
      await this.store.put(done);
      await this.publish({ type: 'requestCompleted', endpoint, data: { ...requestOf(done), result } });
      this.settle(done);
    }
  }

  private async fail(rec: DeviceRequestRecord, attempts: number, code: string, message: string): Promise<void> {
    const failed: DeviceRequestRecord = { ...rec, state: 'failed', attempts, error: { code, message }, updatedAt: this.now() };
    await this.store.put(failed);
    await this.publish({ type: 'requestFailed', endpoint: failed.endpoint, data: { ...requestOf(failed), error: { code, message } } });
    this.settle(failed);
  }

  private settle(rec: DeviceRequestRecord): void {
    const list = this.waiters.get(rec.id);
    if (list === undefined) return;
    this.waiters.delete(rec.id);
    for (const resolve of list) resolve(rec);
  }

  private async publish(event: EventInput<'requestQueued' | 'requestCancelled' | 'requestCompleted' | 'requestFailed'>): Promise<void> {
    try {
      await this.events.publish(event);
    } catch (err) {
      this.log(`event ${event.type} not recorded: ${(err as Error).message}`);
    }
  }
}

// Presence lives in presence.ts; re-exported for the queue's old importers.
export { AwakeTracker } from './presence';

/** What every request event says about its request. */
function requestOf(rec: DeviceRequestRecord): RequestEventBase {
  return { requestId: rec.id, operation: rec.request.operation, state: rec.state };
}

