/**
 * The per-device firmware update machine: a PURE transition function over plain,
 * JSON-serialisable states. It never performs I/O and never reads the clock; time comes in
 * through `ctx.now`, settings through `ctx.config`.
 *
 * ```
 *  queued ──capabilitiesRead──▶ delivering ──State 2──▶ updating ──2.04 / State 3──▶ rebooting
 *   ▲  (probe when created,        │  push: State 2 before     (executeUpdate,      │ registered
 *   │   on contact, on retry)      │  the last block's 2.04    sent ONCE)           ▼
 *   │                              └──▶ downloaded ──2.04──▶ updating        verifying
 *   │                                                                  Result 1 + /3/0/3 = expected
 *   │ transient failure (Result 4, timeout, lost contact,                          ▼
 *   │ device reset) with attempts left: backoff, attempt + 1                   succeeded
 *   └──────── any active state ── other failure / last attempt ──▶ failed{reason, updateResult}
 *             queued ──cancel──▶ cancelled
 *             delivering/downloaded ──cancel──▶ cancelling ──2.04 / Idle / Result 10 / timeout──▶ cancelled
 * ```
 *
 * The runner's contract (it is a thin loop around {@link advance}):
 *   1. Per job, one input at a time, in arrival order.
 *   2. If the step says `persist`, put the job into the store and wait for the commit
 *      BEFORE performing anything. `updating` (with its `executionId`) is thus durable
 *      before `executeUpdate` leaves, and a server killed at any point resumes without
 *      sending Update twice for one download: a job found in `updating` only looks.
 *   3. Perform the `effects` in order; requests to one device go one at a time (NSTART =
 *      1), so a reset reaches the device before the write that follows it. Feed back:
 *      reads and notifications of /5/0/3 → `stateObserved`, of /5/0/5 → `resultObserved`
 *      (the first answer of an `observe` counts as a read), /3/0/3 → `versionRead`, the
 *      capability read → `capabilitiesRead`, answers → `writeAnswered` / `executeAnswered`
 *      / `cancelAnswered` with the CoAP code, push acks and pull Block2 requests →
 *      `blockProgress`, the end of a push (or the last block served) → `deliveryFinished`,
 *      a request without a usable answer → `contactLost`, Register / Update / De-register
 *      or expiry → `registered` / `updated` / `deregistered`, timers → `timedOut`, the
 *      operator → `cancel`. A request that the LwM2M layer holds for a sleeping
 *      (queue-mode) device is not lost: feed its answer when it comes.
 *   4. Timers: one per name per job; `setTimer` re-arms, `scheduleRetry` arms 'retry'; a
 *      deadline in the past fires at once. Stale firings are harmless (ignored).
 *   5. `emitEvent` goes to the event log with the job's endpoint.
 *   6. At start-up, `listActive()` from the store and {@link resumeJob} each one.
 *
 * Device reports that break object 5's rules are recorded in the job's history (and in the
 * step's `note`), never thrown; the comments at each case say what the machine does.
 */
import type { UpdateJobRecord } from '../../../store/types';
import { chooseDelivery, type DeliveryMethodName, type PackageScheme } from '../delivery';
import {
  explainReason,
  explainUpdateResult,
  failureReasonFor,
  FirmwareState,
  firmwareStateName,
  isFirmwareState,
  isTransientReason,
  UpdateResult,
  type FailureReason,
} from '../update-result';

// ---------------------------------------------------------------------------------------
// Configuration and context

export interface UpdateTimeouts {
  /** Queued: how long to wait for a device to be reachable; absent = forever (sleepy devices). */
  readonly contact?: number;
  /** The whole transfer, from the delivery's start to State Downloaded (not per block). */
  readonly delivery: number;
  /** From sending Update to the device accepting it (2.04 or State Updating). */
  readonly update: number;
  /** From the device accepting Update to its re-registration (install + reboot). */
  readonly reboot: number;
  /** From re-registration to a conclusive Update Result and /3/0/3. */
  readonly verify: number;
  /** From sending a cancel to the device confirming it. */
  readonly cancel: number;
}

export interface UpdateConfig {
  /** Attempts in all, the first included; a transient failure on the last one fails the job. */
  readonly maxAttempts: number;
  /** Wait before attempt n+1 = min(backoffMaxMs, backoffBaseMs · 2^(n−1)). */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Milliseconds. A runner may pass longer ones for queue-mode devices. */
  readonly timeouts: UpdateTimeouts;
  /** The oldest history entries are dropped beyond this many. */
  readonly historyLimit: number;
}

export const DEFAULT_UPDATE_CONFIG: UpdateConfig = {
  maxAttempts: 3,
  backoffBaseMs: 30_000,
  backoffMaxMs: 3_600_000,
  timeouts: { delivery: 30 * 60_000, update: 5 * 60_000, reboot: 10 * 60_000, verify: 2 * 60_000, cancel: 2 * 60_000 },
  historyLimit: 200,
};

/** What a job is about; fixed when it is created. */
export interface JobSpec {
  readonly id: string;
  readonly endpoint: string;
  readonly firmwareId: string;
  /** /3/0/3 the manifest announces; compared after trimming white space. */
  readonly expectedVersion: string;
  readonly method?: DeliveryMethodName;
  readonly payloadOnly: boolean;
  readonly packageUris?: Readonly<Partial<Record<PackageScheme, string>>>;
}

export interface MachineContext {
  /** Epoch ms. */
  readonly now: number;
  readonly config: UpdateConfig;
  readonly job: JobSpec;
}

// ---------------------------------------------------------------------------------------
// States

export type TimerName = 'contact' | 'retry' | 'delivery' | 'update' | 'reboot' | 'verify' | 'cancel';

/** A deadline, epoch ms. Each waiting state has at most one. */
export type Timer = { readonly name: TimerName; readonly at: number };

/** The last State and Update Result the device reported (read or notified). */
export type DeviceView = { readonly state?: number; readonly result?: number };

export type LastFailure = { readonly reason: FailureReason; readonly explanation: string; readonly updateResult?: number };

/** Waiting for the device (first attempt, or a retry after backoff). */
export type QueuedState = {
  readonly value: 'queued';
  /** 1-based; the attempt that starts when this state is left. */
  readonly attempt: number;
  /** Observations and the capability read were requested for this attempt. */
  readonly probing: boolean;
  /** 'retry' while a backoff runs, 'contact' when configured. */
  readonly timer?: Timer;
  readonly device: DeviceView;
  readonly lastFailure?: LastFailure;
};

