/**
 * The update machine's vocabulary: configuration, context, states, inputs, effects, steps
 * and the stored job. Types and constants only (plus two predicates on states); the
 * transitions are in the phase files, the overview and THE RUNNER CONTRACT in index.ts.
 */
import type { EventMap, UpdateEventName } from '../../../events';
import type { ResourcePath } from '../../../lwm2m/core/model';
import type { UpdateJobRecord } from '../../../store/types';
import type { DeliveryMethodName, PackageScheme } from '../delivery';
import type { FailureReason } from '../update-result';
import type { ConfirmBy, JobSpec } from './config';

export * from './config';

// ---------------------------------------------------------------------------------------
// States

export type TimerName = 'contact' | 'retry' | 'delivery' | 'settle' | 'update' | 'reboot' | 'verify' | 'cancel';

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
  /** Epoch ms: the device's registration lapsed (expired, de-registered) and it has not registered since. */
  readonly unreachableSince?: number;
};

/** What delivering and downloaded share. */
export type DeliveryFields = {
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
  /**
   * No change of State seen since this delivery started. A device whose State still has
   * not moved once the whole delivery was acknowledged has a stub object 5 (settle timer).
   */
  readonly stateUnmoved?: true;
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
export type RebootingState = Omit<UpdatingState, 'value'> & {
  readonly value: 'rebooting';
  readonly acceptedAt: number;
  /** The reboot timeout passed with the device last seen in Updating: its State is being read (State 3 → 'notRebooted'). */
  readonly checking?: true;
};

/** The device is back; waiting for Update Result 1 and /3/0/3. */
export type VerifyingState = Omit<UpdatingState, 'value'> & {
  readonly value: 'verifying';
  readonly since: number;
  /** /3/0/3 as last read. */
  readonly version?: string;
  /** /5/0/7 as last read (confirm 'pkgVersion'). */
  readonly pkgVersion?: string;
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
  /** The check that confirmed it (absent in jobs stored before the choice existed: /3/0/3). */
  readonly confirmedBy?: ConfirmBy;
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
  /** /5/0/7 (PkgVersion) read. */
  | { readonly type: 'pkgVersionRead'; readonly version: string }
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

/** A resource of instance 0, typed down to its IDs so an effect's type says which resource it addresses. */
type InstanceZero<O extends number, R extends number> = ResourcePath & { readonly objectId: O; readonly instanceId: 0; readonly resourceId: R };

function instanceZero<O extends number, R extends number>(objectId: O, resourceId: R): InstanceZero<O, R> {
  // Frozen: every effect shares these objects.
  return Object.freeze({ level: 'resource', objectId, instanceId: 0, resourceId } as const);
}

/**
 * The resources the machine addresses, parsed once here: effects carry these, so nothing
 * downstream parses (or formats and compares) an effect's path again.
 */
export const PATHS = {
  /** /5/0/0 */
  package: instanceZero(5, 0),
  /** /5/0/1 */
  packageUri: instanceZero(5, 1),
  /** /5/0/2 */
  update: instanceZero(5, 2),
  /** /5/0/3 */
  state: instanceZero(5, 3),
  /** /5/0/5 */
  result: instanceZero(5, 5),
  /** /5/0/7 */
  pkgVersion: instanceZero(5, 7),
  /** /5/0/8 */
  protocols: instanceZero(5, 8),
  /** /5/0/9 */
  deliveryMethod: instanceZero(5, 9),
  /** /5/0/10 */
  cancel: instanceZero(5, 10),
  /** /3/0/3 */
  firmwareVersion: instanceZero(3, 3),
} as const;

/**
 * The events the machine emits: every update event of src/events.ts's EventMap but
 * `updateProgressed`, which the runner publishes from the job's state.
 */
export type UpdateEventType = Exclude<UpdateEventName, 'updateProgressed'>;

/** What the machine says of event `K`: the map's data but what comes from the job (ids) and the port (method). */
export type MachineEventData<K extends UpdateEventName> = Omit<EventMap[K], 'jobId' | 'firmwareId' | 'method'>;

/** The effect that publishes one event, its data exactly as the map types it. */
export type EmitEventEffect = { [K in UpdateEventType]: { readonly type: 'emitEvent'; readonly event: K; readonly data: EventMap[K] } }[UpdateEventType];

export type Effect =
  /** Observe; the first answer is a read and comes back like a notification. Idempotent per path. */
  | { readonly type: 'observe'; readonly path: typeof PATHS.state | typeof PATHS.result }
  | { readonly type: 'unobserve'; readonly path: typeof PATHS.state | typeof PATHS.result }
  | { readonly type: 'readState'; readonly path: typeof PATHS.state }
  | { readonly type: 'readResult'; readonly path: typeof PATHS.result }
  | { readonly type: 'readFirmwareVersion'; readonly path: typeof PATHS.firmwareVersion }
  | { readonly type: 'readPkgVersion'; readonly path: typeof PATHS.pkgVersion }
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
  | EmitEventEffect;

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
