/**
 * Properties of the update machine over random input sequences, with server crashes
 * (SIGKILL) modelled as "continue from the last persisted state, then resume".
 */
import fc from 'fast-check';

import { createJob, isTerminal, next, resume, type Effect, type JobInput, type JobState, type Step, type TimerName } from '../../../src/fota/update/machine';
import { parsePath, pathsEqual } from '../../../src/lwm2m/core/model';
import { CONFIG, ctx, SPEC, T0 } from './fixtures';

const TIMERS: TimerName[] = ['contact', 'retry', 'delivery', 'update', 'reboot', 'verify', 'cancel'];
const CODES = ['2.01', '2.04', '2.05', '4.00', '4.04', '4.05', '4.13', '5.00'];
const VERSIONS = ['2.0.0', '1.0.0', ' 2.0.0 '];

const input: fc.Arbitrary<JobInput> = fc.oneof(
  { weight: 2, arbitrary: fc.option(fc.constantFrom(...VERSIONS), { nil: undefined }).map((version): JobInput => (version === undefined ? { type: 'registered' } : { type: 'registered', version })) },
  { weight: 1, arbitrary: fc.constant<JobInput>({ type: 'updated' }) },
  { weight: 1, arbitrary: fc.boolean().map((expired): JobInput => ({ type: 'deregistered', expired })) },
  {
    weight: 3,
    arbitrary: fc
      .record({ deliveryMethod: fc.integer({ min: 0, max: 3 }), protocols: fc.subarray([0, 1, 2, 3, 4, 5]), hasCancel: fc.boolean() })
      .map((c): JobInput => ({ type: 'capabilitiesRead', ...c })),
  },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }).map((state): JobInput => ({ type: 'stateObserved', state })) },
  { weight: 6, arbitrary: fc.oneof(fc.constantFrom(0, 1, 1, 0), fc.integer({ min: 0, max: 13 })).map((result): JobInput => ({ type: 'resultObserved', result })) },
  { weight: 2, arbitrary: fc.constantFrom(...VERSIONS).map((version): JobInput => ({ type: 'versionRead', version })) },
  {
    weight: 3,
    arbitrary: fc
      .record({ write: fc.constantFrom<'packageUri' | 'reset'>('packageUri', 'reset'), code: fc.constantFrom('2.04', '2.04', ...CODES) })
      .map((w): JobInput => ({ type: 'writeAnswered', ...w })),
  },
  { weight: 3, arbitrary: fc.constantFrom('2.04', '2.04', ...CODES).map((code): JobInput => ({ type: 'executeAnswered', code })) },
  { weight: 1, arbitrary: fc.constantFrom(...CODES).map((code): JobInput => ({ type: 'cancelAnswered', code })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ bytes: fc.integer({ min: 0, max: 1 << 20 }), total: fc.option(fc.integer({ min: 1, max: 1 << 20 }), { nil: undefined }) })
      .map(({ bytes, total }): JobInput => (total === undefined ? { type: 'blockProgress', bytes } : { type: 'blockProgress', bytes, total })),
  },
  { weight: 2, arbitrary: fc.constantFrom('2.04', '2.05', '4.13', '5.00').map((code): JobInput => ({ type: 'deliveryFinished', code })) },
  { weight: 1, arbitrary: fc.constant<JobInput>({ type: 'contactLost' }) },
  { weight: 1, arbitrary: fc.constantFrom(...TIMERS).map((timer): JobInput => ({ type: 'timedOut', timer })) },
  { weight: 1, arbitrary: fc.constant<JobInput>({ type: 'cancel' }) },
);

/**
 * One thing that happens: a random input (noise), what a well-behaved device would do
 * next in the current state (so that runs get far), the current timer firing, or a crash
 * and restart.
 */
type Op = { kind: 'input'; input: JobInput; dt: number } | { kind: 'progress'; pick: number } | { kind: 'fire' } | { kind: 'crash'; dt: number };

/** What moves a job forward from `state`; `pick` chooses among the candidates. */
function progress(state: JobState, pick: number): JobInput {
  const candidates: JobInput[] = (() => {
    switch (state.value) {
      case 'queued':
        if (state.timer?.name === 'retry') return [{ type: 'timedOut', timer: 'retry' }];
        return state.probing ? [{ type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0] }] : [{ type: 'registered' }];
      case 'delivering':
        if (!state.started) return [{ type: 'writeAnswered', write: 'packageUri', code: '2.04' }, { type: 'blockProgress', bytes: 64 }, { type: 'stateObserved', state: 1 }];
        return [{ type: 'stateObserved', state: 2 }, { type: 'deliveryFinished', code: '2.04' }];
      case 'downloaded':
        return [{ type: 'deliveryFinished', code: '2.04' }, { type: 'stateObserved', state: 2 }];
      case 'updating':
        return [{ type: 'executeAnswered', code: '2.04' }, { type: 'stateObserved', state: 3 }, { type: 'registered' }];
      case 'rebooting':
        return [{ type: 'registered', version: '2.0.0' }, { type: 'registered' }];
      case 'verifying':
        return [{ type: 'resultObserved', result: 1 }, { type: 'versionRead', version: '2.0.0' }];
      case 'cancelling':
        return [{ type: 'cancelAnswered', code: '2.04' }];
      default:
        return [{ type: 'resumed' }];
    }
  })();
  return candidates[pick % candidates.length] as JobInput;
}

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ input, dt: fc.integer({ min: 0, max: 5_000 }) }).map(({ input: i, dt }): Op => ({ kind: 'input', input: i, dt })) },
  { weight: 12, arbitrary: fc.nat(5).map((pick): Op => ({ kind: 'progress', pick })) },
  { weight: 4, arbitrary: fc.constant<Op>({ kind: 'fire' }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 100_000 }).map((dt): Op => ({ kind: 'crash', dt })) },
);

