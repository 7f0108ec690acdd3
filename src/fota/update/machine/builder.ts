/**
 * The step builder: collects what one input does to one job (the new state, effects in
 * order, history entries, a note), with the timers and the event of every move; plus the
 * effects and small helpers that every phase shares.
 */
import type { CoapCode, DeviceView, EmitEventEffect, Effect, HistoryEntry, JobInput, JobState, MachineContext, MachineEventData, Step, Timer, UpdateConfig, UpdateEventType } from './types';
import { PATHS } from './types';
import { summarize } from './texts';

/** A 2.xx answer. */
export const isSuccess = (code: CoapCode): boolean => /^2\.\d\d$/.test(code);

/** One step in the making; {@link Builder.done} hands it over. */
export class Builder {
  state: JobState;
  readonly effects: Effect[] = [];
  readonly history: HistoryEntry[] = [];
  note: string | undefined;
  /** Block progress alone is not worth a write. */
  volatile = false;
  readonly summary: string;

  constructor(
    readonly from: JobState,
    readonly input: JobInput,
    readonly ctx: MachineContext,
  ) {
    this.state = from;
    this.summary = summarize(input);
  }

  get now(): number {
    return this.ctx.now;
  }

  effect(...effects: Effect[]): void {
    this.effects.push(...effects);
  }

  /** Records a note: history entry and step note. The state stays as it is. */
  record(note: string, extra: { updateResult?: number } = {}): void {
    this.note = this.note === undefined ? note : `${this.note}; ${note}`;
    this.history.push({ at: this.now, attempt: this.state.attempt, state: this.state.value, input: this.summary, ...extra, note });
  }

  /** Records an anomaly (a device report against the rules): note, history entry, event. */
  anomaly(note: string, extra: { updateResult?: number } = {}): void {
    this.record(note, extra);
    this.effect(event('updateAnomalyRecorded', this.ctx, { state: this.state.value, attempt: this.state.attempt, input: this.summary, note, ...extra }));
  }

  /** Moves to `to`: timers; a history entry and an event when the value or the attempt changes. */
  goto(to: JobState, extra: { updateResult?: number; explanation?: string; note?: string } = {}): void {
    const from = this.state;
    const a = 'timer' in from ? from.timer : undefined;
    const b = 'timer' in to ? to.timer : undefined;
    if (a !== undefined && (b === undefined || a.name !== b.name || a.at !== b.at)) this.effect({ type: 'clearTimer', timer: a.name });
    if (b !== undefined && (a === undefined || a.name !== b.name || a.at !== b.at)) this.effect(arm(b, to.attempt));
    if (from.value !== to.value || from.attempt !== to.attempt) {
      this.history.push({ at: this.now, attempt: to.attempt, state: to.value, input: this.summary, ...extra });
      const e = transitionEvent(this.ctx, from, to, extra);
      if (e !== undefined) this.effect(e);
    }
    if (extra.note !== undefined) this.note = extra.note;
    this.state = to;
  }

  done(): Step {
    const changed = JSON.stringify(this.state) !== JSON.stringify(this.from);
    const persist = this.history.length > 0 || (changed && !this.volatile);
    const step = { state: this.state, effects: this.effects, history: this.history, persist };
    return this.note === undefined ? step : { ...step, note: this.note };
  }
}

/**
 * An event effect, with the job's id and firmware id. `data` is checked against the
 * EventMap of src/events.ts: a name it lacks or a wrong shape is a type error here.
 */
export function event<K extends UpdateEventType>(type: K, ctx: MachineContext, data: MachineEventData<K>): Effect {
  // TypeScript cannot correlate K with the mapped union; the signature above is what checks.
  return { type: 'emitEvent', event: type, data: { jobId: ctx.job.id, firmwareId: ctx.job.firmwareId, ...data } } as unknown as EmitEventEffect;
}

type TransitionExtra = { updateResult?: number; explanation?: string; note?: string };

/** The event of a move from `from` to `to`, one name per state (`queued` again is a retry). */
function transitionEvent(ctx: MachineContext, from: JobState, to: JobState, extra: TransitionExtra): Effect | undefined {
  // Keys in the order the event stream has always shown them.
  const base = <T extends JobState['value']>(t: T) => ({ from: from.value, to: t, attempt: to.attempt, ...extra });
  switch (to.value) {
    case 'queued':
      // Only a retry moves a job back to queued, always with its failure and its timer.
      if (to.lastFailure === undefined || to.timer === undefined) return undefined;
      return event('updateRetryScheduled', ctx, { ...base(to.value), explanation: extra.explanation ?? to.lastFailure.explanation, reason: to.lastFailure.reason, retryAt: to.timer.at });
    case 'delivering':
      return event('updateDeliveryStarted', ctx, base(to.value));
    case 'downloaded':
      return event('updateDownloaded', ctx, base(to.value));
    case 'updating':
      return event('updateExecuted', ctx, base(to.value));
    case 'rebooting':
      return event('updateAccepted', ctx, base(to.value));
    case 'verifying':
      return event('updateVerificationStarted', ctx, base(to.value));
    case 'cancelling':
      return event('updateCancelRequested', ctx, base(to.value));
    case 'succeeded':
      return event('updateSucceeded', ctx, { ...base(to.value), version: to.version });
    case 'failed':
      return event('updateFailed', ctx, { ...base(to.value), reason: to.reason, ...(to.lastReason === undefined ? {} : { lastReason: to.lastReason }) });
    case 'cancelled':
      return event('updateCancelled', ctx, base(to.value));
  }
}

/** The effect that arms `t` ('retry' is scheduled with its attempt). */
export function arm(t: Timer, attempt: number): Effect {
  return t.name === 'retry' ? { type: 'scheduleRetry', at: t.at, attempt } : { type: 'setTimer', timer: t.name, at: t.at };
}

/** Observe State and Result; the first answers count as reads. */
export const OBSERVE: readonly Effect[] = [
  { type: 'observe', path: PATHS.state },
  { type: 'observe', path: PATHS.result },
];
/** Stop observing State and Result (the job ended). */
export const UNOBSERVE: readonly Effect[] = [
  { type: 'unobserve', path: PATHS.state },
  { type: 'unobserve', path: PATHS.result },
];
/** Read /5/0/3. */
export const READ_STATE: Effect = { type: 'readState', path: PATHS.state };
/** Read /5/0/5. */
export const READ_RESULT: Effect = { type: 'readResult', path: PATHS.result };
/** Read /3/0/3. */
export const READ_VERSION: Effect = { type: 'readFirmwareVersion', path: PATHS.firmwareVersion };
/** Read /5/0/7 (PkgVersion). */
export const READ_PKG_VERSION: Effect = { type: 'readPkgVersion', path: PATHS.pkgVersion };
/** An empty Package URI before a delivery: the device goes back to Idle, Result 0. */
export const RESET: Effect = { type: 'writeEmptyUri', path: PATHS.packageUri, purpose: 'reset' };

/** The device view with what was just reported. */
export const withDevice = (device: DeviceView, patch: DeviceView): DeviceView => ({ ...device, ...patch });

/** The wait before the attempt after `attempt`: min(backoffMaxMs, backoffBaseMs · 2^(attempt−1)). */
export function backoff(attempt: number, config: UpdateConfig): number {
  return Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
}

/** Versions compare after trimming white space. */
export function sameVersion(a: string, b: string): boolean {
  return a.trim() === b.trim();
}
