/**
 * The SQLite writer thread: every write of the embedded store runs on a connection of its
 * own in a worker thread, so that the main thread — which serves CoAP — spends no time in
 * SQLite or waiting for the disk (measured: the group commit took a quarter of the main
 * thread's time at fleet registration rates).
 *
 * The main thread sends batches of writes as flat arrays (cheap to copy between threads):
 * for each write `statement index, flags, parameter count, …parameters`. The writer runs the
 * batches that arrived together in ONE transaction, each write whose flags say ALONE in a
 * savepoint of its own (it fails alone, the rest commits). If the transaction fails, each
 * batch is retried in a transaction of its own, so that one tick's bad write never takes
 * another tick's writes down with it.
 *
 * Durability: the writer's connection runs with the store's `synchronous` mode; with FULL
 * (the default) every COMMIT flushes the WAL to disk before the batches are answered. The
 * flush blocks the writer thread, which has nothing else to do meanwhile: batches arriving
 * during a flush wait in the port and then commit together (group commit), one transaction
 * and one flush per disk round trip however many batches came — so a slow disk makes
 * bigger transactions, not a longer queue. (Measured against flushing on the thread pool
 * while committing on: fewer thread hand-offs per batch, same or better throughput, and
 * no transaction per event-loop turn rewriting the same index pages.)
 */
import { Worker } from 'node:worker_threads';

/** What a write answers: nothing, whether it changed a row, how many, or the new rowid. */
export const RESULT_NONE = 0;
export const RESULT_CHANGED = 1;
export const RESULT_CHANGES = 2;
export const RESULT_ROWID = 3;
/** Run in a savepoint: a failing write is rolled back and reported alone. */
export const ALONE = 4;
/** With ALONE: a write that changes no row is rolled back and reported as 'unchanged'. */
export const MUST_CHANGE = 8;
/**
 * May run as one row of a multi-row INSERT with the other COALESCE writes of its statement
 * in the same run of consecutive COALESCE writes (RESULT_NONE or RESULT_ROWID, never ALONE).
 * Within a run, writes of different statements may be reordered: give the flag only to
 * writes that do not depend on each other across statements (a registration and its event).
 * Measured: one statement per row was a fifth of the writer's time per registration.
 */
export const COALESCE = 16;

/**
 * How a statement is written as several rows: `head + row + tail` is the statement itself,
 * `head + row, row, … + tail` inserts several rows at once.
 */
export interface MultiRow {
  readonly head: string;
  readonly row: string;
  readonly tail: string;
}

/** A write that failed alone: its index in the batch, why, SQLite's message and error code. */
export type AloneFailure = [index: number, reason: 'unchanged' | 'error', message: string, code: string | null];

export interface WriterReply {
  /** Per write: undefined/null, a boolean, a count or a rowid (see the flags). */
  readonly results: (number | boolean | null)[];
  readonly failed: AloneFailure[] | null;
  /** The whole batch was rolled back (or its WAL flush failed): why. */
  readonly error: { readonly message: string; readonly code: string | null } | null;
}

interface WriterData {
  readonly sqlite: string;
  readonly file: string;
  readonly synchronous: 'OFF' | 'NORMAL' | 'FULL';
  readonly statements: readonly Statement[];
}

interface Statement {
  readonly sql: string;
  readonly multi: MultiRow | undefined;
}

type ToWriter =
  | { readonly type: 'batch'; readonly id: number; readonly ops: unknown[] }
  | { readonly type: 'prepare'; readonly statement: Statement }
  | { readonly type: 'close' };

type FromWriter =
  | ({ readonly type: 'done'; readonly id: number } & WriterReply)
  | { readonly type: 'fatal'; readonly message: string }
  | { readonly type: 'closed' };

/**
 * The main thread's handle on the writer. The thread starts with `start()` (the store
 * calls it once its statements are registered), or with the first batch.
 */
export class SqliteWriter {
  readonly #file: string;
  readonly #synchronous: 'OFF' | 'NORMAL' | 'FULL';
  readonly #statements: Statement[] = [];
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #waiting = new Map<number, (reply: WriterReply) => void>();
  #fatal: string | undefined;
  #closed: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;

  constructor(file: string, synchronous: 'OFF' | 'NORMAL' | 'FULL') {
    this.#file = file;
    this.#synchronous = synchronous;
  }

  /**
   * Registers a write statement; returns its index for {@link submit}. A statement given as
   * MultiRow parts may also run its COALESCE writes as multi-row INSERTs.
   */
  statement(sql: string | MultiRow): number {
    const statement: Statement = typeof sql === 'string' ? { sql, multi: undefined } : { sql: sql.head + sql.row + sql.tail, multi: sql };
    this.#statements.push(statement);
    this.#worker?.postMessage({ type: 'prepare', statement } satisfies ToWriter);
    return this.#statements.length - 1;
  }

