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
  /** Remove the registration of an endpoint; resolves false when none was stored. */
  delete(endpoint: string): Promise<boolean>;
  get(endpoint: string): Promise<RegistrationRecord | undefined>;
  getById(registrationId: string): Promise<RegistrationRecord | undefined>;
  /** Every registration, in endpoint order (bytewise, as UTF-8). */
  list(): Promise<RegistrationRecord[]>;
  count(): Promise<number>;
}

export type EventType =
  | 'registered'
  | 'updated'
  | 'deregistered'
  | 'expired'
  | (string & {}); // later subsystems add their own past-tense names

export interface NewEvent {
  readonly type: EventType;
  readonly endpoint?: string;
  /** JSON-serialisable details. */
  readonly data?: Record<string, unknown>;
  /** Epoch ms; the store fills it in when absent. */
  readonly time?: number;
}

export interface StoredEvent {
  /** Strictly increasing, never reused. */
  readonly id: number;
  readonly type: EventType;
  readonly endpoint: string | undefined;
  readonly data: Record<string, unknown>;
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

export interface Store {
  readonly registrations: RegistrationStore;
  readonly events: EventLog;
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
