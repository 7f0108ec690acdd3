/**
 * `lwm2m-fota update <endpoint> --firmware <id> [--method pull|push] [--payload-only]
 * [--confirm firmwareVersion|pkgVersion|result] [--contact-timeout <s>]
 * [--wait [--timeout <s>]] [--json]`: starts an update job through the REST API; with --wait
 * follows the event stream (a live progress bar on a terminal, plain lines otherwise) until
 * the job ends, and exits non-zero unless it succeeded. `--timeout` bounds the wait only:
 * the job goes on on the server (see `status`, `cancel`).
 */
import type { Command } from 'commander';
import { Lwm2mFotaError, type EventJson, type UpdateEventName, type UpdateJobView } from '../../index';
import { ApiClient, connectionOptions, type ServerConnectionOptions } from '../client';
import { ProgressReporter } from '../progress';
import { action, parseIntOption, printJson, usageError } from '../run';

interface UpdateOptions extends ServerConnectionOptions {
  firmware: string;
  method?: string;
  payloadOnly?: boolean;
  confirm?: string;
  contactTimeout?: string;
  wait?: boolean;
  timeout?: string;
  json?: boolean;
}

/** One event of the server's SSE stream, as `/api/events` sends it. */
type StreamEvent = EventJson;

/** An update job's event (the only ones with a `jobId`). */
function isUpdateEvent(e: StreamEvent): e is EventJson<UpdateEventName> {
  return 'jobId' in e.data;
}

export function updatePath(endpoint: string): string {
  return `/api/devices/${encodeURIComponent(endpoint)}/update`;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

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

/**
 * Reads an SSE response body and calls `onEvent` per event until it returns true, the
 * stream ends, or `cancel()`.
 */
export function readEventStream(res: Response, onEvent: (e: StreamEvent) => boolean | void): { done: Promise<void>; cancel: () => void } {
  if (res.body === null) return { done: Promise.resolve(), cancel: () => {} };
  const reader = res.body.getReader();
  return { done: pump(reader, onEvent), cancel: () => void reader.cancel().catch(() => {}) };
}

async function pump(reader: ReadableStreamDefaultReader<Uint8Array>, onEvent: (e: StreamEvent) => boolean | void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (data === '') continue;
        let e: StreamEvent;
        try {
          e = JSON.parse(data) as StreamEvent;
        } catch {
          continue;
        }
        if (onEvent(e) === true) return;
      }
    }
  } finally {
    void reader.cancel().catch(() => {});
  }
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

export function register(program: Command): void {
  connectionOptions(
    program
      .command('update <endpoint>')
      .description('update a device to a firmware of the repository (pull or push, chosen from /5/0/9 unless --method)')
      .requiredOption('--firmware <id>', 'firmware id (SHA-256 of the envelope, see `firmware list`) or a unique prefix of it')
      .option('--method <method>', 'pull (the device fetches /fw/<id>) or push (Block1 writes to /5/0/0)')
      .option('--payload-only', 'deliver the manifest’s payload alone (devices that take raw images)')
      .option('--confirm <check>', 'what confirms success: firmwareVersion (/3/0/3, default), pkgVersion (/5/0/7) or result (Update Result 1 alone)')
      .option('--contact-timeout <seconds>', 'how long to wait for a silent device before failing deviceUnreachable (0 = for ever; default: the server’s)')
      .option('--wait', 'follow the update until it ends; exit non-zero unless it succeeded')
      .option('--timeout <seconds>', 'with --wait: stop waiting after this long and exit non-zero (the update goes on)')
      .option('--json', 'print the job as JSON (with --wait: the final job)'),
  ).action(
    action(async (endpoint: string, opts: UpdateOptions) => {
      if (opts.method !== undefined && opts.method !== 'pull' && opts.method !== 'push') throw usageError(`--method must be pull or push, got "${opts.method}"`);
      if (opts.timeout !== undefined && opts.wait !== true) throw usageError('--timeout only applies with --wait');
      if (opts.confirm !== undefined && !['firmwareVersion', 'pkgVersion', 'result'].includes(opts.confirm)) {
        throw usageError(`--confirm must be firmwareVersion, pkgVersion or result, got "${opts.confirm}"`);
      }
      const contactTimeout = opts.contactTimeout === undefined ? undefined : parseIntOption('--contact-timeout', opts.contactTimeout, 0, 365 * 24 * 3600) * 1000;
      const timeoutMs = opts.timeout === undefined ? undefined : parseIntOption('--timeout', opts.timeout, 1, 7 * 24 * 3600) * 1000;
      const client = new ApiClient(opts);
      const body = {
        firmware: opts.firmware.toLowerCase(),
        ...(opts.method === undefined ? {} : { method: opts.method }),
        ...(opts.payloadOnly === true ? { payloadOnly: true } : {}),
        ...(opts.confirm === undefined ? {} : { confirm: opts.confirm }),
        ...(contactTimeout === undefined ? {} : { contactTimeout }),
      };
      if (opts.wait !== true) {
        const job = await client.call<UpdateJobView>('POST', updatePath(endpoint), body);
        if (opts.json === true) printJson(job);
        else process.stdout.write(`${endpoint}: update ${job.id} ${job.state} (firmware ${job.firmware.slice(0, 12)}…, version ${job.expectedVersion})\n`);
        return;
      }
      const { job: final, timedOut } = await follow(client, endpoint, body, opts.json === true, timeoutMs);
      if (timedOut && !TERMINAL.has(final.state)) {
        if (opts.json === true) printJson(final);
        throw new Lwm2mFotaError(
          'ERR_CLI_TIMEOUT',
          `${endpoint}: update ${final.id} still ${final.state} after ${opts.timeout} s; it goes on on the server (\`lwm2m-fota status ${endpoint}\`, \`lwm2m-fota cancel ${endpoint}\`)`,
          { context: { endpoint } },
        );
      }
      if (opts.json === true) printJson(final);
      else process.stdout.write(`${describeOutcome(final)}\n`);
      if (final.state !== 'succeeded') {
        throw new Lwm2mFotaError('ERR_FOTA_UPDATE_FAILED', describeOutcome(final), { context: { endpoint } });
      }
    }),
  );
}

