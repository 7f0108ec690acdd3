/**
 * Phase 3, installing: updating (Update sent, never again for this download), rebooting
 * (the device accepted it) and verifying (it is back: Update Result 1 and /3/0/3 as the
 * manifest announced make success). Cancel is refused in all three.
 */
import { explainReason, FirmwareState, firmwareStateName, isFirmwareState, UpdateResult } from '../update-result';
import { isSuccess, OBSERVE, READ_PKG_VERSION, READ_RESULT, READ_STATE, READ_VERSION, sameVersion, withDevice, type Builder } from './builder';
import { failForResult, failOrRetry, finish, recordResumed, timerDue } from './moves';
import { confirmation, mismatch, timeoutExplanation, TOO_LATE } from './texts';
import { DEFAULT_SETTLE_MS, type ConfirmBy, type DeviceView, type Effect, type JobInput, type RebootingState, type UpdatingState, type VerifyingState } from './types';

/** The updating state's transitions. */
export function onUpdating(b: Builder, s: UpdatingState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      // Update may or may not have left before the crash. Never send it again: look.
      recordResumed(b, s);
      b.effect(...OBSERVE);
      return;
    case 'executeAnswered':
      if (isSuccess(input.code)) toRebooting(b, s);
      else failOrRetry(b, s, 'updateRejected', `The device refused to execute Update: it answered ${input.code}.`);
      return;
    case 'contactLost':
    case 'deregistered':
      // Many devices reboot before (or instead of) answering the execute.
      toRebooting(b, s);
      return;
    case 'stateObserved':
      onUpdateState(b, s, input.state);
      return;
    case 'resultObserved':
      onUpdateResult(b, s, input.result);
      return;
    case 'registered':
      toVerifying(b, s, input.version);
      return;
    case 'updated':
      b.effect(READ_STATE, READ_RESULT);
      return;
    case 'timedOut':
      if (timerDue(s, input.timer, b.now)) failOrRetry(b, s, 'timeout', timeoutExplanation(input.timer, s));
      return;
    case 'cancel':
      b.record(TOO_LATE);
      return;
    default:
      return;
  }
}

/** The rebooting state's transitions. */
export function onRebooting(b: Builder, s: RebootingState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      recordResumed(b, s);
      b.effect(READ_STATE, READ_RESULT);
      return;
    case 'registered':
      toVerifying(b, s, input.version);
      return;
    case 'updated':
      // Some devices keep their registration across the reboot and only send an Update.
      b.effect(READ_STATE, READ_RESULT);
      return;
    case 'stateObserved':
      if (s.checking === true && input.state === FirmwareState.Updating) {
        // Still in Updating after the reboot timeout: it never restarted, and a retry would
        // send a delivery that a device in Updating refuses.
        failOrRetry(b, { ...s, device: withDevice(s.device, { state: input.state }) }, 'notRebooted', NOT_REBOOTED, s.device.result);
        return;
      }
      onUpdateState(b, s, input.state);
      return;
    case 'resultObserved':
      onUpdateResult(b, s, input.result);
      return;
    case 'timedOut':
      if (!timerDue(s, input.timer, b.now)) return;
      if (s.checking !== true && s.device.state === FirmwareState.Updating) {
        // Last seen in Updating: ask whether it still is before concluding (a device that
        // rebooted and could not register again looks the same from here).
        b.goto({ ...s, checking: true, timer: { name: 'reboot', at: b.now + (b.ctx.config.timeouts.settle ?? DEFAULT_SETTLE_MS) } });
        b.effect(READ_STATE);
        return;
      }
      failOrRetry(b, s, 'timeout', timeoutExplanation(input.timer, s));
      return;
    case 'cancel':
      b.record(TOO_LATE);
      return;
    default:
      return; // contactLost, deregistered: expected while it reboots
  }
}

function toRebooting(b: Builder, s: UpdatingState): void {
  const { value: _v, ...rest } = s;
  b.goto({ ...rest, value: 'rebooting', acceptedAt: b.now, timer: { name: 'reboot', at: b.now + b.ctx.config.timeouts.reboot } });
}

function toVerifying(b: Builder, s: UpdatingState | RebootingState | VerifyingState, version: string | undefined, device: DeviceView = {}): void {
  const { executionId, updateSentAt, attempt, method } = s;
  // What the device reported before its reboot says nothing about the new firmware.
  const v: VerifyingState = {
    value: 'verifying',
    attempt,
    method,
    executionId,
    updateSentAt,
    since: b.now,
    ...(version === undefined ? {} : { version }),
    timer: { name: 'verify', at: b.now + b.ctx.config.timeouts.verify },
    device,
  };
  b.goto(v);
  if (v.device.result === undefined) b.effect(...OBSERVE);
  b.effect(...missingReads(b, v));
  evaluate(b, v);
}

function onUpdateState(b: Builder, s: UpdatingState | RebootingState, value: number): void {
  const d = { ...s, device: withDevice(s.device, { state: value }) };
  b.state = d;
  switch (value) {
    case FirmwareState.Updating:
      if (d.value === 'updating') toRebooting(b, d); // accepted, even if the 2.04 was lost
      return;
    case FirmwareState.Idle:
      // Idle after Update: success without reboot (Result 1) or a 1.1 failure (Result
      // 8/5). The Result may not change (no notification): read it.
      b.effect(READ_RESULT);
      return;
    case FirmwareState.Downloaded:
      return; // before the device acts on Update, or a failure (Result follows)
    default:
      b.anomaly(`device reports ${firmwareStateName(value)} after Update was sent; ignored`);
  }
}