type DeliveryFields = {
  readonly attempt: number;
  readonly method: DeliveryMethodName;
  /** Pull: the URI written to /5/0/1. */
  readonly uri?: string;
  /** The device's object 5 has resource 10 (Cancel). */
  readonly hasCancel: boolean;
  readonly startedAt: number;
  /** The device took our delivery (URI write 2.04, a block, or State Downloading seen). */
  readonly started: boolean;
  /** Push: the last block was acknowledged. Pull: the last block was served. */
  readonly finished: boolean;
  readonly bytes: number;
  readonly total?: number;
  /** After a restart or re-registration: the next State report decides how to go on. */
  readonly resync?: true;
  /** The device went back to Idle mid-download; the Result read decides why. */
  readonly regressed?: true;
  /** The device answered this error code to our delivery; the Result read decides why. */
  readonly rejected?: string;
  readonly timer: Timer;
  readonly device: DeviceView;
};

/** The package is on its way (pull: the device fetches; push: the server writes blocks). */
export type DeliveringState = DeliveryFields & { readonly value: 'delivering' };

/** Push only: the device reports Downloaded, the last block's answer has not arrived yet. */
export type DownloadedState = DeliveryFields & { readonly value: 'downloaded' };

/** Update (/5/0/2) is being — or was — sent; never sent again for this attempt. */
export type UpdatingState = {
  readonly value: 'updating';
  readonly attempt: number;
  readonly method: DeliveryMethodName;
  /** `<job id>#<attempt>`: the one execution of Update for this download. */
  readonly executionId: string;
  /** When the intent to send Update was committed (before it was sent). */
  readonly updateSentAt: number;
  readonly timer: Timer;
  readonly device: DeviceView;
};

/** The device accepted Update; waiting for it to install, reboot and register again. */
export type RebootingState = Omit<UpdatingState, 'value'> & { readonly value: 'rebooting'; readonly acceptedAt: number };

/** The device is back; waiting for Update Result 1 and /3/0/3. */
export type VerifyingState = Omit<UpdatingState, 'value'> & {
  readonly value: 'verifying';
  readonly since: number;
  /** /3/0/3 as last read. */
  readonly version?: string;
};

/** The operator cancelled during delivery; waiting for the device to confirm. */
export type CancellingState = {
  readonly value: 'cancelling';
  readonly attempt: number;
  readonly method: DeliveryMethodName;
  /** Execute /5/0/10, or write an empty /5/0/1. */
  readonly via: 'execute' | 'emptyUri';
  readonly requestedAt: number;
  readonly timer: Timer;
  readonly device: DeviceView;
};

export type SucceededState = {
  readonly value: 'succeeded';
  readonly attempt: number;
  /** The delivery method of the last attempt. */
  readonly method?: DeliveryMethodName;
  readonly version: string;
  readonly updateResult: 1;
  readonly executionId: string;
  readonly finishedAt: number;
};

export type FailedState = {
  readonly value: 'failed';
  readonly attempt: number;
  /** The delivery method of the last attempt, when one was chosen. */
  readonly method?: DeliveryMethodName;
  readonly reason: FailureReason;
  /** One sentence for the operator. */
  readonly explanation: string;
  /** The device's Update Result when it gave one. */
  readonly updateResult?: number;
  /** For 'retriesExhausted': the reason of the last attempt's failure. */
  readonly lastReason?: FailureReason;
  /** Present when Update was sent in the failed attempt. */
  readonly executionId?: string;
  /** /3/0/3 as the device last reported it. */
  readonly version?: string;
  readonly finishedAt: number;
};

export type CancelledState = {
  readonly value: 'cancelled';
  readonly attempt: number;
  /** The delivery method in use when the job was cancelled, if any. */
  readonly method?: DeliveryMethodName;
  readonly reason: 'cancelled';
  readonly explanation: string;
  /** The device confirmed the cancel (or had nothing to cancel). */
  readonly confirmed: boolean;
  readonly finishedAt: number;
};

export type JobState =
  | QueuedState
  | DeliveringState
  | DownloadedState
  | UpdatingState
  | RebootingState
  | VerifyingState
  | CancellingState
  | SucceededState
  | FailedState
  | CancelledState;

export type JobStateValue = JobState['value'];
export type TerminalState = SucceededState | FailedState | CancelledState;
export type ActiveState = Exclude<JobState, TerminalState>;

// ---------------------------------------------------------------------------------------
// Inputs

/** A CoAP response code as text, e.g. '2.04', '4.05', '4.13'. */
export type CoapCode = string;

export type JobInput =
  /** A Register (new registration): after a boot, or a first contact. */
  | { readonly type: 'registered'; readonly version?: string }
  /** A Registration Update: a queue-mode device woke up, or refreshed its lifetime. */
  | { readonly type: 'updated' }
  /** A De-register, or the registration's lifetime expired. */
  | { readonly type: 'deregistered'; readonly expired?: boolean }
  /** Answer to readCapabilities: /5/0/9, /5/0/8, and whether /5/0/10 exists. */
  | { readonly type: 'capabilitiesRead'; readonly deliveryMethod?: number; readonly protocols?: readonly number[]; readonly hasCancel?: boolean }
  /** /5/0/3 read or notified. */
  | { readonly type: 'stateObserved'; readonly state: number }
  /** /5/0/5 read or notified. */
  | { readonly type: 'resultObserved'; readonly result: number }
  /** /3/0/3 read. */
  | { readonly type: 'versionRead'; readonly version: string }
  /** Answer to writePackageUri ('packageUri') or writeEmptyUri with purpose 'reset'. */
  | { readonly type: 'writeAnswered'; readonly write: 'packageUri' | 'reset'; readonly code: CoapCode }
  /** Answer to executeUpdate. */
  | { readonly type: 'executeAnswered'; readonly code: CoapCode }
  /** Answer to executeCancel or writeEmptyUri with purpose 'cancel'. */
  | { readonly type: 'cancelAnswered'; readonly code: CoapCode }
  /** Push: a block acknowledged; pull: a block served to the device. */
  | { readonly type: 'blockProgress'; readonly bytes: number; readonly total?: number }
  /** Push: the answer to the last block (or the error that ended the transfer); pull: the last block served. */
  | { readonly type: 'deliveryFinished'; readonly code: CoapCode }
  /** A request got no usable answer (CoAP timeout, reset, unreachable). */
  | { readonly type: 'contactLost'; readonly request?: string }
  | { readonly type: 'timedOut'; readonly timer: TimerName }
  /** The operator cancels. */
  | { readonly type: 'cancel' }
  /** The server restarted and loaded this job from the store. */
  | { readonly type: 'resumed' };

// ---------------------------------------------------------------------------------------
// Effects

