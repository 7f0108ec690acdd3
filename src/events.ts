/**
 * The server's events: one map from every event name to the data it carries, and the bus
 * that appends them to the durable log and hands them to live subscribers.
 *
 * The names are past tense (what happened: `updateDeliveryStarted`, not `updateDelivering`).
 * The data shapes are what the REST event stream (`/api/events`) sends and what the event log
 * keeps: an operator contract, so a change here is a change of the wire format.
 *
 * This module sits below `fota`: it imports types from `store` and `lwm2m` only. The update
 * vocabulary (job states, failure reasons, delivery methods) is therefore spelled here as
 * literal unions; test/events-typecheck.test.ts fails to compile when it drifts from
 * `src/fota/update`'s own types.
 */
import type { ResponseJson, RequestJson } from './lwm2m/server/requests/json';
import type { NodeJson } from './lwm2m/server/requests/node-json';
import type { ObservationEndReason } from './lwm2m/server/observations/observations';
import type { DeviceRequestState, EventLog, NewEvent, ObservationRecord, StoredEvent } from './store/types';

// ---------------------------------------------------------------------------------------
// Registrations (src/lwm2m/server/registration)

/** A Register: a new registration of the endpoint (after a boot, or a first contact). */
export interface RegisteredEventData {
  registrationId: string;
  address: string;
  port: number;
  lifetime: number;
  lwm2mVersion: string;
  binding: string;
  /**
   * The registration id this one replaces, when the endpoint was registered already
   * (undefined otherwise: the key stays for one object shape per event, JSON leaves it out).
   */
  replaced?: string | undefined;
}

/** A Registration Update: only the fields that changed are present. */
export interface UpdatedEventData {
  registrationId: string;
  address?: string;
  port?: number;
  lifetime?: number;
  binding?: string;
  queueMode?: boolean;
  smsNumber?: string;
  /** The new object links (`/3/0`, `</5>;ver=1.1` …), when the update carried a payload. */
  objectLinks?: string[];
}

export interface DeregisteredEventData {
  registrationId: string;
}

/** The registration's lifetime passed without an update. */
export interface ExpiredEventData {
  registrationId: string;
  /** ISO 8601. */
  lastSeen: string;
  lifetime: number;
}

// ---------------------------------------------------------------------------------------
// Queued device requests (src/lwm2m/server/requests/request-queue.ts)

/** What every request event carries. */
export interface RequestEventBase {
  requestId: string;
  operation: string;
  state: DeviceRequestState;
}

export interface RequestQueuedEventData extends RequestEventBase {
  request: RequestJson;
}

/** The operator cancelled a request before it went out. */
export type RequestCancelledEventData = RequestEventBase;

export interface RequestCompletedEventData extends RequestEventBase {
  /** The device's answer. */
  result: ResponseJson;
}

export interface RequestFailedEventData extends RequestEventBase {
  error: { code: string; message: string };
}

// ---------------------------------------------------------------------------------------
// Observations and Send (src/lwm2m/server)

export interface ObservationStartedEventData {
  observationId: string;
  kind: ObservationRecord['kind'];
  paths: string[];
  format?: number;
}

export interface ObservationCancelledEventData {
  observationId: string;
  paths: string[];
  reason: ObservationEndReason;
  /** The CoAP code of the notification that ended it (reason 'device'). */
  code?: string;
}

/** A notification: the answer as JSON (without `operation`), its Observe sequence number. */
export interface NotifiedEventData extends Omit<ResponseJson, 'operation'> {
  observationId: string;
  sequence?: number;
  /** The notification did not decode. */
  error?: { code: string; message: string };
}

/** A LwM2M Send (`/dp`) from the device. */
export interface DataSentEventData {
  format: number;
  formatName: string;
  entries: Array<{ path: string; content: NodeJson }>;
}

// ---------------------------------------------------------------------------------------
// The firmware repository (src/fota/firmware)

export interface FirmwareAddedEventData {
  id: string;
  version: string | null;
  /** Number when it fits in a double exactly, else decimal text. */
  sequenceNumber: number | string;
  vendorId: string | null;
  classId: string | null;
  size: number;
  uri: string;
  /** The raw payload's URI, when the repository stores it. */
  payloadUri: string | null;
}

export interface FirmwareRemovedEventData {
  id: string;
  version: string | null;
  sequenceNumber: number | string;
}

// ---------------------------------------------------------------------------------------
// Update jobs (src/fota/update)

/** A job's state name (mirrors `JobStateValue` of src/fota/update). */
export type UpdateJobStateName =
  | 'queued'
  | 'delivering'
  | 'downloaded'
  | 'updating'
  | 'rebooting'
  | 'verifying'
  | 'cancelling'
  | 'succeeded'
  | 'failed'
  | 'cancelled';

