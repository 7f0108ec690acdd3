/**
 * The event map, at compile time and at run time.
 *
 * The `@ts-expect-error` lines below are what the map must refuse: `npm run typecheck`
 * (tsc over test/) fails when one of them compiles, i.e. when the bus stops catching an
 * unknown name or a wrong data shape. Jest only transpiles them (isolatedModules); at run
 * time they are never executed (`never()` is not called).
 */
import { EventBus, isEvent, newEvent, type EventMap, type EventName, type TypedEvent, type UpdateDeliveryMethod, type UpdateEventName, type UpdateFailureReason, type UpdateJobStateName } from '../src/events';
import type { DeliveryMethodName, FailureReason, JobStateValue } from '../src/fota/update';
import type { EventJson } from '../src/index';
import { openSqliteStore, type SqliteStore } from '../src/store';
import type { RegistrationRecord } from '../src/store';
import { event } from '../src/fota/update/machine/builder';
import type { Job, MachineContext, UpdateEventType } from '../src/fota/update';
import type { JobRunnerPort } from '../src/fota/update/runner';
import { tempDir } from './helpers/tmp';

/** True only when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// The update vocabulary of src/events.ts mirrors src/fota/update's own (events sits below fota).
const sameStates: Equal<UpdateJobStateName, JobStateValue> = true;
const sameReasons: Equal<UpdateFailureReason, FailureReason> = true;
const sameMethods: Equal<UpdateDeliveryMethod, DeliveryMethodName> = true;
// "updated" is a registration event, not an update job's.
const updateNames: Equal<Extract<UpdateEventName, 'updated'>, never> = true;

/** Publishes that must not compile; never run. */
function never(bus: EventBus): void {
  // @ts-expect-error an unknown name (the old, present-tense one)
  void bus.publish({ type: 'updateDelivering', endpoint: 'dev', data: { jobId: 'j', firmwareId: 'f', from: 'queued', to: 'delivering', attempt: 1 } });
  // @ts-expect-error a name the map does not have at all
  void bus.publish({ type: 'somethingHappened', data: {} });
  // @ts-expect-error a wrong data shape: lastSeen is ISO 8601 text, not a number
  void bus.publish({ type: 'expired', endpoint: 'dev', data: { registrationId: 'r', lastSeen: 1, lifetime: 60 } });
  // @ts-expect-error a data shape that lacks a field
  void bus.publish({ type: 'deregistered', endpoint: 'dev', data: {} });
  // @ts-expect-error the data of another event
  void bus.publish({ type: 'firmwareRemoved', data: { registrationId: 'r' } });
  // @ts-expect-error a field the event does not have
  void bus.publish({ type: 'deregistered', data: { registrationId: 'r', reason: 'gone' } });
  // @ts-expect-error a state name that does not exist
  void bus.publish({ type: 'updateProgressed', data: { jobId: 'j', firmwareId: 'f', state: 'uploading', method: 'push', attempt: 1, bytes: 1, elapsedMs: 1 } });
  // @ts-expect-error newEvent (for putWithEvent) checks as publish does
  newEvent({ type: 'registered', endpoint: 'dev', data: { registrationId: 'r' } });
  bus.subscribe((e) => {
    if (e.type === 'deregistered') {
      // @ts-expect-error a deregistered event has no lifetime
      void e.data.lifetime;
    }
  });
}

// Every event the machine emits is a name of the map.
const machineNames: Equal<Extract<UpdateEventType, EventName>, UpdateEventType> = true;

/** The update machine and the runner's port publish through the map too; never run. */
function neverFromTheMachine(ctx: MachineContext, port: JobRunnerPort, job: Job): void {
  // @ts-expect-error the machine emits only the map's names
  event('updateDelivering', ctx, { from: 'queued', to: 'delivering', attempt: 1 });
  // @ts-expect-error updateFailed needs its reason
  event('updateFailed', ctx, { from: 'updating', to: 'failed', attempt: 1 });
  // @ts-expect-error the data of another event (updateSucceeded carries the version, to: 'succeeded')
  event('updateSucceeded', ctx, { from: 'verifying', to: 'failed', attempt: 1, version: '2.0.0' });
  // @ts-expect-error the runner's port takes the map's data for the name
  port.publish(job, 'updateProgressed', { jobId: 'j', firmwareId: 'f', state: 'delivering', method: 'push', attempt: 1, bytes: '1', elapsedMs: 1 });
  // A correct one compiles.
  event('updateSucceeded', ctx, { from: 'verifying', to: 'succeeded', attempt: 1, version: '2.0.0' });
}
void neverFromTheMachine;
void machineNames;

