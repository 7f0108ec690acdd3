import {
  advance,
  canCancel,
  createJob,
  isTerminal,
  next,
  resume,
  resumeJob,
  type JobInput,
  type JobState,
  type Step,
} from '../../../src/fota/update/machine';
import { explainUpdateResult, failureReasonFor } from '../../../src/fota/update/update-result';
import { parsePath } from '../../../src/lwm2m/core/model';
import {
  actionsOf,
  CANCELLED,
  cancelling,
  CONFIG,
  ctx,
  delivering,
  downloaded,
  eventsOf,
  FAILED,
  OBSERVE,
  pushing,
  queued,
  rebooting,
  run,
  SECURE_URI,
  SPEC,
  SUCCEEDED,
  T0,
  UNOBSERVE,
  updating,
  URI,
  verifying, checkRow, type TransitionRow } from './fixtures';


describe('the happy path', () => {
  it('pull: probe, write the URI, execute Update once on Downloaded, verify after re-registration', () => {
    const created = createJob({ ...SPEC, now: T0, config: CONFIG });
    expect(created.job.state).toEqual({ value: 'queued', attempt: 1, probing: true, timer: { name: 'contact', at: T0 + 600_000 }, device: {} });
    expect(created.effects.map((e) => (e.type === 'emitEvent' ? `event ${e.event}` : e.type))).toEqual([
      'event updateQueued',
      'setTimer',
      'observe',
      'observe',
      'readCapabilities',
    ]);
    expect(created.persist).toBe(true);

    const script: [JobInput, string, string[]][] = [
      [{ type: 'stateObserved', state: 0 }, 'queued', []],
      [{ type: 'resultObserved', result: 0 }, 'queued', []],
      [{ type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0, 1], hasCancel: true }, 'delivering', ['clearTimer contact', 'setTimer delivery', 'writePackageUri']],
      [{ type: 'writeAnswered', write: 'packageUri', code: '2.04' }, 'delivering', []],
      [{ type: 'stateObserved', state: 1 }, 'delivering', []],
      [{ type: 'blockProgress', bytes: 512, total: 1024 }, 'delivering', []],
      [{ type: 'deliveryFinished', code: '2.05' }, 'delivering', []],
      [{ type: 'stateObserved', state: 2 }, 'updating', ['clearTimer delivery', 'setTimer update', 'executeUpdate']],
      [{ type: 'executeAnswered', code: '2.04' }, 'rebooting', ['clearTimer update', 'setTimer reboot']],
      [{ type: 'deregistered' }, 'rebooting', []],
      [{ type: 'registered' }, 'verifying', ['clearTimer reboot', 'setTimer verify', ...OBSERVE, 'readFirmwareVersion']],
      [{ type: 'stateObserved', state: 0 }, 'verifying', []],
      [{ type: 'resultObserved', result: 1 }, 'verifying', []],
      [{ type: 'versionRead', version: '2.0.0' }, 'succeeded', ['clearTimer verify', ...UNOBSERVE]],
    ];
    let job = created.job;
    let now = T0;
    for (const [input, value, actions] of script) {
      now += 1000;
      const step = advance(job, input, now, CONFIG);
      expect([input.type, step.job.state.value, actionsOf(step)]).toEqual([input.type, value, actions]);
      job = step.job;
    }
    const delivered = job.history.find((h) => h.state === 'delivering');
    expect(delivered?.input).toMatch(/capabilitiesRead/);
    expect(job.history.map((h) => h.state)).toEqual(['queued', 'delivering', 'updating', 'rebooting', 'verifying', 'succeeded']);
    expect(job.state).toMatchObject({ value: 'succeeded', version: '2.0.0', updateResult: 1, executionId: 'job-1#1' });
    expect(job.finishedAt).toBe(now);
  });

  it('pull writes the most secure URI the device lists in /5/0/8', () => {
    const step = next(queued(), { type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0, 1] }, ctx());
    expect(step.effects).toContainEqual({ type: 'writePackageUri', path: parsePath('/5/0/1'), uri: SECURE_URI });
    const plain = next(queued(), { type: 'capabilitiesRead', deliveryMethod: 0 }, ctx());
    expect(plain.effects).toContainEqual({ type: 'writePackageUri', path: parsePath('/5/0/1'), uri: URI });
    expect(plain.state).toMatchObject({ value: 'delivering', method: 'pull', uri: URI, hasCancel: false });
  });

  it('push: blocks, Downloaded before the last 2.04 waits in downloaded, then Update; the version from the registration', () => {
    const steps = run(queued(), [
      { type: 'capabilitiesRead', deliveryMethod: 1, hasCancel: false },
      { type: 'blockProgress', bytes: 1024, total: 4096 },
      { type: 'blockProgress', bytes: 2048 },
      { type: 'stateObserved', state: 1 },
      { type: 'stateObserved', state: 2 },
      { type: 'deliveryFinished', code: '2.04' },
      { type: 'executeAnswered', code: '2.04' },
      { type: 'registered', version: '2.0.0' },
      { type: 'resultObserved', result: 1 },
    ]);
    expect(steps.map((s) => s.state.value)).toEqual(['delivering', 'delivering', 'delivering', 'delivering', 'downloaded', 'updating', 'rebooting', 'verifying', 'succeeded']);
    expect(actionsOf(steps[0] as Step)).toEqual(['clearTimer contact', 'setTimer delivery', 'pushPackage']);
    expect((steps[0] as Step).effects).toContainEqual({ type: 'pushPackage', path: parsePath('/5/0/0'), firmwareId: SPEC.firmwareId, payloadOnly: false });
    // The first block proves the device took the delivery (persisted); later ones are volatile.
    expect(steps.slice(1, 3).map((s) => s.persist)).toEqual([true, false]);
    expect((steps[2] as Step).state).toMatchObject({ bytes: 2048, total: 4096 });
    expect(eventsOf(steps[4] as Step)).toEqual(['event updateDownloaded']);
    expect(actionsOf(steps[5] as Step)).toEqual(['clearTimer delivery', 'setTimer update', 'executeUpdate']);
    expect(actionsOf(steps[7] as Step)).toEqual(['clearTimer reboot', 'setTimer verify', ...OBSERVE]);
    expect(steps.flatMap((s) => s.effects).filter((e) => e.type === 'executeUpdate')).toHaveLength(1);
  });

  it('push sends the payload alone when the job says so', () => {
    const step = next(queued(), { type: 'capabilitiesRead', deliveryMethod: 1 }, ctx(T0, { job: { payloadOnly: true } }));
    expect(step.effects).toContainEqual({ type: 'pushPackage', path: parsePath('/5/0/0'), firmwareId: SPEC.firmwareId, payloadOnly: true });
  });

  it('honours the operator override, and fails with unsupportedDelivery when the device cannot do it', () => {
    const push = next(queued(), { type: 'capabilitiesRead', deliveryMethod: 2 }, ctx(T0, { job: { method: 'push' } }));
    expect(push.state).toMatchObject({ value: 'delivering', method: 'push' });
    const refused = next(queued(), { type: 'capabilitiesRead', deliveryMethod: 0 }, ctx(T0, { job: { method: 'push' } }));
    expect(refused.state).toMatchObject({ value: 'failed', reason: 'unsupportedDelivery' });
    expect((refused.state as { explanation: string }).explanation).toMatch(/pull only/);
    expect(actionsOf(refused)).toEqual(['clearTimer contact', ...UNOBSERVE]);
    const noScheme = next(queued(), { type: 'capabilitiesRead', deliveryMethod: 0, protocols: [2] }, ctx());
    expect(noScheme.state).toMatchObject({ value: 'failed', reason: 'unsupportedDelivery' });
  });

  it('resets a device that is not known to be Idle with Result 0 before delivering', () => {
    const cases: [Record<string, number>, boolean][] = [
      [{ state: 0, result: 0 }, false],
      [{ state: 0, result: 1 }, false],
      [{ state: 0, result: 4 }, true],
      [{ state: 2, result: 0 }, true],
      [{}, true],
    ];
    for (const [device, reset] of cases) {
      const step = next(queued({ device }), { type: 'capabilitiesRead', deliveryMethod: 0 }, ctx());
      expect([device, actionsOf(step).slice(2)]).toEqual([device, reset ? ['writeEmptyUri reset', 'writePackageUri'] : ['writePackageUri']]);
    }
  });
});

