/**
 * Registration throughput: N devices (unique endpoint names) register from a load
 * generator in another process, many requests in flight, against
 *   1. `lwm2m-fota serve --coap-host ::1` (child process, fresh SQLite data directory,
 *      FULL durability: every registration and its event are committed and the WAL
 *      flushed to disk before the 2.01 leaves), and
 *   2. libcoap's resource directory `coap-rd-notls -A ::1` (C, in memory)
 * under the same load, and prints registrations per second, the ratio, our server's CPU
 * time per registration (all its threads) and its RSS per registered device.
 *
 * Each count runs `--repeat` times (default 3), the two servers alternating, and the table
 * gives the median rates: the machine is shared and single runs vary by ±20%.
 *
 * Before the N measured devices, each server (both alike) first registers `--warmup` other
 * devices (default 5,000; `--warmup 0` measures from a cold start). A server that has run
 * for a while has compiled its hot paths; without this, 10,000 devices measure mostly how
 * fast V8's JIT warms up, on our side and in the Node load generator that both servers
 * share. Only the N devices count in the rate, the CPU and the RSS figures; the server
 * then holds N + warm-up devices, and "durable rows" counts them all.
 *
 * The devices register in two halves (two generator processes, fresh names each), so that
 * memory is reported twice: "RSS/device" is the whole growth over all N devices, which
 * includes what any server grows by under load once (the V8 young generation sizing
 * itself, JIT code, SQLite's page caches); "marginal" is the growth during the second half
 * divided by its devices — what one more registered device costs.
 *
 * "main run+wait" and "writer run+wait" (Linux schedstat, per registration): how long the
 * server's main thread and its SQLite writer thread were on a CPU, and how long they were
 * runnable but waiting for one. On a machine with few cores the server's threads and the
 * generator take turns; a large wait says the CPUs, not the server's design, set the rate.
 *
 * Figures only; nothing here asserts a time.
 *
 *   npm run bench -- registration [--counts 10000,100000] [--in-flight 128] [--repeat 3] [--warmup 5000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runLoad, type LoadRequestTemplate, type LoadStats } from './lib/load-generator';
import { procCpuMicros, rssKiB, stop, threadSchedstat, waitForLine } from './lib/proc';
import { numberArg, stringArg } from './lib/args';

const counts = stringArg('counts', '10000,100000').split(',').map(Number);
const inFlight = numberArg('in-flight', 128, true);
const repeat = numberArg('repeat', 3, true);
const warmup = numberArg('warmup', 5000, true, true);
const CLI = join(__dirname, '..', 'src', 'cli', 'main.js');

const REGISTER: LoadRequestTemplate = {
  method: 'POST',
  path: '/rd',
  query: ['ep=bench-{unique}', 'lt=86400', 'lwm2m=1.1', 'b=U'],
  payload: '</1/0>,</3/0>,</5/0>',
  contentFormat: 40,
};

/** What carried our server's datagrams (its start-up line says), for the table's last line. */
const udpSeen = new Set<string>();

/** The warm-up's devices: other names, the same requests. */
const WARMUP: LoadRequestTemplate = { ...REGISTER, query: ['ep=warmup-{unique}', ...REGISTER.query!.slice(1)] };

/** Registers the warm-up devices (none when --warmup 0); not measured. */
async function warm(port: number): Promise<void> {
  if (warmup > 0) await runLoad({ host: '::1', port, inFlight, total: warmup, timeoutMs: 5000, request: WARMUP });
}

/** Both halves of one run: rate over their measured time together, timeouts summed. */
interface Run {
  readonly perSecond: number;
  readonly timeouts: number;
}

interface OursRun extends Run {
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
  readonly rssPerDeviceB: number;
  readonly marginalPerDeviceB: number;
  readonly durable: number;
  readonly cpuPerRegUs: number;
  /** Per registration: the main thread's and the writer's time on a CPU and waiting for one (µs). */
  readonly threads: { mainRun: number; mainWait: number; writerRun: number; writerWait: number } | undefined;
}

/**
 * The main thread's and the busiest other thread's (the SQLite writer under this load)
 * CPU time and run-queue wait between two schedstat readings, per registration.
 */
function threadTimes(pid: number, before: ReturnType<typeof threadSchedstat>, after: ReturnType<typeof threadSchedstat>, n: number): OursRun['threads'] {
  const delta = [...after].map(([tid, a]) => {
    const b = before.get(tid) ?? { runNs: 0, waitNs: 0 };
    return { tid, run: (a.runNs - b.runNs) / 1000 / n, wait: (a.waitNs - b.waitNs) / 1000 / n };
  });
  const main = delta.find((d) => d.tid === pid);
  const writer = delta.filter((d) => d.tid !== pid).sort((x, y) => y.run - x.run)[0];
  if (main === undefined || writer === undefined) return undefined;
  return { mainRun: main.run, mainWait: main.wait, writerRun: writer.run, writerWait: writer.wait };
}

