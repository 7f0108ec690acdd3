/**
 * Phase 2, delivering and downloaded: the package is on its way (pull: the device fetches
 * from the URI written to /5/0/1; push: Block1 writes to /5/0/0) until the device reports
 * Downloaded and, for a push, the last block was acknowledged; then Update is sent.
 */
import { explainReason, FirmwareState, firmwareStateName, isFirmwareState, UpdateResult } from '../update-result';
import { isSuccess, OBSERVE, READ_RESULT, READ_STATE, withDevice, type Builder } from './builder';
import { failForResult, failOrRetry, recordResumed, redeliver, sendUpdate, startCancel, timerDue } from './moves';
import { timeoutExplanation } from './texts';
import { DEFAULT_SETTLE_MS, type DeliveringState, type DownloadedState, type JobInput } from './types';

/** The delivering and downloaded states' transitions. */
export function onDelivery(b: Builder, s: DeliveringState | DownloadedState, input: JobInput): void {
  switch (input.type) {
    case 'resumed': {
      recordResumed(b, s);
      if (!s.started && s.value === 'delivering') {
        // The delivery may or may not have reached the device: reset and deliver again.
        b.effect(...OBSERVE);
        redeliver(b, s, true);
      } else {
        b.state = { ...s, resync: true };
        b.effect(...OBSERVE);
      }
      return;
    }
    case 'stateObserved':
      onDeliveryState(b, s, input.state);
      return;
    case 'resultObserved':
      onDeliveryResult(b, s, input.result);
      return;
    case 'writeAnswered':
      if (input.write === 'reset') {
        if (!isSuccess(input.code)) b.anomaly(`device answered ${input.code} to the reset (empty Package URI); the delivery goes on`);
        return;
      }
      if (isSuccess(input.code)) {
        if (!s.started) b.state = { ...s, started: true };
        // Pull: a device in Idle moves to Downloading on its own once it fetches; one that
        // already claimed another State before our delivery (a stub reports Downloading
        // throughout) must move within the settle timeout.
        if (s.method === 'pull' && s.device.state !== undefined && s.device.state !== FirmwareState.Idle) settle(b, b.state as DeliveringState | DownloadedState);
        // A report that overtook this answer (Downloaded, a failure Result) was ignored as
        // an old one. After the reset (or from a device known to be clean) and an accepted
        // write, a read is fresh: ask again.
        if (s.device.state === FirmwareState.Downloaded) b.effect(READ_STATE);
        const r = s.device.result;
        if (r !== undefined && r !== UpdateResult.Initial && r !== UpdateResult.Success) b.effect(READ_RESULT);
      } else {
        // Errors surface through Update Result; read it to tell the operator why.
        b.state = { ...s, rejected: input.code };
        b.effect(READ_RESULT);
      }
      return;
    case 'blockProgress': {
      const total = input.total ?? s.total;
      b.state = { ...s, started: true, bytes: Math.max(0, Math.floor(input.bytes)), ...(total === undefined ? {} : { total }) };
      // Pull: the device fetches, so its object 5 acts (worth a write, once).
      if (s.method === 'pull' && s.stateUnmoved === true) moved(b, b.state as DeliveringState | DownloadedState);
      else b.volatile = s.started;
      return;
    }
    case 'deliveryFinished':
      if (!isSuccess(input.code)) {
        b.state = { ...s, rejected: input.code };
        b.effect(READ_RESULT);
        return;
      }
      if (s.value === 'downloaded') {
        sendUpdate(b, s);
        return;
      }
      b.state = { ...s, started: true, finished: true, ...(s.total === undefined ? {} : { bytes: s.total }) };
      settle(b, b.state as DeliveringState);
      return;
    case 'registered':
      // The device rebooted mid-download: observations are gone, and it may or may not
      // carry on (Anjay resumes, Zephyr starts over). Observe again; the State decides.
      b.state = { ...s, resync: true };
      b.effect(...OBSERVE);
      b.anomaly('device registered again during the download (it rebooted)');
      return;
    case 'updated':
      b.effect(READ_STATE, READ_RESULT); // catch up after a sleep
      return;
    case 'deregistered':
    case 'contactLost':
      failOrRetry(b, s, 'lostContact', explainReason('lostContact'));
      return;
    case 'timedOut':
      if (!timerDue(s, input.timer, b.now)) return;
      if (input.timer === 'settle') failOrRetry(b, s, 'stubFirmwareObject', timeoutExplanation('settle', s));
      else failOrRetry(b, s, 'timeout', timeoutExplanation(input.timer, s));
      return;
    case 'cancel':
      startCancel(b, s);
      return;
    default:
      return;
  }
}

