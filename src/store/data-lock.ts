/**
 * One server per data directory. Two servers on one directory would both resume the same
 * update jobs and push to the same devices: "Update is never sent twice for one download"
 * cannot hold. So a server holds an exclusive lock on `<dataDir>/lwm2m-fota.lock` for as
 * long as it runs.
 *
 * The lock is an SQLite database kept in an open EXCLUSIVE transaction. SQLite takes it with
 * POSIX advisory locks (fcntl), which the operating system drops when the holding process
 * ends in any way (exit, crash, SIGKILL): a lock left by a crashed server is stale at once,
 * with no pid file to clean up. Within one process SQLite tracks the file's locks per inode,
 * so a second server in the same process is refused too.
 *
 * Beside it, `<dataDir>/lwm2m-fota.holder.json` says who holds the lock (pid, host, ports,
 * start time), written after the lock is taken, for the refusal message only: the lock, not
 * this file, decides.
 */
import { accessSync, constants, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Lwm2mFotaError } from '../errors';

export const LOCK_FILE = 'lwm2m-fota.lock';
export const HOLDER_FILE = 'lwm2m-fota.holder.json';

/** Who holds a data directory (as its holder wrote it). */
export interface DataDirHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  /** Free-form facts the holder added (its ports), shown in the refusal. */
  readonly details?: Readonly<Record<string, string | number>>;
}

export interface DataDirLock {
  readonly dataDir: string;
  /** Adds facts (e.g. the bound ports, known only after binding) to the holder file. */
  describe(details: Readonly<Record<string, string | number>>): void;
  release(): void;
}

/**
 * Creates `dir` and its missing parents one level at a time, after checking that the first
 * existing ancestor is a writable directory. (`mkdirSync(…, { recursive: true })` under a
 * path such as /proc loops at 100 % CPU in Node 20 instead of failing.)
 *
 * @throws Lwm2mFotaError ERR_STORE_OPEN naming the path that cannot be used.
 */
export function ensureDirectory(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch {
      const parent = dirname(p);
      if (parent === p) throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot create data directory ${dir}: no existing parent`);
      missing.unshift(p);
      p = parent;
      continue;
    }
    if (!st.isDirectory()) throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot use data directory ${dir}: ${p} is not a directory`);
    try {
      accessSync(p, constants.W_OK | constants.X_OK);
    } catch {
      throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot use data directory ${dir}: ${p} is not writable`);
    }
    break;
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot create data directory ${dir}: ${(err as Error).message}`, { cause: err });
      }
    }
  }
}

function readHolder(dataDir: string): DataDirHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(join(dataDir, HOLDER_FILE), 'utf8')) as Partial<DataDirHolder>;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string' || typeof h.startedAt !== 'string') return undefined;
    return h as DataDirHolder;
  } catch {
    return undefined;
  }
}

function describeHolder(h: DataDirHolder | undefined): string {
  if (h === undefined) return 'another lwm2m-fota server';
  const details = Object.entries(h.details ?? {}).map(([k, v]) => `${k} ${v}`);
  return `lwm2m-fota pid ${h.pid} on ${h.host}${details.length ? ` (${details.join(', ')})` : ''}, since ${h.startedAt}`;
}

/**
 * Takes the data directory for this process (creating the directory when missing).
 *
 * @throws Lwm2mFotaError ERR_STORE_LOCKED when another server holds it (the message names
 *   the holder); ERR_STORE_OPEN when the directory cannot be created or the lock file
 *   cannot be opened.
 */
export function lockDataDir(dir: string): DataDirLock {
  const dataDir = resolve(dir);
  ensureDirectory(dataDir);
  let db: Database.Database;
  try {
    db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  } catch (err) {
    throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot open the lock file in ${dataDir}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    // A write makes the exclusive lock real on every SQLite version (and keeps it held).
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER)');
  } catch (err) {
    db.close();
    const busy = (err as { code?: string }).code?.startsWith('SQLITE_BUSY') || (err as { code?: string }).code?.startsWith('SQLITE_LOCKED');
    if (busy) {
      throw new Lwm2mFotaError('ERR_STORE_LOCKED', `data directory ${dataDir} is in use by ${describeHolder(readHolder(dataDir))}`, { cause: err });
    }
    throw new Lwm2mFotaError('ERR_STORE_OPEN', `cannot lock data directory ${dataDir}: ${(err as Error).message}`, { cause: err });
  }
  let holder: DataDirHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  const write = (): void => {
    try {
      writeFileSync(join(dataDir, HOLDER_FILE), JSON.stringify(holder) + '\n');
    } catch {
      // The holder file only explains a refusal; the lock itself is what protects.
    }
  };
  write();
  let released = false;
  return {
    dataDir,
    describe(details) {
      holder = { ...holder, details: { ...holder.details, ...details } };
      write();
    },
    release() {
      if (released) return;
      released = true;
      try {
        db.exec('ROLLBACK');
      } catch {
        // Nothing to roll back; closing drops the lock either way.
      }
      db.close();
    },
  };
}
