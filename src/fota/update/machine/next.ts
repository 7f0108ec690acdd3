/**
 * The transition function: one input applied to one state, dispatched to the phase that
 * owns the state. Terminal states never change.
 */
import { Builder } from './builder';
import { onCancelling } from './cancelling';
import { onDelivery } from './delivering';
import { onRebooting, onUpdating, onVerifying } from './installing';
import { onQueued } from './queued';
import { isTerminal, type JobInput, type JobState, type MachineContext, type Step } from './types';

/**
 * Pure: what the job becomes after `input`, and what the runner must do next.
 *
 * Never throws for anything a device, the network or the operator can produce; inputs
 * that make no sense in a state are ignored, and the ones that break object 5's rules are
 * recorded as anomalies (history entry + `note`). Terminal states never change.
 *
 * @example
 * const step = next(job.state, { type: 'stateObserved', state: FirmwareState.Downloaded }, { now: Date.now(), config, job });
 * // step.state.value === 'updating', step.effects contains { type: 'executeUpdate', … }
 */
export function next(state: JobState, input: JobInput, ctx: MachineContext): Step {
  const b = new Builder(state, input, ctx);
  if (isTerminal(state)) {
    if (input.type === 'cancel') b.note = `the job already ended (${state.value}); nothing to cancel`;
    return b.done();
  }
  switch (state.value) {
    case 'queued':
      onQueued(b, state, input);
      break;
    case 'delivering':
    case 'downloaded':
      onDelivery(b, state, input);
      break;
    case 'updating':
      onUpdating(b, state, input);
      break;
    case 'rebooting':
      onRebooting(b, state, input);
      break;
    case 'verifying':
      onVerifying(b, state, input);
      break;
    case 'cancelling':
      onCancelling(b, state, input);
      break;
  }
  return b.done();
}

/**
 * The effects to perform for a job loaded from the store after a server restart (the
 * step for input `resumed`). Every state re-arms its persisted deadline (a past one fires
 * at once) and re-establishes what died with the old process (observations, a push):
 *
 * - queued: backoff pending → re-arm it; otherwise probe again.
 * - delivering/downloaded, delivery not yet taken by the device → reset and deliver again
 *   (same attempt: Update was never sent). Taken → observe State/Result and let the first
 *   State decide: Downloaded → Update; Downloading → keep waiting (pull) or push again
 *   from the start (push; the transfer died with the server); Idle → deliver again.
 * - updating → observe State/Result (their first answers are reads) and wait for the
 *   re-registration. NEVER execute again: Update may have left before the crash.
 * - rebooting → read State and Result (the device may have come back meanwhile).
 * - verifying → observe State/Result, read /3/0/3 again.
 * - cancelling → send the cancel again (both ways of cancelling are idempotent).
 * - terminal → nothing.
 */
export function resume(state: JobState, ctx: MachineContext): Step {
  return next(state, { type: 'resumed' }, ctx);
}
