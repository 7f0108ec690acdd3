/**
 * The embedded default store: one SQLite file (WAL mode) in the data directory.
 *
 * Writes are group-committed: every write issued in the same turn of the event loop joins
 * one batch, which goes to the writer thread (sqlite-writer.ts) from a `setImmediate`
 * callback and runs there as one transaction on the writer's own connection; each write's
 * promise settles only after that transaction committed (or rolled back) and — with
 * `synchronous = FULL`, the default — after the write-ahead log holding it was flushed to
 * disk, so it survives power loss; with NORMAL it survives a process crash only. The main
 * thread spends no time in SQLite's write path nor waiting for the disk.
 *
 * Reads run at once, on this thread's connection, on committed data: a read issued after
 * a write's promise resolved sees that write; a read issued while the write is still
 * pending does not.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import Database from 'better-sqlite3';

import { Lwm2mFotaError } from '../errors';
import { applyMigrations, checkSchema } from './migrations';
import { createDeviceTables } from './sqlite-device-tables';
import { createFirmwareTable } from './sqlite-firmware-table';
import { ALONE, type AloneFailure, COALESCE, MUST_CHANGE, RESULT_CHANGED, RESULT_CHANGES, RESULT_NONE, RESULT_ROWID, SqliteWriter, type WriterReply } from './sqlite-writer';
import type {
  DeviceRequestStore,
  EventData,
  EventLog,
  FirmwareStore,
  NewEvent,
  ObservationStore,
  RegistrationRecord,
  RegistrationStore,
  SqliteStoreOptions,
  Store,
  StoredEvent,
  UpdateJobRecord,
  UpdateJobStore,
} from './types';

const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL'] as const;

/** Kinds of queued write, for settling them on this thread. */
const PUT = 0;
const DELETE = 1;
const APPEND = 2;
const JOB_PUT = 3;
/** A write of another table's store (sqlite-device-tables.ts), run in a savepoint of its own. */
const WRITE = 4;

type Resolve = (value: never) => void;
type Reject = (reason: unknown) => void;

/**
 * The writes of one group commit: `ops` as the writer thread reads them (sqlite-writer.ts),
 * and parallel arrays for settling them here, so that a write costs a few array slots
 * rather than an object of its own. `put` needs no result, so all puts of a batch share
 * one promise.
 */
class Batch {
  readonly ops: unknown[] = [];
  readonly kinds: number[] = [];
  /** APPEND: the NewEvent; JOB_PUT: its JobColumns; WRITE: what builds its 'unchanged' error. */
  readonly args: unknown[] = [];
  readonly resolves: (Resolve | undefined)[] = [];
  readonly rejects: (Reject | undefined)[] = [];
  putPromise: Promise<void> | undefined;
  putResolve: (() => void) | undefined;
  putReject: Reject | undefined;
}

/** What a table write answers (sqlite-device-tables.ts, sqlite-firmware-table.ts). */
export type WriteResult = 'none' | 'changed' | 'changes';

/**
 * How a table of the store writes: statements are registered once, then each write queues
 * one execution for the next group commit, in a savepoint of its own (a failing write is
 * rejected alone). `unchanged`, when given, makes a write that changes no row fail with
 * that error.
 */
export interface GroupWriter {
  statement(sql: string): number;
  write<T>(statement: number, params: unknown[], result: WriteResult, unchanged?: () => Lwm2mFotaError): Promise<T>;
}

interface RegistrationRow {
  endpoint: string;
  registration_id: string;
  address: string;
  port: number;
  lifetime: number;
  lwm2m_version: string;
  binding: string;
  queue_mode: number;
  sms_number: string | null;
  links: string;
  registered_at: number;
  last_seen: number;
}

interface EventRow {
  id: number;
  time: number;
  type: string;
  endpoint: string | null;
  data: string | null;
}

