/**
 * CoAP GET throughput of our endpoint against libcoap's C server, same load, same machine:
 * a 16-byte resource, `--inflight` confirmable GETs outstanding (default 16), for
 * `--seconds` (default 5) after a 1 s warm-up. The server under test runs in this process;
 * the load generator (bench/lib/load-generator.ts) runs in a child process.
 *
 * The machine is shared: besides req/s it prints the CPU time each server spent per request
 * (our process: process.cpuUsage; libcoap: /proc/<pid>/stat), which load from other
 * processes disturbs far less than throughput.
 *
 * Also prints the per-message cost of our encoder and decoder against coap-packet's
 * `generate` and `parse`, which is why the endpoint has its own codec.
 *
 *   npm run bench -- coap-get [--seconds 5] [--inflight 16] [--only ours|libcoap]
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { generate, parse } from 'coap-packet';
import { createCoapEndpoint, ResponseCode, type CoapEndpoint } from '../src/coap';
import { MessageType, decode, encode, encodeUint } from '../src/coap/message';
import { runLoad, type LoadStats } from './lib/load-generator';
import { freePort, procCpuMicros } from './lib/proc';
import { numberArg } from './lib/args';

const SECONDS = numberArg('seconds', 5);
const IN_FLIGHT = numberArg('inflight', 16);
const BODY = Buffer.from('0123456789abcdef'); // 16 bytes

function line(name: string, s: LoadStats, extra = ''): void {
  const lost = s.timeouts > 0 ? `, ${s.timeouts} timeouts` : '';
  const bad = s.errors > 0 ? `, ${s.errors} non-2.xx` : '';
  console.log(`${name.padEnd(28)} ${String(s.perSecond).padStart(8)} req/s  (${s.ok} in ${s.durationMs} ms${lost}${bad})${extra}`);
}

function codecCost(): void {
  const token = Buffer.from([1, 2, 3, 4]);
  const opts = [{ number: 12, value: encodeUint(0) }];
  const N = 300_000;
  let t0 = performance.now();
  for (let i = 0; i < N; i++) encode(MessageType.ACK, 0x45, i & 0xffff, token, opts, BODY);
  const ours = ((performance.now() - t0) * 1e6) / N;
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    generate({ ack: true, code: '2.05', messageId: i & 0xffff, token, options: [{ name: 'Content-Format', value: encodeUint(0) }], payload: BODY });
  }
  const theirs = ((performance.now() - t0) * 1e6) / N;
  const block = Buffer.alloc(1024, 1);
  t0 = performance.now();
  for (let i = 0; i < N / 3; i++) encode(MessageType.ACK, 0x45, i & 0xffff, token, opts, block);
  const ours1k = ((performance.now() - t0) * 1e6) / (N / 3);
  t0 = performance.now();
  for (let i = 0; i < N / 3; i++) {
    generate({ ack: true, code: '2.05', messageId: i & 0xffff, token, options: [{ name: 'Content-Format', value: encodeUint(0) }], payload: block });
  }
  const theirs1k = ((performance.now() - t0) * 1e6) / (N / 3);
  // A registration: Uri-Path, Content-Format, four Uri-Query and a link-format payload.
  const query = ['ep=bench-0123456789', 'lt=86400', 'lwm2m=1.1', 'b=U'].map((q) => ({ number: 15, value: Buffer.from(q) }));
  const dg = encode(MessageType.CON, 2, 1, token, [{ number: 11, value: Buffer.from('rd') }, { number: 12, value: encodeUint(40) }, ...query], Buffer.from('</1/0>,</3/0>,</5/0>'));
  t0 = performance.now();
  for (let i = 0; i < N; i++) decode(dg);
  const decodeOurs = ((performance.now() - t0) * 1e6) / N;
  t0 = performance.now();
  for (let i = 0; i < N; i++) parse(dg);
  const decodeTheirs = ((performance.now() - t0) * 1e6) / N;
  console.log(
    `codec: encode 16 B ${ours.toFixed(0)} ns vs coap-packet generate ${theirs.toFixed(0)} ns; ` +
      `1 KiB block ${ours1k.toFixed(0)} ns vs ${theirs1k.toFixed(0)} ns; ` +
      `decode a registration ${decodeOurs.toFixed(0)} ns vs coap-packet parse ${decodeTheirs.toFixed(0)} ns`,
  );
}

async function ours(): Promise<LoadStats> {
  const ep: CoapEndpoint = await createCoapEndpoint({ host: '::1', port: 0 });
  ep.route(['example_data'], () => ({ code: ResponseCode.Content, payload: BODY }));
  try {
    const cpu0 = process.cpuUsage();
    const stats = await runLoad({
      host: '::1',
      port: ep.address().port,
      inFlight: IN_FLIGHT,
      durationMs: SECONDS * 1000,
      request: { method: 'GET', path: '/example_data' },
    });
    const cpu = process.cpuUsage(cpu0);
    const perReq = (cpu.user + cpu.system) / stats.okIncludingWarmup;
    const rss = Math.round(process.memoryUsage().rss / 1048576);
    line('lwm2m-fota endpoint', stats, `, server CPU ${perReq.toFixed(1)} µs/req, RSS ${rss} MB`);
    return stats;
  } finally {
    await ep.close();
  }
}

async function libcoap(): Promise<LoadStats> {
  const port = await freePort();
  const srv = spawn('coap-server-notls', ['-A', '::1', '-p', String(port), '-v', '0'], { stdio: 'ignore' });
  const client = await createCoapEndpoint({ host: '::1', port: 0 });
  try {
    // Put 16 bytes into libcoap's /example_data so both servers serve the same resource.
    for (let i = 0; ; i++) {
      try {
        const r = await client.request({ address: '::1', port }, { method: 'PUT', path: 'example_data', payload: BODY, timeoutMs: 300 });
        if (!r.code.startsWith('2.')) throw new Error(`PUT /example_data answered ${r.code}`);
        break;
      } catch (err) {
        if (i > 30) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const cpu0 = procCpuMicros(srv.pid as number);
    const stats = await runLoad({
      host: '::1',
      port,
      inFlight: IN_FLIGHT,
      durationMs: SECONDS * 1000,
      request: { method: 'GET', path: '/example_data' },
    });
    const perReq = (procCpuMicros(srv.pid as number) - cpu0) / stats.okIncludingWarmup;
    line('libcoap coap-server-notls', stats, `, server CPU ${perReq.toFixed(1)} µs/req`);
    return stats;
  } finally {
    await client.close();
    srv.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  console.log(`CoAP GET, 16-byte resource, ${IN_FLIGHT} in flight, ${SECONDS} s (+1 s warm-up), load from a Node child process`);
  codecCost();
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const a = only === 'libcoap' ? undefined : await ours();
  const b = only === 'ours' ? undefined : await libcoap();
  if (a && b) console.log(`ratio lwm2m-fota / libcoap: ${((a.perSecond / b.perSecond) * 100).toFixed(0)} %`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
