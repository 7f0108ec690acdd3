/**
 * Storage contracts. The embedded default is SQLite (`SqliteStore`); any other backend
 * must pass the shared contract suite in test/store/contract.ts.
 *
 * Every write resolves only once it is durable (committed). Implementations may group
 * writes issued in the same tick into one transaction (group commit).
 */

/** One LwM2M registration as stored. */
export interface RegistrationRecord {
  /** Server-assigned id, the `<id>` of Location-Path `rd/<id>`. */
  readonly registrationId: string;
  readonly endpoint: string;
  /** The peer address the device last spoke from (its NAT mapping), e.g. `::ffff:192.0.2.1`. */
  readonly address: string;
  readonly port: number;
  /** Lifetime in seconds. */
  readonly lifetime: number;
  /** '1.0', '1.1', '1.2'. */
  readonly lwm2mVersion: string;
  /** Binding mode, e.g. 'U', 'UQ'. */
  readonly binding: string;
  readonly queueMode: boolean;
  readonly smsNumber?: string;
  /** The link-format payload as the device sent it (parsed on demand). */
  readonly links: string;
  /** Epoch ms. */
  readonly registeredAt: number;
  /** Epoch ms of the last register/update; lifetime runs from here. */
  readonly lastSeen: number;
}

export interface RegistrationStore {
  /**
   * Insert or replace the registration of `record.endpoint` (one per endpoint); the
   * replaced registration's id is no longer found. Rejects with ERR_STORE_WRITE when
   * `record.registrationId` belongs to another endpoint or a field has the wrong type.
   * The record must not be mutated until the promise settles.
   */
  put(record: RegistrationRecord): Promise<void>;
  /**
   * `put`, and `event` appended to the event log in the same transaction: both are stored
   * or neither. Resolves with the stored event (as EventLog.append does); rejects as `put`
   * or `append` would, having stored nothing.
   */
  putWithEvent(record: RegistrationRecord, event: NewEvent): Promise<StoredEvent>;
  /** Remove the registration of an endpoint; resolves false when none was stored. */
  delete(endpoint: string): Promise<boolean>;
  get(endpoint: string): Promise<RegistrationRecord | undefined>;
  getById(registrationId: string): Promise<RegistrationRecord | undefined>;
  /** Every registration, in endpoint order (bytewise, as UTF-8). */
  list(): Promise<RegistrationRecord[]>;
  count(): Promise<number>;
}

/**
 * An event's name. The store keeps any name and any JSON object as data: which events exist
 * and what each carries is src/events.ts's EventMap, not the store's business.
 */
export type EventType = string;

/** The JSON-serialisable details of an event, as the store gives them back. */
export type EventData = Readonly<Record<string, unknown>>;

/**
 * An event to append; `data` is any JSON-serialisable object (an interface too: the store
 * does not need an index signature to serialise it). `T` and `D` narrow it for a caller
 * that knows its event names.
 */
export interface NewEvent<T extends string = EventType, D extends object = object> {
  readonly type: T;
  readonly endpoint?: string;
  /** JSON-serialisable details. */
  readonly data?: D;
  /** Epoch ms; the store fills it in when absent. */
  readonly time?: number;
}

/** An event as stored; `T` and `D` narrow it for a caller that knows its event names. */
export interface StoredEvent<T extends string = EventType, D extends object = EventData> {
  /** Strictly increasing, never reused. */
  readonly id: number;
  readonly type: T;
  readonly endpoint: string | undefined;
  readonly data: D;
  readonly time: number;
}

export interface EventLog {
  /**
   * Resolves once the event is durable; its `data` is the object passed in (readers get
   * its JSON round trip). Rejects with ERR_STORE_WRITE when `data` is not JSON-serialisable.
   */
  append(event: NewEvent): Promise<StoredEvent>;
  /** Events with id > `afterId`, oldest first, at most `limit` (default 1000). */
  since(afterId: number, limit?: number): Promise<StoredEvent[]>;
  /** Id of the newest event, 0 when empty. */
  lastId(): Promise<number>;
}

