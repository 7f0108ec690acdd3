/**
 * The update machine's texts for people: how an input reads in a job's history, and the
 * explanations of timeouts, version mismatches and refused cancels. The anomaly notes stay
 * next to the transitions that record them (they say what the device did in that state).
 */
import { explainReason, firmwareStateName } from '../update-result';
import type { ActiveState, ConfirmBy, JobInput, TimerName } from './types';

/** How an input reads in the job's history, e.g. 'resultObserved 5' or 'timedOut delivery'. */
export function summarize(input: JobInput): string {
  switch (input.type) {
    case 'stateObserved':
      return `stateObserved ${input.state} (${firmwareStateName(input.state)})`;
    case 'resultObserved':
      return `resultObserved ${input.result}`;
    case 'versionRead':
    case 'pkgVersionRead':
      return `${input.type} ${JSON.stringify(input.version)}`;
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
      return s.value === 'queued' && s.unreachableSince !== undefined
        ? `The device went silent: its registration lapsed at ${new Date(s.unreachableSince).toISOString()} and it did not contact the server again before the contact timeout.`
        : 'The device did not become reachable before the contact timeout.';
    case 'settle':
      return settleExplanation(s);
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

/** A /3/0/3 (or, confirming by PkgVersion, a /5/0/7) that is not the version the manifest announced. */
export function mismatch(got: string, expected: string, by: ConfirmBy = 'firmwareVersion'): string {
  const what = by === 'pkgVersion' ? 'package version' : 'firmware version';
  return `The device reports ${what} ${JSON.stringify(got)} (${RESOURCE_OF[by]}), not ${JSON.stringify(expected)} as the manifest announced.`;
}

const RESOURCE_OF: Readonly<Record<ConfirmBy, string>> = { firmwareVersion: '/3/0/3', pkgVersion: '/5/0/7', result: '/5/0/5' };

/** The explanation of a success: Update Result 1 and the check that confirmed it. */
export function confirmation(by: ConfirmBy, value: string): string {
  if (by === 'result') return 'The firmware was updated successfully (Update Result 1); confirmed by Update Result 1 alone (the version was not checked).';
  return `The firmware was updated successfully (Update Result 1); confirmed by ${by === 'pkgVersion' ? 'PkgVersion' : 'firmware version'} ${RESOURCE_OF[by]} = ${JSON.stringify(value)}.`;
}

function settleExplanation(s: ActiveState): string {
  const d = s.value === 'delivering' || s.value === 'downloaded' ? s : undefined;
  const state = d?.device.state === undefined ? 'unchanged' : `at ${d.device.state} (${firmwareStateName(d.device.state)})`;
  const what =
    d?.method === 'pull'
      ? 'accepted the Package URI (/5/0/1) but fetched nothing'
      : `acknowledged every block of the package written to /5/0/0${d === undefined ? '' : ` (${d.bytes} bytes)`}`;
  return `The device ${what}, and its State (/5/0/3) stayed ${state}: its Firmware Update object acknowledges writes without acting on them (a stub).`;
}

/** The note of a refused cancel; the operator surface answers ERR_FOTA_CANCEL_TOO_LATE. */
export const TOO_LATE = 'cancel refused: Update was already executed; the installation cannot be cancelled';