const RESULT_CODES = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11] as const;

describe('every Update Result 2–11', () => {
  const retried = (timer: string, extra: string[] = []): string[] => [...extra, `clearTimer ${timer}`, 'scheduleRetry'];
  const failed = (timer: string, extra: string[] = []): string[] => [...extra, `clearTimer ${timer}`, ...UNOBSERVE];
  const phases: [string, JobState, string, string[]][] = [
    ['during a pull download', delivering(), 'delivery', []],
    ['during a push download', pushing(), 'delivery', ['stopDelivery']],
    ['in downloaded (push)', downloaded(), 'delivery', ['stopDelivery']],
    ['while updating', updating(), 'update', []],
    ['while rebooting', rebooting(), 'reboot', []],
    ['while verifying', verifying(), 'verify', []],
  ];
  const rows: (TransitionRow & { code: number })[] = [];
  for (const [phase, start, timer, extra] of phases) {
    for (const code of RESULT_CODES) {
      const reason = failureReasonFor(code);
      rows.push(
        code === 4
          ? {
              name: `${code} ${phase} → retry`,
              code,
              start,
              input: { type: 'resultObserved', result: code },
              target: { value: 'queued', attempt: 2, probing: false, timer: { name: 'retry', at: T0 + 1000 }, lastFailure: { reason: 'connectionLost', updateResult: 4 } },
              actions: retried(timer, extra),
            }
          : {
              name: `${code} ${phase} → failed ${reason}`,
              code,
              start,
              input: { type: 'resultObserved', result: code },
              target: { value: 'failed', reason, updateResult: code, explanation: explainUpdateResult(code), finishedAt: T0 },
              actions: failed(timer, extra),
            },
      );
    }
  }

  test.each(rows)('$name', (row) => {
    const step = checkRow(row);
    expect(step.history).toEqual([expect.objectContaining({ state: row.target['value'], updateResult: row.code, input: `resultObserved ${row.code}` })]);
    expect(eventsOf(step)).toEqual([row.code === 4 ? 'event updateRetryScheduled' : 'event updateFailed']);
    if (step.state.value === 'failed' && 'executionId' in row.start) expect(step.state.executionId).toBe('job-1#1');
  });

  it('retries a transient failure with exponential backoff until maxAttempts, then fails with retriesExhausted', () => {
    const c = ctx(T0, { config: { maxAttempts: 5, backoffBaseMs: 1000, backoffMaxMs: 5000 } });
    const waits: number[] = [];
    let state: JobState = delivering();
    for (let attempt = 1; attempt <= 5; attempt++) {
      state = delivering({ attempt });
      const step = next(state, { type: 'resultObserved', result: 4 }, c);
      if (attempt < 5) {
        expect(step.state).toMatchObject({ value: 'queued', attempt: attempt + 1 });
        const retry = step.effects.find((e) => e.type === 'scheduleRetry');
        expect(retry).toEqual({ type: 'scheduleRetry', at: expect.any(Number), attempt: attempt + 1 });
        waits.push((retry as { at: number }).at - T0);
      } else {
        expect(step.state).toMatchObject({ value: 'failed', reason: 'retriesExhausted', lastReason: 'connectionLost', updateResult: 4, attempt: 5 });
        expect((step.state as { explanation: string }).explanation).toMatch(/Gave up after 5 attempts/);
      }
    }
    expect(waits).toEqual([1000, 2000, 4000, 5000]);
  });

  it('starts the next attempt when the retry timer fires: probe again, and deliver again', () => {
    const retry = queued({ attempt: 2, probing: false, timer: { name: 'retry', at: T0 + 1000 }, device: { state: 0, result: 4 } });
    const early = next(retry, { type: 'registered' }, ctx(T0 + 10));
    expect(early.state).toEqual(retry);
    expect(early.effects).toEqual([]);
    const due = next(retry, { type: 'timedOut', timer: 'retry' }, ctx(T0 + 1000));
    expect(due.state).toMatchObject({ value: 'queued', attempt: 2, probing: true, timer: { name: 'contact', at: T0 + 1000 + 600_000 } });
    expect(actionsOf(due)).toEqual(['setTimer contact', ...OBSERVE, 'readCapabilities']);
    const go = next(due.state, { type: 'capabilitiesRead', deliveryMethod: 0 }, ctx(T0 + 2000));
    // Result 4 is still on the device: reset it so that it cannot be mistaken for this attempt's.
    expect(actionsOf(go)).toEqual(['clearTimer contact', 'setTimer delivery', 'writeEmptyUri reset', 'writePackageUri']);
    expect(go.state).toMatchObject({ value: 'delivering', attempt: 2 });
  });
});

