import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { ALONE, COALESCE, MUST_CHANGE, RESULT_CHANGED, RESULT_NONE, RESULT_ROWID, SqliteWriter } from '../../src/store/sqlite-writer';

/** The writer thread on its own: batches as flat arrays, answers as WriterReply. */
describe('SqliteWriter', () => {
  let dir: string;
  let file: string;
  const writers: SqliteWriter[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lwm2m-fota-writer-'));
    file = join(dir, 'w.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL) STRICT; CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT) STRICT');
    db.close();
  });

  afterEach(async () => {
    for (const w of writers.splice(0)) await w.close();
    await rm(dir, { recursive: true, force: true });
  });

  const writer = (synchronous: 'OFF' | 'NORMAL' | 'FULL' = 'FULL'): { w: SqliteWriter; put: number; bump: number; log: number } => {
    const w = new SqliteWriter(file, synchronous);
    writers.push(w);
    const put = w.statement('INSERT INTO t (k, v) VALUES (?, ?)');
    const bump = w.statement('UPDATE t SET v = v + 1 WHERE k = ?');
    const log = w.statement('INSERT INTO log (what) VALUES (?)');
    w.start();
    return { w, put, bump, log };
  };

  const rows = (): { k: string; v: number }[] => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare('SELECT k, v FROM t ORDER BY k').all() as { k: string; v: number }[];
    } finally {
      db.close();
    }
  };

  it('answers each write: nothing, changed or not, the new rowid', async () => {
    const { w, put, bump, log } = writer();
    const reply = await w.submit([put, RESULT_NONE, 2, 'a', 1, bump, RESULT_CHANGED, 1, 'a', bump, RESULT_CHANGED, 1, 'zz', log, RESULT_ROWID, 1, 'x']);
    expect(reply).toEqual({ type: 'done', id: expect.any(Number), results: [null, true, false, 1], failed: null, error: null });
    expect(rows()).toEqual([{ k: 'a', v: 2 }]);
  });

  it('batches arriving together commit together, yet a failing batch takes no other batch down', async () => {
    const { w, put } = writer();
    await w.submit([put, RESULT_NONE, 2, 'taken', 0]);
    // Submitted in one turn: the writer receives them together and tries one transaction.
    const replies = await Promise.all([
      w.submit([put, RESULT_NONE, 2, 'b1', 1]),
      w.submit([put, RESULT_NONE, 2, 'b2', 2, put, RESULT_NONE, 2, 'taken', 9]), // primary key violated
      w.submit([put, RESULT_NONE, 2, 'b3', 3]),
    ]);
    expect(replies.map((r) => r.error?.code ?? null)).toEqual([null, 'SQLITE_CONSTRAINT_PRIMARYKEY', null]);
    expect(rows().map((r) => r.k)).toEqual(['b1', 'b3', 'taken']);
  });

  it('rolls an ALONE write back by itself: an error, or no row changed with MUST_CHANGE', async () => {
    const { w, put, bump } = writer();
    const reply = await w.submit([
      put, RESULT_NONE, 2, 'x', 1,
      put, RESULT_NONE | ALONE, 2, 'x', 2, // duplicate key: fails alone
      bump, RESULT_CHANGED | ALONE | MUST_CHANGE, 1, 'nobody', // changes nothing: fails alone
      put, RESULT_NONE | ALONE, 2, 'y', 3,
    ]);
    expect(reply.error).toBeNull();
    expect(reply.failed).toEqual([
      [1, 'error', expect.stringMatching(/UNIQUE/), 'SQLITE_CONSTRAINT_PRIMARYKEY'],
      [2, 'unchanged', expect.any(String), null],
    ]);
    expect(rows()).toEqual([{ k: 'x', v: 1 }, { k: 'y', v: 3 }]);
  });

  it('runs COALESCE writes as multi-row INSERTs: same rows, same order, consecutive rowids', async () => {
    const w = new SqliteWriter(file, 'FULL');
    writers.push(w);
    const upsert = w.statement({ head: 'INSERT INTO t (k, v) VALUES ', row: '(?, ?)', tail: ' ON CONFLICT (k) DO UPDATE SET v = excluded.v' });
    const log = w.statement({ head: 'INSERT INTO log (what) VALUES ', row: '(?)', tail: '' });
    const del = w.statement('DELETE FROM t WHERE k = ?');
    w.start();
    // 90 registration-like pairs (chunks of 64, 16, 4, 4, 1, 1 …), a key written twice in
    // one run (the later row wins), and a delete that ends the run.
    const ops: unknown[] = [];
    for (let i = 0; i < 90; i++) ops.push(upsert, RESULT_NONE | COALESCE, 2, `k${String(i).padStart(2, '0')}`, i, log, RESULT_ROWID | COALESCE, 1, `e${i}`);
    ops.push(upsert, RESULT_NONE | COALESCE, 2, 'k00', 1000);
    ops.push(del, RESULT_CHANGED, 1, 'k01');
    ops.push(upsert, RESULT_NONE | COALESCE, 2, 'k01', 2000, log, RESULT_ROWID | COALESCE, 1, 'last');
    const reply = await w.submit(ops);
    expect(reply.error).toBeNull();
    const rowids = reply.results.filter((_, i) => i < 180 && i % 2 === 1);
    expect(rowids).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    expect(reply.results.slice(180)).toEqual([null, true, null, 91]);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT what FROM log ORDER BY id').pluck().all()).toEqual([...Array.from({ length: 90 }, (_, i) => `e${i}`), 'last']);
    } finally {
      db.close();
    }
    const t = rows();
    expect(t).toHaveLength(90);
    expect(t.find((r) => r.k === 'k00')?.v).toBe(1000);
    expect(t.find((r) => r.k === 'k01')?.v).toBe(2000);
    expect(t.find((r) => r.k === 'k89')?.v).toBe(89);
  });

  it('answers every batch with an error, and never hangs, when it cannot open the database', async () => {
    const w = new SqliteWriter(join(dir, 'missing-dir', 'nope.db'), 'FULL');
    writers.push(w);
    const s = w.statement('INSERT INTO t (k, v) VALUES (?, ?)');
    const replies = await Promise.all([w.submit([s, RESULT_NONE, 2, 'a', 1]), w.submit([s, RESULT_NONE, 2, 'b', 2])]);
    for (const r of replies) expect(r.error?.message).toMatch(/cannot open .*nope\.db for writing/);
    // Later batches fail at once.
    expect((await w.submit([s, RESULT_NONE, 2, 'c', 3])).error).not.toBeNull();
  });

  it('commits what was submitted before close, then lets the file go', async () => {
    const { w, put } = writer('NORMAL');
    const pending = Array.from({ length: 50 }, (_, i) => w.submit([put, RESULT_NONE, 2, `k${String(i).padStart(2, '0')}`, i]));
    await w.close();
    expect((await Promise.all(pending)).every((r) => r.error === null)).toBe(true);
    expect(rows()).toHaveLength(50);
  });
});