/** How the package travels (mirrors `DeliveryMethodName` of src/fota/update). */
export type UpdateDeliveryMethod = 'pull' | 'push';

/** Why a job failed (mirrors `FailureReason` of src/fota/update). */
export type UpdateFailureReason =
  // from the device's Update Result
  | 'notEnoughFlash'
  | 'outOfMemory'
  | 'connectionLost'
  | 'integrityCheckFailed'
  | 'unsupportedPackage'
  | 'invalidUri'
  | 'updateFailed'
  | 'unsupportedProtocol'
  | 'cancelledByDevice'
  | 'deferred'
  // concluded by the server
  | 'timeout'
  | 'lostContact'
  | 'deviceReset'
  | 'versionMismatch'
  | 'unconfirmed'
  | 'deliveryRejected'
  | 'updateRejected'
  | 'unsupportedDelivery'
  | 'unknownResult'
  | 'retriesExhausted'
  | 'deviceUnreachable'
  | 'notRebooted'
  | 'stubFirmwareObject'
  | 'cancelled';

/** What every update event carries. */
export interface UpdateEventBase {
  jobId: string;
  firmwareId: string;
  /** The delivery method, whenever the job's state has one. */
  method?: UpdateDeliveryMethod;
}

/** A job was created (its first state, `queued`). */
export interface UpdateQueuedEventData extends UpdateEventBase {
  to: 'queued';
  attempt: number;
  /** /3/0/3 the manifest announces. */
  expectedVersion: string;
}

/** A job moved from one state to `To` (or started another attempt). */
export interface UpdateTransitionEventData<To extends UpdateJobStateName> extends UpdateEventBase {
  from: UpdateJobStateName;
  to: To;
  attempt: number;
  updateResult?: number;
  /** One sentence for the operator. */
  explanation?: string;
  note?: string;
}

/** A transient failure: the next attempt starts after a backoff. */
export interface UpdateRetryScheduledEventData extends UpdateTransitionEventData<'queued'> {
  reason: UpdateFailureReason;
  explanation: string;
  /** Epoch ms. */
  retryAt: number;
}

export type UpdateDeliveryStartedEventData = UpdateTransitionEventData<'delivering'>;
export type UpdateDownloadedEventData = UpdateTransitionEventData<'downloaded'>;
/** Update (/5/0/2) is being sent. */
export type UpdateExecutedEventData = UpdateTransitionEventData<'updating'>;
/** The device accepted Update; it installs and reboots. */
export type UpdateAcceptedEventData = UpdateTransitionEventData<'rebooting'>;
/** The device registered again; the server checks Update Result and /3/0/3. */
export type UpdateVerificationStartedEventData = UpdateTransitionEventData<'verifying'>;
export type UpdateCancelRequestedEventData = UpdateTransitionEventData<'cancelling'>;

export interface UpdateSucceededEventData extends UpdateTransitionEventData<'succeeded'> {
  /** /3/0/3 now. */
  version: string;
}

export interface UpdateFailedEventData extends UpdateTransitionEventData<'failed'> {
  reason: UpdateFailureReason;
  /** For 'retriesExhausted': the reason of the last attempt's failure. */
  lastReason?: UpdateFailureReason;
}

export type UpdateCancelledEventData = UpdateTransitionEventData<'cancelled'>;

/** Bytes delivered so far (at most one per progress interval; the last value is never lost). */
export interface UpdateProgressedEventData extends UpdateEventBase {
  state: 'delivering' | 'downloaded';
  method: UpdateDeliveryMethod;
  attempt: number;
  bytes: number;
  total?: number;
  /** Push: the block size in use. */
  blockSize?: number;
  /** Since the delivery started. */
  elapsedMs: number;
}

/** The server restarted and took the job up again. */
export interface UpdateResumedEventData extends UpdateEventBase {
  state: UpdateJobStateName;
  attempt: number;
}

/** A device report that breaks object 5's rules, or an input that came too late. */
export interface UpdateAnomalyRecordedEventData extends UpdateEventBase {
  state: UpdateJobStateName;
  attempt: number;
  /** The input, summarised (e.g. 'resultObserved 5'). */
  input: string;
  note: string;
  updateResult?: number;
}

// ---------------------------------------------------------------------------------------
// The map

/** Every event the server emits, by name, with its data. */
export interface EventMap {
  registered: RegisteredEventData;
  updated: UpdatedEventData;
  deregistered: DeregisteredEventData;
  expired: ExpiredEventData;

  requestQueued: RequestQueuedEventData;
  requestCancelled: RequestCancelledEventData;
  requestCompleted: RequestCompletedEventData;
  requestFailed: RequestFailedEventData;