describe('timeouts in every waiting state', () => {
  const rows: TransitionRow[] = [
    {
      name: 'queued: the device never became reachable → retry (lostContact)',
      start: queued(),
      input: { type: 'timedOut', timer: 'contact' },
      now: T0 + 600_000,
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'lostContact' }, timer: { name: 'retry', at: T0 + 601_000 } },
      actions: ['clearTimer contact', 'scheduleRetry'],
    },
    {
      name: 'delivering → retry (timeout)',
      start: delivering(),
      input: { type: 'timedOut', timer: 'delivery' },
      now: T0 + 60_000,
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'timeout' } },
      actions: ['clearTimer delivery', 'scheduleRetry'],
    },
    {
      name: 'delivering (push) → stop the push, retry',
      start: pushing(),
      input: { type: 'timedOut', timer: 'delivery' },
      now: T0 + 60_000,
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'timeout' } },
      actions: ['stopDelivery', 'clearTimer delivery', 'scheduleRetry'],
    },
    {
      name: 'downloaded → retry',
      start: downloaded(),
      input: { type: 'timedOut', timer: 'delivery' },
      now: T0 + 60_000,
      target: { value: 'queued', attempt: 2 },
      actions: ['stopDelivery', 'clearTimer delivery', 'scheduleRetry'],
    },
    {
      name: 'updating → retry (a new download; Update is never sent twice for one)',
      start: updating(),
      input: { type: 'timedOut', timer: 'update' },
      now: T0 + 10_000,
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'timeout' } },
      actions: ['clearTimer update', 'scheduleRetry'],
    },
    {
      // Not last seen in Updating (a device still in State 3 is asked first: machine-semantics.test.ts).
      name: 'rebooting → retry',
      start: rebooting({ device: {} }),
      input: { type: 'timedOut', timer: 'reboot' },
      now: T0 + 30_000,
      target: { value: 'queued', attempt: 2 },
      actions: ['clearTimer reboot', 'scheduleRetry'],
    },
    {
      name: 'verifying without a version → retry',
      start: verifying({ device: { result: 1 } }),
      input: { type: 'timedOut', timer: 'verify' },
      now: T0 + 5_000,
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'timeout', updateResult: 1 } },
      actions: ['clearTimer verify', 'scheduleRetry'],
    },
    {
      name: 'verifying with another version and Result 0 → failed versionMismatch',
      start: verifying({ version: '1.0.0', device: { result: 0 } }),
      input: { type: 'timedOut', timer: 'verify' },
      now: T0 + 5_000,
      target: { value: 'failed', reason: 'versionMismatch', updateResult: 0, version: '1.0.0' },
      actions: ['clearTimer verify', ...UNOBSERVE],
    },
    {
      name: 'verifying with the expected version but Result 0 → failed unconfirmed',
      start: verifying({ version: '2.0.0', device: { state: 0, result: 0 } }),
      input: { type: 'timedOut', timer: 'verify' },
      now: T0 + 5_000,
      target: { value: 'failed', reason: 'unconfirmed', version: '2.0.0' },
      actions: ['clearTimer verify', ...UNOBSERVE],
    },
    {
      name: 'cancelling → cancelled, unconfirmed',
      start: cancelling(),
      input: { type: 'timedOut', timer: 'cancel' },
      now: T0 + 5_000,
      target: { value: 'cancelled', confirmed: false, reason: 'cancelled' },
      actions: ['clearTimer cancel', ...UNOBSERVE],
    },
    {
      name: 'the last attempt → failed retriesExhausted',
      start: delivering({ attempt: 3 }),
      input: { type: 'timedOut', timer: 'delivery' },
      now: T0 + 60_000,
      target: { value: 'failed', reason: 'retriesExhausted', lastReason: 'timeout', attempt: 3 },
      actions: ['clearTimer delivery', ...UNOBSERVE],
    },
    {
      name: 'a timer that fires early is ignored',
      start: updating(),
      input: { type: 'timedOut', timer: 'update' },
      now: T0 + 9_999,
      target: updating(),
      actions: [],
    },
    {
      name: "another state's timer (a stale one) is ignored",
      start: rebooting(),
      input: { type: 'timedOut', timer: 'update' },
      now: T0 + 100_000,
      target: rebooting(),
      actions: [],
    },
  ];
  test.each(rows)('$name', (row) => {
    const step = checkRow(row);
    if (row.actions.length === 0) expect(step.persist).toBe(false);
    else expect(step.history).toHaveLength(1);
  });
});