export const PATHS = {
  package: '/5/0/0',
  packageUri: '/5/0/1',
  update: '/5/0/2',
  state: '/5/0/3',
  result: '/5/0/5',
  protocols: '/5/0/8',
  deliveryMethod: '/5/0/9',
  cancel: '/5/0/10',
  firmwareVersion: '/3/0/3',
} as const;

export type UpdateEventType =
  | 'updateQueued'
  | 'updateRetryScheduled'
  | 'updateDelivering'
  | 'updateDownloaded'
  | 'updateUpdating'
  | 'updateRebooting'
  | 'updateVerifying'
  | 'updateCancelling'
  | 'updateSucceeded'
  | 'updateFailed'
  | 'updateCancelled'
  | 'updateResumed'
  | 'updateAnomalyRecorded';

export type Effect =
  /** Observe; the first answer is a read and comes back like a notification. Idempotent per path. */
  | { readonly type: 'observe'; readonly path: typeof PATHS.state | typeof PATHS.result }
  | { readonly type: 'unobserve'; readonly path: typeof PATHS.state | typeof PATHS.result }
  | { readonly type: 'readState'; readonly path: typeof PATHS.state }
  | { readonly type: 'readResult'; readonly path: typeof PATHS.result }
  | { readonly type: 'readFirmwareVersion'; readonly path: typeof PATHS.firmwareVersion }
  /** Read /5/0/8 and /5/0/9, find out whether /5/0/10 exists (Discover /5/0, or the object version); answer: capabilitiesRead. */
  | { readonly type: 'readCapabilities' }
  | { readonly type: 'writePackageUri'; readonly path: typeof PATHS.packageUri; readonly uri: string }
  /** Empty /5/0/1: 'reset' puts the device back to Idle before a delivery, 'cancel' cancels. */
  | { readonly type: 'writeEmptyUri'; readonly path: typeof PATHS.packageUri; readonly purpose: 'reset' | 'cancel' }
  /** Block1 writes of the whole package to /5/0/0; progress: blockProgress, end: deliveryFinished. */
  | { readonly type: 'pushPackage'; readonly path: typeof PATHS.package; readonly firmwareId: string; readonly payloadOnly: boolean }
  /** Abort a running push of this job (no-op when none runs). */
  | { readonly type: 'stopDelivery' }
  | { readonly type: 'executeUpdate'; readonly path: typeof PATHS.update; readonly executionId: string }
  | { readonly type: 'executeCancel'; readonly path: typeof PATHS.cancel }
  /** (Re)arm the job's timer `timer`; a past `at` fires at once. Fires as timedOut. */
  | { readonly type: 'setTimer'; readonly timer: TimerName; readonly at: number }
  | { readonly type: 'clearTimer'; readonly timer: TimerName }
  /** Arm the 'retry' timer for `attempt`; fires as timedOut('retry'). */
  | { readonly type: 'scheduleRetry'; readonly at: number; readonly attempt: number }
  | { readonly type: 'emitEvent'; readonly event: UpdateEventType; readonly data: Readonly<Record<string, unknown>> };

// ---------------------------------------------------------------------------------------
// Steps and history

export type HistoryEntry = {
  readonly at: number;
  readonly attempt: number;
  /** The state after the input. */
  readonly state: JobStateValue;
  /** What happened, e.g. 'resultObserved 5' or 'timedOut delivery'. */
  readonly input: string;
  readonly updateResult?: number;
  readonly explanation?: string;
  /** An anomaly: a device report that breaks the rules, or an input that came too late. */
  readonly note?: string;
};

export interface Step {
  readonly state: JobState;
  /** In order. */
  readonly effects: readonly Effect[];
  /** Entries to append to the job's history. */
  readonly history: readonly HistoryEntry[];
  /** Set when the input was an anomaly (also recorded in `history`) or was refused. */
  readonly note?: string;
  /** False when nothing worth a write changed (block progress, ignored inputs). */
  readonly persist: boolean;
}

/** A job as stored: its spec, state and history. */
export interface Job extends UpdateJobRecord, JobSpec {
  readonly method?: DeliveryMethodName;
  readonly packageUris?: Readonly<Partial<Record<PackageScheme, string>>>;
  readonly state: JobState;
  readonly history: readonly HistoryEntry[];
}

