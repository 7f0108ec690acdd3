/**
 * The moves the phases share: probing, starting and restarting a delivery, sending Update
 * (the one place that does), the one failure path (retry or fail), cancelling, resuming.
 */
import { chooseDelivery } from '../delivery';
import { explainUpdateResult, failureReasonFor, FirmwareState, isTransientReason, UpdateResult, type FailureReason } from '../update-result';
import { arm, backoff, event, OBSERVE, RESET, UNOBSERVE, type Builder } from './builder';
import type { ActiveState, DeliveringState, DeliveryFields, DownloadedState, Effect, JobInput, MachineContext, QueuedState, TerminalState, TimerName } from './types';
import { PATHS } from './types';

/** Asks for what starting a delivery needs: the device's State/Result and capabilities. */
export function probe(b: Builder, q: QueuedState): void {
  const contact = contactTimeout(b.ctx);
  const timer = q.timer ?? (contact === undefined ? undefined : { name: 'contact' as const, at: b.now + contact });
  const { timer: _old, ...rest } = q;
  b.goto({ ...rest, probing: true, ...(timer === undefined ? {} : { timer }) });
  b.effect(...OBSERVE, { type: 'readCapabilities' });
}

/** The job's contact timeout, else the configuration's; undefined = wait for ever (absent or 0). */
export function contactTimeout(ctx: MachineContext): number | undefined {
  const ms = ctx.job.contactTimeout ?? ctx.config.timeouts.contact;
  return ms === undefined || ms <= 0 ? undefined : ms;
}

function deliveryEffect(d: DeliveryFields, ctx: MachineContext): Effect {
  return d.method === 'pull' && d.uri !== undefined
    ? { type: 'writePackageUri', path: PATHS.packageUri, uri: d.uri }
    : { type: 'pushPackage', path: PATHS.package, firmwareId: ctx.job.firmwareId, payloadOnly: ctx.job.payloadOnly };
}

/** Chooses pull or push from the capabilities and starts the delivery (reset first unless the device is known clean). */
export function startDelivery(b: Builder, q: QueuedState, caps: Extract<JobInput, { type: 'capabilitiesRead' }>): void {
  const choice = chooseDelivery(caps, {
    ...(b.ctx.job.method === undefined ? {} : { override: b.ctx.job.method }),
    ...(b.ctx.job.packageUris === undefined ? {} : { packageUris: b.ctx.job.packageUris }),
  });
  if (!choice.ok) {
    finish(b, { value: 'failed', attempt: q.attempt, reason: 'unsupportedDelivery', explanation: choice.explanation, finishedAt: b.now });
    return;
  }
  if (q.device.state === FirmwareState.Updating) {
    // A device in Updating refuses the reset (Anjay: 4.05) and the new URI (4.00); sending
    // them would only bury the real cause under a deliveryRejected.
    const explanation = 'The device reports State 3 (Updating): it accepted an earlier Update and never restarted. No new delivery is sent to a device in Updating; restart it first.';
    failOrRetry(b, q, 'notRebooted', explanation);
    return;
  }
  const d: DeliveringState = {
    value: 'delivering',
    attempt: q.attempt,
    method: choice.method,
    ...(choice.method === 'pull' ? { uri: choice.uri } : {}),
    hasCancel: caps.hasCancel === true,
    startedAt: b.now,
    started: false,
    finished: false,
    bytes: 0,
    stateUnmoved: true,
    timer: { name: 'delivery', at: b.now + b.ctx.config.timeouts.delivery },
    device: q.device,
  };
  b.goto(d);
  // A device that is not known to be Idle may hold an old download (Package URI writes
  // outside Idle are refused, Anjay: 4.00), and an old failure Result would be mistaken
  // for one of this delivery. An empty URI resets both: Idle, Result 0.
  const clean = q.device.state === FirmwareState.Idle && (q.device.result === UpdateResult.Initial || q.device.result === UpdateResult.Success);
  if (!clean) b.effect(RESET);
  b.effect(deliveryEffect(d, b.ctx));
}

/** Restarts the delivery within the same attempt (after a restart or a reboot of the device). */
export function redeliver(b: Builder, d: DeliveringState | DownloadedState, reset: boolean): void {
  const { resync: _r, regressed: _g, rejected: _j, total: _t, ...rest } = d;
  const again: DeliveringState = { ...rest, value: 'delivering', started: false, finished: false, bytes: 0, stateUnmoved: true };
  b.goto(again);
  if (d.method === 'push') b.effect({ type: 'stopDelivery' });
  if (reset) b.effect(RESET);
  b.effect(deliveryEffect(again, b.ctx));
}

/** Sends Update: the ONLY place that emits executeUpdate, always into a fresh `updating`. */
export function sendUpdate(b: Builder, d: DeliveringState | DownloadedState): void {
  const executionId = `${b.ctx.job.id}#${d.attempt}`;
  b.goto({
    value: 'updating',
    attempt: d.attempt,
    method: d.method,
    executionId,
    updateSentAt: b.now,
    timer: { name: 'update', at: b.now + b.ctx.config.timeouts.update },
    device: d.device,
  });
  b.effect({ type: 'executeUpdate', path: PATHS.update, executionId });
}