describe('cancel in every state', () => {
  const rows: TransitionRow[] = [
    { name: 'queued → cancelled at once', start: queued(), input: { type: 'cancel' }, target: { value: 'cancelled', confirmed: true }, actions: ['clearTimer contact', ...UNOBSERVE] },
    {
      name: 'queued, waiting for a retry → cancelled at once',
      start: queued({ probing: false, timer: { name: 'retry', at: T0 + 1000 } }),
      input: { type: 'cancel' },
      target: { value: 'cancelled', confirmed: true },
      actions: ['clearTimer retry'],
    },
    {
      name: 'delivering, the device has /5/0/10 → execute Cancel',
      start: delivering({ hasCancel: true }),
      input: { type: 'cancel' },
      target: { value: 'cancelling', via: 'execute', timer: { name: 'cancel', at: T0 + 5000 } },
      actions: ['clearTimer delivery', 'setTimer cancel', 'executeCancel'],
    },
    {
      name: 'delivering, no /5/0/10 → empty Package URI',
      start: delivering({ hasCancel: false }),
      input: { type: 'cancel' },
      target: { value: 'cancelling', via: 'emptyUri' },
      actions: ['clearTimer delivery', 'setTimer cancel', 'writeEmptyUri cancel'],
    },
    {
      name: 'delivering by push → stop the push, then cancel',
      start: pushing({ hasCancel: true }),
      input: { type: 'cancel' },
      target: { value: 'cancelling', via: 'execute', method: 'push' },
      actions: ['stopDelivery', 'clearTimer delivery', 'setTimer cancel', 'executeCancel'],
    },
    {
      name: 'downloaded → cancel (Update never goes out)',
      start: downloaded({ hasCancel: false }),
      input: { type: 'cancel' },
      target: { value: 'cancelling', via: 'emptyUri' },
      actions: ['stopDelivery', 'clearTimer delivery', 'setTimer cancel', 'writeEmptyUri cancel'],
    },
    { name: 'updating → refused, too late', start: updating(), input: { type: 'cancel' }, target: updating(), actions: [], note: /cannot be cancelled/ },
    { name: 'rebooting → refused, too late', start: rebooting(), input: { type: 'cancel' }, target: rebooting(), actions: [], note: /cannot be cancelled/ },
    { name: 'verifying → refused, too late', start: verifying(), input: { type: 'cancel' }, target: verifying(), actions: [], note: /cannot be cancelled/ },
    { name: 'cancelling → nothing more', start: cancelling(), input: { type: 'cancel' }, target: cancelling(), actions: [] },
    { name: 'succeeded → nothing', start: SUCCEEDED, input: { type: 'cancel' }, target: SUCCEEDED, actions: [], note: /already ended/ },
    { name: 'failed → nothing', start: FAILED, input: { type: 'cancel' }, target: FAILED, actions: [], note: /already ended/ },
    { name: 'cancelled → nothing', start: CANCELLED, input: { type: 'cancel' }, target: CANCELLED, actions: [], note: /already ended/ },
  ];
  test.each(rows)('$name', (row) => {
    const step = checkRow(row);
    // A refused cancel is recorded in the active job's history; a finished job never changes.
    if (row.note !== undefined && !isTerminal(row.start)) {
      expect(step.history).toEqual([expect.objectContaining({ note: step.note, input: 'cancel' })]);
      expect(step.persist).toBe(true);
    }
    if (isTerminal(row.start)) expect(step.persist).toBe(false);
  });

  it('canCancel says where a cancel is possible', () => {
    const states: JobState[] = [queued(), delivering(), downloaded(), cancelling(), updating(), rebooting(), verifying(), SUCCEEDED, FAILED, CANCELLED];
    expect(states.map((s) => [s.value, canCancel(s)])).toEqual([
      ['queued', true],
      ['delivering', true],
      ['downloaded', true],
      ['cancelling', true],
      ['updating', false],
      ['rebooting', false],
      ['verifying', false],
      ['succeeded', false],
      ['failed', false],
      ['cancelled', false],
    ]);
  });

  const confirmations: TransitionRow[] = [
    { name: 'Cancel answered 2.04 → cancelled', start: cancelling(), input: { type: 'cancelAnswered', code: '2.04' }, target: { value: 'cancelled', confirmed: true }, actions: ['clearTimer cancel', ...UNOBSERVE] },
    {
      name: 'Cancel answered 4.04 (no usable /5/0/10) → fall back to the empty URI',
      start: cancelling({ via: 'execute' }),
      input: { type: 'cancelAnswered', code: '4.04' },
      target: { value: 'cancelling', via: 'emptyUri' },
      actions: ['writeEmptyUri cancel'],
    },
    {
      name: 'empty URI answered 4.00 → cancelled, unconfirmed',
      start: cancelling({ via: 'emptyUri' }),
      input: { type: 'cancelAnswered', code: '4.00' },
      target: { value: 'cancelled', confirmed: false },
      actions: ['clearTimer cancel', ...UNOBSERVE],
    },
    { name: 'Update Result 10 → cancelled', start: cancelling(), input: { type: 'resultObserved', result: 10 }, target: { value: 'cancelled', confirmed: true }, actions: ['clearTimer cancel', ...UNOBSERVE] },
    { name: 'State Idle → cancelled', start: cancelling(), input: { type: 'stateObserved', state: 0 }, target: { value: 'cancelled', confirmed: true }, actions: ['clearTimer cancel', ...UNOBSERVE] },
    { name: 'no answer → cancelled, unconfirmed', start: cancelling(), input: { type: 'contactLost' }, target: { value: 'cancelled', confirmed: false }, actions: ['clearTimer cancel', ...UNOBSERVE] },
    {
      name: 'State Downloaded while cancelling → recorded, Update not sent',
      start: cancelling(),
      input: { type: 'stateObserved', state: 2 },
      target: { value: 'cancelling' },
      actions: [],
      note: /Update is not sent/,
    },
  ];
  test.each(confirmations)('$name', (row) => {
    checkRow(row);
  });
});

