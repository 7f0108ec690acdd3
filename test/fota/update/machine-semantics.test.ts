/**
 * Silent devices and honest failure reasons (issues 19.3, 20.5, 20.6): the contact
 * timeout, a device stuck in Updating, a stub object 5, object 5's ordinary download
 * failures, explanations that follow the delivery, and what confirms success.
 */
import { createJob, next, type JobInput, type JobSpec, type JobState, type Step } from '../../../src/fota/update/machine';
import { actionsOf, CONFIG, ctx, delivering, eventsOf, OBSERVE, pushing, queued, rebooting, SPEC, T0, UNOBSERVE, verifying, checkRow, type TransitionRow } from './fixtures';


const lapsed = queued({ probing: false, unreachableSince: T0 });
const { timer: _t, ...untimed } = queued();

describe('a silent device: the contact timeout (issue 19 item 3)', () => {
  test.each<TransitionRow>([
    {
      name: 'expiry while queued → recorded in the history, the job keeps waiting',
      start: queued(),
      input: { type: 'deregistered', expired: true },
      target: { value: 'queued', probing: false, unreachableSince: T0, timer: { name: 'contact', at: T0 + 600_000 } },
      actions: [],
      explanation: /registration expired.*contact timeout.*deviceUnreachable/,
    },
    {
      name: 'a de-registration while queued → recorded the same way',
      start: queued(),
      input: { type: 'deregistered' },
      target: { value: 'queued', unreachableSince: T0 },
      actions: [],
      explanation: /de-registered/,
    },
    {
      name: 'the contact timeout after the registration lapsed → failed deviceUnreachable',
      start: lapsed,
      input: { type: 'timedOut', timer: 'contact' },
      now: T0 + 600_000,
      target: { value: 'failed', reason: 'deviceUnreachable' },
      actions: ['clearTimer contact'],
      explanation: /went silent: its registration lapsed at/,
    },
    {
      name: 'the device registers again → no longer unreachable, probed',
      start: lapsed,
      input: { type: 'registered' },
      target: { value: 'queued', probing: true, timer: { name: 'contact', at: T0 + 600_000 } },
      actions: [...OBSERVE, 'readCapabilities'],
    },
    {
      name: 'expiry during the download → retried, still unreachable',
      start: delivering(),
      input: { type: 'deregistered', expired: true },
      now: T0 + 5,
      target: { value: 'queued', attempt: 2, unreachableSince: T0 + 5, lastFailure: { reason: 'lostContact' } },
      actions: ['clearTimer delivery', 'scheduleRetry'],
    },
    {
      name: 'waiting for ever (contact timeout 0): expiry recorded, no deadline',
      start: untimed,
      input: { type: 'deregistered', expired: true },
      job: { contactTimeout: 0 },
      target: { value: 'queued', unreachableSince: T0 },
      actions: [],
      explanation: /waits for it for ever/,
    },
  ])('$name', (row) => {
    const step = checkRow(row);
    if (row.start.value === 'queued' && row.target['value'] === 'queued') expect(step.state).not.toHaveProperty('timer.name', 'retry');
  });

  test('the removed unreachableSince is really gone after a registration', () => {
    expect(next(lapsed, { type: 'registered' }, ctx()).state).not.toHaveProperty('unreachableSince');
  });

  test('a job with contact timeout 0 has no contact deadline; the configuration default is 24 h', () => {
    const forever = createJob({ ...SPEC, contactTimeout: 0, now: T0, config: CONFIG });
    expect(forever.job.state).toEqual({ value: 'queued', attempt: 1, probing: true, device: {} });
    const own = createJob({ ...SPEC, contactTimeout: 5_000, now: T0, config: CONFIG });
    expect(own.job.state).toMatchObject({ timer: { name: 'contact', at: T0 + 5_000 } });
    const byDefault = createJob({ ...SPEC, now: T0 });
    expect(byDefault.job.state).toMatchObject({ timer: { name: 'contact', at: T0 + 24 * 3_600_000 } });
  });
});

describe('a device stuck in Updating (issue 20 item 5a)', () => {
  test.each<TransitionRow>([
    {
      name: 'reboot timeout, last seen in Updating → ask for the State first',
      start: rebooting(),
      input: { type: 'timedOut', timer: 'reboot' },
      now: T0 + 30_000,
      target: { value: 'rebooting', checking: true, timer: { name: 'reboot', at: T0 + 35_000 } },
      actions: ['clearTimer reboot', 'setTimer reboot', 'readState'],
    },
    {
      name: '… still State 3 → failed notRebooted, no new delivery',
      start: rebooting({ checking: true }),
      input: { type: 'stateObserved', state: 3 },
      target: { value: 'failed', reason: 'notRebooted' },
      actions: ['clearTimer reboot', ...UNOBSERVE],
      explanation: /still reports State 3 \(Updating\).*never restarted/,
    },
    {
      name: '… no answer in time → retried (timeout) as before',
      start: rebooting({ checking: true, timer: { name: 'reboot', at: T0 + 35_000 } }),
      input: { type: 'timedOut', timer: 'reboot' },
      now: T0 + 35_000,
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'timeout' } },
      actions: ['clearTimer reboot', 'scheduleRetry'],
    },
    {
      name: '… Idle → the Result decides, as after any Idle',
      start: rebooting({ checking: true }),
      input: { type: 'stateObserved', state: 0 },
      target: { value: 'rebooting' },
      actions: ['readResult'],
    },
    {
      name: 'State 3 in a registration update while rebooting (before the timeout) → still waiting',
      start: rebooting(),
      input: { type: 'stateObserved', state: 3 },
      target: { value: 'rebooting' },
      actions: [],
    },
    {
      name: 'a device in Updating is never sent a delivery: capabilities read → failed notRebooted',
      start: queued({ device: { state: 3, result: 0 } }),
      input: { type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0], hasCancel: true },
      target: { value: 'failed', reason: 'notRebooted' },
      actions: ['clearTimer contact', ...UNOBSERVE],
    },
  ])('$name', (row) => {
    checkRow(row);
  });
});