describe('the event map', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let bus: EventBus;

  beforeEach(() => {
    tmp = tempDir();
    store = openSqliteStore({ file: `${tmp.dir}/events.sqlite` });
    bus = new EventBus(store.events);
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  it('refuses unknown names and wrong shapes at compile time (see the @ts-expect-error lines)', () => {
    expect([sameStates, sameReasons, sameMethods, updateNames]).toEqual([true, true, true, true]);
    expect(typeof never).toBe('function');
  });

  it('publishes typed events and reads them back, live and from the log, with their data', async () => {
    const live: TypedEvent[] = [];
    bus.subscribe((e) => live.push(e));
    const expired = await bus.publish({ type: 'expired', endpoint: 'dev-1', time: 1000, data: { registrationId: 'r1', lastSeen: '1970-01-01T00:00:00.500Z', lifetime: 60 } });
    // The resolved event is typed by its name: no narrowing needed.
    expect(expired.data.lastSeen).toBe('1970-01-01T00:00:00.500Z');
    await bus.publish({
      type: 'updateProgressed',
      endpoint: 'dev-1',
      data: { jobId: 'j1', firmwareId: 'f'.repeat(64), state: 'delivering', method: 'push', attempt: 1, bytes: 512, total: 2048, blockSize: 256, elapsedMs: 40 },
    });
    await bus.publish({ type: 'firmwareRemoved', data: { id: 'a'.repeat(64), version: null, sequenceNumber: '18446744073709551615' } });

    const logged = await bus.since(0);
    expect(logged.map((e) => e.type)).toEqual(['expired', 'updateProgressed', 'firmwareRemoved']);
    expect(live).toEqual(logged.map((e) => ({ ...e, endpoint: e.endpoint })));
    const [, progress, removed] = logged;
    expect(progress !== undefined && isEvent(progress, 'updateProgressed') ? progress.data.bytes / (progress.data.total ?? 0) : NaN).toBe(0.25);
    expect(removed).toMatchObject({ type: 'firmwareRemoved', endpoint: undefined, data: { version: null, sequenceNumber: '18446744073709551615' } });
    // Narrowing on `type` gives each event's own data.
    const described = logged.map((e) => {
      switch (e.type) {
        case 'expired':
          return `${e.endpoint ?? ''} expired after ${e.data.lifetime} s`;
        case 'updateProgressed':
          return `${e.data.jobId} ${e.data.method} ${e.data.bytes}/${e.data.total ?? '?'}`;
        case 'firmwareRemoved':
          return `removed ${e.data.id.slice(0, 8)}`;
        default:
          return e.type;
      }
    });
    expect(described).toEqual(['dev-1 expired after 60 s', 'j1 push 512/2048', 'removed aaaaaaaa']);
  });

  it('types an event a store commits together with other data (newEvent, then deliver)', async () => {
    const seen: TypedEvent<'registered'>[] = [];
    bus.subscribe((e) => {
      if (isEvent(e, 'registered')) seen.push(e);
    });
    const rec: RegistrationRecord = {
      endpoint: 'dev-2',
      registrationId: 'r2',
      address: '127.0.0.1',
      port: 5683,
      lifetime: 300,
      lwm2mVersion: '1.1',
      binding: 'U',
      queueMode: false,
      links: '</3/0>',
      registeredAt: 0,
      lastSeen: 0,
    };
    const data: EventMap['registered'] = { registrationId: 'r2', address: '127.0.0.1', port: 5683, lifetime: 300, lwm2mVersion: '1.1', binding: 'U', replaced: undefined };
    const stored = await store.registrations.putWithEvent(rec, newEvent({ type: 'registered', endpoint: 'dev-2', data }));
    bus.deliver(stored);
    expect(seen.map((e) => [e.type, e.data.port, 'replaced' in e.data])).toEqual([['registered', 5683, true]]);
    // The log keeps JSON: an undefined field is left out.
    const [back] = await bus.since(0);
    expect(back !== undefined && isEvent(back, 'registered') ? Object.keys(back.data) : []).toEqual(['registrationId', 'address', 'port', 'lifetime', 'lwm2mVersion', 'binding']);
  });

  it('names every event of the REST stream with its data (EventJson)', () => {
    const wire: EventJson = JSON.parse(
      '{"id":7,"type":"updateRetryScheduled","endpoint":"dev","time":"1970-01-01T00:00:01.000Z","data":{"jobId":"j","firmwareId":"f","from":"delivering","to":"queued","attempt":2,"explanation":"lost","reason":"lostContact","retryAt":31000}}',
    ) as EventJson;
    const names: EventName[] = [];
    if (wire.type === 'updateRetryScheduled') names.push(wire.data.reason === 'lostContact' ? wire.type : 'updateFailed');
    expect(names).toEqual(['updateRetryScheduled']);
  });
});
