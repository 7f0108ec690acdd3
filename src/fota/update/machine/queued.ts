/**
 * Phase 1, queued: waiting for the device (first attempt, or a retry after backoff). A
 * probe (observe State/Result, read the capabilities) goes out on creation, on contact and
 * when a backoff ends; the capabilities' answer starts the delivery.
 */
import { FirmwareState, firmwareStateName, isFirmwareState } from '../update-result';
import { withDevice, type Builder } from './builder';
import { cancelled, failOrRetry, probe, recordResumed, startDelivery, timerDue } from './moves';
import { timeoutExplanation } from './texts';
import type { JobInput, QueuedState } from './types';

/** The queued state's transitions. */
export function onQueued(b: Builder, s: QueuedState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      recordResumed(b, s);
      if (s.timer?.name !== 'retry') probe(b, s);
      return;
    case 'registered':
    case 'updated':
      // A backoff is respected even when the device shows up early. A new registration
      // loses observations (and any request queued for the old one): probe again. A
      // registration update while a probe is out changes nothing.
      if (s.timer?.name === 'retry') return;
      if (input.type === 'registered' || !s.probing) probe(b, s);
      return;
    case 'timedOut':
      if (!timerDue(s, input.timer, b.now)) return;
      if (input.timer === 'retry') {
        const { timer: _t, ...rest } = s;
        b.state = rest; // the retry timer fired; nothing to clear
        probe(b, rest);
      } else {
        failOrRetry(b, s, 'lostContact', timeoutExplanation('contact', s));
      }
      return;
    case 'capabilitiesRead':
      if (!s.probing) return; // a late answer to a probe of an earlier attempt
      startDelivery(b, s, input);
      return;
    case 'stateObserved':
      b.state = { ...s, device: withDevice(s.device, { state: input.state }) };
      // Anything but Idle before a delivery is left over from earlier (another job, another
      // server); the delivery will reset the device first. Updating is worth recording.
      if (input.state === FirmwareState.Updating) b.anomaly('device reports State 3 (Updating) while the job is queued; the delivery will reset it first');
      else if (!isFirmwareState(input.state)) b.anomaly(`device reports ${firmwareStateName(input.state)}; ignored`);
      return;
    case 'resultObserved':
      // A result before our delivery belongs to an earlier download: kept, not acted on.
      b.state = { ...s, device: withDevice(s.device, { result: input.result }) };
      return;
    case 'contactLost':
      // The device is away (or asleep and the request was dropped): the next contact probes again.
      if (s.probing) b.state = { ...s, probing: false };
      return;
    case 'cancel':
      cancelled(b, s, true, '');
      return;
    default:
      return; // answers to an earlier attempt's requests
  }
}
