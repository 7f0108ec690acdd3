/**
 * The server log's line for an update job's transition: what an operator tailing `serve`
 * wants to see next to the registrations, one line each — `update <jobId> <ep>: failed
 * (deliveryRejected: …)`. Progress and anomalies are left out (the event stream and
 * `status` carry them); everything that changes a job's state is in.
 */
import type { TypedEvent } from './events';

/** The line for one event, or undefined for events that are not a job transition. */
export function updateLogLine(e: TypedEvent): string | undefined {
  const head = (jobId: string): string => `update ${jobId} ${e.endpoint ?? '?'}:`;
  const attempt = (n: number): string => (n > 1 ? ` attempt ${n}` : '');
  const why = (explanation: string | undefined): string => (explanation === undefined || explanation === '' ? '' : `: ${explanation}`);
  switch (e.type) {
    case 'updateQueued':
      return `${head(e.data.jobId)} queued (firmware ${e.data.firmwareId.slice(0, 12)}, version ${e.data.expectedVersion})`;
    case 'updateRetryScheduled':
      return `${head(e.data.jobId)} retry scheduled${attempt(e.data.attempt)} at ${new Date(e.data.retryAt).toISOString()} (${e.data.reason}${why(e.data.explanation)})`;
    case 'updateDeliveryStarted':
      return `${head(e.data.jobId)} delivery started${e.data.method === undefined ? '' : ` (${e.data.method})`}${attempt(e.data.attempt)}`;
    case 'updateDownloaded':
      return `${head(e.data.jobId)} downloaded`;
    case 'updateExecuted':
      return `${head(e.data.jobId)} executed (Update /5/0/2 sent)`;
    case 'updateAccepted':
      return `${head(e.data.jobId)} accepted, installing and rebooting`;
    case 'updateVerificationStarted':
      return `${head(e.data.jobId)} verifying (the device registered again)`;
    case 'updateCancelRequested':
      return `${head(e.data.jobId)} cancel requested`;
    case 'updateSucceeded':
      return `${head(e.data.jobId)} succeeded (now running ${e.data.version})`;
    case 'updateFailed': {
      const result = e.data.updateResult === undefined ? '' : `, Update Result ${e.data.updateResult}`;
      const last = e.data.lastReason === undefined ? '' : ` after ${e.data.lastReason}`;
      return `${head(e.data.jobId)} failed (${e.data.reason}${last}${result}${why(e.data.explanation)})`;
    }
    case 'updateCancelled':
      return `${head(e.data.jobId)} cancelled${e.data.explanation === undefined || e.data.explanation === '' ? '' : ` (${e.data.explanation})`}`;
    case 'updateResumed':
      return `${head(e.data.jobId)} resumed in ${e.data.state}${attempt(e.data.attempt)} (the server restarted)`;
    default:
      return undefined;
  }
}
