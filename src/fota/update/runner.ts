/**
 * The runner of ONE update job: a thin loop around the pure machine ({@link advance}) that
 * keeps THE RUNNER CONTRACT of machine/index.ts:
 *
 *   1. one input at a time, in arrival order (an inbox drained by one loop);
 *   2. a step that says `persist` is committed (awaited) BEFORE any of its effects starts —
 *      so `updating` with its executionId is durable before Update leaves, and a server
 *      killed at any point never sends Update twice for one download;
 *   3. effects in order: timers and events at once, requests to the device through one
 *      serial chain (NSTART = 1: a reset reaches the device before the write after it; at
 *      most one push per device at a time). The chain never blocks the inbox, so a cancel
 *      or a timeout is handled while a push is still running;
 *   4. one timer per name (`setTimer` re-arms, `scheduleRetry` arms 'retry'); a deadline in
 *      the past fires at once; stale firings are left to the machine to ignore.
 *
 * Everything that talks to the world — the store, the device, the event stream — is
 * behind {@link JobRunnerPort}, so the loop is tested with a fake port (test/fota/update).
 */
import type { EventMap, UpdateEventName } from '../../events';
import { ProgressThrottle } from './device-port';
import type { Effect, Job, JobInput, JobStep, TimerName, UpdateConfig } from './machine';
import { advance, isTerminal } from './machine';

/** Effects that are exchanges with the device; the port performs them, one at a time. */
export type RequestEffect = Extract<
  Effect,
  {
    type:
      | 'observe'
      | 'unobserve'
      | 'readState'
      | 'readResult'
      | 'readFirmwareVersion'
      | 'readPkgVersion'
      | 'readCapabilities'
      | 'writePackageUri'
      | 'writeEmptyUri'
      | 'pushPackage'
      | 'executeUpdate'
      | 'executeCancel';
  }
>;

/** What a runner needs from the world. */
export interface JobRunnerPort {
  /** Commits the job; resolves once it is durable. */
  persist(job: Job): Promise<void>;
  /**
   * Performs one request effect and feeds what the device answered back with `feed` (any
   * number of inputs: a push feeds its progress). Resolves when the exchange is over; it
   * should not reject (failures are inputs, e.g. `contactLost`). `signal` aborts a push
   * (stopDelivery) and everything when the runner closes.
   */
  perform(job: Job, effect: RequestEffect, feed: (input: JobInput) => void, signal: AbortSignal): Promise<void>;
  /** An event for the event stream, with the job's endpoint. */
  /** An event of the job, its data as src/events.ts's EventMap types it (the port adds the endpoint and method). */
  publish<K extends UpdateEventName>(job: Job, type: K, data: EventMap[K]): void;
  /** After every step that was applied (its job may be terminal). */
  stepped?(job: Job, step: JobStep, input: JobInput | undefined): void;
  now(): number;
  log(line: string): void;
}

export interface JobRunnerOptions {
  readonly config: UpdateConfig;
  /** At most one `updateProgressed` event per job per this many ms (default 1000). */
  readonly progressIntervalMs?: number;
}

/** setTimeout takes at most 2^31 − 1 ms; longer deadlines are re-armed when that fires. */
const MAX_TIMEOUT = 2_147_483_647;

const REQUESTS = new Set<Effect['type']>([
  'observe',
  'unobserve',
  'readState',
  'readResult',
  'readFirmwareVersion',
  'readPkgVersion',
  'readCapabilities',
  'writePackageUri',
  'writeEmptyUri',
  'pushPackage',
  'executeUpdate',
  'executeCancel',
]);

export function isRequestEffect(e: Effect): e is RequestEffect {
  return REQUESTS.has(e.type);
}

export class JobRunner {
  #job: Job;
  readonly #port: JobRunnerPort;
  readonly #config: UpdateConfig;
  readonly #inbox: JobInput[] = [];
  #busy = false;
  #closed = false;
  readonly #timers = new Map<TimerName, NodeJS.Timeout>();
  /** The serial chain of device requests. */
  #chain: Promise<void> = Promise.resolve();
  #chainLength = 0;
  /** Pushes dispatched and not finished (running or waiting in the chain). */
  readonly #pushes = new Set<AbortController>();
  /** Aborts every request when the runner closes. */
  readonly #life = new AbortController();
  /** `updateProgress` goes through the one throttle (device-port.ts). */
  readonly #progress: ProgressThrottle<{ bytes: number; total?: number }>;
  #blockSize: number | undefined;
  readonly #idleWaiters: Array<() => void> = [];

  constructor(job: Job, port: JobRunnerPort, options: JobRunnerOptions) {
    this.#job = job;
    this.#port = port;
    this.#config = options.config;
    this.#progress = new ProgressThrottle(options.progressIntervalMs ?? 1000, (p) => this.#publishProgress(p), () => this.#port.now());
  }

  get job(): Job {
    return this.#job;
  }