/**
 * The whole delivery was acknowledged (push: the last block; pull: the Package URI) and
 * the State has not moved yet: a device that acts on it moves within the settle timeout,
 * a stub object 5 never does. The settle deadline stands in for the delivery's until then.
 */
function settle(b: Builder, s: DeliveringState | DownloadedState): void {
  if (s.stateUnmoved !== true || s.timer.name !== 'delivery') return;
  const ms = b.ctx.config.timeouts.settle ?? DEFAULT_SETTLE_MS;
  b.goto({ ...s, timer: { name: 'settle', at: Math.min(b.now + ms, s.timer.at) } });
}

/** The device's object 5 acts: the delivery's deadline is the delivery timer again. */
function moved(b: Builder, s: DeliveringState | DownloadedState): void {
  if (s.stateUnmoved !== true) return;
  const { stateUnmoved: _u, ...m } = s;
  if (s.timer.name !== 'settle') b.state = m;
  else b.goto({ ...m, timer: { name: 'delivery', at: s.startedAt + b.ctx.config.timeouts.delivery } });
}

function onDeliveryState(b: Builder, s: DeliveringState | DownloadedState, value: number): void {
  const previous = s.device.state;
  let d: DeliveringState | DownloadedState = { ...s, device: withDevice(s.device, { state: value }) };
  b.state = d;
  if (value !== previous) {
    moved(b, d);
    d = b.state as DeliveringState | DownloadedState;
  }
  if (!isFirmwareState(value)) {
    b.anomaly(`device reports ${firmwareStateName(value)}; ignored`);
    return;
  }
  if (s.resync === true) {
    const { resync: _r, ...rest } = d;
    if (value === FirmwareState.Downloaded) {
      sendUpdate(b, rest);
    } else if (value === FirmwareState.Downloading && s.method === 'pull') {
      b.state = { ...rest, value: 'delivering', started: true };
    } else if (value === FirmwareState.Updating) {
      b.state = rest;
      b.anomaly('device reports State 3 (Updating) but Update was never sent; waiting');
    } else {
      // Idle: the device lost (or never got) our delivery. Downloading after a push that
      // died with the server: the device waits for blocks that will never come.
      redeliver(b, rest, value !== FirmwareState.Idle);
    }
    return;
  }
  switch (value) {
    case FirmwareState.Idle:
      if (s.started && (previous === FirmwareState.Downloading || previous === FirmwareState.Downloaded)) {
        // A regression to Idle: a failure Result should follow (object 5's way of failing a
        // download, not an anomaly); if the Result stays 0 the device dropped the download
        // (rebooted). Read it rather than wait for a notification that never comes when the
        // value does not change.
        b.state = { ...d, regressed: true };
        b.effect(READ_RESULT);
      }
      return;
    case FirmwareState.Downloading:
      if (!s.started) b.state = { ...d, started: true };
      return;
    case FirmwareState.Downloaded:
      if (!s.started) {
        // Before the device took our delivery: an old download; our reset removes it.
        b.anomaly('device reports Downloaded before taking our delivery (an old download); ignored');
        return;
      }
      if (s.method === 'push' && !s.finished) {
        // The last block's 2.04 is still on its way; Update waits for it (never two
        // exchanges with the package endpoint at once).
        if (s.value !== 'downloaded') b.goto({ ...d, value: 'downloaded' });
        return;
      }
      sendUpdate(b, d);
      return;
    case FirmwareState.Updating:
      b.anomaly('device reports State 3 (Updating) but Update was never sent; ignored');
      return;
  }
}

function onDeliveryResult(b: Builder, s: DeliveringState | DownloadedState, result: number): void {
  const d = { ...s, device: withDevice(s.device, { result }) };
  b.state = d;
  const failure = result !== UpdateResult.Initial && result !== UpdateResult.Success;
  if (failure && (s.started || s.rejected !== undefined || s.regressed === true)) {
    failForResult(b, d, result);
    return;
  }
  if (s.rejected !== undefined) {
    failOrRetry(b, d, 'deliveryRejected', `The device refused the delivery: it answered ${s.rejected} (Update Result ${result}).`, result);
    return;
  }
  if (s.regressed === true) {
    // Result 0: the device dropped the download without a failure code (it rebooted, as
    // Zephyr does); the reason says so, and the delivery is tried again.
    failOrRetry(b, d, 'deviceReset', explainReason('deviceReset'), result);
    return;
  }
  if (result === UpdateResult.Success) b.anomaly('device reports Update Result 1 (success) before Update was sent; ignored');
  else if (failure) b.anomaly(`device reports Update Result ${result} before taking our delivery (an old result); ignored`, { updateResult: result });
}