/**
 * A firmware update job as stored: who, what, the update machine's state and its
 * history. The store treats `state` and `history` as opaque JSON (src/fota/update gives
 * them their types); it only indexes `state.value` and `finishedAt`.
 */
export interface UpdateJobRecord {
  /** Unique, chosen by the caller. */
  readonly id: string;
  readonly endpoint: string;
  /** The firmware's id (SHA-256 hex of the envelope). */
  readonly firmwareId: string;
  /** The firmware version (/3/0/3) the manifest announces. */
  readonly expectedVersion: string;
  /** The operator's choice of delivery; absent = chosen from /5/0/9. */
  readonly method?: 'pull' | 'push';
  /** Deliver the manifest's payload alone, for devices that do not speak SUIT. */
  readonly payloadOnly: boolean;
  /** The package's URI per scheme ('coap', 'coaps' …), for pull. */
  readonly packageUris?: Readonly<Record<string, string>>;
  /** What confirms success ('firmwareVersion', 'pkgVersion', 'result'); absent = /3/0/3. */
  readonly confirm?: 'firmwareVersion' | 'pkgVersion' | 'result';
  /** This job's contact timeout in ms (0 = wait for ever); absent = the server's. */
  readonly contactTimeout?: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms of the last put. */
  readonly updatedAt: number;
  /**
   * Epoch ms when the job reached a final state. A job without it is *active*; an
   * endpoint has at most one active job.
   */
  readonly finishedAt?: number;
  /** JSON-serialisable; `value` names the state ('queued', 'delivering' … 'failed'). */
  readonly state: { readonly value: string; readonly [key: string]: unknown };
  /** JSON-serialisable entries, oldest first. */
  readonly history: readonly object[];
}

export interface UpdateJobStore {
  /**
   * Inserts the job, or replaces the stored job with the same id; resolves once committed.
   * A job's endpoint never changes. Rejects with ERR_STORE_WRITE — and stores nothing of
   * this job, while the other writes of the same group commit go ahead — when another
   * active job (no `finishedAt`) exists for the endpoint (context `reason:
   * 'activeJobExists'`), when the id belongs to a job of another endpoint, or when a field
   * has the wrong type or is not JSON-serialisable. The record must not be mutated until
   * the promise settles.
   */
  put(job: UpdateJobRecord): Promise<void>;
  get(id: string): Promise<UpdateJobRecord | undefined>;
  /** The endpoint's active job, if any. */
  getActiveByEndpoint(endpoint: string): Promise<UpdateJobRecord | undefined>;
  /** Every active job, oldest first (what a restarted server resumes). */
  listActive(): Promise<UpdateJobRecord[]>;
  /** The endpoint's jobs, newest first, at most `limit` (default 100). */
  listByEndpoint(endpoint: string, limit?: number): Promise<UpdateJobRecord[]>;
  /** All jobs, newest first, at most `limit` (default 100). */
  listRecent(limit?: number): Promise<UpdateJobRecord[]>;
}

/**
 * A live LwM2M observation as stored: enough to re-attach the device's notifications
 * after a restart (token) and to decode them (paths, format).
 */
export interface ObservationRecord {
  /** The CoAP token, lowercase hex; also the observation's id. */
  readonly token: string;
  readonly endpoint: string;
  /** The registration the observation belongs to: a new registration ends it. */
  readonly registrationId: string;
  /** 'single': Observe on one path (GET); 'composite': Observe-Composite (FETCH). */
  readonly kind: 'single' | 'composite';
  /** Observed paths ("/3/0/9"); exactly one for 'single'. */
  readonly paths: readonly string[];
  /** The Content-Format asked for (Accept), if any. */
  readonly format?: number;
  /** Epoch ms. */
  readonly createdAt: number;
}