export const TERMINAL_STATES: readonly JobStateValue[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminal(state: JobState): state is TerminalState {
  return state.value === 'succeeded' || state.value === 'failed' || state.value === 'cancelled';
}

/**
 * Cancel is possible until Update was sent. When false for an active job, the operator
 * surface answers ERR_FOTA_CANCEL_TOO_LATE (the machine itself only records the refusal).
 */
export function canCancel(state: JobState): boolean {
  return state.value === 'queued' || state.value === 'delivering' || state.value === 'downloaded' || state.value === 'cancelling';
}

// ---------------------------------------------------------------------------------------
// The step builder

const isSuccess = (code: CoapCode): boolean => /^2\.\d\d$/.test(code);

function summarize(input: JobInput): string {
  switch (input.type) {
    case 'stateObserved':
      return `stateObserved ${input.state} (${firmwareStateName(input.state)})`;
    case 'resultObserved':
      return `resultObserved ${input.result}`;
    case 'versionRead':
      return `versionRead ${JSON.stringify(input.version)}`;
    case 'writeAnswered':
      return `writeAnswered ${input.write} ${input.code}`;
    case 'executeAnswered':
    case 'cancelAnswered':
    case 'deliveryFinished':
      return `${input.type} ${input.code}`;
    case 'timedOut':
      return `timedOut ${input.timer}`;
    case 'registered':
      return input.version === undefined ? 'registered' : `registered version ${JSON.stringify(input.version)}`;
    case 'deregistered':
      return input.expired === true ? 'deregistered (expired)' : 'deregistered';
    case 'capabilitiesRead':
      return `capabilitiesRead method ${String(input.deliveryMethod)} protocols [${(input.protocols ?? []).join(',')}] cancel ${String(input.hasCancel ?? false)}`;
    case 'blockProgress':
      return `blockProgress ${input.bytes}/${String(input.total)}`;
    case 'contactLost':
      return input.request === undefined ? 'contactLost' : `contactLost (${input.request})`;
    default:
      return input.type;
  }
}

const EVENTS: Readonly<Record<JobStateValue, UpdateEventType>> = {
  queued: 'updateRetryScheduled',
  delivering: 'updateDelivering',
  downloaded: 'updateDownloaded',
  updating: 'updateUpdating',
  rebooting: 'updateRebooting',
  verifying: 'updateVerifying',
  cancelling: 'updateCancelling',
  succeeded: 'updateSucceeded',
  failed: 'updateFailed',
  cancelled: 'updateCancelled',
};

class Builder {
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
      const data: Record<string, unknown> = { from: from.value, to: to.value, attempt: to.attempt, ...extra };
      if (to.value === 'failed') Object.assign(data, { reason: to.reason, ...(to.lastReason === undefined ? {} : { lastReason: to.lastReason }) });
      if (to.value === 'succeeded') data['version'] = to.version;
      if (to.value === 'queued' && to.lastFailure !== undefined) Object.assign(data, { reason: to.lastFailure.reason, retryAt: to.timer?.at });
      this.effect(event(EVENTS[to.value], this.ctx, data));
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

function event(type: UpdateEventType, ctx: MachineContext, data: Record<string, unknown>): Effect {
  return { type: 'emitEvent', event: type, data: { jobId: ctx.job.id, firmwareId: ctx.job.firmwareId, ...data } };
}

function arm(t: Timer, attempt: number): Effect {
  return t.name === 'retry' ? { type: 'scheduleRetry', at: t.at, attempt } : { type: 'setTimer', timer: t.name, at: t.at };
}

const OBSERVE: readonly Effect[] = [
  { type: 'observe', path: PATHS.state },
  { type: 'observe', path: PATHS.result },
];
const UNOBSERVE: readonly Effect[] = [
  { type: 'unobserve', path: PATHS.state },
  { type: 'unobserve', path: PATHS.result },
];
const READ_STATE: Effect = { type: 'readState', path: PATHS.state };
const READ_RESULT: Effect = { type: 'readResult', path: PATHS.result };
const READ_VERSION: Effect = { type: 'readFirmwareVersion', path: PATHS.firmwareVersion };
const RESET: Effect = { type: 'writeEmptyUri', path: PATHS.packageUri, purpose: 'reset' };

const withDevice = (device: DeviceView, patch: DeviceView): DeviceView => ({ ...device, ...patch });

function backoff(attempt: number, config: UpdateConfig): number {
  return Math.min(config.backoffMaxMs, config.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
}

function sameVersion(a: string, b: string): boolean {
  return a.trim() === b.trim();
}

// ---------------------------------------------------------------------------------------
// Shared moves

/** Asks for what starting a delivery needs: the device's State/Result and capabilities. */
function probe(b: Builder, q: QueuedState): void {
  const contact = b.ctx.config.timeouts.contact;
  const timer = q.timer ?? (contact === undefined ? undefined : { name: 'contact' as const, at: b.now + contact });
  const { timer: _old, ...rest } = q;
  b.goto({ ...rest, probing: true, ...(timer === undefined ? {} : { timer }) });
  b.effect(...OBSERVE, { type: 'readCapabilities' });
}

function deliveryEffect(d: DeliveryFields, ctx: MachineContext): Effect {
  return d.method === 'pull' && d.uri !== undefined
    ? { type: 'writePackageUri', path: PATHS.packageUri, uri: d.uri }
    : { type: 'pushPackage', path: PATHS.package, firmwareId: ctx.job.firmwareId, payloadOnly: ctx.job.payloadOnly };
}

function startDelivery(b: Builder, q: QueuedState, caps: Extract<JobInput, { type: 'capabilitiesRead' }>): void {
  const choice = chooseDelivery(caps, {
    ...(b.ctx.job.method === undefined ? {} : { override: b.ctx.job.method }),
    ...(b.ctx.job.packageUris === undefined ? {} : { packageUris: b.ctx.job.packageUris }),
  });
  if (!choice.ok) {
    finish(b, { value: 'failed', attempt: q.attempt, reason: 'unsupportedDelivery', explanation: choice.explanation, finishedAt: b.now });
    return;
  }
  const d: DeliveringState = {
    value: 'delivering',
    attempt: q.attempt,
    method: choice.method,
    ...(choice.method === 'pull' ? { uri: choice.uri } : {}),
    hasCancel: caps.hasCancel === true,
    startedAt: b.now,
    started: false,
    finished: false,
    bytes: 0,
    timer: { name: 'delivery', at: b.now + b.ctx.config.timeouts.delivery },
    device: q.device,
  };
  b.goto(d);
  // A device that is not known to be Idle may hold an old download (Package URI writes
  // outside Idle are refused, Anjay: 4.00), and an old failure Result would be mistaken
  // for one of this delivery. An empty URI resets both: Idle, Result 0.
  const clean = q.device.state === FirmwareState.Idle && (q.device.result === UpdateResult.Initial || q.device.result === UpdateResult.Success);
  if (!clean) b.effect(RESET);
  b.effect(deliveryEffect(d, b.ctx));
}

/** Restarts the delivery within the same attempt (after a restart or a reboot of the device). */
function redeliver(b: Builder, d: DeliveringState | DownloadedState, reset: boolean): void {
  const { resync: _r, regressed: _g, rejected: _j, total: _t, ...rest } = d;
  const again: DeliveringState = { ...rest, value: 'delivering', started: false, finished: false, bytes: 0 };
  b.goto(again);
  if (d.method === 'push') b.effect({ type: 'stopDelivery' });
  if (reset) b.effect(RESET);
  b.effect(deliveryEffect(again, b.ctx));
}

/** Sends Update: the ONLY place that emits executeUpdate, always into a fresh `updating`. */
function sendUpdate(b: Builder, d: DeliveringState | DownloadedState): void {
  const executionId = `${b.ctx.job.id}#${d.attempt}`;
  b.goto({
    value: 'updating',
    attempt: d.attempt,
    method: d.method,
    executionId,
    updateSentAt: b.now,
    timer: { name: 'update', at: b.now + b.ctx.config.timeouts.update },
    device: d.device,
  });
  b.effect({ type: 'executeUpdate', path: PATHS.update, executionId });
}

function finish(b: Builder, to: TerminalState, extra: { updateResult?: number; explanation?: string; note?: string } = {}): void {
  const from = b.state;
  if ((from.value === 'delivering' || from.value === 'downloaded') && from.method === 'push') b.effect({ type: 'stopDelivery' });
  // The operator sees how the package travelled (or was travelling) after the end too.
  const method = 'method' in from ? from.method : undefined;
  b.goto(method === undefined || to.method !== undefined ? to : { ...to, method }, extra);
  if (from.value !== 'queued' || from.probing) b.effect(...UNOBSERVE);
}

/**
 * The one failure path: transient reasons are retried with backoff until maxAttempts,
 * the others (and a transient one on the last attempt) fail the job.
 */
function failOrRetry(b: Builder, s: ActiveState, reason: FailureReason, explanation: string, updateResult?: number): void {
  const withResult = updateResult === undefined ? {} : { updateResult };
  const executed = 'executionId' in s ? { executionId: s.executionId } : {};
  const version = s.value === 'verifying' && s.version !== undefined ? { version: s.version } : {};
  if (!isTransientReason(reason)) {
    finish(b, { value: 'failed', attempt: s.attempt, reason, explanation, ...withResult, ...executed, ...version, finishedAt: b.now }, { ...withResult, explanation });
    return;
  }
  const { maxAttempts } = b.ctx.config;
  if (s.attempt >= maxAttempts) {
    const why = `Gave up after ${s.attempt} attempt${s.attempt === 1 ? '' : 's'}; the last failed: ${explanation}`;
    finish(
      b,
      { value: 'failed', attempt: s.attempt, reason: 'retriesExhausted', lastReason: reason, explanation: why, ...withResult, ...executed, ...version, finishedAt: b.now },
      { ...withResult, explanation: why },
    );
    return;
  }
  if ((s.value === 'delivering' || s.value === 'downloaded') && s.method === 'push') b.effect({ type: 'stopDelivery' });
  const at = b.now + backoff(s.attempt, b.ctx.config);
  b.goto(
    {
      value: 'queued',
      attempt: s.attempt + 1,
      probing: false,
      timer: { name: 'retry', at },
      device: s.device,
      lastFailure: { reason, explanation, ...withResult },
    },
    { ...withResult, explanation },
  );
}

function failForResult(b: Builder, s: ActiveState, result: number): void {
  const reason = failureReasonFor(result) ?? 'unknownResult';
  failOrRetry(b, s, reason, explainUpdateResult(result), result);
}

function timeoutExplanation(timer: TimerName, s: ActiveState): string {
  switch (timer) {
    case 'contact':
      return 'The device did not become reachable before the contact timeout.';
    case 'delivery':
      return `The device did not report Downloaded before the delivery timeout (${s.value === 'delivering' || s.value === 'downloaded' ? `${s.bytes} bytes delivered` : ''}).`;
    case 'update':
      return 'The device did not accept Update (no 2.04, no State Updating, no re-registration) before the update timeout.';
    case 'reboot':
      return 'The device did not register again after installing, before the reboot timeout.';
    case 'verify':
      return 'The device did not report Update Result and firmware version after re-registering, before the verify timeout.';
    default:
      return explainReason('timeout');
  }
}

function startCancel(b: Builder, d: DeliveringState | DownloadedState): void {
  const via = d.hasCancel ? 'execute' : 'emptyUri';
  if (d.method === 'push') b.effect({ type: 'stopDelivery' });
  b.goto({
    value: 'cancelling',
    attempt: d.attempt,
    method: d.method,
    via,
    requestedAt: b.now,
    timer: { name: 'cancel', at: b.now + b.ctx.config.timeouts.cancel },
    device: d.device,
  });
  b.effect(cancelEffect(via));
}

function cancelEffect(via: 'execute' | 'emptyUri'): Effect {
  return via === 'execute' ? { type: 'executeCancel', path: PATHS.cancel } : { type: 'writeEmptyUri', path: PATHS.packageUri, purpose: 'cancel' };
}

function cancelled(b: Builder, s: ActiveState, confirmed: boolean, why: string): void {
  const explanation = confirmed ? 'The operator cancelled the update.' : `The operator cancelled the update; ${why}`;
  finish(b, { value: 'cancelled', attempt: s.attempt, reason: 'cancelled', explanation, confirmed, finishedAt: b.now }, { explanation });
}

/** True when a timedOut input is for the state's current deadline (stale or early ones are ignored). */
function timerDue(s: ActiveState, name: TimerName, now: number): boolean {
  return s.timer !== undefined && s.timer.name === name && now >= s.timer.at;
}

// ---------------------------------------------------------------------------------------
// The transition function

/** The note of a refused cancel; the operator surface answers ERR_FOTA_CANCEL_TOO_LATE. */
const TOO_LATE = 'cancel refused: Update was already executed; the installation cannot be cancelled';

/**
 * Pure: what the job becomes after `input`, and what the runner must do next.
 *
 * Never throws for anything a device, the network or the operator can produce; inputs
 * that make no sense in a state are ignored, and the ones that break object 5's rules are
 * recorded as anomalies (history entry + `note`). Terminal states never change.
 *
 * @example
 * const step = next(job.state, { type: 'stateObserved', state: FirmwareState.Downloaded }, { now: Date.now(), config, job });
 * // step.state.value === 'updating', step.effects contains { type: 'executeUpdate', … }
 */
export function next(state: JobState, input: JobInput, ctx: MachineContext): Step {
  const b = new Builder(state, input, ctx);
  if (isTerminal(state)) {
    if (input.type === 'cancel') b.note = `the job already ended (${state.value}); nothing to cancel`;
    return b.done();
  }
  switch (state.value) {
    case 'queued':
      onQueued(b, state, input);
      break;
    case 'delivering':
    case 'downloaded':
      onDelivery(b, state, input);
      break;
    case 'updating':
      onUpdating(b, state, input);
      break;
    case 'rebooting':
      onRebooting(b, state, input);
      break;
    case 'verifying':
      onVerifying(b, state, input);
      break;
    case 'cancelling':
      onCancelling(b, state, input);
      break;
  }
  return b.done();
}

/**
 * The effects to perform for a job loaded from the store after a server restart (the
 * step for input `resumed`). Every state re-arms its persisted deadline (a past one fires
 * at once) and re-establishes what died with the old process (observations, a push):
 *
 * - queued: backoff pending → re-arm it; otherwise probe again.
 * - delivering/downloaded, delivery not yet taken by the device → reset and deliver again
 *   (same attempt: Update was never sent). Taken → observe State/Result and let the first
 *   State decide: Downloaded → Update; Downloading → keep waiting (pull) or push again
 *   from the start (push; the transfer died with the server); Idle → deliver again.
 * - updating → observe State/Result (their first answers are reads) and wait for the
 *   re-registration. NEVER execute again: Update may have left before the crash.
 * - rebooting → read State and Result (the device may have come back meanwhile).
 * - verifying → observe State/Result, read /3/0/3 again.
 * - cancelling → send the cancel again (both ways of cancelling are idempotent).
 * - terminal → nothing.
 */
export function resume(state: JobState, ctx: MachineContext): Step {
  return next(state, { type: 'resumed' }, ctx);
}

function recordResumed(b: Builder, s: ActiveState): void {
  b.history.push({ at: b.now, attempt: s.attempt, state: s.value, input: 'resumed' });
  b.effect(event('updateResumed', b.ctx, { state: s.value, attempt: s.attempt }));
  if (s.timer !== undefined) b.effect(arm(s.timer, s.attempt));
}

function onQueued(b: Builder, s: QueuedState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      recordResumed(b, s);
      if (s.timer?.name !== 'retry') probe(b, s);
      return;
    case 'registered':
    case 'updated':
      // A backoff is respected even when the device shows up early. A new registration
      // loses observations (and any request queued for the old one): probe again. A
      // registration update while a probe is out changes nothing.
      if (s.timer?.name === 'retry') return;
      if (input.type === 'registered' || !s.probing) probe(b, s);
      return;
    case 'timedOut':
      if (!timerDue(s, input.timer, b.now)) return;
      if (input.timer === 'retry') {
        const { timer: _t, ...rest } = s;
        b.state = rest; // the retry timer fired; nothing to clear
        probe(b, rest);
      } else {
        failOrRetry(b, s, 'lostContact', timeoutExplanation('contact', s));
      }
      return;
    case 'capabilitiesRead':
      if (!s.probing) return; // a late answer to a probe of an earlier attempt
      startDelivery(b, s, input);
      return;
    case 'stateObserved':
      b.state = { ...s, device: withDevice(s.device, { state: input.state }) };
      // Anything but Idle before a delivery is left over from earlier (another job, another
      // server); the delivery will reset the device first. Updating is worth recording.
      if (input.state === FirmwareState.Updating) b.anomaly('device reports State 3 (Updating) while the job is queued; the delivery will reset it first');
      else if (!isFirmwareState(input.state)) b.anomaly(`device reports ${firmwareStateName(input.state)}; ignored`);
      return;
    case 'resultObserved':
      // A result before our delivery belongs to an earlier download: kept, not acted on.
      b.state = { ...s, device: withDevice(s.device, { result: input.result }) };
      return;
    case 'contactLost':
      // The device is away (or asleep and the request was dropped): the next contact probes again.
      if (s.probing) b.state = { ...s, probing: false };
      return;
    case 'cancel':
      cancelled(b, s, true, '');
      return;
    default:
      return; // answers to an earlier attempt's requests
  }
}

function onDelivery(b: Builder, s: DeliveringState | DownloadedState, input: JobInput): void {
  switch (input.type) {
    case 'resumed': {
      recordResumed(b, s);
      if (!s.started && s.value === 'delivering') {
        // The delivery may or may not have reached the device: reset and deliver again.
        b.effect(...OBSERVE);
        redeliver(b, s, true);
      } else {
        b.state = { ...s, resync: true };
        b.effect(...OBSERVE);
      }
      return;
    }
    case 'stateObserved':
      onDeliveryState(b, s, input.state);
      return;
    case 'resultObserved':
      onDeliveryResult(b, s, input.result);
      return;
    case 'writeAnswered':
      if (input.write === 'reset') {
        if (!isSuccess(input.code)) b.anomaly(`device answered ${input.code} to the reset (empty Package URI); the delivery goes on`);
        return;
      }
      if (isSuccess(input.code)) {
        if (!s.started) b.state = { ...s, started: true };
        // A report that overtook this answer (Downloaded, a failure Result) was ignored as
        // an old one. After the reset (or from a device known to be clean) and an accepted
        // write, a read is fresh: ask again.
        if (s.device.state === FirmwareState.Downloaded) b.effect(READ_STATE);
        const r = s.device.result;
        if (r !== undefined && r !== UpdateResult.Initial && r !== UpdateResult.Success) b.effect(READ_RESULT);
      } else {
        // Errors surface through Update Result; read it to tell the operator why.
        b.state = { ...s, rejected: input.code };
        b.effect(READ_RESULT);
      }
      return;
    case 'blockProgress': {
      const total = input.total ?? s.total;
      b.state = { ...s, started: true, bytes: Math.max(0, Math.floor(input.bytes)), ...(total === undefined ? {} : { total }) };
      b.volatile = s.started;
      return;
    }
    case 'deliveryFinished':
      if (!isSuccess(input.code)) {
        b.state = { ...s, rejected: input.code };
        b.effect(READ_RESULT);
        return;
      }
      if (s.value === 'downloaded') {
        sendUpdate(b, s);
        return;
      }
      b.state = { ...s, started: true, finished: true, ...(s.total === undefined ? {} : { bytes: s.total }) };
      return;
    case 'registered':
      // The device rebooted mid-download: observations are gone, and it may or may not
      // carry on (Anjay resumes, Zephyr starts over). Observe again; the State decides.
      b.state = { ...s, resync: true };
      b.effect(...OBSERVE);
      b.anomaly('device registered again during the download (it rebooted)');
      return;
    case 'updated':
      b.effect(READ_STATE, READ_RESULT); // catch up after a sleep
      return;
    case 'deregistered':
    case 'contactLost':
      failOrRetry(b, s, 'lostContact', explainReason('lostContact'));
      return;
    case 'timedOut':
      if (timerDue(s, input.timer, b.now)) failOrRetry(b, s, 'timeout', timeoutExplanation(input.timer, s));
      return;
    case 'cancel':
      startCancel(b, s);
      return;
    default:
      return;
  }
}

function onDeliveryState(b: Builder, s: DeliveringState | DownloadedState, value: number): void {
  const previous = s.device.state;
  const d = { ...s, device: withDevice(s.device, { state: value }) };
  b.state = d;
  if (!isFirmwareState(value)) {
    b.anomaly(`device reports ${firmwareStateName(value)}; ignored`);
    return;
  }
  if (s.resync === true) {
    const { resync: _r, ...rest } = d;
    if (value === FirmwareState.Downloaded) {
      sendUpdate(b, rest);
    } else if (value === FirmwareState.Downloading && s.method === 'pull') {
      b.state = { ...rest, value: 'delivering', started: true };
    } else if (value === FirmwareState.Updating) {
      b.state = rest;
      b.anomaly('device reports State 3 (Updating) but Update was never sent; waiting');
    } else {
      // Idle: the device lost (or never got) our delivery. Downloading after a push that
      // died with the server: the device waits for blocks that will never come.
      redeliver(b, rest, value !== FirmwareState.Idle);
    }
    return;
  }
  switch (value) {
    case FirmwareState.Idle:
      if (s.started && (previous === FirmwareState.Downloading || previous === FirmwareState.Downloaded)) {
        // A regression to Idle: a failure Result should follow; if the Result stays 0 the
        // device dropped the download (rebooted). Read it rather than wait for a
        // notification that never comes when the value does not change.
        b.state = { ...d, regressed: true };
        b.anomaly(`device went back from ${firmwareStateName(previous)} to Idle during the download`);
        b.effect(READ_RESULT);
      }
      return;
    case FirmwareState.Downloading:
      if (!s.started) b.state = { ...d, started: true };
      return;
    case FirmwareState.Downloaded:
      if (!s.started) {
        // Before the device took our delivery: an old download; our reset removes it.
        b.anomaly('device reports Downloaded before taking our delivery (an old download); ignored');
        return;
      }
      if (s.method === 'push' && !s.finished) {
        // The last block's 2.04 is still on its way; Update waits for it (never two
        // exchanges with the package endpoint at once).
        if (s.value !== 'downloaded') b.goto({ ...d, value: 'downloaded' });
        return;
      }
      sendUpdate(b, d);
      return;
    case FirmwareState.Updating:
      b.anomaly('device reports State 3 (Updating) but Update was never sent; ignored');
      return;
  }
}

function onDeliveryResult(b: Builder, s: DeliveringState | DownloadedState, result: number): void {
  const d = { ...s, device: withDevice(s.device, { result }) };
  b.state = d;
  const failure = result !== UpdateResult.Initial && result !== UpdateResult.Success;
  if (failure && (s.started || s.rejected !== undefined || s.regressed === true)) {
    failForResult(b, d, result);
    return;
  }
  if (s.rejected !== undefined) {
    failOrRetry(b, d, 'deliveryRejected', `The device refused the delivery: it answered ${s.rejected} (Update Result ${result}).`, result);
    return;
  }
  if (s.regressed === true) {
    failOrRetry(b, d, 'deviceReset', explainReason('deviceReset'), result);
    return;
  }
  if (result === UpdateResult.Success) b.anomaly('device reports Update Result 1 (success) before Update was sent; ignored');
  else if (failure) b.anomaly(`device reports Update Result ${result} before taking our delivery (an old result); ignored`, { updateResult: result });
}

function onUpdating(b: Builder, s: UpdatingState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      // Update may or may not have left before the crash. Never send it again: look.
      recordResumed(b, s);
      b.effect(...OBSERVE);
      return;
    case 'executeAnswered':
      if (isSuccess(input.code)) toRebooting(b, s);
      else failOrRetry(b, s, 'updateRejected', `The device refused to execute Update: it answered ${input.code}.`);
      return;
    case 'contactLost':
    case 'deregistered':
      // Many devices reboot before (or instead of) answering the execute.
      toRebooting(b, s);
      return;
    case 'stateObserved':
      onUpdateState(b, s, input.state);
      return;
    case 'resultObserved':
      onUpdateResult(b, s, input.result);
      return;
    case 'registered':
      toVerifying(b, s, input.version);
      return;
    case 'updated':
      b.effect(READ_STATE, READ_RESULT);
      return;
    case 'timedOut':
      if (timerDue(s, input.timer, b.now)) failOrRetry(b, s, 'timeout', timeoutExplanation(input.timer, s));
      return;
    case 'cancel':
      b.record(TOO_LATE);
      return;
    default:
      return;
  }
}

function onRebooting(b: Builder, s: RebootingState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      recordResumed(b, s);
      b.effect(READ_STATE, READ_RESULT);
      return;
    case 'registered':
      toVerifying(b, s, input.version);
      return;
    case 'updated':
      // Some devices keep their registration across the reboot and only send an Update.
      b.effect(READ_STATE, READ_RESULT);
      return;
    case 'stateObserved':
      onUpdateState(b, s, input.state);
      return;
    case 'resultObserved':
      onUpdateResult(b, s, input.result);
      return;
    case 'timedOut':
      if (timerDue(s, input.timer, b.now)) failOrRetry(b, s, 'timeout', timeoutExplanation(input.timer, s));
      return;
    case 'cancel':
      b.record(TOO_LATE);
      return;
    default:
      return; // contactLost, deregistered: expected while it reboots
  }
}