describe('illegal or unexpected device reports are recorded, not thrown', () => {
  const rows: TransitionRow[] = [
    { name: 'State 3 while queued', start: queued(), input: { type: 'stateObserved', state: 3 }, target: { value: 'queued', device: { state: 3 } }, actions: [], note: /State 3 \(Updating\) while the job is queued/ },
    { name: 'State 9 (undefined) while queued', start: queued(), input: { type: 'stateObserved', state: 9 }, target: { value: 'queued' }, actions: [], note: /State 9 \(undefined\)/ },
    { name: 'Result 1 before Update was sent', start: delivering(), input: { type: 'resultObserved', result: 1 }, target: { value: 'delivering', device: { result: 1 } }, actions: [], note: /Update Result 1 .*before Update was sent/ },
    { name: 'State 3 during the download', start: delivering(), input: { type: 'stateObserved', state: 3 }, target: { value: 'delivering' }, actions: [], note: /Update was never sent/ },
    { name: 'State 7 during the download', start: delivering(), input: { type: 'stateObserved', state: 7 }, target: { value: 'delivering' }, actions: [], note: /State 7/ },
    {
      // Object 5's way of failing a download (Idle + Result 2–9): not an anomaly (issue 20 item 5).
      name: 'State back to Idle during the download → read the Result, no anomaly',
      start: delivering({ device: { state: 1, result: 0 } }),
      input: { type: 'stateObserved', state: 0 },
      target: { value: 'delivering', regressed: true },
      actions: ['readResult'],
    },
    {
      name: '… and Result 0 → the device dropped the download: retry (deviceReset)',
      start: delivering({ regressed: true, device: { state: 0, result: 0 } }),
      input: { type: 'resultObserved', result: 0 },
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'deviceReset', updateResult: 0 } },
      actions: ['clearTimer delivery', 'scheduleRetry'],
    },
    {
      name: 'Downloaded before the device took our delivery (an old download) → ignored',
      start: delivering({ started: false, device: {} }),
      input: { type: 'stateObserved', state: 2 },
      target: { value: 'delivering', started: false },
      actions: [],
      note: /old download/,
    },
    {
      name: 'a failure Result before the device took our delivery (an old one) → ignored',
      start: delivering({ started: false, device: {} }),
      input: { type: 'resultObserved', result: 5 },
      target: { value: 'delivering' },
      actions: [],
      note: /old result/,
    },
    {
      name: 'an Update Result outside 0–11 during the download → failed unknownResult',
      start: delivering(),
      input: { type: 'resultObserved', result: 42 },
      target: { value: 'failed', reason: 'unknownResult', updateResult: 42 },
      actions: ['clearTimer delivery', ...UNOBSERVE],
    },
    { name: 'State 1 after Update was sent', start: updating(), input: { type: 'stateObserved', state: 1 }, target: { value: 'updating' }, actions: [], note: /State 1 .*\(Downloading\)|Downloading after Update/ },
    {
      name: 'a new registration during the download (the device rebooted) → observe again, resync',
      start: delivering(),
      input: { type: 'registered' },
      target: { value: 'delivering', resync: true },
      actions: [...OBSERVE],
      note: /registered again during the download/,
    },
  ];
  test.each(rows)('$name', (row) => {
    const step = checkRow(row);
    if (row.note !== undefined) {
      expect(step.history).toEqual([expect.objectContaining({ note: step.note, at: T0 })]);
      expect(eventsOf(step)).toContain('event updateAnomalyRecorded');
      expect(step.persist).toBe(true);
    }
  });
});

