/**
 * The runner's contract with a fake port: persist before acting, one input at a time,
 * requests in order through one chain, stopDelivery aborts a push, timers fire as
 * timedOut, progress events are throttled, a failed commit performs nothing.
 */
import { createJob, PATHS, resumeJob, type Effect, type Job, type JobInput, type UpdateConfig } from '../../../src/fota/update/machine';
import { isRequestEffect, JobRunner, type JobRunnerPort, type RequestEffect } from '../../../src/fota/update/runner';
import { formatPath } from '../../../src/lwm2m/core/model';

const CONFIG: UpdateConfig = {
  maxAttempts: 2,
  backoffBaseMs: 50,
  backoffMaxMs: 100,
  timeouts: { delivery: 5_000, update: 5_000, reboot: 5_000, verify: 5_000, cancel: 5_000 },
  historyLimit: 100,
};

const URI = 'coap://[::1]:5683/fw/' + 'f'.repeat(64);

type Log = string[];

/** Records everything in one ordered log and answers requests with `answer`; adapt() makes it a port. */
class FakePort {
  readonly log: Log = [];
  readonly stored: Job[] = [];
  /** What the runner logged. */
  readonly lines: string[] = [];
  persistDelayMs = 0;
  failPersist = false;
  answer: (e: RequestEffect, feed: (i: JobInput) => void, signal: AbortSignal) => Promise<void> | void = () => {};

  async persist(job: Job): Promise<void> {
    this.log.push(`persist ${job.state.value}`);
    if (this.persistDelayMs > 0) await new Promise((r) => setTimeout(r, this.persistDelayMs));
    if (this.failPersist) throw new Error('disk full');
    this.stored.push(job);
    this.log.push(`committed ${job.state.value}`);
  }

  async perform(_job: Job, e: RequestEffect, feed: (i: JobInput) => void, signal: AbortSignal): Promise<void> {
    this.log.push(`perform ${e.type}${'path' in e ? ` ${formatPath(e.path)}` : ''}`);
    await this.answer(e, feed, signal);
    this.log.push(`done ${e.type}`);
  }
}

function adapt(p: FakePort): JobRunnerPort {
  return {
    persist: (j) => p.persist(j),
    perform: (j, e, f, s) => p.perform(j, e, f, s),
    publish: (_j, type) => void p.log.push(`event ${type}`),
    now: () => Date.now(),
    log: (line) => void p.lines.push(line),
  };
}

function newJob(o: Partial<Parameters<typeof createJob>[0]> = {}): ReturnType<typeof createJob> {
  return createJob({ id: 'job-1', endpoint: 'dev-1', firmwareId: 'f'.repeat(64), expectedVersion: '2.0.0', payloadOnly: false, packageUris: { coap: URI }, now: Date.now(), config: CONFIG, ...o });
}