function toRebooting(b: Builder, s: UpdatingState): void {
  const { value: _v, ...rest } = s;
  b.goto({ ...rest, value: 'rebooting', acceptedAt: b.now, timer: { name: 'reboot', at: b.now + b.ctx.config.timeouts.reboot } });
}

function toVerifying(b: Builder, s: UpdatingState | RebootingState | VerifyingState, version: string | undefined, device: DeviceView = {}): void {
  const { executionId, updateSentAt, attempt, method } = s;
  // What the device reported before its reboot says nothing about the new firmware.
  const v: VerifyingState = {
    value: 'verifying',
    attempt,
    method,
    executionId,
    updateSentAt,
    since: b.now,
    ...(version === undefined ? {} : { version }),
    timer: { name: 'verify', at: b.now + b.ctx.config.timeouts.verify },
    device,
  };
  b.goto(v);
  if (v.device.result === undefined) b.effect(...OBSERVE);
  if (version === undefined) b.effect(READ_VERSION);
  evaluate(b, v);
}

function onUpdateState(b: Builder, s: UpdatingState | RebootingState, value: number): void {
  const d = { ...s, device: withDevice(s.device, { state: value }) };
  b.state = d;
  switch (value) {
    case FirmwareState.Updating:
      if (d.value === 'updating') toRebooting(b, d); // accepted, even if the 2.04 was lost
      return;
    case FirmwareState.Idle:
      // Idle after Update: success without reboot (Result 1) or a 1.1 failure (Result
      // 8/5). The Result may not change (no notification): read it.
      b.effect(READ_RESULT);
      return;
    case FirmwareState.Downloaded:
      return; // before the device acts on Update, or a failure (Result follows)
    default:
      b.anomaly(`device reports ${firmwareStateName(value)} after Update was sent; ignored`);
  }
}

