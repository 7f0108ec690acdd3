/**
 * Presence of queue-mode devices (TS Core 1.1 §6.5): a device in queue mode listens only
 * for a while after it contacted the server (a register, an update, an answer, a
 * notification, a Send). This tracks each contact, and lets a caller wait for the next one
 * instead of polling: whoever must reach a sleeping device (a firmware push) waits here
 * and goes as soon as it speaks.
 */

export interface AwaitOptions {
  /** Stop waiting (resolve false) when this aborts. */
  readonly signal?: AbortSignal;
  /** Stop waiting (resolve false) after this many ms. Default: no limit. */
  readonly timeoutMs?: number;
}

/** setTimeout takes at most 2^31 − 1 ms. */
const MAX_TIMEOUT = 2_147_483_647;

/**
 * When each device last showed it is awake: a queue-mode device is reachable for
 * `windowMs` after that.
 */
export class AwakeTracker {
  private readonly last = new Map<string, number>();
  /** Re-checks of whoever waits for a device, by endpoint. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  touch(endpoint: string, at: number = this.now()): void {
    const prev = this.last.get(endpoint) ?? 0;
    if (at > prev) this.last.set(endpoint, at);
    this.notify(endpoint);
  }

  forget(endpoint: string): void {
    this.last.delete(endpoint);
  }

  /** Epoch ms of the last contact (the registration's lastSeen counts too). */
  lastContact(endpoint: string, lastSeen = 0): number {
    return Math.max(this.last.get(endpoint) ?? 0, lastSeen);
  }

  isAwake(endpoint: string, lastSeen = 0): boolean {
    return this.now() - this.lastContact(endpoint, lastSeen) < this.windowMs;
  }

  /** Makes whoever waits for `endpoint` check again (its registration changed). */
  notify(endpoint: string): void {
    const set = this.waiters.get(endpoint);
    if (set === undefined) return;
    for (const recheck of [...set]) recheck();
  }

  /**
   * Resolves true as soon as `ready()` holds — now, or at a later contact of the device or
   * change of its registration — and false when `options` end the wait first. Never rejects.
   */
  until(endpoint: string, ready: () => boolean, options: AwaitOptions = {}): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    const { signal, timeoutMs } = options;
    if (signal?.aborted === true || timeoutMs === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (value: boolean): void => {
        const set = this.waiters.get(endpoint);
        set?.delete(recheck);
        if (set?.size === 0) this.waiters.delete(endpoint);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const recheck = (): void => {
        if (ready()) done(true);
      };
      const onAbort = (): void => done(false);
      let set = this.waiters.get(endpoint);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(endpoint, set);
      }
      set.add(recheck);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => done(false), Math.max(0, Math.min(timeoutMs, MAX_TIMEOUT)));
        timer.unref();
      }
    });
  }
}
