import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResponseCode } from '../../src/coap';
import { closeAll, endpoint, sleep } from './helpers';
import { freeUdpPort } from '../helpers/ports';

afterEach(closeAll);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coap-interop-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a libcoap tool with a hard time limit. */
function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + (i >> 7)) & 0xff;
  return b;
}

describe('interop with libcoap', () => {
  test('coap-client POST with -b 16 (new token per block, Request-Tag, Size1) delivers the whole payload', async () => {
    const server = await endpoint();
    const got: Buffer[] = [];
    server.route(['upload'], (req) => {
      got.push(req.payload);
      return { code: ResponseCode.Changed, payload: Buffer.from('thanks') };
    });
    const data = pattern(1500);
    const file = join(dir, 'up.bin');
    writeFileSync(file, data);
    const r = await run('coap-client-notls', ['-m', 'post', '-b', '16', '-f', file, '-B', '5', `coap://[::1]:${server.address().port}/upload`]);
    expect(r.stdout).toContain('thanks');
    expect(got).toHaveLength(1);
    expect(got[0]).toEqual(data);
  });

  test('coap-client really sends a new token per block with a Request-Tag (what token-keyed reassembly gets wrong)', async () => {
    const server = await endpoint();
    const tokens = new Set<string>();
    const tags = new Set<string>();
    let blocks = 0;
    server.route(
      ['raw'],
      (req) => {
        blocks++;
        tokens.add(req.token.toString('hex'));
        const tag = req.options.find((o) => o.number === 292);
        if (tag) tags.add(tag.value.toString('hex'));
        return { code: req.block1?.more ? ResponseCode.Continue : ResponseCode.Changed };
      },
      { blockwise: 'raw' },
    );
    const file = join(dir, 'up2.bin');
    writeFileSync(file, pattern(100));
    await run('coap-client-notls', ['-m', 'post', '-b', '16', '-f', file, '-B', '5', `coap://[::1]:${server.address().port}/raw`]);
    expect(blocks).toBe(7);
    expect(tokens.size).toBe(7);
    expect(tags.size).toBe(1);
  });

  test('coap-client -b 64 -o fetches a Block2 resource byte-exact', async () => {
    const server = await endpoint();
    const big = pattern(20_000);
    let calls = 0;
    server.route(['big'], () => {
      calls++;
      return { code: ResponseCode.Content, payload: big, etag: Buffer.from('abcd'), contentFormat: 42 };
    });
    const out = join(dir, 'out.bin');
    const r = await run('coap-client-notls', ['-b', '64', '-o', out, '-B', '10', `coap://[::1]:${server.address().port}/big`], 20_000);
    expect(r.code).toBe(0);
    expect(readFileSync(out)).toEqual(big);
    expect(calls).toBe(Math.ceil(big.length / 64));
  });

  test('our client GETs from coap-server, including a Block2 resource', async () => {
    const port = await freeUdpPort('::1');
    const srv = spawn('coap-server-notls', ['-A', '::1', '-p', String(port), '-v', '0'], { stdio: 'ignore' });
    try {
      const client = await endpoint();
      const peer = { address: '::1', port };
      let res;
      for (let i = 0; i < 50; i++) {
        try {
          res = await client.request(peer, { method: 'GET', path: '/', timeoutMs: 200 });
          break;
        } catch {
          await sleep(50);
        }
      }
      expect(res?.code).toBe('2.05');
      expect(res?.payload.toString()).toContain('libcoap');
      // PUT a large representation into /example_data (Block1 from us), read it back with Block2.
      const data = pattern(3000);
      const put = await client.request(peer, { method: 'PUT', path: 'example_data', payload: data, block1Size: 256 });
      expect(put.code.startsWith('2.')).toBe(true);
      const back = await client.request(peer, { method: 'GET', path: 'example_data', block2Size: 128 });
      expect(back.code).toBe('2.05');
      expect(back.payload).toEqual(data);
    } finally {
      srv.kill('SIGKILL');
    }
  });
});
