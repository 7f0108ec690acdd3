/**
 * Store write throughput: registrations as the server handles them — one registration
 * upsert plus one `registered` event, both awaited (durable) before the 2.01 would go
 * out — from `--concurrency` devices registering at once (closed loop: a device registers
 * again as soon as its previous registration was acknowledged).
 *
 * For synchronous FULL and NORMAL: 100,000 first registrations (inserts), then 100,000
 * re-registrations of the same endpoints (updates with a new registration id), then the
 * size of the database at 100,000 registrations (+ 200,000 events).
 *
 *   npm run bench -- store-write [--rows 100000] [--concurrency 1000]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { openSqliteStore, type RegistrationRecord, type SqliteStore } from '../src/store';
import { numberArg } from './lib/args';

const ROWS = numberArg('rows', 100_000, true);
const CONCURRENCY = numberArg('concurrency', 1000, true);
const LINKS = '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</4/0>,</5/0>,</6/0>,</33629/0>';

interface Phase {
  registrations: number;
  seconds: number;
  p50: number;
  p99: number;
}

async function phase(store: SqliteStore, round: number): Promise<Phase> {
  const latencies = new Float64Array(ROWS);
  let next = 0;
  const device = async (): Promise<void> => {
    for (let n = next++; n < ROWS; n = next++) {
      const endpoint = `urn:dev:bench-${n}`;
      const now = Date.now();
      const record: RegistrationRecord = {
        registrationId: `${round}-${n}`,
        endpoint,
        address: '::ffff:192.0.2.1',
        port: 1024 + (n % 60000),
        lifetime: 86400,
        lwm2mVersion: '1.1',
        binding: 'U',
        queueMode: false,
        links: LINKS,
        registeredAt: now,
        lastSeen: now,
      };
      const t0 = performance.now();
      await Promise.all([
        store.registrations.put(record),
        store.events.append({ type: round === 0 ? 'registered' : 'updated', endpoint, data: { registrationId: record.registrationId } }),
      ]);
      latencies[n] = performance.now() - t0;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, device));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  return {
    registrations: ROWS,
    seconds,
    p50: latencies[Math.floor(ROWS * 0.5)] ?? 0,
    p99: latencies[Math.floor(ROWS * 0.99)] ?? 0,
  };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function report(label: string, p: Phase): void {
  const perSecond = p.registrations / p.seconds;
  process.stdout.write(
    `  ${label.padEnd(18)} ${Math.round(perSecond).toLocaleString('en').padStart(8)} registrations/s ` +
      `= ${Math.round(perSecond * 2).toLocaleString('en').padStart(8)} writes/s ` +
      `(latency p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms)\n`,
  );
}

async function main(): Promise<void> {
  process.stdout.write(`store-write: ${ROWS.toLocaleString('en')} endpoints, ${CONCURRENCY} concurrent registrations, each = put + append\n`);
  for (const synchronous of ['FULL', 'NORMAL'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'lwm2m-fota-bench-'));
    const file = join(dir, 'store.db');
    try {
      const store = openSqliteStore({ file, synchronous });
      process.stdout.write(`synchronous=${synchronous}\n`);
      report('first registration', await phase(store, 0));
      report('re-registration', await phase(store, 1));
      const main = fileSize(file);
      const wal = fileSize(`${file}-wal`);
      store.checkpoint();
      const checkpointed = fileSize(file);
      const events = await store.events.lastId();
      const rows = await store.registrations.count();
      process.stdout.write(
        `  size at ${rows.toLocaleString('en')} registrations + ${events.toLocaleString('en')} events: ` +
          `${mb(main)} + ${mb(wal)} WAL; ${mb(checkpointed)} after checkpoint\n`,
      );
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