interface JobRow {
  id: string;
  endpoint: string;
  firmware_id: string;
  value: string;
  state: string;
  history: string;
  spec: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** A job put, serialised when it is issued: later mutation of the record does not leak in. */
type JobColumns = [
  id: string,
  endpoint: string,
  firmwareId: string,
  value: string,
  state: string,
  history: string,
  spec: string,
  createdAt: number,
  updatedAt: number,
  finishedAt: number | null,
];

const JOB_COLUMNS = 'id, endpoint, firmware_id, value, state, history, spec, created_at, updated_at, finished_at';

const REGISTRATION_COLUMNS =
  'endpoint, registration_id, address, port, lifetime, lwm2m_version, binding, queue_mode, sms_number, links, registered_at, last_seen';

/**
 * Opens (creating file and directory when missing) and migrates the SQLite store.
 *
 * @example
 * const store = openSqliteStore({ file: 'data/lwm2m-fota.db' });
 * await store.registrations.put(record);
 * await store.close();
 *
 * @throws Lwm2mFotaError ERR_STORE_OPEN when the directory or file cannot be opened, the
 *   file is not an SQLite database (or not one of ours), or a migration fails;
 *   ERR_STORE_SCHEMA when the database was written by a newer schema than this build knows.
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}

export class SqliteStore implements Store {
  /** Absolute path of the database file. */
  readonly file: string;
  /** Schema version of the open database (the newest this build knows). */
  readonly schemaVersion: number;
  readonly registrations: RegistrationStore;
  readonly events: EventLog;
  readonly jobs: UpdateJobStore;
  readonly observations: ObservationStore;
  readonly requests: DeviceRequestStore;
  readonly firmware: FirmwareStore;

  readonly #db: Database.Database;
  #closed = false;
  readonly #writer: SqliteWriter;
  /** Batches sent to the writer and not answered yet. */
  readonly #inFlight = new Set<Promise<void>>();
  #batch: Batch | undefined;
  #immediate: NodeJS.Immediate | undefined;
  readonly #flush = (): void => this.#commitBatch();

  readonly #putStmt: number;
  readonly #deleteStmt: number;
  readonly #appendStmt: number;
  readonly #jobPutStmt: number;
  readonly #getStmt: Database.Statement<[string], RegistrationRow>;
  readonly #getByIdStmt: Database.Statement<[string], RegistrationRow>;
  readonly #listStmt: Database.Statement<[], RegistrationRow>;
  readonly #countStmt: Database.Statement<[], number>;
  readonly #sinceStmt: Database.Statement<[number, number], EventRow>;
  readonly #lastIdStmt: Database.Statement<[], number | null>;
  readonly #jobGetStmt: Database.Statement<[string], JobRow>;
  readonly #jobActiveStmt: Database.Statement<[string], JobRow>;
  readonly #jobListActiveStmt: Database.Statement<[], JobRow>;
  readonly #jobByEndpointStmt: Database.Statement<[string, number], JobRow>;
  readonly #jobRecentStmt: Database.Statement<[number], JobRow>;