const method = fc.constantFrom<'pull' | 'push' | undefined>(undefined, 'pull', 'push');

/** Serialisation without volatile progress fields, to compare what a crash may lose. */
function durable(s: JobState): string {
  const { bytes: _b, total: _t, ...rest } = s as JobState & { bytes?: number; total?: number };
  return JSON.stringify(rest);
}

const reached = { succeeded: 0, executedAfterCrash: 0, retriesExhausted: 0, runs: 0 };

describe('update machine properties', () => {
  it('never executes Update twice for one delivery attempt, crashes included; states round-trip as JSON; terminal states stay terminal', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 30, maxLength: 150 }), method, (ops, override) => {
        reached.runs++;
        const job = override === undefined ? SPEC : { ...SPEC, method: override };
        let now = T0;
        const created = createJob({ ...job, now, config: CONFIG });
        let state: JobState = created.job.state;
        let persisted: JobState = state;
        let crashed = false;
        const executions = new Map<string, number>();

        for (const o of ops) {
          const before = state;
          let step: Step;
          if (o.kind === 'crash') {
            // SIGKILL: whatever was not committed is gone; the effects of the last step may
            // or may not have been performed. The restarted server resumes the stored state.
            now += o.dt;
            state = persisted;
            crashed = true;
            step = resume(state, { ...ctx(now), job });
          } else if (o.kind === 'fire') {
            const timer = 'timer' in state ? state.timer : undefined;
            if (timer === undefined) continue;
            now = Math.max(now, timer.at);
            step = next(state, { type: 'timedOut', timer: timer.name }, { ...ctx(now), job });
          } else if (o.kind === 'progress') {
            const i = progress(state, o.pick);
            now = i.type === 'timedOut' && 'timer' in state && state.timer !== undefined ? Math.max(now, state.timer.at) : now + 100;
            step = next(state, i, { ...ctx(now), job });
          } else {
            now += o.dt;
            step = next(state, o.input, { ...ctx(now), job });
          }
          const from = o.kind === 'crash' ? persisted : before;

          // Plain data: JSON round trip gives the same state, without undefined fields.
          expect(JSON.parse(JSON.stringify(step.state))).toStrictEqual(step.state);
          for (const h of step.history) expect(JSON.parse(JSON.stringify(h))).toStrictEqual(h);

          if (isTerminal(from)) {
            expect(step.state).toStrictEqual(from);
            expect(step.effects).toEqual([]);
          }
          expect(step.state.attempt).toBeGreaterThanOrEqual(from.attempt);
          expect(step.state.attempt).toBeLessThanOrEqual(CONFIG.maxAttempts);

          for (const e of step.effects) {
            if (e.type !== 'executeUpdate') continue;
            // Only the step that enters `updating` sends Update, and it must be persisted first.
            expect(['delivering', 'downloaded']).toContain(from.value);
            expect(step.state.value).toBe('updating');
            expect(step.persist).toBe(true);
            expect(e.executionId).toBe(`${SPEC.id}#${step.state.attempt}`);
            expect(step.state).toMatchObject({ executionId: e.executionId });
            const n = (executions.get(e.executionId) ?? 0) + 1;
            executions.set(e.executionId, n);
            expect(n).toBe(1);
            if (crashed) reached.executedAfterCrash++;
          }

          // What a step does not persist may only be progress a crash is allowed to lose.
          if (!step.persist) expect(durable(step.state)).toBe(durable(from));
          if (step.persist) persisted = step.state;
          state = step.state;
        }
        if (state.value === 'succeeded') reached.succeeded++;
        if (state.value === 'failed' && state.reason === 'retriesExhausted') reached.retriesExhausted++;
      }),
      { numRuns: 400 },
    );
  });

  it('reaches the interesting places (the property above is not vacuous)', () => {
    // Counted by the property run above (jest runs the tests of a file in order). Typical
    // figures for 400 runs: ~90 successes, ~150 Updates sent after a crash, ~200 jobs that
    // ran out of attempts.
    expect(reached.runs).toBeGreaterThanOrEqual(400);
    expect(reached.succeeded).toBeGreaterThan(10);
    expect(reached.executedAfterCrash).toBeGreaterThan(10);
    expect(reached.retriesExhausted).toBeGreaterThan(10);
  });

  it('a server killed after any step of a full update finishes it with exactly one Update executed on the device', () => {
    let checked = 0;
    for (const method of ['pull', 'push'] as const) {
      const job = { ...SPEC, method };
      const clean = simulate(job, undefined, true);
      expect(clean.device.executes).toBe(1);
      expect(clean.state.value).toBe('succeeded');
      for (let crashAfter = 0; crashAfter < clean.inputs; crashAfter++) {
        for (const performed of [false, true]) {
          const r = simulate(job, crashAfter, performed);
          expect([method, crashAfter, performed, r.state.value, r.device.executes]).toEqual([method, crashAfter, performed, 'succeeded', 1]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});

/** A device that does everything right, at once. */
interface Device {
  state: number;
  result: number;
  version: string;
  executes: number;
}

function deviceAnswers(dev: Device, e: Effect): JobInput[] {
  switch (e.type) {
    case 'observe':
    case 'readState':
    case 'readResult':
      return pathsEqual(e.path, parsePath('/5/0/3')) ? [{ type: 'stateObserved', state: dev.state }] : [{ type: 'resultObserved', result: dev.result }];
    case 'readCapabilities':
      return [{ type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0], hasCancel: true }];
    case 'writeEmptyUri':
      dev.state = 0;
      dev.result = 0;
      return [{ type: e.purpose === 'reset' ? 'writeAnswered' : 'cancelAnswered', ...(e.purpose === 'reset' ? { write: 'reset' } : {}), code: '2.04' } as JobInput];
    case 'writePackageUri':
    case 'pushPackage': {
      if (dev.state !== 0) return e.type === 'writePackageUri' ? [{ type: 'writeAnswered', write: 'packageUri', code: '4.00' }] : [{ type: 'deliveryFinished', code: '4.00' }];
      dev.state = 2;
      const answer: JobInput[] =
        e.type === 'writePackageUri'
          ? [{ type: 'writeAnswered', write: 'packageUri', code: '2.04' }]
          : [{ type: 'blockProgress', bytes: 1024, total: 1024 }, { type: 'deliveryFinished', code: '2.04' }];
      return [...answer, { type: 'stateObserved', state: 1 }, { type: 'stateObserved', state: 2 }];
    }
    case 'executeUpdate':
      if (dev.state !== 2) return [{ type: 'executeAnswered', code: '4.05' }];
      dev.executes++;
      dev.state = 0;
      dev.result = 1;
      dev.version = SPEC.expectedVersion;
      return [{ type: 'executeAnswered', code: '2.04' }, { type: 'deregistered' }, { type: 'registered' }];
    case 'readFirmwareVersion':
      return [{ type: 'versionRead', version: dev.version }];
    default:
      return [];
  }
}

/**
 * The runner loop against the device: persist, perform, feed answers back; an idle loop
 * fires the pending timer. With `crashAfter`, the server dies after that many inputs —
 * after committing the step, having performed its effects or not — loses everything in
 * flight, and resumes from the store.
 */
function simulate(job: typeof SPEC, crashAfter: number | undefined, performedBeforeCrash: boolean): { state: JobState; device: Device; inputs: number } {
  const device: Device = { state: 0, result: 0, version: '1.0.0', executes: 0 };
  let now = T0;
  const created = createJob({ ...job, now, config: CONFIG });
  let state: JobState = created.job.state;
  let persisted = state;
  let queue: JobInput[] = created.effects.flatMap((e) => deviceAnswers(device, e));
  let inputs = 0;
  let crashed = crashAfter === undefined;
  for (let guard = 0; guard < 500 && !isTerminal(state); guard++) {
    let input = queue.shift();
    if (input === undefined) {
      const timer = 'timer' in state ? state.timer : undefined;
      if (timer === undefined) break;
      now = Math.max(now, timer.at);
      input = { type: 'timedOut', timer: timer.name };
    }
    now += 10;
    const step = next(state, input, { ...ctx(now), job });
    inputs++;
    if (step.persist) persisted = step.state;
    state = step.state;
    if (!crashed && inputs === crashAfter) {
      crashed = true;
      if (performedBeforeCrash) for (const e of step.effects) deviceAnswers(device, e); // answers lost
      state = persisted;
      queue = [];
      now += 1000;
      const r = resume(state, { ...ctx(now), job });
      if (r.persist) persisted = r.state;
      state = r.state;
      queue.push(...r.effects.flatMap((e) => deviceAnswers(device, e)));
      continue;
    }
    queue.push(...step.effects.flatMap((e) => deviceAnswers(device, e)));
  }
  return { state, device, inputs };
}
