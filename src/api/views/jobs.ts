/**
 * An update job as the REST API, `lwm2m-fota status --json` and `update --wait --json`
 * show it. Stable: scripts rely on these names. Times are ISO 8601 strings.
 */
import { explainUpdateResult, type HistoryEntry, type Job, type JobStateValue } from '../../fota/update';

export interface UpdateHistoryView {
  at: string;
  attempt: number;
  /** The state after what happened. */
  state: JobStateValue;
  /** What happened, e.g. 'resultObserved 5' or 'timedOut delivery'. */
  input: string;
  updateResult?: number;
  /** What the Update Result, or the failure, means. */
  explanation?: string;
  /** A device report that broke the rules, or an input that came too late. */
  note?: string;
}

export interface UpdateJobView {
  id: string;
  endpoint: string;
  /** The firmware id (SHA-256 of the envelope). */
  firmware: string;
  /** /3/0/3 the manifest announces. */
  expectedVersion: string;
  /** The operator's choice, null = chosen from /5/0/9. */
  requestedMethod: 'pull' | 'push' | null;
  /** The method in use (or last used), null before the delivery started. */
  method: 'pull' | 'push' | null;
  payloadOnly: boolean;
  /** What confirms success: firmwareVersion (/3/0/3), pkgVersion (/5/0/7) or result (Update Result 1 alone). */
  confirm: 'firmwareVersion' | 'pkgVersion' | 'result';
  /** The check that did confirm it, once succeeded; null otherwise. */
  confirmedBy: 'firmwareVersion' | 'pkgVersion' | 'result' | null;
  /** This job's wait for a silent device in ms (0 = for ever); null = the server's setting. */
  contactTimeout: number | null;
  /** queued · delivering · downloaded · updating · rebooting · verifying · cancelling · succeeded · failed · cancelled */
  state: JobStateValue;
  /** One line for humans: what the job waits for. */
  phase: string;
  active: boolean;
  attempt: number;
  /** The device's Update Result that decided the outcome (1 on success), null when none. */
  updateResult: number | null;
  /** Why the job failed or was cancelled (a FailureReason), null otherwise. */
  reason: string | null;
  explanation: string | null;
  /** The firmware version the device reports: after a success the new one; otherwise what it runs, when known. */
  version: string | null;
  /** Delivery progress (bytes of the package delivered so far and its size), while delivering. */
  bytes: number | null;
  total: number | null;
  /** Pull: the URI written to /5/0/1. */
  uri: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  history: UpdateHistoryView[];
}

const PHASES: Readonly<Record<JobStateValue, string>> = {
  queued: 'waiting for the device',
  delivering: 'delivering the package',
  downloaded: 'package delivered, waiting for the last block to be acknowledged',
  updating: 'Update (/5/0/2) sent, waiting for the device to accept it',
  rebooting: 'installing and rebooting',
  verifying: 'checking Update Result and the firmware version',
  cancelling: 'cancelling',
  succeeded: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function historyView(h: HistoryEntry): UpdateHistoryView {
  const explanation = h.explanation ?? (h.updateResult === undefined ? undefined : explainUpdateResult(h.updateResult));
  return {
    at: iso(h.at),
    attempt: h.attempt,
    state: h.state,
    input: h.input,
    ...(h.updateResult === undefined ? {} : { updateResult: h.updateResult }),
    ...(explanation === undefined ? {} : { explanation }),
    ...(h.note === undefined ? {} : { note: h.note }),
  };
}

/**
 * The view of a job. `deviceVersion` is the device's /3/0/3 as the server last read it,
 * shown when the job itself has no version to report.
 */
export function jobView(job: Job, deviceVersion?: string): UpdateJobView {
  const s = job.state;
  let updateResult: number | null = null;
  let reason: string | null = null;
  let explanation: string | null = null;
  let version: string | null = deviceVersion ?? null;
  let method: 'pull' | 'push' | null = null;
  let bytes: number | null = null;
  let total: number | null = null;
  let uri: string | null = null;
  let phase = PHASES[s.value];
  switch (s.value) {
    case 'succeeded':
      updateResult = 1;
      version = s.version;
      explanation = explainUpdateResult(1);
      break;
    case 'failed':
      updateResult = s.updateResult ?? null;
      reason = s.reason;
      explanation = s.explanation;
      if (s.version !== undefined) version = s.version;
      phase = `failed: ${s.reason}`;
      break;
    case 'cancelled':
      reason = 'cancelled';
      explanation = s.explanation;
      break;
    case 'queued':
      if (s.lastFailure !== undefined) {
        reason = s.lastFailure.reason;
        explanation = s.lastFailure.explanation;
        updateResult = s.lastFailure.updateResult ?? null;
        phase = s.timer?.name === 'retry' ? `retry ${s.attempt} at ${iso(s.timer.at)} after ${s.lastFailure.reason}` : phase;
      }
      break;
    case 'delivering':
    case 'downloaded':
      method = s.method;
      bytes = s.bytes;
      total = s.total ?? null;
      uri = s.uri ?? null;
      break;
    default:
      if ('method' in s) method = s.method;
  }
  if (method === null) method = lastMethod(job);
  return {
    id: job.id,
    endpoint: job.endpoint,
    firmware: job.firmwareId,
    expectedVersion: job.expectedVersion,
    requestedMethod: job.method ?? null,
    method,
    payloadOnly: job.payloadOnly,
    confirm: job.confirm ?? 'firmwareVersion',
    // Jobs stored before the choice existed were confirmed by /3/0/3.
    confirmedBy: s.value === 'succeeded' ? (s.confirmedBy ?? 'firmwareVersion') : null,
    contactTimeout: job.contactTimeout ?? null,
    state: s.value,
    phase,
    active: job.finishedAt === undefined,
    attempt: s.attempt,
    updateResult,
    reason,
    explanation,
    version,
    bytes,
    total,
    uri,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    finishedAt: job.finishedAt === undefined ? null : iso(job.finishedAt),
    history: job.history.map(historyView),
  };
}

/** The method of the last delivery, from the history ('delivering' entries follow capabilitiesRead). */
function lastMethod(job: Job): 'pull' | 'push' | null {
  const s = job.state as { method?: unknown };
  if (s.method === 'pull' || s.method === 'push') return s.method;
  return job.method ?? null;
}