  /** Use {@link openSqliteStore}. */
  constructor(options: SqliteStoreOptions) {
    const synchronous = options.synchronous ?? 'FULL';
    if (!SYNCHRONOUS.includes(synchronous)) {
      throw new Lwm2mFotaError('ERR_STORE_OPEN', `synchronous must be one of ${SYNCHRONOUS.join(', ')}, not ${String(synchronous)}`);
    }
    this.file = resolve(options.file);
    const context = { file: this.file };
    try {
      mkdirSync(dirname(this.file), { recursive: true });
    } catch (err) {
      throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot create the data directory: ${(err as Error).message}`, { cause: err, context });
    }
    let db: Database.Database;
    try {
      db = new Database(this.file);
    } catch (err) {
      throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot open ${this.file}: ${(err as Error).message}`, { cause: err, context });
    }
    try {
      db.pragma('busy_timeout = 5000');
      // Reading the schema first proves the file is a database (SQLITE_NOTADB surfaces
      // only at the first statement), and refuses a newer or foreign schema before this
      // connection changes anything in the file (WAL mode is recorded in its header).
      checkSchema(db);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`the file system does not support WAL (journal_mode is ${String(mode)})`);
      // This connection only reads once migrated; the writer thread sets its own mode.
      db.pragma('foreign_keys = ON');
      this.schemaVersion = applyMigrations(db);
    } catch (err) {
      db.close();
      if (err instanceof Lwm2mFotaError) throw err;
      throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot open ${this.file}: ${(err as Error).message}`, { cause: err, context });
    }
    this.#db = db;

    const writer = (this.#writer = new SqliteWriter(this.file, synchronous));
    // Registrations and events may go as multi-row INSERTs (COALESCE in sqlite-writer.ts).
    this.#putStmt = writer.statement({
      head: `INSERT INTO registrations (${REGISTRATION_COLUMNS}) VALUES `,
      row: '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      tail: ` ON CONFLICT (endpoint) DO UPDATE SET
         registration_id = excluded.registration_id, address = excluded.address, port = excluded.port,
         lifetime = excluded.lifetime, lwm2m_version = excluded.lwm2m_version, binding = excluded.binding,
         queue_mode = excluded.queue_mode, sms_number = excluded.sms_number, links = excluded.links,
         registered_at = excluded.registered_at, last_seen = excluded.last_seen`,
    });
    this.#deleteStmt = writer.statement('DELETE FROM registrations WHERE endpoint = ?');
    this.#appendStmt = writer.statement({ head: 'INSERT INTO events (time, type, endpoint, data) VALUES ', row: '(?, ?, ?, ?)', tail: '' });
    this.#getStmt = db.prepare(`SELECT ${REGISTRATION_COLUMNS} FROM registrations WHERE endpoint = ?`);
    this.#getByIdStmt = db.prepare(`SELECT ${REGISTRATION_COLUMNS} FROM registrations WHERE registration_id = ?`);
    this.#listStmt = db.prepare(`SELECT ${REGISTRATION_COLUMNS} FROM registrations ORDER BY endpoint`);
    this.#countStmt = db.prepare<[], number>('SELECT count(*) FROM registrations').pluck();
    this.#sinceStmt = db.prepare('SELECT id, time, type, endpoint, data FROM events WHERE id > ? ORDER BY id LIMIT ?');
    this.#lastIdStmt = db.prepare<[], number | null>('SELECT max(id) FROM events').pluck();
    // Upsert by id; the WHERE keeps a job's endpoint fixed (no row changes otherwise).
    // A second active job of an endpoint violates jobs_one_active_per_endpoint.
    this.#jobPutStmt = writer.statement(
      `INSERT INTO jobs (${JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET
         firmware_id = excluded.firmware_id, value = excluded.value, state = excluded.state,
         history = excluded.history, spec = excluded.spec, created_at = excluded.created_at,
         updated_at = excluded.updated_at, finished_at = excluded.finished_at
       WHERE jobs.endpoint = excluded.endpoint`,
    );
    this.#jobGetStmt = db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`);
    this.#jobActiveStmt = db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE endpoint = ? AND finished_at IS NULL`);
    this.#jobListActiveStmt = db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE finished_at IS NULL ORDER BY created_at, rowid`);
    this.#jobByEndpointStmt = db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE endpoint = ? ORDER BY created_at DESC, rowid DESC LIMIT ?`);
    this.#jobRecentStmt = db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?`);

    this.registrations = {
      put: (record) => this.#put(record),
      putWithEvent: (record, event) => this.#putWithEvent(record, event),
      delete: (endpoint) => this.#delete(endpoint),
      get: (endpoint) => this.#read(() => rowToRecord(this.#getStmt.get(endpoint))),
      getById: (id) => this.#read(() => rowToRecord(this.#getByIdStmt.get(id))),
      list: () => this.#read(() => this.#listStmt.all().map((row) => rowToRecord(row) as RegistrationRecord)),
      count: () => this.#read(() => this.#countStmt.get() ?? 0),
    };
    this.events = {
      append: (event) => this.#append(event),
      since: (afterId, limit = 1000) =>
        this.#read(() => this.#sinceStmt.all(afterId, clampLimit(limit)).map(rowToEvent)),
      lastId: () => this.#read(() => this.#lastIdStmt.get() ?? 0),
    };
    this.jobs = {
      put: (job) => this.#putJob(job),
      get: (id) => this.#read(() => rowToJob(this.#jobGetStmt.get(id))),
      getActiveByEndpoint: (endpoint) => this.#read(() => rowToJob(this.#jobActiveStmt.get(endpoint))),
      listActive: () => this.#read(() => this.#jobListActiveStmt.all().map((row) => rowToJob(row) as UpdateJobRecord)),
      listByEndpoint: (endpoint, limit = 100) =>
        this.#read(() => this.#jobByEndpointStmt.all(endpoint, clampLimit(limit)).map((row) => rowToJob(row) as UpdateJobRecord)),
      listRecent: (limit = 100) => this.#read(() => this.#jobRecentStmt.all(clampLimit(limit)).map((row) => rowToJob(row) as UpdateJobRecord)),
    };
    const group: GroupWriter = {
      statement: (sql) => writer.statement(sql),
      write: (statement, params, result, unchanged) => this.#write(statement, params, result, unchanged),
    };
    const tables = createDeviceTables(db, group, (fn) => this.#read(fn));
    this.observations = tables.observations;
    this.requests = tables.requests;
    this.firmware = createFirmwareTable(db, group, (fn) => this.#read(fn));
    writer.start();
  }

  /**
   * Commits what is pending, then closes the file. Pending writes settle first (a failing
   * batch rejects its writes as usual); later calls reject with ERR_STORE_CLOSED. Closing
   * twice is harmless.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#commitBatch();
    this.#closed = true;
    // Every acknowledged write waits for its fsync; let the last ones finish first.
    await Promise.all(this.#inFlight);
    await this.#writer.close();
    try {
      this.#db.close();
    } catch (err) {
      throw storeError('ERR_STORE_WRITE', `closing ${this.file} failed`, err);
    }
  }

  /**
   * Copies the WAL into the database file and truncates the WAL (SQLite also does this
   * on its own every ~1000 pages). Useful before measuring or copying the file.
   *
   * @throws Lwm2mFotaError ERR_STORE_CLOSED after close.
   */
  checkpoint(): void {
    if (this.#closed) throw closedError();
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
  }

  #put(r: RegistrationRecord): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    const invalid = recordError(r);
    if (invalid !== undefined) return Promise.reject(invalid);
    const b = this.#pending();
    this.#queuePut(b, r);
    if (b.putPromise === undefined) {
      b.putPromise = new Promise<void>((res, rej) => {
        b.putResolve = res;
        b.putReject = rej;
      });
    }
    return b.putPromise;
  }

  /** `put` and `append` in the same batch: one transaction stores both or neither. */
  #putWithEvent(r: RegistrationRecord, event: NewEvent): Promise<StoredEvent> {
    if (this.#closed) return Promise.reject(closedError());
    const invalid = recordError(r);
    if (invalid !== undefined) return Promise.reject(invalid);
    let json: string | null;
    try {
      json = eventJson(event);
    } catch (err) {
      return Promise.reject(err);
    }
    const b = this.#pending();
    this.#queuePut(b, r);
    return this.#queueAppend(b, event, json);
  }

  #queuePut(b: Batch, r: RegistrationRecord): void {
    // Copied into the batch now: later changes to the record do not leak in.
    b.ops.push(
      this.#putStmt,
      RESULT_NONE | COALESCE,
      12,
      r.endpoint,
      r.registrationId,
      r.address,
      r.port,
      r.lifetime,
      r.lwm2mVersion,
      r.binding,
      r.queueMode ? 1 : 0,
      r.smsNumber ?? null,
      r.links,
      r.registeredAt,
      r.lastSeen,
    );
    b.kinds.push(PUT);
    b.args.push(undefined);
    b.resolves.push(undefined);
    b.rejects.push(undefined);
  }

  #delete(endpoint: string): Promise<boolean> {
    if (this.#closed) return Promise.reject(closedError());
    if (typeof endpoint !== 'string') return Promise.reject(new Lwm2mFotaError('ERR_STORE_WRITE', 'endpoint must be a string'));
    const b = this.#pending();
    return new Promise<boolean>((res, rej) => {
      b.ops.push(this.#deleteStmt, RESULT_CHANGED, 1, endpoint);
      b.kinds.push(DELETE);
      b.args.push(undefined);
      b.resolves.push(res as Resolve);
      b.rejects.push(rej);
    });
  }

  #append(event: NewEvent): Promise<StoredEvent> {
    if (this.#closed) return Promise.reject(closedError());
    let json: string | null;
    try {
      json = eventJson(event);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#queueAppend(this.#pending(), event, json);
  }

  #queueAppend(b: Batch, event: NewEvent, json: string | null): Promise<StoredEvent> {
    const stored: StoredEvent = { id: 0, type: event.type, endpoint: event.endpoint, data: (event.data ?? {}) as EventData, time: event.time ?? Date.now() };
    return new Promise<StoredEvent>((res, rej) => {
      b.ops.push(this.#appendStmt, RESULT_ROWID | COALESCE, 4, stored.time, stored.type, stored.endpoint ?? null, json);
      b.kinds.push(APPEND);
      b.args.push(stored);
      b.resolves.push(res as Resolve);
      b.rejects.push(rej);
    });
  }

  #putJob(job: UpdateJobRecord): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    let columns: JobColumns;
    try {
      const invalid = checkJob(job);
      if (invalid !== undefined) throw new Error(invalid);
      columns = jobColumns(job);
    } catch (err) {
      return Promise.reject(
        new Lwm2mFotaError('ERR_STORE_WRITE', `invalid update job: ${(err as Error).message}`, {
          cause: err,
          context: { endpoint: String((job as Partial<UpdateJobRecord> | null)?.endpoint) },
        }),
      );
    }
    const b = this.#pending();
    return new Promise<void>((res, rej) => {
      // In a savepoint of its own: a job that breaks a rule (second active job, foreign id)
      // is rolled back and rejected alone, the rest of the batch commits.
      b.ops.push(this.#jobPutStmt, RESULT_NONE | ALONE | MUST_CHANGE, columns.length, ...columns);
      b.kinds.push(JOB_PUT);
      b.args.push(columns);
      b.resolves.push(res as Resolve);
      b.rejects.push(rej);
    });
  }

  /** Queues one table write (see GroupWriter) for the next group commit. */
  #write<T>(statement: number, params: unknown[], result: WriteResult, unchanged?: () => Lwm2mFotaError): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    const b = this.#pending();
    const flags = (result === 'none' ? RESULT_NONE : result === 'changed' ? RESULT_CHANGED : RESULT_CHANGES) | ALONE | (unchanged ? MUST_CHANGE : 0);
    return new Promise<T>((res, rej) => {
      b.ops.push(statement, flags, params.length, ...params);
      b.kinds.push(WRITE);
      b.args.push(unchanged);
      b.resolves.push(res as Resolve);
      b.rejects.push(rej);
    });
  }

  /** The batch that collects writes until the next `setImmediate`. */
  #pending(): Batch {
    let b = this.#batch;
    if (b === undefined) {
      b = this.#batch = new Batch();
      // An idle writer starts on the batch as soon as the current callback is done; a busy
      // one finds the whole turn's batch waiting when it finishes (measured: starting at
      // once cut a registration's wait for the disk by a third at fleet rates, where the
      // event loop reads up to 32 datagrams before reaching setImmediate).
      if (this.#inFlight.size === 0) process.nextTick(this.#flush);
      else this.#immediate = setImmediate(this.#flush);
    }
    return b;
  }

  /** Sends the pending batch to the writer thread; its promises settle with the answer. */
  #commitBatch(): void {
    const b = this.#batch;
    this.#batch = undefined;
    this.#immediate = undefined;
    if (b === undefined) return;
    const done = this.#writer.submit(b.ops).then((reply) => {
      this.#inFlight.delete(done);
      this.#settle(b, reply);
      // The writer is idle again: what piled up meanwhile goes now, not at the end of this
      // event-loop turn (which may first read and handle 31 more datagrams).
      if (this.#inFlight.size === 0 && this.#batch !== undefined && !this.#closed) {
        if (this.#immediate !== undefined) clearImmediate(this.#immediate);
        this.#commitBatch();
      }
    });
    this.#inFlight.add(done);
  }

  #settle(b: Batch, reply: WriterReply): void {
    const { kinds, args, resolves, rejects } = b;
    const n = kinds.length;
    if (reply.error !== null) {
      const error = new Lwm2mFotaError('ERR_STORE_WRITE', `write failed, ${n} write(s) of the batch rolled back: ${reply.error.message}`, {
        ...(reply.error.code === null ? {} : { context: { code: reply.error.code } }),
      });
      b.putReject?.(error);
      for (let i = 0; i < n; i++) rejects[i]?.(error);
      return;
    }
    b.putResolve?.();
    const results = reply.results;
    const failed = reply.failed;
    let next = failed === null ? -1 : 0;
    for (let i = 0; i < n; i++) {
      if (next >= 0 && failed![next]![0] === i) {
        rejects[i]?.(this.#aloneError(kinds[i]!, args[i], failed![next]!));
        next = next + 1 < failed!.length ? next + 1 : -1;
        continue;
      }
      const kind = kinds[i];
      if (kind === PUT) continue;
      if (kind === APPEND) {
        const stored = args[i] as { id: number };
        stored.id = results[i] as number;
        resolves[i]!(stored as never);
      } else {
        resolves[i]!(results[i] as never);
      }
    }
  }

  /** The error of a write that failed alone in its savepoint. */
  #aloneError(kind: number, arg: unknown, [, reason, message, code]: AloneFailure): Lwm2mFotaError {
    if (kind === JOB_PUT) {
      const [id, endpoint] = arg as JobColumns;
      if (reason === 'unchanged') {
        return new Lwm2mFotaError('ERR_STORE_WRITE', `job ${id} belongs to another endpoint`, {
          context: { endpoint, jobId: id, reason: 'jobOfAnotherEndpoint' },
        });
      }
      if (code !== null && code.startsWith('SQLITE_CONSTRAINT')) {
        return new Lwm2mFotaError('ERR_STORE_WRITE', `endpoint ${endpoint} already has an active update job`, {
          context: { endpoint, jobId: id, reason: 'activeJobExists' },
        });
      }
    }
    if (reason === 'unchanged' && typeof arg === 'function') return (arg as () => Lwm2mFotaError)();
    return new Lwm2mFotaError('ERR_STORE_WRITE', `write failed: ${message}`, code === null ? {} : { context: { code } });
  }

  #read<T>(fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(storeError('ERR_STORE_READ', `read failed: ${(err as Error).message}`, err));
    }
  }
}

