/**
 * Phase 4, cancelling: the operator cancelled during delivery; the cancel went out
 * (Execute /5/0/10, or an empty /5/0/1 when the device has no Cancel) and the job ends
 * cancelled once the device confirms it, or unconfirmed when it does not answer in time.
 */
import { FirmwareState, UpdateResult } from '../update-result';
import { isSuccess, withDevice, type Builder } from './builder';
import { cancelEffect, cancelled, recordResumed, timerDue } from './moves';
import type { CancellingState, JobInput } from './types';

/** The cancelling state's transitions. */
export function onCancelling(b: Builder, s: CancellingState, input: JobInput): void {
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