  get endpoint(): string {
    return this.#job.endpoint;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Applies the job's first step (from `createJob` or `resumeJob`): persists it when it
   * says so, then performs its effects. Inputs fed meanwhile wait. Rejects when the
   * commit fails (nothing is performed then).
   */
  async begin(step: JobStep): Promise<void> {
    this.#busy = true;
    try {
      this.#job = step.job;
      if (step.persist) await this.#port.persist(step.job);
      this.#port.stepped?.(step.job, step, undefined);
      this.#dispatch(step.effects);
    } catch (err) {
      this.#busy = false;
      throw err;
    } finally {
      if (this.#busy) {
        this.#busy = false;
        void this.#pump();
      }
    }
  }

  /** Queues an input; inputs are applied one at a time, in order. */
  feed(input: JobInput): void {
    if (this.#closed) return;
    this.#inbox.push(input);
    if (!this.#busy) void this.#pump();
  }

  /** The block size a delivery uses, for progress events (pull: what the device asks for). */
  noteBlockSize(size: number): void {
    this.#blockSize = size;
  }

  /** Resolves when no input waits and no request is in flight (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#busy && this.#inbox.length === 0 && this.#chainLength === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops: timers cleared, requests aborted, later inputs dropped. The job stays as stored. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#progress.close();
    this.#life.abort();
    this.#inbox.length = 0;
    this.#checkIdle();
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (;;) {
        const input = this.#inbox.shift();
        if (input === undefined || this.#closed) break;
        await this.#apply(input);
      }
    } finally {
      this.#busy = false;
      this.#checkIdle();
    }
  }

  async #apply(input: JobInput): Promise<void> {
    const before = this.#job;
    if (isTerminal(before.state)) return;
    let step: JobStep;
    try {
      step = advance(before, input, this.#port.now(), this.#config);
    } catch (err) {
      // The machine never throws for device input; a bug must not stop the runner.
      this.#port.log(`update ${before.id} (${before.endpoint}): machine error on ${input.type}: ${(err as Error).message}`);
      return;
    }
    if (step.persist) {
      try {
        await this.#port.persist(step.job);
      } catch (err) {
        // Acting on a state the store does not hold would break the crash guarantees.
        this.#port.log(`update ${before.id} (${before.endpoint}): not persisted, ${input.type} dropped: ${(err as Error).message}`);
        return;
      }
    }
    this.#job = step.job;
    if (input.type === 'blockProgress') {
      const s = step.job.state;
      if (s.value === 'delivering' || s.value === 'downloaded') this.#progress.push({ bytes: s.bytes, ...(s.total === undefined ? {} : { total: s.total }) });
    }
    this.#port.stepped?.(step.job, step, input);
    this.#dispatch(step.effects);
  }

  #dispatch(effects: readonly Effect[]): void {
    for (const e of effects) {
      if (this.#closed) return;
      switch (e.type) {
        case 'setTimer':
          this.#arm(e.timer, e.at);
          break;
        case 'scheduleRetry':
          this.#arm('retry', e.at);
          break;
        case 'clearTimer': {
          const t = this.#timers.get(e.timer);
          if (t !== undefined) clearTimeout(t);
          this.#timers.delete(e.timer);
          break;
        }
        case 'emitEvent':
          this.#port.publish(this.#job, e.event, e.data);
          break;
        case 'stopDelivery':
          for (const c of this.#pushes) c.abort();
          this.#pushes.clear();
          break;
        default:
          if (isRequestEffect(e)) this.#request(e);
      }
    }
  }

  #request(effect: RequestEffect): void {
    const controller = new AbortController();
    const onLife = (): void => controller.abort();
    this.#life.signal.addEventListener('abort', onLife, { once: true });
    if (effect.type === 'pushPackage') this.#pushes.add(controller);
    this.#chainLength++;
    const feed = (input: JobInput): void => {
      if (!controller.signal.aborted || input.type !== 'blockProgress') this.feed(input);
    };
    this.#chain = this.#chain
      .then(async () => {
        if (controller.signal.aborted) return;
        await this.#port.perform(this.#job, effect, feed, controller.signal);
      })
      .catch((err: unknown) => this.#port.log(`update ${this.#job.id} (${this.#job.endpoint}): ${effect.type} failed: ${(err as Error).message}`))
      .finally(() => {
        this.#pushes.delete(controller);
        this.#life.signal.removeEventListener('abort', onLife);
        this.#chainLength--;
        this.#checkIdle();
      });
  }

  #arm(name: TimerName, at: number): void {
    const old = this.#timers.get(name);
    if (old !== undefined) clearTimeout(old);
    const fire = (): void => {
      const left = at - this.#port.now();
      if (left > 0) {
        this.#timers.set(name, unref(setTimeout(fire, Math.min(left, MAX_TIMEOUT))));
        return;
      }
      this.#timers.delete(name);
      this.feed({ type: 'timedOut', timer: name });
    };
    const delay = Math.max(0, Math.min(at - this.#port.now(), MAX_TIMEOUT));
    this.#timers.set(name, unref(setTimeout(fire, delay)));
  }

  /** One `updateProgress` event, from the job as it is now (the throttle decides when). */
  #publishProgress(p: { bytes: number; total?: number }): void {
    if (this.#closed) return;
    const s = this.#job.state;
    if (s.value !== 'delivering' && s.value !== 'downloaded') return;
    this.#port.publish(this.#job, 'updateProgressed', {
      jobId: this.#job.id,
      firmwareId: this.#job.firmwareId,
      state: s.value,
      method: s.method,
      attempt: s.attempt,
      bytes: p.bytes,
      ...(p.total === undefined ? {} : { total: p.total }),
      ...(this.#blockSize === undefined ? {} : { blockSize: this.#blockSize }),
      elapsedMs: this.#port.now() - s.startedAt,
    });
  }

  #checkIdle(): void {
    if (this.#busy || (this.#inbox.length > 0 && !this.#closed) || this.#chainLength > 0) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }
}

function unref(t: NodeJS.Timeout): NodeJS.Timeout {
  t.unref();
  return t;
}