describe('answers to our requests', () => {
  const rows: TransitionRow[] = [
    {
      name: 'Package URI write refused → read the Result to say why',
      start: delivering({ started: false }),
      input: { type: 'writeAnswered', write: 'packageUri', code: '4.00' },
      target: { value: 'delivering', rejected: '4.00' },
      actions: ['readResult'],
    },
    {
      name: '… Result 0 → failed deliveryRejected',
      start: delivering({ started: false, rejected: '4.00' }),
      input: { type: 'resultObserved', result: 0 },
      target: { value: 'failed', reason: 'deliveryRejected', updateResult: 0 },
      actions: ['clearTimer delivery', ...UNOBSERVE],
    },
    {
      name: '… Result 7 → failed invalidUri',
      start: delivering({ started: false, rejected: '4.00' }),
      input: { type: 'resultObserved', result: 7 },
      target: { value: 'failed', reason: 'invalidUri', updateResult: 7 },
      actions: ['clearTimer delivery', ...UNOBSERVE],
    },
    {
      name: 'push ended with 4.13 → read the Result; Result 2 → notEnoughFlash',
      start: pushing({ rejected: '4.13' }),
      input: { type: 'resultObserved', result: 2 },
      target: { value: 'failed', reason: 'notEnoughFlash', updateResult: 2 },
      actions: ['stopDelivery', 'clearTimer delivery', ...UNOBSERVE],
    },
    {
      name: 'push last block answered 4.13',
      start: pushing(),
      input: { type: 'deliveryFinished', code: '4.13' },
      target: { value: 'delivering', rejected: '4.13' },
      actions: ['readResult'],
    },
    {
      name: 'URI write accepted after Downloaded overtook it → read the State again',
      start: delivering({ started: false, device: { state: 2, result: 0 } }),
      input: { type: 'writeAnswered', write: 'packageUri', code: '2.04' },
      target: { value: 'delivering', started: true },
      actions: ['readState'],
    },
    {
      name: 'URI write accepted after a failure Result overtook it → read the Result again',
      start: delivering({ started: false, device: { state: 0, result: 7 } }),
      input: { type: 'writeAnswered', write: 'packageUri', code: '2.04' },
      target: { value: 'delivering', started: true },
      actions: ['readResult'],
    },
    {
      name: 'lost contact during the download → retry',
      start: delivering(),
      input: { type: 'contactLost', request: 'readState' },
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'lostContact' } },
      actions: ['clearTimer delivery', 'scheduleRetry'],
    },
    {
      name: 'Update answered 4.05 → failed updateRejected',
      start: updating(),
      input: { type: 'executeAnswered', code: '4.05' },
      target: { value: 'failed', reason: 'updateRejected', executionId: 'job-1#1' },
      actions: ['clearTimer update', ...UNOBSERVE],
    },
    {
      name: 'Update unanswered → the device is probably rebooting',
      start: updating(),
      input: { type: 'contactLost', request: 'executeUpdate' },
      target: { value: 'rebooting', acceptedAt: T0 },
      actions: ['clearTimer update', 'setTimer reboot'],
    },
    { name: 'State 3 after Update, answer lost → rebooting', start: updating(), input: { type: 'stateObserved', state: 3 }, target: { value: 'rebooting' }, actions: ['clearTimer update', 'setTimer reboot'] },
    { name: 'State Idle after Update → read the Result', start: updating(), input: { type: 'stateObserved', state: 0 }, target: { value: 'updating' }, actions: ['readResult'] },
    {
      name: 'Result 1 without a reboot → verifying, read the version',
      start: updating(),
      input: { type: 'resultObserved', result: 1 },
      target: { value: 'verifying', device: { result: 1 } },
      actions: ['clearTimer update', 'setTimer verify', 'readFirmwareVersion'],
    },
    { name: 'a registration Update while rebooting → read State and Result', start: rebooting(), input: { type: 'updated' }, target: { value: 'rebooting' }, actions: ['readState', 'readResult'] },
    { name: 'contact lost while rebooting is expected', start: rebooting(), input: { type: 'contactLost' }, target: rebooting(), actions: [] },
    { name: 'a lost read while verifying → read again', start: verifying(), input: { type: 'contactLost' }, target: { value: 'verifying' }, actions: ['readFirmwareVersion', 'readResult'] },
    {
      name: 'a late capabilities answer after a retry was scheduled is ignored',
      start: queued({ probing: false, timer: { name: 'retry', at: T0 + 1000 } }),
      input: { type: 'capabilitiesRead', deliveryMethod: 0 },
      target: { value: 'queued', probing: false },
      actions: [],
    },
  ];
  test.each(rows)('$name', (row) => {
    checkRow(row);
  });
});