/** A LIMIT SQLite accepts: a non-negative integer, or -1 (no limit) for Infinity. */
function clampLimit(limit: number): number {
  if (limit === Number.POSITIVE_INFINITY) return -1;
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0;
}

function closedError(): Lwm2mFotaError {
  return new Lwm2mFotaError('ERR_STORE_CLOSED', 'the store is closed');
}

function storeError(code: 'ERR_STORE_WRITE' | 'ERR_STORE_READ', message: string, cause: unknown): Lwm2mFotaError {
  return new Lwm2mFotaError(code, message, { cause });
}

function rowToRecord(row: RegistrationRow | undefined): RegistrationRecord | undefined {
  if (row === undefined) return undefined;
  const record = {
    registrationId: row.registration_id,
    endpoint: row.endpoint,
    address: row.address,
    port: row.port,
    lifetime: row.lifetime,
    lwm2mVersion: row.lwm2m_version,
    binding: row.binding,
    queueMode: row.queue_mode !== 0,
    links: row.links,
    registeredAt: row.registered_at,
    lastSeen: row.last_seen,
  };
  return row.sms_number === null ? record : { ...record, smsNumber: row.sms_number };
}

function rowToEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    endpoint: row.endpoint ?? undefined,
    data: row.data === null ? {} : (JSON.parse(row.data) as Record<string, unknown>),
    time: row.time,
  };
}

