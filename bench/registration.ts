/**
 * Registration throughput: N devices (unique endpoint names) register from a load
 * generator in another process, many requests in flight, against
 *   1. `lwm2m-fota serve` (child process, fresh SQLite data directory, FULL durability:
 *      every registration and its event are committed and the WAL fsynced before the
 *      2.01 leaves), and
 *   2. libcoap's resource directory `coap-rd-notls` (C, in memory)
 * under the same load, and prints registrations per second, the ratio, and our server's
 * RSS per registered device. Figures only; nothing here asserts a time.
 *
 *   npm run bench -- registration [--counts 10000,100000] [--in-flight 64]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runLoad, type LoadRequestTemplate, type LoadStats } from './lib/load-generator';
import { procCpuMicros, rssKiB, stop, waitForLine } from './lib/proc';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const counts = arg('counts', '10000,100000').split(',').map(Number);
const inFlight = Number(arg('in-flight', '64'));
const CLI = join(__dirname, '..', 'src', 'cli', 'main.js');

const REGISTER: LoadRequestTemplate = {
  method: 'POST',
  path: '/rd',
  query: ['ep=bench-{unique}', 'lt=86400', 'lwm2m=1.1', 'b=U'],
  payload: '</1/0>,</3/0>,</5/0>',
  contentFormat: 40,
};

async function ours(n: number): Promise<{ stats: LoadStats; rssPerDeviceB: number; rssBeforeMiB: number; rssAfterMiB: number; durable: number; cpuPerRegUs: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-fota-bench-'));
  const child = spawn(process.execPath, [CLI, 'serve', '--quiet', '--data-dir', dataDir, '--coap-port', '0', '--coap-host', '::', '--http-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LWM2M_FOTA_TOKEN: 'bench' },
  });
  try {
    const m = await waitForLine(child, /coap:\/\/\[[^\]]*\]:(\d+)/, 20_000);
    const port = Number(m[1]);
    await new Promise((r) => setTimeout(r, 300));
    const before = rssKiB(child.pid!);
    const cpu0 = procCpuMicros(child.pid!);
    const stats = await runLoad({ host: '::1', port, inFlight, total: n, timeoutMs: 5000, request: REGISTER });
    const after = rssKiB(child.pid!);
    const cpuPerRegUs = (procCpuMicros(child.pid!) - cpu0) / n;
    await stop(child);
    const db = new Database(join(dataDir, 'lwm2m-fota.sqlite'), { readonly: true });
    const durable = db.prepare('SELECT count(*) FROM registrations').pluck().get() as number;
    db.close();
    return { stats, rssPerDeviceB: ((after - before) * 1024) / n, rssBeforeMiB: before / 1024, rssAfterMiB: after / 1024, durable, cpuPerRegUs };
  } finally {
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function libcoap(n: number): Promise<LoadStats | undefined> {
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
    return await runLoad({ host: '::1', port, inFlight, total: n, timeoutMs: 5000, request: REGISTER });
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`registration benchmark: ${inFlight} in flight, load average ${load}\n`);
  const rows: string[][] = [['devices', 'lwm2m-fota reg/s', 'durable rows', 'timeouts', 'RSS before→after', 'RSS/device', 'CPU/reg', 'coap-rd reg/s', 'ratio']];
  for (const n of counts) {
    const a = await ours(n);
    const b = await libcoap(n);
    rows.push([
      String(n),
      String(a.stats.perSecond),
      `${a.durable}/${n}`,
      String(a.stats.timeouts),
      `${a.rssBeforeMiB.toFixed(0)}→${a.rssAfterMiB.toFixed(0)} MiB`,
      `${a.rssPerDeviceB.toFixed(0)} B`,
      `${a.cpuPerRegUs.toFixed(1)} µs`,
      b ? String(b.perSecond) : 'n/a (coap-rd-notls missing)',
      b ? (a.stats.perSecond / b.perSecond).toFixed(2) : '-',
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(w[i]!)).join('  ') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