function onUpdateResult(b: Builder, s: UpdatingState | RebootingState, result: number): void {
  const d = { ...s, device: withDevice(s.device, { result }) };
  b.state = d;
  if (result === UpdateResult.Initial) return; // reset when the update starts
  if (result === UpdateResult.Success) {
    // Success without (or before we saw) a re-registration: check the version.
    toVerifying(b, d, undefined, { result });
    return;
  }
  failForResult(b, d, result);
}

function onVerifying(b: Builder, s: VerifyingState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      recordResumed(b, s);
      b.effect(...OBSERVE, READ_VERSION);
      return;
    case 'stateObserved':
      b.state = { ...s, device: withDevice(s.device, { state: input.state }) };
      if (!isFirmwareState(input.state)) b.anomaly(`device reports ${firmwareStateName(input.state)}; ignored`);
      return;
    case 'resultObserved': {
      const v = { ...s, device: withDevice(s.device, { result: input.result }) };
      b.state = v;
      evaluate(b, v);
      return;
    }
    case 'versionRead':
    case 'registered': {
      if (input.type === 'registered') {
        toVerifying(b, s, input.version);
        return;
      }
      const v = { ...s, version: input.version };
      b.state = v;
      evaluate(b, v);
      return;
    }
    case 'contactLost':
      // A read was lost: ask again for what is still missing (bounded by the verify timer).
      if (s.version === undefined) b.effect(READ_VERSION);
      if (s.device.result === undefined) b.effect(READ_RESULT);
      return;
    case 'timedOut': {
      if (!timerDue(s, input.timer, b.now)) return;
      const { version } = s;
      const expected = b.ctx.job.expectedVersion;
      if (version === undefined) failOrRetry(b, s, 'timeout', timeoutExplanation('verify', s), s.device.result);
      else if (!sameVersion(version, expected)) failOrRetry(b, s, 'versionMismatch', mismatch(version, expected), s.device.result);
      else failOrRetry(b, s, 'unconfirmed', `${explainReason('unconfirmed')} Last Update Result: ${String(s.device.result ?? 'none')}.`, s.device.result);
      return;
    }
    case 'cancel':
      b.record(TOO_LATE);
      return;
    default:
      return;
  }
}