/** Registers `n` devices in two halves on `port`; `between` runs after the first half. */
async function register(port: number, n: number, between: () => void = () => {}): Promise<Run> {
  const first = Math.floor(n / 2);
  const load = (total: number): Promise<LoadStats> => runLoad({ host: '::1', port, inFlight, total, timeoutMs: 5000, request: REGISTER });
  const a = await load(first);
  between();
  const b = await load(n - first);
  return { perSecond: Math.round(((a.ok + b.ok) * 1000) / (a.durationMs + b.durationMs)), timeouts: a.timeouts + b.timeouts };
}

async function ours(n: number): Promise<OursRun> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-fota-bench-'));
  const child = spawn(process.execPath, [CLI, 'serve', '--quiet', '--data-dir', dataDir, '--coap-port', '0', '--coap-host', '::1', '--http-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LWM2M_FOTA_TOKEN: 'bench' },
  });
  try {
    const m = await waitForLine(child, /coap:\/\/\[[^\]]*\]:(\d+) \(registration at \/rd; (UDP[^)]*)\)/, 20_000);
    const port = Number(m[1]);
    udpSeen.add(m[2]!);
    await new Promise((r) => setTimeout(r, 300));
    await warm(port);
    const before = rssKiB(child.pid!);
    const cpu0 = procCpuMicros(child.pid!);
    const sched0 = threadSchedstat(child.pid!);
    let middle = NaN;
    const run = await register(port, n, () => (middle = rssKiB(child.pid!)));
    const after = rssKiB(child.pid!);
    const cpuPerRegUs = (procCpuMicros(child.pid!) - cpu0) / n;
    const threads = threadTimes(child.pid!, sched0, threadSchedstat(child.pid!), n);
    await stop(child);
    const db = new Database(join(dataDir, 'lwm2m-fota.sqlite'), { readonly: true });
    const durable = db.prepare('SELECT count(*) FROM registrations').pluck().get() as number;
    db.close();
    return {
      ...run,
      rssBeforeMiB: before / 1024,
      rssAfterMiB: after / 1024,
      rssPerDeviceB: ((after - before) * 1024) / n,
      marginalPerDeviceB: ((after - middle) * 1024) / (n - Math.floor(n / 2)),
      durable,
      cpuPerRegUs,
      threads,
    };
  } finally {
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function libcoap(n: number): Promise<Run | undefined> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  let child: ChildProcess;
  try {
    child = spawn('coap-rd-notls', ['-A', '::1', '-p', String(port)], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const failed = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(true));
    setTimeout(() => resolve(false), 300);
  });
  if (failed) return undefined;
  try {
    await warm(port);
    return await register(port, n);
  } finally {
    await stop(child);
  }
}

function median<T>(runs: T[], key: (r: T) => number): T {
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor((runs.length - 1) / 2)]!;
}

async function main(): Promise<void> {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(
    `registration benchmark: ${inFlight} in flight, ${repeat} run(s) per count (medians), ${warmup} warm-up registrations per server before each run, load average ${load}\n`,
  );
  const rows: string[][] = [
    ['devices', 'lwm2m-fota reg/s', 'runs', 'durable rows', 'timeouts', 'RSS before→after', 'RSS/device', 'marginal', 'CPU/reg', 'main run+wait', 'writer run+wait', 'coap-rd reg/s', 'runs', 'timeouts', 'ratio'],
  ];
  for (const n of counts) {
    const a: OursRun[] = [];
    const b: Run[] = [];
    for (let i = 0; i < repeat; i++) {
      a.push(await ours(n));
      const r = await libcoap(n);
      if (r) b.push(r);
    }
    const m = median(a, (r) => r.perSecond);
    const c = b.length > 0 ? median(b, (r) => r.perSecond) : undefined;
    rows.push([
      String(n),
      String(m.perSecond),
      a.map((r) => r.perSecond).join(' '),
      `${Math.min(...a.map((r) => r.durable))}/${n + warmup}`,
      String(m.timeouts),
      `${m.rssBeforeMiB.toFixed(0)}→${m.rssAfterMiB.toFixed(0)} MiB`,
      `${m.rssPerDeviceB.toFixed(0)} B`,
      `${m.marginalPerDeviceB.toFixed(0)} B`,
      `${m.cpuPerRegUs.toFixed(1)} µs`,
      m.threads ? `${m.threads.mainRun.toFixed(1)}+${m.threads.mainWait.toFixed(1)} µs` : 'n/a',
      m.threads ? `${m.threads.writerRun.toFixed(1)}+${m.threads.writerWait.toFixed(1)} µs` : 'n/a',
      c ? String(c.perSecond) : 'n/a (coap-rd-notls missing)',
      b.map((r) => r.perSecond).join(' '),
      c ? String(c.timeouts) : '-',
      c ? (m.perSecond / c.perSecond).toFixed(2) : '-',
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((cell, i) => cell.padEnd(w[i]!)).join('  ') + '\n');
  process.stdout.write(`lwm2m-fota's socket: ${[...udpSeen].join(', ')} (LWM2M_FOTA_UDP=dgram for node:dgram)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