export interface ObservationStore {
  /** Inserts or replaces the observation with `record.token`. */
  put(record: ObservationRecord): Promise<void>;
  /** Resolves false when no such observation was stored. */
  delete(token: string): Promise<boolean>;
  /** Removes every observation of the endpoint; resolves with how many. */
  deleteByEndpoint(endpoint: string): Promise<number>;
  get(token: string): Promise<ObservationRecord | undefined>;
  /** Every observation, oldest first. */
  list(): Promise<ObservationRecord[]>;
  listByEndpoint(endpoint: string): Promise<ObservationRecord[]>;
}

/** 'queued' and 'sending' are pending; the others are final. */
export type DeviceRequestState = 'queued' | 'sending' | 'completed' | 'failed' | 'cancelled';

/** A request for a (queue-mode) device, persisted until it has been answered. */
export interface DeviceRequestRecord {
  /** Unique, chosen by the caller. */
  readonly id: string;
  readonly endpoint: string;
  readonly state: DeviceRequestState;
  /** The request as JSON (`operation`, `path` …), opaque to the store. */
  readonly request: { readonly operation: string; readonly [key: string]: unknown };
  /** How many times it was sent without an answer. */
  readonly attempts: number;
  /** The device's answer as JSON, once completed. */
  readonly result?: Readonly<Record<string, unknown>>;
  /** Why it failed (code and message), once failed. */
  readonly error?: { readonly code: string; readonly message: string };
  /** Epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface DeviceRequestStore {
  /**
   * Inserts the request (it joins the end of its endpoint's queue) or replaces the stored
   * one with the same id (its place in the queue stays). Rejects with ERR_STORE_WRITE when
   * the id belongs to another endpoint or a field has the wrong type.
   */
  put(record: DeviceRequestRecord): Promise<void>;
  get(id: string): Promise<DeviceRequestRecord | undefined>;
  /** The endpoint's pending requests ('queued', 'sending'), in queue order. */
  listPending(endpoint: string): Promise<DeviceRequestRecord[]>;
  /** Endpoints that have pending requests. */
  pendingEndpoints(): Promise<string[]>;
  /** The endpoint's requests, newest first, at most `limit` (default 100). */
  listByEndpoint(endpoint: string, limit?: number): Promise<DeviceRequestRecord[]>;
}

/**
 * One accepted firmware (a verified SUIT envelope) as stored. The store indexes the listed
 * fields; `details` is the repository's JSON, opaque here (src/fota/firmware types it).
 */
export interface StoredFirmwareRecord {
  /** SHA-256 of the envelope, 64 lowercase hex digits. */
  readonly id: string;
  /** Envelope size in bytes. */
  readonly size: number;
  /** The manifest's sequence number, decimal (uint64 fits). */
  readonly sequenceNumber: string;
  readonly version?: string;
  readonly vendorId?: string;
  readonly classId?: string;
  /** SHA-256 hex digests of the image files this firmware keeps in the data directory. */
  readonly blobs: readonly string[];
  readonly details: Readonly<Record<string, unknown>>;
  /** Epoch ms. */
  readonly addedAt: number;
}

export interface FirmwareStore {
  /** Inserts or replaces the record with `record.id`; ERR_STORE_WRITE when a field has the wrong type. */
  put(record: StoredFirmwareRecord): Promise<void>;
  /** Resolves false when no such firmware was stored. */
  delete(id: string): Promise<boolean>;
  get(id: string): Promise<StoredFirmwareRecord | undefined>;
  /** Every firmware, oldest first. */
  list(): Promise<StoredFirmwareRecord[]>;
}

export interface Store {
  readonly registrations: RegistrationStore;
  readonly events: EventLog;
  readonly jobs: UpdateJobStore;
  readonly observations: ObservationStore;
  readonly requests: DeviceRequestStore;
  readonly firmware: FirmwareStore;
  /**
   * Commits what is pending and closes; later calls fail with ERR_STORE_CLOSED. Closing
   * again resolves and does nothing.
   */
  close(): Promise<void>;
}

export interface SqliteStoreOptions {
  /** Path of the SQLite file (created with its directory when missing). */
  readonly file: string;
  /** PRAGMA synchronous (default 'FULL' for durability of every commit). */
  readonly synchronous?: 'OFF' | 'NORMAL' | 'FULL';
}