function mismatch(got: string, expected: string): string {
  return `The device reports firmware version ${JSON.stringify(got)} (/3/0/3), not ${JSON.stringify(expected)} as the manifest announced.`;
}

/**
 * Success needs BOTH Update Result 1 and /3/0/3 equal to the expected version. A failure
 * Result decides at once; Result 0 waits (the device may set the Result shortly after
 * booting) until the verify timer, which then tells 'unconfirmed' from 'versionMismatch'.
 */
function evaluate(b: Builder, v: VerifyingState): void {
  const result = v.device.result;
  if (result !== undefined && result !== UpdateResult.Initial && result !== UpdateResult.Success) {
    failForResult(b, v, result);
    return;
  }
  if (result !== UpdateResult.Success || v.version === undefined) return;
  const expected = b.ctx.job.expectedVersion;
  if (sameVersion(v.version, expected)) {
    finish(b, { value: 'succeeded', attempt: v.attempt, version: v.version, updateResult: 1, executionId: v.executionId, finishedAt: b.now }, { updateResult: 1, explanation: explainUpdateResult(1) });
  } else {
    failOrRetry(b, v, 'versionMismatch', mismatch(v.version, expected), result);
  }
}

function onCancelling(b: Builder, s: CancellingState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      recordResumed(b, s);
      b.effect(cancelEffect(s.via));
      return;
    case 'cancelAnswered':
      if (isSuccess(input.code)) cancelled(b, s, true, '');
      else if (s.via === 'execute') {
        // No usable /5/0/10 after all: fall back to the empty Package URI.
        b.state = { ...s, via: 'emptyUri' };
        b.effect(cancelEffect('emptyUri'));
      } else cancelled(b, s, false, `the device answered ${input.code} to the empty Package URI and may still hold the download.`);
      return;
    case 'stateObserved':
      b.state = { ...s, device: withDevice(s.device, { state: input.state }) };
      if (input.state === FirmwareState.Idle) cancelled(b, s, true, '');
      else if (input.state === FirmwareState.Downloaded) b.anomaly('device reports Downloaded while cancelling; Update is not sent');
      return;
    case 'resultObserved':
      b.state = { ...s, device: withDevice(s.device, { result: input.result }) };
      if (input.result === UpdateResult.Cancelled) cancelled(b, s, true, '');
      else if (input.result !== UpdateResult.Initial) b.anomaly(`device reports Update Result ${input.result} while cancelling`, { updateResult: input.result });
      return;
    case 'contactLost':
    case 'deregistered':
      cancelled(b, s, false, 'the device did not confirm it (no answer).');
      return;
    case 'timedOut':
      if (timerDue(s, input.timer, b.now)) cancelled(b, s, false, 'the device did not confirm it in time.');
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------
// Jobs: the machine applied to a stored job

export interface JobStep {
  readonly job: Job;
  readonly effects: readonly Effect[];
  readonly note?: string;
  readonly persist: boolean;
}

export interface CreateJobOptions extends JobSpec {
  readonly now: number;
  readonly config?: UpdateConfig;
}

/**
 * A new job in `queued`, with the effects that start it (observe State/Result, read the
 * capabilities: for a sleeping device the LwM2M layer holds them until it wakes).
 * Persist the job before performing them; ERR_STORE_WRITE with reason 'activeJobExists'
 * means the endpoint already has an active job (ERR_FOTA_JOB_CONFLICT for the operator).
 */
export function createJob(options: CreateJobOptions): JobStep {
  const { now, config = DEFAULT_UPDATE_CONFIG, ...spec } = options;
  const queued: QueuedState = { value: 'queued', attempt: 1, probing: false, device: {} };
  const ctx: MachineContext = { now, config, job: spec };
  const b = new Builder(queued, { type: 'registered' }, ctx);
  b.history.push({ at: now, attempt: 1, state: 'queued', input: 'created' });
  b.effect(event('updateQueued', ctx, { to: 'queued', attempt: 1, expectedVersion: spec.expectedVersion }));
  probe(b, queued);
  const step = b.done();
  const job: Job = { ...spec, createdAt: now, updatedAt: now, state: step.state, history: step.history };
  return { job, effects: step.effects, persist: true };
}

/** {@link next} applied to a job: new state, history appended (bounded), timestamps. */
export function advance(job: Job, input: JobInput, now: number, config: UpdateConfig = DEFAULT_UPDATE_CONFIG): JobStep {
  return apply(job, next(job.state, input, { now, config, job: specOf(job) }), now, config);
}

/** {@link resume} applied to a job loaded from the store. */
export function resumeJob(job: Job, now: number, config: UpdateConfig = DEFAULT_UPDATE_CONFIG): JobStep {
  return apply(job, resume(job.state, { now, config, job: specOf(job) }), now, config);
}

function specOf(job: Job): JobSpec {
  return {
    id: job.id,
    endpoint: job.endpoint,
    firmwareId: job.firmwareId,
    expectedVersion: job.expectedVersion,
    payloadOnly: job.payloadOnly,
    ...(job.method === undefined ? {} : { method: job.method }),
    ...(job.packageUris === undefined ? {} : { packageUris: job.packageUris }),
  };
}

function apply(job: Job, step: Step, now: number, config: UpdateConfig): JobStep {
  if (!step.persist) {
    const unchanged = { job: { ...job, state: step.state }, effects: step.effects, persist: false };
    return step.note === undefined ? unchanged : { ...unchanged, note: step.note };
  }
  const history = step.history.length === 0 ? job.history : [...job.history, ...step.history].slice(-Math.max(1, config.historyLimit));
  const { finishedAt: _f, ...rest } = job;
  const updated: Job = {
    ...rest,
    state: step.state,
    history,
    updatedAt: now,
    ...(isTerminal(step.state) ? { finishedAt: job.finishedAt ?? now } : {}),
  };
  const out = { job: updated, effects: step.effects, persist: true };
  return step.note === undefined ? out : { ...out, note: step.note };
}
