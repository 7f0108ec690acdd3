/**
 * Following an update job until it ends, for `update --wait` and `status --follow`: the
 * same bar, the same lines, the same exit codes. The event stream is the fast path; a lost
 * stream (the server stopped or restarted) is said once on stderr and reopened with
 * `Last-Event-ID`, and the job is read again so the bar is right after a gap; a status poll
 * every 2 s covers a terminal event that never arrives. Ctrl-C stops following, not the
 * update, and says how to follow it again.
 */
import { Lwm2mFotaError, type EventJson, type UpdateEventName, type UpdateJobView } from '../index';
import type { ApiClient } from './client';
import { readEventStream } from './commands/device-common';
import { ProgressReporter } from './progress';
import { printJson } from './run';

/** The exit status after Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT = 130;

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Whether a job's state is an end (succeeded, failed, cancelled). */
export function isTerminalState(state: string): boolean {
  return TERMINAL.has(state);
}

export function updatePath(endpoint: string): string {
  return `/api/devices/${encodeURIComponent(endpoint)}/update`;
}

/** Human words for the state events (every update event but progress, notes and resumption). */
const PHASE_OF: Readonly<Record<Exclude<UpdateEventName, 'updateProgressed' | 'updateAnomalyRecorded' | 'updateResumed'>, string>> = {
  updateQueued: 'queued',
  updateRetryScheduled: 'waiting to retry',
  updateDeliveryStarted: 'delivering',
  updateDownloaded: 'downloaded',
  updateExecuted: 'updating',
  updateAccepted: 'installing and rebooting',
  updateVerificationStarted: 'verifying',
  updateCancelRequested: 'cancelling',
  updateSucceeded: 'succeeded',
  updateFailed: 'failed',
  updateCancelled: 'cancelled',
};

/** An update job's event (the only ones with a `jobId`). */
function isUpdateEvent(e: EventJson): e is EventJson<UpdateEventName> {
  return 'jobId' in e.data;
}

/** Prints the end of a job for humans. */
export function describeOutcome(job: UpdateJobView): string {
  switch (job.state) {
    case 'succeeded':
      return `${job.endpoint}: update succeeded, now running ${job.version ?? job.expectedVersion}`;
    case 'failed':
      return (
        `${job.endpoint}: update failed (${job.reason ?? 'unknown'}` +
        `${job.updateResult === null ? '' : `, Update Result ${job.updateResult}`}): ${job.explanation ?? ''}` +
        `${job.version === null ? '' : ` The device runs ${job.version}.`}`
      );
    case 'cancelled':
      return `${job.endpoint}: update cancelled: ${job.explanation ?? ''}`;
    default:
      return `${job.endpoint}: update ${job.state} (${job.phase})`;
  }
}

export interface FollowOptions {
  /** Print the final job as JSON (the bar goes to stderr then). */
  readonly json: boolean;
  /** Stop waiting after this long (the job goes on). */
  readonly timeoutMs?: number;
  /** What `--timeout` said, for the message. */
  readonly timeoutText?: string;
}