describe('verification', () => {
  const rows: TransitionRow[] = [
    {
      name: 'Result 1 and the expected version → succeeded',
      start: verifying({ device: { result: 1 } }),
      input: { type: 'versionRead', version: '2.0.0' },
      target: { value: 'succeeded', version: '2.0.0', updateResult: 1 },
      actions: ['clearTimer verify', ...UNOBSERVE],
    },
    {
      name: 'versions compare without surrounding white space',
      start: verifying({ device: { result: 1 } }),
      input: { type: 'versionRead', version: ' 2.0.0\n' },
      target: { value: 'succeeded' },
      actions: ['clearTimer verify', ...UNOBSERVE],
    },
    {
      name: 'Result 1 and another version → failed versionMismatch',
      start: verifying({ device: { result: 1 } }),
      input: { type: 'versionRead', version: '1.9.9' },
      target: { value: 'failed', reason: 'versionMismatch', updateResult: 1, version: '1.9.9' },
      actions: ['clearTimer verify', ...UNOBSERVE],
    },
    {
      name: 'the version first, then Result 1 → succeeded',
      start: verifying({ version: '2.0.0' }),
      input: { type: 'resultObserved', result: 1 },
      target: { value: 'succeeded' },
      actions: ['clearTimer verify', ...UNOBSERVE],
    },
    {
      name: 'Result 0 with the expected version waits (the device may still set it)',
      start: verifying({ version: '2.0.0' }),
      input: { type: 'resultObserved', result: 0 },
      target: { value: 'verifying', device: { result: 0 } },
      actions: [],
    },
    {
      name: 'the expected version alone is not success',
      start: verifying(),
      input: { type: 'versionRead', version: '2.0.0' },
      target: { value: 'verifying', version: '2.0.0' },
      actions: [],
    },
    {
      name: 'Result 8 after the reboot (fell back to the old slot) → failed updateFailed',
      start: verifying({ version: '1.0.0' }),
      input: { type: 'resultObserved', result: 8 },
      target: { value: 'failed', reason: 'updateFailed', updateResult: 8, version: '1.0.0' },
      actions: ['clearTimer verify', ...UNOBSERVE],
    },
    {
      name: 'a registration that carries the version',
      start: rebooting(),
      input: { type: 'registered', version: '2.0.0' },
      target: { value: 'verifying', version: '2.0.0', device: {} },
      actions: ['clearTimer reboot', 'setTimer verify', ...OBSERVE],
    },
  ];
  test.each(rows)('$name', (row) => {
    const step = checkRow(row);
    if (step.state.value === 'failed' && step.state.reason === 'versionMismatch') {
      expect(step.state.explanation).toContain('"1.9.9"');
      expect(step.state.explanation).toContain('"2.0.0"');
    }
  });
});

describe('resume after a restart, from every state', () => {
  const rows: TransitionRow[] = [
    { name: 'queued → probe again', start: queued(), input: { type: 'resumed' }, target: { value: 'queued', probing: true }, actions: ['setTimer contact', ...OBSERVE, 'readCapabilities'] },
    {
      name: 'queued in backoff → re-arm the retry',
      start: queued({ attempt: 2, probing: false, timer: { name: 'retry', at: T0 + 500 } }),
      input: { type: 'resumed' },
      target: { value: 'queued', probing: false },
      actions: ['scheduleRetry'],
    },
    {
      name: 'delivering, not taken yet (pull) → reset and write the URI again',
      start: delivering({ started: false }),
      input: { type: 'resumed' },
      target: { value: 'delivering', started: false },
      actions: ['setTimer delivery', ...OBSERVE, 'writeEmptyUri reset', 'writePackageUri'],
    },
    {
      name: 'delivering, not taken yet (push) → reset and push again',
      start: pushing({ started: false, bytes: 0 }),
      input: { type: 'resumed' },
      target: { value: 'delivering', started: false, bytes: 0 },
      actions: ['setTimer delivery', ...OBSERVE, 'stopDelivery', 'writeEmptyUri reset', 'pushPackage'],
    },
    {
      name: 'delivering, taken → observe, the next State decides',
      start: delivering({ bytes: 4096 }),
      input: { type: 'resumed' },
      target: { value: 'delivering', resync: true, bytes: 4096 },
      actions: ['setTimer delivery', ...OBSERVE],
    },
    { name: 'downloaded → observe, the next State decides', start: downloaded(), input: { type: 'resumed' }, target: { value: 'downloaded', resync: true }, actions: ['setTimer delivery', ...OBSERVE] },
    { name: 'updating → observe State and Result, NEVER execute again', start: updating(), input: { type: 'resumed' }, target: updating(), actions: ['setTimer update', ...OBSERVE] },
    { name: 'rebooting → read State and Result', start: rebooting(), input: { type: 'resumed' }, target: rebooting(), actions: ['setTimer reboot', 'readState', 'readResult'] },
    { name: 'verifying → observe, read the version again', start: verifying(), input: { type: 'resumed' }, target: verifying(), actions: ['setTimer verify', ...OBSERVE, 'readFirmwareVersion'] },
    { name: 'cancelling → cancel again', start: cancelling(), input: { type: 'resumed' }, target: cancelling(), actions: ['setTimer cancel', 'executeCancel'] },
    { name: 'cancelling by empty URI → write it again', start: cancelling({ via: 'emptyUri' }), input: { type: 'resumed' }, target: { via: 'emptyUri' }, actions: ['setTimer cancel', 'writeEmptyUri cancel'] },
    { name: 'succeeded → nothing', start: SUCCEEDED, input: { type: 'resumed' }, target: SUCCEEDED, actions: [] },
    { name: 'failed → nothing', start: FAILED, input: { type: 'resumed' }, target: FAILED, actions: [] },
    { name: 'cancelled → nothing', start: CANCELLED, input: { type: 'resumed' }, target: CANCELLED, actions: [] },
  ];
  test.each(rows)('$name', (row) => {
    const step = resume(row.start, ctx(T0 + 100));
    expect(step.state).toMatchObject(row.target);
    expect(actionsOf(step)).toEqual(row.actions);
    expect(step.effects.some((e) => e.type === 'executeUpdate')).toBe(false);
    if (!isTerminal(row.start)) {
      expect(eventsOf(step)).toContain('event updateResumed');
      expect(step.history[0]).toMatchObject({ input: 'resumed', at: T0 + 100 });
    }
  });

  it('re-arms a deadline that passed while the server was down; it fires at once', () => {
    const step = resume(updating(), ctx(T0 + 60_000));
    expect(step.effects).toContainEqual({ type: 'setTimer', timer: 'update', at: T0 + 10_000 });
    expect(next(step.state, { type: 'timedOut', timer: 'update' }, ctx(T0 + 60_000)).state).toMatchObject({ value: 'queued', attempt: 2 });
  });

  const afterResume: [string, JobState, JobInput, string, string[]][] = [
    ['delivering, the device says Downloaded → Update (this attempt never sent one)', delivering({ resync: true }), { type: 'stateObserved', state: 2 }, 'updating', ['clearTimer delivery', 'setTimer update', 'executeUpdate']],
    ['push interrupted, the device says Downloaded → Update', pushing({ resync: true, finished: false }), { type: 'stateObserved', state: 2 }, 'updating', ['clearTimer delivery', 'setTimer update', 'executeUpdate']],
    ['pull, still Downloading → keep waiting', delivering({ resync: true }), { type: 'stateObserved', state: 1 }, 'delivering', []],
    ['push, still Downloading → the push died with the server: reset and push again', pushing({ resync: true, bytes: 2048 }), { type: 'stateObserved', state: 1 }, 'delivering', ['stopDelivery', 'writeEmptyUri reset', 'pushPackage']],
    ['pull, Idle → the device lost it: write the URI again', delivering({ resync: true }), { type: 'stateObserved', state: 0 }, 'delivering', ['writePackageUri']],
    ['downloaded, the device says Downloaded → Update', downloaded({ resync: true }), { type: 'stateObserved', state: 2 }, 'updating', ['clearTimer delivery', 'setTimer update', 'executeUpdate']],
    ['updating, the device is still Downloaded → wait, never execute again', updating(), { type: 'stateObserved', state: 2 }, 'updating', []],
    ['updating, the device registers → verify', updating(), { type: 'registered' }, 'verifying', ['clearTimer update', 'setTimer verify', ...OBSERVE, 'readFirmwareVersion']],
    ['rebooting, the device answers Result 1 → verify', rebooting(), { type: 'resultObserved', result: 1 }, 'verifying', ['clearTimer reboot', 'setTimer verify', 'readFirmwareVersion']],
  ];
  test.each(afterResume)('then: %s', (_name, start, input, value, actions) => {
    const step = next(start, input, ctx());
    expect(step.state.value).toBe(value);
    expect(actionsOf(step)).toEqual(actions);
    if (value === 'delivering') expect(step.state).not.toHaveProperty('resync');
  });
});

