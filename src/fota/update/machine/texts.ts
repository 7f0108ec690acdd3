/**
 * The update machine's texts for people: how an input reads in a job's history, and the
 * explanations of timeouts, version mismatches and refused cancels. The anomaly notes stay
 * next to the transitions that record them (they say what the device did in that state).
 */
import { explainReason, firmwareStateName } from '../update-result';
import type { ActiveState, JobInput, TimerName } from './types';

/** How an input reads in the job's history, e.g. 'resultObserved 5' or 'timedOut delivery'. */
export function summarize(input: JobInput): string {
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

/** Why a deadline ended the attempt, for the operator. */
export function timeoutExplanation(timer: TimerName, s: ActiveState): string {
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

/** A /3/0/3 that is not the version the manifest announced. */
export function mismatch(got: string, expected: string): string {
  return `The device reports firmware version ${JSON.stringify(got)} (/3/0/3), not ${JSON.stringify(expected)} as the manifest announced.`;
}

/** The note of a refused cancel; the operator surface answers ERR_FOTA_CANCEL_TOO_LATE. */
export const TOO_LATE = 'cancel refused: Update was already executed; the installation cannot be cancelled';