  observationStarted: ObservationStartedEventData;
  observationCancelled: ObservationCancelledEventData;
  notified: NotifiedEventData;
  dataSent: DataSentEventData;

  firmwareAdded: FirmwareAddedEventData;
  firmwareRemoved: FirmwareRemovedEventData;

  updateQueued: UpdateQueuedEventData;
  updateRetryScheduled: UpdateRetryScheduledEventData;
  updateDeliveryStarted: UpdateDeliveryStartedEventData;
  updateProgressed: UpdateProgressedEventData;
  updateDownloaded: UpdateDownloadedEventData;
  updateExecuted: UpdateExecutedEventData;
  updateAccepted: UpdateAcceptedEventData;
  updateVerificationStarted: UpdateVerificationStartedEventData;
  updateCancelRequested: UpdateCancelRequestedEventData;
  updateSucceeded: UpdateSucceededEventData;
  updateFailed: UpdateFailedEventData;
  updateCancelled: UpdateCancelledEventData;
  updateResumed: UpdateResumedEventData;
  updateAnomalyRecorded: UpdateAnomalyRecordedEventData;
}

/** Every event name the server emits. */
export type EventName = keyof EventMap;

/** The names of the update job's events (those whose data has a `jobId`). */
export type UpdateEventName = { [K in EventName]: EventMap[K] extends { jobId: string } ? K : never }[EventName];

/**
 * An event to publish, typed by its name: `{ type: 'expired', endpoint, data: { … } }`.
 * A union over `K`, so a name and a data shape of two different events do not mix.
 */
export type EventInput<K extends EventName = EventName> = {
  [N in K]: { readonly type: N; readonly endpoint?: string; readonly data: EventMap[N]; readonly time?: number };
}[K];

type StoredEvents = { [N in EventName]: StoredEvent<N, EventMap[N]> }[EventName];
type JsonEvents = {
  [N in EventName]: { readonly id: number; readonly type: N; readonly endpoint?: string; readonly time: string; readonly data: EventMap[N] };
}[EventName];

/**
 * A stored event, typed by its name: narrow on `type` to get its data. (An Extract of the
 * whole union, so that `TypedEvent<K>` of a generic `K` is still a `TypedEvent`.)
 */
export type TypedEvent<K extends EventName = EventName> = Extract<StoredEvents, { readonly type: K }>;

/** One event as the REST event stream (`/api/events`) sends it: `time` in ISO 8601. */
export type EventJson<K extends EventName = EventName> = Extract<JsonEvents, { readonly type: K }>;

/** A live subscriber of the bus. */
export type EventListener = (event: TypedEvent) => void;

/** Whether `event` is one of `types`, narrowing it: `isEvent(e, 'updateFailed')` gives `e.data.reason`. */
export function isEvent<K extends EventName>(event: TypedEvent, ...types: readonly K[]): event is TypedEvent<K> {
  return (types as readonly string[]).includes(event.type);
}

/**
 * The storage form of a typed event, for a store that commits it together with other data
 * (RegistrationStore.putWithEvent); give the stored event to {@link EventBus.deliver}.
 */
export function newEvent<K extends EventName>(event: EventInput<K>): NewEvent {
  return event;
}

/**
 * The log's events as the map types them. Only typed events go in (publish, newEvent), so
 * what comes back out has the shape its name says; the store itself keeps plain JSON.
 */
function typed(stored: StoredEvent): TypedEvent {
  return stored as unknown as TypedEvent;
}

/**
 * The server's event stream: every event is appended to the durable event log first and
 * only then delivered to live subscribers (the REST event stream, the CLI, tests), so a
 * subscriber never sees an event that a crash could take back.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly log: EventLog) {}

  /** Appends and, once committed, notifies subscribers. Resolves with the stored event. */
  publish<K extends EventName>(event: EventInput<K>): Promise<TypedEvent<K>> {
    return this.log.append(newEvent(event)).then((stored) => {
      this.deliver(stored);
      return typed(stored) as TypedEvent<K>;
    });
  }

  /**
   * Notifies subscribers of an event that is already durable in the log — one a store
   * committed together with other data (RegistrationStore.putWithEvent), made with
   * {@link newEvent}.
   */
  deliver(stored: StoredEvent): void {
    const event = typed(stored);
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A subscriber's failure is its own; it must not stop the others or the publisher.
      }
    }
  }

  /** Live events from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Events with id > `afterId`, oldest first. Typed as the map says, though a log written
   * by an earlier version may still hold names renamed since (`updateDelivering` …).
   */
  since(afterId: number, limit?: number): Promise<TypedEvent[]> {
    return this.log.since(afterId, limit) as unknown as Promise<TypedEvent[]>;
  }

  lastId(): Promise<number> {
    return this.log.lastId();
  }
}