  /** Runs one batch (see the file header for `ops`); never rejects — failures come in the reply. */
  submit(ops: unknown[]): Promise<WriterReply> {
    if (this.#fatal !== undefined) return Promise.resolve(fatalReply(this.#fatal));
    const worker = this.#start();
    const id = this.#nextId++;
    if (this.#waiting.size === 0) worker.ref();
    return new Promise<WriterReply>((resolve) => {
      this.#waiting.set(id, resolve);
      worker.postMessage({ type: 'batch', id, ops } satisfies ToWriter);
    });
  }

  /** Waits for every submitted batch, then closes the writer's connection and ends the thread. */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    const worker = this.#worker;
    if (worker === undefined || this.#fatal !== undefined) {
      this.#closed = worker === undefined ? Promise.resolve() : worker.terminate().then(() => undefined);
      return this.#closed;
    }
    worker.ref();
    this.#closed = new Promise<void>((resolve) => {
      this.#onClosed = resolve;
      worker.postMessage({ type: 'close' } satisfies ToWriter);
    }).then(() => worker.terminate().then(() => undefined));
    return this.#closed;
  }

  /** Starts the thread now rather than at the first write (a fleet's first burst then finds it ready). */
  start(): void {
    const worker = this.#start();
    if (this.#waiting.size === 0) worker.unref();
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const data: WriterData = {
      sqlite: require.resolve('better-sqlite3'),
      file: this.#file,
      synchronous: this.#synchronous,
      statements: this.#statements,
    };
    const worker = new Worker(`(${writerThread.toString()})()`, { eval: true, workerData: data });
    worker.on('message', (m: FromWriter) => this.#onMessage(m));
    worker.on('error', (err) => this.#fail(`the writer thread failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.#onClosed === undefined || this.#waiting.size > 0) this.#fail(`the writer thread exited (code ${code})`);
      this.#onClosed?.();
    });
    this.#worker = worker;
    return worker;
  }

  #onMessage(m: FromWriter): void {
    if (m.type === 'done') {
      const resolve = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (this.#waiting.size === 0 && this.#onClosed === undefined) this.#worker?.unref();
      resolve?.(m);
    } else if (m.type === 'fatal') {
      this.#fail(m.message);
    } else {
      this.#onClosed?.();
    }
  }

  /** The writer is gone: every waiting batch and every later one fails with `message`. */
  #fail(message: string): void {
    this.#fatal ??= message;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const resolve of waiting) resolve(fatalReply(this.#fatal));
    this.#worker?.unref();
  }
}

function fatalReply(message: string): WriterReply {
  return { results: [], failed: null, error: { message, code: null } };
}

/**
 * The body of the writer thread. It runs from its source text (`toString`), so it must not
 * use anything from this module's scope: everything it needs comes from `require` and
 * `workerData`. Coverage tools must leave it alone: their counters would not exist there.
 */
