/**
 * Jobs: the machine applied to a stored job (creation, steps with bounded history and
 * timestamps, resumption after a restart).
 */
import { Builder, event } from './builder';
import { probe } from './moves';
import { next, resume } from './next';
import { DEFAULT_UPDATE_CONFIG, isTerminal, type Effect, type Job, type JobInput, type JobSpec, type MachineContext, type QueuedState, type Step, type UpdateConfig } from './types';

export interface JobStep {
  readonly job: Job;
  readonly effects: readonly Effect[];
  readonly note?: string;
  readonly persist: boolean;
}

export interface CreateJobOptions extends JobSpec {
  readonly now: number;
  readonly config?: UpdateConfig;
}

/**
 * A new job in `queued`, with the effects that start it (observe State/Result, read the
 * capabilities: for a sleeping device the LwM2M layer holds them until it wakes).
 * Persist the job before performing them; ERR_STORE_WRITE with reason 'activeJobExists'
 * means the endpoint already has an active job (ERR_FOTA_JOB_CONFLICT for the operator).
 */
export function createJob(options: CreateJobOptions): JobStep {
  const { now, config = DEFAULT_UPDATE_CONFIG, ...spec } = options;
  const queued: QueuedState = { value: 'queued', attempt: 1, probing: false, device: {} };
  const ctx: MachineContext = { now, config, job: spec };
  const b = new Builder(queued, { type: 'registered' }, ctx);
  b.history.push({ at: now, attempt: 1, state: 'queued', input: 'created' });
  b.effect(event('updateQueued', ctx, { to: 'queued', attempt: 1, expectedVersion: spec.expectedVersion }));
  probe(b, queued);
  const step = b.done();
  const job: Job = { ...spec, createdAt: now, updatedAt: now, state: step.state, history: step.history };
  return { job, effects: step.effects, persist: true };
}

/** {@link next} applied to a job: new state, history appended (bounded), timestamps. */
export function advance(job: Job, input: JobInput, now: number, config: UpdateConfig = DEFAULT_UPDATE_CONFIG): JobStep {
  return apply(job, next(job.state, input, { now, config, job: specOf(job) }), now, config);
}

/** {@link resume} applied to a job loaded from the store. */
export function resumeJob(job: Job, now: number, config: UpdateConfig = DEFAULT_UPDATE_CONFIG): JobStep {
  return apply(job, resume(job.state, { now, config, job: specOf(job) }), now, config);
}

function specOf(job: Job): JobSpec {
  return {
    id: job.id,
    endpoint: job.endpoint,
    firmwareId: job.firmwareId,
    expectedVersion: job.expectedVersion,
    payloadOnly: job.payloadOnly,
    ...(job.method === undefined ? {} : { method: job.method }),
    ...(job.packageUris === undefined ? {} : { packageUris: job.packageUris }),
    ...(job.confirm === undefined ? {} : { confirm: job.confirm }),
    ...(job.contactTimeout === undefined ? {} : { contactTimeout: job.contactTimeout }),
  };
}

function apply(job: Job, step: Step, now: number, config: UpdateConfig): JobStep {
  if (!step.persist) {
    const unchanged = { job: { ...job, state: step.state }, effects: step.effects, persist: false };
    return step.note === undefined ? unchanged : { ...unchanged, note: step.note };
  }
  const history = step.history.length === 0 ? job.history : [...job.history, ...step.history].slice(-Math.max(1, config.historyLimit));
  const { finishedAt: _f, ...rest } = job;
  const updated: Job = {
    ...rest,
    state: step.state,
    history,
    updatedAt: now,
    ...(isTerminal(step.state) ? { finishedAt: job.finishedAt ?? now } : {}),
  };
  const out = { job: updated, effects: step.effects, persist: true };
  return step.note === undefined ? out : { ...out, note: step.note };
}