/** Ends the job: stops a push, keeps the method for the operator, stops observing. */
export function finish(b: Builder, to: TerminalState, extra: { updateResult?: number; explanation?: string; note?: string } = {}): void {
  const from = b.state;
  if ((from.value === 'delivering' || from.value === 'downloaded') && from.method === 'push') b.effect({ type: 'stopDelivery' });
  // The operator sees how the package travelled (or was travelling) after the end too.
  const method = 'method' in from ? from.method : undefined;
  b.goto(method === undefined || to.method !== undefined ? to : { ...to, method }, extra);
  if (from.value !== 'queued' || from.probing) b.effect(...UNOBSERVE);
}

/**
 * The one failure path: transient reasons are retried with backoff until maxAttempts,
 * the others (and a transient one on the last attempt) fail the job.
 */
export function failOrRetry(b: Builder, s: ActiveState, reason: FailureReason, explanation: string, updateResult?: number): void {
  const withResult = updateResult === undefined ? {} : { updateResult };
  const executed = 'executionId' in s ? { executionId: s.executionId } : {};
  const version = s.value === 'verifying' && s.version !== undefined ? { version: s.version } : {};
  if (!isTransientReason(reason)) {
    finish(b, { value: 'failed', attempt: s.attempt, reason, explanation, ...withResult, ...executed, ...version, finishedAt: b.now }, { ...withResult, explanation });
    return;
  }
  const { maxAttempts } = b.ctx.config;
  if (s.attempt >= maxAttempts) {
    const why = `Gave up after ${s.attempt} attempt${s.attempt === 1 ? '' : 's'}; the last failed: ${explanation}`;
    finish(
      b,
      { value: 'failed', attempt: s.attempt, reason: 'retriesExhausted', lastReason: reason, explanation: why, ...withResult, ...executed, ...version, finishedAt: b.now },
      { ...withResult, explanation: why },
    );
    return;
  }
  if ((s.value === 'delivering' || s.value === 'downloaded') && s.method === 'push') b.effect({ type: 'stopDelivery' });
  const at = b.now + backoff(s.attempt, b.ctx.config);
  // A registration that lapsed stays lapsed across the retry (the contact timeout then fails the job).
  const since = b.input.type === 'deregistered' ? b.now : s.value === 'queued' ? s.unreachableSince : undefined;
  b.goto(
    {
      value: 'queued',
      attempt: s.attempt + 1,
      probing: false,
      timer: { name: 'retry', at },
      device: s.device,
      lastFailure: { reason, explanation, ...withResult },
      ...(since === undefined ? {} : { unreachableSince: since }),
    },
    { ...withResult, explanation },
  );
}

/** Fails (or retries) for a failure Update Result, with the device's reason. */
export function failForResult(b: Builder, s: ActiveState, result: number): void {
  const reason = failureReasonFor(result) ?? 'unknownResult';
  failOrRetry(b, s, reason, explainUpdateResult(result, { payloadOnly: b.ctx.job.payloadOnly }), result);
}

/** Cancel during delivery: stop a push, send the cancel the device supports. */
export function startCancel(b: Builder, d: DeliveringState | DownloadedState): void {
  const via = d.hasCancel ? 'execute' : 'emptyUri';
  if (d.method === 'push') b.effect({ type: 'stopDelivery' });
  b.goto({
    value: 'cancelling',
    attempt: d.attempt,
    method: d.method,
    via,
    requestedAt: b.now,
    timer: { name: 'cancel', at: b.now + b.ctx.config.timeouts.cancel },
    device: d.device,
  });
  b.effect(cancelEffect(via));
}

/** Execute /5/0/10 when the device has it, otherwise an empty Package URI. */
export function cancelEffect(via: 'execute' | 'emptyUri'): Effect {
  return via === 'execute' ? { type: 'executeCancel', path: PATHS.cancel } : { type: 'writeEmptyUri', path: PATHS.packageUri, purpose: 'cancel' };
}

/** Ends the job cancelled, confirmed by the device or not (`why` says what was missing). */
export function cancelled(b: Builder, s: ActiveState, confirmed: boolean, why: string): void {
  const explanation = confirmed ? 'The operator cancelled the update.' : `The operator cancelled the update; ${why}`;
  finish(b, { value: 'cancelled', attempt: s.attempt, reason: 'cancelled', explanation, confirmed, finishedAt: b.now }, { explanation });
}

/** True when a timedOut input is for the state's current deadline (stale or early ones are ignored). */
export function timerDue(s: ActiveState, name: TimerName, now: number): boolean {
  return s.timer !== undefined && s.timer.name === name && now >= s.timer.at;
}

/** A job loaded from the store: history entry, event, and its persisted deadline re-armed. */
export function recordResumed(b: Builder, s: ActiveState): void {
  b.history.push({ at: b.now, attempt: s.attempt, state: s.value, input: 'resumed' });
  b.effect(event('updateResumed', b.ctx, { state: s.value, attempt: s.attempt }));
  if (s.timer !== undefined) b.effect(arm(s.timer, s.attempt));
}
