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
 *
 * The files: `types.ts` (the vocabulary), `builder.ts` (the step builder), `moves.ts`
 * (what the phases share), one file per phase (`queued.ts`, `delivering.ts`,
 * `installing.ts`, `cancelling.ts`), `next.ts` (the dispatch), `job.ts` (stored jobs),
 * `texts.ts` (what the operator reads).
 */
export { advance, createJob, resumeJob } from './job';
export type { CreateJobOptions, JobStep } from './job';
export { next, resume } from './next';
export { canCancel, CONFIRM_CHOICES, DEFAULT_SETTLE_MS, DEFAULT_UPDATE_CONFIG, isTerminal, PATHS, TERMINAL_STATES } from './types';
export type {
  ActiveState,
  CancelledState,
  CancellingState,
  CoapCode,
  ConfirmBy,
  DeliveringState,
  DeviceView,
  DownloadedState,
  Effect,
  FailedState,
  HistoryEntry,
  Job,
  JobInput,
  JobSpec,
  JobState,
  JobStateValue,
  LastFailure,
  MachineContext,
  QueuedState,
  RebootingState,
  Step,
  SucceededState,
  TerminalState,
  Timer,
  TimerName,
  UpdateConfig,
  UpdateEventType,
  UpdateTimeouts,
  UpdatingState,
  VerifyingState,
} from './types';
