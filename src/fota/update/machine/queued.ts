/**
 * Phase 1, queued: waiting for the device (first attempt, or a retry after backoff). A
 * probe (observe State/Result, read the capabilities) goes out on creation, on contact and
 * when a backoff ends; the capabilities' answer starts the delivery.
 */
import { FirmwareState, firmwareStateName, isFirmwareState } from '../update-result';
import { withDevice, type Builder } from './builder';
import { cancelled, contactTimeout, failOrRetry, probe, recordResumed, startDelivery, timerDue } from './moves';
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
    case 'updated': {
      // A backoff is respected even when the device shows up early. A new registration
      // loses observations (and any request queued for the old one): probe again. A
      // registration update while a probe is out changes nothing.
      const { unreachableSince: _u, ...back } = s;
      if (s.unreachableSince !== undefined) b.state = back; // it is back
      if (s.timer?.name === 'retry') return;
      if (input.type === 'registered' || !s.probing) probe(b, back);
      return;
    }
    case 'deregistered':
      onLapsed(b, s);
      return;
    case 'timedOut':
      if (!timerDue(s, input.timer, b.now)) return;
      if (input.timer === 'retry') {
        const { timer: _t, ...rest } = s;
        b.state = rest; // the retry timer fired; nothing to clear
        probe(b, rest);
      } else {
        // A device whose registration lapsed is gone until it registers again: fail. One
        // still registered that did not answer may be busy or asleep: retry.
        failOrRetry(b, s, s.unreachableSince === undefined ? 'lostContact' : 'deviceUnreachable', timeoutExplanation('contact', s));
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
      if (input.state === FirmwareState.Updating) b.anomaly('device reports State 3 (Updating) while the job is queued; no delivery is sent to a device in Updating');
      else if (input.state === FirmwareState.Downloading && s.attempt === 1) b.anomaly('device reports State 1 (Downloading) before anything was delivered');
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

/**
 * The device de-registered or its registration expired: recorded in the history (the
 * operator sees why the job waits), and the contact timeout, when there is one, decides.
 */
function onLapsed(b: Builder, s: QueuedState): void {
  const expired = b.input.type === 'deregistered' && b.input.expired === true;
  const forever = contactTimeout(b.ctx) === undefined;
  const wait =
    s.timer?.name === 'contact'
      ? `the job waits for it until the contact timeout (${new Date(s.timer.at).toISOString()}), then fails deviceUnreachable`
      : forever
        ? 'the job waits for it for ever (no contact timeout)'
        : 'the job waits for it up to the contact timeout of its next attempt';
  const explanation = `The device's registration ${expired ? 'expired (it went silent)' : 'ended (it de-registered)'}; ${wait}.`;
  const { probing: _p, ...rest } = s;
  // Requests to a device without a registration are dropped: the next Register probes again.
  b.state = { ...rest, probing: false, unreachableSince: s.unreachableSince ?? b.now };
  b.history.push({ at: b.now, attempt: s.attempt, state: 'queued', input: b.summary, explanation });
}