describe('anomalies only for reports against object 5 (issue 20 item 5b, 5c)', () => {
  test.each<TransitionRow>([
    {
      name: 'Downloading → Idle with Update Result 5: an ordinary failure, no anomaly',
      start: delivering({ regressed: true, device: { state: 0, result: 0 } }),
      input: { type: 'resultObserved', result: 5 },
      target: { value: 'failed', reason: 'integrityCheckFailed', updateResult: 5 },
      actions: ['clearTimer delivery', ...UNOBSERVE],
    },
    {
      name: 'the failure Result before the State: no anomaly either',
      start: delivering({ device: { state: 1, result: 0 } }),
      input: { type: 'resultObserved', result: 3 },
      target: { value: 'failed', reason: 'outOfMemory' },
      actions: ['clearTimer delivery', ...UNOBSERVE],
    },
    {
      name: 'State 1 (Downloading) before anything was delivered → anomaly at once',
      start: queued(),
      input: { type: 'stateObserved', state: 1 },
      target: { value: 'queued', device: { state: 1 } },
      actions: [],
      note: /State 1 \(Downloading\) before anything was delivered/,
    },
  ])('$name', (row) => {
    const step = checkRow(row);
    if (row.note === undefined) expect(eventsOf(step)).not.toContain('event updateAnomalyRecorded');
    else expect(eventsOf(step)).toContain('event updateAnomalyRecorded');
  });
});

describe('a stub object 5: acknowledged, never moving (issue 20 item 5c)', () => {
  const stubPush = pushing({ stateUnmoved: true, device: { state: 1, result: 0 } });
  const settling = pushing({ stateUnmoved: true, finished: true, device: { state: 1, result: 0 }, timer: { name: 'settle', at: T0 + 5_000 } });
  test.each<TransitionRow>([
    {
      name: 'push: the last block acknowledged, State never moved → the settle timer replaces the delivery timer',
      start: stubPush,
      input: { type: 'deliveryFinished', code: '2.04' },
      target: { value: 'delivering', finished: true, timer: { name: 'settle', at: T0 + 5_000 } },
      actions: ['clearTimer delivery', 'setTimer settle'],
    },
    {
      name: '… the settle timeout → failed stubFirmwareObject',
      start: settling,
      input: { type: 'timedOut', timer: 'settle' },
      now: T0 + 5_000,
      target: { value: 'failed', reason: 'stubFirmwareObject' },
      actions: ['stopDelivery', 'clearTimer settle', ...UNOBSERVE],
      explanation: /acknowledged every block.*State \(\/5\/0\/3\) stayed at 1 \(Downloading\).*stub/,
    },
    {
      name: '… the State moves meanwhile → the delivery timer again',
      start: settling,
      input: { type: 'stateObserved', state: 0 },
      target: { value: 'delivering', timer: { name: 'delivery', at: T0 + 60_000 } },
      actions: ['clearTimer settle', 'setTimer delivery', 'readResult'],
    },
    {
      name: 'push: a State change during the delivery → no settle timer at the end',
      start: pushing({ device: { state: 1, result: 0 } }),
      input: { type: 'deliveryFinished', code: '2.04' },
      target: { value: 'delivering', finished: true, timer: { name: 'delivery' } },
      actions: [],
    },
    {
      name: 'push: the first State change clears the mark',
      start: pushing({ stateUnmoved: true, device: { state: 0, result: 0 } }),
      input: { type: 'stateObserved', state: 1 },
      target: { value: 'delivering', timer: { name: 'delivery' } },
      actions: [],
    },
    {
      name: 'pull: the URI accepted by a device that already claimed Downloading → settle timer',
      start: delivering({ started: false, stateUnmoved: true, device: { state: 1, result: 0 } }),
      input: { type: 'writeAnswered', write: 'packageUri', code: '2.04' },
      target: { value: 'delivering', timer: { name: 'settle', at: T0 + 5_000 } },
      actions: ['clearTimer delivery', 'setTimer settle'],
    },
    {
      name: 'pull: … the device fetches a block → the delivery timer again',
      start: delivering({ stateUnmoved: true, device: { state: 1, result: 0 }, timer: { name: 'settle', at: T0 + 5_000 } }),
      input: { type: 'blockProgress', bytes: 256, total: 4096 },
      target: { value: 'delivering', timer: { name: 'delivery', at: T0 + 60_000 } },
      actions: ['clearTimer settle', 'setTimer delivery'],
    },
    {
      name: 'pull: … or the settle timeout → failed stubFirmwareObject, naming the URI',
      start: delivering({ stateUnmoved: true, device: { state: 1, result: 0 }, timer: { name: 'settle', at: T0 + 5_000 } }),
      input: { type: 'timedOut', timer: 'settle' },
      now: T0 + 5_000,
      target: { value: 'failed', reason: 'stubFirmwareObject' },
      actions: ['clearTimer settle', ...UNOBSERVE],
      explanation: /accepted the Package URI.*fetched nothing/,
    },
  ])('$name', (row) => {
    checkRow(row);
  });

  test('a new delivery is marked unmoved', () => {
    const step = next(queued(), { type: 'capabilitiesRead', deliveryMethod: 1, protocols: [0], hasCancel: true }, ctx());
    expect(step.state).toMatchObject({ value: 'delivering', stateUnmoved: true });
  });
});