function rowToJob(row: JobRow | undefined): UpdateJobRecord | undefined {
  if (row === undefined) return undefined;
  const spec = JSON.parse(row.spec) as Pick<UpdateJobRecord, 'expectedVersion' | 'method' | 'payloadOnly' | 'packageUris' | 'confirm' | 'contactTimeout'>;
  const job: UpdateJobRecord = {
    id: row.id,
    endpoint: row.endpoint,
    firmwareId: row.firmware_id,
    ...spec,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    state: JSON.parse(row.state) as UpdateJobRecord['state'],
    history: JSON.parse(row.history) as UpdateJobRecord['history'],
  };
  return row.finished_at === null ? job : { ...job, finishedAt: row.finished_at };
}

function jobColumns(j: UpdateJobRecord): JobColumns {
  const spec = {
    expectedVersion: j.expectedVersion,
    payloadOnly: j.payloadOnly,
    ...(j.method === undefined ? {} : { method: j.method }),
    ...(j.packageUris === undefined ? {} : { packageUris: j.packageUris }),
    ...(j.confirm === undefined ? {} : { confirm: j.confirm }),
    ...(j.contactTimeout === undefined ? {} : { contactTimeout: j.contactTimeout }),
  };
  return [
    j.id,
    j.endpoint,
    j.firmwareId,
    j.state.value,
    JSON.stringify(j.state),
    JSON.stringify(j.history),
    JSON.stringify(spec),
    j.createdAt,
    j.updatedAt,
    j.finishedAt ?? null,
  ];
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

/** Why a record cannot be stored, or undefined. Cheap type checks only. */
function checkRecord(r: RegistrationRecord): string | undefined {
  if (r === null || typeof r !== 'object') return 'not an object';
  if (!isString(r.endpoint) || r.endpoint === '') return 'endpoint must be a non-empty string';
  if (!isString(r.registrationId) || r.registrationId === '') return 'registrationId must be a non-empty string';
  if (!isString(r.address)) return 'address must be a string';
  if (!isInt(r.port) || r.port < 0 || r.port > 65535) return 'port must be an integer 0..65535';
  if (!isInt(r.lifetime) || r.lifetime < 0) return 'lifetime must be a non-negative integer';
  if (!isString(r.lwm2mVersion)) return 'lwm2mVersion must be a string';
  if (!isString(r.binding)) return 'binding must be a string';
  if (typeof r.queueMode !== 'boolean') return 'queueMode must be a boolean';
  if (r.smsNumber !== undefined && !isString(r.smsNumber)) return 'smsNumber must be a string';
  if (!isString(r.links)) return 'links must be a string';
  if (!isInt(r.registeredAt)) return 'registeredAt must be an integer (epoch ms)';
  if (!isInt(r.lastSeen)) return 'lastSeen must be an integer (epoch ms)';
  return undefined;
}

/** The error a record that cannot be stored is rejected with, or undefined. */
function recordError(r: RegistrationRecord): Lwm2mFotaError | undefined {
  const invalid = checkRecord(r);
  if (invalid === undefined) return undefined;
  return new Lwm2mFotaError('ERR_STORE_WRITE', `invalid registration: ${invalid}`, { context: { endpoint: String(r?.endpoint) } });
}

/**
 * An event's `data` as the JSON to store (null without data); throws ERR_STORE_WRITE for an
 * invalid event. Serialised when queued, not at commit: a value that cannot be stored fails
 * alone instead of failing the whole batch, and later mutation of `data` does not leak in.
 */
function eventJson(event: NewEvent): string | null {
  try {
    const invalid = checkEvent(event);
    if (invalid !== undefined) throw new Error(invalid);
    return event.data === undefined ? null : JSON.stringify(event.data);
  } catch (err) {
    throw storeError('ERR_STORE_WRITE', `invalid event: ${(err as Error).message}`, err);
  }
}

function checkEvent(e: NewEvent): string | undefined {
  if (e === null || typeof e !== 'object') return 'not an object';
  if (!isString(e.type) || e.type === '') return 'type must be a non-empty string';
  if (e.endpoint !== undefined && !isString(e.endpoint)) return 'endpoint must be a string';
  if (e.time !== undefined && !isInt(e.time)) return 'time must be an integer (epoch ms)';
  if (e.data !== undefined && (e.data === null || typeof e.data !== 'object' || Array.isArray(e.data))) {
    return 'data must be an object';
  }
  return undefined;
}

function checkJob(j: UpdateJobRecord): string | undefined {
  if (j === null || typeof j !== 'object') return 'not an object';
  if (!isString(j.id) || j.id === '') return 'id must be a non-empty string';
  if (!isString(j.endpoint) || j.endpoint === '') return 'endpoint must be a non-empty string';
  if (!isString(j.firmwareId) || j.firmwareId === '') return 'firmwareId must be a non-empty string';
  if (!isString(j.expectedVersion)) return 'expectedVersion must be a string';
  if (j.method !== undefined && j.method !== 'pull' && j.method !== 'push') return "method must be 'pull' or 'push'";
  if (typeof j.payloadOnly !== 'boolean') return 'payloadOnly must be a boolean';
  if (j.packageUris !== undefined && (j.packageUris === null || typeof j.packageUris !== 'object' || Array.isArray(j.packageUris))) {
    return 'packageUris must be an object';
  }
  if (j.packageUris !== undefined && !Object.values(j.packageUris).every(isString)) return 'packageUris must map to strings';
  if (!isInt(j.createdAt)) return 'createdAt must be an integer (epoch ms)';
  if (!isInt(j.updatedAt)) return 'updatedAt must be an integer (epoch ms)';
  if (j.finishedAt !== undefined && !isInt(j.finishedAt)) return 'finishedAt must be an integer (epoch ms)';
  if (j.state === null || typeof j.state !== 'object' || Array.isArray(j.state)) return 'state must be an object';
  if (!isString(j.state.value) || j.state.value === '') return 'state.value must be a non-empty string';
  if (!Array.isArray(j.history)) return 'history must be an array';
  return undefined;
}
