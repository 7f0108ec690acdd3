/**
 * A fleet updated end to end: N emulated devices (default 1,000), spread over child
 * processes (default 4 × 250, `createFleet`), register with `lwm2m-fota serve` (a child
 * process with a fresh data directory), and all are updated at once to a signed 256 KiB
 * image through the REST API: envelope verified on the device, image pulled with Block2
 * (or pushed with Block1), Update executed, reboot, re-registration, version confirmed.
 *
 * Printed: wall time from the first POST to the last job's end, jobs succeeded/failed,
 * blocks and bytes moved, and the server's RSS (idle with the fleet registered, peak
 * during the update, per device). Figures only; nothing here asserts a time.
 *
 * The peak is mostly garbage awaiting collection, not memory held per device: a heap
 * snapshot taken mid-update (1,000 devices, heap in use above 85 MB) found ~21 MB live in
 * all, a third of it compiled code. RSS does not fall back within 10 s after the update
 * (V8 keeps the heap it grew), so an "after" reading would not tell retention either.
 *
 *   npm run bench -- update-fleet [--devices 1000] [--procs 4] [--size 256k] [--block 1024] [--method pull|push]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createFleet } from '../src/device';
import { loadObjectModels } from '../src/lwm2m/core/model';
import { createManifest, generateKeyPair, loadPublicKey, publicKeyToPem } from '../src/suit';
import { procCpuMicros, rssKiB, stop, waitForLine } from './lib/proc';
import { stringArg } from './lib/args';

const cpuMs = (pid: number): number => procCpuMicros(pid) / 1000;

function size(text: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  return Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2]!) ? 1024 : 1024 * 1024);
}

const CLI = join(__dirname, '..', 'src', 'cli', 'main.js');
/** The shipped DDF objects: the compiled bench lives in dist-bench/, the XML files at the top. */
const OBJECTS = join(__dirname, '..', '..', 'objects');
const VENDOR = 'example.com';
const CLASS = 'bench-sensor';
const TOKEN = 'bench';

// ---------------------------------------------------------------------------------------
// Child: a fleet of devices

async function child(): Promise<void> {
  const fleet = await createFleet({
    count: Number(stringArg('count', '250')),
    prefix: stringArg('prefix', 'fleet'),
    server: stringArg('server', ''),
    trustedKeys: [{ key: loadPublicKey(readFileSync(stringArg('trust', ''))) }],
    vendorDomain: VENDOR,
    className: CLASS,
    firmwareVersion: '1.0.0',
    sequenceNumber: 1,
    blockSize: Number(stringArg('block', '1024')),
    lifetime: 3600,
    rebootDelayMs: 500,
    installDelayMs: 100,
    startConcurrency: 25,
    transmission: { ackTimeoutMs: 1000, ackRandomFactor: 1.5, maxRetransmit: 5 },
    model: loadObjectModels({ includeDefaults: false, directories: [OBJECTS] }).registry,
  });
  let updated = 0;
  let failed = 0;
  fleet.on('updated', () => updated++);
  fleet.on('updateFailed', () => failed++);
  fleet.on('rejected', () => failed++);
  await fleet.start();
  process.stdout.write(`ready ${fleet.devices.length}\n`);
  const report = setInterval(() => process.stdout.write(`progress ${updated} ${failed}\n`), 1000);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  clearInterval(report);
  await fleet.stop({ deregister: false });
  process.exit(0);
}

// ---------------------------------------------------------------------------------------
// Parent: server, fleets, the update

interface JobSummary {
  endpoint: string;
  state: string;
  reason: string | null;
  updateResult: number | null;
}

