/** States, contexts and effect summaries shared by the update machine tests. */
import type {
  CancellingState,
  DeliveringState,
  DownloadedState,
  Effect,
  JobInput,
  JobSpec,
  JobState,
  MachineContext,
  QueuedState,
  RebootingState,
  Step,
  UpdateConfig,
  UpdatingState,
  VerifyingState,
} from '../../../src/fota/update/machine';
import { next } from '../../../src/fota/update/machine';
import { formatPath } from '../../../src/lwm2m/core/model';

export const T0 = 1_700_000_000_000;

export const CONFIG: UpdateConfig = {
  maxAttempts: 3,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  timeouts: { contact: 600_000, delivery: 60_000, update: 10_000, reboot: 30_000, verify: 5_000, cancel: 5_000 },
  historyLimit: 50,
};

export const URI = 'coap://[2001:db8::1]:5683/fw/ffff';
export const SECURE_URI = 'coaps://[2001:db8::1]:5684/fw/ffff';

export const SPEC: JobSpec = {
  id: 'job-1',
  endpoint: 'dev-1',
  firmwareId: 'f'.repeat(64),
  expectedVersion: '2.0.0',
  payloadOnly: false,
  packageUris: { coap: URI, coaps: SECURE_URI },
};

export function ctx(now = T0, overrides: { config?: Partial<UpdateConfig>; job?: Partial<JobSpec> } = {}): MachineContext {
  return { now, config: { ...CONFIG, ...overrides.config }, job: { ...SPEC, ...overrides.job } };
}

/** A short text per effect, so that tables list effects as plain strings. */
export function fx(e: Effect): string {
  switch (e.type) {
    case 'observe':
    case 'unobserve':
      return `${e.type} ${formatPath(e.path)}`;
    case 'setTimer':
    case 'clearTimer':
      return `${e.type} ${e.timer}`;
    case 'writeEmptyUri':
      return `writeEmptyUri ${e.purpose}`;
    case 'emitEvent':
      return `event ${e.event}`;
    default:
      return e.type;
  }
}

type HasEffects = { readonly effects: readonly Effect[] };
export const effectsOf = (step: HasEffects): string[] => step.effects.map(fx);
/** The effects without events (events are checked on their own). */
export const actionsOf = (step: HasEffects): string[] => step.effects.filter((e) => e.type !== 'emitEvent').map(fx);
export const eventsOf = (step: HasEffects): string[] => step.effects.filter((e) => e.type === 'emitEvent').map(fx);

export const OBSERVE = ['observe /5/0/3', 'observe /5/0/5'];
export const UNOBSERVE = ['unobserve /5/0/3', 'unobserve /5/0/5'];

export function queued(o: Partial<QueuedState> = {}): QueuedState {
  return { value: 'queued', attempt: 1, probing: true, timer: { name: 'contact', at: T0 + 600_000 }, device: { state: 0, result: 0 }, ...o };
}

export function delivering(o: Partial<DeliveringState> = {}): DeliveringState {
  return {
    value: 'delivering',
    attempt: 1,
    method: 'pull',
    uri: SECURE_URI,
    hasCancel: true,
    startedAt: T0,
    started: true,
    finished: false,
    bytes: 0,
    timer: { name: 'delivery', at: T0 + 60_000 },
    device: { state: 1, result: 0 },
    ...o,
  };
}

export function pushing(o: Partial<DeliveringState> = {}): DeliveringState {
  const { uri: _u, ...d } = delivering({ method: 'push', ...o });
  return d;
}

export function downloaded(o: Partial<DownloadedState> = {}): DownloadedState {
  const { uri: _u, ...d } = delivering({ method: 'push', device: { state: 2, result: 0 } });
  return { ...d, value: 'downloaded', ...o };
}

export function updating(o: Partial<UpdatingState> = {}): UpdatingState {
  return {
    value: 'updating',
    attempt: 1,
    method: 'pull',
    executionId: 'job-1#1',
    updateSentAt: T0,
    timer: { name: 'update', at: T0 + 10_000 },
    device: { state: 2, result: 0 },
    ...o,
  };
}

export function rebooting(o: Partial<RebootingState> = {}): RebootingState {
  const { value: _v, ...u } = updating({ device: { state: 3, result: 0 } });
  return { ...u, value: 'rebooting', acceptedAt: T0, timer: { name: 'reboot', at: T0 + 30_000 }, ...o };
}

export function verifying(o: Partial<VerifyingState> = {}): VerifyingState {
  const { value: _v, ...u } = updating({ device: {} });
  return { ...u, value: 'verifying', since: T0, timer: { name: 'verify', at: T0 + 5_000 }, ...o };
}

export function cancelling(o: Partial<CancellingState> = {}): CancellingState {
  return {
    value: 'cancelling',
    attempt: 1,
    method: 'pull',
    via: 'execute',
    requestedAt: T0,
    timer: { name: 'cancel', at: T0 + 5_000 },
    device: { state: 1, result: 0 },
    ...o,
  };
}

export const SUCCEEDED: JobState = { value: 'succeeded', attempt: 1, version: '2.0.0', updateResult: 1, executionId: 'job-1#1', finishedAt: T0 };
export const FAILED: JobState = { value: 'failed', attempt: 1, reason: 'integrityCheckFailed', explanation: 'x', updateResult: 5, finishedAt: T0 };
export const CANCELLED: JobState = { value: 'cancelled', attempt: 1, reason: 'cancelled', explanation: 'x', confirmed: true, finishedAt: T0 };

/** Feeds inputs one by one (each at `now`), returning every step. */
export function run(state: JobState, inputs: readonly JobInput[], c: MachineContext = ctx()): Step[] {
  const steps: Step[] = [];
  let s = state;
  for (const input of inputs) {
    const step = next(s, input, c);
    steps.push(step);
    s = step.state;
  }
  return steps;
}

/** One row of a transition table: from `start`, `input` leads to a state with `target`'s fields. */
export interface TransitionRow {
  name: string;
  start: JobState;
  input: JobInput;
  /** Fields the resulting state must have. */
  target: Record<string, unknown>;
  /** The effects other than events, in order. */
  actions: string[];
  /** The step must carry a note (an anomaly or a refusal). */
  note?: RegExp;
  now?: number;
  /** The job's own settings, over SPEC. */
  job?: Partial<JobSpec>;
  /** A pattern the explanation of the last history entry must match. */
  explanation?: RegExp;
}

/** Takes the row's step and checks it against the row; returns the step for further checks. */
export function checkRow(row: TransitionRow): Step {
  const step = next(row.start, row.input, ctx(row.now ?? T0, row.job === undefined ? {} : { job: row.job }));
  expect(step.state).toMatchObject(row.target);
  expect(actionsOf(step)).toEqual(row.actions);
  if (row.note === undefined) expect(step.note).toBeUndefined();
  else expect(step.note).toMatch(row.note);
  if (row.explanation !== undefined) expect(step.history.at(-1)?.explanation ?? '').toMatch(row.explanation);
  return step;
}
