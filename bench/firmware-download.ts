/**
 * Firmware downloads: `--downloaders` devices (default 50) each fetching a 256 KiB firmware
 * block by block (Block2, 1024-byte blocks, one confirmable request outstanding per device,
 * each device on its own UDP socket), from the load generator in a child process
 * (bench/lib/load-generator.ts).
 *
 * The same load runs against our server — the real `createServer` with its firmware
 * repository, the file added through `firmware.add` and served from `/fw/<digest>` — and
 * against libcoap's `coap-server-notls`, which serves the same bytes as a dynamic resource
 * created with a block-wise PUT (`-d`) at the same path. Both are measured at 1, 10 and 50
 * downloaders: blocks/s, CPU per block (less disturbed by other load on a shared machine
 * than throughput) and the server's RSS, which must stay flat as downloaders are added:
 * the file is one shared Buffer, never copied per device.
 *
 *   npm run bench -- firmware-download [--seconds 5] [--downloaders 50] [--size 262144] [--block 1024] [--only ours|libcoap]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../src/server';
import { createManifest, generateKeyPair } from '../src/suit';
import { runLoad, type LoadStats } from './lib/load-generator';
import { freePort, procCpuMicros, rssKiB } from './lib/proc';
import { numberArg } from './lib/args';

const SECONDS = numberArg('seconds', 5);
const DOWNLOADERS = numberArg('downloaders', 50);
const SIZE = numberArg('size', 256 * 1024);
const BLOCK = numberArg('block', 1024);
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const STEPS = [...new Set([1, 10, DOWNLOADERS].filter((n) => n <= DOWNLOADERS))];

interface Phase {
  downloaders: number;
  stats: LoadStats;
  cpuPerBlockUs: number;
  rssMb: number;
  peakRssMb: number;
}

function image(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function print(name: string, p: Phase): void {
  const s = p.stats;
  const lost = s.timeouts > 0 ? `, ${s.timeouts} timeouts` : '';
  const bad = s.errors > 0 ? `, ${s.errors} non-2.xx` : '';
  console.log(
    `${name.padEnd(26)} ${String(p.downloaders).padStart(3)} downloaders ${String(s.perSecond).padStart(7)} blocks/s ` +
      `${((s.bytes * 8) / (s.durationMs / 1000) / 1e6).toFixed(0).padStart(5)} Mbit/s  ${String(s.transfers).padStart(5)} downloads  ` +
      `CPU ${p.cpuPerBlockUs.toFixed(1).padStart(5)} µs/block  RSS ${p.rssMb.toFixed(0)} MB (peak ${p.peakRssMb.toFixed(0)})${lost}${bad}`,
  );
}

async function measure(
  port: number,
  path: string,
  downloaders: number,
  cpu: () => number,
  rss: () => number,
): Promise<Phase> {
  let peak = rss();
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);
  const cpu0 = cpu();
  try {
    const stats = await runLoad({
      host: '::1',
      port,
      inFlight: downloaders,
      durationMs: SECONDS * 1000,
      warmupMs: 1000,
      request: { method: 'GET', path, block2Size: BLOCK },
    });
    const cpuPerBlockUs = (cpu() - cpu0) / Math.max(1, stats.okIncludingWarmup);
    const now = rss();
    return { downloaders, stats, cpuPerBlockUs, rssMb: now, peakRssMb: Math.max(peak, now) };
  } finally {
    clearInterval(sampler);
  }
}

async function ours(img: Buffer): Promise<Phase[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-fw-'));
  const keys = generateKeyPair('esp256');
  writeFileSync(join(dir, 'oem.pub.pem'), keys.publicPem);
  const server = await createServer({
    dataDir: join(dir, 'data'),
    coapHost: '::1',
    coapPort: 0,
    httpPort: false,
    trust: [join(dir, 'oem.pub.pem')],
  });
  try {
    const { envelope } = createManifest({
      image: img,
      sequenceNumber: 1,
      vendorDomain: 'example.com',
      className: 'bench',
      version: '1.0.0',
      relativeUri: true,
      signers: [keys.privateKey],
    });
    const rec = await server.firmware.add(envelope, img);
    const path = rec.payload!.uri;
    const port = server.coap.address().port;
    const rss = (): number => process.memoryUsage().rss / 1048576;
    const cpu = (): number => {
      const u = process.cpuUsage();
      return u.user + u.system;
    };
    (globalThis as { gc?: () => void }).gc?.();
    console.log(`lwm2m-fota: firmware ${rec.id.slice(0, 16)}…, payload at ${path.slice(0, 20)}…, RSS before load ${rss().toFixed(0)} MB`);
    const phases: Phase[] = [];
    for (const n of STEPS) {
      const p = await measure(port, path, n, cpu, rss);
      print('lwm2m-fota (createServer)', p);
      phases.push(p);
    }
    const c = server.firmware.cacheStats();
    console.log(`lwm2m-fota: firmware files in memory: ${c.entries} (${(c.bytes / 1024).toFixed(0)} KiB of ${(c.maxBytes / 1048576).toFixed(0)} MiB)`);
    return phases;
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function libcoap(img: Buffer): Promise<Phase[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-fw-libcoap-'));
  const file = join(dir, 'fw.bin');
  writeFileSync(file, img);
  const port = await freePort();
  // -d: allow resources created by PUT; the file goes to /fw/image with a block-wise PUT.
  const srv = spawn('coap-server-notls', ['-A', '::1', '-p', String(port), '-v', '0', '-d', '10'], { stdio: 'ignore' });
  const path = '/fw/image';
  try {
    for (let i = 0; ; i++) {
      const r = spawnSync('coap-client-notls', ['-m', 'put', '-b', String(BLOCK), '-f', file, '-B', '2', `coap://[::1]:${port}${path}`], { encoding: 'utf8' });
      if (r.status === 0 && !/4\.\d\d|5\.\d\d/.test(r.stdout + r.stderr)) break;
      if (i > 30) throw new Error(`cannot PUT the firmware into coap-server-notls: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const check = spawnSync('coap-client-notls', ['-b', String(BLOCK), '-o', join(dir, 'back.bin'), `coap://[::1]:${port}${path}`]);
    if (check.status !== 0 || !readFileSync(join(dir, 'back.bin')).equals(img)) throw new Error('coap-server-notls does not serve the firmware byte-exact');
    const pid = srv.pid as number;
    console.log(`libcoap: coap-server-notls serving the same ${img.length} bytes at ${path}, RSS before load ${(rssKiB(pid) / 1024).toFixed(0)} MB`);
    const phases: Phase[] = [];
    for (const n of STEPS) {
      const p = await measure(port, path, n, () => procCpuMicros(pid), () => (rssKiB(pid) / 1024));
      print('libcoap coap-server-notls', p);
      phases.push(p);
    }
    return phases;
  } finally {
    srv.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const img = image(SIZE);
  console.log(
    `Firmware download: ${SIZE} bytes in ${BLOCK}-byte Block2 blocks, ${STEPS.join(' / ')} concurrent downloaders (one CON in flight each, ` +
      `own UDP socket each), ${SECONDS} s per step (+1 s warm-up), load generator in a child process`,
  );
  const la = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`load average at start: ${la()}`);
  const a = ONLY === 'libcoap' ? undefined : await ours(img);
  const b = ONLY === 'ours' ? undefined : await libcoap(img);
  if (a && b) {
    for (let i = 0; i < STEPS.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      console.log(
        `ratio lwm2m-fota / libcoap at ${String(x.downloaders).padStart(2)} downloaders: ${(x.stats.perSecond / y.stats.perSecond).toFixed(2)} ` +
          `(blocks/s), CPU per block ${(x.cpuPerBlockUs / y.cpuPerBlockUs).toFixed(2)}×`,
      );
    }
    const first = a[0]!;
    const last = a[a.length - 1]!;
    console.log(`lwm2m-fota RSS from ${first.downloaders} to ${last.downloaders} downloaders: ${first.rssMb.toFixed(0)} → ${last.rssMb.toFixed(0)} MB`);
  }
  console.log(`load average at end: ${la()}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