describe('explanations follow the delivery (issue 20 item 5d)', () => {
  test.each([
    [false, /SUIT envelope/],
    [true, /own integrity check of its package format/],
  ])('payloadOnly %s: Update Result 5 explained as %s', (payloadOnly, pattern) => {
    const step = next(delivering({ device: { state: 1, result: 0 } }), { type: 'resultObserved', result: 5 }, ctx(T0, { job: { payloadOnly } }));
    const s = step.state as { explanation: string };
    expect(s.explanation).toMatch(pattern);
    expect(s.explanation).toContain('Update Result 5');
    if (payloadOnly) expect(s.explanation).not.toMatch(/signature or a digest of the SUIT/);
  });
});

describe('what confirms success (issue 20 item 6)', () => {
  const back = verifying({ device: { result: 1 } });
  test.each<TransitionRow>([
    {
      name: 'default /3/0/3: the success entry names it',
      start: back,
      input: { type: 'versionRead', version: '2.0.0' },
      target: { value: 'succeeded', confirmedBy: 'firmwareVersion', version: '2.0.0' },
      actions: ['clearTimer verify', ...UNOBSERVE],
      explanation: /confirmed by firmware version \/3\/0\/3 = "2.0.0"/,
    },
    {
      name: 'pkgVersion: /5/0/7 is read after the re-registration, not /3/0/3',
      start: rebooting(),
      input: { type: 'registered' },
      job: { confirm: 'pkgVersion' },
      target: { value: 'verifying' },
      actions: ['clearTimer reboot', 'setTimer verify', ...OBSERVE, 'readPkgVersion'],
    },
    {
      name: 'pkgVersion: /5/0/7 equals the announced version → succeeded',
      start: back,
      input: { type: 'pkgVersionRead', version: '2.0.0' },
      job: { confirm: 'pkgVersion' },
      target: { value: 'succeeded', confirmedBy: 'pkgVersion' },
      actions: ['clearTimer verify', ...UNOBSERVE],
      explanation: /confirmed by PkgVersion \/5\/0\/7 = "2.0.0"/,
    },
    {
      name: 'pkgVersion: /3/0/3 stays old (a device that never changes it) → no matter',
      start: back,
      input: { type: 'versionRead', version: '1.0.0' },
      job: { confirm: 'pkgVersion' },
      target: { value: 'verifying' },
      actions: [],
    },
    {
      name: 'pkgVersion: another /5/0/7 → versionMismatch naming /5/0/7',
      start: back,
      input: { type: 'pkgVersionRead', version: '1.9.0' },
      job: { confirm: 'pkgVersion' },
      target: { value: 'failed', reason: 'versionMismatch' },
      actions: ['clearTimer verify', ...UNOBSERVE],
      explanation: /package version "1.9.0" \(\/5\/0\/7\)/,
    },
    {
      name: 'result: Update Result 1 alone → succeeded without reading a version',
      start: verifying(),
      input: { type: 'resultObserved', result: 1 },
      job: { confirm: 'result' },
      target: { value: 'succeeded', confirmedBy: 'result' },
      actions: ['clearTimer verify', ...UNOBSERVE],
      explanation: /confirmed by Update Result 1 alone/,
    },
    {
      name: 'result: the re-registration reads no version',
      start: rebooting(),
      input: { type: 'registered' },
      job: { confirm: 'result' },
      target: { value: 'verifying' },
      actions: ['clearTimer reboot', 'setTimer verify', ...OBSERVE],
    },
    {
      name: 'result: Result 0 until the verify timeout → retried (timeout)',
      start: verifying({ device: { result: 0 } }),
      input: { type: 'timedOut', timer: 'verify' },
      now: T0 + 5_000,
      job: { confirm: 'result' },
      target: { value: 'queued', attempt: 2, lastFailure: { reason: 'timeout' } },
      actions: ['clearTimer verify', 'scheduleRetry'],
    },
  ])('$name', (row) => {
    checkRow(row);
  });
});