interface Followed {
  job: UpdateJobView;
  timedOut: boolean;
  interrupted: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Opens the event stream, then calls `start` (POST the job, or GET it) so that nothing
 * between the two is missed, follows the job and ends the command the way `update --wait`
 * does: the outcome on stdout (or the job as JSON), exit 0 only for a success;
 * ERR_FOTA_UPDATE_FAILED for a failed or cancelled job (its line once, on stderr);
 * ERR_CLI_TIMEOUT after `timeoutMs`; exit 130 after Ctrl-C with a line saying the update
 * goes on.
 *
 * @throws Lwm2mFotaError ERR_FOTA_UPDATE_FAILED, ERR_CLI_TIMEOUT, ERR_API_RESPONSE (the event
 *   stream refused), and whatever `start` throws.
 */
export async function followJob(client: ApiClient, endpoint: string, start: () => Promise<UpdateJobView>, options: FollowOptions): Promise<void> {
  const { job: final, timedOut, interrupted } = await follow(client, endpoint, start, options);
  if (interrupted) {
    process.stderr.write(
      `lwm2m-fota: stopped following ${endpoint}; update ${final.id} goes on on the server (${final.state}). ` +
        `Follow it again with \`lwm2m-fota status ${endpoint} --follow\`, stop it with \`lwm2m-fota cancel ${endpoint}\`\n`,
    );
    process.exitCode = INTERRUPTED_EXIT;
    return;
  }
  if (options.json) printJson(final);
  if (timedOut && !isTerminalState(final.state)) {
    throw new Lwm2mFotaError(
      'ERR_CLI_TIMEOUT',
      `${endpoint}: update ${final.id} still ${final.state} after ${options.timeoutText ?? `${Math.round((options.timeoutMs ?? 0) / 1000)}`} s; it goes on on the server (\`lwm2m-fota status ${endpoint} --follow\`, \`lwm2m-fota cancel ${endpoint}\`)`,
      { context: { endpoint } },
    );
  }
  // A failure is said once: on stderr, as the command's error line.
  if (final.state !== 'succeeded') throw new Lwm2mFotaError('ERR_FOTA_UPDATE_FAILED', describeOutcome(final), { context: { endpoint } });
  if (!options.json) process.stdout.write(`${describeOutcome(final)}\n`);
}

async function openStream(client: ApiClient, endpoint: string, lastEventId: string | undefined): Promise<Response> {
  const res = await client.raw('GET', `/api/events?endpoint=${encodeURIComponent(endpoint)}`, undefined, {
    accept: 'text/event-stream',
    ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
  });
  if (!res.ok) {
    void res.body?.cancel().catch(() => {});
    throw new Lwm2mFotaError('ERR_API_RESPONSE', `the event stream answered ${res.status}`);
  }
  return res;
}

async function follow(client: ApiClient, endpoint: string, start: () => Promise<UpdateJobView>, options: FollowOptions): Promise<Followed> {
  // With --json the bar goes to stderr (stdout stays JSON); otherwise to stdout.
  const out = options.json ? process.stderr : process.stdout;
  const tty = options.json ? process.stderr.isTTY === true : process.stdout.isTTY === true;
  const showProgress = !options.json || tty;
  const progress = new ProgressReporter(out, { tty, label: endpoint });
  const first = await openStream(client, endpoint, undefined);
  let job: UpdateJobView;
  try {
    job = await start();
  } catch (err) {
    void first.body?.cancel().catch(() => {});
    throw err;
  }

  let ended = isTerminalState(job.state);
  let timedOut = false;
  let interrupted = false;
  let lastEventId: string | undefined;
  let blockSize: number | undefined;
  let method = job.method ?? undefined;
  let reading: { done: Promise<void>; cancel: () => void } | undefined;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const stop = (): void => {
    ended = true;
    wake();
  };

  const delivering = (): string => `delivering${method === undefined ? '' : ` (${method})`}`;
  /** The job as the server has it: the bar after a gap in the stream. */
  const show = (j: UpdateJobView): void => {
    if (j.method !== null) method = j.method;
    if (!showProgress) return;
    if (j.state === 'delivering' && j.bytes !== null) {
      progress.update({ phase: delivering(), bytes: j.bytes, ...(j.total === null ? {} : { total: j.total }), ...(blockSize === undefined ? {} : { blockSize }) });
    } else progress.update({ phase: j.state === 'delivering' ? delivering() : j.state });
  };
  const onEvent = (raw: { id?: string; data: string }): void => {
    if (ended) return;
    if (raw.id !== undefined) lastEventId = raw.id;
    let e: EventJson;
    try {
      e = JSON.parse(raw.data) as EventJson;
    } catch {
      return;
    }
    if (!isUpdateEvent(e) || e.data.jobId !== job.id) return;
    if (e.data.method !== undefined) method = e.data.method;
    if (e.type === 'updateProgressed') {
      if (e.data.blockSize !== undefined) blockSize = e.data.blockSize;
      if (showProgress) {
        progress.update({
          phase: delivering(),
          bytes: e.data.bytes,
          ...(e.data.total === undefined ? {} : { total: e.data.total }),
          ...(blockSize === undefined ? {} : { blockSize }),
        });
      }
      return;
    }
    if (e.type === 'updateAnomalyRecorded') {
      if (showProgress) progress.note(`note: ${e.data.note}`);
      return;
    }
    const phase = e.type === 'updateResumed' ? undefined : PHASE_OF[e.type];
    if (phase !== undefined && showProgress) {
      const attempt = e.data.attempt > 1 ? ` (attempt ${e.data.attempt})` : '';
      const why = e.type === 'updateRetryScheduled' ? `: ${e.data.reason}` : '';
      progress.update({ phase: `${phase === 'delivering' ? delivering() : phase}${attempt}${why}` });
    }
    if (e.type === 'updateSucceeded' || e.type === 'updateFailed' || e.type === 'updateCancelled') stop();
  };

  /** Reads streams until the job ends: a stream that ends early is reopened where it broke. */
  const readStreams = async (): Promise<void> => {
    let res: Response | undefined = first;
    while (!ended) {
      if (res !== undefined) {
        reading = readEventStream(res, onEvent);
        await reading.done.catch(() => {});
        reading = undefined;
        res = undefined;
        if (ended) return;
        process.stderr.write(`lwm2m-fota: ${endpoint}: event stream lost; reconnecting…\n`);
      }
      await sleep(1000);
      if (ended) return;
      try {
        res = await openStream(client, endpoint, lastEventId);
        // Whatever the gap hid (progress is not replayed past its last value): the job as stored.
        const now = await client.get<UpdateJobView>(updatePath(endpoint));
        if (now.id === job.id) {
          show(now);
          if (isTerminalState(now.state)) stop();
        }
      } catch {
        // not back yet: the next round tries again
      }
    }
  };
  /** The backstop: a terminal event that never comes (a stream that breaks unseen). */
  const poll = async (): Promise<void> => {
    while (!ended) {
      await Promise.race([sleep(2000), stopped]);
      if (ended) return;
      try {
        const now = await client.get<UpdateJobView>(updatePath(endpoint));
        if (now.id === job.id && isTerminalState(now.state)) stop();
      } catch {
        // the next poll tries again
      }
    }
  };
  const onSigint = (): void => {
    interrupted = true;
    stop();
  };
  let deadline: NodeJS.Timeout | undefined;
  if (!ended) {
    // Ctrl-C is ours before the first line shows: whoever sees the job followed can stop following it.
    process.once('SIGINT', onSigint);
    show(job);
    if (options.timeoutMs !== undefined) {
      deadline = setTimeout(() => {
        timedOut = true;
        stop();
      }, options.timeoutMs);
    }
    void readStreams();
    void poll();
    await stopped;
  } else if (showProgress) show(job);
  ended = true;
  process.off('SIGINT', onSigint);
  if (deadline !== undefined) clearTimeout(deadline);
  const r = reading as { cancel: () => void } | undefined;
  if (r !== undefined) r.cancel();
  else void first.body?.cancel().catch(() => {});
  if (showProgress) progress.finish();
  if (interrupted) {
    // Where the job stands, for the line that says it goes on; the one we have if the server is away.
    const now = await client.get<UpdateJobView>(updatePath(endpoint)).catch(() => job);
    return { job: now.id === job.id ? now : job, timedOut, interrupted };
  }
  // The job as stored, with the device's version as the server read it.
  for (let i = 0; ; i++) {
    let final: UpdateJobView;
    try {
      final = await client.get<UpdateJobView>(updatePath(endpoint));
    } catch (err) {
      if (!timedOut) throw err;
      return { job, timedOut, interrupted };
    }
    if (timedOut || final.id !== job.id || isTerminalState(final.state) || i >= 10) return { job: final, timedOut, interrupted };
    await sleep(200);
  }
}
