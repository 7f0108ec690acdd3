/**
 * `lwm2m-fota serve` whose standard output goes away (`serve | head -1`, a log collector
 * that restarts): the server keeps serving instead of dying of an unhandled EPIPE.
 */
import { spawn } from 'node:child_process';
import { createCoapEndpoint, type CoapEndpoint } from '../../src/coap';
import { CLI } from '../helpers/server-process';
import { tempDir } from '../helpers/tmp';

let client: CoapEndpoint | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
});

test('serve goes on registering devices after the reader of its output has gone', async () => {
  const { dir, remove } = tempDir();
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dir, '--coap-port', '0', '--coap-host', '::1', '--http-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LWM2M_FOTA_TOKEN: 'serve-output-test' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    // Read the first line only, then close our end of the pipe, as `head -1` does.
    const first = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no start-up line; stderr: ${stderr}`)), 15_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, nl));
        }
      });
    });
    child.stdout.destroy();
    const port = Number(/coap:\/\/\[::1\]:(\d+)/.exec(first)?.[1]);
    expect(port).toBeGreaterThan(0);
    client = await createCoapEndpoint({ host: '::1', port: 0 });
    // Each registration makes the server log a line into the closed pipe.
    for (let i = 0; i < 5; i++) {
      const res = await client.request(
        { address: '::1', port },
        { method: 'POST', path: 'rd', query: [`ep=after-close-${i}`, 'lt=300'], payload: Buffer.from('</1/0>,</3/0>'), contentFormat: 40 },
      );
      expect(res.code).toBe('2.01');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(child.exitCode).toBeNull();
    expect(stderr).not.toMatch(/EPIPE/);
  } finally {
    child.kill('SIGTERM');
    await exited;
    remove();
  }
});