function onUpdateResult(b: Builder, s: UpdatingState | RebootingState, result: number): void {
  const d = { ...s, device: withDevice(s.device, { result }) };
  b.state = d;
  if (result === UpdateResult.Initial) return; // reset when the update starts
  if (result === UpdateResult.Success) {
    // Success without (or before we saw) a re-registration: check the version.
    toVerifying(b, d, undefined, { result });
    return;
  }
  failForResult(b, d, result);
}

/** The verifying state's transitions. */
export function onVerifying(b: Builder, s: VerifyingState, input: JobInput): void {
  switch (input.type) {
    case 'resumed':
      recordResumed(b, s);
      b.effect(...OBSERVE, ...confirmReads(confirmBy(b)));
      return;
    case 'stateObserved':
      b.state = { ...s, device: withDevice(s.device, { state: input.state }) };
      if (!isFirmwareState(input.state)) b.anomaly(`device reports ${firmwareStateName(input.state)}; ignored`);
      return;
    case 'resultObserved': {
      const v = { ...s, device: withDevice(s.device, { result: input.result }) };
      b.state = v;
      evaluate(b, v);
      return;
    }
    case 'pkgVersionRead': {
      const v = { ...s, pkgVersion: input.version };
      b.state = v;
      evaluate(b, v);
      return;
    }
    case 'versionRead':
    case 'registered': {
      if (input.type === 'registered') {
        toVerifying(b, s, input.version);
        return;
      }
      const v = { ...s, version: input.version };
      b.state = v;
      evaluate(b, v);
      return;
    }
    case 'contactLost':
      // A read was lost: ask again for what is still missing (bounded by the verify timer).
      b.effect(...missingReads(b, s));
      if (s.device.result === undefined) b.effect(READ_RESULT);
      return;
    case 'timedOut': {
      if (!timerDue(s, input.timer, b.now)) return;
      const by = confirmBy(b);
      const version = checked(s, by, b.ctx.job.expectedVersion);
      const expected = b.ctx.job.expectedVersion;
      if (version === undefined) failOrRetry(b, s, 'timeout', timeoutExplanation('verify', s), s.device.result);
      else if (!sameVersion(version, expected)) failOrRetry(b, s, 'versionMismatch', mismatch(version, expected, by), s.device.result);
      else if (by === 'result') failOrRetry(b, s, 'timeout', `The device did not report Update Result 1 before the verify timeout (confirming by Update Result alone); last Update Result: ${String(s.device.result ?? 'none')}.`, s.device.result);
      else failOrRetry(b, s, 'unconfirmed', `${explainReason('unconfirmed')} Last Update Result: ${String(s.device.result ?? 'none')}.`, s.device.result);
      return;
    }
    case 'cancel':
      b.record(TOO_LATE);
      return;
    default:
      return;
  }
}

/**
 * Success needs BOTH Update Result 1 and the job's confirmation: /3/0/3 (default) or
 * /5/0/7 equal to the expected version, or nothing more ('result'). A failure Result
 * decides at once; Result 0 waits (the device may set the Result shortly after booting)
 * until the verify timer, which then tells 'unconfirmed' from 'versionMismatch'.
 */
function evaluate(b: Builder, v: VerifyingState): void {
  const result = v.device.result;
  if (result !== undefined && result !== UpdateResult.Initial && result !== UpdateResult.Success) {
    failForResult(b, v, result);
    return;
  }
  const by = confirmBy(b);
  const expected = b.ctx.job.expectedVersion;
  const version = checked(v, by, expected);
  if (result !== UpdateResult.Success || version === undefined) return;
  if (sameVersion(version, expected)) {
    const explanation = confirmation(by, version);
    finish(b, { value: 'succeeded', attempt: v.attempt, version, updateResult: 1, confirmedBy: by, executionId: v.executionId, finishedAt: b.now }, { updateResult: 1, explanation });
  } else {
    failOrRetry(b, v, 'versionMismatch', mismatch(version, expected, by), result);
  }
}

const NOT_REBOOTED =
  'The device accepted Update but still reports State 3 (Updating) after the reboot timeout: it never restarted into the new firmware. No new delivery is sent to a device in Updating; restart it.';

function confirmBy(b: Builder): ConfirmBy {
  return b.ctx.job.confirm ?? 'firmwareVersion';
}

/** The version the confirmation compares (for 'result', the announced one: nothing to compare). */
function checked(v: VerifyingState, by: ConfirmBy, expected: string): string | undefined {
  return by === 'firmwareVersion' ? v.version : by === 'pkgVersion' ? v.pkgVersion : expected;
}

/** The reads a confirmation needs. */
function confirmReads(by: ConfirmBy): Effect[] {
  return by === 'firmwareVersion' ? [READ_VERSION] : by === 'pkgVersion' ? [READ_PKG_VERSION] : [];
}

/** The reads of what the confirmation still lacks. */
function missingReads(b: Builder, v: VerifyingState): Effect[] {
  const by = confirmBy(b);
  return checked(v, by, b.ctx.job.expectedVersion) === undefined ? confirmReads(by) : [];
}