describe('jobs and history', () => {
  it('appends history through advance, bounded by historyLimit, and sets finishedAt once', () => {
    let { job } = createJob({ ...SPEC, now: T0, config: { ...CONFIG, historyLimit: 4 } });
    const config = { ...CONFIG, historyLimit: 4 };
    const inputs: JobInput[] = [
      { type: 'capabilitiesRead', deliveryMethod: 0 },
      { type: 'stateObserved', state: 3 },
      { type: 'stateObserved', state: 9 },
      { type: 'cancel' },
      { type: 'cancelAnswered', code: '2.04' },
    ];
    let now = T0;
    for (const input of inputs) job = advance(job, input, (now += 10), config).job;
    expect(job.history).toHaveLength(4);
    expect(job.history.at(-1)).toMatchObject({ state: 'cancelled', input: 'cancelAnswered 2.04', at: T0 + 50 });
    expect(job.finishedAt).toBe(T0 + 50);
    expect(job.updatedAt).toBe(T0 + 50);
    const after = advance(job, { type: 'resultObserved', result: 10 }, T0 + 99, config);
    expect(after.persist).toBe(false);
    expect(after.job.finishedAt).toBe(T0 + 50);
  });

  it('resumeJob applies resume to a stored job', () => {
    const { job } = createJob({ ...SPEC, now: T0, config: CONFIG });
    const delivered = advance(job, { type: 'capabilitiesRead', deliveryMethod: 1 }, T0 + 1, CONFIG).job;
    const r = resumeJob(delivered, T0 + 2, CONFIG);
    expect(r.persist).toBe(true);
    expect(r.job.history.at(-1)).toMatchObject({ input: 'resumed', state: 'delivering' });
    expect(r.effects.filter((e) => e.type === 'pushPackage')).toHaveLength(1);
  });

  it('never throws, whatever arrives in whatever state', () => {
    const states: JobState[] = [queued(), delivering(), pushing(), downloaded(), updating(), rebooting(), verifying(), cancelling(), SUCCEEDED, FAILED, CANCELLED];
    const inputs: JobInput[] = [
      { type: 'registered' },
      { type: 'updated' },
      { type: 'deregistered', expired: true },
      { type: 'capabilitiesRead' },
      { type: 'stateObserved', state: -1 },
      { type: 'resultObserved', result: Number.NaN },
      { type: 'versionRead', version: '' },
      { type: 'writeAnswered', write: 'reset', code: '5.00' },
      { type: 'executeAnswered', code: 'garbage' },
      { type: 'cancelAnswered', code: '2.04' },
      { type: 'blockProgress', bytes: -5 },
      { type: 'deliveryFinished', code: '2.04' },
      { type: 'contactLost' },
      { type: 'timedOut', timer: 'verify' },
      { type: 'cancel' },
      { type: 'resumed' },
    ];
    for (const s of states) for (const i of inputs) expect(() => next(s, i, ctx(T0 + 1e9))).not.toThrow();
  });
});