/**
 * Starts the job with the event stream already open (nothing is missed), shows progress,
 * and returns the final job — or, after `timeoutMs`, the job as it stands. The stream is
 * the fast path; a status poll every 2 s covers a stream that breaks.
 */
async function follow(
  client: ApiClient,
  endpoint: string,
  body: Record<string, unknown>,
  json: boolean,
  timeoutMs?: number,
): Promise<{ job: UpdateJobView; timedOut: boolean }> {
  // With --json the bar goes to stderr (stdout stays JSON); otherwise to stdout.
  const out = json ? process.stderr : process.stdout;
  const tty = json ? process.stderr.isTTY === true : process.stdout.isTTY === true;
  const showProgress = !json || tty;
  const progress = new ProgressReporter(out, { tty, label: endpoint });
  const stream = await client.raw('GET', `/api/events?endpoint=${encodeURIComponent(endpoint)}`, undefined, { accept: 'text/event-stream' });
  if (!stream.ok) {
    void stream.body?.cancel().catch(() => {});
    throw new Lwm2mFotaError('ERR_API_RESPONSE', `the event stream answered ${stream.status}`);
  }
  let job: UpdateJobView;
  try {
    job = await client.call<UpdateJobView>('POST', updatePath(endpoint), body);
  } catch (err) {
    void stream.body?.cancel().catch(() => {});
    throw err;
  }
  if (showProgress) progress.update({ phase: job.state });
  let ended = TERMINAL.has(job.state);
  let poller: NodeJS.Timeout | undefined;
  let blockSize: number | undefined;
  let method = job.method ?? undefined;
  let reading: { done: Promise<void>; cancel: () => void } | undefined;
  const done = new Promise<void>((resolve) => {
    if (ended) return resolve();
    const check = async (): Promise<void> => {
      try {
        const now = await client.get<UpdateJobView>(updatePath(endpoint));
        if (now.id === job.id && TERMINAL.has(now.state)) {
          ended = true;
          resolve();
          return;
        }
      } catch {
        // the next poll tries again
      }
      if (!ended) poller = setTimeout(() => void check(), 2000);
    };
    poller = setTimeout(() => void check(), 2000);
    reading = readEventStream(stream, (e) => {
      if (ended) return true;
      if (!isUpdateEvent(e) || e.data.jobId !== job.id) return false;
      if (e.data.method !== undefined) method = e.data.method;
      if (e.type === 'updateProgressed') {
        if (e.data.blockSize !== undefined) blockSize = e.data.blockSize;
        if (showProgress) {
          progress.update({
            phase: `delivering${method === undefined ? '' : ` (${method})`}`,
            bytes: e.data.bytes,
            ...(e.data.total === undefined ? {} : { total: e.data.total }),
            ...(blockSize === undefined ? {} : { blockSize }),
          });
        }
        return false;
      }
      if (e.type === 'updateAnomalyRecorded') {
        if (showProgress) progress.note(`note: ${e.data.note}`);
        return false;
      }
      const phase = e.type === 'updateResumed' ? undefined : PHASE_OF[e.type];
      if (phase !== undefined && showProgress) {
        const attempt = e.data.attempt > 1 ? ` (attempt ${e.data.attempt})` : '';
        const why = e.type === 'updateRetryScheduled' ? `: ${e.data.reason}` : '';
        progress.update({ phase: `${phase}${phase === 'delivering' && method !== undefined ? ` (${method})` : ''}${attempt}${why}` });
      }
      if (e.type === 'updateSucceeded' || e.type === 'updateFailed' || e.type === 'updateCancelled') {
        ended = true;
        resolve();
        return true;
      }
      return false;
    });
    // A stream that ends early (server restart) leaves the poll to carry on.
    reading.done.catch(() => {});
  });
  let timedOut = false;
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([
    done,
    new Promise<void>((resolve) => {
      if (timeoutMs !== undefined && !ended) {
        deadline = setTimeout(() => {
          timedOut = true;
          resolve();
        }, timeoutMs);
      }
    }),
  ]);
  ended = true;
  if (deadline !== undefined) clearTimeout(deadline);
  if (poller !== undefined) clearTimeout(poller);
  reading?.cancel();
  if (reading === undefined) void stream.body?.cancel().catch(() => {});
  if (showProgress) progress.finish();
  // The job as stored, with the device's version as the server read it.
  for (let i = 0; ; i++) {
    const final = await client.get<UpdateJobView>(updatePath(endpoint));
    if (timedOut || final.id !== job.id || TERMINAL.has(final.state) || i >= 10) return { job: final, timedOut };
    await new Promise((r) => setTimeout(r, 200));
  }
}