async function api<T>(port: number, method: string, path: string, body?: Buffer | object): Promise<{ status: number; body: T }> {
  const raw = Buffer.isBuffer(body);
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': raw ? 'application/octet-stream' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

async function parent(): Promise<void> {
  const devices = Number(stringArg('devices', '1000'));
  const procs = Math.max(1, Number(stringArg('procs', '4')));
  const imageSize = size(stringArg('size', '256k'));
  const block = Number(stringArg('block', '1024'));
  const method = stringArg('method', 'pull');
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(
    `update-fleet: ${devices} devices in ${procs} processes, ${imageSize / 1024} KiB image, ${block}-byte blocks, ${method}; load average ${load}\n`,
  );

  const dir = mkdtempSync(join(tmpdir(), 'lwm2m-fota-bench-update-'));
  const keys = generateKeyPair('esp256');
  const pem = join(dir, 'oem.pub.pem');
  writeFileSync(pem, publicKeyToPem(keys.privateKey));
  const image = Buffer.alloc(imageSize);
  for (let i = 0; i < imageSize; i++) image[i] = (i * 131 + 17) & 0xff;
  Buffer.from('fw-version=2.0.0\n').copy(image, 0);
  const { envelope } = createManifest({
    image,
    sequenceNumber: 2,
    vendorDomain: VENDOR,
    className: CLASS,
    relativeUri: true,
    version: '2.0.0',
    signers: [keys.privateKey],
  });

  const server = spawn(
    process.execPath,
    [CLI, 'serve', '--quiet', '--data-dir', join(dir, 'data'), '--coap-port', '0', '--coap-host', '::', '--http-port', '0', '--trust', pem, '--update-backoff', '2', '--objects', OBJECTS],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LWM2M_FOTA_TOKEN: TOKEN } },
  );
  const fleets: ChildProcess[] = [];
  try {
    const started = await waitForLine(server, /coap:\/\/\[[^\]]*\]:(\d+)[\s\S]*http:\/\/[\d.]+:(\d+)/);
    const coapPort = Number(started[1]);
    const httpPort = Number(started[2]);
    // Keep reading what the server logs (a full pipe would block it); show the first lines.
    let logged = 0;
    server.stdout?.on('data', (d: Buffer) => {
      if (logged++ < 5 || process.env['BENCH_VERBOSE'] !== undefined) process.stderr.write(`server: ${d.toString()}`);
    });
    const digest = createHash('sha256').update(image).digest('hex');
    const staged = await api<unknown>(httpPort, 'PUT', `/api/firmware/images/${digest}`, image);
    if (staged.status !== 201 && staged.status !== 200) throw new Error(`staging the image: ${staged.status} ${JSON.stringify(staged.body)}`);
    const added = await api<{ id: string }>(httpPort, 'POST', '/api/firmware', Buffer.from(envelope));
    if (added.status !== 201 && added.status !== 200) throw new Error(`adding the envelope: ${added.status} ${JSON.stringify(added.body)}`);
    const firmware = added.body.id;

    // The fleets.
    const t0 = Date.now();
    const per = Math.ceil(devices / procs);
    const ready: Array<Promise<unknown>> = [];
    for (let p = 0; p < procs; p++) {
      const count = Math.min(per, devices - p * per);
      if (count <= 0) break;
      const c = spawn(
        process.execPath,
        [__filename, '--child', '--count', String(count), '--prefix', `ufb${p}`, '--server', `coap://[::1]:${coapPort}`, '--trust', pem, '--block', String(block)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      fleets.push(c);
      ready.push(waitForLine(c, /ready (\d+)/, 300_000));
    }
    await Promise.all(ready);
    const registeredMs = Date.now() - t0;
    const list = await api<{ devices: Array<{ endpoint: string }> }>(httpPort, 'GET', '/api/devices');
    const endpoints = list.body.devices.map((d) => d.endpoint).filter((e) => e.startsWith('ufb'));
    await new Promise((r) => setTimeout(r, 1000)); // the version reads after registration settle
    const idleRss = rssKiB(server.pid!);
    process.stdout.write(`${endpoints.length} devices registered in ${(registeredMs / 1000).toFixed(1)} s; server RSS ${(idleRss / 1024).toFixed(0)} MiB\n`);

    // The update: every device at once.
    let peakRss = idleRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssKiB(server.pid!))), 200);
    const cpu0 = cpuMs(server.pid!);
    const start = Date.now();
    const queue = [...endpoints];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let ep = queue.shift(); ep !== undefined; ep = queue.shift()) {
          const r = await api<unknown>(httpPort, 'POST', `/api/devices/${encodeURIComponent(ep)}/update`, { firmware, method });
          if (r.status !== 201) throw new Error(`update ${ep}: ${r.status} ${JSON.stringify(r.body)}`);
        }
      }),
    );
    const posted = Date.now() - start;
    let last = '';
    for (;;) {
      const active = await api<{ jobs: Array<{ state: string }> }>(httpPort, 'GET', '/api/updates?active=1&limit=1000');
      const n = active.body.jobs.length;
      const states = new Map<string, number>();
      for (const j of active.body.jobs) states.set(j.state, (states.get(j.state) ?? 0) + 1);
      const line = `  ${((Date.now() - start) / 1000).toFixed(0)} s: ${endpoints.length - n}/${endpoints.length} jobs ended${n === 0 ? '' : `; ${[...states].map(([k, v]) => `${v} ${k}`).join(', ')}`}`;
      if (line !== last && (Date.now() - start) % 5000 < 600) process.stdout.write(line + '\n');
      last = line;
      if (n === 0) break;
      if (Date.now() - start > 30 * 60_000) throw new Error('the update did not finish within 30 minutes');
      await new Promise((r) => setTimeout(r, 500));
    }
    const wall = Date.now() - start;
    clearInterval(sampler);
    const cpu = cpuMs(server.pid!) - cpu0;
    const jobs = await api<{ jobs: JobSummary[] }>(httpPort, 'GET', '/api/updates?limit=1000');
    const ours = jobs.body.jobs.filter((j) => j.endpoint.startsWith('ufb'));
    const ok = ours.filter((j) => j.state === 'succeeded').length;
    const failures = new Map<string, number>();
    for (const j of ours) if (j.state !== 'succeeded') failures.set(`${j.state}:${j.reason ?? ''}:${j.updateResult ?? ''}`, (failures.get(`${j.state}:${j.reason ?? ''}:${j.updateResult ?? ''}`) ?? 0) + 1);
    const blocks = Math.ceil(imageSize / block) * endpoints.length;
    const rows: Array<[string, string]> = [
      ['devices', String(endpoints.length)],
      ['succeeded', `${ok}/${ours.length}`],
      ['failed', failures.size === 0 ? '0' : [...failures].map(([k, v]) => `${v}× ${k}`).join(', ')],
      ['wall time', `${(wall / 1000).toFixed(1)} s (all ${endpoints.length} jobs posted in ${(posted / 1000).toFixed(1)} s)`],
      ['image blocks', `${blocks} × ${block} B = ${((blocks * block) / 1024 / 1024).toFixed(0)} MiB, ${Math.round(blocks / (wall / 1000))} blocks/s overall`],
      ['server CPU', `${(cpu / 1000).toFixed(1)} s (${((100 * cpu) / wall).toFixed(0)}% of one core)`],
      ['server RSS', `idle ${(idleRss / 1024).toFixed(0)} MiB with the fleet registered, peak ${(peakRss / 1024).toFixed(0)} MiB during the update`],
      ['RSS per device', `${(((peakRss - idleRss) * 1024) / endpoints.length / 1024).toFixed(1)} KiB (peak − idle)`],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
  } finally {
    await Promise.all(fleets.map(stop));
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

(process.argv.includes('--child') ? child() : parent()).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
