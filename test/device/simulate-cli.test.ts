/** `lwm2m-fota simulate`, run in-process against a test server on loopback. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/cli/main';
import { describeEvent, simulateOptions } from '../../src/cli/commands/simulate';
import { isLwm2mFotaError } from '../../src/errors';
import { generateKeyPair } from '../../src/suit';
import { TestServer } from './harness';

const dir = mkdtempSync(join(tmpdir(), 'simulate-'));
const pub = join(dir, 'oem.pub.pem');
writeFileSync(pub, generateKeyPair('esp256').publicPem);

const base = {
  server: 'coap://[::1]:5683',
  endpoint: 'dev',
  count: '1',
  trust: [pub],
  fwVersion: '1.0.0',
  sequence: '0',
  lwm2m: '1.1',
  binding: 'U',
  blockSize: '256',
  lifetime: '300',
  flashSize: '1M',
  delivery: 'both',
  seed: '1',
  rebootTime: '1s',
  notifications: 'con',
};

function usageErrorOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isLwm2mFotaError(err, 'ERR_CLI_USAGE')) return err.message;
    throw err;
  }
  return undefined;
}

describe('simulate options', () => {
  test('turns the command line into fleet options', () => {
    const o = simulateOptions({ ...base, count: '3', vendorDomain: 'example.com', className: 'c', flashSize: '256k', fault: ['drop=5%,fail-boot', 'corrupt-block:2'], faultRate: '10%', lwm2m: '1.2', binding: 'UQ', blockSize: '64' });
    expect(o).toMatchObject({
      count: 3,
      prefix: 'dev',
      exactName: false,
      lwm2mVersion: '1.2',
      binding: 'UQ',
      blockSize: 64,
      flashSize: 256 * 1024,
      faults: { dropRate: 0.05, failBoot: 1, corruptBlock: 2 },
      faultRate: 0.1,
      rebootDelayMs: 1000,
    });
    expect(o.trustedKeys).toHaveLength(1);
  });

  test.each([
    [{ trust: [] }, /--trust/],
    [{ blockSize: '100' }, /power of two/],
    [{ lwm2m: '2.0' }, /--lwm2m/],
    [{ binding: 'T' }, /--binding/],
    [{ fault: ['melt'] }, /unknown fault/],
    [{ flashSize: 'lots' }, /--flash-size/],
    [{ className: 'x' }, /--vendor-domain/],
  ])('refuses %p', (override, message) => {
    expect(usageErrorOf(() => simulateOptions({ ...base, ...override }))).toMatch(message);
  });

  test('describes notable events in one line and keeps blocks for --verbose', () => {
    expect(describeEvent('rejected', { endpoint: 'd', result: 5, reason: 'bad signature', code: 'ERR_SUIT_SIGNATURE_INVALID' }, false)).toBe('rejected: result 5 ERR_SUIT_SIGNATURE_INVALID: bad signature');
    expect(describeEvent('blockReceived', { endpoint: 'd', method: 'pull', what: 'image', num: 3, bytes: 270 }, false)).toBeUndefined();
    expect(describeEvent('blockReceived', { endpoint: 'd', method: 'pull', what: 'image', num: 3, bytes: 270 }, true)).toBe('block 3 (image, 270 bytes)');
  });
});

describe('lwm2m-fota simulate', () => {
  test('registers --count devices as <prefix>-0000…, prints a line per event, de-registers on SIGINT', async () => {
    const server = await TestServer.start();
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const run = buildProgram().parseAsync(['node', 'lwm2m-fota', 'simulate', '--server', server.uri, '--endpoint', 'cli', '--count', '2', '--trust', pub, '--vendor-domain', 'example.com', '--class-name', 'c', '--lifetime', '60'], { from: 'node' });
      // Both devices have their 2.01 (the line is printed when the answer arrived).
      await server.until(() => out.join('').match(/ registered id=/g)?.length === 2 || undefined);
      expect(server.registrations.map((r) => r.ep).sort()).toEqual(['cli-0000', 'cli-0001']);
      process.emit('SIGINT');
      await run;
      expect(server.deregistrations).toHaveLength(2);
      const text = out.join('');
      expect(text).toMatch(/^simulating 2 device\(s\) against coap:\/\/\[::1\]:\d+/);
      expect(text).toMatch(/ cli-0000 registered id=r\d+ version=1\.0\.0 port=\d+\n/);
      expect(text).toMatch(/ cli-0001 de-registered\n/);
      expect(text).toContain('stopped: 0 updated, 0 failed or rejected');
      expect(process.exitCode ?? 0).toBe(0);
    } finally {
      write.mockRestore();
      await server.close();
    }
  });
});