function runnerWith(p: JobRunnerPort): JobRunner {
  return new JobRunner(newJob().job, p, { config: CONFIG, progressIntervalMs: 50 });
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('JobRunner', () => {
  test('persists the first step before any of its effects, then performs the requests in order, one at a time', async () => {
    const p = new FakePort();
    p.persistDelayMs = 20;
    let inFlight = 0;
    let most = 0;
    p.answer = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await tick(5);
      inFlight--;
    };
    const r = runnerWith(adapt(p));
    await r.begin(newJob());
    await r.idle();
    const first = p.log.findIndex((l) => l.startsWith('perform') || l.startsWith('event'));
    expect(p.log.indexOf('committed queued')).toBeLessThan(first);
    expect(p.log.filter((l) => l.startsWith('perform'))).toEqual(['perform observe /5/0/3', 'perform observe /5/0/5', 'perform readCapabilities']);
    expect(most).toBe(1);
    r.close();
  });

  test('applies inputs one at a time, in order, each committed before its effects', async () => {
    const p = new FakePort();
    p.persistDelayMs = 10;
    p.answer = (e, feed) => {
      if (e.type === 'readCapabilities') feed({ type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0] });
    };
    const r = runnerWith(adapt(p));
    await r.begin(newJob());
    await r.idle();
    // delivering: the URI write follows the commit of 'delivering' (the device is not known to be Idle: reset first).
    const committed = p.log.indexOf('committed delivering');
    expect(committed).toBeGreaterThan(0);
    expect(p.log.indexOf('perform writeEmptyUri /5/0/1')).toBeGreaterThan(committed);
    expect(p.log.indexOf('perform writePackageUri /5/0/1')).toBeGreaterThan(p.log.indexOf('done writeEmptyUri'));
    // Three inputs fed at once are applied in order.
    r.feed({ type: 'writeAnswered', write: 'reset', code: '2.04' });
    r.feed({ type: 'writeAnswered', write: 'packageUri', code: '2.04' });
    r.feed({ type: 'stateObserved', state: 2 });
    await r.idle();
    expect(r.job.state.value).toBe('updating');
    const updating = p.log.indexOf('committed updating');
    expect(p.log.indexOf('perform executeUpdate /5/0/2')).toBeGreaterThan(updating);
    expect(p.log.filter((l) => l === 'perform executeUpdate /5/0/2')).toHaveLength(1);
    r.close();
  });

  test('a step whose commit fails performs nothing, and the job stays as it was', async () => {
    const p = new FakePort();
    const r = runnerWith(adapt(p));
    await r.begin(newJob());
    await r.idle();
    p.failPersist = true;
    p.log.length = 0;
    r.feed({ type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0] });
    await r.idle();
    expect(p.log).toEqual(['persist delivering']);
    expect(r.job.state.value).toBe('queued');
    expect(p.lines.join('\n')).toMatch(/not persisted/);
    r.close();
  });

  test('a rejected first commit rejects begin() and performs nothing', async () => {
    const p = new FakePort();
    p.failPersist = true;
    const r = runnerWith(adapt(p));
    await expect(r.begin(newJob())).rejects.toThrow('disk full');
    expect(p.log.filter((l) => l.startsWith('perform') || l.startsWith('event'))).toEqual([]);
    r.close();
  });

  test('stopDelivery aborts a running push before the cancel goes out; a cancel is handled while the push runs', async () => {
    const p = new FakePort();
    let aborted = false;
    p.answer = async (e, feed, signal) => {
      if (e.type === 'readCapabilities') feed({ type: 'capabilitiesRead', deliveryMethod: 1, hasCancel: true });
      if (e.type === 'pushPackage') {
        for (let i = 1; i <= 100 && !signal.aborted; i++) {
          feed({ type: 'blockProgress', bytes: i * 64, total: 6400 });
          await tick(5);
        }
        aborted = signal.aborted;
      }
    };
    const r = runnerWith(adapt(p));
    await r.begin(newJob());
    await tick(60);
    expect(r.job.state.value).toBe('delivering');
    r.feed({ type: 'cancel' });
    await tick(20);
    expect(r.job.state.value).toBe('cancelling');
    await r.idle();
    expect(aborted).toBe(true);
    const push = p.log.indexOf('perform pushPackage /5/0/0');
    expect(p.log.indexOf('perform executeCancel /5/0/10')).toBeGreaterThan(p.log.indexOf('done pushPackage'));
    expect(push).toBeGreaterThan(0);
    // Progress events were throttled (100 blocks, a few events).
    const progress = p.log.filter((l) => l === 'event updateProgressed').length;
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(10);
    r.close();
  });

  test('timers fire as timedOut: a retry backoff re-probes the device', async () => {
    const p = new FakePort();
    let probes = 0;
    p.answer = (e, feed) => {
      if (e.type === 'readCapabilities') {
        probes++;
        feed({ type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0] });
      }
      if (e.type === 'writePackageUri') feed({ type: 'writeAnswered', write: 'packageUri', code: '2.04' });
    };
    const r = runnerWith(adapt(p));
    await r.begin(newJob());
    await r.idle();
    r.feed({ type: 'resultObserved', result: 4 }); // connection lost: transient → backoff 50 ms
    await r.idle();
    expect(r.job.state).toMatchObject({ value: 'queued', attempt: 2 });
    await tick(120);
    await r.idle();
    expect(probes).toBe(2);
    expect(r.job.state).toMatchObject({ value: 'delivering', attempt: 2 });
    r.close();
  });

  test('a job resumed in updating never executes Update again; close() stops everything', async () => {
    const p = new FakePort();
    const r0 = runnerWith(adapt(p));
    p.answer = (e, feed) => {
      if (e.type === 'readCapabilities') feed({ type: 'capabilitiesRead', deliveryMethod: 2, protocols: [0] });
    };
    await r0.begin(newJob());
    await r0.idle();
    r0.feed({ type: 'writeAnswered', write: 'packageUri', code: '2.04' });
    r0.feed({ type: 'stateObserved', state: 1 });
    r0.feed({ type: 'stateObserved', state: 2 });
    await r0.idle();
    expect(r0.job.state.value).toBe('updating');
    r0.close();
    // "Restart": a new runner from what was stored.
    const stored = p.stored[p.stored.length - 1]!;
    expect(stored.state.value).toBe('updating');
    const q = new FakePort();
    const r = new JobRunner(stored, adapt(q), { config: CONFIG });
    await r.begin(resumeJob(stored, Date.now(), CONFIG));
    await r.idle();
    expect(q.log.filter((l) => l.startsWith('perform'))).toEqual(['perform observe /5/0/3', 'perform observe /5/0/5']);
    r.close();
    r.feed({ type: 'stateObserved', state: 2 });
    await r.idle();
    expect(q.log.some((l) => l.includes('executeUpdate'))).toBe(false);
  });
});

// Effects the runner handles itself never reach the port.
test('timers, events and stopDelivery are not requests', () => {
  const kinds: Array<Effect['type']> = ['setTimer', 'clearTimer', 'scheduleRetry', 'emitEvent', 'stopDelivery'];
  for (const type of kinds) expect(isRequestEffect({ type } as Effect)).toBe(false);
  expect(isRequestEffect({ type: 'executeUpdate', path: PATHS.update, executionId: 'x' })).toBe(true);
});
