import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { isLwm2mFotaError } from '../../src/errors';
import { openSqliteStore, SCHEMA_VERSION, SqliteStore } from '../../src/store';
import { applyMigrations, MIGRATIONS, type Migration } from '../../src/store/migrations';
import { finished, registration, storeContract, updateJob } from './contract';

storeContract('sqlite', (dir) => openSqliteStore({ file: join(dir, 'data', 'store.db') }));
storeContract('sqlite (synchronous NORMAL)', (dir) => openSqliteStore({ file: join(dir, 'store.db'), synchronous: 'NORMAL' }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isLwm2mFotaError(err) ? err.code : `not ours: ${String(err)}`;
  }
  return undefined;
}

async function codeOfAsync(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isLwm2mFotaError(err) ? err.code : `not ours: ${String(err)}`;
  }
  return undefined;
}

describe('SqliteStore', () => {
  let dir: string;
  const stores: SqliteStore[] = [];
  const open = (file: string, synchronous?: 'OFF' | 'NORMAL' | 'FULL'): SqliteStore => {
    const s = openSqliteStore(synchronous === undefined ? { file } : { file, synchronous });
    stores.push(s);
    return s;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lwm2m-fota-sqlite-'));
  });

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('opening', () => {
    it('creates the file and its missing directories, in WAL mode with synchronous FULL', () => {
      const file = join(dir, 'a', 'b', 'store.db');
      const store = open(file);
      expect(store.file).toBe(file);
      expect(existsSync(file)).toBe(true);
      const db = new Database(file, { readonly: true });
      try {
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        db.close();
      }
    });

    it('records every migration in schema_version', async () => {
      const file = join(dir, 'store.db');
      const store = open(file);
      expect(store.schemaVersion).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
      await store.close();
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare('SELECT version, description FROM schema_version ORDER BY version').all();
        expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, description: m.description })));
        const tables = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all();
        expect(tables).toEqual(expect.arrayContaining(['events', 'registrations', 'schema_version']));
      } finally {
        db.close();
      }
    });

    it('refuses a database written by a newer schema with ERR_STORE_SCHEMA, and leaves it alone', async () => {
      const file = join(dir, 'store.db');
      await open(file).close();
      const db = new Database(file);
      db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)').run(SCHEMA_VERSION + 1, 'from the future', 0);
      db.close();
      expect(codeOf(() => open(file))).toBe('ERR_STORE_SCHEMA');
      const check = new Database(file, { readonly: true });
      try {
        expect(check.prepare('SELECT max(version) FROM schema_version').pluck().get()).toBe(SCHEMA_VERSION + 1);
      } finally {
        check.close();
      }
    });

    it('fails with ERR_STORE_OPEN on a file that is not a database, and does not change it', async () => {
      const file = join(dir, 'store.db');
      const garbage = Buffer.from('this is not an SQLite database, just some text that is long enough '.repeat(100));
      await writeFile(file, garbage);
      expect(codeOf(() => open(file))).toBe('ERR_STORE_OPEN');
      const { readFile } = await import('node:fs/promises');
      expect((await readFile(file)).equals(garbage)).toBe(true);
    });

    it('fails with ERR_STORE_OPEN on an SQLite database of another application', () => {
      const file = join(dir, 'other.db');
      const db = new Database(file);
      db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
      db.close();
      expect(codeOf(() => open(file))).toBe('ERR_STORE_OPEN');
    });

    it('fails with ERR_STORE_OPEN when the directory cannot be created', async () => {
      const blocker = join(dir, 'file');
      await writeFile(blocker, 'x');
      expect(codeOf(() => open(join(blocker, 'sub', 'store.db')))).toBe('ERR_STORE_OPEN');
    });

    it('fails with ERR_STORE_OPEN on an unknown synchronous mode', () => {
      const bad = { file: join(dir, 'store.db'), synchronous: 'EXTRA; DROP TABLE x' } as unknown as { file: string };
      expect(codeOf(() => stores.push(openSqliteStore(bad)))).toBe('ERR_STORE_OPEN');
    });
  });

  describe('migrations', () => {
    const steps: Migration[] = [
      { version: 1, description: 'one', up: 'CREATE TABLE one (x INTEGER) STRICT' },
      { version: 2, description: 'two', up: (db) => db.exec('CREATE TABLE two (y TEXT) STRICT') },
      { version: 3, description: 'three', up: `INSERT INTO two (y) VALUES ('seeded')` },
    ];

    it('applies only the migrations a database has not run yet', () => {
      const db = new Database(join(dir, 'm.db'));
      try {
        expect(applyMigrations(db, steps.slice(0, 2))).toBe(2);
        expect(applyMigrations(db, steps)).toBe(3);
        expect(applyMigrations(db, steps)).toBe(3);
        expect(db.prepare('SELECT count(*) FROM two').pluck().get()).toBe(1);
        expect(db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all()).toEqual([1, 2, 3]);
      } finally {
        db.close();
      }
    });

    it('rolls back a failing migration, leaving the previous version, with ERR_STORE_OPEN', () => {
      const db = new Database(join(dir, 'm.db'));
      try {
        const broken: Migration = { version: 3, description: 'broken', up: 'CREATE TABLE three (z INTEGER); SELECT * FROM missing' };
        expect(applyMigrations(db, steps.slice(0, 2))).toBe(2);
        expect(codeOf(() => applyMigrations(db, [...steps.slice(0, 2), broken]))).toBe('ERR_STORE_OPEN');
        expect(db.prepare('SELECT max(version) FROM schema_version').pluck().get()).toBe(2);
        expect(db.prepare(`SELECT count(*) FROM sqlite_schema WHERE name = 'three'`).pluck().get()).toBe(0);
      } finally {
        db.close();
      }
    });

    it('refuses a list of migrations with a gap', () => {
      const db = new Database(join(dir, 'm.db'));
      try {
        expect(() => applyMigrations(db, [steps[0] as Migration, steps[2] as Migration])).toThrow(/version 3, expected 2/);
      } finally {
        db.close();
      }
    });
  });

  describe('group commit', () => {
    it('commits writes issued in the same tick in one transaction', async () => {
      const store = open(join(dir, 'store.db'));
      const puts = Array.from({ length: 100 }, (_, i) => store.registrations.put(registration(`ep-${i}`)));
      // All puts of one batch share one promise: one transaction, one settlement.
      expect(new Set(puts).size).toBe(1);
      await Promise.all(puts);
      const later = store.registrations.put(registration('ep-later'));
      expect(later).not.toBe(puts[0]);
      await later;
      expect(await store.registrations.count()).toBe(101);
    });

    it('does not show a write to reads before its commit', async () => {
      const store = open(join(dir, 'store.db'));
      const put = store.registrations.put(registration('dev-1'));
      expect(await store.registrations.get('dev-1')).toBeUndefined();
      await put;
      expect(await store.registrations.get('dev-1')).toEqual(registration('dev-1'));
    });

    it('rejects every write of a failing batch with ERR_STORE_WRITE and rolls all of it back', async () => {
      const store = open(join(dir, 'store.db'));
      await store.registrations.put(registration('keep', { registrationId: 'taken' }));
      const first = await store.events.append({ type: 'registered', endpoint: 'keep' });

      const batch: Promise<unknown>[] = [
        store.registrations.put(registration('a')),
        store.events.append({ type: 'registered', endpoint: 'a' }),
        store.registrations.put(registration('b', { registrationId: 'taken' })), // violates UNIQUE
        store.registrations.delete('keep'),
        store.events.append({ type: 'registered', endpoint: 'b' }),
      ];
      const codes = await Promise.all(batch.map(codeOfAsync));
      expect(codes).toEqual(Array(5).fill('ERR_STORE_WRITE'));

      expect((await store.registrations.list()).map((r) => r.endpoint)).toEqual(['keep']);
      expect(await store.events.lastId()).toBe(first.id);
      // The store keeps working after a failed batch, and event ids are not reused.
      await store.registrations.put(registration('a'));
      const next = await store.events.append({ type: 'registered', endpoint: 'a' });
      expect(next.id).toBeGreaterThan(first.id);
      expect(await store.registrations.count()).toBe(2);
    });

    it('rolls back a batch that fails inside SQLite (a trigger that aborts, as a full disk would)', async () => {
      const file = join(dir, 'store.db');
      const store = open(file);
      await store.registrations.put(registration('before'));
      const side = new Database(file);
      side.exec(`CREATE TRIGGER no_boom BEFORE INSERT ON events WHEN NEW.type = 'boom' BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`);
      side.close();

      const results = await Promise.all(
        [
          store.registrations.put(registration('lost-1')),
          store.events.append({ type: 'registered' }),
          store.events.append({ type: 'boom' }),
          store.registrations.delete('before'),
        ].map(codeOfAsync),
      );
      expect(results).toEqual(Array(4).fill('ERR_STORE_WRITE'));
      expect((await store.registrations.list()).map((r) => r.endpoint)).toEqual(['before']);
      expect(await store.events.lastId()).toBe(0);
    });
  });

  describe('update jobs', () => {
    it('upgrades a version-1 database: its data stays, the jobs table arrives', async () => {
      const file = join(dir, 'v1.db');
      const db = new Database(file);
      applyMigrations(db, MIGRATIONS.slice(0, 1));
      db.prepare(
        `INSERT INTO registrations (endpoint, registration_id, address, port, lifetime, lwm2m_version, binding, queue_mode, links, registered_at, last_seen)
         VALUES ('old-dev', 'r1', '::1', 5683, 60, '1.1', 'U', 0, '', 1, 1)`,
      ).run();
      db.close();
      const store = open(file);
      expect(store.schemaVersion).toBe(SCHEMA_VERSION);
      expect((await store.registrations.get('old-dev'))?.registrationId).toBe('r1');
      await store.jobs.put(updateJob('job-1', 'old-dev'));
      expect(await store.jobs.getActiveByEndpoint('old-dev')).toEqual(updateJob('job-1', 'old-dev'));
    });

    it('enforces one active job per endpoint in the schema itself (a partial unique index)', async () => {
      const file = join(dir, 'store.db');
      const store = open(file);
      await store.jobs.put(updateJob('job-1', 'dev-1'));
      await store.close();
      const db = new Database(file);
      try {
        const insert = db.prepare(
          `INSERT INTO jobs (id, endpoint, firmware_id, value, state, history, spec, created_at, updated_at, finished_at)
           VALUES (?, 'dev-1', 'f', 'queued', '{"value":"queued"}', '[]', '{}', 1, 1, ?)`,
        );
        expect(() => insert.run('job-2', null)).toThrow(/UNIQUE/);
        expect(() => insert.run('job-3', 5)).not.toThrow();
        expect(() => insert.run('job-4', 6)).not.toThrow();
      } finally {
        db.close();
      }
    });

    it('rolls job puts back with the rest of a batch that fails for another reason', async () => {
      const store = open(join(dir, 'store.db'));
      await store.registrations.put(registration('keep', { registrationId: 'taken' }));
      const results = await Promise.all(
        [store.jobs.put(updateJob('job-1', 'dev-1')), store.registrations.put(registration('b', { registrationId: 'taken' }))].map(codeOfAsync),
      );
      expect(results).toEqual(['ERR_STORE_WRITE', 'ERR_STORE_WRITE']);
      expect(await store.jobs.get('job-1')).toBeUndefined();
    });

    it('resolves a thousand job puts issued together, for distinct endpoints, in one commit', async () => {
      const store = open(join(dir, 'store.db'));
      const jobs = Array.from({ length: 1000 }, (_, i) => updateJob(`job-${i}`, `dev-${i}`, { createdAt: i }));
      await Promise.all(jobs.map((j) => store.jobs.put(j)));
      expect(await store.jobs.listActive()).toHaveLength(1000);
      await Promise.all(jobs.slice(0, 400).map((j) => store.jobs.put(finished(j))));
      expect(await store.jobs.listActive()).toHaveLength(600);
      expect((await store.jobs.listRecent(3)).map((j) => j.id)).toEqual(['job-999', 'job-998', 'job-997']);
    });
  });

  describe('after a crash', () => {
    // The writer is killed (SIGKILL) while it writes; every write it acknowledged must be
    // there on reopen and the file must pass integrity_check. Three rounds on one file,
    // at FULL and at NORMAL: both survive a process crash (NORMAL risks only power loss).
    it.each(['FULL', 'NORMAL'] as const)('keeps every acknowledged write (synchronous %s)', async (synchronous) => {
      const file = join(dir, 'crash', 'store.db');
      const acked: number[] = [];
      let first = 0;
      for (let round = 0; round < 3; round++) {
        const got = await runAndKill(file, first, synchronous, 300 + round * 150);
        expect(got.length).toBeGreaterThanOrEqual(300);
        acked.push(...got);
        first = Math.max(...got) + 1000;
      }

      const raw = new Database(file);
      try {
        expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        raw.close();
      }

      const store = open(file);
      const endpoints = new Set((await store.registrations.list()).map((r) => r.endpoint));
      const missing = acked.filter((n) => !endpoints.has(`crash-${n}`));
      expect(missing).toEqual([]);
      const events = [];
      for (let after = 0; ; ) {
        const page = await store.events.since(after, 5000);
        if (page.length === 0) break;
        events.push(...page);
        after = page[page.length - 1]?.id ?? after;
      }
      const logged = new Set(events.map((e) => e.endpoint));
      expect(acked.filter((n) => !logged.has(`crash-${n}`))).toEqual([]);
      for (let i = 1; i < events.length; i++) expect((events[i]?.id ?? 0) > (events[i - 1]?.id ?? 0)).toBe(true);
      // The store still takes writes on the recovered file.
      await store.registrations.put(registration('after-crash'));
      expect(await store.registrations.get('after-crash')).toEqual(registration('after-crash'));
    });
  });
});

/**
 * Runs the crash writer on `file` until it has acknowledged at least `atLeast` writes,
 * kills it with SIGKILL mid-stream, and returns the indexes it acknowledged.
 */
function runAndKill(file: string, first: number, synchronous: string, atLeast: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'crash-writer.js'), file, String(first), synchronous], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: number[] = [];
    let buffered = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crash writer acknowledged only ${acked.length} writes in time; stderr: ${stderr}`));
    }, 20000);
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (/^\d+$/.test(line)) acked.push(Number(line));
      if (!killed && acked.length >= atLeast) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && killed) resolve(acked);
      else reject(new Error(`crash writer ended with code ${String(code)} signal ${String(signal)}; stderr: ${stderr}`));
    });
  });
}