/* istanbul ignore next */
function writerThread(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const data = workerData as WriterData;
  const Database = require(data.sqlite) as typeof import('better-sqlite3');
  const port = parentPort!;
  const post = (m: FromWriter): void => port.postMessage(m);

  let db: import('better-sqlite3').Database;
  const prepared: import('better-sqlite3').Statement[] = [];
  const statements: Statement[] = [];
  /** Multi-row variants by statement index, then by row count. */
  const multiRow = new Map<number, Map<number, import('better-sqlite3').Statement>>();
  try {
    db = new Database(data.file);
    db.pragma('busy_timeout = 5000');
    db.pragma(`synchronous = ${data.synchronous}`);
    db.pragma('foreign_keys = ON');
    for (const st of data.statements) {
      prepared.push(db.prepare(st.sql));
      statements.push(st);
    }
  } catch (err) {
    post({ type: 'fatal', message: `cannot open ${data.file} for writing: ${(err as Error).message}` });
    return;
  }
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const savepoint = db.prepare('SAVEPOINT alone');
  const release = db.prepare('RELEASE alone');
  const rollbackTo = db.prepare('ROLLBACK TO alone');

  interface Batch {
    readonly id: number;
    readonly ops: unknown[];
    results: (number | boolean | null)[];
    failed: AloneFailure[] | null;
  }
  let queue: Batch[] = [];
  let scheduled = false;
  let closing = false;

  const codeOf = (err: unknown): string | null => {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : null;
  };

  /** The statement inserting `rows` rows at once (prepared once per size). */
  const multiRowStatement = (index: number, rows: number): import('better-sqlite3').Statement => {
    let bySize = multiRow.get(index);
    if (bySize === undefined) multiRow.set(index, (bySize = new Map()));
    let stmt = bySize.get(rows);
    if (stmt === undefined) {
      const m = statements[index]!.multi!;
      stmt = db.prepare(m.head + Array<string>(rows).fill(m.row).join(', ') + m.tail);
      bySize.set(rows, stmt);
    }
    return stmt;
  };

  /** Row counts a run of same-statement writes is cut into (few sizes, so few statements). */
  const CHUNKS = [64, 16, 4, 1];

  /**
   * A run of COALESCE writes starting at op offset `start`: each statement's writes, in
   * order, as multi-row INSERTs; their results are appended to `results`. Returns the
   * offset after the run.
   */
  const runCoalesced = (ops: unknown[], start: number, results: (number | boolean | null)[]): number => {
    // Group the run's writes by statement: [statement, write numbers, parameter lists].
    const groups = new Map<number, { writes: number[]; params: unknown[]; width: number; rowid: boolean }>();
    let i = start;
    let index = results.length;
    while (i < ops.length && ((ops[i + 1] as number) & 16) !== 0) {
      const st = ops[i] as number;
      const n = ops[i + 2] as number;
      let g = groups.get(st);
      if (g === undefined) groups.set(st, (g = { writes: [], params: [], width: n, rowid: ((ops[i + 1] as number) & 3) === 3 }));
      if (n !== g.width || statements[st]!.multi === undefined || ((ops[i + 1] as number) & 4) !== 0) throw new Error(`write ${index} cannot be coalesced`);
      g.writes.push(index);
      for (let k = i + 3; k < i + 3 + n; k++) g.params.push(ops[k]);
      results.push(null);
      i += 3 + n;
      index++;
    }
    for (const [st, g] of groups) {
      let done = 0;
      while (done < g.writes.length) {
        const left = g.writes.length - done;
        const rows = CHUNKS.find((c) => c <= left)!;
        const stmt = rows === 1 ? prepared[st]! : multiRowStatement(st, rows);
        // Spread, not an array: better-sqlite3 binds arguments directly but reads an array
        // element by element through the V8 API (measured: ~0.4 µs more per 12-column row).
        const info = stmt.run(...g.params.slice(done * g.width, (done + rows) * g.width));
        if (g.rowid) {
          // The rows of one INSERT get consecutive rowids, the last one reported.
          const last = Number(info.lastInsertRowid);
          for (let r = 0; r < rows; r++) results[g.writes[done + r]!] = last - (rows - 1 - r);
        }
        done += rows;
      }
    }
    return i;
  };

  /** Runs one batch's writes inside the open transaction; throws what fails the batch. */
  const runOps = (b: Batch): void => {
    const ops = b.ops;
    const results: (number | boolean | null)[] = [];
    let failed: AloneFailure[] | null = null;
    let i = 0;
    while (i < ops.length) {
      const flags = ops[i + 1] as number;
      if ((flags & 16) !== 0) {
        i = runCoalesced(ops, i, results);
        continue;
      }
      const index = results.length;
      const stmt = prepared[ops[i] as number]!;
      const n = ops[i + 2] as number;
      const params = ops.slice(i + 3, i + 3 + n);
      i += 3 + n;
      if ((flags & 4) === 0) {
        results.push(resultOf(stmt.run(...params), flags & 3));
      } else {
        savepoint.run();
        try {
          const info = stmt.run(...params);
          if ((flags & 8) !== 0 && info.changes === 0) {
            rollbackTo.run();
            (failed ??= []).push([index, 'unchanged', 'no row changed', null]);
            results.push(null);
          } else {
            results.push(resultOf(info, flags & 3));
          }
        } catch (err) {
          rollbackTo.run();
          (failed ??= []).push([index, 'error', (err as Error).message, codeOf(err)]);
          results.push(null);
        }
        release.run();
      }
    }
    b.results = results;
    b.failed = failed;
  };

  const resultOf = (info: import('better-sqlite3').RunResult, kind: number): number | boolean | null =>
    kind === 1 ? info.changes > 0 : kind === 2 ? info.changes : kind === 3 ? Number(info.lastInsertRowid) : null;

  /** One transaction for `batches`; on failure each batch again alone (if there were several). */
  const commitAll = (batches: Batch[]): void => {
    let error: unknown;
    try {
      begin.run();
      try {
        for (const b of batches) runOps(b);
        commit.run();
      } catch (err) {
        // SQLite rolls back by itself on some errors (SQLITE_FULL at commit, I/O errors).
        if (db.inTransaction) {
          try {
            rollback.run();
          } catch {
            // the original error is the one to report
          }
        }
        throw err;
      }
    } catch (err) {
      error = err;
    }
    if (error === undefined) {
      reply(batches);
    } else if (batches.length > 1) {
      for (const b of batches) commitAll([b]);
    } else {
      for (const b of batches) post({ type: 'done', id: b.id, results: [], failed: null, error: { message: (error as Error).message, code: codeOf(error) } });
    }
  };

  const reply = (batches: Batch[]): void => {
    for (const b of batches) post({ type: 'done', id: b.id, results: b.results, failed: b.failed, error: null });
  };

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  const flush = (): void => {
    scheduled = false;
    const batches = queue;
    queue = [];
    if (batches.length > 0) commitAll(batches);
    if (closing) finish();
  };

  const finish = (): void => {
    try {
      db.close();
    } catch {
      // nothing left to tell anyone
    }
    post({ type: 'closed' });
  };

  port.on('message', (m: ToWriter) => {
    if (m.type === 'batch') {
      queue.push({ id: m.id, ops: m.ops, results: [], failed: null });
    } else if (m.type === 'prepare') {
      prepared.push(db.prepare(m.statement.sql));
      statements.push(m.statement);
      return;
    } else {
      closing = true;
    }
    // Batches that arrive together share one transaction: wait for the end of this turn.
    schedule();
  });
}
