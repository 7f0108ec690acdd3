/**
 * The SQLite schema as a list of numbered migrations.
 *
 * How to add a table (firmware, update jobs, observations, queued requests, campaigns …):
 * append ONE entry to `MIGRATIONS` with the next version number, e.g.
 *
 * ```ts
 *   { version: 3, description: 'firmware', up: `CREATE TABLE firmware (digest TEXT PRIMARY KEY, …) STRICT;` },
 * ```
 *
 * Rules: versions are 1, 2, 3 … without gaps; a released migration is never edited or
 * removed (databases in the field already ran it — fix mistakes with a new migration);
 * `up` is SQL (one or more statements) or a function for data moves. Each migration runs
 * in its own transaction together with its row in `schema_version`, so a failing one
 * leaves the database at the previous version.
 */
import type Database from 'better-sqlite3';

import { Lwm2mFotaError } from '../errors';

export interface Migration {
  /** 1, 2, 3 … in order, no gaps. */
  readonly version: number;
  /** What the migration adds, stored in `schema_version` for people reading the file. */
  readonly description: string;
  /** SQL to execute, or a function given the open connection (inside the transaction). */
  readonly up: string | ((db: Database.Database) => void);
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'registrations and events',
    up: `
      CREATE TABLE registrations (
        endpoint        TEXT    NOT NULL UNIQUE,
        registration_id TEXT    NOT NULL UNIQUE,
        address         TEXT    NOT NULL,
        port            INTEGER NOT NULL,
        lifetime        INTEGER NOT NULL,
        lwm2m_version   TEXT    NOT NULL,
        binding         TEXT    NOT NULL,
        queue_mode      INTEGER NOT NULL,
        sms_number      TEXT,
        links           TEXT    NOT NULL,
        registered_at   INTEGER NOT NULL,
        last_seen       INTEGER NOT NULL
      ) STRICT;
      -- AUTOINCREMENT: an id is never reused, even if the newest events are ever pruned.
      CREATE TABLE events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        time     INTEGER NOT NULL,
        type     TEXT    NOT NULL,
        endpoint TEXT,
        data     TEXT
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'firmware update jobs',
    // The whole record is kept as JSON next to the columns that are queried. A job is
    // active while finished_at is NULL; the partial unique index allows one active job
    // per endpoint and any number of finished ones.
    up: `
      CREATE TABLE jobs (
        id          TEXT    NOT NULL PRIMARY KEY,
        endpoint    TEXT    NOT NULL,
        firmware_id TEXT    NOT NULL,
        value       TEXT    NOT NULL,
        state       TEXT    NOT NULL,
        history     TEXT    NOT NULL,
        spec        TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        finished_at INTEGER
      ) STRICT;
      CREATE UNIQUE INDEX jobs_one_active_per_endpoint ON jobs (endpoint) WHERE finished_at IS NULL;
      CREATE INDEX jobs_by_endpoint ON jobs (endpoint, created_at);
      CREATE INDEX jobs_by_created ON jobs (created_at);
    `,
  },
  {
    version: 3,
    description: 'observations and queued device requests',
    // observations: one row per live observation, so that a restarted server re-attaches
    // the device's notifications (by token) instead of rejecting them.
    // device_requests: requests for queue-mode devices, delivered in `seq` order when the
    // device next contacts the server; finished ones stay for their results.
    up: `
      CREATE TABLE observations (
        token           TEXT    NOT NULL PRIMARY KEY,
        endpoint        TEXT    NOT NULL,
        registration_id TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        paths           TEXT    NOT NULL,
        format          INTEGER,
        created_at      INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX observations_by_endpoint ON observations (endpoint);
      CREATE TABLE device_requests (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        id           TEXT    NOT NULL UNIQUE,
        endpoint     TEXT    NOT NULL,
        state        TEXT    NOT NULL,
        request      TEXT    NOT NULL,
        attempts     INTEGER NOT NULL,
        result       TEXT,
        error        TEXT,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX device_requests_pending ON device_requests (endpoint, seq) WHERE state IN ('queued', 'sending');
      CREATE INDEX device_requests_by_endpoint ON device_requests (endpoint, seq);
    `,
  },
  {
    version: 4,
    description: 'firmware repository',
    // One row per accepted SUIT envelope; id = SHA-256 (hex) of the envelope. The bytes are
    // files named by digest in <dataDir>/firmware; `blobs` lists the image files the row
    // keeps alive besides its envelope. sequence_number is decimal text (SUIT allows uint64).
    up: `
      CREATE TABLE firmware (
        id              TEXT    NOT NULL PRIMARY KEY,
        size            INTEGER NOT NULL,
        sequence_number TEXT    NOT NULL,
        version         TEXT,
        vendor_id       TEXT,
        class_id        TEXT,
        blobs           TEXT    NOT NULL,
        details         TEXT    NOT NULL,
        added_at        INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX firmware_by_class ON firmware (class_id, added_at);
    `,
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

const CREATE_SCHEMA_VERSION = `
  CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL
  ) STRICT`;

/**
 * The version recorded in the database: 0 for an empty file. Throws ERR_STORE_OPEN for a
 * database that has tables but no `schema_version` (another application's file).
 */
export function readSchemaVersion(db: Database.Database): number {
  const hasTable = db
    .prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'`)
    .pluck()
    .get();
  if (hasTable === undefined) {
    const tables = db.prepare(`SELECT count(*) FROM sqlite_schema WHERE type = 'table'`).pluck().get() as number;
    if (tables > 0) {
      throw new Lwm2mFotaError('ERR_STORE_OPEN', 'the database has tables but no schema_version: not an lwm2m-fota store', {
        context: { file: db.name },
      });
    }
    return 0;
  }
  const v = db.prepare('SELECT max(version) FROM schema_version').pluck().get();
  return typeof v === 'number' ? v : 0;
}

/**
 * The database's schema version, after making sure this build can use it.
 * Throws ERR_STORE_SCHEMA when the database is newer than `migrations` knows, and
 * ERR_STORE_OPEN when it is not one of ours.
 */
export function checkSchema(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  const current = readSchemaVersion(db);
  const latest = migrations.length;
  if (current > latest) {
    throw new Lwm2mFotaError(
      'ERR_STORE_SCHEMA',
      `the database has schema version ${current}, this build knows up to ${latest}; upgrade lwm2m-fota`,
      { context: { file: db.name, version: current, supported: latest } },
    );
  }
  return current;
}

/**
 * Brings the database up to the newest of `migrations`; returns the resulting version.
 * Throws ERR_STORE_SCHEMA when the database is newer than `migrations` knows, and
 * ERR_STORE_OPEN when a migration fails (that migration is rolled back).
 */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS, now = Date.now()): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i} has version ${m.version}, expected ${i + 1}`);
  });
  const latest = migrations.length;
  const current = checkSchema(db, migrations);
  if (current === latest) return current;
  for (const m of migrations.slice(current)) {
    const run = db.transaction(() => {
      db.exec(CREATE_SCHEMA_VERSION);
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)').run(m.version, m.description, now);
    });
    try {
      run.immediate();
    } catch (err) {
      throw new Lwm2mFotaError('ERR_STORE_OPEN', `schema migration ${m.version} (${m.description}) failed: ${(err as Error).message}`, {
        cause: err,
        context: { file: db.name, version: m.version },
      });
    }
  }
  return latest;
}
